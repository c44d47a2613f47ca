//! Teams: named groups of agents with a lead, that tickets can be assigned to and that an
//! organization may have as its account manager.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::departments::{DeleteOutcome, UpdateOutcome, lock, stale_or_missing};
use crate::{Result, StoreError, TenantTx};

#[derive(Clone, Debug, FromRow)]
pub struct Team {
    pub id: Uuid,
    pub name: String,
    pub lead_agent_id: Option<Uuid>,
    /// The member agents, by id.
    pub member_ids: Vec<Uuid>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT: &str = "select t.id, t.name, t.lead_agent_id,
        array(select m.agent_id from team_members m where m.team_id = t.id order by m.agent_id) as member_ids,
        t.version, t.created_at, t.updated_at
   from teams t";

/// The tenant's teams, by name.
pub async fn list(tx: &mut TenantTx) -> Result<Vec<Team>> {
    Ok(
        sqlx::query_as(&format!("{SELECT} order by lower(t.name), t.id"))
            .fetch_all(tx.conn())
            .await?,
    )
}

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<Team>> {
    Ok(sqlx::query_as(&format!("{SELECT} where t.id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?)
}

/// The teams an agent is a member of (for the ticket access rule and "my teams' tickets").
pub async fn teams_of_agent(tx: &mut TenantTx, agent_id: Uuid) -> Result<Vec<Uuid>> {
    Ok(
        sqlx::query_scalar("select team_id from team_members where agent_id = $1 order by team_id")
            .bind(agent_id)
            .fetch_all(tx.conn())
            .await?,
    )
}

/// What a create or update sets; `None` leaves a field, `Some(None)` clears the lead.
#[derive(Clone, Debug, Default)]
pub struct TeamChange {
    pub name: Option<String>,
    pub lead_agent_id: Option<Option<Uuid>>,
}

/// Creates a team; a taken name is a conflict on `name`.
pub async fn create(tx: &mut TenantTx, name: &str, change: &TeamChange) -> Result<Team> {
    let id = Uuid::now_v7();
    sqlx::query("insert into teams (tenant_id, id, name, lead_agent_id) values ($1, $2, $3, $4)")
        .bind(tx.tenant_id().as_uuid())
        .bind(id)
        .bind(name)
        .bind(change.lead_agent_id.flatten())
        .execute(tx.conn())
        .await
        .map_err(StoreError::from_write)?;
    by_id(tx, id)
        .await?
        .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
}

pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    change: &TeamChange,
    expected_version: Option<i64>,
) -> Result<UpdateOutcome<Team>> {
    let updated = sqlx::query(
        "update teams set
            name = coalesce($2, name),
            lead_agent_id = case when $3 then $4 else lead_agent_id end,
            version = version + 1,
            updated_at = now()
          where id = $1 and ($5::bigint is null or version = $5)",
    )
    .bind(id)
    .bind(change.name.as_deref())
    .bind(change.lead_agent_id.is_some())
    .bind(change.lead_agent_id.flatten())
    .bind(expected_version)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    if updated.rows_affected() == 1 {
        return Ok(match by_id(tx, id).await? {
            Some(team) => UpdateOutcome::Updated(team),
            None => UpdateOutcome::NotFound,
        });
    }
    stale_or_missing(tx, "teams", id).await
}

/// Deletes a team that no ticket, help topic or organization refers to.
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<DeleteOutcome> {
    if lock(tx, "teams", id).await?.is_none() {
        return Ok(DeleteOutcome::NotFound);
    }
    let (tickets, topics, organizations): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from tickets where assignee_team_id = $1),
                (select count(*) from help_topics where auto_assign_team_id = $1),
                (select count(*) from organizations where account_manager_team_id = $1)",
    )
    .bind(id)
    .fetch_one(tx.conn())
    .await?;
    if tickets + topics + organizations > 0 {
        return Ok(DeleteOutcome::InUse(format!(
            "The team is assigned {tickets} ticket(s), auto-assigned by {topics} help topic(s) and account manager of {organizations} organization(s); change those first."
        )));
    }
    sqlx::query("delete from teams where id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(DeleteOutcome::Deleted)
}

/// Adds the agent to the team; false when already a member.
pub async fn add_member(tx: &mut TenantTx, id: Uuid, agent_id: Uuid) -> Result<bool> {
    let added = sqlx::query(
        "insert into team_members (tenant_id, team_id, agent_id) values ($1, $2, $3)
         on conflict do nothing",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(id)
    .bind(agent_id)
    .execute(tx.conn())
    .await?;
    Ok(added.rows_affected() == 1)
}

/// Removes the agent from the team; false when not a member.
pub async fn remove_member(tx: &mut TenantTx, id: Uuid, agent_id: Uuid) -> Result<bool> {
    let removed = sqlx::query("delete from team_members where team_id = $1 and agent_id = $2")
        .bind(id)
        .bind(agent_id)
        .execute(tx.conn())
        .await?;
    Ok(removed.rows_affected() == 1)
}
