//! Sign-in providers (OpenID Connect, LDAP, trusted header) of a tenant, the identities linked
//! through them, and the per audience switch for the built-in password. Secrets arrive here
//! already sealed by the web layer; this module never sees plaintext.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::departments::UpdateOutcome;
use crate::{Owner, Result, StoreError, TenantTx};

/// What kind of provider a row configures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Oidc,
    Ldap,
    TrustedHeader,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oidc => "oidc",
            Self::Ldap => "ldap",
            Self::TrustedHeader => "trusted_header",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "oidc" => Some(Self::Oidc),
            "ldap" => Some(Self::Ldap),
            "trusted_header" => Some(Self::TrustedHeader),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Oidc => "OpenID Connect",
            Self::Ldap => "LDAP directory",
            Self::TrustedHeader => "Trusted proxy header",
        }
    }
}

/// Whom a provider signs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderAudience {
    Agents,
    EndUsers,
    Both,
}

impl ProviderAudience {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agents => "agents",
            Self::EndUsers => "end_users",
            Self::Both => "both",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "agents" => Some(Self::Agents),
            "end_users" => Some(Self::EndUsers),
            "both" => Some(Self::Both),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Agents => "Agents",
            Self::EndUsers => "End users",
            Self::Both => "Agents and end users",
        }
    }

    /// Whether a provider for this audience may sign in `who`.
    pub fn includes(self, who: SignInAudience) -> bool {
        matches!(
            (self, who),
            (Self::Both, _)
                | (Self::Agents, SignInAudience::Agents)
                | (Self::EndUsers, SignInAudience::EndUsers)
        )
    }
}

/// Who is signing in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignInAudience {
    Agents,
    EndUsers,
}

impl SignInAudience {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agents => "agents",
            Self::EndUsers => "end_users",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "agents" => Some(Self::Agents),
            "end_users" => Some(Self::EndUsers),
            _ => None,
        }
    }
}

/// One configured provider. `secret` is the sealed client secret or bind password.
#[derive(Clone)]
pub struct SignInProvider {
    pub id: Uuid,
    pub name: String,
    pub kind: ProviderKind,
    pub enabled: bool,
    pub audience: ProviderAudience,
    pub position: i32,
    pub allowed_domains: Vec<String>,
    pub jit_provisioning: bool,
    pub jit_role_id: Option<Uuid>,
    pub jit_organization_id: Option<Uuid>,
    pub jit_group_ids: Vec<Uuid>,
    pub attribute_map: serde_json::Value,
    pub update_on_sign_in: bool,
    pub settings: serde_json::Value,
    pub secret: Option<Vec<u8>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

// The sealed secret is ciphertext, but it still stays out of logs.
impl std::fmt::Debug for SignInProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInProvider")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("enabled", &self.enabled)
            .field("audience", &self.audience)
            .field("has_secret", &self.secret.is_some())
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl SignInProvider {
    /// Whether an email at `domain` may use this provider (no allowed domains: any).
    pub fn allows_domain(&self, domain: &str) -> bool {
        self.allowed_domains.is_empty()
            || self
                .allowed_domains
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(domain))
    }
}

