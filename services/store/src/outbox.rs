//! The transactional outbox (`outbound_emails`): enqueue inside a business transaction, list
//! and retry per tenant, and the delivery worker's claim-and-settle functions, which are the
//! only cross-tenant path and go through the `mail_*` SECURITY DEFINER functions.

use chrono::{DateTime, Utc};
use domain::{EmailAddress, TenantId};
use sqlx::FromRow;
use uuid::Uuid;

use crate::{Result, Store, TenantTx};

/// A rendered message, ready to be queued.
#[derive(Clone, Debug)]
pub struct NewEmail {
    pub event: String,
    pub recipient: EmailAddress,
    pub from_name: String,
    /// The tenant's verified support address; `None` sends from the platform's address.
    pub from_address: Option<EmailAddress>,
    pub reply_to: Option<EmailAddress>,
    pub subject: String,
    pub html_body: String,
    pub text_body: String,
}

/// Queues `email` in the caller's transaction: it exists only if that transaction commits.
/// `message_domain` is the right-hand side of the Message-ID (the platform's mail domain).
pub async fn enqueue(tx: &mut TenantTx, email: &NewEmail, message_domain: &str) -> Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into outbound_emails (tenant_id, id, event, recipient, from_name, from_address,
                                      reply_to, subject, html_body, text_body, message_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(id)
    .bind(&email.event)
    .bind(email.recipient.as_str())
    .bind(&email.from_name)
    .bind(email.from_address.as_ref().map(EmailAddress::as_str))
    .bind(email.reply_to.as_ref().map(EmailAddress::as_str))
    .bind(&email.subject)
    .bind(&email.html_body)
    .bind(&email.text_body)
    .bind(format!("<{id}@{message_domain}>"))
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// One message as the tenant's admin page and API show it.
#[derive(Clone, Debug, FromRow, serde::Serialize)]
pub struct EmailSummary {
    pub id: Uuid,
    pub event: String,
    pub recipient: String,
    pub subject: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The tenant's most recent messages, newest first.
pub async fn recent(tx: &mut TenantTx, limit: i64) -> Result<Vec<EmailSummary>> {
    Ok(sqlx::query_as(
        "select id, event, recipient, subject, status, attempts, next_attempt_at, last_error,
                sent_at, created_at
           from outbound_emails order by created_at desc, id desc limit $1",
    )
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// Puts a dead message back in the queue. False when it is not this tenant's, or not dead.
pub async fn retry_dead(tx: &mut TenantTx, id: Uuid) -> Result<bool> {
    let updated = sqlx::query(
        "update outbound_emails
            set status = 'queued', attempts = 0, next_attempt_at = now(), last_error = null,
                updated_at = now()
          where id = $1 and status = 'dead'",
    )
    .bind(id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(updated > 0)
}

/// A message a worker has claimed and must settle with [`Store::mark_sent`] or
/// [`Store::mark_failed`] before its lease runs out.
#[derive(Clone, Debug, FromRow)]
pub struct ClaimedEmail {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub claim_id: Uuid,
    pub event: String,
    pub recipient: String,
    pub from_name: String,
    pub from_address: Option<String>,
    pub reply_to: Option<String>,
    pub subject: String,
    pub html_body: String,
    pub text_body: String,
    pub message_id: String,
    pub attempts: i32,
}

impl ClaimedEmail {
    pub fn tenant(&self) -> TenantId {
        TenantId::from_uuid(self.tenant_id)
    }
}

impl Store {
    /// Claims up to `batch` due messages of any tenant for `lease_seconds`.
    /// How many messages of every tenant wait in each unsettled status (`queued`, `sending`,
    /// `failed`, `dead`) and the age in seconds of the oldest: counts only, for the metrics.
    pub async fn mail_depth(&self) -> Result<Vec<(String, i64, f64)>> {
        Ok(sqlx::query_as("select * from mail_depth()")
            .fetch_all(self.pool())
            .await?)
    }

    pub async fn claim_emails(&self, batch: i32, lease_seconds: i32) -> Result<Vec<ClaimedEmail>> {
        Ok(sqlx::query_as("select * from mail_claim($1, $2)")
            .bind(batch)
            .bind(lease_seconds)
            .fetch_all(self.pool())
            .await?)
    }

    /// False when the claim was lost (the lease ran out and another worker took the message).
    pub async fn mark_sent(&self, email: &ClaimedEmail) -> Result<bool> {
        Ok(sqlx::query_scalar("select mail_mark_sent($1, $2, $3)")
            .bind(email.tenant_id)
            .bind(email.id)
            .bind(email.claim_id)
            .fetch_one(self.pool())
            .await?)
    }

    /// Records a failure: retried at `retry_at`, or dead when `None`.
    pub async fn mark_failed(
        &self,
        email: &ClaimedEmail,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        Ok(
            sqlx::query_scalar("select mail_mark_failed($1, $2, $3, $4, $5)")
                .bind(email.tenant_id)
                .bind(email.id)
                .bind(email.claim_id)
                .bind(error)
                .bind(retry_at)
                .fetch_one(self.pool())
                .await?,
        )
    }
}
