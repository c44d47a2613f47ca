//! Guest links: one revocable grant per ticket and recipient that opens that ticket without
//! signing in. Each mail carries a fresh secret of the link (256 random bits, base64url, only
//! the SHA-256 stored); revoking the link ends every secret of it. A link stops working a
//! configurable number of days after its ticket closed (`guest_link_days_after_close`).

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::secret::{generate, hash};
use crate::{Result, StoreError, TenantTx};

/// Every guest secret starts with this, so people and secret scanners recognise it.
const SECRET_PREFIX: &str = "tdg_";

#[derive(Clone, Debug, FromRow)]
pub struct GuestLink {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub end_user_id: Uuid,
    pub end_user_name: String,
    pub end_user_email: String,
    pub created_by_agent_id: Option<Uuid>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const SELECT: &str = "select l.id, l.ticket_id, l.end_user_id, u.name as end_user_name,
        u.email as end_user_email, l.created_by_agent_id, l.revoked_at, l.last_used_at, l.created_at
   from guest_links l join end_users u on u.id = l.end_user_id";

/// A secret just minted: it exists only here and in the mail or answer it goes into.
pub struct MintedSecret {
    pub link: GuestLink,
    pub secret: String,
}

/// A fresh secret of the live link of `end_user_id` on the ticket, making the link first when
/// there is none (the first mail, or the first after a revocation).
pub async fn mint(
    tx: &mut TenantTx,
    ticket_id: Uuid,
    end_user_id: Uuid,
    by_agent: Option<Uuid>,
) -> Result<MintedSecret> {
    let tenant = tx.tenant_id().as_uuid();
    // The partial unique index makes a concurrent second insert a no-op here.
    sqlx::query(
        "insert into guest_links (tenant_id, id, ticket_id, end_user_id, created_by_agent_id)
         values ($1, $2, $3, $4, $5)
         on conflict (tenant_id, ticket_id, end_user_id) where revoked_at is null do nothing",
    )
    .bind(tenant)
    .bind(Uuid::now_v7())
    .bind(ticket_id)
    .bind(end_user_id)
    .bind(by_agent)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    let link: GuestLink = sqlx::query_as(&format!(
        "{SELECT} where l.ticket_id = $1 and l.end_user_id = $2 and l.revoked_at is null"
    ))
    .bind(ticket_id)
    .bind(end_user_id)
    .fetch_one(tx.conn())
    .await?;
    let secret = generate(SECRET_PREFIX);
    sqlx::query(
        "insert into guest_link_secrets (tenant_id, secret_hash, link_id) values ($1, $2, $3)",
    )
    .bind(tenant)
    .bind(hash(&secret))
    .bind(link.id)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(MintedSecret { link, secret })
}

/// What a guest secret opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestAccess {
    pub link_id: Uuid,
    pub ticket_id: Uuid,
    pub end_user_id: Uuid,
}

/// The access a secret grants within the transaction's tenant: `None` for an unknown,
/// malformed or revoked secret, for a ticket closed longer ago than the tenant's guest link
/// lifetime, and for a recipient who was erased or is no longer valid. Notes the use.
pub async fn by_secret(tx: &mut TenantTx, secret: &str) -> Result<Option<GuestAccess>> {
    if !secret.starts_with(SECRET_PREFIX) || secret.len() > 100 {
        return Ok(None);
    }
    let row: Option<(Uuid, Uuid, Uuid)> = sqlx::query_as(
        "select l.id, l.ticket_id, l.end_user_id
           from guest_link_secrets s
           join guest_links l on l.id = s.link_id
           join tickets t on t.id = l.ticket_id
           join end_users u on u.id = l.end_user_id
          where s.secret_hash = $1 and l.revoked_at is null
            and u.erased_at is null and u.validity = 'valid'
            and (t.closed_at is null
                 or t.closed_at + make_interval(days => (select guest_link_days_after_close
                                                           from tenant_settings)) > now())",
    )
    .bind(hash(secret))
    .fetch_optional(tx.conn())
    .await?;
    let Some((link_id, ticket_id, end_user_id)) = row else {
        return Ok(None);
    };
    sqlx::query(
        "update guest_links set last_used_at = now()
          where id = $1 and (last_used_at is null or last_used_at < now() - interval '1 minute')",
    )
    .bind(link_id)
    .execute(tx.conn())
    .await?;
    Ok(Some(GuestAccess {
        link_id,
        ticket_id,
        end_user_id,
    }))
}

/// The ticket's links, newest first, revoked ones included.
pub async fn for_ticket(tx: &mut TenantTx, ticket_id: Uuid) -> Result<Vec<GuestLink>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} where l.ticket_id = $1 order by l.created_at desc, l.id desc"
    ))
    .bind(ticket_id)
    .fetch_all(tx.conn())
    .await?)
}

/// Revokes a live link of the ticket; `None` when the ticket has no live link with that id.
pub async fn revoke(
    tx: &mut TenantTx,
    ticket_id: Uuid,
    link_id: Uuid,
    by_agent: Option<Uuid>,
) -> Result<Option<GuestLink>> {
    let revoked: Option<Uuid> = sqlx::query_scalar(
        "update guest_links set revoked_at = now(), revoked_by_agent_id = $3, updated_at = now()
          where id = $1 and ticket_id = $2 and revoked_at is null
          returning id",
    )
    .bind(link_id)
    .bind(ticket_id)
    .bind(by_agent)
    .fetch_optional(tx.conn())
    .await?;
    match revoked {
        Some(id) => Ok(sqlx::query_as(&format!("{SELECT} where l.id = $1"))
            .bind(id)
            .fetch_optional(tx.conn())
            .await?),
        None => Ok(None),
    }
}
