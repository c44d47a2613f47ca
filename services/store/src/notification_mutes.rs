//! Agent notification mutes (which ticket alerts an agent turned off) and the recipient queries
//! of ticket notifications: active agents of a department, team or organization's account
//! manager who did not mute the kind, and the requester and collaborators who may get mail.

use sqlx::FromRow;
use uuid::Uuid;

use crate::{Result, TenantTx};

/// A kind of ticket alert an agent can turn off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MuteKind {
    /// A new ticket in one of the agent's departments.
    NewTicket,
    /// A ticket assigned to the agent or one of their teams.
    Assigned,
    /// A message from the requester or a collaborator on a ticket the agent follows.
    UserReply,
}

impl MuteKind {
    pub const ALL: [MuteKind; 3] = [Self::NewTicket, Self::Assigned, Self::UserReply];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewTicket => "new_ticket",
            Self::Assigned => "assigned",
            Self::UserReply => "user_reply",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }
}

/// Someone a notification goes to.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct Recipient {
    pub id: Uuid,
    pub name: String,
    pub email: String,
}

/// The kinds `agent_id` muted.
pub async fn muted(tx: &mut TenantTx, agent_id: Uuid) -> Result<Vec<MuteKind>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "select kind from agent_notification_mutes where agent_id = $1 order by kind",
    )
    .bind(agent_id)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(kind,)| MuteKind::parse(&kind))
        .collect())
}

/// Replaces the kinds `agent_id` muted with `kinds`.
pub async fn set(tx: &mut TenantTx, agent_id: Uuid, kinds: &[MuteKind]) -> Result<()> {
    let kinds: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
    sqlx::query("delete from agent_notification_mutes where agent_id = $1 and kind <> all($2)")
        .bind(agent_id)
        .bind(&kinds)
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "insert into agent_notification_mutes (tenant_id, agent_id, kind)
         select $1, $2, unnest($3::text[])
         on conflict do nothing",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(agent_id)
    .bind(&kinds)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Active agents who did not mute `kind`, from the ids selected by `ids_sql` (one uuid
/// parameter, `$1`).
async fn active_unmuted(
    tx: &mut TenantTx,
    ids_sql: &str,
    id: Uuid,
    kind: MuteKind,
) -> Result<Vec<Recipient>> {
    Ok(sqlx::query_as(&format!(
        "select a.id, a.name, a.email from agents a
          where a.id in ({ids_sql}) and a.status = 'active'
            and not exists (select 1 from agent_notification_mutes m
                             where m.agent_id = a.id and m.kind = $2)
          order by a.id"
    ))
    .bind(id)
    .bind(kind.as_str())
    .fetch_all(tx.conn())
    .await?)
}

/// The department's active agents who did not mute `kind`.
pub async fn department_agents(
    tx: &mut TenantTx,
    department_id: Uuid,
    kind: MuteKind,
) -> Result<Vec<Recipient>> {
    active_unmuted(
        tx,
        "select agent_id from department_agents where department_id = $1",
        department_id,
        kind,
    )
    .await
}

/// The team's active members who did not mute `kind`.
pub async fn team_members(
    tx: &mut TenantTx,
    team_id: Uuid,
    kind: MuteKind,
) -> Result<Vec<Recipient>> {
    active_unmuted(
        tx,
        "select agent_id from team_members where team_id = $1",
        team_id,
        kind,
    )
    .await
}

/// The agent, when active and not muting `kind`.
pub async fn agent(tx: &mut TenantTx, agent_id: Uuid, kind: MuteKind) -> Result<Vec<Recipient>> {
    active_unmuted(tx, "select $1::uuid", agent_id, kind).await
}

/// The organization's account manager (the agent, or the team's members) when the
/// organization asks for alerts to them: active agents who did not mute `kind`.
pub async fn account_manager_agents(
    tx: &mut TenantTx,
    organization_id: Uuid,
    kind: MuteKind,
) -> Result<Vec<Recipient>> {
    active_unmuted(
        tx,
        "select o.account_manager_agent_id from organizations o
          where o.id = $1 and o.alert_account_manager and o.account_manager_agent_id is not null
         union
         select tm.agent_id from organizations o join team_members tm on tm.team_id = o.account_manager_team_id
          where o.id = $1 and o.alert_account_manager",
        organization_id,
        kind,
    )
    .await
}

/// The ticket's requester and collaborators who may get mail: valid and not erased.
/// The requester comes first.
pub async fn ticket_people(tx: &mut TenantTx, ticket_id: Uuid) -> Result<Vec<Recipient>> {
    Ok(sqlx::query_as(
        "select u.id, u.name, u.email from end_users u
          where u.id in (select t.requester_id from tickets t where t.id = $1
                         union
                         select c.end_user_id from ticket_collaborators c where c.ticket_id = $1)
            and u.validity = 'valid' and u.erased_at is null
          order by u.id = (select t.requester_id from tickets t where t.id = $1) desc, u.id",
    )
    .bind(ticket_id)
    .fetch_all(tx.conn())
    .await?)
}

/// The address of the tenant's portal host: its slug (the only tenant value links need).
pub async fn tenant_slug(tx: &mut TenantTx) -> Result<String> {
    let (slug,): (String,) = sqlx::query_as("select slug from tenants where id = $1")
        .bind(tx.tenant_id().as_uuid())
        .fetch_one(tx.conn())
        .await?;
    Ok(slug)
}
