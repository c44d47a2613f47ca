//! Customer groups (OTRS "customer users <-> groups"): tenant-defined groups, `ro`/`rw` grants
//! to end users and to organizations, the tenant default that applies to every end user
//! (CustomerGroupAlwaysGroups), and the effective permission of an end user with where each
//! part of it comes from.
//!
//! A grant that names another tenant's group, user or organization finds no row (row-level
//! security hides it) and reports `false`, exactly as for an id that does not exist.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::{Result, StoreError, TenantTx};

/// What a grant allows on a group. `rw` includes `ro`, so the derived order makes `Rw`
/// the stronger one and `max` picks the effective permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupPermission {
    /// Read only: see what the group guards (the tickets of a queue).
    Ro,
    /// Read and write: also act there (open tickets in a queue).
    Rw,
}

impl GroupPermission {
    pub const ALL: [GroupPermission; 2] = [Self::Ro, Self::Rw];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ro => "ro",
            Self::Rw => "rw",
        }
    }

    /// `ro` or `rw`, exactly (surrounding blanks ignored).
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw.trim())
    }

    /// How pages say it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ro => "read only",
            Self::Rw => "read and write",
        }
    }

    /// Whether holding `self` satisfies a need for `needed`.
    pub fn includes(self, needed: GroupPermission) -> bool {
        self >= needed
    }

    /// The stored values that satisfy `self` as a need.
    fn satisfying(self) -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|held| held.includes(self))
            .map(Self::as_str)
            .collect()
    }
}

impl fmt::Display for GroupPermission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A group's name: 1 to 100 characters on one line, trimmed. Unique per tenant regardless of
/// case (the database's `customer_groups_name_key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupName(String);

impl GroupName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        if name.is_empty() {
            Err("must not be empty".into())
        } else if name.chars().count() > Self::MAX_CHARS {
            Err(format!("must be at most {} characters", Self::MAX_CHARS))
        } else if name.chars().any(char::is_control) {
            Err("must be a single line without control characters".into())
        } else {
            Ok(Self(name.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a group is for: at most 500 characters, trimmed; may be empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupDescription(String);

impl GroupDescription {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: &str) -> Result<Self, String> {
        domain::bounded_text(&raw.replace("\r\n", "\n"), Self::MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Debug)]
pub struct CustomerGroup {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// What every end user of the tenant holds on the group without a grant; `None`: nothing.
    pub default_permission: Option<GroupPermission>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

/// Where one part of an effective permission comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrantSource {
    /// Granted to the user themselves.
    Direct,
    /// Granted to an organization the user is a member of.
    Organization { id: Uuid, name: String },
    /// The group's tenant default, which every end user holds.
    Default,
}

impl GrantSource {
    /// `direct`, `organization` or `default`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Organization { .. } => "organization",
            Self::Default => "default",
        }
    }
}

/// What an end user holds on one group, and every source that contributes to it.
#[derive(Clone, Debug)]
pub struct EffectiveGroup {
    pub group_id: Uuid,
    pub group_name: String,
    /// The strongest permission among the sources.
    pub permission: GroupPermission,
    /// Direct grant first, then organizations by name, then the default.
    pub sources: Vec<(GrantSource, GroupPermission)>,
}

#[derive(FromRow)]
struct GroupRow {
    id: Uuid,
    name: String,
    description: String,
    default_permission: Option<String>,
    version: i64,
    created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, description, default_permission, version, created_at";

fn permission_of(column: &'static str, raw: &str) -> Result<GroupPermission> {
    GroupPermission::parse(raw).ok_or_else(|| StoreError::corrupt(column, raw))
}

impl TryFrom<GroupRow> for CustomerGroup {
    type Error = StoreError;

    fn try_from(row: GroupRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            name: row.name,
            description: row.description,
            default_permission: row
                .default_permission
                .as_deref()
                .map(|raw| permission_of("customer_groups.default_permission", raw))
                .transpose()?,
            version: row.version,
            created_at: row.created_at,
        })
    }
}

