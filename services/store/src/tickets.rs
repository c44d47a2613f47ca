//! Tickets: the per-tenant number, the record with its references named, the access rule every
//! ticket query shares ([`TicketScope`]), the ticket list with filters and keyset pages, and the
//! collaborators (end users in copy). The thread lives in [`crate::ticket_thread`].

use chrono::{DateTime, SecondsFormat, Utc};
use domain::ticket::{Priority, Source, TicketState};
use serde_json::{Map, Value};
use sqlx::{FromRow, PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::keyset::{After, Page};
use crate::search::CustomFilter;
use crate::{Result, StoreError, TenantTx};

/// Which tickets a caller may see and work: the one access rule. Every query of this module
/// takes a scope and adds [`TicketScope::push_condition`], so a list, a read and a change
/// can never disagree about what is visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketScope {
    /// Admins, managers (`tickets.all`) and API tokens (which must hold `tickets.all`).
    All,
    /// An agent with `tickets.work`: tickets of their departments (`department_agents`),
    /// tickets assigned to them, and tickets assigned to one of their teams (`team_members`).
    Agent(Uuid),
}

impl TicketScope {
    /// Appends ` and (...)` restricting `t` (the tickets table's alias) to the scope.
    pub fn push_condition(&self, sql: &mut QueryBuilder<'_, Postgres>) {
        if let Self::Agent(agent) = *self {
            sql.push(
                " and (t.department_id in (select da.department_id from department_agents da where da.agent_id = ",
            )
            .push_bind(agent)
            .push(") or t.assignee_agent_id = ")
            .push_bind(agent)
            .push(" or t.assignee_team_id in (select tmm.team_id from team_members tmm where tmm.agent_id = ")
            .push_bind(agent)
            .push("))");
        }
    }
}

/// Something a ticket refers to, with the name people read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    pub id: Uuid,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requester {
    pub id: Uuid,
    pub name: String,
    pub email: String,
}

#[derive(Clone, Debug)]
pub struct Ticket {
    pub id: Uuid,
    pub number: i64,
    pub subject: String,
    pub state: TicketState,
    pub status: Option<Named>,
    pub priority: Priority,
    pub requester: Requester,
    pub organization: Option<Named>,
    pub department: Named,
    pub help_topic: Option<Named>,
    pub assignee_agent: Option<Named>,
    pub assignee_team: Option<Named>,
    pub sla_plan: Option<Named>,
    pub source: Source,
    pub custom: Map<String, Value>,
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub first_responded_at: Option<DateTime<Utc>>,
    pub sla_paused_since: Option<DateTime<Utc>>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by_agent_id: Option<Uuid>,
    pub closed_by_end_user_id: Option<Uuid>,
    pub created_by_agent_id: Option<Uuid>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Ticket {
    /// Open or pending with the resolution due time passed.
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        self.state.is_active() && self.resolution_due_at.is_some_and(|due| due < now)
    }
}

#[derive(FromRow)]
struct TicketRow {
    id: Uuid,
    number: i64,
    subject: String,
    state: String,
    status_id: Option<Uuid>,
    status_name: Option<String>,
    priority: String,
    requester_id: Uuid,
    requester_name: String,
    requester_email: String,
    organization_id: Option<Uuid>,
    organization_name: Option<String>,
    department_id: Uuid,
    department_name: String,
    help_topic_id: Option<Uuid>,
    help_topic_name: Option<String>,
    assignee_agent_id: Option<Uuid>,
    assignee_agent_name: Option<String>,
    assignee_team_id: Option<Uuid>,
    assignee_team_name: Option<String>,
    sla_plan_id: Option<Uuid>,
    sla_plan_name: Option<String>,
    source: String,
    custom: sqlx::types::Json<Map<String, Value>>,
    first_response_due_at: Option<DateTime<Utc>>,
    resolution_due_at: Option<DateTime<Utc>>,
    first_responded_at: Option<DateTime<Utc>>,
    sla_paused_since: Option<DateTime<Utc>>,
    last_message_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    closed_by_agent_id: Option<Uuid>,
    closed_by_end_user_id: Option<Uuid>,
    created_by_agent_id: Option<Uuid>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

fn named(id: Option<Uuid>, name: Option<String>) -> Option<Named> {
    id.zip(name).map(|(id, name)| Named { id, name })
}

impl TryFrom<TicketRow> for Ticket {
    type Error = StoreError;

