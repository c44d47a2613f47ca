//! The two connection pools (runtime role and owner role) and the tenant-scoped transaction.
//!
//! Telemetry: every tenant transaction is one `db.transaction` span, from BEGIN to its commit or
//! rollback, a child of the request (or job) that opened it, and its duration is observed in
//! `tenantdesk_db_transaction_duration_seconds`. sqlx reports each statement as an event
//! (the SQL text, never the bound values), which the binary's telemetry turns into a
//! `db.statement` span under this one.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use domain::TenantId;
use prometheus::{Histogram, HistogramVec, IntGauge, IntGaugeVec};
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use tracing::field::Empty;
use tracing::{Instrument, Span};

use crate::{MIGRATOR, Result, StoreError};

/// The runtime connection (`tenantdesk_app`): subject to row-level security, owns nothing.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
}

/// The owner connection: runs migrations and the platform's tenant lifecycle (create, suspend).
#[derive(Clone)]
pub struct Owner {
    pool: PgPool,
}

/// A transaction whose first statement set `app.tenant_id`: every statement in it sees only
/// that tenant's rows. Dropping it without [`TenantTx::commit`] rolls back.
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    tenant_id: TenantId,
    trace: TxTrace,
}

/// Seconds from BEGIN to COMMIT or rollback, by outcome.
static TRANSACTION_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    prometheus::register_histogram_vec!(
        "tenantdesk_db_transaction_duration_seconds",
        "Tenant transactions from BEGIN to COMMIT or rollback, by outcome (commit, rollback, error).",
        &["outcome"],
        vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]
    )
    .expect("the transaction histogram registers once")
});

/// Seconds to open a tenant transaction: waiting for a pooled connection plus the BEGIN round trip.
static BEGIN_SECONDS: LazyLock<Histogram> =
    LazyLock::new(|| {
        prometheus::register_histogram!(
        "tenantdesk_db_begin_duration_seconds",
        "Opening a tenant transaction: the wait for a pooled connection plus the BEGIN round trip.",
        vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 10.0]
    )
    .expect("the begin histogram registers once")
    });

static POOL_CONNECTIONS: LazyLock<IntGaugeVec> = LazyLock::new(|| {
    prometheus::register_int_gauge_vec!(
        "tenantdesk_db_pool_connections",
        "Open runtime database connections, idle or in use (sampled at each scrape).",
        &["state"]
    )
    .expect("the pool gauge registers once")
});

static POOL_MAX: LazyLock<IntGauge> = LazyLock::new(|| {
    prometheus::register_int_gauge!(
        "tenantdesk_db_pool_max_connections",
        "The most runtime database connections this instance opens."
    )
    .expect("the pool size gauge registers once")
});

/// Registers the database metrics so that they are scraped (as zeros) before first use.
fn register_metrics() {
    for outcome in [Outcome::Commit, Outcome::Rollback, Outcome::Error] {
        TRANSACTION_SECONDS.with_label_values(&[outcome.as_str()]);
    }
    LazyLock::force(&BEGIN_SECONDS);
    LazyLock::force(&POOL_CONNECTIONS);
    LazyLock::force(&POOL_MAX);
}

#[derive(Clone, Copy)]
enum Outcome {
    Commit,
    Rollback,
    Error,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Commit => "commit",
            Self::Rollback => "rollback",
            Self::Error => "error",
        }
    }
}

/// The span and clock of one tenant transaction; dropping it (at commit, or when the
/// transaction is dropped and rolls back) records the outcome and the duration.
struct TxTrace {
    span: Span,
    started: Instant,
    outcome: Outcome,
}

impl TxTrace {
    fn start(tenant_id: TenantId) -> Self {
        Self {
            span: tracing::info_span!(
                "db.transaction",
                otel.kind = "client",
                otel.status_code = Empty,
                db.system = "postgresql",
                tenant.id = %tenant_id,
                db.outcome = Empty,
            ),
            started: Instant::now(),
            outcome: Outcome::Rollback,
        }
    }
}

impl Drop for TxTrace {
    fn drop(&mut self) {
        let outcome = self.outcome.as_str();
        self.span.record("db.outcome", outcome);
        if matches!(self.outcome, Outcome::Error) {
            self.span.record("otel.status_code", "ERROR");
        }
        TRANSACTION_SECONDS
            .with_label_values(&[outcome])
            .observe(self.started.elapsed().as_secs_f64());
    }
}

/// Why the runtime connection is not safe to serve tenants with.
#[derive(Debug, thiserror::Error)]
pub enum RoleProblem {
    #[error("the runtime database role {0} is a superuser, which bypasses row-level security")]
    Superuser(String),
    #[error("the runtime database role {0} has BYPASSRLS")]
    BypassesRls(String),
    #[error(
        "the runtime database role {role} owns {tables} table(s); owners can disable row-level security"
    )]
    OwnsTables { role: String, tables: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

async fn connect_pool(url: &str, max_connections: u32) -> Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await?)
}

/// The role tenant work runs as: no superuser, no BYPASSRLS, so row-level security applies.
const RUNTIME_ROLE: &str = "tenantdesk_app";

