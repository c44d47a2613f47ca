//! Metadata rows of ticket attachments (name, size, content type, SHA-256, storage key). The
//! bytes live in the object store; the caller checks the ticket is visible before reading.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::{Result, StoreError, TenantTx};

#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct Attachment {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub entry_id: Uuid,
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: Vec<u8>,
    pub storage_key: String,
    pub created_at: DateTime<Utc>,
}

/// A row to add; the id is chosen by the caller because it is part of the storage key.
#[derive(Clone, Debug)]
pub struct NewAttachment<'a> {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub entry_id: Uuid,
    pub name: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a [u8],
    pub storage_key: &'a str,
}

pub async fn insert(tx: &mut TenantTx, new: &NewAttachment<'_>) -> Result<()> {
    sqlx::query(
        "insert into ticket_attachments (tenant_id, id, ticket_id, entry_id, name, content_type,
                size_bytes, sha256, storage_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(new.id)
    .bind(new.ticket_id)
    .bind(new.entry_id)
    .bind(new.name)
    .bind(new.content_type)
    .bind(new.size_bytes)
    .bind(new.sha256)
    .bind(new.storage_key)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}

const COLUMNS: &str =
    "id, ticket_id, entry_id, name, content_type, size_bytes, sha256, storage_key, created_at";

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<Attachment>> {
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS} from ticket_attachments where id = $1"
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

/// A ticket's attachments in the order they were added.
pub async fn for_ticket(tx: &mut TenantTx, ticket_id: Uuid) -> Result<Vec<Attachment>> {
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS} from ticket_attachments where ticket_id = $1 order by created_at, id"
    ))
    .bind(ticket_id)
    .fetch_all(tx.conn())
    .await?)
}

/// One entry's attachments in the order they were added.
pub async fn for_entry(tx: &mut TenantTx, entry_id: Uuid) -> Result<Vec<Attachment>> {
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS} from ticket_attachments where entry_id = $1 order by created_at, id"
    ))
    .bind(entry_id)
    .fetch_all(tx.conn())
    .await?)
}
