//! A ticket's thread: messages (from the requester, a collaborator or an agent), internal
//! notes (agents only) and events (who changed which field from what to what), in the order
//! they happened. Bodies arrive sanitised ([`domain::ticket::MessageBody`]).

use chrono::{DateTime, Utc};
use domain::ticket::MessageBody;
use serde_json::Value;
use sqlx::FromRow;
use uuid::Uuid;

use crate::tickets::Named;
use crate::{Result, StoreError, TenantTx};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Message,
    /// Internal: never shown to end users.
    Note,
    Event,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Note => "note",
            Self::Event => "event",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "message" => Some(Self::Message),
            "note" => Some(Self::Note),
            "event" => Some(Self::Event),
            _ => None,
        }
    }
}

/// Who wrote an entry. API tokens without an agent on whose behalf they act write entries
/// with no author (events then carry the token's id in their JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Author {
    Agent(Uuid),
    EndUser(Uuid),
    Nobody,
}

impl Author {
    fn agent(self) -> Option<Uuid> {
        match self {
            Self::Agent(id) => Some(id),
            _ => None,
        }
    }

    fn end_user(self) -> Option<Uuid> {
        match self {
            Self::EndUser(id) => Some(id),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub kind: EntryKind,
    pub author_agent: Option<Named>,
    pub author_end_user: Option<Named>,
    pub body_html: Option<String>,
    pub body_text: Option<String>,
    /// Events: `{"field": ..., "from": ..., "to": ...}` (and `api_token_id` when a token did it).
    pub event: Option<Value>,
    pub created_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct EntryRow {
    id: Uuid,
    ticket_id: Uuid,
    kind: String,
    author_agent_id: Option<Uuid>,
    author_agent_name: Option<String>,
    author_end_user_id: Option<Uuid>,
    author_end_user_name: Option<String>,
    body_html: Option<String>,
    body_text: Option<String>,
    event: Option<sqlx::types::Json<Value>>,
    created_at: DateTime<Utc>,
}

impl TryFrom<EntryRow> for Entry {
    type Error = StoreError;

    fn try_from(row: EntryRow) -> Result<Self> {
        let kind = EntryKind::parse(&row.kind)
            .ok_or_else(|| StoreError::corrupt("ticket_entries.kind", &row.kind))?;
        Ok(Self {
            id: row.id,
            ticket_id: row.ticket_id,
            kind,
            author_agent: row
                .author_agent_id
                .zip(row.author_agent_name)
                .map(|(id, name)| Named { id, name }),
            author_end_user: row
                .author_end_user_id
                .zip(row.author_end_user_name)
                .map(|(id, name)| Named { id, name }),
            body_html: row.body_html,
            body_text: row.body_text,
            event: row.event.map(|e| e.0),
            created_at: row.created_at,
        })
    }
}

/// Adds a message or a note. Returns the new entry's id.
pub async fn add_body(
    tx: &mut TenantTx,
    ticket_id: Uuid,
    kind: EntryKind,
    author: Author,
    body: &MessageBody,
) -> Result<Uuid> {
    if kind == EntryKind::Event {
        return Err(StoreError::corrupt(
            "ticket_entries.kind",
            "events carry no body",
        ));
    }
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into ticket_entries (tenant_id, id, ticket_id, kind, author_agent_id,
                author_end_user_id, body_html, body_text)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(id)
    .bind(ticket_id)
    .bind(kind.as_str())
    .bind(author.agent())
    .bind(author.end_user())
    .bind(body.html())
    .bind(body.text())
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(id)
}

/// Adds events in the order given, in one statement.
pub async fn add_events(
    tx: &mut TenantTx,
    ticket_id: Uuid,
    author: Author,
    events: &[Value],
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = events.iter().map(|_| Uuid::now_v7()).collect();
    sqlx::query(
        "insert into ticket_entries (tenant_id, id, ticket_id, kind, author_agent_id,
                author_end_user_id, event)
         select $1, e.id, $2, 'event', $3, $4, e.event
           from unnest($5::uuid[], $6::jsonb[]) as e(id, event)",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(ticket_id)
    .bind(author.agent())
    .bind(author.end_user())
    .bind(ids)
    .bind(
        events
            .iter()
            .map(|e| sqlx::types::Json(e.clone()))
            .collect::<Vec<_>>(),
    )
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(())
}

/// The whole thread of a ticket, oldest first. The caller has checked the ticket is visible.
pub async fn thread(tx: &mut TenantTx, ticket_id: Uuid) -> Result<Vec<Entry>> {
    let rows: Vec<EntryRow> = sqlx::query_as(
        "select e.id, e.ticket_id, e.kind, e.author_agent_id, a.name as author_agent_name,
                e.author_end_user_id, u.name as author_end_user_name, e.body_html, e.body_text,
                e.event, e.created_at
           from ticket_entries e
           left join agents a on a.id = e.author_agent_id
           left join end_users u on u.id = e.author_end_user_id
          where e.ticket_id = $1
          order by e.created_at, e.id",
    )
    .bind(ticket_id)
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter().map(Entry::try_from).collect()
}

/// One entry of a ticket.
pub async fn entry(tx: &mut TenantTx, ticket_id: Uuid, id: Uuid) -> Result<Option<Entry>> {
    let row: Option<EntryRow> = sqlx::query_as(
        "select e.id, e.ticket_id, e.kind, e.author_agent_id, a.name as author_agent_name,
                e.author_end_user_id, u.name as author_end_user_name, e.body_html, e.body_text,
                e.event, e.created_at
           from ticket_entries e
           left join agents a on a.id = e.author_agent_id
           left join end_users u on u.id = e.author_end_user_id
          where e.ticket_id = $1 and e.id = $2",
    )
    .bind(ticket_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    row.map(Entry::try_from).transpose()
}
