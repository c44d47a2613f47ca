//! Agents (staff) of a tenant and their roles.

use chrono::{DateTime, Utc};
use domain::{BuiltinRole, EmailAddress, Permission};
use sqlx::FromRow;
use uuid::Uuid;

use crate::{Result, StoreError, TenantTx};

#[derive(Clone, Debug)]
pub struct Role {
    pub id: Uuid,
    pub name: String,
    pub builtin: Option<BuiltinRole>,
    pub permissions: Vec<Permission>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentStatus {
    /// Invited, no password yet.
    Invited,
    Active,
    Disabled,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "invited" => Some(Self::Invited),
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Agent {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub status: AgentStatus,
    pub role: Role,
    pub password_hash: Option<String>,
    pub must_change_password: bool,
    pub sessions_valid_after: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl Agent {
    pub fn can(&self, permission: Permission) -> bool {
        self.role.permissions.contains(&permission)
    }
}

#[derive(FromRow)]
struct AgentRow {
    id: Uuid,
    name: String,
    email: String,
    status: String,
    password_hash: Option<String>,
    must_change_password: bool,
    sessions_valid_after: DateTime<Utc>,
    last_sign_in_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    role_id: Uuid,
    role_name: String,
    role_builtin: Option<String>,
    role_permissions: Vec<String>,
}

const AGENT_SELECT: &str = "select a.id, a.name, a.email, a.status, a.password_hash, a.must_change_password,
        a.sessions_valid_after, a.last_sign_in_at, a.created_at,
        r.id as role_id, r.name as role_name, r.builtin as role_builtin, r.permissions as role_permissions
   from agents a join roles r on r.tenant_id = a.tenant_id and r.id = a.role_id";

fn role_from(id: Uuid, name: String, builtin: Option<String>, permissions: Vec<String>) -> Role {
    let builtin = builtin.as_deref().and_then(BuiltinRole::parse);
    let permissions = match builtin {
        // Built-in roles take their permissions from the code, so new permissions reach them.
        Some(role) => role.permissions().to_vec(),
        None => permissions
            .iter()
            .filter_map(|key| Permission::parse(key))
            .collect(),
    };
    Role {
        id,
        name,
        builtin,
        permissions,
    }
}

impl TryFrom<AgentRow> for Agent {
    type Error = StoreError;

    fn try_from(row: AgentRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            name: row.name,
            email: row.email,
            status: AgentStatus::parse(&row.status)
                .ok_or_else(|| StoreError::corrupt("agents.status", &row.status))?,
            role: role_from(
                row.role_id,
                row.role_name,
                row.role_builtin,
                row.role_permissions,
            ),
            password_hash: row.password_hash,
            must_change_password: row.must_change_password,
            sessions_valid_after: row.sessions_valid_after,
            last_sign_in_at: row.last_sign_in_at,
            created_at: row.created_at,
        })
    }
}

pub async fn by_email(tx: &mut TenantTx, email: &str) -> Result<Option<Agent>> {
    let row: Option<AgentRow> =
        sqlx::query_as(&format!("{AGENT_SELECT} where lower(a.email) = lower($1)"))
            .bind(email.trim())
            .fetch_optional(tx.conn())
            .await?;
    row.map(Agent::try_from).transpose()
}

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<Agent>> {
    let row: Option<AgentRow> = sqlx::query_as(&format!("{AGENT_SELECT} where a.id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    row.map(Agent::try_from).transpose()
}

pub async fn list(tx: &mut TenantTx) -> Result<Vec<Agent>> {
    let rows: Vec<AgentRow> =
        sqlx::query_as(&format!("{AGENT_SELECT} order by lower(a.name), a.id"))
            .fetch_all(tx.conn())
            .await?;
    rows.into_iter().map(Agent::try_from).collect()
}

pub async fn builtin_role(tx: &mut TenantTx, role: BuiltinRole) -> Result<Role> {
    let (id, name, builtin, permissions): (Uuid, String, Option<String>, Vec<String>) =
        sqlx::query_as("select id, name, builtin, permissions from roles where builtin = $1")
            .bind(role.key())
            .fetch_one(tx.conn())
            .await?;
    Ok(role_from(id, name, builtin, permissions))
}

pub struct NewAgent<'a> {
    pub name: &'a str,
    pub email: &'a EmailAddress,
    pub role_id: Uuid,
    /// With a hash the agent is active at once; without, invited.
    pub password_hash: Option<String>,
}

pub async fn create(tx: &mut TenantTx, new: &NewAgent<'_>) -> Result<Agent> {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into agents (tenant_id, id, name, email, role_id, status, password_hash)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(id)
    .bind(new.name.trim())
    .bind(new.email.as_str())
    .bind(new.role_id)
    .bind(if new.password_hash.is_some() {
        "active"
    } else {
        "invited"
    })
    .bind(&new.password_hash)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    by_id(tx, id)
        .await?
        .ok_or_else(|| StoreError::corrupt("agents", "the new agent vanished"))
}

/// Records a successful sign-in, storing a rehashed password when parameters changed.
/// Returns the database's clock, which dates the new session.
pub async fn record_sign_in(
    tx: &mut TenantTx,
    id: Uuid,
    rehashed: Option<&str>,
) -> Result<DateTime<Utc>> {
    Ok(sqlx::query_scalar(
        "update agents set last_sign_in_at = clock_timestamp(), password_hash = coalesce($2, password_hash),
                updated_at = now() where id = $1 returning last_sign_in_at",
    )
    .bind(id)
    .bind(rehashed)
    .fetch_one(tx.conn())
    .await?)
}

/// Sets a new password, activates an invited agent, and ends every session begun before.
pub async fn set_password(tx: &mut TenantTx, id: Uuid, hash: &str) -> Result<()> {
    sqlx::query(
        "update agents set password_hash = $2, status = case when status = 'invited' then 'active' else status end,
                must_change_password = false, sessions_valid_after = now(), updated_at = now()
          where id = $1",
    )
    .bind(id)
    .bind(hash)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Ends every session of the agent ("sign out everywhere").
pub async fn revoke_sessions(tx: &mut TenantTx, id: Uuid) -> Result<()> {
    sqlx::query("update agents set sessions_valid_after = now(), updated_at = now() where id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

type RoleRow = (Uuid, String, Option<String>, Vec<String>);

/// Every role of the tenant: built-in ones first, then by name.
pub async fn roles(tx: &mut TenantTx) -> Result<Vec<Role>> {
    let rows: Vec<RoleRow> = sqlx::query_as(
        "select id, name, builtin, permissions from roles order by builtin is null, lower(name), id",
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, builtin, permissions)| role_from(id, name, builtin, permissions))
        .collect())
}

pub async fn role_by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<Role>> {
    let row: Option<RoleRow> =
        sqlx::query_as("select id, name, builtin, permissions from roles where id = $1")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    Ok(row.map(|(id, name, builtin, permissions)| role_from(id, name, builtin, permissions)))
}

fn permission_keys(permissions: &[Permission]) -> Vec<&'static str> {
    permissions.iter().map(|p| p.key()).collect()
}

/// A tenant-defined role.
pub async fn create_role(
    tx: &mut TenantTx,
    name: &str,
    permissions: &[Permission],
) -> Result<Role> {
    let id = Uuid::now_v7();
    sqlx::query("insert into roles (tenant_id, id, name, permissions) values ($1, $2, $3, $4)")
        .bind(tx.tenant_id().as_uuid())
        .bind(id)
        .bind(name.trim())
        .bind(permission_keys(permissions))
        .execute(tx.conn())
        .await
        .map_err(StoreError::from_write)?;
    role_by_id(tx, id)
        .await?
        .ok_or_else(|| StoreError::corrupt("roles", "the new role vanished"))
}

/// Renames a tenant-defined role or changes its permissions; built-in roles are fixed.
/// `None` when there is no such tenant-defined role.
pub async fn update_role(
    tx: &mut TenantTx,
    id: Uuid,
    name: Option<&str>,
    permissions: Option<&[Permission]>,
) -> Result<Option<Role>> {
    let updated = sqlx::query(
        "update roles set name = coalesce($2, name), permissions = coalesce($3, permissions), updated_at = now()
          where id = $1 and builtin is null",
    )
    .bind(id)
    .bind(name.map(str::trim))
    .bind(permissions.map(permission_keys))
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?
    .rows_affected();
    if updated == 0 {
        return Ok(None);
    }
    role_by_id(tx, id).await
}

/// What an admin may change about an agent.
#[derive(Default)]
pub struct AgentChange<'a> {
    pub name: Option<&'a str>,
    pub role_id: Option<Uuid>,
    /// Active or disabled; disabling ends every session.
    pub disabled: Option<bool>,
}

/// Applies `change`; `None` when the tenant has no such agent.
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    change: &AgentChange<'_>,
) -> Result<Option<Agent>> {
    let updated = sqlx::query(
        "update agents set
            name = coalesce($2, name),
            role_id = coalesce($3, role_id),
            status = case
              when $4::boolean is true then 'disabled'
              when $4::boolean is false and status = 'disabled' then
                case when password_hash is null then 'invited' else 'active' end
              else status end,
            sessions_valid_after = case when $4::boolean is true then now() else sessions_valid_after end,
            updated_at = now()
          where id = $1",
    )
    .bind(id)
    .bind(change.name.map(str::trim))
    .bind(change.role_id)
    .bind(change.disabled)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?
    .rows_affected();
    if updated == 0 {
        return Ok(None);
    }
    by_id(tx, id).await
}

