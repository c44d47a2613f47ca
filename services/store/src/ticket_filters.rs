//! Ticket filters: the ordered rules every new ticket passes (their conditions and actions
//! are JSON lists parsed by `domain::ticket_filter`), and the organization facts the rules
//! after them need (primary contacts).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::FromRow;
use uuid::Uuid;

use crate::departments::{UpdateOutcome, stale_or_missing};
use crate::{Result, StoreError, TenantTx};

#[derive(Clone, Debug)]
pub struct TicketFilter {
    pub id: Uuid,
    pub name: String,
    pub enabled: bool,
    pub position: i32,
    pub match_all: bool,
    /// `[{"field", "operator", "value"}]`, as saved (parsed when saved).
    pub conditions: Value,
    /// `[{"type", "value", "field"?}]`, as saved.
    pub actions: Value,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct FilterRow {
    id: Uuid,
    name: String,
    enabled: bool,
    position: i32,
    match_all: bool,
    conditions: sqlx::types::Json<Value>,
    actions: sqlx::types::Json<Value>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<FilterRow> for TicketFilter {
    fn from(row: FilterRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            enabled: row.enabled,
            position: row.position,
            match_all: row.match_all,
            conditions: row.conditions.0,
            actions: row.actions.0,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

const SELECT: &str = "select id, name, enabled, position, match_all, conditions, actions, version,
        created_at, updated_at
   from ticket_filters";

/// The order rules run in: position, then the older first.
const ORDER: &str = " order by position, created_at, id";

/// Every rule of the tenant in the order they run.
pub async fn list(tx: &mut TenantTx) -> Result<Vec<TicketFilter>> {
    let rows: Vec<FilterRow> = sqlx::query_as(&format!("{SELECT}{ORDER}"))
        .fetch_all(tx.conn())
        .await?;
    Ok(rows.into_iter().map(TicketFilter::from).collect())
}

/// The enabled rules in the order they run.
pub async fn enabled(tx: &mut TenantTx) -> Result<Vec<TicketFilter>> {
    let rows: Vec<FilterRow> = sqlx::query_as(&format!("{SELECT} where enabled{ORDER}"))
        .fetch_all(tx.conn())
        .await?;
    Ok(rows.into_iter().map(TicketFilter::from).collect())
}

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<TicketFilter>> {
    let row: Option<FilterRow> = sqlx::query_as(&format!("{SELECT} where id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    Ok(row.map(TicketFilter::from))
}

/// What a create or update writes; `None` leaves a field as it is (a create without a
/// position goes after the last rule).
#[derive(Clone, Debug, Default)]
pub struct FilterWrite {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub position: Option<i32>,
    pub match_all: Option<bool>,
    pub conditions: Option<Value>,
    pub actions: Option<Value>,
}

fn mapped(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db)
            if db.is_unique_violation() && db.constraint() == Some("ticket_filters_name_key") =>
        {
            StoreError::Conflict { field: "name" }
        }
        _ => StoreError::Database(error),
    }
}

/// Creates a rule; a name already used (ignoring case) is a conflict on `name`.
pub async fn create(tx: &mut TenantTx, write: &FilterWrite) -> Result<TicketFilter> {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into ticket_filters (tenant_id, id, name, enabled, position, match_all,
                conditions, actions)
         values ($1, $2, $3, coalesce($4, true),
                 coalesce($5, (select coalesce(max(position), 0) + 10 from ticket_filters)),
                 coalesce($6, true), coalesce($7, '[]'::jsonb), coalesce($8, '[]'::jsonb))",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(id)
    .bind(write.name.as_deref().unwrap_or_default())
    .bind(write.enabled)
    .bind(write.position)
    .bind(write.match_all)
    .bind(write.conditions.as_ref().map(sqlx::types::Json))
    .bind(write.actions.as_ref().map(sqlx::types::Json))
    .execute(tx.conn())
    .await
    .map_err(mapped)?;
    by_id(tx, id)
        .await?
        .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
}

/// Updates a rule at `expected_version` (any version when `None`).
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    write: &FilterWrite,
    expected_version: Option<i64>,
) -> Result<UpdateOutcome<TicketFilter>> {
    let updated = sqlx::query(
        "update ticket_filters set
            name = coalesce($2, name),
            enabled = coalesce($3, enabled),
            position = coalesce($4, position),
            match_all = coalesce($5, match_all),
            conditions = coalesce($6, conditions),
            actions = coalesce($7, actions),
            version = version + 1,
            updated_at = now()
          where id = $1 and ($8::bigint is null or version = $8)",
    )
    .bind(id)
    .bind(write.name.as_deref())
    .bind(write.enabled)
    .bind(write.position)
    .bind(write.match_all)
    .bind(write.conditions.as_ref().map(sqlx::types::Json))
    .bind(write.actions.as_ref().map(sqlx::types::Json))
    .bind(expected_version)
    .execute(tx.conn())
    .await
    .map_err(mapped)?;
    if updated.rows_affected() == 1 {
        return Ok(match by_id(tx, id).await? {
            Some(filter) => UpdateOutcome::Updated(filter),
            None => UpdateOutcome::NotFound,
        });
    }
    stale_or_missing(tx, "ticket_filters", id).await
}

/// Deletes a rule; false when there was none.
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<bool> {
    let deleted = sqlx::query("delete from ticket_filters where id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Moves a rule one place earlier (`up`) or later in the running order by swapping positions
/// with its neighbour; rules sharing a position are first spread out, so the move is always
/// visible. False when the rule does not exist.
pub async fn move_rule(tx: &mut TenantTx, id: Uuid, up: bool) -> Result<bool> {
    let rules = list(tx).await?;
    let Some(index) = rules.iter().position(|r| r.id == id) else {
        return Ok(false);
    };
    let mut order: Vec<Uuid> = rules.iter().map(|r| r.id).collect();
    let other = if up {
        index.checked_sub(1)
    } else {
        Some(index + 1).filter(|i| *i < order.len())
    };
    if let Some(other) = other {
        order.swap(index, other);
    }
    let positions: Vec<i32> = (1..=i32::try_from(order.len()).unwrap_or(i32::MAX))
        .map(|p| p * 10)
        .collect();
    sqlx::query(
        "update ticket_filters f set position = o.position, version = f.version + 1,
                updated_at = now()
           from unnest($1::uuid[], $2::int[]) as o(id, position)
          where f.id = o.id and f.position <> o.position",
    )
    .bind(&order)
    .bind(&positions)
    .execute(tx.conn())
    .await?;
    Ok(true)
}

/// The primary contacts of an organization (end users, by id).
pub async fn primary_contacts(tx: &mut TenantTx, organization_id: Uuid) -> Result<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "select end_user_id from organization_members
          where organization_id = $1 and primary_contact order by end_user_id",
    )
    .bind(organization_id)
    .fetch_all(tx.conn())
    .await?)
}
