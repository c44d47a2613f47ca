//! Help topics (OTRS services): what a ticket is about, nested, each sending its tickets to a
//! department with defaults (priority, SLA plan, auto-assignment) and the custom fields it asks
//! for; offered to every end user or only to those granted (users, organizations, groups).

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::customer_groups::GroupPermission;
use crate::departments::{
    DeleteOutcome, Priority, UpdateOutcome, lock, stale_or_missing, stored_priority,
};
use crate::{Result, StoreError, TenantTx};

/// Who a grant names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grantee {
    EndUser(Uuid),
    Organization(Uuid),
    CustomerGroup(Uuid),
}

impl Grantee {
    pub fn kind(self) -> &'static str {
        match self {
            Self::EndUser(_) => "end_user",
            Self::Organization(_) => "organization",
            Self::CustomerGroup(_) => "customer_group",
        }
    }

    pub fn id(self) -> Uuid {
        match self {
            Self::EndUser(id) | Self::Organization(id) | Self::CustomerGroup(id) => id,
        }
    }
}

#[derive(Clone, Debug)]
pub struct HelpTopic {
    pub id: Uuid,
    pub name: String,
    pub parent_id: Option<Uuid>,
    pub department_id: Uuid,
    pub default_priority: Option<Priority>,
    pub sla_plan_id: Option<Uuid>,
    pub auto_assign_agent_id: Option<Uuid>,
    pub auto_assign_team_id: Option<Uuid>,
    pub public: bool,
    pub for_everyone: bool,
    pub autoresponse: bool,
    /// Ticket custom fields it asks for, in order.
    pub field_ids: Vec<Uuid>,
    pub position: i32,
    /// Who may use it when it is not for everyone.
    pub grants: Vec<Grantee>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct TopicRow {
    id: Uuid,
    name: String,
    parent_id: Option<Uuid>,
    department_id: Uuid,
    default_priority: Option<String>,
    sla_plan_id: Option<Uuid>,
    auto_assign_agent_id: Option<Uuid>,
    auto_assign_team_id: Option<Uuid>,
    public: bool,
    for_everyone: bool,
    autoresponse: bool,
    field_ids: Vec<Uuid>,
    position: i32,
    grant_users: Vec<Uuid>,
    grant_organizations: Vec<Uuid>,
    grant_groups: Vec<Uuid>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<TopicRow> for HelpTopic {
    type Error = StoreError;

    fn try_from(row: TopicRow) -> Result<Self> {
        let grants = row
            .grant_users
            .into_iter()
            .map(Grantee::EndUser)
            .chain(
                row.grant_organizations
                    .into_iter()
                    .map(Grantee::Organization),
            )
            .chain(row.grant_groups.into_iter().map(Grantee::CustomerGroup))
            .collect();
        Ok(Self {
            id: row.id,
            name: row.name,
            parent_id: row.parent_id,
            department_id: row.department_id,
            default_priority: row
                .default_priority
                .as_deref()
                .map(|raw| stored_priority("help_topics.default_priority", raw))
                .transpose()?,
            sla_plan_id: row.sla_plan_id,
            auto_assign_agent_id: row.auto_assign_agent_id,
            auto_assign_team_id: row.auto_assign_team_id,
            public: row.public,
            for_everyone: row.for_everyone,
            autoresponse: row.autoresponse,
            field_ids: row.field_ids,
            position: row.position,
            grants,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

const SELECT: &str = "select t.id, t.name, t.parent_id, t.department_id, t.default_priority,
        t.sla_plan_id, t.auto_assign_agent_id, t.auto_assign_team_id, t.public, t.for_everyone,
        t.autoresponse, t.field_ids, t.position,
        array(select g.end_user_id from help_topic_grants g
               where g.help_topic_id = t.id and g.end_user_id is not null order by g.end_user_id) as grant_users,
        array(select g.organization_id from help_topic_grants g
               where g.help_topic_id = t.id and g.organization_id is not null order by g.organization_id) as grant_organizations,
        array(select g.customer_group_id from help_topic_grants g
               where g.help_topic_id = t.id and g.customer_group_id is not null order by g.customer_group_id) as grant_groups,
        t.version, t.created_at, t.updated_at
   from help_topics t";

const ORDER: &str = "order by t.position, lower(t.name), t.id";

/// The tenant's topics by position and name.
pub async fn list(tx: &mut TenantTx) -> Result<Vec<HelpTopic>> {
    let rows: Vec<TopicRow> = sqlx::query_as(&format!("{SELECT} {ORDER}"))
        .fetch_all(tx.conn())
        .await?;
    rows.into_iter().map(HelpTopic::try_from).collect()
}

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<HelpTopic>> {
    let row: Option<TopicRow> = sqlx::query_as(&format!("{SELECT} where t.id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    row.map(HelpTopic::try_from).transpose()
}

/// The topics an end user may open tickets under: public ones offered to everyone, and
/// public ones granted to the user, to one of their organizations, or to a customer group they
/// hold at least `ro` on. Without a user (a visitor), only those for everyone.
pub async fn topics_for_user(
    tx: &mut TenantTx,
    end_user_id: Option<Uuid>,
) -> Result<Vec<HelpTopic>> {
    let groups: Vec<Uuid> = match end_user_id {
        Some(user) => crate::customer_groups::effective_for_user(tx, user)
            .await?
            .into_iter()
            .filter(|g| g.permission.includes(GroupPermission::Ro))
            .map(|g| g.group_id)
            .collect(),
        None => Vec::new(),
    };
    let rows: Vec<TopicRow> = sqlx::query_as(&format!(
        "{SELECT}
          where t.public and (t.for_everyone or ($1::uuid is not null and exists (
                select from help_topic_grants g
                 where g.help_topic_id = t.id
                   and (g.end_user_id = $1
                        or g.organization_id in (select m.organization_id from organization_members m
                                                  where m.end_user_id = $1)
                        or g.customer_group_id = any($2)))))
          {ORDER}"
    ))
    .bind(end_user_id)
    .bind(&groups)
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter().map(HelpTopic::try_from).collect()
}

/// What a create or update sets; `None` leaves a field, `Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct TopicChange {
    pub name: Option<String>,
    pub parent_id: Option<Option<Uuid>>,
    pub department_id: Option<Uuid>,
    pub default_priority: Option<Option<Priority>>,
    pub sla_plan_id: Option<Option<Uuid>>,
    pub auto_assign_agent_id: Option<Option<Uuid>>,
    pub auto_assign_team_id: Option<Option<Uuid>>,
    pub public: Option<bool>,
    pub for_everyone: Option<bool>,
    pub autoresponse: Option<bool>,
    pub field_ids: Option<Vec<Uuid>>,
    pub position: Option<i32>,
}

/// Whether making `parent` the parent of `id` would close a loop (`parent` is `id` or one of
/// its descendants). Also false for an unknown parent: the caller checks it exists.
pub async fn would_cycle(tx: &mut TenantTx, id: Uuid, parent: Uuid) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "with recursive up(id, parent_id, depth) as (
           select id, parent_id, 0 from help_topics where id = $2
           union all
           select t.id, t.parent_id, up.depth + 1 from help_topics t join up on t.id = up.parent_id
            where up.depth < 1000
         )
         select exists (select from up where id = $1)",
    )
    .bind(id)
    .bind(parent)
    .fetch_one(tx.conn())
    .await?)
}

/// The ticket custom fields (entity `ticket`, not archived) among `ids` that this tenant has.
pub async fn known_ticket_fields(tx: &mut TenantTx, ids: &[Uuid]) -> Result<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "select id from custom_fields where id = any($1) and entity = 'ticket' and archived_at is null",
    )
    .bind(ids)
    .fetch_all(tx.conn())
    .await?)
}

