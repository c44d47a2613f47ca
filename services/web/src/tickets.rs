//! The ticket workflow shared by the API and the agent panel: create (with the help topic's
//! defaults, SLA due times and the first message), change with an event per changed field,
//! reply, internal note, collaborators, and the list query from request parameters. Each
//! function works inside the caller's one transaction, so nothing is ever half-written.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::business_hours::{self, Calendar};
use domain::custom_fields::{FieldDefinition, FieldEntity, apply_custom_values};
use domain::ticket::{BodyFormat, MessageBody, Priority, Source, TicketState, TicketSubject};
use domain::{EmailAddress, Permission, Validity};
use serde_json::{Map, Value, json};
use store::agents::Agent;
use store::keyset::After;
use store::sla_plans::SlaPlan;
use store::ticket_thread::{Author, Entry, EntryKind};
use store::tickets::{
    AssigneeFilter, NewTicket, Ticket, TicketQuery, TicketScope, TicketSort, TicketWrite,
};
use store::{StoreError, TenantTx};
use uuid::Uuid;

use crate::{ticket_notifications, ticket_rules};

/// Why a ticket action was refused.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// Field errors: (field, message), fields named as the API names them.
    #[error("invalid fields")]
    Invalid(Vec<(String, String)>),
    /// No such ticket, or one the caller may not see (the same answer on purpose).
    #[error("not found")]
    NotFound,
    #[error("stale version")]
    Stale,
    /// A rule of the workspace forbids it; the message says which.
    #[error("{0}")]
    Refused(String),
    /// A ticket filter rejected the new ticket; the message is the filter's, for the creator
    /// (422 in the API and the agent panel, a page of its own in the portal). Nothing is written.
    #[error("{0}")]
    Rejected(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who acts. Agents are recorded as authors; an API token is recorded in each event's JSON
/// (`api_token_id`), since entries name agents and end users only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketActor {
    Agent(Uuid),
    /// A token, optionally writing on behalf of an agent (replies and notes).
    ApiToken {
        token: Uuid,
        agent: Option<Uuid>,
    },
    /// An end user through the portal (signed in or by guest link); the caller has checked
    /// that they may act on the ticket (see `crate::portal`).
    EndUser(Uuid),
}

impl TicketActor {
    fn agent(self) -> Option<Uuid> {
        match self {
            Self::Agent(id) => Some(id),
            Self::ApiToken { agent, .. } => agent,
            Self::EndUser(_) => None,
        }
    }

    fn end_user(self) -> Option<Uuid> {
        match self {
            Self::EndUser(id) => Some(id),
            Self::Agent(_) | Self::ApiToken { .. } => None,
        }
    }

    fn author(self) -> Author {
        match self {
            Self::EndUser(id) => Author::EndUser(id),
            _ => self.agent().map_or(Author::Nobody, Author::Agent),
        }
    }

    /// An event `{"field", "from", "to"}`, stamped with the token when a token acts.
    fn event(self, field: &str, from: Value, to: Value) -> Value {
        let mut event = json!({"field": field, "from": from, "to": to});
        if let (Self::ApiToken { token, .. }, Some(object)) = (self, event.as_object_mut()) {
            object.insert("api_token_id".into(), json!(token));
        }
        event
    }
}

/// The scope of an agent by their role's permissions; `None` when they may not work tickets.
pub fn scope_for_agent(agent: &Agent) -> Option<TicketScope> {
    if agent.can(Permission::TicketsAll) {
        Some(TicketScope::All)
    } else if agent.can(Permission::TicketsWork) {
        Some(TicketScope::Agent(agent.id))
    } else {
        None
    }
}

/// Who a new ticket is for: a directory user, or an address (a guest user is made when the
/// address is new).
#[derive(Clone, Debug)]
pub enum RequesterInput {
    Id(Uuid),
    Email {
        email: EmailAddress,
        name: Option<String>,
    },
}

/// A new ticket as requested, its text still unparsed (errors are collected in one pass).
#[derive(Clone, Debug)]
pub struct NewTicketInput {
    pub subject: String,
    pub message: String,
    pub format: BodyFormat,
    pub requester: Option<RequesterInput>,
    pub department_id: Option<Uuid>,
    pub help_topic_id: Option<Uuid>,
    pub priority: Option<Priority>,
    pub assignee_agent_id: Option<Uuid>,
    pub assignee_team_id: Option<Uuid>,
    pub collaborators: Vec<Uuid>,
    pub custom: Map<String, Value>,
    pub source: Source,
    pub idempotency_key: Option<String>,
    /// Problems found while reading the request, reported with the rest.
    pub errors: Vec<(String, String)>,
}

