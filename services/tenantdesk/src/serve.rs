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
use web::sign_in::secrets::SecretKey;
use web::tenancy::TenantResolver;
use web::{App, AppState, WebConfig};

use crate::cli::{ServeArgs, Wiring};
use crate::database::Database;
use crate::mail_worker;

/// The key file of the embedded default, in its data directory.
fn secret_key_file(wiring: &Wiring) -> std::path::PathBuf {
    wiring.data_dir.join("secret_key")
}

/// Whether this is a deployment rather than a run on one machine: a database URL, and a
/// public address that is not `localhost` (or `*.localhost`).
fn deployed(wiring: &Wiring) -> bool {
    let host = wiring.base_url.host().as_str();
    let host = host.split(':').next().unwrap_or(host);
    !wiring.embedded && host != "localhost" && !host.ends_with(".localhost")
}

/// The key that seals sign-in provider secrets: TENANTDESK_SECRET_KEY; without it, the key
/// file in the data directory (generated once, mode 0600) for the embedded default and local
/// runs; a deployment without the key refuses to start, because a key generated on one
/// replica would not open what another sealed.
pub fn secret_key(wiring: &Wiring) -> anyhow::Result<SecretKey> {
    if let Some(raw) = &wiring.secret_key {
        return SecretKey::parse(raw).context("TENANTDESK_SECRET_KEY");
    }
    if deployed(wiring) {
        bail!(
            "TENANTDESK_SECRET_KEY is not set. With a database URL Tenantdesk needs the key that \
             seals sign-in provider secrets: set it to the base64 of 32 random bytes \
             (for example `openssl rand -base64 32`), the same on every instance."
        );
    }
    let path = secret_key_file(wiring);
    match std::fs::read_to_string(&path) {
        Ok(raw) => {
            SecretKey::parse(&raw).with_context(|| format!("reading the key in {}", path.display()))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = SecretKey::generate();
            write_key_file(&path, &key, true)?;
            Ok(key)
        }
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes a key file readable by its owner only.
fn write_key_file(path: &std::path::Path, key: &SecretKey, new: bool) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if new {
        options.create_new(true);
    } else {
        options.truncate(true);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(file, "{}", key.to_base64()).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// `tenantdesk rotate-secret-key`: re-seals every provider secret with the new key in one
/// transaction (all or nothing). The embedded default's key file then holds the new key.
pub async fn rotate_secret_key(
    args: crate::cli::RotateSecretKeyArgs,
    owner: &store::Owner,
    wiring: &Wiring,
) -> anyhow::Result<()> {
    let new_key = match &args.new_key {
        Some(key) => key.clone(),
        None => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("reading the new key from standard input")?;
            line
        }
    };
    let new = SecretKey::parse(&new_key).context("the new key (--new-key or standard input)")?;
    let (old, from_file) = match &args.old_key {
        Some(raw) => (
            SecretKey::parse(raw).context("the old key (--old-key)")?,
            false,
        ),
        None => (
            secret_key(wiring).context("the old key (--old-key or TENANTDESK_SECRET_KEY)")?,
            wiring.secret_key.is_none(),
        ),
    };
    let only = match &args.tenant {
        Some(slug) => Some(
            owner
                .tenant_by_slug(slug)
                .await?
                .with_context(|| format!("no tenant has the slug {slug}"))?
                .id,
        ),
        None => None,
    };
    let resealed = owner
        .reseal_sign_in_secrets(only, |provider, sealed| {
            old.open(sealed, provider)
                .map(|plain| new.seal(&plain, provider))
                .map_err(|_| provider)
        })
        .await?;
    let count = match resealed {
        Ok(count) => count,
        Err(provider) => bail!(
            "the secret of sign-in provider {provider} does not open with the old key; nothing was changed"
        ),
    };
    // Only a rotation of every tenant moves the embedded default to the new key.
    if from_file && args.tenant.is_none() {
        write_key_file(&secret_key_file(wiring), &new, false)?;
    }
    println!(
        "re-encrypted {count} sign-in provider secret(s) with the new key; set TENANTDESK_SECRET_KEY to it and restart every instance"
    );
    Ok(())
}

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
            secret_key: secret_key(wiring)?,
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
