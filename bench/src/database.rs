//! The database a benchmark runs against: by default a throwaway cluster from the machine's
//! PostgreSQL programs (the launcher `tenantdesk serve` uses), or an existing server.

use std::path::{Path, PathBuf};

use anyhow::Context;
use domain::{TenantId, TenantName, TenantSlug};
use sqlx::postgres::{PgPool, PgPoolOptions};
use store::Owner;
use store::tenancy::NewTenant;
use tenantdesk::embedded_postgres::{Claim, EmbeddedPostgres, Options};

pub enum Database {
    Embedded {
        cluster: EmbeddedPostgres,
        dir: PathBuf,
    },
    External {
        owner_url: String,
        runtime_url: String,
    },
}

impl Database {
    /// Starts a fresh cluster in `dir` (which should not exist yet). Without `durable` it runs
    /// with fsync, synchronous_commit and full_page_writes off, like the test harness.
    pub fn embedded(dir: &Path, durable: bool) -> anyhow::Result<Self> {
        let cluster = EmbeddedPostgres::start(dir, Claim::Exclusive, Options { durable })
            .context("starting the throwaway PostgreSQL cluster")?;
        Ok(Self::Embedded {
            cluster,
            dir: dir.to_owned(),
        })
    }

    pub fn external(owner_url: String, runtime_url: String) -> Self {
        Self::External {
            owner_url,
            runtime_url,
        }
    }

    pub fn owner_url(&self) -> String {
        match self {
            Self::Embedded { cluster, .. } => cluster.owner_url(),
            Self::External { owner_url, .. } => owner_url.clone(),
        }
    }

    pub fn runtime_url(&self) -> String {
        match self {
            Self::Embedded { cluster, .. } => cluster.runtime_url(),
            Self::External { runtime_url, .. } => runtime_url.clone(),
        }
    }

    /// The server's main process, when it runs here and we started it (for CPU accounting).
    pub fn postmaster_pid(&self) -> Option<u32> {
        let Self::Embedded { dir, .. } = self else {
            return None;
        };
        let pid_file = std::fs::read_to_string(dir.join("postgres").join("postmaster.pid")).ok()?;
        pid_file.lines().next()?.trim().parse().ok()
    }

    /// Stops an embedded cluster and removes its directory.
    pub fn stop(self) {
        if let Self::Embedded { mut cluster, dir } = self {
            cluster.stop();
            drop(cluster);
            if let Err(error) = std::fs::remove_dir_all(&dir) {
                eprintln!("could not remove {}: {error}", dir.display());
            }
        }
    }
}

/// A plain pool on the owner connection, for what the benchmark itself needs to see: settings,
/// WAL position, progress counts and cleanup.
pub async fn owner_pool(url: &str) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .context("connecting to the database as the owner")
}

/// The server's version and the settings that decide what a commit costs.
pub async fn describe_server(pool: &PgPool) -> anyhow::Result<String> {
    let mut parts = Vec::new();
    for setting in [
        "server_version",
        "fsync",
        "synchronous_commit",
        "full_page_writes",
        "shared_buffers",
    ] {
        let value: String = sqlx::query_scalar(&format!("show {setting}"))
            .fetch_one(pool)
            .await
            .with_context(|| format!("reading the setting {setting}"))?;
        parts.push(format!("{setting}={value}"));
    }
    Ok(parts.join(", "))
}

/// The WAL insert position in bytes; `None` when the role may not read it.
pub async fn wal_position(pool: &PgPool) -> Option<f64> {
    sqlx::query_scalar("select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::float8")
        .fetch_one(pool)
        .await
        .ok()
}

/// Opens a transaction on `pool` scoped to `tenant`, as `Store::begin_tenant` does, for the
/// benchmark's own bookkeeping queries.
pub async fn begin_tenant(
    pool: &PgPool,
    tenant: TenantId,
) -> anyhow::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let mut tx = pool.begin().await.context("beginning a transaction")?;
    sqlx::query("select set_config('app.tenant_id', $1, true)")
        .bind(tenant.as_uuid().to_string())
        .execute(&mut *tx)
        .await
        .context("setting app.tenant_id")?;
    Ok(tx)
}

/// Creates a tenant with a slug that is unique across runs against the same database.
pub async fn create_tenant(owner: &Owner, purpose: &str) -> anyhow::Result<TenantId> {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let slug = format!("bench-{purpose}-{}", &suffix[..8]);
    let tenant = owner
        .create_tenant(&NewTenant {
            slug: TenantSlug::parse(&slug).with_context(|| format!("the slug {slug}"))?,
            name: TenantName::parse(&format!("Bench {purpose}")).context("the tenant name")?,
            primary_colour: None,
            accent_colour: None,
        })
        .await
        .with_context(|| format!("creating the tenant {slug}"))?;
    Ok(tenant.id)
}