/// Creates a ticket: the number, the ticket, its first message (from the requester), the
/// collaborators and the creation events, in the caller's transaction. The help topic sets
/// the department, priority, SLA plan and assignee unless the request names them.
pub async fn create(
    tx: &mut TenantTx,
    actor: TicketActor,
    input: &NewTicketInput,
) -> Result<Ticket, TicketError> {
    let mut errors = input.errors.clone();
    let mut error =
        |field: &str, message: &str| errors.push((field.to_owned(), message.to_owned()));
    let subject = TicketSubject::parse(&input.subject)
        .map_err(|e| error("subject", e))
        .ok();
    let body = MessageBody::parse(&input.message, input.format)
        .map_err(|e| error("message", e))
        .ok();
    let topic = match input.help_topic_id {
        Some(id) => {
            let topic = store::help_topics::by_id(tx, id).await?;
            if topic.is_none() {
                error("help_topic_id", "is not a help topic of this workspace");
            }
            topic
        }
        None => None,
    };
    let department_id = match input
        .department_id
        .or(topic.as_ref().map(|t| t.department_id))
    {
        Some(id) => {
            let department = store::departments::by_id(tx, id).await?;
            if department.is_none() {
                error("department_id", "is not a department of this workspace");
            }
            department
        }
        None => {
            let department = store::tickets::default_department(tx).await?;
            if department.is_none() {
                error(
                    "department_id",
                    "is required: the workspace has no department yet",
                );
            }
            department
        }
    };
    let priority = input
        .priority
        .or_else(|| {
            topic
                .as_ref()
                .and_then(|t| t.default_priority)
                .and_then(|p| Priority::parse(p.as_str()))
        })
        .or_else(|| {
            department_id
                .as_ref()
                .and_then(|d| Priority::parse(d.default_priority.as_str()))
        })
        .unwrap_or(Priority::Normal);
    // The topic's auto-assignment applies only when the request assigns nobody.
    let (assignee_agent_id, assignee_team_id) =
        if input.assignee_agent_id.is_some() || input.assignee_team_id.is_some() {
            (input.assignee_agent_id, input.assignee_team_id)
        } else {
            topic.as_ref().map_or((None, None), |t| {
                (t.auto_assign_agent_id, t.auto_assign_team_id)
            })
        };
    if let Some(agent) = assignee_agent_id
        && !store::tickets::agent_assignable(tx, agent).await?
    {
        error(
            "assignee_agent_id",
            "is not an active agent of this workspace",
        );
    }
    if let Some(team) = assignee_team_id
        && store::teams::by_id(tx, team).await?.is_none()
    {
        error("assignee_team_id", "is not a team of this workspace");
    }
    let mut collaborators = Vec::new();
    for id in &input.collaborators {
        if store::user_directory::by_id(tx, *id).await?.is_none() {
            error(
                "collaborators",
                &format!("{id} is not a user of this workspace"),
            );
        } else if !collaborators.contains(id) {
            collaborators.push(*id);
        }
    }
    let fields = store::custom_fields::active(tx, FieldEntity::Ticket).await?;
    let custom = match apply_custom_values(&fields, &Map::new(), &input.custom) {
        Ok(custom) => custom,
        Err(problems) => {
            errors.extend(problems.into_iter().map(|p| (p.field, p.message)));
            Map::new()
        }
    };
    let requester = match &input.requester {
        None => {
            errors.push(("requester".into(), "is required".into()));
            None
        }
        Some(requester) => match requester_of(tx, requester).await? {
            Ok(requester) => Some(requester),
            Err(message) => {
                errors.push(("requester".into(), message));
                None
            }
        },
    };
    let (Some(subject), Some(body), Some(department), Some(requester), true) =
        (subject, body, department_id, requester, errors.is_empty())
    else {
        return Err(TicketError::Invalid(errors));
    };

    // The workspace's rules see the values resolved so far and may change them (filters,
    // account manager, primary contacts, field mapping; see crate::ticket_rules). A rejecting
    // filter ends here, before anything is written.
    let organization = ticket_rules::organization_of(tx, &requester).await?;
    let mut draft = ticket_rules::Draft {
        subject: subject.as_str().to_owned(),
        message_text: body.text().to_owned(),
        source: input.source,
        requester,
        organization,
        department_id: department.id,
        help_topic: topic.as_ref().map(|t| (t.id, t.name.clone())),
        priority,
        sla_plan_id: topic.as_ref().and_then(|t| t.sla_plan_id),
        state: TicketState::Open,
        status_id: None,
        assignee_agent_id,
        assignee_team_id,
        collaborators,
        custom,
        assigned_by_request: input.assignee_agent_id.is_some() || input.assignee_team_id.is_some(),
    };
    let rule_events = ticket_rules::apply(tx, &mut draft).await?;
    let requester = &draft.requester;

    let now = Utc::now();
    let plan = match draft.sla_plan_id {
        Some(id) => store::sla_plans::by_id(tx, id).await?,
        None => None,
    };
    let (first_response_due_at, resolution_due_at) = match &plan {
        Some(plan) => {
            let calendar = store::sla_plans::calendar(tx).await?;
            store::sla_plans::due_times(plan, &calendar, now)
        }
        None => (None, None),
    };
    let (id, _number) = store::tickets::insert(
        tx,
        &NewTicket {
            subject: subject.as_str(),
            state: draft.state,
            status_id: draft.status_id,
            priority: draft.priority,
            requester_id: requester.id,
            organization_id: requester.primary_organization.as_ref().map(|o| o.id),
            department_id: draft.department_id,
            help_topic_id: draft.help_topic.as_ref().map(|t| t.0),
            assignee_agent_id: draft.assignee_agent_id,
            assignee_team_id: draft.assignee_team_id,
            sla_plan_id: plan.as_ref().map(|p| p.id),
            source: input.source,
            custom: &draft.custom,
            first_response_due_at,
            resolution_due_at,
            created_by_agent_id: actor.agent(),
            idempotency_key: input.idempotency_key.as_deref(),
        },
    )
    .await?;
    let entry_id = store::ticket_thread::add_body(
        tx,
        id,
        EntryKind::Message,
        Author::EndUser(requester.id),
        &body,
    )
    .await?;
    for collaborator in &draft.collaborators {
        store::tickets::add_collaborator(tx, id, *collaborator).await?;
    }
    // What the creator asked for; then, by the system, what each rule did (named in the event).
    let mut events = vec![actor.event("state", Value::Null, json!(draft.state.as_str()))];
    if let Some(agent) = assignee_agent_id {
        events.push(actor.event("assignee_agent_id", Value::Null, json!(agent)));
    }
    if let Some(team) = assignee_team_id {
        events.push(actor.event("assignee_team_id", Value::Null, json!(team)));
    }
    for collaborator in draft
        .collaborators
        .iter()
        .filter(|c| input.collaborators.contains(c))
    {
        events.push(actor.event("collaborators", Value::Null, json!(collaborator)));
    }
    store::ticket_thread::add_events(tx, id, actor.author(), &events).await?;
    store::ticket_thread::add_events(tx, id, Author::Nobody, &rule_events).await?;
    let (ticket, entry) = finish_entry(tx, id, entry_id).await?;
    ticket_notifications::ticket_created(tx, &ticket, &entry, actor.agent()).await?;
    Ok(ticket)
}