#[derive(FromRow)]
struct Row {
    id: Uuid,
    name: String,
    kind: String,
    enabled: bool,
    audience: String,
    position: i32,
    allowed_domains: Vec<String>,
    jit_provisioning: bool,
    jit_role_id: Option<Uuid>,
    jit_organization_id: Option<Uuid>,
    jit_group_ids: Vec<Uuid>,
    attribute_map: serde_json::Value,
    update_on_sign_in: bool,
    settings: serde_json::Value,
    secret: Option<Vec<u8>>,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<Row> for SignInProvider {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<Self> {
        Ok(Self {
            kind: ProviderKind::parse(&row.kind)
                .ok_or_else(|| StoreError::corrupt("sign_in_providers.kind", &row.kind))?,
            audience: ProviderAudience::parse(&row.audience)
                .ok_or_else(|| StoreError::corrupt("sign_in_providers.audience", &row.audience))?,
            id: row.id,
            name: row.name,
            enabled: row.enabled,
            position: row.position,
            allowed_domains: row.allowed_domains,
            jit_provisioning: row.jit_provisioning,
            jit_role_id: row.jit_role_id,
            jit_organization_id: row.jit_organization_id,
            jit_group_ids: row.jit_group_ids,
            attribute_map: row.attribute_map,
            update_on_sign_in: row.update_on_sign_in,
            settings: row.settings,
            secret: row.secret,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

const SELECT: &str = "select id, name, kind, enabled, audience, position, allowed_domains,
        jit_provisioning, jit_role_id, jit_organization_id, jit_group_ids, attribute_map,
        update_on_sign_in, settings, secret, version, created_at, updated_at
   from sign_in_providers";

fn parse_rows(rows: Vec<Row>) -> Result<Vec<SignInProvider>> {
    rows.into_iter().map(SignInProvider::try_from).collect()
}

/// Every provider of the tenant, in sign-in order.
pub async fn list(tx: &mut TenantTx) -> Result<Vec<SignInProvider>> {
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} order by position, lower(name), id"))
        .fetch_all(tx.conn())
        .await?;
    parse_rows(rows)
}

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<SignInProvider>> {
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} where id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    row.map(SignInProvider::try_from).transpose()
}

/// Enabled providers for that audience, by position.
pub async fn enabled_for(tx: &mut TenantTx, who: SignInAudience) -> Result<Vec<SignInProvider>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} where enabled and audience in ($1, 'both') order by position, lower(name), id"
    ))
    .bind(who.as_str())
    .fetch_all(tx.conn())
    .await?;
    parse_rows(rows)
}

/// A provider to create. `id` is chosen before the insert because the secret is sealed with
/// the provider id as associated data.
#[derive(Clone)]
pub struct NewSignInProvider {
    pub id: Uuid,
    pub name: String,
    pub kind: ProviderKind,
    pub enabled: bool,
    pub audience: ProviderAudience,
    pub position: i32,
    pub allowed_domains: Vec<String>,
    pub jit_provisioning: bool,
    pub jit_role_id: Option<Uuid>,
    pub jit_organization_id: Option<Uuid>,
    pub jit_group_ids: Vec<Uuid>,
    pub attribute_map: serde_json::Value,
    pub update_on_sign_in: bool,
    pub settings: serde_json::Value,
    pub secret: Option<Vec<u8>>,
}

impl NewSignInProvider {
    /// An enabled provider with a fresh id, no domain restriction, no provisioning and an
    /// empty attribute map; set the other fields as needed.
    pub fn new(
        name: &str,
        kind: ProviderKind,
        audience: ProviderAudience,
        settings: serde_json::Value,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            name: name.to_owned(),
            kind,
            enabled: true,
            audience,
            position: 0,
            allowed_domains: Vec::new(),
            jit_provisioning: false,
            jit_role_id: None,
            jit_organization_id: None,
            jit_group_ids: Vec::new(),
            attribute_map: serde_json::json!({}),
            update_on_sign_in: false,
            settings,
            secret: None,
        }
    }
}

impl std::fmt::Debug for NewSignInProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSignInProvider")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("has_secret", &self.secret.is_some())
            .finish_non_exhaustive()
    }
}

/// Maps the provider's own constraint names to the fields people know.
fn from_write(error: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &error {
        let field = match db.constraint() {
            Some("sign_in_providers_name_key") if db.is_unique_violation() => Some("name"),
            Some("sign_in_providers_jit_role_fkey") => Some("jit_role_id"),
            Some("sign_in_providers_jit_organization_fkey") => Some("jit_organization_id"),
            _ => None,
        };
        if let Some(field) = field {
            return StoreError::Conflict { field };
        }
    }
    StoreError::from_write(error)
}

