//! The workspace's ticket settings: the next ticket number (it only ever rises, so numbers
//! never repeat), the default department, attachment limits, replies to closed tickets.

use uuid::Uuid;

use crate::{Result, TenantTx};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketSettings {
    /// The number the next ticket gets.
    pub next_ticket_number: i64,
    pub default_department_id: Option<Uuid>,
    pub attachment_max_bytes: i64,
    /// Allowed content types; empty: any except the always-refused executable types.
    pub attachment_allowed_types: Vec<String>,
    pub reply_to_closed_allowed: bool,
}

pub async fn load(tx: &mut TenantTx) -> Result<TicketSettings> {
    let (
        default_department_id,
        attachment_max_bytes,
        attachment_allowed_types,
        reply_to_closed_allowed,
    ): (Option<Uuid>, i64, Vec<String>, bool) = sqlx::query_as(
        "select default_department_id, attachment_max_bytes, attachment_allowed_types,
                reply_to_closed_allowed
           from tenant_settings",
    )
    .fetch_one(tx.conn())
    .await?;
    let next_ticket_number: Option<i64> =
        sqlx::query_scalar("select next_number from ticket_counters")
            .fetch_optional(tx.conn())
            .await?;
    Ok(TicketSettings {
        next_ticket_number: next_ticket_number.unwrap_or(1),
        default_department_id,
        attachment_max_bytes,
        attachment_allowed_types,
        reply_to_closed_allowed,
    })
}

/// What a change sets; `None` leaves a setting as it is.
#[derive(Clone, Debug, Default)]
pub struct TicketSettingsChange {
    pub next_ticket_number: Option<i64>,
    pub default_department_id: Option<Uuid>,
    pub attachment_max_bytes: Option<i64>,
    pub attachment_allowed_types: Option<Vec<String>>,
    pub reply_to_closed_allowed: Option<bool>,
}

/// How a change ended.
#[derive(Debug)]
pub enum ChangeOutcome {
    Saved(TicketSettings),
    /// The next number asked for is below the one the tenant has reached.
    NumberTooLow {
        current: i64,
    },
}

/// Applies the change; the ticket counter row is locked while the number is checked and
/// raised, so a ticket created meanwhile can never get a number twice.
pub async fn update(tx: &mut TenantTx, change: &TicketSettingsChange) -> Result<ChangeOutcome> {
    if let Some(next) = change.next_ticket_number {
        let tenant = tx.tenant_id().as_uuid();
        sqlx::query(
            "insert into ticket_counters (tenant_id, next_number) values ($1, 1)
             on conflict (tenant_id) do nothing",
        )
        .bind(tenant)
        .execute(tx.conn())
        .await?;
        let current: i64 = sqlx::query_scalar("select next_number from ticket_counters for update")
            .fetch_one(tx.conn())
            .await?;
        if next < current {
            return Ok(ChangeOutcome::NumberTooLow { current });
        }
        sqlx::query("update ticket_counters set next_number = $1, updated_at = now()")
            .bind(next)
            .execute(tx.conn())
            .await?;
    }
    sqlx::query(
        "update tenant_settings set
            default_department_id = coalesce($1, default_department_id),
            attachment_max_bytes = coalesce($2, attachment_max_bytes),
            attachment_allowed_types = coalesce($3, attachment_allowed_types),
            reply_to_closed_allowed = coalesce($4, reply_to_closed_allowed),
            version = version + 1,
            updated_at = now()",
    )
    .bind(change.default_department_id)
    .bind(change.attachment_max_bytes)
    .bind(change.attachment_allowed_types.as_deref())
    .bind(change.reply_to_closed_allowed)
    .execute(tx.conn())
    .await?;
    Ok(ChangeOutcome::Saved(load(tx).await?))
}