/// The directory record of the requester, or why they cannot open a ticket.
async fn requester_of(
    tx: &mut TenantTx,
    requester: &RequesterInput,
) -> Result<Result<store::user_directory::UserRecord, String>, TicketError> {
    let record = match requester {
        RequesterInput::Id(id) => match store::user_directory::by_id(tx, *id).await? {
            Some(record) => record,
            None => return Ok(Err("is not a user of this workspace".into())),
        },
        RequesterInput::Email { email, name } => {
            match store::user_directory::by_email(tx, email.as_str()).await? {
                Some(record) => record,
                None => {
                    let name = name
                        .as_deref()
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(str::to_owned)
                        .unwrap_or_else(|| name_from_email(email));
                    let created = store::end_users::create(
                        tx,
                        &store::end_users::NewEndUser {
                            name: &name,
                            email,
                            status: store::end_users::EndUserStatus::Guest,
                            password_hash: None,
                        },
                    )
                    .await?;
                    store::user_directory::by_id(tx, created.id)
                        .await?
                        .ok_or(TicketError::NotFound)?
                }
            }
        }
    };
    if record.erased_at.is_some() {
        return Ok(Err("was erased and cannot open tickets".into()));
    }
    if record.validity != Validity::Valid {
        return Ok(Err(format!(
            "is {} in the directory and cannot open tickets",
            record.validity.as_str()
        )));
    }
    Ok(Ok(record))
}

/// "jane.doe@example.com" reads as "Jane Doe".
fn name_from_email(email: &EmailAddress) -> String {
    let local = email.as_str().split('@').next().unwrap_or_default();
    let words: Vec<String> = local
        .split(['.', '_', '-', '+'])
        .filter(|w| !w.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        })
        .collect();
    if words.is_empty() {
        local.to_owned()
    } else {
        words.join(" ")
    }
}

/// What a change asks for; `None` leaves a field, `Some(None)` clears an optional one.
#[derive(Clone, Debug, Default)]
pub struct TicketChanges {
    pub subject: Option<String>,
    pub state: Option<TicketState>,
    pub status_id: Option<Option<Uuid>>,
    pub priority: Option<Priority>,
    pub department_id: Option<Uuid>,
    pub assignee_agent_id: Option<Option<Uuid>>,
    pub assignee_team_id: Option<Option<Uuid>>,
    pub custom: Option<Map<String, Value>>,
    /// A new requester (a valid directory user): the ticket moves to their primary
    /// organization and the mapped customer fields are filled from them (ticket_rules).
    pub requester_id: Option<Uuid>,
    pub errors: Vec<(String, String)>,
}

