//! Single-use, expiring tokens sent by mail: invitations, password resets, confirmations.

use std::time::Duration;

use domain::EmailAddress;
use uuid::Uuid;

use crate::secret::{generate, hash};
use crate::{Result, TenantTx};

/// What a token lets its holder do once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    AgentInvitation,
    AgentPasswordReset,
    UserInvitation,
    UserPasswordReset,
    UserRegistrationConfirm,
    SupportEmailVerification,
}

impl Purpose {
    fn key(self) -> &'static str {
        match self {
            Self::AgentInvitation => "agent_invitation",
            Self::AgentPasswordReset => "agent_password_reset",
            Self::UserInvitation => "user_invitation",
            Self::UserPasswordReset => "user_password_reset",
            Self::UserRegistrationConfirm => "user_registration_confirm",
            Self::SupportEmailVerification => "support_email_verification",
        }
    }
}

/// Whom a token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    Agent(Uuid),
    EndUser(Uuid),
    /// The workspace itself (support address verification).
    Workspace,
}

/// Issues a token; the returned secret goes into a link and is never stored.
pub async fn issue(
    tx: &mut TenantTx,
    purpose: Purpose,
    holder: Holder,
    valid_for: Duration,
) -> Result<String> {
    let secret = generate("tdl_");
    let (agent, end_user) = match holder {
        Holder::Agent(id) => (Some(id), None),
        Holder::EndUser(id) => (None, Some(id)),
        Holder::Workspace => (None, None),
    };
    sqlx::query(
        "insert into auth_tokens (tenant_id, id, purpose, agent_id, end_user_id, token_hash, expires_at)
         values ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(Uuid::now_v7())
    .bind(purpose.key())
    .bind(agent)
    .bind(end_user)
    .bind(hash(&secret))
    .bind(valid_for.as_secs_f64())
    .execute(tx.conn())
    .await?;
    Ok(secret)
}

/// The holder of a live token, without using it up (to show the form the link opens).
pub async fn peek(tx: &mut TenantTx, purpose: Purpose, secret: &str) -> Result<Option<Holder>> {
    let row: Option<(Option<Uuid>, Option<Uuid>)> = sqlx::query_as(
        "select agent_id, end_user_id from auth_tokens
          where token_hash = $1 and purpose = $2 and used_at is null and expires_at > now()",
    )
    .bind(hash(secret))
    .bind(purpose.key())
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(holder_from))
}

/// Uses the token up: its holder if it was live, `None` if unknown, used or expired.
pub async fn consume(tx: &mut TenantTx, purpose: Purpose, secret: &str) -> Result<Option<Holder>> {
    let row: Option<(Option<Uuid>, Option<Uuid>)> = sqlx::query_as(
        "update auth_tokens set used_at = now(), updated_at = now()
          where token_hash = $1 and purpose = $2 and used_at is null and expires_at > now()
          returning agent_id, end_user_id",
    )
    .bind(hash(secret))
    .bind(purpose.key())
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(holder_from))
}

fn holder_from((agent, end_user): (Option<Uuid>, Option<Uuid>)) -> Holder {
    match (agent, end_user) {
        (Some(id), _) => Holder::Agent(id),
        (None, Some(id)) => Holder::EndUser(id),
        (None, None) => Holder::Workspace,
    }
}

/// Issues a token proving control of `address` (support address verification).
pub async fn issue_for_address(
    tx: &mut TenantTx,
    purpose: Purpose,
    address: &EmailAddress,
    valid_for: Duration,
) -> Result<String> {
    let secret = generate("tdl_");
    sqlx::query(
        "insert into auth_tokens (tenant_id, id, purpose, email, token_hash, expires_at)
         values ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(Uuid::now_v7())
    .bind(purpose.key())
    .bind(address.as_str())
    .bind(hash(&secret))
    .bind(valid_for.as_secs_f64())
    .execute(tx.conn())
    .await?;
    Ok(secret)
}

/// The address a live token of `purpose` was sent to, without using it up.
pub async fn peek_address(
    tx: &mut TenantTx,
    purpose: Purpose,
    secret: &str,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "select email from auth_tokens
          where token_hash = $1 and purpose = $2 and used_at is null and expires_at > now() and email is not null",
    )
    .bind(hash(secret))
    .bind(purpose.key())
    .fetch_optional(tx.conn())
    .await?)
}

/// Uses up a live token of `purpose`; the address it was sent to.
pub async fn consume_address(
    tx: &mut TenantTx,
    purpose: Purpose,
    secret: &str,
) -> Result<Option<String>> {
    Ok(sqlx::query_scalar(
        "update auth_tokens set used_at = now(), updated_at = now()
          where token_hash = $1 and purpose = $2 and used_at is null and expires_at > now() and email is not null
          returning email",
    )
    .bind(hash(secret))
    .bind(purpose.key())
    .fetch_optional(tx.conn())
    .await?)
}
