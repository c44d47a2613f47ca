//! The portal options of the workspace (`tenant_settings` columns): the new-ticket
//! autoresponse, whether end users may close their tickets, the reopen window and how long
//! guest links keep working after a ticket closed.

use crate::{Result, TenantTx};

/// The longest reopen window and guest link lifetime, in days (the schema's checks).
pub const MAX_DAYS: i32 = 3650;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortalSettings {
    /// The new-ticket autoresponse goes out (topics can still turn it off for themselves).
    pub autoresponse: bool,
    pub users_may_close: bool,
    /// Days after closing in which an end user may reopen; 0: never.
    pub reopen_days: i32,
    /// Days after closing that guest links keep working.
    pub guest_link_days_after_close: i32,
}

pub async fn load(tx: &mut TenantTx) -> Result<PortalSettings> {
    let (autoresponse, users_may_close, reopen_days, guest_link_days_after_close): (
        bool,
        bool,
        i32,
        i32,
    ) = sqlx::query_as(
        "select portal_autoresponse, portal_users_may_close, portal_reopen_days,
                guest_link_days_after_close
           from tenant_settings",
    )
    .fetch_one(tx.conn())
    .await?;
    Ok(PortalSettings {
        autoresponse,
        users_may_close,
        reopen_days,
        guest_link_days_after_close,
    })
}

/// What a change sets; `None` leaves a setting. Day counts must be within 0..=[`MAX_DAYS`]
/// (checked by the caller; the schema refuses anything else).
#[derive(Clone, Copy, Debug, Default)]
pub struct PortalSettingsChange {
    pub autoresponse: Option<bool>,
    pub users_may_close: Option<bool>,
    pub reopen_days: Option<i32>,
    pub guest_link_days_after_close: Option<i32>,
}

pub async fn update(tx: &mut TenantTx, change: &PortalSettingsChange) -> Result<PortalSettings> {
    sqlx::query(
        "update tenant_settings
            set portal_autoresponse = coalesce($1, portal_autoresponse),
                portal_users_may_close = coalesce($2, portal_users_may_close),
                portal_reopen_days = coalesce($3, portal_reopen_days),
                guest_link_days_after_close = coalesce($4, guest_link_days_after_close),
                updated_at = now()",
    )
    .bind(change.autoresponse)
    .bind(change.users_may_close)
    .bind(change.reopen_days)
    .bind(change.guest_link_days_after_close)
    .execute(tx.conn())
    .await?;
    load(tx).await
}