pub async fn insert(tx: &mut TenantTx, new: &NewSignInProvider) -> Result<SignInProvider> {
    sqlx::query(
        "insert into sign_in_providers (tenant_id, id, name, kind, enabled, audience, position,
            allowed_domains, jit_provisioning, jit_role_id, jit_organization_id, jit_group_ids,
            attribute_map, update_on_sign_in, settings, secret)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(new.id)
    .bind(&new.name)
    .bind(new.kind.as_str())
    .bind(new.enabled)
    .bind(new.audience.as_str())
    .bind(new.position)
    .bind(&new.allowed_domains)
    .bind(new.jit_provisioning)
    .bind(new.jit_role_id)
    .bind(new.jit_organization_id)
    .bind(&new.jit_group_ids)
    .bind(&new.attribute_map)
    .bind(new.update_on_sign_in)
    .bind(&new.settings)
    .bind(new.secret.as_deref())
    .execute(tx.conn())
    .await
    .map_err(from_write)?;
    by_id(tx, new.id)
        .await?
        .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
}

/// What an update sets; `None` leaves a field. `secret: Some(None)` removes the secret.
#[derive(Clone, Default)]
pub struct SignInProviderChange {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub audience: Option<ProviderAudience>,
    pub position: Option<i32>,
    pub allowed_domains: Option<Vec<String>>,
    pub jit_provisioning: Option<bool>,
    pub jit_role_id: Option<Option<Uuid>>,
    pub jit_organization_id: Option<Option<Uuid>>,
    pub jit_group_ids: Option<Vec<Uuid>>,
    pub attribute_map: Option<serde_json::Value>,
    pub update_on_sign_in: Option<bool>,
    pub settings: Option<serde_json::Value>,
    pub secret: Option<Option<Vec<u8>>>,
}

/// Applies `change` when the stored version is `expected_version` (or unconditionally).
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    change: &SignInProviderChange,
    expected_version: Option<i32>,
) -> Result<UpdateOutcome<SignInProvider>> {
    let updated = sqlx::query(
        "update sign_in_providers set
            name = coalesce($2, name),
            enabled = coalesce($3, enabled),
            audience = coalesce($4, audience),
            position = coalesce($5, position),
            allowed_domains = coalesce($6, allowed_domains),
            jit_provisioning = coalesce($7, jit_provisioning),
            jit_role_id = case when $8 then $9 else jit_role_id end,
            jit_organization_id = case when $10 then $11 else jit_organization_id end,
            jit_group_ids = coalesce($12, jit_group_ids),
            attribute_map = coalesce($13, attribute_map),
            update_on_sign_in = coalesce($14, update_on_sign_in),
            settings = coalesce($15, settings),
            secret = case when $16 then $17 else secret end,
            version = version + 1,
            updated_at = now()
          where id = $1 and ($18::integer is null or version = $18)",
    )
    .bind(id)
    .bind(change.name.as_deref())
    .bind(change.enabled)
    .bind(change.audience.map(ProviderAudience::as_str))
    .bind(change.position)
    .bind(change.allowed_domains.as_ref())
    .bind(change.jit_provisioning)
    .bind(change.jit_role_id.is_some())
    .bind(change.jit_role_id.flatten())
    .bind(change.jit_organization_id.is_some())
    .bind(change.jit_organization_id.flatten())
    .bind(change.jit_group_ids.as_ref())
    .bind(change.attribute_map.as_ref())
    .bind(change.update_on_sign_in)
    .bind(change.settings.as_ref())
    .bind(change.secret.is_some())
    .bind(change.secret.clone().flatten())
    .bind(expected_version)
    .execute(tx.conn())
    .await
    .map_err(from_write)?;
    if updated.rows_affected() == 1 {
        return Ok(match by_id(tx, id).await? {
            Some(provider) => UpdateOutcome::Updated(provider),
            None => UpdateOutcome::NotFound,
        });
    }
    let current: Option<i32> =
        sqlx::query_scalar("select version from sign_in_providers where id = $1")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    Ok(match current {
        Some(current) => UpdateOutcome::Stale {
            current: i64::from(current),
        },
        None => UpdateOutcome::NotFound,
    })
}

