//! Departments (OTRS queues, osTicket departments): where tickets live, who belongs there, and
//! the workspace's default department; plus the reference checks every ticket configuration
//! write shares (a body naming an agent, group, team ... of this tenant).

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::{Result, StoreError, TenantTx};

/// The tickets' priority type, which departments and help topics default to.
pub use domain::ticket::Priority;

/// `low`, `normal`, `high` or `urgent`, exactly (surrounding blanks ignored).
pub fn parse_priority(raw: &str) -> Result<Priority, &'static str> {
    Priority::parse(raw).ok_or("must be low, normal, high or urgent")
}

pub(crate) fn stored_priority(column: &'static str, raw: &str) -> Result<Priority> {
    Priority::parse(raw).ok_or_else(|| StoreError::corrupt(column, raw))
}

#[derive(Clone, Debug)]
pub struct Department {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub email_alias: Option<String>,
    pub default_priority: Priority,
    pub customer_group_id: Option<Uuid>,
    pub manager_agent_id: Option<Uuid>,
    /// The member agents, by id.
    pub agent_ids: Vec<Uuid>,
    /// Whether it is the workspace's default department (new tickets without one go here).
    pub is_default: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct DepartmentRow {
    id: Uuid,
    name: String,
    description: String,
    email_alias: Option<String>,
    default_priority: String,
    customer_group_id: Option<Uuid>,
    manager_agent_id: Option<Uuid>,
    agent_ids: Vec<Uuid>,
    is_default: bool,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<DepartmentRow> for Department {
    type Error = StoreError;

    fn try_from(row: DepartmentRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            name: row.name,
            description: row.description,
            email_alias: row.email_alias,
            default_priority: stored_priority(
                "departments.default_priority",
                &row.default_priority,
            )?,
            customer_group_id: row.customer_group_id,
            manager_agent_id: row.manager_agent_id,
            agent_ids: row.agent_ids,
            is_default: row.is_default,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

const SELECT: &str = "select d.id, d.name, d.description, d.email_alias, d.default_priority,
        d.customer_group_id, d.manager_agent_id,
        array(select a.agent_id from department_agents a where a.department_id = d.id order by a.agent_id) as agent_ids,
        coalesce((select s.default_department_id = d.id from tenant_settings s), false) as is_default,
        d.version, d.created_at, d.updated_at
   from departments d";

/// The tenant's departments, by name.
pub async fn list(tx: &mut TenantTx) -> Result<Vec<Department>> {
    let rows: Vec<DepartmentRow> =
        sqlx::query_as(&format!("{SELECT} order by lower(d.name), d.id"))
            .fetch_all(tx.conn())
            .await?;
    rows.into_iter().map(Department::try_from).collect()
}

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<Department>> {
    let row: Option<DepartmentRow> = sqlx::query_as(&format!("{SELECT} where d.id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    row.map(Department::try_from).transpose()
}

/// The workspace's default department (`tenant_settings.default_department_id`): where a new
/// ticket goes when nothing else names one. Every tenant gets one at creation; should it be
/// missing all the same, the oldest department stands in.
pub async fn default_department(tx: &mut TenantTx) -> Result<Department> {
    let row: Option<DepartmentRow> = sqlx::query_as(&format!(
        "{SELECT} where d.id = (select default_department_id from tenant_settings)"
    ))
    .fetch_optional(tx.conn())
    .await?;
    let row = match row {
        Some(row) => Some(row),
        None => {
            sqlx::query_as(&format!("{SELECT} order by d.created_at, d.id limit 1"))
                .fetch_optional(tx.conn())
                .await?
        }
    };
    row.map(Department::try_from)
        .transpose()?
        .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
}

/// What a create or an update sets; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct DepartmentChange {
    pub name: Option<String>,
    pub description: Option<String>,
    pub email_alias: Option<Option<String>>,
    pub default_priority: Option<Priority>,
    pub customer_group_id: Option<Option<Uuid>>,
    pub manager_agent_id: Option<Option<Uuid>>,
}

/// Creates a department named `name`; a taken name or alias is a conflict naming the field.
pub async fn create(
    tx: &mut TenantTx,
    name: &str,
    change: &DepartmentChange,
) -> Result<Department> {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into departments (tenant_id, id, name, description, email_alias, default_priority,
                                  customer_group_id, manager_agent_id)
         values ($1, $2, $3, coalesce($4, ''), $5, coalesce($6, 'normal'), $7, $8)",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(id)
    .bind(name)
    .bind(change.description.as_deref())
    .bind(change.email_alias.clone().flatten())
    .bind(change.default_priority.map(Priority::as_str))
    .bind(change.customer_group_id.flatten())
    .bind(change.manager_agent_id.flatten())
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    by_id(tx, id)
        .await?
        .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
}

/// How an update of a versioned configuration record ended.
#[derive(Debug)]
pub enum UpdateOutcome<T> {
    Updated(T),
    NotFound,
    /// The expected version is not the stored one.
    Stale {
        current: i64,
    },
}

/// Applies `change` when the stored version is `expected_version` (or unconditionally).
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    change: &DepartmentChange,
    expected_version: Option<i64>,
) -> Result<UpdateOutcome<Department>> {
    let updated = sqlx::query(
        "update departments set
            name = coalesce($2, name),
            description = coalesce($3, description),
            email_alias = case when $4 then $5 else email_alias end,
            default_priority = coalesce($6, default_priority),
            customer_group_id = case when $7 then $8 else customer_group_id end,
            manager_agent_id = case when $9 then $10 else manager_agent_id end,
            version = version + 1,
            updated_at = now()
          where id = $1 and ($11::bigint is null or version = $11)",
    )
    .bind(id)
    .bind(change.name.as_deref())
    .bind(change.description.as_deref())
    .bind(change.email_alias.is_some())
    .bind(change.email_alias.clone().flatten())
    .bind(change.default_priority.map(Priority::as_str))
    .bind(change.customer_group_id.is_some())
    .bind(change.customer_group_id.flatten())
    .bind(change.manager_agent_id.is_some())
    .bind(change.manager_agent_id.flatten())
    .bind(expected_version)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    if updated.rows_affected() == 1 {
        return Ok(match by_id(tx, id).await? {
            Some(department) => UpdateOutcome::Updated(department),
            None => UpdateOutcome::NotFound,
        });
    }
    stale_or_missing(tx, "departments", id).await
}

/// After an update that matched nothing: a stale version, or no such record.
pub(crate) async fn stale_or_missing<T>(
    tx: &mut TenantTx,
    table: &'static str,
    id: Uuid,
) -> Result<UpdateOutcome<T>> {
    let current: Option<i64> =
        sqlx::query_scalar(&format!("select version from {table} where id = $1"))
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    Ok(match current {
        Some(current) => UpdateOutcome::Stale { current },
        None => UpdateOutcome::NotFound,
    })
}

/// How a delete ended.
#[derive(Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    NotFound,
    /// Something still uses it; the message says what.
    InUse(String),
}

/// Deletes a department no ticket or help topic uses and that is not the default.
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<DeleteOutcome> {
    if lock(tx, "departments", id).await?.is_none() {
        return Ok(DeleteOutcome::NotFound);
    }
    let is_default: bool = sqlx::query_scalar(
        "select coalesce((select default_department_id = $1 from tenant_settings), false)",
    )
    .bind(id)
    .fetch_one(tx.conn())
    .await?;
    if is_default {
        return Ok(DeleteOutcome::InUse(
            "This is the workspace's default department; make another one the default first."
                .into(),
        ));
    }
    let (tickets, topics): (i64, i64) = sqlx::query_as(
        "select (select count(*) from tickets where department_id = $1),
                (select count(*) from help_topics where department_id = $1)",
    )
    .bind(id)
    .fetch_one(tx.conn())
    .await?;
    if tickets > 0 || topics > 0 {
        return Ok(DeleteOutcome::InUse(format!(
            "The department is used by {tickets} ticket(s) and {topics} help topic(s); move them first."
        )));
    }
    sqlx::query("delete from departments where id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(DeleteOutcome::Deleted)
}

/// Locks the record with this id (for a delete that checks its users first); its version.
pub(crate) async fn lock(tx: &mut TenantTx, table: &'static str, id: Uuid) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(&format!(
        "select version from {table} where id = $1 for update"
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

/// Adds the agent to the department; false when they already belong. The caller checks that
/// both exist in this tenant.
pub async fn add_agent(tx: &mut TenantTx, id: Uuid, agent_id: Uuid) -> Result<bool> {
    let added = sqlx::query(
        "insert into department_agents (tenant_id, department_id, agent_id) values ($1, $2, $3)
         on conflict do nothing",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(id)
    .bind(agent_id)
    .execute(tx.conn())
    .await?;
    Ok(added.rows_affected() == 1)
}

/// Removes the agent from the department; false when they did not belong.
pub async fn remove_agent(tx: &mut TenantTx, id: Uuid, agent_id: Uuid) -> Result<bool> {
    let removed =
        sqlx::query("delete from department_agents where department_id = $1 and agent_id = $2")
            .bind(id)
            .bind(agent_id)
            .execute(tx.conn())
            .await?;
    Ok(removed.rows_affected() == 1)
}

/// The departments an agent belongs to.
pub async fn departments_of_agent(tx: &mut TenantTx, agent_id: Uuid) -> Result<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "select department_id from department_agents where agent_id = $1 order by department_id",
    )
    .bind(agent_id)
    .fetch_all(tx.conn())
    .await?)
}

/// Something of this tenant a request body may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Agent,
    CustomerGroup,
    Department,
    Team,
    SlaPlan,
    HelpTopic,
    EndUser,
    Organization,
}

impl Kind {
    fn table(self) -> &'static str {
        match self {
            Self::Agent => "agents",
            Self::CustomerGroup => "customer_groups",
            Self::Department => "departments",
            Self::Team => "teams",
            Self::SlaPlan => "sla_plans",
            Self::HelpTopic => "help_topics",
            Self::EndUser => "end_users",
            Self::Organization => "organizations",
        }
    }
}

/// Whether a record of `kind` with this id exists in this tenant (RLS hides the others').
pub async fn exists(tx: &mut TenantTx, kind: Kind, id: Uuid) -> Result<bool> {
    Ok(sqlx::query_scalar(&format!(
        "select exists (select from {} where id = $1)",
        kind.table()
    ))
    .bind(id)
    .fetch_one(tx.conn())
    .await?)
}
