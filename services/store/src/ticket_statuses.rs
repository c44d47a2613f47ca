//! Tenant-defined ticket statuses ("Waiting for parts") within the four built-in states
//! (open, pending, resolved, closed); the states themselves need no rows.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::departments::{DeleteOutcome, UpdateOutcome, lock, stale_or_missing};
use crate::{Result, StoreError, TenantTx};

/// One of the four states every ticket is in; queues and SLA clocks work on these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Open,
    Pending,
    Resolved,
    Closed,
}

impl State {
    pub const ALL: [State; 4] = [Self::Open, Self::Pending, Self::Resolved, Self::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::Pending => "Pending",
            Self::Resolved => "Resolved",
            Self::Closed => "Closed",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw.trim())
            .ok_or("must be open, pending, resolved or closed")
    }
}

#[derive(Clone, Debug)]
pub struct TicketStatus {
    pub id: Uuid,
    pub name: String,
    pub state: State,
    pub position: i32,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct StatusRow {
    id: Uuid,
    name: String,
    state: String,
    position: i32,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<StatusRow> for TicketStatus {
    type Error = StoreError;

    fn try_from(row: StatusRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            name: row.name,
            state: State::parse(&row.state)
                .map_err(|e| StoreError::corrupt("ticket_statuses.state", e))?,
            position: row.position,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

const COLUMNS: &str = "id, name, state, position, version, created_at, updated_at";

/// The tenant's statuses, by state order, position and name.
pub async fn list(tx: &mut TenantTx) -> Result<Vec<TicketStatus>> {
    let rows: Vec<StatusRow> = sqlx::query_as(&format!(
        "select {COLUMNS} from ticket_statuses
          order by array_position(array['open', 'pending', 'resolved', 'closed'], state), position, lower(name), id"
    ))
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter().map(TicketStatus::try_from).collect()
}

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<TicketStatus>> {
    let row: Option<StatusRow> = sqlx::query_as(&format!(
        "select {COLUMNS} from ticket_statuses where id = $1"
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    row.map(TicketStatus::try_from).transpose()
}

#[derive(Clone, Debug, Default)]
pub struct StatusChange {
    pub name: Option<String>,
    pub state: Option<State>,
    pub position: Option<i32>,
}

/// Creates a status; a taken name is a conflict on `name`.
pub async fn create(
    tx: &mut TenantTx,
    name: &str,
    state: State,
    position: i32,
) -> Result<TicketStatus> {
    let row: StatusRow = sqlx::query_as(&format!(
        "insert into ticket_statuses (tenant_id, id, name, state, position) values ($1, $2, $3, $4, $5)
         returning {COLUMNS}"
    ))
    .bind(tx.tenant_id().as_uuid())
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(state.as_str())
    .bind(position)
    .fetch_one(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    row.try_into()
}

/// How many tickets have this status.
pub async fn tickets_using(tx: &mut TenantTx, id: Uuid) -> Result<i64> {
    Ok(
        sqlx::query_scalar("select count(*) from tickets where status_id = $1")
            .bind(id)
            .fetch_one(tx.conn())
            .await?,
    )
}

pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    change: &StatusChange,
    expected_version: Option<i64>,
) -> Result<UpdateOutcome<TicketStatus>> {
    let row: Option<StatusRow> = sqlx::query_as(&format!(
        "update ticket_statuses set
            name = coalesce($2, name),
            state = coalesce($3, state),
            position = coalesce($4, position),
            version = version + 1,
            updated_at = now()
          where id = $1 and ($5::bigint is null or version = $5)
          returning {COLUMNS}"
    ))
    .bind(id)
    .bind(change.name.as_deref())
    .bind(change.state.map(State::as_str))
    .bind(change.position)
    .bind(expected_version)
    .fetch_optional(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    match row {
        Some(row) => Ok(UpdateOutcome::Updated(row.try_into()?)),
        None => stale_or_missing(tx, "ticket_statuses", id).await,
    }
}

/// Deletes a status no ticket has.
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<DeleteOutcome> {
    if lock(tx, "ticket_statuses", id).await?.is_none() {
        return Ok(DeleteOutcome::NotFound);
    }
    let tickets = tickets_using(tx, id).await?;
    if tickets > 0 {
        return Ok(DeleteOutcome::InUse(format!(
            "{tickets} ticket(s) have this status; give them another one first."
        )));
    }
    sqlx::query("delete from ticket_statuses where id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(DeleteOutcome::Deleted)
}
