//! Fields from customer data (OTRS DynamicFieldFromCustomerUser): per tenant, which field of
//! the requester or of their primary organization fills which ticket custom field when a
//! ticket is created or its requester changes.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::{Result, StoreError, TenantTx};

#[derive(Clone, Debug, FromRow)]
pub struct FieldMapping {
    pub id: Uuid,
    /// `user` or `organization`.
    pub source_entity: String,
    /// A built-in field name (`email`, `city`, ...) or `custom.<key>`.
    pub source_field: String,
    /// The ticket custom field's key.
    pub target_key: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT: &str = "select id, source_entity, source_field, target_key, created_at, updated_at from ticket_field_mappings";

/// The tenant's mappings by target field.
pub async fn list(tx: &mut TenantTx) -> Result<Vec<FieldMapping>> {
    Ok(sqlx::query_as(&format!("{SELECT} order by target_key, id"))
        .fetch_all(tx.conn())
        .await?)
}

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<FieldMapping>> {
    Ok(sqlx::query_as(&format!("{SELECT} where id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?)
}

/// Adds a mapping; a ticket field that already has one is a conflict on `target_key`.
pub async fn create(
    tx: &mut TenantTx,
    source_entity: &str,
    source_field: &str,
    target_key: &str,
) -> Result<FieldMapping> {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into ticket_field_mappings (tenant_id, id, source_entity, source_field, target_key)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(id)
    .bind(source_entity)
    .bind(source_field)
    .bind(target_key)
    .execute(tx.conn())
    .await
    .map_err(|error| match &error {
        sqlx::Error::Database(db)
            if db.is_unique_violation()
                && db.constraint() == Some("ticket_field_mappings_target_key") =>
        {
            StoreError::Conflict {
                field: "target_key",
            }
        }
        _ => StoreError::Database(error),
    })?;
    by_id(tx, id)
        .await?
        .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
}

/// Deletes a mapping; false when there was none.
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<bool> {
    let deleted = sqlx::query("delete from ticket_field_mappings where id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Moves a ticket to another requester and organization (the change's other fields and its
/// version are written by `tickets::save` in the same transaction; this is the part that
/// function does not write).
pub async fn set_requester(
    tx: &mut TenantTx,
    ticket_id: Uuid,
    requester_id: Uuid,
    organization_id: Option<Uuid>,
) -> Result<()> {
    sqlx::query(
        "update tickets set requester_id = $2, organization_id = $3, updated_at = now()
          where id = $1",
    )
    .bind(ticket_id)
    .bind(requester_id)
    .bind(organization_id)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}
