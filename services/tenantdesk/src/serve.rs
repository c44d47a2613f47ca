//! `tenantdesk serve` and `tenantdesk worker`: migrate (when holding the owner URL), check the
//! runtime role, then serve HTTP and deliver mail until SIGINT or SIGTERM, draining in-flight
//! requests and the mail batch in hand before exiting. With `--metrics-listen`, a second
//! listener serves Prometheus metrics at `/metrics` meanwhile.

use std::time::Duration;

use anyhow::{Context, bail};
use store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use web::auth::passwords::Passwords;
use web::auth::rate_limit::RateLimiter;
use web::auth::sessions::Sessions;
use web::settings_cache::SettingsCache;
use web::tenancy::TenantResolver;
use web::{App, AppState, WebConfig};

use crate::cli::{ServeArgs, Wiring};
use crate::database::Database;
use crate::mail_worker;

pub async fn serve(args: ServeArgs, database: &Database, wiring: &Wiring) -> anyhow::Result<()> {
    let mut portal_hosts = Vec::new();
    let mut demo_logins = Vec::new();
    if database.has_owner() {
        let owner = database.owner().await?;
        owner.migrate().await.context("migrating the database")?;
        if wiring.embedded {
            if owner.list_tenants().await?.is_empty() {
                demo_logins = crate::demo::seed(&owner)
                    .await
                    .context("creating the demo tenants")?;
            }
            for tenant in owner.list_tenants().await? {
                portal_hosts.push(wiring.base_url.tenant_origin(tenant.slug.as_str()));
            }
        }
    }
    let store = runtime_store(database, args.db_pool_size).await?;
    let metrics = start_metrics(wiring, &store).await?;

    let cache_ttl = Duration::from_secs(args.tenant_cache_ttl);
    let state = AppState::new(App {
        store: store.clone(),
        tenants: TenantResolver::new(cache_ttl),
        settings: SettingsCache::new(cache_ttl),
        passwords: Passwords::new(std::thread::available_parallelism().map_or(2, usize::from)),
        sessions: Sessions::new(
            wiring.redis.clone(),
            Duration::from_secs(args.session_idle_minutes * 60),
            Duration::from_secs(args.session_max_hours * 3600),
        ),
        limits: RateLimiter::new(wiring.redis.clone()),
        redis: wiring.redis.clone(),
        attachments: wiring.attachments()?,
        config: WebConfig {
            base_url: wiring.base_url.clone(),
            invalidation_channel: wiring.redis_channel.clone(),
            mail_from: wiring.mail_from.clone(),
            mailbox_dir: wiring
                .smtp_url
                .is_none()
                .then(|| crate::mail_worker::mailbox_dir(&wiring.data_dir)),
            import_limits: wiring.import_limits,
        },
    });
    if let Some(redis) = wiring.redis.clone() {
        tokio::spawn(web::invalidation::listen(redis, state.clone()));
    }
    let (stop_worker, worker_stopped) = watch::channel(false);
    let worker = if args.worker {
        let transport = wiring.mail_transport()?;
        Some(tokio::spawn(mail_worker::run(
            store,
            transport,
            wiring.worker_config(),
            worker_stopped,
        )))
    } else {
        None
    };

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(address = %args.listen, base_url = %wiring.base_url, "serving");
    println!(
        "Tenantdesk is serving {} (listening on {})",
        wiring.base_url, args.listen
    );
    for origin in portal_hosts {
        println!("  portal: {origin}");
    }
    for login in demo_logins {
        println!(
            "  agent sign-in: {}/agent/login as {} with password {} (shown only now)",
            wiring.base_url.tenant_origin(&login.slug),
            login.email,
            login.password
        );
    }
    if wiring.smtp_url.is_none() && args.worker {
        println!("  mail goes to the local mailbox: tenantdesk mailbox list");
    }
    let app = web::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving HTTP");
    let _ = stop_worker.send(true);
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    tracing::info!("stopped serving");
    served
}

pub async fn worker(database: &Database, wiring: &Wiring) -> anyhow::Result<()> {
    let store = runtime_store(database, 4).await?;
    let metrics = start_metrics(wiring, &store).await?;
    let transport = wiring.mail_transport()?;
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(mail_worker::run(
        store,
        transport,
        wiring.worker_config(),
        stopped,
    ));
    shutdown_signal().await;
    let _ = stop.send(true);
    running.await.context("the mail worker panicked")?;
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    Ok(())
}

/// Binds the metrics listener when one is configured and serves `/metrics` on it.
async fn start_metrics(wiring: &Wiring, store: &Store) -> anyhow::Result<Option<JoinHandle<()>>> {
    let Some(address) = wiring.metrics_listen else {
        return Ok(None);
    };
    crate::telemetry::register_metrics();
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("listening for metrics on {address}"))?;
    let address = listener.local_addr().unwrap_or(address);
    tracing::info!(%address, "serving metrics at /metrics");
    Ok(Some(tokio::spawn(crate::telemetry::serve_metrics(
        listener,
        store.clone(),
    ))))
}

/// The runtime connection, refused when it could read across tenants or the schema is behind.
async fn runtime_store(database: &Database, pool_size: u32) -> anyhow::Result<Store> {
    let store = database.runtime(pool_size).await?;
    store
        .check_runtime_role()
        .await
        .context("refusing to serve with this database connection")?;
    if !store.migrations_current().await? {
        bail!(
            "the database migrations are not current; run `tenantdesk migrate` with the owner URL"
        );
    }
    Ok(store)
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: draining requests");
}