/// Creates a topic; the caller has checked every reference. A taken name is a conflict.
pub async fn create(
    tx: &mut TenantTx,
    name: &str,
    department_id: Uuid,
    change: &TopicChange,
) -> Result<HelpTopic> {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into help_topics (tenant_id, id, name, parent_id, department_id, default_priority,
                                  sla_plan_id, auto_assign_agent_id, auto_assign_team_id, public,
                                  for_everyone, autoresponse, field_ids, position)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10, true), coalesce($11, true),
                 coalesce($12, true), coalesce($13, '{}'), coalesce($14, 0))",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(id)
    .bind(name)
    .bind(change.parent_id.flatten())
    .bind(department_id)
    .bind(change.default_priority.flatten().map(Priority::as_str))
    .bind(change.sla_plan_id.flatten())
    .bind(change.auto_assign_agent_id.flatten())
    .bind(change.auto_assign_team_id.flatten())
    .bind(change.public)
    .bind(change.for_everyone)
    .bind(change.autoresponse)
    .bind(change.field_ids.as_deref())
    .bind(change.position)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    by_id(tx, id)
        .await?
        .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
}

/// The topic locked for an update (so a concurrent change cannot slip between the checks).
pub async fn for_update(tx: &mut TenantTx, id: Uuid) -> Result<Option<HelpTopic>> {
    if lock(tx, "help_topics", id).await?.is_none() {
        return Ok(None);
    }
    by_id(tx, id).await
}

pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    change: &TopicChange,
    expected_version: Option<i64>,
) -> Result<UpdateOutcome<HelpTopic>> {
    let updated = sqlx::query(
        "update help_topics set
            name = coalesce($2, name),
            parent_id = case when $3 then $4 else parent_id end,
            department_id = coalesce($5, department_id),
            default_priority = case when $6 then $7 else default_priority end,
            sla_plan_id = case when $8 then $9 else sla_plan_id end,
            auto_assign_agent_id = case when $10 then $11 else auto_assign_agent_id end,
            auto_assign_team_id = case when $12 then $13 else auto_assign_team_id end,
            public = coalesce($14, public),
            for_everyone = coalesce($15, for_everyone),
            autoresponse = coalesce($16, autoresponse),
            field_ids = coalesce($17, field_ids),
            position = coalesce($18, position),
            version = version + 1,
            updated_at = now()
          where id = $1 and ($19::bigint is null or version = $19)",
    )
    .bind(id)
    .bind(change.name.as_deref())
    .bind(change.parent_id.is_some())
    .bind(change.parent_id.flatten())
    .bind(change.department_id)
    .bind(change.default_priority.is_some())
    .bind(change.default_priority.flatten().map(Priority::as_str))
    .bind(change.sla_plan_id.is_some())
    .bind(change.sla_plan_id.flatten())
    .bind(change.auto_assign_agent_id.is_some())
    .bind(change.auto_assign_agent_id.flatten())
    .bind(change.auto_assign_team_id.is_some())
    .bind(change.auto_assign_team_id.flatten())
    .bind(change.public)
    .bind(change.for_everyone)
    .bind(change.autoresponse)
    .bind(change.field_ids.as_deref())
    .bind(change.position)
    .bind(expected_version)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    if updated.rows_affected() == 1 {
        return Ok(match by_id(tx, id).await? {
            Some(topic) => UpdateOutcome::Updated(topic),
            None => UpdateOutcome::NotFound,
        });
    }
    stale_or_missing(tx, "help_topics", id).await
}

/// Deletes a topic without tickets or sub-topics (its grants go with it).
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<DeleteOutcome> {
    if lock(tx, "help_topics", id).await?.is_none() {
        return Ok(DeleteOutcome::NotFound);
    }
    let (tickets, children): (i64, i64) = sqlx::query_as(
        "select (select count(*) from tickets where help_topic_id = $1),
                (select count(*) from help_topics where parent_id = $1)",
    )
    .bind(id)
    .fetch_one(tx.conn())
    .await?;
    if tickets > 0 || children > 0 {
        return Ok(DeleteOutcome::InUse(format!(
            "The topic has {tickets} ticket(s) and {children} sub-topic(s); move them first."
        )));
    }
    sqlx::query("delete from help_topics where id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(DeleteOutcome::Deleted)
}

/// Grants the topic to someone; false when they already had it.
pub async fn grant(tx: &mut TenantTx, id: Uuid, grantee: Grantee) -> Result<bool> {
    let (user, organization, group) = columns(grantee);
    let added = sqlx::query(
        "insert into help_topic_grants (tenant_id, id, help_topic_id, end_user_id, organization_id, customer_group_id)
         values ($1, $2, $3, $4, $5, $6)
         on conflict do nothing",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(Uuid::now_v7())
    .bind(id)
    .bind(user)
    .bind(organization)
    .bind(group)
    .execute(tx.conn())
    .await?;
    Ok(added.rows_affected() == 1)
}

/// Takes a grant back; false when there was none.
pub async fn revoke(tx: &mut TenantTx, id: Uuid, grantee: Grantee) -> Result<bool> {
    let (user, organization, group) = columns(grantee);
    let removed = sqlx::query(
        "delete from help_topic_grants
          where help_topic_id = $1
            and end_user_id is not distinct from $2
            and organization_id is not distinct from $3
            and customer_group_id is not distinct from $4",
    )
    .bind(id)
    .bind(user)
    .bind(organization)
    .bind(group)
    .execute(tx.conn())
    .await?;
    Ok(removed.rows_affected() == 1)
}

fn columns(grantee: Grantee) -> (Option<Uuid>, Option<Uuid>, Option<Uuid>) {
    match grantee {
        Grantee::EndUser(id) => (Some(id), None, None),
        Grantee::Organization(id) => (None, Some(id), None),
        Grantee::CustomerGroup(id) => (None, None, Some(id)),
    }
}