/// The tenant's groups, by name.
pub async fn list(tx: &mut TenantTx) -> Result<Vec<CustomerGroup>> {
    let rows: Vec<GroupRow> = sqlx::query_as(&format!(
        "select {COLUMNS} from customer_groups order by lower(name), id"
    ))
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter().map(CustomerGroup::try_from).collect()
}

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<CustomerGroup>> {
    let row: Option<GroupRow> = sqlx::query_as(&format!(
        "select {COLUMNS} from customer_groups where id = $1"
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    row.map(CustomerGroup::try_from).transpose()
}

pub struct NewGroup {
    pub name: GroupName,
    pub description: GroupDescription,
    pub default_permission: Option<GroupPermission>,
}

/// Creates a group; a name the tenant already uses (in any case) is a conflict on `name`.
pub async fn create(tx: &mut TenantTx, new: &NewGroup) -> Result<CustomerGroup> {
    let row: GroupRow = sqlx::query_as(&format!(
        "insert into customer_groups (tenant_id, id, name, description, default_permission)
         values ($1, $2, $3, $4, $5) returning {COLUMNS}"
    ))
    .bind(tx.tenant_id().as_uuid())
    .bind(Uuid::now_v7())
    .bind(new.name.as_str())
    .bind(new.description.as_str())
    .bind(new.default_permission.map(GroupPermission::as_str))
    .fetch_one(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    row.try_into()
}

/// What an update may change; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct GroupChange {
    pub name: Option<GroupName>,
    pub description: Option<GroupDescription>,
    /// `Some(None)` removes the default.
    pub default_permission: Option<Option<GroupPermission>>,
}

/// How an update ended.
#[derive(Debug)]
pub enum UpdateOutcome {
    Updated(CustomerGroup),
    /// No such group in this tenant.
    NotFound,
    /// Someone saved in between: the expected version is not the stored one.
    Stale {
        current: i64,
    },
}

/// Applies `change` when the stored version is `expected_version` (or unconditionally when
/// `None`), bumping the version.
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    change: &GroupChange,
    expected_version: Option<i64>,
) -> Result<UpdateOutcome> {
    let row: Option<GroupRow> = sqlx::query_as(&format!(
        "update customer_groups set
            name = coalesce($2, name),
            description = coalesce($3, description),
            default_permission = case when $4 then $5 else default_permission end,
            version = version + 1,
            updated_at = now()
          where id = $1 and ($6::bigint is null or version = $6)
          returning {COLUMNS}"
    ))
    .bind(id)
    .bind(change.name.as_ref().map(GroupName::as_str))
    .bind(change.description.as_ref().map(GroupDescription::as_str))
    .bind(change.default_permission.is_some())
    .bind(
        change
            .default_permission
            .flatten()
            .map(GroupPermission::as_str),
    )
    .bind(expected_version)
    .fetch_optional(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    if let Some(row) = row {
        return Ok(UpdateOutcome::Updated(row.try_into()?));
    }
    let current: Option<i64> =
        sqlx::query_scalar("select version from customer_groups where id = $1")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    Ok(match current {
        Some(current) => UpdateOutcome::Stale { current },
        None => UpdateOutcome::NotFound,
    })
}

/// Deletes the group and every grant on it; `false` when the tenant has no such group.
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<bool> {
    let deleted = sqlx::query("delete from customer_groups where id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?
        .rows_affected();
    Ok(deleted > 0)
}

/// A foreign key violation on a grant means the group, user or organization was deleted
/// between our look and our write: for the caller, it is not here.
fn not_here(error: sqlx::Error) -> Result<bool> {
    match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => Ok(false),
        _ => Err(StoreError::from_write(error)),
    }
}

/// Grants (or changes to) `permission` on the group to the end user. `false` when the group
/// or the user is not in this tenant.
pub async fn grant_to_user(
    tx: &mut TenantTx,
    group_id: Uuid,
    end_user_id: Uuid,
    permission: GroupPermission,
) -> Result<bool> {
    // Selecting both rows first makes an id of another tenant (invisible under RLS) insert
    // nothing, instead of failing the transaction with a foreign key violation.
    let written = sqlx::query(
        "insert into customer_group_user_grants (tenant_id, group_id, end_user_id, permission)
         select g.tenant_id, g.id, u.id, $3
           from customer_groups g join end_users u on u.tenant_id = g.tenant_id
          where g.id = $1 and u.id = $2
         on conflict (tenant_id, group_id, end_user_id)
         do update set permission = excluded.permission, updated_at = now()",
    )
    .bind(group_id)
    .bind(end_user_id)
    .bind(permission.as_str())
    .execute(tx.conn())
    .await;
    match written {
        Ok(done) => Ok(done.rows_affected() > 0),
        Err(error) => not_here(error),
    }
}

/// Removes the user's own grant on the group; `false` when there was none (in this tenant).
pub async fn revoke_from_user(
    tx: &mut TenantTx,
    group_id: Uuid,
    end_user_id: Uuid,
) -> Result<bool> {
    let deleted = sqlx::query(
        "delete from customer_group_user_grants where group_id = $1 and end_user_id = $2",
    )
    .bind(group_id)
    .bind(end_user_id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(deleted > 0)
}

/// Grants (or changes to) `permission` on the group to the organization, and so to each of
/// its members. `false` when the group or the organization is not in this tenant.
pub async fn grant_to_organization(
    tx: &mut TenantTx,
    group_id: Uuid,
    organization_id: Uuid,
    permission: GroupPermission,
) -> Result<bool> {
    let written = sqlx::query(
        "insert into customer_group_organization_grants (tenant_id, group_id, organization_id, permission)
         select g.tenant_id, g.id, o.id, $3
           from customer_groups g join organizations o on o.tenant_id = g.tenant_id
          where g.id = $1 and o.id = $2
         on conflict (tenant_id, group_id, organization_id)
         do update set permission = excluded.permission, updated_at = now()",
    )
    .bind(group_id)
    .bind(organization_id)
    .bind(permission.as_str())
    .execute(tx.conn())
    .await;
    match written {
        Ok(done) => Ok(done.rows_affected() > 0),
        Err(error) => not_here(error),
    }
}

/// Removes the organization's grant on the group; `false` when there was none.
pub async fn revoke_from_organization(
    tx: &mut TenantTx,
    group_id: Uuid,
    organization_id: Uuid,
) -> Result<bool> {
    let deleted = sqlx::query(
        "delete from customer_group_organization_grants where group_id = $1 and organization_id = $2",
    )
    .bind(group_id)
    .bind(organization_id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(deleted > 0)
}

#[derive(FromRow)]
struct OrganizationGrantRow {
    #[sqlx(flatten)]
    group: GroupRow,
    permission: String,
}

/// The groups granted to the organization, by group name.
pub async fn organization_grants(
    tx: &mut TenantTx,
    organization_id: Uuid,
) -> Result<Vec<(CustomerGroup, GroupPermission)>> {
    let rows: Vec<OrganizationGrantRow> = sqlx::query_as(
        "select g.id, g.name, g.description, g.default_permission, g.version, g.created_at,
                og.permission
           from customer_group_organization_grants og
           join customer_groups g on g.tenant_id = og.tenant_id and g.id = og.group_id
          where og.organization_id = $1
          order by lower(g.name), g.id",
    )
    .bind(organization_id)
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter()
        .map(|row| {
            let permission = permission_of(
                "customer_group_organization_grants.permission",
                &row.permission,
            )?;
            Ok((CustomerGroup::try_from(row.group)?, permission))
        })
        .collect()
}

/// Per group with any grant: how many end users and how many organizations are granted it
/// (what deleting the group would take away).
pub async fn grant_counts(tx: &mut TenantTx) -> Result<HashMap<Uuid, (i64, i64)>> {
    let rows: Vec<(Uuid, i64, i64)> = sqlx::query_as(
        "select group_id, sum(users)::bigint, sum(organizations)::bigint from (
           select group_id, count(*) as users, 0 as organizations
             from customer_group_user_grants group by group_id
           union all
           select group_id, 0, count(*) from customer_group_organization_grants group by group_id
         ) counted group by group_id",
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, users, organizations)| (id, (users, organizations)))
        .collect())
}

/// The name of the organization with this id in this tenant, if any (for 404s and notices;
/// the organizations module owns everything else about them).
pub async fn organization_name(tx: &mut TenantTx, organization_id: Uuid) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("select name from organizations where id = $1")
            .bind(organization_id)
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// The display name of the end user with this id in this tenant, if any.
pub async fn end_user_name(tx: &mut TenantTx, end_user_id: Uuid) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("select name from end_users where id = $1")
            .bind(end_user_id)
            .fetch_optional(tx.conn())
            .await?,
    )
}

