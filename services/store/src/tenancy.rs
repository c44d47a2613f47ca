//! Tenants and their hosts: resolution reads (runtime role) and the lifecycle (owner role).

use chrono::{DateTime, Utc};
use domain::{BuiltinRole, HexColour, Host, TenantId, TenantName, TenantSlug, TenantStatus};
use sqlx::FromRow;
use uuid::Uuid;

use crate::{Owner, Result, Store, StoreError, TenantTx};

#[derive(Clone, Debug)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: TenantSlug,
    pub name: TenantName,
    pub status: TenantStatus,
    pub created_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct TenantRow {
    id: Uuid,
    slug: String,
    name: String,
    status: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = StoreError;

    fn try_from(row: TenantRow) -> Result<Self> {
        Ok(Self {
            id: TenantId::from_uuid(row.id),
            slug: TenantSlug::parse(&row.slug)
                .map_err(|e| StoreError::corrupt("tenants.slug", e))?,
            name: TenantName::parse(&row.name)
                .map_err(|e| StoreError::corrupt("tenants.name", e))?,
            status: TenantStatus::from_db(&row.status)
                .ok_or_else(|| StoreError::corrupt("tenants.status", &row.status))?,
            created_at: row.created_at,
        })
    }
}

const TENANT_COLUMNS: &str = "t.id, t.slug, t.name, t.status, t.created_at";

impl Store {
    pub async fn tenant_by_slug(&self, slug: &TenantSlug) -> Result<Option<Tenant>> {
        let row: Option<TenantRow> = sqlx::query_as(&format!(
            "select {TENANT_COLUMNS} from tenants t where t.slug = $1"
        ))
        .bind(slug.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(Tenant::try_from).transpose()
    }

    /// The tenant a verified custom domain belongs to.
    pub async fn tenant_by_custom_domain(&self, host: &Host) -> Result<Option<Tenant>> {
        let row: Option<TenantRow> = sqlx::query_as(&format!(
            "select {TENANT_COLUMNS} from tenant_domains d join tenants t on t.id = d.tenant_id
              where d.host = $1 and d.verified"
        ))
        .bind(host.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(Tenant::try_from).transpose()
    }
}

/// What a new tenant starts with.
pub struct NewTenant {
    pub slug: TenantSlug,
    pub name: TenantName,
    pub primary_colour: Option<HexColour>,
    pub accent_colour: Option<HexColour>,
}

impl Owner {
    /// Creates the tenant with its settings and built-in roles, committed.
    pub async fn create_tenant(&self, new: &NewTenant) -> Result<Tenant> {
        let (tenant, tx) = self.begin_new_tenant(new).await?;
        tx.commit().await?;
        Ok(tenant)
    }

    /// Creates the tenant with its settings and built-in roles in a transaction scoped to it,
    /// left open so the caller can add more (its first admin) before committing it all at once.
    pub async fn begin_new_tenant(&self, new: &NewTenant) -> Result<(Tenant, TenantTx)> {
        let id = TenantId::new();
        // As the owner, with the new tenant's id written explicitly; RLS takes over at `adopt`.
        let mut tx = self.pool().begin().await?;
        let row: TenantRow = sqlx::query_as(
            "insert into tenants (id, slug, name) values ($1, $2, $3)
             returning id, slug, name, status, created_at",
        )
        .bind(id.as_uuid())
        .bind(new.slug.as_str())
        .bind(new.name.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::from_write)?;
        sqlx::query("select set_config('app.tenant_id', $1, true)")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "insert into tenant_settings (tenant_id, display_name, primary_colour, accent_colour)
             values ($1, $2, coalesce($3, '#1f6feb'), coalesce($4, '#0b3d91'))",
        )
        .bind(id.as_uuid())
        .bind(new.name.as_str())
        .bind(new.primary_colour.map(|c| c.to_string()))
        .bind(new.accent_colour.map(|c| c.to_string()))
        .execute(&mut *tx)
        .await?;
        // Every workspace starts with a department new tickets go to (the default).
        sqlx::query(
            "with first as (
               insert into departments (tenant_id, id, name, description)
               values ($1, $2, 'Support', 'Where new requests arrive.') returning id
             )
             update tenant_settings set default_department_id = (select id from first)
              where tenant_id = $1",
        )
        .bind(id.as_uuid())
        .bind(Uuid::now_v7())
        .execute(&mut *tx)
        .await?;
        for role in BuiltinRole::ALL {
            sqlx::query("insert into roles (tenant_id, id, name, builtin) values ($1, $2, $3, $4)")
                .bind(id.as_uuid())
                .bind(Uuid::now_v7())
                .bind(role.name())
                .bind(role.key())
                .execute(&mut *tx)
                .await?;
        }
        Ok((Tenant::try_from(row)?, TenantTx::adopt(tx, id).await?))
    }

    pub async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let rows: Vec<TenantRow> = sqlx::query_as(&format!(
            "select {TENANT_COLUMNS} from tenants t order by t.slug"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(Tenant::try_from).collect()
    }

    /// Sets the status; `None` when no tenant has that slug.
    pub async fn set_tenant_status(
        &self,
        slug: &TenantSlug,
        status: TenantStatus,
    ) -> Result<Option<Tenant>> {
        let row: Option<TenantRow> = sqlx::query_as(
            "update tenants set status = $2, updated_at = now() where slug = $1
             returning id, slug, name, status, created_at",
        )
        .bind(slug.as_str())
        .bind(status.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(Tenant::try_from).transpose()
    }

    pub async fn tenant_by_slug(&self, slug: &TenantSlug) -> Result<Option<Tenant>> {
        let row: Option<TenantRow> = sqlx::query_as(&format!(
            "select {TENANT_COLUMNS} from tenants t where t.slug = $1"
        ))
        .bind(slug.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(Tenant::try_from).transpose()
    }

    /// Adds a custom domain for a tenant; it resolves only once `verified` is true.
    pub async fn add_tenant_domain(
        &self,
        tenant: TenantId,
        host: &Host,
        verified: bool,
    ) -> Result<()> {
        sqlx::query("insert into tenant_domains (host, tenant_id, verified) values ($1, $2, $3)")
            .bind(host.as_str())
            .bind(tenant.as_uuid())
            .bind(verified)
            .execute(self.pool())
            .await
            .map_err(StoreError::from_write)?;
        Ok(())
    }
}
