//! API tokens: 256 random bits shown once, stored only as their SHA-256, with a permission
//! scope (all permissions for tokens made by the platform CLI), an optional expiry, and the
//! time they were last used.

use chrono::{DateTime, Utc};
use domain::{Permission, TokenName};
use uuid::Uuid;

use crate::secret::{generate, hash};
use crate::{Result, StoreError, TenantTx};

/// Every token starts with this, so secret scanners and people recognise it.
const TOKEN_PREFIX: &str = "tdk_";

#[derive(Clone, Debug)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    /// What the token may do.
    pub permissions: Vec<Permission>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A token just created: the secret exists only here and is never stored.
pub struct IssuedToken {
    pub token: ApiToken,
    pub secret: String,
}

type TokenRow = (
    Uuid,
    String,
    Option<Vec<String>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
);

const COLUMNS: &str = "id, name, permissions, expires_at, last_used_at, revoked_at, created_at";

fn from_row(
    (id, name, permissions, expires_at, last_used_at, revoked_at, created_at): TokenRow,
) -> ApiToken {
    let permissions = match permissions {
        // Made by the platform CLI: the tenant's admin token, allowed everything.
        None => Permission::ALL.to_vec(),
        Some(keys) => keys
            .iter()
            .filter_map(|key| Permission::parse(key))
            .collect(),
    };
    ApiToken {
        id,
        name,
        permissions,
        expires_at,
        last_used_at,
        revoked_at,
        created_at,
    }
}

/// What a new token may do and for how long.
pub struct NewToken<'a> {
    pub name: &'a TokenName,
    /// `None`: every permission (the admin token the platform CLI issues).
    pub permissions: Option<&'a [Permission]>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_by_agent: Option<Uuid>,
}

pub async fn create(tx: &mut TenantTx, new: &NewToken<'_>) -> Result<IssuedToken> {
    let secret = generate(TOKEN_PREFIX);
    let permissions: Option<Vec<&str>> = new
        .permissions
        .map(|list| list.iter().map(|p| p.key()).collect());
    let row: TokenRow = sqlx::query_as(&format!(
        "insert into api_tokens (tenant_id, id, name, token_hash, permissions, expires_at, created_by_agent)
         values ($1, $2, $3, $4, $5, $6, $7) returning {COLUMNS}"
    ))
    .bind(tx.tenant_id().as_uuid())
    .bind(Uuid::now_v7())
    .bind(new.name.as_str())
    .bind(hash(&secret))
    .bind(permissions)
    .bind(new.expires_at)
    .bind(new.created_by_agent)
    .fetch_one(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(IssuedToken {
        token: from_row(row),
        secret,
    })
}

/// The admin token of the platform CLI: every permission, no expiry.
pub async fn create_api_token(tx: &mut TenantTx, name: &TokenName) -> Result<IssuedToken> {
    create(
        tx,
        &NewToken {
            name,
            permissions: None,
            expires_at: None,
            created_by_agent: None,
        },
    )
    .await
}

/// The live (not revoked, not expired) token with this secret, within the transaction's
/// tenant only. Notes the use, at most once a minute per token.
pub async fn api_token_by_secret(tx: &mut TenantTx, secret: &str) -> Result<Option<ApiToken>> {
    if !secret.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let row: Option<TokenRow> = sqlx::query_as(&format!(
        "select {COLUMNS} from api_tokens
          where token_hash = $1 and revoked_at is null and (expires_at is null or expires_at > now())"
    ))
    .bind(hash(secret))
    .fetch_optional(tx.conn())
    .await?;
    let Some(token) = row.map(from_row) else {
        return Ok(None);
    };
    if token
        .last_used_at
        .is_none_or(|used| used < Utc::now() - chrono::Duration::minutes(1))
    {
        sqlx::query("update api_tokens set last_used_at = now() where id = $1")
            .bind(token.id)
            .execute(tx.conn())
            .await?;
    }
    Ok(Some(token))
}

/// The tenant's tokens, newest first, revoked ones included.
pub async fn list(tx: &mut TenantTx) -> Result<Vec<ApiToken>> {
    let rows: Vec<TokenRow> = sqlx::query_as(&format!(
        "select {COLUMNS} from api_tokens order by created_at desc, id desc"
    ))
    .fetch_all(tx.conn())
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Revokes the token; false when the tenant has no live token with that id.
pub async fn revoke(tx: &mut TenantTx, id: Uuid) -> Result<bool> {
    let revoked = sqlx::query("update api_tokens set revoked_at = now(), updated_at = now() where id = $1 and revoked_at is null")
        .bind(id)
        .execute(tx.conn())
        .await?
        .rows_affected();
    Ok(revoked > 0)
}