    fn try_from(row: TicketRow) -> Result<Self> {
        let state = TicketState::parse(&row.state)
            .ok_or_else(|| StoreError::corrupt("tickets.state", &row.state))?;
        let priority = Priority::parse(&row.priority)
            .ok_or_else(|| StoreError::corrupt("tickets.priority", &row.priority))?;
        let source = Source::parse(&row.source)
            .ok_or_else(|| StoreError::corrupt("tickets.source", &row.source))?;
        Ok(Self {
            id: row.id,
            number: row.number,
            subject: row.subject,
            state,
            status: named(row.status_id, row.status_name),
            priority,
            requester: Requester {
                id: row.requester_id,
                name: row.requester_name,
                email: row.requester_email,
            },
            organization: named(row.organization_id, row.organization_name),
            department: Named {
                id: row.department_id,
                name: row.department_name,
            },
            help_topic: named(row.help_topic_id, row.help_topic_name),
            assignee_agent: named(row.assignee_agent_id, row.assignee_agent_name),
            assignee_team: named(row.assignee_team_id, row.assignee_team_name),
            sla_plan: named(row.sla_plan_id, row.sla_plan_name),
            source,
            custom: row.custom.0,
            first_response_due_at: row.first_response_due_at,
            resolution_due_at: row.resolution_due_at,
            first_responded_at: row.first_responded_at,
            sla_paused_since: row.sla_paused_since,
            last_message_at: row.last_message_at,
            closed_at: row.closed_at,
            closed_by_agent_id: row.closed_by_agent_id,
            closed_by_end_user_id: row.closed_by_end_user_id,
            created_by_agent_id: row.created_by_agent_id,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

const COLUMNS: &str = "select t.id, t.number, t.subject, t.state, t.status_id, st.name as status_name,
       t.priority, t.requester_id, r.name as requester_name, r.email as requester_email,
       t.organization_id, o.name as organization_name, t.department_id, d.name as department_name,
       t.help_topic_id, h.name as help_topic_name, t.assignee_agent_id, a.name as assignee_agent_name,
       t.assignee_team_id, tm.name as assignee_team_name, t.sla_plan_id, sp.name as sla_plan_name,
       t.source, t.custom, t.first_response_due_at, t.resolution_due_at, t.first_responded_at,
       t.sla_paused_since, t.last_message_at, t.closed_at, t.closed_by_agent_id,
       t.closed_by_end_user_id, t.created_by_agent_id, t.version, t.created_at, t.updated_at";

/// The names a ticket row shows, joined to the ticket `t`.
const JOINS: &str = "
  join end_users r on r.id = t.requester_id
  join departments d on d.id = t.department_id
  left join organizations o on o.id = t.organization_id
  left join help_topics h on h.id = t.help_topic_id
  left join agents a on a.id = t.assignee_agent_id
  left join teams tm on tm.id = t.assignee_team_id
  left join sla_plans sp on sp.id = t.sla_plan_id
  left join ticket_statuses st on st.id = t.status_id";

/// The ticket with this id, if it exists in the tenant and `scope` sees it.
pub async fn by_id(tx: &mut TenantTx, scope: TicketScope, id: Uuid) -> Result<Option<Ticket>> {
    let mut sql = QueryBuilder::new(format!("{COLUMNS} from tickets t{JOINS} where true"));
    sql.push(" and t.id = ").push_bind(id);
    scope.push_condition(&mut sql);
    let row: Option<TicketRow> = sql.build_query_as().fetch_optional(tx.conn()).await?;
    row.map(Ticket::try_from).transpose()
}

/// Like [`by_id`], holding the ticket's row lock until the transaction ends, so changes made
/// from what was read here cannot interleave with another writer's.
pub async fn lock(tx: &mut TenantTx, scope: TicketScope, id: Uuid) -> Result<Option<Ticket>> {
    let mut sql = QueryBuilder::new("select t.id from tickets t where t.id = ");
    sql.push_bind(id);
    scope.push_condition(&mut sql);
    sql.push(" for update of t");
    let found: Option<Uuid> = sql.build_query_scalar().fetch_optional(tx.conn()).await?;
    match found {
        Some(id) => by_id(tx, TicketScope::All, id).await,
        None => Ok(None),
    }
}

/// The ticket an API client created with this `Idempotency-Key`.
pub async fn by_idempotency_key(tx: &mut TenantTx, key: &str) -> Result<Option<Uuid>> {
    Ok(
        sqlx::query_scalar("select id from tickets where idempotency_key = $1")
            .bind(key)
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// A ticket to insert; the number is taken from the tenant's counter in the same statement.
#[derive(Clone, Debug)]
pub struct NewTicket<'a> {
    pub subject: &'a str,
    pub state: TicketState,
    pub status_id: Option<Uuid>,
    pub priority: Priority,
    pub requester_id: Uuid,
    pub organization_id: Option<Uuid>,
    pub department_id: Uuid,
    pub help_topic_id: Option<Uuid>,
    pub assignee_agent_id: Option<Uuid>,
    pub assignee_team_id: Option<Uuid>,
    pub sla_plan_id: Option<Uuid>,
    pub source: Source,
    pub custom: &'a Map<String, Value>,
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub created_by_agent_id: Option<Uuid>,
    pub idempotency_key: Option<&'a str>,
}

/// Inserts the ticket with the tenant's next number: the counter row is created on first use
/// and otherwise incremented, in the same statement, and its row lock is held to the end of
/// the transaction. So concurrent creations of one tenant take numbers one after another and
/// a rolled-back creation gives its number back: no gaps, no duplicates, and nothing shared
/// between tenants. A second ticket with the same idempotency key answers
/// [`StoreError::Conflict`] on `idempotency_key` (the transaction is then aborted).
pub async fn insert(tx: &mut TenantTx, new: &NewTicket<'_>) -> Result<(Uuid, i64)> {
    let id = Uuid::now_v7();
    let number: i64 = sqlx::query_scalar(
        "with counter as (
           insert into ticket_counters (tenant_id, next_number) values ($1, 2)
           on conflict (tenant_id) do update
             set next_number = ticket_counters.next_number + 1, updated_at = now()
           returning next_number - 1 as number
         )
         insert into tickets (tenant_id, id, number, subject, state, status_id, priority,
                requester_id, organization_id, department_id, help_topic_id, assignee_agent_id,
                assignee_team_id, sla_plan_id, source, custom, first_response_due_at,
                resolution_due_at, created_by_agent_id, idempotency_key, last_message_at)
         select $1, $2, counter.number, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                $16, $17, $18, $19, now()
           from counter
         returning number",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(id)
    .bind(new.subject)
    .bind(new.state.as_str())
    .bind(new.status_id)
    .bind(new.priority.as_str())
    .bind(new.requester_id)
    .bind(new.organization_id)
    .bind(new.department_id)
    .bind(new.help_topic_id)
    .bind(new.assignee_agent_id)
    .bind(new.assignee_team_id)
    .bind(new.sla_plan_id)
    .bind(new.source.as_str())
    .bind(sqlx::types::Json(new.custom))
    .bind(new.first_response_due_at)
    .bind(new.resolution_due_at)
    .bind(new.created_by_agent_id)
    .bind(new.idempotency_key)
    .fetch_one(tx.conn())
    .await
    .map_err(|error| match &error {
        sqlx::Error::Database(db)
            if db.is_unique_violation() && db.constraint() == Some("tickets_idempotency_key") =>
        {
            StoreError::Conflict {
                field: "idempotency_key",
            }
        }
        _ => StoreError::from_write(error),
    })?;
    Ok((id, number))
}

/// The fields of a ticket that change after creation, written together by [`save`].
#[derive(Clone, Debug)]
pub struct TicketWrite {
    pub subject: String,
    pub state: TicketState,
    pub status_id: Option<Uuid>,
    pub priority: Priority,
    pub department_id: Uuid,
    pub assignee_agent_id: Option<Uuid>,
    pub assignee_team_id: Option<Uuid>,
    pub custom: Map<String, Value>,
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub first_responded_at: Option<DateTime<Utc>>,
    pub sla_paused_since: Option<DateTime<Utc>>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by_agent_id: Option<Uuid>,
    pub closed_by_end_user_id: Option<Uuid>,
}

impl From<&Ticket> for TicketWrite {
    fn from(ticket: &Ticket) -> Self {
        Self {
            subject: ticket.subject.clone(),
            state: ticket.state,
            status_id: ticket.status.as_ref().map(|s| s.id),
            priority: ticket.priority,
            department_id: ticket.department.id,
            assignee_agent_id: ticket.assignee_agent.as_ref().map(|a| a.id),
            assignee_team_id: ticket.assignee_team.as_ref().map(|t| t.id),
            custom: ticket.custom.clone(),
            first_response_due_at: ticket.first_response_due_at,
            resolution_due_at: ticket.resolution_due_at,
            first_responded_at: ticket.first_responded_at,
            sla_paused_since: ticket.sla_paused_since,
            last_message_at: ticket.last_message_at,
            closed_at: ticket.closed_at,
            closed_by_agent_id: ticket.closed_by_agent_id,
            closed_by_end_user_id: ticket.closed_by_end_user_id,
        }
    }
}

/// Writes `write` to the ticket if it is still at `version`, raising the version. False when
/// it is not (someone else changed it, or it is gone).
pub async fn save(tx: &mut TenantTx, id: Uuid, version: i64, write: &TicketWrite) -> Result<bool> {
    let updated = sqlx::query(
        "update tickets set subject = $3, state = $4, status_id = $5, priority = $6,
                department_id = $7, assignee_agent_id = $8, assignee_team_id = $9, custom = $10,
                first_response_due_at = $11, resolution_due_at = $12, first_responded_at = $13,
                sla_paused_since = $14, last_message_at = $15, closed_at = $16,
                closed_by_agent_id = $17, closed_by_end_user_id = $18, version = version + 1,
                updated_at = now()
          where id = $1 and version = $2",
    )
    .bind(id)
    .bind(version)
    .bind(&write.subject)
    .bind(write.state.as_str())
    .bind(write.status_id)
    .bind(write.priority.as_str())
    .bind(write.department_id)
    .bind(write.assignee_agent_id)
    .bind(write.assignee_team_id)
    .bind(sqlx::types::Json(&write.custom))
    .bind(write.first_response_due_at)
    .bind(write.resolution_due_at)
    .bind(write.first_responded_at)
    .bind(write.sla_paused_since)
    .bind(write.last_message_at)
    .bind(write.closed_at)
    .bind(write.closed_by_agent_id)
    .bind(write.closed_by_end_user_id)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?
    .rows_affected();
    Ok(updated == 1)
}

/// The orders the ticket list offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketSort {
    Updated,
    Created,
    Number,
    Priority,
    /// By resolution due time; tickets without one come last.
    Due,
}

impl TicketSort {
    /// The sort expression and the SQL type its cursor key (text) is cast to.
    fn expression(self) -> (&'static str, &'static str) {
        match self {
            Self::Updated => ("t.updated_at", "timestamptz"),
            Self::Created => ("t.created_at", "timestamptz"),
            Self::Number => ("t.number", "bigint"),
            Self::Priority => (
                "array_position(array['low', 'normal', 'high', 'urgent']::text[], t.priority)",
                "integer",
            ),
            Self::Due => (
                "coalesce(t.resolution_due_at, 'infinity'::timestamptz)",
                "timestamptz",
            ),
        }
    }

    fn key_of(self, ticket: &Ticket) -> String {
        let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);
        match self {
            Self::Updated => time(ticket.updated_at),
            Self::Created => time(ticket.created_at),
            Self::Number => ticket.number.to_string(),
            Self::Priority => ticket.priority.rank().to_string(),
            Self::Due => ticket
                .resolution_due_at
                .map_or_else(|| "infinity".to_owned(), time),
        }
    }
}

/// Whose tickets: one agent's, or nobody's (no agent assigned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssigneeFilter {
    Agent(Uuid),
    Nobody,
}

/// What a ticket list shows: filters (all optional, combined with "and"), an order and a
/// page position. Queues and search build one of these; the scope is applied on top.
#[derive(Clone, Debug)]
pub struct TicketQuery {
    /// Any of these states (empty: all).
    pub states: Vec<TicketState>,
    pub department: Option<Uuid>,
    pub assignee: Option<AssigneeFilter>,
    pub team: Option<Uuid>,
    pub requester: Option<Uuid>,
    pub organization: Option<Uuid>,
    pub priority: Option<Priority>,
    /// Only open or pending tickets whose resolution due time has passed.
    pub overdue: bool,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub updated_from: Option<DateTime<Utc>>,
    pub updated_to: Option<DateTime<Utc>>,
    pub number: Option<i64>,
    /// Full text over subjects, messages and notes (web search syntax; `word*` for prefixes).
    pub text: Option<String>,
    /// A substring of the requester's name, email, login or phone (`*` as a wildcard).
    pub requester_text: Option<String>,
    /// Conditions on custom ticket fields (equality, number and date ranges).
    pub custom: Vec<CustomFilter>,
    pub sort: TicketSort,
    pub descending: bool,
    pub after: Option<After>,
    pub limit: usize,
}

impl Default for TicketQuery {
    fn default() -> Self {
        Self {
            states: Vec::new(),
            department: None,
            assignee: None,
            team: None,
            requester: None,
            organization: None,
            priority: None,
            overdue: false,
            created_from: None,
            created_to: None,
            updated_from: None,
            updated_to: None,
            number: None,
            text: None,
            requester_text: None,
            custom: Vec::new(),
            sort: TicketSort::Updated,
            descending: true,
            after: None,
            limit: 50,
        }
    }
}

impl TicketQuery {
    /// The full text to search for, if any.
    pub fn text_to_search(&self) -> Option<&str> {
        self.text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    /// Appends the query's filters (` and ...`) for the tickets table aliased `t`, with the
    /// ids [`Matches::find`] found where it found few.
    pub fn push_filters(&self, sql: &mut QueryBuilder<'_, Postgres>, matches: &Matches) {
        if !self.states.is_empty() {
            // Literals, not a bound array: the planner can then prove the partial index of
            // active tickets (`state in ('open', 'pending')`) in every plan, generic ones too.
            let states: Vec<String> = self
                .states
                .iter()
                .map(|s| format!("'{}'", s.as_str()))
                .collect();
            sql.push(format!(" and t.state in ({})", states.join(", ")));
        }
        if let Some(department) = self.department {
            sql.push(" and t.department_id = ").push_bind(department);
        }
        match self.assignee {
            Some(AssigneeFilter::Agent(agent)) => {
                sql.push(" and t.assignee_agent_id = ").push_bind(agent);
            }
            Some(AssigneeFilter::Nobody) => {
                sql.push(" and t.assignee_agent_id is null");
            }
            None => {}
        }
        if let Some(team) = self.team {
            sql.push(" and t.assignee_team_id = ").push_bind(team);
        }
        if let Some(requester) = self.requester {
            sql.push(" and t.requester_id = ").push_bind(requester);
        }
        if let Some(organization) = self.organization {
            sql.push(" and t.organization_id = ")
                .push_bind(organization);
        }
        if let Some(priority) = self.priority {
            sql.push(" and t.priority = ").push_bind(priority.as_str());
        }
        if self.overdue {
            sql.push(" and t.state in ('open', 'pending') and t.resolution_due_at < now()");
        }
        if let Some(from) = self.created_from {
            sql.push(" and t.created_at >= ").push_bind(from);
        }
        if let Some(to) = self.created_to {
            sql.push(" and t.created_at < ").push_bind(to);
        }
        if let Some(from) = self.updated_from {
            sql.push(" and t.updated_at >= ").push_bind(from);
        }
        if let Some(to) = self.updated_to {
            sql.push(" and t.updated_at < ").push_bind(to);
        }
        if let Some(number) = self.number {
            sql.push(" and t.number = ").push_bind(number);
        }
        // Full text, requester text and custom equality are not leakproof, so their index
        // lookups run in the search functions (an index under the tenant filter) and come back
        // as ids; past [`Matches::FEW`] the list tests each row it reads instead.
        if let Some(text) = self.text_to_search() {
            match &matches.text {
                Some(ids) => {
                    sql.push(" and t.id = any(")
                        .push_bind(ids.clone())
                        .push(")");
                }
                None => {
                    sql.push(" and (t.subject_vector @@ (select ticket_search.parse_query(")
                        .push_bind(text.to_owned())
                        .push(
                            ")) or exists (select from ticket_entries e
                              where e.ticket_id = t.id and e.kind in ('message', 'note')
                                and e.body_vector @@ (select ticket_search.parse_query(",
                        )
                        .push_bind(text.to_owned())
                        // `offset 0` keeps the test per row: without it the planner may turn
                        // the exists into a hash of every matching entry of the tenant.
                        .push(")) offset 0))");
                }
            }
        }
        if let Some(text) = self
            .requester_text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            sql.push(
                " and t.requester_id = any(array(select m.id from directory.end_user_ids_matching(",
            )
            .push_bind(crate::search::like_pattern(text))
            .push(") m))");
        }
        if let Some(equal) = crate::search::custom_equalities(&self.custom) {
            match &matches.custom {
                Some(ids) => {
                    sql.push(" and t.id = any(")
                        .push_bind(ids.clone())
                        .push(")");
                }
                None => {
                    sql.push(" and t.custom @> ")
                        .push_bind(sqlx::types::Json(equal));
                }
            }
        }
        crate::search::push_custom_ranges(sql, "t.custom", &self.custom);
    }
}

/// The tickets the search functions found for a list's full-text and custom-field
/// conditions, when few match. A condition without its ids is tested on each row the list
/// reads, in its order: a common word or value fills a page after about a page's worth of
/// rows, where collecting every match first would read them all. Both give the same page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matches {
    /// The tickets matching `TicketQuery::text`.
    pub text: Option<Vec<Uuid>>,
    /// The tickets matching the custom-field equalities of `TicketQuery::custom`.
    pub custom: Option<Vec<Uuid>>,
}

impl Matches {
    /// Up to this many matching tickets (and messages or notes) the list takes the ids;
    /// beyond, walking the list's order finds a page within a few thousand rows (the
    /// matches are at least this dense).
    pub const FEW: i32 = 10_000;

    /// Asks the search functions for the query's matches, each answer None past [`Self::FEW`].
    pub async fn find(conn: &mut PgConnection, query: &TicketQuery) -> Result<Self> {
        let mut matches = Self::default();
        if let Some(text) = query.text_to_search() {
            matches.text =
                sqlx::query_scalar("select ticket_search.ticket_ids_matching_up_to($1, $2)")
                    .bind(text)
                    .bind(Self::FEW)
                    .fetch_one(&mut *conn)
                    .await?;
        }
        if let Some(equal) = crate::search::custom_equalities(&query.custom) {
            matches.custom =
                sqlx::query_scalar("select ticket_search.ticket_ids_with_custom_up_to($1, $2)")
                    .bind(sqlx::types::Json(equal))
                    .bind(Self::FEW)
                    .fetch_one(&mut *conn)
                    .await?;
        }
        Ok(matches)
    }
}

/// One page of tickets `scope` sees, matching `query`.
pub async fn list(
    tx: &mut TenantTx,
    scope: TicketScope,
    query: &TicketQuery,
) -> Result<Page<Ticket>> {
    list_in_queue(tx, scope, query, None).await
}

/// Like [`list`], narrowed further to an agent-panel queue the query's filters cannot say.
pub async fn list_in_queue(
    tx: &mut TenantTx,
    scope: TicketScope,
    query: &TicketQuery,
    queue: Option<QueueCondition>,
) -> Result<Page<Ticket>> {
    let matches = Matches::find(tx.conn(), query).await?;
    list_matching(tx, scope, query, queue, &matches).await
}

/// [`list_in_queue`] with the search functions' [`Matches`] already found; the page is the
/// same whatever they hold.
pub async fn list_matching(
    tx: &mut TenantTx,
    scope: TicketScope,
    query: &TicketQuery,
    queue: Option<QueueCondition>,
    matches: &Matches,
) -> Result<Page<Ticket>> {
    // The page's ids first, from the tickets table alone (an active queue may hold tens of
    // thousands of rows to order), then the names of those few rows: the joins run for the
    // page, not for the whole queue. The page's rows are a materialized CTE read by primary
    // key, so they drive the joins: under RLS the planner estimates every tenant as the
    // average one, and with the joins in the same statement it once started from the
    // departments and scanned a million-ticket tenant's department index to find 51 ids.
    let (expression, key_type) = query.sort.expression();
    let direction = if query.descending { "desc" } else { "asc" };
    let mut sql = QueryBuilder::new(
        "with t as materialized (select t.* from tickets t where t.id = any(array(
           select t.id from tickets t where true",
    );
    scope.push_condition(&mut sql);
    query.push_filters(&mut sql, matches);
    if let Some(queue) = queue {
        queue.push_condition(&mut sql);
    }
    if let Some(after) = &query.after {
        let comparison = if query.descending { "<" } else { ">" };
        sql.push(format!(" and ({expression}, t.id) {comparison} ("))
            .push_bind(after.key.clone().unwrap_or_default())
            .push(format!("::{key_type}, "))
            .push_bind(after.id)
            .push(")");
    }
    sql.push(format!(
        " order by {expression} {direction}, t.id {direction} limit "
    ))
    .push_bind((query.limit + 1) as i64)
    .push(format!("))) {COLUMNS} from t{JOINS}"));
    sql.push(format!(
        " order by {expression} {direction}, t.id {direction}"
    ));
    let rows: Vec<TicketRow> = sql.build_query_as().fetch_all(tx.conn()).await?;
    let tickets = rows
        .into_iter()
        .map(Ticket::try_from)
        .collect::<Result<Vec<_>>>()?;
    let sort = query.sort;
    Ok(Page::from_rows(tickets, query.limit, |t| {
        (Some(sort.key_of(t)), t.id)
    }))
}

/// An end user in copy of a ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collaborator {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub added_at: DateTime<Utc>,
}

pub async fn collaborators(tx: &mut TenantTx, ticket_id: Uuid) -> Result<Vec<Collaborator>> {
    let rows: Vec<(Uuid, String, String, DateTime<Utc>)> = sqlx::query_as(
        "select u.id, u.name, u.email, c.created_at
           from ticket_collaborators c join end_users u on u.id = c.end_user_id
          where c.ticket_id = $1
          order by c.created_at, u.id",
    )
    .bind(ticket_id)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, email, added_at)| Collaborator {
            id,
            name,
            email,
            added_at,
        })
        .collect())
}