/// Active agents holding a role with `permission` (to keep the last admin from being cut off).
pub async fn count_active_with(tx: &mut TenantTx, permission: Permission) -> Result<usize> {
    Ok(list(tx)
        .await?
        .iter()
        .filter(|a| a.status == AgentStatus::Active && a.can(permission))
        .count())
}

/// Sets a new password through a reset link: like [`set_password`], and every reset link of
/// the agent still outstanding stops working too.
pub async fn reset_password(tx: &mut TenantTx, id: Uuid, hash: &str) -> Result<()> {
    sqlx::query(
        "update auth_tokens set used_at = now(), updated_at = now()
          where agent_id = $1 and purpose = 'agent_password_reset' and used_at is null",
    )
    .bind(id)
    .execute(tx.conn())
    .await?;
    set_password(tx, id, hash).await
}

/// What an agent keeps about themselves besides name and password.
#[derive(Clone, Debug, Default)]
pub struct AgentProfile {
    /// An IANA time zone name; `None` means the workspace's.
    pub timezone: Option<String>,
    /// Appended to their replies; may be empty.
    pub signature: String,
}

/// The agent's own profile fields; `None` when the tenant has no such agent.
pub async fn profile(tx: &mut TenantTx, id: Uuid) -> Result<Option<AgentProfile>> {
    let row: Option<(Option<String>, String)> =
        sqlx::query_as("select timezone, signature from agents where id = $1")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    Ok(row.map(|(timezone, signature)| AgentProfile {
        timezone,
        signature,
    }))
}