#[derive(FromRow)]
struct SourceRow {
    group_id: Uuid,
    group_name: String,
    kind: String,
    organization_id: Option<Uuid>,
    organization_name: Option<String>,
    permission: String,
}

/// Every group the end user holds something on, by group name: the union of their direct
/// grants, the grants of each of their organizations, and the tenant defaults, in one query.
/// An end user not in this tenant holds nothing.
pub async fn effective_for_user(
    tx: &mut TenantTx,
    end_user_id: Uuid,
) -> Result<Vec<EffectiveGroup>> {
    let rows: Vec<SourceRow> = sqlx::query_as(
        "with sources as (
           select ug.group_id, 0 as rank, 'direct' as kind, null::uuid as organization_id,
                  null::text as organization_name, ug.permission
             from customer_group_user_grants ug
            where ug.end_user_id = $1
           union all
           select og.group_id, 1, 'organization', o.id, o.name, og.permission
             from organization_members m
             join customer_group_organization_grants og
               on og.tenant_id = m.tenant_id and og.organization_id = m.organization_id
             join organizations o on o.tenant_id = m.tenant_id and o.id = m.organization_id
            where m.end_user_id = $1
           union all
           select g.id, 2, 'default', null, null, g.default_permission
             from customer_groups g
            where g.default_permission is not null
              and exists (select from end_users u where u.id = $1)
         )
         select s.group_id, g.name as group_name, s.kind, s.organization_id, s.organization_name,
                s.permission
           from sources s
           join customer_groups g on g.id = s.group_id
          order by lower(g.name), g.id, s.rank, lower(s.organization_name), s.organization_id",
    )
    .bind(end_user_id)
    .fetch_all(tx.conn())
    .await?;
    let mut groups: Vec<EffectiveGroup> = Vec::new();
    for row in rows {
        let permission = permission_of("customer group grant permission", &row.permission)?;
        let source = match (
            row.kind.as_str(),
            row.organization_id,
            row.organization_name,
        ) {
            ("direct", _, _) => GrantSource::Direct,
            ("organization", Some(id), Some(name)) => GrantSource::Organization { id, name },
            ("default", _, _) => GrantSource::Default,
            (other, _, _) => return Err(StoreError::corrupt("grant source", other)),
        };
        match groups.last_mut() {
            Some(group) if group.group_id == row.group_id => {
                group.permission = group.permission.max(permission);
                group.sources.push((source, permission));
            }
            _ => groups.push(EffectiveGroup {
                group_id: row.group_id,
                group_name: row.group_name,
                permission,
                sources: vec![(source, permission)],
            }),
        }
    }
    Ok(groups)
}