/// Puts the end user in copy; false when they were already.
pub async fn add_collaborator(
    tx: &mut TenantTx,
    ticket_id: Uuid,
    end_user_id: Uuid,
) -> Result<bool> {
    let added = sqlx::query(
        "insert into ticket_collaborators (tenant_id, ticket_id, end_user_id) values ($1, $2, $3)
         on conflict do nothing",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(ticket_id)
    .bind(end_user_id)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?
    .rows_affected();
    Ok(added == 1)
}

/// Takes the end user out of copy; false when they were not in it.
pub async fn remove_collaborator(
    tx: &mut TenantTx,
    ticket_id: Uuid,
    end_user_id: Uuid,
) -> Result<bool> {
    let removed =
        sqlx::query("delete from ticket_collaborators where ticket_id = $1 and end_user_id = $2")
            .bind(ticket_id)
            .bind(end_user_id)
            .execute(tx.conn())
            .await?
            .rows_affected();
    Ok(removed == 1)
}

/// Whether an agent of this tenant may be assigned tickets: they exist and are not disabled
/// (row-level security makes another tenant's agent read as unknown).
pub async fn agent_assignable(tx: &mut TenantTx, id: Uuid) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "select exists (select from agents where id = $1 and status <> 'disabled')",
    )
    .bind(id)
    .fetch_one(tx.conn())
    .await?)
}