/// Deletes a provider and the identities linked through it; false when there is none.
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<bool> {
    let deleted = sqlx::query("delete from sign_in_providers where id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// The account an identity is linked to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkedAccount {
    Agent(Uuid),
    EndUser(Uuid),
}

/// The account linked to (provider, subject), if any.
pub async fn identity(
    tx: &mut TenantTx,
    provider_id: Uuid,
    subject: &str,
) -> Result<Option<LinkedAccount>> {
    let row: Option<(Option<Uuid>, Option<Uuid>)> = sqlx::query_as(
        "select agent_id, end_user_id from sign_in_identities where provider_id = $1 and subject = $2",
    )
    .bind(provider_id)
    .bind(subject)
    .fetch_optional(tx.conn())
    .await?;
    Ok(match row {
        Some((Some(agent), _)) => Some(LinkedAccount::Agent(agent)),
        Some((None, Some(end_user))) => Some(LinkedAccount::EndUser(end_user)),
        Some((None, None)) => {
            return Err(StoreError::corrupt(
                "sign_in_identities.agent_id",
                "neither an agent nor an end user",
            ));
        }
        None => None,
    })
}

/// Links (provider, subject) to `account` (replacing an earlier link of that subject) and
/// records the sign-in.
pub async fn link_identity(
    tx: &mut TenantTx,
    provider_id: Uuid,
    subject: &str,
    account: LinkedAccount,
) -> Result<()> {
    let (agent, end_user) = match account {
        LinkedAccount::Agent(id) => (Some(id), None),
        LinkedAccount::EndUser(id) => (None, Some(id)),
    };
    sqlx::query(
        "insert into sign_in_identities (tenant_id, provider_id, subject, agent_id, end_user_id, last_sign_in_at)
         values ($1, $2, $3, $4, $5, now())
         on conflict (tenant_id, provider_id, subject) do update
           set agent_id = excluded.agent_id, end_user_id = excluded.end_user_id,
               last_sign_in_at = now(), updated_at = now()",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(provider_id)
    .bind(subject)
    .bind(agent)
    .bind(end_user)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// How many identities are linked through the provider.
pub async fn identity_count(tx: &mut TenantTx, provider_id: Uuid) -> Result<i64> {
    Ok(
        sqlx::query_scalar("select count(*) from sign_in_identities where provider_id = $1")
            .bind(provider_id)
            .fetch_one(tx.conn())
            .await?,
    )
}

/// Active agents of the built-in Admin role who have signed in through an enabled provider
/// that serves agents (the lockout rule for turning the agents' password off).
pub async fn admins_with_working_provider(tx: &mut TenantTx) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "select count(distinct a.id)
           from agents a
           join roles r on r.id = a.role_id and r.builtin = 'admin'
           join sign_in_identities i on i.agent_id = a.id
           join sign_in_providers p on p.id = i.provider_id
          where a.status = 'active' and p.enabled and p.audience in ('agents', 'both')",
    )
    .fetch_one(tx.conn())
    .await?)
}

/// Whether the built-in password signs in agents and end users.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordSignIn {
    pub agents: bool,
    pub end_users: bool,
}

impl PasswordSignIn {
    pub fn allows(self, who: SignInAudience) -> bool {
        match who {
            SignInAudience::Agents => self.agents,
            SignInAudience::EndUsers => self.end_users,
        }
    }
}

pub async fn password_sign_in(tx: &mut TenantTx) -> Result<PasswordSignIn> {
    let row: Option<(bool, bool)> = sqlx::query_as(
        "select password_sign_in_agents, password_sign_in_end_users from tenant_settings",
    )
    .fetch_optional(tx.conn())
    .await?;
    let (agents, end_users) = row.unwrap_or((true, true));
    Ok(PasswordSignIn { agents, end_users })
}

pub async fn set_password_sign_in(tx: &mut TenantTx, value: PasswordSignIn) -> Result<()> {
    sqlx::query(
        "update tenant_settings set password_sign_in_agents = $1, password_sign_in_end_users = $2,
            updated_at = now()",
    )
    .bind(value.agents)
    .bind(value.end_users)
    .execute(tx.conn())
    .await?;
    Ok(())
}

