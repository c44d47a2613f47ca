//! The platform console's reads and writes across tenants. The runtime role reaches them only
//! through the `platform_*` SECURITY DEFINER functions (migration 20261122000007), which write
//! the operator's audit row in the same statement as the change.

use chrono::{DateTime, Utc};
use domain::{TenantId, TenantName, TenantSlug, TenantStatus};
use uuid::Uuid;

use crate::tenancy::Tenant;
use crate::{Result, Store, StoreError, TenantTx};

/// Creates the tenant of `tx` (its id is the transaction's tenant) with its settings, built-in
/// roles and the audit row, inside `tx`, so the caller can add its first admin and commit it
/// all at once. A taken slug is [`StoreError::Conflict`] naming `slug`.
pub async fn create_tenant(
    tx: &mut TenantTx,
    slug: &TenantSlug,
    name: &TenantName,
    operator: Uuid,
) -> Result<Tenant> {
    let id = tx.tenant_id();
    sqlx::query("select platform_create_tenant($1, $2, $3, $4)")
        .bind(id.as_uuid())
        .bind(slug.as_str())
        .bind(name.as_str())
        .bind(operator)
        .execute(tx.conn())
        .await
        .map_err(StoreError::from_write)?;
    let created_at: DateTime<Utc> =
        sqlx::query_scalar("select created_at from tenants where id = $1")
            .bind(id.as_uuid())
            .fetch_one(tx.conn())
            .await?;
    Ok(Tenant {
        id,
        slug: slug.clone(),
        name: name.clone(),
        status: TenantStatus::Active,
        created_at,
    })
}

/// One tenant as the console lists it.
#[derive(Clone, Debug)]
pub struct TenantOverview {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub status: TenantStatus,
    pub created_at: DateTime<Utc>,
    pub agents: i64,
    pub end_users: i64,
    pub tickets: i64,
    /// Bytes of ticket attachments kept.
    pub storage_bytes: i64,
    pub mail_last_30_days: i64,
    pub last_activity: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct OverviewRow {
    id: Uuid,
    slug: String,
    name: String,
    status: String,
    created_at: DateTime<Utc>,
    agents: i64,
    end_users: i64,
    tickets: i64,
    storage_bytes: i64,
    mail_last_30_days: i64,
    last_activity: Option<DateTime<Utc>>,
}

/// One day of a tenant's usage (UTC days), kept current by triggers (migration 18).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DailyUsage {
    pub day: chrono::NaiveDate,
    pub tickets_created: i64,
    pub mail_sent: i64,
    pub storage_bytes_added: i64,
}

/// What an operator did, as the audit log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditAction {
    TenantCreated,
    TenantSuspended,
    TenantResumed,
}

impl AuditAction {
    fn from_db(raw: &str) -> Option<Self> {
        match raw {
            "tenant_created" => Some(Self::TenantCreated),
            "tenant_suspended" => Some(Self::TenantSuspended),
            "tenant_resumed" => Some(Self::TenantResumed),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::TenantCreated => "tenant_created",
            Self::TenantSuspended => "tenant_suspended",
            Self::TenantResumed => "tenant_resumed",
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Self::TenantCreated => "created",
            Self::TenantSuspended => "suspended",
            Self::TenantResumed => "resumed",
        }
    }
}

#[derive(Clone, Debug)]
pub struct AuditEntry {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub operator_name: String,
    pub operator_email: String,
    pub action: AuditAction,
    pub tenant_slug: String,
    pub reason: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: Uuid,
    created_at: DateTime<Utc>,
    operator_name: String,
    operator_email: String,
    action: String,
    tenant_slug: String,
    reason: Option<String>,
}

impl Store {
    /// Creates a tenant (settings, built-in roles, audit row) in a transaction of its own.
    pub async fn create_tenant(
        &self,
        slug: &TenantSlug,
        name: &TenantName,
        operator: Uuid,
    ) -> Result<Tenant> {
        let mut tx = self.begin_tenant(TenantId::new()).await?;
        let tenant = create_tenant(&mut tx, slug, name, operator).await?;
        tx.commit().await?;
        Ok(tenant)
    }

    /// Suspends or resumes the tenant and records the operator and reason; false when no
    /// tenant has the slug.
    pub async fn set_tenant_status(
        &self,
        slug: &TenantSlug,
        status: TenantStatus,
        operator: Uuid,
        reason: &str,
    ) -> Result<bool> {
        Ok(
            sqlx::query_scalar("select platform_set_tenant_status($1, $2, $3, $4)")
                .bind(slug.as_str())
                .bind(status.as_str())
                .bind(operator)
                .bind(reason)
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// Up to `limit` tenants by slug after `after`, whose slug or name contains `search`.
    pub async fn tenant_overview(
        &self,
        search: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Vec<TenantOverview>> {
        let rows: Vec<OverviewRow> = sqlx::query_as(
            "select id, slug, name, status, created_at, agents, end_users, tickets, storage_bytes,
                    mail_last_30_days, last_activity
               from platform_tenant_overview($1, $2, $3)",
        )
        .bind(search)
        .bind(i32::try_from(limit).unwrap_or(i32::MAX))
        .bind(after)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(TenantOverview {
                    id: TenantId::from_uuid(row.id),
                    status: TenantStatus::from_db(&row.status)
                        .ok_or_else(|| StoreError::corrupt("tenants.status", &row.status))?,
                    slug: row.slug,
                    name: row.name,
                    created_at: row.created_at,
                    agents: row.agents,
                    end_users: row.end_users,
                    tickets: row.tickets,
                    storage_bytes: row.storage_bytes,
                    mail_last_30_days: row.mail_last_30_days,
                    last_activity: row.last_activity,
                })
            })
            .collect()
    }

    /// One tenant's usage per day, newest first, over the last `days` days (1 to 366; days
    /// without activity included). Empty for an unknown slug.
    pub async fn tenant_usage(&self, slug: &str, days: u32) -> Result<Vec<DailyUsage>> {
        Ok(sqlx::query_as(
            "select day, tickets_created, mail_sent, storage_bytes_added
               from platform_tenant_usage($1, $2)",
        )
        .bind(slug)
        .bind(i32::try_from(days).unwrap_or(366))
        .fetch_all(self.pool())
        .await?)
    }

    /// Folds the usage deltas the triggers wrote into the per-tenant totals and days (the
    /// worker runs it every few seconds); answers how many it folded (0 while another instance
    /// is folding).
    pub async fn roll_up_usage(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("select platform_roll_up_usage()")
            .fetch_one(self.pool())
            .await?)
    }

    /// The newest `limit` operator actions.
    pub async fn platform_audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "select id, created_at, operator_name, operator_email, action, tenant_slug, reason
               from platform_audit_log($1)",
        )
        .bind(i32::try_from(limit).unwrap_or(i32::MAX))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(AuditEntry {
                    action: AuditAction::from_db(&row.action)
                        .ok_or_else(|| StoreError::corrupt("platform_audit.action", &row.action))?,
                    id: row.id,
                    created_at: row.created_at,
                    operator_name: row.operator_name,
                    operator_email: row.operator_email,
                    tenant_slug: row.tenant_slug,
                    reason: row.reason,
                })
            })
            .collect()
    }
}