/// The state a tenant-defined status belongs to; `None` for an unknown status.
pub async fn status_state(tx: &mut TenantTx, id: Uuid) -> Result<Option<TicketState>> {
    let state: Option<String> =
        sqlx::query_scalar("select state from ticket_statuses where id = $1")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    state
        .map(|s| {
            TicketState::parse(&s).ok_or_else(|| StoreError::corrupt("ticket_statuses.state", s))
        })
        .transpose()
}

/// The department a new ticket goes to when nothing names one
/// ([`crate::departments::default_department`]); `None` when the tenant has no department.
pub async fn default_department(
    tx: &mut TenantTx,
) -> Result<Option<crate::departments::Department>> {
    match crate::departments::default_department(tx).await {
        Ok(department) => Ok(Some(department)),
        Err(StoreError::Database(sqlx::Error::RowNotFound)) => Ok(None),
        Err(other) => Err(other),
    }
}

// ---------------------------------------------------------------------------------------------
// Agent-panel queues: the conditions the list filters cannot express, and the counts.
// ---------------------------------------------------------------------------------------------

/// How far back the "recently closed" queue looks.
pub const RECENTLY_CLOSED_DAYS: i64 = 7;

/// A queue condition beyond [`TicketQuery`]'s filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueCondition {
    /// Assigned to one of this agent's teams.
    TeamsOf(Uuid),
    /// Closed since this instant. `updated_at` is bounded too (closing updates it), so the
    /// `(tenant_id, state, updated_at)` index ranges over recent rows, never all history.
    ClosedSince(DateTime<Utc>),
}