impl Owner {
    /// Re-seals every provider secret of every tenant (or of `only` that one) in one
    /// transaction: `reseal` gets the provider id and the sealed secret and returns the new
    /// sealed secret, or an error that rolls everything back. Returns how many secrets were
    /// re-sealed.
    pub async fn reseal_sign_in_secrets<E>(
        &self,
        only: Option<domain::TenantId>,
        mut reseal: impl FnMut(Uuid, &[u8]) -> std::result::Result<Vec<u8>, E>,
    ) -> Result<std::result::Result<usize, E>> {
        let mut tx = self.pool().begin().await?;
        let tenants: Vec<Uuid> = sqlx::query_scalar(
            "select id from tenants where $1::uuid is null or id = $1 order by id",
        )
        .bind(only.map(|t| t.as_uuid()))
        .fetch_all(&mut *tx)
        .await?;
        let mut count = 0;
        for tenant in tenants {
            // The tables' RLS is forced, so the owner sees one tenant at a time (a superuser
            // sees all, hence the explicit tenant filter too).
            sqlx::query("select set_config('app.tenant_id', $1, true)")
                .bind(tenant.hyphenated().to_string())
                .execute(&mut *tx)
                .await?;
            let sealed: Vec<(Uuid, Vec<u8>)> = sqlx::query_as(
                "select id, secret from sign_in_providers
                  where tenant_id = $1 and secret is not null order by id for update",
            )
            .bind(tenant)
            .fetch_all(&mut *tx)
            .await?;
            for (id, secret) in sealed {
                let resealed = match reseal(id, &secret) {
                    Ok(resealed) => resealed,
                    Err(error) => return Ok(Err(error)),
                };
                sqlx::query(
                    "update sign_in_providers set secret = $3, updated_at = now()
                      where tenant_id = $1 and id = $2",
                )
                .bind(tenant)
                .bind(id)
                .bind(resealed)
                .execute(&mut *tx)
                .await?;
                count += 1;
            }
        }
        tx.commit().await?;
        Ok(Ok(count))
    }

    /// Turns the built-in password back on for both audiences of the tenant (the platform
    /// operator's way out of a lockout). False when the tenant has no settings row.
    pub async fn reset_sign_in(&self, tenant_id: domain::TenantId) -> Result<bool> {
        let mut tx = self.begin_tenant(tenant_id).await?;
        let updated = sqlx::query(
            "update tenant_settings set password_sign_in_agents = true,
                password_sign_in_end_users = true, updated_at = now()",
        )
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(updated.rows_affected() == 1)
    }
}

/// Creates an agent signed in through a provider for the first time (just-in-time
/// provisioning): active at once, without a password (they sign in through the provider).
pub async fn create_external_agent(
    tx: &mut TenantTx,
    name: &str,
    email: &domain::EmailAddress,
    role_id: Uuid,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into agents (tenant_id, id, name, email, role_id, status)
         values ($1, $2, $3, $4, $5, 'active')",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(id)
    .bind(name.trim())
    .bind(email.as_str())
    .bind(role_id)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(id)
}

/// Renames an agent from a provider's claims (the attribute map at sign-in).
pub async fn set_agent_name(tx: &mut TenantTx, id: Uuid, name: &str) -> Result<()> {
    sqlx::query("update agents set name = $2, updated_at = now() where id = $1 and name <> $2")
        .bind(id)
        .bind(name.trim())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// A guest end user (someone known from mail, without an account) whose address a provider
/// vouched for becomes an active account. Other states stay as they are.
pub async fn activate_guest_end_user(tx: &mut TenantTx, id: Uuid) -> Result<()> {
    sqlx::query(
        "update end_users set status = 'active', updated_at = now() where id = $1 and status = 'guest'",
    )
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// An invited agent who signs in through a provider proved who they are: they become active.
pub async fn activate_invited_agent(tx: &mut TenantTx, id: Uuid) -> Result<()> {
    sqlx::query(
        "update agents set status = 'active', updated_at = now() where id = $1 and status = 'invited'",
    )
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}