/// Opens a tenant transaction in one round trip: BEGIN and set_config go as one simple query.
/// The tenant id is a UUID we format ourselves, never text from a request. `as_runtime_role`
/// adds `SET LOCAL ROLE tenantdesk_app`, for connections (the owner's) that RLS would not bind.
async fn begin_tenant(
    pool: &PgPool,
    tenant_id: TenantId,
    as_runtime_role: bool,
) -> Result<TenantTx> {
    let mut begin = format!(
        "BEGIN; SELECT set_config('app.tenant_id', '{}', true)",
        tenant_id.as_uuid().hyphenated()
    );
    if as_runtime_role {
        begin.push_str(&format!("; SET LOCAL ROLE {RUNTIME_ROLE}"));
    }
    let mut trace = TxTrace::start(tenant_id);
    let opening = Instant::now();
    let tx = match pool.begin_with(begin).instrument(trace.span.clone()).await {
        Ok(tx) => tx,
        Err(error) => {
            trace.outcome = Outcome::Error;
            return Err(error.into());
        }
    };
    BEGIN_SECONDS.observe(opening.elapsed().as_secs_f64());
    Ok(TenantTx {
        tx,
        tenant_id,
        trace,
    })
}

impl Store {
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        register_metrics();
        Ok(Self {
            pool: connect_pool(url, max_connections).await?,
        })
    }

    pub async fn begin_tenant(&self, tenant_id: TenantId) -> Result<TenantTx> {
        begin_tenant(&self.pool, tenant_id, false).await
    }

    /// Refuses a runtime role that could read across tenants (GUIDE.md section 3).
    pub async fn check_runtime_role(&self) -> Result<(), RoleProblem> {
        let (role, superuser, bypass_rls, owned_tables): (String, bool, bool, i64) =
            sqlx::query_as(
                "select r.rolname::text, r.rolsuper, r.rolbypassrls,
                        (select count(*) from pg_class c
                          where c.relowner = r.oid and c.relkind in ('r', 'p'))
                   from pg_roles r where r.rolname = current_user",
            )
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::from)?;
        if superuser {
            return Err(RoleProblem::Superuser(role));
        }
        if bypass_rls {
            return Err(RoleProblem::BypassesRls(role));
        }
        if owned_tables > 0 {
            return Err(RoleProblem::OwnsTables {
                role,
                tables: owned_tables,
            });
        }
        Ok(())
    }

    /// True when every migration this binary carries has been applied, and nothing unknown has.
    pub async fn migrations_current(&self) -> Result<bool> {
        let applied: Vec<i64> = sqlx::query_scalar(
            "select version from _sqlx_migrations where success order by version",
        )
        .fetch_all(&self.pool)
        .await?;
        let expected: Vec<i64> = MIGRATOR
            .iter()
            .filter(|migration| migration.migration_type.is_up_migration())
            .map(|migration| migration.version)
            .collect();
        Ok(applied == expected)
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Samples the pool into the `tenantdesk_db_pool_*` gauges (called at each metrics scrape).
    pub fn record_pool_metrics(&self) {
        let size = i64::from(self.pool.size());
        let idle = i64::try_from(self.pool.num_idle()).unwrap_or(i64::MAX);
        POOL_CONNECTIONS.with_label_values(&["idle"]).set(idle);
        POOL_CONNECTIONS
            .with_label_values(&["in_use"])
            .set(size.saturating_sub(idle).max(0));
        POOL_MAX.set(i64::from(self.pool.options().get_max_connections()));
    }
}

impl Owner {
    pub async fn connect(url: &str) -> Result<Self> {
        Ok(Self {
            pool: connect_pool(url, 4).await?,
        })
    }

    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|error| StoreError::Database(error.into()))
    }

    /// A tenant transaction that runs as the runtime role, so row-level security binds it
    /// even though the owner (often a superuser) would bypass it.
    pub async fn begin_tenant(&self, tenant_id: TenantId) -> Result<TenantTx> {
        begin_tenant(&self.pool, tenant_id, true).await
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl TenantTx {
    /// Continues `tx` as a tenant transaction: sets the tenant and drops to the runtime role.
    pub(crate) async fn adopt(
        mut tx: Transaction<'static, Postgres>,
        tenant_id: TenantId,
    ) -> Result<Self> {
        let mut trace = TxTrace::start(tenant_id);
        let adopted = sqlx::raw_sql(&format!(
            "SELECT set_config('app.tenant_id', '{}', true); SET LOCAL ROLE {RUNTIME_ROLE}",
            tenant_id.as_uuid().hyphenated()
        ))
        .execute(&mut *tx)
        .instrument(trace.span.clone())
        .await;
        if let Err(error) = adopted {
            trace.outcome = Outcome::Error;
            return Err(error.into());
        }
        Ok(Self {
            tx,
            tenant_id,
            trace,
        })
    }

    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    pub async fn commit(self) -> Result<()> {
        let Self { tx, mut trace, .. } = self;
        let committed = tx.commit().instrument(trace.span.clone()).await;
        trace.outcome = if committed.is_ok() {
            Outcome::Commit
        } else {
            Outcome::Error
        };
        Ok(committed?)
    }

    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}