impl QueueCondition {
    fn push_condition(self, sql: &mut QueryBuilder<'_, Postgres>) {
        match self {
            Self::TeamsOf(agent) => {
                sql.push(
                    " and t.assignee_team_id in (select q.team_id from team_members q where q.agent_id = ",
                )
                .push_bind(agent)
                .push(")");
            }
            Self::ClosedSince(since) => {
                sql.push(" and t.state = 'closed' and t.updated_at >= ")
                    .push_bind(since)
                    .push(" and t.closed_at >= ")
                    .push_bind(since);
            }
        }
    }
}

/// The counts of the agent panel's queues, as `scope` sees them. Open/pending ("active")
/// tickets only, except `recently_closed`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub mine: i64,
    pub my_teams: i64,
    pub unassigned: i64,
    pub open: i64,
    pub overdue: i64,
    pub recently_closed: i64,
    /// Active tickets per department (departments without any are absent).
    pub departments: Vec<(Uuid, i64)>,
}

/// Every queue count in one statement: one pass over the active tickets (and those closed
/// since `closed_since`) that `scope` sees, `count(*) filter (...)` per queue and grouped by
/// department. The rows read are bounded by the `(tenant_id, state, updated_at)` index to
/// open/pending tickets plus the recently closed; closed history is never counted.
pub async fn queue_counts(
    tx: &mut TenantTx,
    scope: TicketScope,
    agent: Uuid,
    closed_since: DateTime<Utc>,
) -> Result<QueueCounts> {
    let mut sql = QueryBuilder::new(
        "select t.department_id,
                count(*) filter (where t.state in ('open', 'pending') and t.assignee_agent_id = ",
    );
    sql.push_bind(agent)
        .push(
            ") as mine,
                count(*) filter (where t.state in ('open', 'pending') and t.assignee_team_id in
                    (select q.team_id from team_members q where q.agent_id = ",
        )
        .push_bind(agent)
        .push(
            ")) as my_teams,
                count(*) filter (where t.state in ('open', 'pending') and t.assignee_agent_id is null) as unassigned,
                count(*) filter (where t.state in ('open', 'pending')) as open,
                count(*) filter (where t.state in ('open', 'pending') and t.resolution_due_at < now()) as overdue,
                count(*) filter (where t.state = 'closed') as recently_closed
           from tickets t
          where (t.state in ('open', 'pending')
                 or (t.state = 'closed' and t.updated_at >= ",
        )
        .push_bind(closed_since)
        .push(" and t.closed_at >= ")
        .push_bind(closed_since)
        .push("))");
    scope.push_condition(&mut sql);
    sql.push(" group by t.department_id");
    let rows: Vec<(Uuid, i64, i64, i64, i64, i64, i64)> =
        sql.build_query_as().fetch_all(tx.conn()).await?;
    let mut counts = QueueCounts::default();
    for (department, mine, my_teams, unassigned, open, overdue, closed) in rows {
        counts.mine += mine;
        counts.my_teams += my_teams;
        counts.unassigned += unassigned;
        counts.open += open;
        counts.overdue += overdue;
        counts.recently_closed += closed;
        if open > 0 {
            counts.departments.push((department, open));
        }
    }
    Ok(counts)
}
