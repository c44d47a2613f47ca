//! End users (customers) of a tenant: guests known from their tickets, and accounts with a
//! password (pending confirmation, active, or locked). The directory issue adds the rest of
//! the customer record.

use chrono::{DateTime, Utc};
use domain::EmailAddress;
use sqlx::FromRow;
use uuid::Uuid;

use crate::{Result, StoreError, TenantTx};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndUserStatus {
    /// Known from tickets; no account, cannot sign in.
    Guest,
    /// Registered, the email address not confirmed yet; cannot sign in.
    Pending,
    /// A confirmed account that signs in.
    Active,
    /// An account an agent locked; cannot sign in.
    Locked,
}

impl EndUserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Guest => "guest",
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Locked => "locked",
        }
    }

    pub(crate) fn parse(raw: &str) -> Option<Self> {
        match raw {
            "guest" => Some(Self::Guest),
            "pending" => Some(Self::Pending),
            "active" => Some(Self::Active),
            "locked" => Some(Self::Locked),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct EndUser {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub status: EndUserStatus,
    /// Whether the directory keeps the person in use; invalid users cannot sign in.
    pub validity: domain::Validity,
    pub password_hash: Option<String>,
    pub must_change_password: bool,
    pub sessions_valid_after: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct EndUserRow {
    id: Uuid,
    name: String,
    email: String,
    status: String,
    validity: String,
    password_hash: Option<String>,
    must_change_password: bool,
    sessions_valid_after: DateTime<Utc>,
    last_sign_in_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

const SELECT: &str =
    "select id, name, email, status, validity, password_hash, must_change_password,
        sessions_valid_after, last_sign_in_at, created_at
   from end_users";

impl TryFrom<EndUserRow> for EndUser {
    type Error = StoreError;

    fn try_from(row: EndUserRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            name: row.name,
            email: row.email,
            status: EndUserStatus::parse(&row.status)
                .ok_or_else(|| StoreError::corrupt("end_users.status", &row.status))?,
            validity: domain::Validity::parse(&row.validity)
                .map_err(|_| StoreError::corrupt("end_users.validity", &row.validity))?,
            password_hash: row.password_hash,
            must_change_password: row.must_change_password,
            sessions_valid_after: row.sessions_valid_after,
            last_sign_in_at: row.last_sign_in_at,
            created_at: row.created_at,
        })
    }
}

/// Splits a full name typed in one box into first and last name at its last space:
/// "Ada King Lovelace" is "Ada King" + "Lovelace"; a single word is a first name alone.
/// Each part is cut at 100 characters, the longest the directory stores.
pub fn split_name(name: &str) -> (&str, &str) {
    let name = name.trim();
    let (first, last) = match name.rsplit_once(char::is_whitespace) {
        Some((first, last)) => (first.trim_end(), last),
        None => (name, ""),
    };
    (cut(first, 100), cut(last, 100))
}

fn cut(text: &str, chars: usize) -> &str {
    text.char_indices()
        .nth(chars)
        .map_or(text, |(at, _)| &text[..at])
}

/// The end user with this address, compared case-insensitively.
pub async fn by_email(tx: &mut TenantTx, email: &str) -> Result<Option<EndUser>> {
    let row: Option<EndUserRow> = sqlx::query_as(&format!("{SELECT} where email_key = lower($1)"))
        .bind(email.trim())
        .fetch_optional(tx.conn())
        .await?;
    row.map(EndUser::try_from).transpose()
}

/// The account an end user names at sign-in: by email, or by the username they chose.
pub async fn by_email_or_login(tx: &mut TenantTx, identifier: &str) -> Result<Option<EndUser>> {
    let row: Option<EndUserRow> = sqlx::query_as(&format!(
        "{SELECT} where email_key = lower($1) or login_key = lower($1) limit 1"
    ))
    .bind(identifier.trim())
    .fetch_optional(tx.conn())
    .await?;
    row.map(EndUser::try_from).transpose()
}

/// True when another account of the tenant already signs in with `username`.
pub async fn username_taken(tx: &mut TenantTx, username: &domain::Username) -> Result<bool> {
    Ok(
        sqlx::query_scalar("select exists (select from end_users where login_key = lower($1))")
            .bind(username.as_str())
            .fetch_one(tx.conn())
            .await?,
    )
}

/// Lets the account sign in with `username` besides its email.
pub async fn set_username(tx: &mut TenantTx, id: Uuid, username: &domain::Username) -> Result<()> {
    sqlx::query("update end_users set login = $2, updated_at = now() where id = $1")
        .bind(id)
        .bind(username.as_str())
        .execute(tx.conn())
        .await
        .map_err(StoreError::from_write)?;
    Ok(())
}

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<EndUser>> {
    let row: Option<EndUserRow> = sqlx::query_as(&format!("{SELECT} where id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    row.map(EndUser::try_from).transpose()
}

/// A new end user: a guest (no password), a registration awaiting confirmation (pending, with
/// the password chosen), or an account made active at once (with a password).
pub struct NewEndUser<'a> {
    pub name: &'a str,
    pub email: &'a EmailAddress,
    pub status: EndUserStatus,
    pub password_hash: Option<String>,
}

/// Creates the end user (joining the organization that lists their email domain, see
/// [`crate::user_directory::insert`]); an address already in use answers
/// [`StoreError::Conflict`] on `email`.
pub async fn create(tx: &mut TenantTx, new: &NewEndUser<'_>) -> Result<EndUser> {
    let (first_name, last_name) = split_name(new.name);
    let profile = crate::user_directory::Profile {
        first_name: first_name.to_owned(),
        last_name: last_name.to_owned(),
        email: new.email.as_str().to_owned(),
        ..Default::default()
    };
    let id = crate::user_directory::insert(
        tx,
        &profile,
        new.status,
        new.password_hash.as_deref(),
        crate::user_directory::Actor::System,
    )
    .await?;
    by_id(tx, id)
        .await?
        .ok_or_else(|| StoreError::corrupt("end_users", "the new end user vanished"))
}

/// Registration with the address of a guest (or of an earlier, unconfirmed registration):
/// the same row becomes a pending account with the password chosen now, so the guest keeps
/// their tickets once the address is confirmed. The name stays as it is: whoever registers has
/// not proved yet that the address is theirs. False when the row is no guest or pending row.
pub async fn begin_registration(tx: &mut TenantTx, id: Uuid, hash: &str) -> Result<bool> {
    let updated = sqlx::query(
        "update end_users set status = 'pending', password_hash = $2, updated_at = now()
          where id = $1 and status in ('guest', 'pending')",
    )
    .bind(id)
    .bind(hash)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// Confirms a pending registration: the account becomes active. False unless it was pending.
pub async fn activate(tx: &mut TenantTx, id: Uuid) -> Result<bool> {
    let updated = sqlx::query(
        "update end_users set status = 'active', updated_at = now()
          where id = $1 and status = 'pending'",
    )
    .bind(id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// Records a successful sign-in, storing a rehashed password when parameters changed.
/// Returns the database's clock, which dates the new session.
pub async fn record_sign_in(
    tx: &mut TenantTx,
    id: Uuid,
    rehashed: Option<&str>,
) -> Result<DateTime<Utc>> {
    Ok(sqlx::query_scalar(
        "update end_users set last_sign_in_at = clock_timestamp(),
                password_hash = coalesce($2, password_hash), updated_at = now()
          where id = $1 returning last_sign_in_at",
    )
    .bind(id)
    .bind(rehashed)
    .fetch_one(tx.conn())
    .await?)
}

/// Sets a new password: a guest or pending account becomes active (the holder proved the
/// address is theirs; a locked account stays locked), every session begun before ends, and
/// every password reset link still outstanding stops working.
pub async fn set_password(tx: &mut TenantTx, id: Uuid, hash: &str) -> Result<()> {
    sqlx::query(
        "with voided as (
           update auth_tokens set used_at = now(), updated_at = now()
            where end_user_id = $1 and purpose = 'user_password_reset' and used_at is null
         )
         update end_users set password_hash = $2,
                status = case when status = 'locked' then 'locked' else 'active' end,
                must_change_password = false, sessions_valid_after = now(), updated_at = now()
          where id = $1",
    )
    .bind(id)
    .bind(hash)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Ends every session of the end user ("sign out everywhere").
pub async fn revoke_sessions(tx: &mut TenantTx, id: Uuid) -> Result<()> {
    sqlx::query(
        "update end_users set sessions_valid_after = now(), updated_at = now() where id = $1",
    )
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Renames the end user from one full name (split as [`split_name`] does); the caller
/// checked the length (1 to 200 characters).
pub async fn update_name(tx: &mut TenantTx, id: Uuid, name: &str) -> Result<()> {
    let (first_name, last_name) = split_name(name);
    sqlx::query(
        "update end_users set first_name = $2, last_name = $3, version = version + 1,
                updated_at = now() where id = $1",
    )
    .bind(id)
    .bind(first_name)
    .bind(last_name)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Every end user of the tenant, newest first, at most `limit`.
pub async fn list(tx: &mut TenantTx, limit: i64) -> Result<Vec<EndUser>> {
    let rows: Vec<EndUserRow> = sqlx::query_as(&format!(
        "{SELECT} order by created_at desc, id desc limit $1"
    ))
    .bind(limit)
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter().map(EndUser::try_from).collect()
}

/// An invitation to a guest (or to a pending row): the row becomes pending, keeping its
/// tickets; the password, if any, stays until the invitation sets a new one. False when the
/// row is an active or locked account.
pub async fn begin_invitation(tx: &mut TenantTx, id: Uuid) -> Result<bool> {
    let updated = sqlx::query(
        "update end_users set status = 'pending', updated_at = now()
          where id = $1 and status in ('guest', 'pending')",
    )
    .bind(id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// A temporary password an agent chose: stored like any password, it must be changed at the
/// next sign-in; a guest or pending account becomes active (a locked one stays locked), every
/// session ends, and every outstanding password reset link stops working.
pub async fn set_temporary_password(tx: &mut TenantTx, id: Uuid, hash: &str) -> Result<()> {
    set_password(tx, id, hash).await?;
    sqlx::query(
        "update end_users set must_change_password = true, updated_at = now() where id = $1",
    )
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}