/// Whether the end user holds at least `needed` on the group, from any source.
pub async fn user_has(
    tx: &mut TenantTx,
    end_user_id: Uuid,
    group_id: Uuid,
    needed: GroupPermission,
) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "select exists (
           select 1 from customer_group_user_grants ug
            where ug.end_user_id = $1 and ug.group_id = $2 and ug.permission = any($3)
           union all
           select 1 from organization_members m
             join customer_group_organization_grants og
               on og.tenant_id = m.tenant_id and og.organization_id = m.organization_id
            where m.end_user_id = $1 and og.group_id = $2 and og.permission = any($3)
           union all
           select 1 from customer_groups g
            where g.id = $2 and g.default_permission = any($3)
              and exists (select from end_users u where u.id = $1)
         )",
    )
    .bind(end_user_id)
    .bind(group_id)
    .bind(needed.satisfying())
    .fetch_one(tx.conn())
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rw_includes_ro_and_is_the_stronger() {
        assert!(GroupPermission::Rw > GroupPermission::Ro);
        assert!(GroupPermission::Rw.includes(GroupPermission::Ro));
        assert!(!GroupPermission::Ro.includes(GroupPermission::Rw));
        assert_eq!(GroupPermission::Rw.satisfying(), vec!["rw"]);
        assert_eq!(GroupPermission::Ro.satisfying(), vec!["ro", "rw"]);
    }

    #[test]
    fn permissions_parse_exactly() {
        for p in GroupPermission::ALL {
            assert_eq!(GroupPermission::parse(p.as_str()), Some(p));
        }
        assert_eq!(GroupPermission::parse(" rw "), Some(GroupPermission::Rw));
        assert_eq!(GroupPermission::parse("RW"), None);
        assert_eq!(GroupPermission::parse("write"), None);
    }

    #[test]
    fn group_names_are_one_bounded_line() {
        assert_eq!(
            GroupName::parse("  Billing ").map(|n| n.0),
            Ok("Billing".into())
        );
        assert!(GroupName::parse("   ").is_err());
        assert!(GroupName::parse(&"x".repeat(101)).is_err());
        assert!(GroupName::parse("two\nlines").is_err());
        assert!(GroupDescription::parse(&"x".repeat(501)).is_err());
        assert_eq!(
            GroupDescription::parse("a\r\nb").map(|d| d.0),
            Ok("a\nb".into())
        );
    }
}
