//! Savepoints inside a tenant transaction: a unit of work (one row of an import) that can fail
//! and be undone alone while the transaction around it goes on. PostgreSQL refuses every
//! statement after an error until the transaction or a savepoint is rolled back, so work that
//! continues past a failed write must open a savepoint before it.

use sqlx::Executor;

use crate::{Result, TenantTx};

// One name is enough: units run one after another, never nested. Plain text without
// parameters goes as a simple query, so UNDO's two statements are one round trip.
const SET: &str = "SAVEPOINT tenantdesk_unit";
const RELEASE: &str = "RELEASE SAVEPOINT tenantdesk_unit";
const UNDO: &str = "ROLLBACK TO SAVEPOINT tenantdesk_unit; RELEASE SAVEPOINT tenantdesk_unit";

/// Starts a unit of work.
pub async fn begin(tx: &mut TenantTx) -> Result<()> {
    tx.conn().execute(SET).await?;
    Ok(())
}

/// Keeps what the unit wrote.
pub async fn keep(tx: &mut TenantTx) -> Result<()> {
    tx.conn().execute(RELEASE).await?;
    Ok(())
}

/// Undoes what the unit wrote; the transaction can go on.
pub async fn undo(tx: &mut TenantTx) -> Result<()> {
    tx.conn().execute(UNDO).await?;
    Ok(())
}