/// Saves what an agent may change about themselves: name, time zone, signature.
pub async fn update_profile(
    tx: &mut TenantTx,
    id: Uuid,
    name: &str,
    profile: &AgentProfile,
) -> Result<()> {
    sqlx::query(
        "update agents set name = $2, timezone = $3, signature = $4, updated_at = now() where id = $1",
    )
    .bind(id)
    .bind(name.trim())
    .bind(profile.timezone.as_deref())
    .bind(&profile.signature)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The database's clock, read now. A session started in this transaction after
/// [`set_password`] or [`revoke_sessions`] (which use the transaction's start, `now()`) is
/// dated by it, so it survives the revocation while every earlier session does not.
pub async fn session_clock(tx: &mut TenantTx) -> Result<DateTime<Utc>> {
    Ok(sqlx::query_scalar("select clock_timestamp()")
        .fetch_one(tx.conn())
        .await?)
}

/// A temporary password an admin chose: like [`reset_password`] (an invited agent becomes
/// active, every session and outstanding reset link ends), and it must be changed at the next
/// sign-in.
pub async fn set_temporary_password(tx: &mut TenantTx, id: Uuid, hash: &str) -> Result<()> {
    reset_password(tx, id, hash).await?;
    sqlx::query("update agents set must_change_password = true, updated_at = now() where id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}