fn id_value(id: Option<Uuid>) -> Value {
    id.map_or(Value::Null, |id| json!(id))
}

/// Applies `changes` to a ticket the caller sees, at `version` (the current one when `None`),
/// writing one event per changed field. State rules: see [`TicketState::check_transition`];
/// a status implies its state; closing records who and when; a pausing SLA plan stops the
/// clock while pending and pushes the due times by the open time spent there.
pub async fn change(
    tx: &mut TenantTx,
    scope: TicketScope,
    actor: TicketActor,
    id: Uuid,
    version: Option<i64>,
    changes: &TicketChanges,
) -> Result<Ticket, TicketError> {
    let ticket = store::tickets::lock(tx, scope, id)
        .await?
        .ok_or(TicketError::NotFound)?;
    if version.is_some_and(|v| v != ticket.version) {
        return Err(TicketError::Stale);
    }
    let mut errors = changes.errors.clone();
    let mut write = TicketWrite::from(&ticket);
    let mut events = Vec::new();

    if let Some(raw) = &changes.subject {
        match TicketSubject::parse(raw) {
            Ok(subject) if subject.as_str() != ticket.subject => {
                events.push(actor.event("subject", json!(ticket.subject), json!(subject.as_str())));
                write.subject = subject.as_str().to_owned();
            }
            Ok(_) => {}
            Err(message) => errors.push(("subject".into(), message.into())),
        }
    }

    // A status names its state; a state alone keeps the status only if it belongs there.
    let status_state = match changes.status_id {
        Some(Some(status)) => match store::tickets::status_state(tx, status).await? {
            Some(state) => Some((status, state)),
            None => {
                errors.push((
                    "status_id".into(),
                    "is not a ticket status of this workspace".into(),
                ));
                None
            }
        },
        _ => None,
    };
    let new_state = match (changes.state, status_state) {
        (Some(state), Some((_, status_state))) if state != status_state => {
            errors.push((
                "status_id".into(),
                format!("belongs to the state {status_state}, not {state}"),
            ));
            state
        }
        (Some(state), _) => state,
        (None, Some((_, status_state))) => status_state,
        (None, None) => ticket.state,
    };
    if let Err(refused) = ticket.state.check_transition(new_state) {
        errors.push(("state".into(), refused.0.into()));
    }
    let old_status = ticket.status.as_ref().map(|s| s.id);
    write.status_id = match (changes.status_id, status_state) {
        (Some(None), _) => None,
        (_, Some((status, _))) => Some(status),
        // The state moved on without a status: the old status belonged to the old state.
        _ if new_state != ticket.state => None,
        _ => old_status,
    };

    if let Some(priority) = changes.priority
        && priority != ticket.priority
    {
        events.push(actor.event(
            "priority",
            json!(ticket.priority.as_str()),
            json!(priority.as_str()),
        ));
        write.priority = priority;
    }
    if let Some(department) = changes.department_id
        && department != ticket.department.id
    {
        if store::departments::by_id(tx, department).await?.is_none() {
            errors.push((
                "department_id".into(),
                "is not a department of this workspace".into(),
            ));
        } else {
            events.push(actor.event(
                "department_id",
                json!(ticket.department.id),
                json!(department),
            ));
            write.department_id = department;
        }
    }
    let old_agent = ticket.assignee_agent.as_ref().map(|a| a.id);
    if let Some(agent) = changes.assignee_agent_id
        && agent != old_agent
    {
        match agent {
            Some(id) if !store::tickets::agent_assignable(tx, id).await? => errors.push((
                "assignee_agent_id".into(),
                "is not an active agent of this workspace".into(),
            )),
            _ => {
                events.push(actor.event("assignee_agent_id", id_value(old_agent), id_value(agent)));
                write.assignee_agent_id = agent;
            }
        }
    }
    let old_team = ticket.assignee_team.as_ref().map(|t| t.id);
    if let Some(team) = changes.assignee_team_id
        && team != old_team
    {
        match team {
            Some(id) if store::teams::by_id(tx, id).await?.is_none() => errors.push((
                "assignee_team_id".into(),
                "is not a team of this workspace".into(),
            )),
            _ => {
                events.push(actor.event("assignee_team_id", id_value(old_team), id_value(team)));
                write.assignee_team_id = team;
            }
        }
    }
    if let Some(custom) = &changes.custom {
        let fields = store::custom_fields::active(tx, FieldEntity::Ticket).await?;
        match apply_custom_values(&fields, &ticket.custom, custom) {
            Ok(merged) => {
                for key in custom.keys() {
                    let before = ticket.custom.get(key).cloned().unwrap_or(Value::Null);
                    let after = merged.get(key).cloned().unwrap_or(Value::Null);
                    if before != after {
                        events.push(actor.event(&format!("custom.{key}"), before, after));
                    }
                }
                write.custom = merged;
            }
            Err(problems) => errors.extend(problems.into_iter().map(|p| (p.field, p.message))),
        }
    }
    // The field mapping's events are the system's, written with the rule named.
    let mut new_requester = None;
    let mut rule_events = Vec::new();
    if let Some(requester_id) = changes.requester_id
        && requester_id != ticket.requester.id
    {
        match store::user_directory::by_id(tx, requester_id).await? {
            Some(record) if record.erased_at.is_none() && record.validity == Validity::Valid => {
                events.push(actor.event(
                    "requester_id",
                    json!(ticket.requester.id),
                    json!(requester_id),
                ));
                let old_organization = ticket.organization.as_ref().map(|o| o.id);
                let organization_id = record.primary_organization.as_ref().map(|o| o.id);
                if organization_id != old_organization {
                    events.push(actor.event(
                        "organization_id",
                        id_value(old_organization),
                        id_value(organization_id),
                    ));
                }
                let organization = ticket_rules::organization_of(tx, &record).await?;
                ticket_rules::map_fields(
                    tx,
                    &record,
                    organization.as_ref(),
                    &mut write.custom,
                    &mut rule_events,
                )
                .await?;
                new_requester = Some((requester_id, organization_id));
            }
            Some(_) => errors.push((
                "requester_id".into(),
                "is erased or not valid in the directory and cannot be a requester".into(),
            )),
            None => errors.push((
                "requester_id".into(),
                "is not a user of this workspace".into(),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(TicketError::Invalid(errors));
    }

    let now = Utc::now();
    if new_state != ticket.state {
        events.push(actor.event(
            "state",
            json!(ticket.state.as_str()),
            json!(new_state.as_str()),
        ));
        write.state = new_state;
        if new_state == TicketState::Closed {
            write.closed_at = Some(now);
            write.closed_by_agent_id = actor.agent();
            write.closed_by_end_user_id = actor.end_user();
        } else if ticket.state == TicketState::Closed {
            write.closed_at = None;
            write.closed_by_agent_id = None;
            write.closed_by_end_user_id = None;
        }
        sla_on_state_change(tx, actor, &ticket, &mut write, now, &mut events).await?;
    }
    if write.status_id != old_status {
        events.push(actor.event("status_id", id_value(old_status), id_value(write.status_id)));
    }
    if events.is_empty() {
        return Ok(ticket);
    }
    if !store::tickets::save(tx, id, ticket.version, &write).await? {
        return Err(TicketError::Stale);
    }
    store::ticket_thread::add_events(tx, id, actor.author(), &events).await?;
    if let Some((requester_id, organization_id)) = new_requester {
        store::field_mappings::set_requester(tx, id, requester_id, organization_id).await?;
        store::ticket_thread::add_events(tx, id, Author::Nobody, &rule_events).await?;
    }
    let changed = store::tickets::by_id(tx, TicketScope::All, id)
        .await?
        .ok_or(TicketError::NotFound)?;
    let new_agent = write.assignee_agent_id.filter(|a| Some(*a) != old_agent);
    let new_team = write.assignee_team_id.filter(|t| Some(*t) != old_team);
    ticket_notifications::ticket_assigned(tx, &changed, new_agent, new_team, actor.agent()).await?;
    if new_state == TicketState::Closed && ticket.state != TicketState::Closed {
        ticket_notifications::ticket_closed(tx, &changed).await?;
    }
    Ok(changed)
}

/// Pauses the SLA clock on entering pending and, on leaving it, pushes the due times still
/// running by the open time spent pending (recorded as events on the due times).
async fn sla_on_state_change(
    tx: &mut TenantTx,
    actor: TicketActor,
    ticket: &Ticket,
    write: &mut TicketWrite,
    now: DateTime<Utc>,
    events: &mut Vec<Value>,
) -> Result<(), TicketError> {
    let Some(plan_ref) = &ticket.sla_plan else {
        return Ok(());
    };
    let Some(plan) = store::sla_plans::by_id(tx, plan_ref.id).await? else {
        return Ok(());
    };
    if !plan.pause_while_pending {
        return Ok(());
    }
    let entering = write.state == TicketState::Pending && ticket.state != TicketState::Pending;
    let leaving = ticket.state == TicketState::Pending && write.state != TicketState::Pending;
    if entering {
        write.sla_paused_since = Some(now);
    } else if leaving && let Some(since) = ticket.sla_paused_since {
        write.sla_paused_since = None;
        let calendar = store::sla_plans::calendar(tx).await?;
        let paused = paused_seconds(&plan, &calendar, since, now);
        if paused > 0 {
            if ticket.first_responded_at.is_none()
                && let Some(due) = ticket.first_response_due_at
            {
                let pushed = push_due(&plan, &calendar, due, paused);
                events.push(actor.event("first_response_due_at", json!(due), json!(pushed)));
                write.first_response_due_at = Some(pushed);
            }
            if let Some(due) = ticket.resolution_due_at {
                let pushed = push_due(&plan, &calendar, due, paused);
                events.push(actor.event("resolution_due_at", json!(due), json!(pushed)));
                write.resolution_due_at = Some(pushed);
            }
        }
    }
    Ok(())
}

/// The time the clock stood still: open seconds for business-hours plans, all seconds else.
fn paused_seconds(
    plan: &SlaPlan,
    calendar: &Calendar,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> i64 {
    if plan.business_hours_only {
        business_hours::open_seconds_between(calendar, from, to)
    } else {
        (to - from).num_seconds().max(0)
    }
}

/// `due` moved later by `seconds` of the plan's time (open time for business-hours plans).
fn push_due(
    plan: &SlaPlan,
    calendar: &Calendar,
    due: DateTime<Utc>,
    seconds: i64,
) -> DateTime<Utc> {
    if !plan.business_hours_only {
        return due + Duration::seconds(seconds);
    }
    // The calendar adds whole hours; find the instant `seconds` of open time after `due`
    // between `due` and the next whole hour past it (open time only grows, so bisect).
    let hours = u32::try_from((seconds + 3599) / 3600).unwrap_or(u32::MAX);
    let mut low = due;
    let mut high = business_hours::add_open_hours(calendar, due, hours);
    while (high - low).num_seconds() > 1 {
        let middle = low + (high - low) / 2;
        if business_hours::open_seconds_between(calendar, due, middle) >= seconds {
            high = middle;
        } else {
            low = middle;
        }
    }
    high
}

/// Adds an agent's (or a token's) reply to a ticket the caller sees. The first reply sets
/// the first response time. An end user's message ([`TicketActor::EndUser`]) sets no response
/// time and alerts the agents instead of mailing the requester. A closed ticket takes no
/// reply when the workspace says so.
pub async fn reply(
    tx: &mut TenantTx,
    scope: TicketScope,
    actor: TicketActor,
    id: Uuid,
    body: &MessageBody,
) -> Result<(Ticket, Entry), TicketError> {
    let ticket = store::tickets::lock(tx, scope, id)
        .await?
        .ok_or(TicketError::NotFound)?;
    if ticket.state == TicketState::Closed
        && !store::ticket_settings::load(tx)
            .await?
            .reply_to_closed_allowed
    {
        return Err(TicketError::Refused(
            "This ticket is closed and the workspace does not take replies to closed tickets; reopen it first."
                .into(),
        ));
    }
    let entry_id =
        store::ticket_thread::add_body(tx, id, EntryKind::Message, actor.author(), body).await?;
    let now = Utc::now();
    let mut write = TicketWrite::from(&ticket);
    write.last_message_at = Some(now);
    // An end user's message is no response of the help desk.
    if write.first_responded_at.is_none() && actor.end_user().is_none() {
        write.first_responded_at = Some(now);
    }
    if !store::tickets::save(tx, id, ticket.version, &write).await? {
        return Err(TicketError::Stale);
    }
    let (ticket, entry) = finish_entry(tx, id, entry_id).await?;
    match actor {
        TicketActor::EndUser(_) => ticket_notifications::user_replied(tx, &ticket, &entry).await?,
        _ => ticket_notifications::agent_replied(tx, &ticket, &entry).await?,
    }
    Ok((ticket, entry))
}

/// Adds an internal note (never shown to end users). The ticket itself is unchanged.
pub async fn note(
    tx: &mut TenantTx,
    scope: TicketScope,
    actor: TicketActor,
    id: Uuid,
    body: &MessageBody,
) -> Result<(Ticket, Entry), TicketError> {
    store::tickets::lock(tx, scope, id)
        .await?
        .ok_or(TicketError::NotFound)?;
    let entry_id =
        store::ticket_thread::add_body(tx, id, EntryKind::Note, actor.author(), body).await?;
    finish_entry(tx, id, entry_id).await
}

async fn finish_entry(
    tx: &mut TenantTx,
    id: Uuid,
    entry_id: Uuid,
) -> Result<(Ticket, Entry), TicketError> {
    let ticket = store::tickets::by_id(tx, TicketScope::All, id)
        .await?
        .ok_or(TicketError::NotFound)?;
    let entry = store::ticket_thread::entry(tx, id, entry_id)
        .await?
        .ok_or(TicketError::NotFound)?;
    Ok((ticket, entry))
}

/// Puts an end user in copy of a ticket the caller sees. `Ok(false)`: they were already.
/// An unknown user is [`TicketError::NotFound`] like an unknown ticket (both are path ids).
pub async fn add_collaborator(
    tx: &mut TenantTx,
    scope: TicketScope,
    actor: TicketActor,
    id: Uuid,
    user_id: Uuid,
) -> Result<bool, TicketError> {
    store::tickets::lock(tx, scope, id)
        .await?
        .ok_or(TicketError::NotFound)?;
    if store::user_directory::by_id(tx, user_id).await?.is_none() {
        return Err(TicketError::NotFound);
    }
    let added = store::tickets::add_collaborator(tx, id, user_id).await?;
    if added {
        let event = actor.event("collaborators", Value::Null, json!(user_id));
        store::ticket_thread::add_events(tx, id, actor.author(), &[event]).await?;
    }
    Ok(added)
}

/// Takes an end user out of copy; [`TicketError::NotFound`] when they were not in it.
pub async fn remove_collaborator(
    tx: &mut TenantTx,
    scope: TicketScope,
    actor: TicketActor,
    id: Uuid,
    user_id: Uuid,
) -> Result<(), TicketError> {
    store::tickets::lock(tx, scope, id)
        .await?
        .ok_or(TicketError::NotFound)?;
    if !store::tickets::remove_collaborator(tx, id, user_id).await? {
        return Err(TicketError::NotFound);
    }
    let event = actor.event("collaborators", json!(user_id), Value::Null);
    store::ticket_thread::add_events(tx, id, actor.author(), &[event]).await?;
    Ok(())
}

/// The sorts of the ticket list by parameter name. Without `sort`, the list is `-updated`
/// (recently changed first).
pub const TICKET_SORTS: [(&str, TicketSort); 5] = [
    ("updated", TicketSort::Updated),
    ("created", TicketSort::Created),
    ("number", TicketSort::Number),
    ("priority", TicketSort::Priority),
    ("due", TicketSort::Due),
];

/// The ticket query named by request parameters: `state` (one or more, comma-separated),
/// `department`, `assignee` (an agent id, `me` or `none`), `team`, `requester`,
/// `organization`, `priority`, `overdue` (true/false), `created_from`, `created_to`,
/// `updated_from`, `updated_to` (RFC 3339 or YYYY-MM-DD; `to` is exclusive, a date means
/// up to the end of that day), `number`, `q` (full text over subjects, messages and notes),
/// `requester_q` (part of the requester's name, email, login or phone), `custom.<key>`,
/// `custom.<key>.min`, `custom.<key>.max` (checked against `fields`, the active custom ticket
/// fields), `sort`, `limit`, `cursor`. Empty parameters are ignored. `me` is
/// `caller_agent`; without one (an API token) it is refused.
pub fn ticket_query(
    pairs: &[(String, String)],
    caller_agent: Option<Uuid>,
    fields: &[FieldDefinition],
) -> Result<TicketQuery, TicketError> {
    let mut query = TicketQuery::default();
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut invalid = |field: &str, message: &str| errors.push((field.into(), message.into()));
    let uuid = |raw: &str| Uuid::parse_str(raw).ok();
    for (name, raw) in pairs {
        let value = raw.trim();
        if value.is_empty() {
            continue;
        }
        match name.as_str() {
            "state" => {
                for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    match TicketState::parse(part) {
                        Some(state) if !query.states.contains(&state) => query.states.push(state),
                        Some(_) => {}
                        None => invalid(name, "must be open, pending, resolved or closed"),
                    }
                }
            }
            "department" => match uuid(value) {
                Some(id) => query.department = Some(id),
                None => invalid(name, "must be the id of a department"),
            },
            "assignee" => match value {
                "none" => query.assignee = Some(AssigneeFilter::Nobody),
                "me" => match caller_agent {
                    Some(agent) => query.assignee = Some(AssigneeFilter::Agent(agent)),
                    None => invalid(name, "`me` needs an agent; an API token is no agent"),
                },
                _ => match uuid(value) {
                    Some(id) => query.assignee = Some(AssigneeFilter::Agent(id)),
                    None => invalid(name, "must be an agent id, me or none"),
                },
            },
            "team" => match uuid(value) {
                Some(id) => query.team = Some(id),
                None => invalid(name, "must be the id of a team"),
            },
            "requester" => match uuid(value) {
                Some(id) => query.requester = Some(id),
                None => invalid(name, "must be the id of a user"),
            },
            "organization" => match uuid(value) {
                Some(id) => query.organization = Some(id),
                None => invalid(name, "must be the id of an organization"),
            },
            "priority" => match Priority::parse(value) {
                Some(priority) => query.priority = Some(priority),
                None => invalid(name, "must be low, normal, high or urgent"),
            },
            "overdue" => match value {
                "true" => query.overdue = true,
                "false" => query.overdue = false,
                _ => invalid(name, "must be true or false"),
            },
            "created_from" | "created_to" | "updated_from" | "updated_to" => {
                match instant(value, name.ends_with("_to")) {
                    Some(at) => match name.as_str() {
                        "created_from" => query.created_from = Some(at),
                        "created_to" => query.created_to = Some(at),
                        "updated_from" => query.updated_from = Some(at),
                        _ => query.updated_to = Some(at),
                    },
                    None => invalid(name, "must be a date (YYYY-MM-DD) or an RFC 3339 time"),
                }
            }
            "number" => match value.trim_start_matches('#').parse::<i64>() {
                Ok(number) if number > 0 => query.number = Some(number),
                _ => invalid(name, "must be a ticket number"),
            },
            "q" => query.text = Some(value.chars().take(200).collect()),
            "requester_q" => query.requester_text = Some(value.chars().take(200).collect()),
            "sort" => {
                let (descending, field) = match value.strip_prefix('-') {
                    Some(field) => (true, field),
                    None => (false, value),
                };
                match TICKET_SORTS.iter().find(|(n, _)| *n == field) {
                    Some((_, sort)) => {
                        query.sort = *sort;
                        query.descending = descending;
                    }
                    None => invalid(
                        name,
                        "must be updated, created, number, priority or due (prefix - to reverse)",
                    ),
                }
            }
            "limit" => match value.parse::<usize>() {
                Ok(limit @ 1..=200) => query.limit = limit,
                _ => invalid(name, "must be between 1 and 200"),
            },
            "cursor" => match After::decode(value) {
                Some(after) => query.after = Some(after),
                None => invalid(name, "is not a cursor this list gave out"),
            },
            other => match other.strip_prefix("custom.") {
                Some(rest) => match crate::directory::custom_filter(rest, value, fields, "tickets")
                {
                    Ok(filter) => query.custom.push(filter),
                    Err(message) => invalid(name, &message),
                },
                None => invalid(name, "is not a known filter"),
            },
        }
    }
    // A cursor is only meaningful for the sort it came from; a bad pairing is refused by the
    // database cast, so check the key's shape here instead.
    if let Some(after) = &query.after {
        let key = after.key.as_deref().unwrap_or_default();
        let fits = match query.sort {
            TicketSort::Number | TicketSort::Priority => key.parse::<i64>().is_ok(),
            TicketSort::Due if key == "infinity" => true,
            _ => DateTime::parse_from_rfc3339(key).is_ok(),
        };
        if !fits {
            errors.push((
                "cursor".into(),
                "belongs to another sort; start again without it".into(),
            ));
        }
    }
    if errors.is_empty() {
        Ok(query)
    } else {
        Err(TicketError::Invalid(errors))
    }
}

/// An RFC 3339 time, or a date: its start, or (for an exclusive upper bound) the next day's.
fn instant(raw: &str, upper: bool) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Some(at.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    let day = if upper { day.succ_opt()? } else { day };
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(raw: &[(&str, &str)]) -> Vec<(String, String)> {
        raw.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn names_come_from_addresses() {
        let email = EmailAddress::parse("jane.doe@example.com").expect("email");
        assert_eq!(name_from_email(&email), "Jane Doe");
    }

    #[test]
    fn the_list_query_reads_its_parameters() {
        let me = Uuid::now_v7();
        let query = ticket_query(
            &pairs(&[
                ("state", "open,pending"),
                ("assignee", "me"),
                ("priority", "high"),
                ("created_to", "2026-11-22"),
                ("sort", "-number"),
                ("number", "#42"),
            ]),
            Some(me),
            &[],
        )
        .expect("query");
        assert_eq!(query.states, vec![TicketState::Open, TicketState::Pending]);
        assert_eq!(query.assignee, Some(AssigneeFilter::Agent(me)));
        assert_eq!(query.number, Some(42));
        assert_eq!(query.sort, TicketSort::Number);
        assert!(query.descending);
        assert_eq!(
            query.created_to.map(|t| t.to_rfc3339()),
            Some("2026-11-23T00:00:00+00:00".to_owned())
        );
        let Err(TicketError::Invalid(errors)) = ticket_query(
            &pairs(&[("state", "done"), ("assignee", "me"), ("colour", "red")]),
            None,
            &[],
        ) else {
            panic!("bad parameters pass");
        };
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, vec!["state", "assignee", "colour"]);
    }
}
