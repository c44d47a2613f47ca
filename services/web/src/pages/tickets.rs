//! `/agent/tickets`: the agent panel over the ticket workflow ([`crate::tickets`]): the
//! queues with their counts and bulk actions, the ticket page with its thread and every form
//! that works a ticket, and the phone ticket. Each page checks the agent's ticket scope (the
//! one access rule); a ticket outside it answers the 404 page, like an unknown number.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use domain::EmailAddress;
use domain::custom_fields::{FieldDefinition, FieldEntity, display_value, text_value};
use domain::ticket::{BodyFormat, MessageBody, Priority, Source, TicketState};
use serde::Deserialize;
use serde_json::{Map, Value};
use store::TenantTx;
use store::ticket_thread::EntryKind;
use store::tickets::{QueueCondition, RECENTLY_CLOSED_DAYS, Ticket, TicketQuery, TicketScope};
use uuid::Uuid;

use crate::AppState;
use crate::auth::SignedInAgent;
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::error::PageError;
use crate::pages::{Brand, render};
use crate::tickets::{
    self as workflow, NewTicketInput, RequesterInput, TicketActor, TicketChanges, TicketError,
};

/// The agent's scope, or the refusal page when their role works no tickets.
fn scope_of(agent: &SignedInAgent) -> Result<TicketScope, PageError> {
    workflow::scope_for_agent(&agent.agent).ok_or_else(|| {
        PageError::Forbidden(format!(
            "Your role ({}) does not allow working tickets: it needs the permission \"tickets.work\".",
            agent.agent.role.name
        ))
    })
}

fn pairs_of(raw: Option<&str>) -> Vec<(String, String)> {
    serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default()
}

fn get(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The ticket with this per-tenant number, if the scope sees it.
async fn by_number(
    tx: &mut TenantTx,
    scope: TicketScope,
    number: &str,
) -> Result<Ticket, PageError> {
    let number: i64 = number.parse().map_err(|_| PageError::NotFound)?;
    let query = TicketQuery {
        number: Some(number),
        limit: 1,
        ..TicketQuery::default()
    };
    store::tickets::list(tx, scope, &query)
        .await?
        .items
        .into_iter()
        .next()
        .ok_or(PageError::NotFound)
}

/// The alert for a refused action; an unknown or out-of-scope ticket is the 404 page.
fn alert_of(error: TicketError) -> Result<String, PageError> {
    Ok(match error {
        TicketError::Invalid(errors) => {
            let parts: Vec<String> = errors
                .iter()
                .map(|(field, message)| format!("{field} {message}"))
                .collect();
            format!("Nothing was changed: {}.", parts.join("; "))
        }
        TicketError::Stale => {
            "Someone changed this ticket meanwhile. Nothing was saved; look again and retry.".into()
        }
        TicketError::Refused(message) => message,
        TicketError::Rejected(message) => format!("The ticket was not created: {message}"),
        TicketError::NotFound => return Err(PageError::NotFound),
        TicketError::Store(error) => return Err(error.into()),
    })
}

// ------------------------------------------------------------------------------------------
// Queues
// ------------------------------------------------------------------------------------------

struct QueueLink {
    href: String,
    label: String,
    count: i64,
    current: bool,
}

struct Row {
    id: Uuid,
    number: i64,
    subject: String,
    requester: String,
    state: &'static str,
    status: String,
    priority: &'static str,
    assignee: String,
    updated: String,
    due: String,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "agent_tickets.html")]
struct QueuePage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    heading: String,
    queue: String,
    queues: Vec<QueueLink>,
    rows: Vec<Row>,
    next_page: Option<String>,
    errors: Vec<String>,
    notice: Option<String>,
    state: String,
    priority: String,
    /// The full-text search typed in the queue's search box.
    search: String,
    department: String,
    back: String,
    departments: Vec<(Uuid, String)>,
    agents: Vec<(Uuid, String)>,
    states: [TicketState; 4],
    priorities: [Priority; 4],
}

fn queue_href(queue: &str) -> String {
    format!("/agent/tickets?queue={queue}")
}

pub async fn queues(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let scope = scope_of(&agent)?;
    let pairs = pairs_of(raw.as_deref());
    let queue = match get(&pairs, "queue") {
        q if q.is_empty() => "mine".to_owned(),
        q => q,
    };
    let (state_filter, priority_filter, department_filter) = (
        get(&pairs, "state"),
        get(&pairs, "priority"),
        get(&pairs, "department"),
    );
    let now = Utc::now();
    let closed_since = now - Duration::days(RECENTLY_CLOSED_DAYS);
    let mut params: Vec<(String, String)> = Vec::new();
    let mut condition = None;
    let mut department_queue = None;
    let heading = match queue.as_str() {
        "mine" => {
            params.push(("assignee".into(), "me".into()));
            "My tickets".to_owned()
        }
        "teams" => {
            condition = Some(QueueCondition::TeamsOf(agent.agent.id));
            "My teams' tickets".to_owned()
        }
        "unassigned" => {
            params.push(("assignee".into(), "none".into()));
            "Unassigned".to_owned()
        }
        "open" => "All open".to_owned(),
        "overdue" => {
            params.push(("overdue".into(), "true".into()));
            "Overdue".to_owned()
        }
        "closed" => {
            condition = Some(QueueCondition::ClosedSince(closed_since));
            "Recently closed".to_owned()
        }
        other => match other
            .strip_prefix("department-")
            .and_then(|id| Uuid::parse_str(id).ok())
        {
            Some(id) => {
                department_queue = Some(id);
                params.push(("department".into(), id.to_string()));
                "Department".to_owned()
            }
            None => return Err(PageError::NotFound),
        },
    };
    if queue != "closed" {
        let states = if state_filter.is_empty() {
            "open,pending".to_owned()
        } else {
            state_filter.clone()
        };
        params.push(("state".into(), states));
    }
    if department_queue.is_none() {
        params.push(("department".into(), department_filter.clone()));
    }
    params.push(("priority".into(), priority_filter.clone()));
    let search = get(&pairs, "q");
    params.push(("q".into(), search.clone()));
    params.push(("cursor".into(), get(&pairs, "cursor")));

    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let departments = store::departments::list(&mut tx).await?;
    let agents = store::agents::list(&mut tx).await?;
    let counts = store::tickets::queue_counts(&mut tx, scope, agent.agent.id, closed_since).await?;
    let mut errors = Vec::new();
    let ticket_fields = store::custom_fields::active(&mut tx, FieldEntity::Ticket).await?;
    let (tickets, next) =
        match workflow::ticket_query(&params, Some(agent.agent.id), &ticket_fields) {
            Ok(query) => {
                let page = store::tickets::list_in_queue(&mut tx, scope, &query, condition).await?;
                (page.items, page.next)
            }
            Err(TicketError::Invalid(problems)) => {
                errors = problems
                    .into_iter()
                    .map(|(field, message)| format!("{field} {message}"))
                    .collect();
                (Vec::new(), None)
            }
            Err(other) => return Err(alert_of(other).map_or_else(|e| e, PageError::BadRequest)),
        };
    tx.commit().await?;

    let department_name: HashMap<Uuid, String> =
        departments.iter().map(|d| (d.id, d.name.clone())).collect();
    let heading = match department_queue {
        Some(id) => department_name
            .get(&id)
            .cloned()
            .ok_or(PageError::NotFound)?,
        None => heading,
    };
    let mut queues = vec![
        ("mine", "My tickets", counts.mine),
        ("teams", "My teams", counts.my_teams),
        ("unassigned", "Unassigned", counts.unassigned),
        ("open", "All open", counts.open),
        ("overdue", "Overdue", counts.overdue),
        ("closed", "Recently closed", counts.recently_closed),
    ]
    .into_iter()
    .map(|(key, label, count)| QueueLink {
        href: queue_href(key),
        label: label.to_owned(),
        count,
        current: queue == key,
    })
    .collect::<Vec<_>>();
    // Departments the agent sees: theirs (or every one for tickets.all), plus any holding a
    // ticket they see through an assignment.
    let visible: Vec<Uuid> = match scope {
        TicketScope::All => departments.iter().map(|d| d.id).collect(),
        TicketScope::Agent(me) => departments
            .iter()
            .filter(|d| {
                d.agent_ids.contains(&me) || counts.departments.iter().any(|(id, _)| *id == d.id)
            })
            .map(|d| d.id)
            .collect(),
    };
    for department in departments.iter().filter(|d| visible.contains(&d.id)) {
        let key = format!("department-{}", department.id);
        queues.push(QueueLink {
            href: queue_href(&key),
            label: department.name.clone(),
            count: counts
                .departments
                .iter()
                .find(|(id, _)| *id == department.id)
                .map_or(0, |(_, n)| *n),
            current: queue == key,
        });
    }
    let rows = tickets
        .iter()
        .map(|t| Row {
            id: t.id,
            number: t.number,
            subject: t.subject.clone(),
            requester: t.requester.name.clone(),
            state: t.state.as_str(),
            status: t
                .status
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_default(),
            priority: t.priority.as_str(),
            assignee: assignee_text(t),
            updated: when(t.updated_at),
            due: t.resolution_due_at.map(when).unwrap_or_default(),
            overdue: t.overdue(now),
        })
        .collect();
    let kept: Vec<(String, String)> = pairs
        .iter()
        .filter(|(n, v)| {
            !v.is_empty()
                && matches!(
                    n.as_str(),
                    "queue" | "state" | "priority" | "department" | "q"
                )
        })
        .cloned()
        .collect();
    let back = format!(
        "/agent/tickets?{}",
        serde_urlencoded::to_string(&kept).unwrap_or_default()
    );
    let next_page = next.map(|after| {
        let mut with_cursor = kept.clone();
        with_cursor.push(("cursor".into(), after.encode()));
        format!(
            "/agent/tickets?{}",
            serde_urlencoded::to_string(&with_cursor).unwrap_or_default()
        )
    });
    let notice = match get(&pairs, "done").as_str() {
        "bulk" => {
            let changed = get(&pairs, "changed");
            let refused = get(&pairs, "refused");
            let mut text = format!("{} ticket(s) changed.", changed.parse::<u32>().unwrap_or(0));
            let numbers: Vec<String> = refused
                .split(',')
                .filter_map(|n| n.parse::<i64>().ok())
                .map(|n| format!("#{n}"))
                .collect();
            if !numbers.is_empty() {
                text.push_str(&format!(" Refused: {}.", numbers.join(", ")));
            }
            Some(text)
        }
        _ => None,
    };
    render(&QueuePage {
        brand: Brand::from(&settings),
        section: "tickets",
        csrf: &csrf,
        heading,
        queue,
        queues,
        rows,
        next_page,
        errors,
        notice,
        state: state_filter,
        priority: priority_filter,
        department: department_filter,
        search,
        back,
        departments: departments.iter().map(|d| (d.id, d.name.clone())).collect(),
        agents: agents
            .iter()
            .filter(|a| a.status.as_str() != "disabled")
            .map(|a| (a.id, a.name.clone()))
            .collect(),
        states: TicketState::ALL,
        priorities: Priority::ALL,
    })
    .map(IntoResponse::into_response)
}

fn assignee_text(ticket: &Ticket) -> String {
    match (&ticket.assignee_agent, &ticket.assignee_team) {
        (Some(a), Some(t)) => format!("{} ({})", a.name, t.name),
        (Some(a), None) => a.name.clone(),
        (None, Some(t)) => t.name.clone(),
        (None, None) => String::new(),
    }
}

#[derive(Deserialize)]
pub struct BulkForm {
    #[serde(default)]
    ticket: Vec<Uuid>,
    #[serde(default)]
    action: String,
    #[serde(default)]
    agent: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    back: String,
}

/// Applies one change to every selected ticket, each through the workflow; the queue then
/// reports how many changed and which were refused.
pub async fn bulk(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfForm(form): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let scope = scope_of(&agent)?;
    let form = BulkForm {
        ticket: form
            .iter()
            .filter(|(n, _)| n == "ticket")
            .filter_map(|(_, v)| Uuid::parse_str(v).ok())
            .collect(),
        action: get(&form, "action"),
        agent: get(&form, "agent"),
        state: get(&form, "state"),
        department: get(&form, "department"),
        back: get(&form, "back"),
    };
    let mut changes = TicketChanges::default();
    match form.action.as_str() {
        "assign" => {
            changes.assignee_agent_id = Some(if form.agent.is_empty() {
                None
            } else {
                Some(Uuid::parse_str(&form.agent).map_err(|_| {
                    PageError::BadRequest("agent must be the id of an agent".into())
                })?)
            });
        }
        "state" => {
            changes.state = Some(TicketState::parse(&form.state).ok_or_else(|| {
                PageError::BadRequest("state must be open, pending, resolved or closed".into())
            })?);
        }
        "transfer" => {
            changes.department_id = Some(Uuid::parse_str(&form.department).map_err(|_| {
                PageError::BadRequest("department must be the id of a department".into())
            })?);
        }
        _ => {
            return Err(PageError::BadRequest(
                "action must be assign, state or transfer".into(),
            ));
        }
    }
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let mut changed = 0;
    let mut refused = Vec::new();
    for id in &form.ticket {
        let before = store::tickets::by_id(&mut tx, scope, *id).await?;
        let Some(before) = before else { continue };
        match workflow::change(
            &mut tx,
            scope,
            TicketActor::Agent(agent.agent.id),
            *id,
            None,
            &changes,
        )
        .await
        {
            Ok(after) if after.version != before.version => changed += 1,
            Ok(_) => {}
            Err(TicketError::Store(error)) => return Err(error.into()),
            Err(_) => refused.push(before.number.to_string()),
        }
    }
    tx.commit().await?;
    let back = if form.back.starts_with("/agent/tickets?") || form.back == "/agent/tickets" {
        form.back
    } else {
        "/agent/tickets?".to_owned()
    };
    let separator = if back.contains('?') { '&' } else { '?' };
    Ok(Redirect::to(&format!(
        "{back}{separator}done=bulk&changed={changed}&refused={}",
        refused.join(",")
    ))
    .into_response())
}

// ------------------------------------------------------------------------------------------
// The ticket page
// ------------------------------------------------------------------------------------------

struct ThreadItem {
    kind: &'static str,
    author: String,
    at: String,
    body_html: String,
    text: String,
}

struct FieldInput {
    name: String,
    label: String,
    value: String,
    shown: String,
}

#[derive(Template)]
#[template(path = "agent_ticket.html")]
struct TicketPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    t: Ticket,
    overdue: bool,
    first_response_overdue: bool,
    assignee: String,
    thread: Vec<ThreadItem>,
    collaborators: Vec<store::tickets::Collaborator>,
    others: Vec<(i64, String, &'static str)>,
    notice: Option<String>,
    alert: Option<String>,
    agents: Vec<(Uuid, String)>,
    teams: Vec<(Uuid, String)>,
    departments: Vec<(Uuid, String)>,
    statuses: Vec<(Uuid, String, &'static str)>,
    fields: Vec<FieldInput>,
    states: [TicketState; 4],
    priorities: [Priority; 4],
    sel_agent: String,
    sel_team: String,
    sel_status: String,
}

fn id_text(named: Option<&store::tickets::Named>) -> String {
    named.map(|n| n.id.to_string()).unwrap_or_default()
}

fn value_text(value: &Value, names: &HashMap<Uuid, String>) -> String {
    match value {
        Value::Null => "nothing".into(),
        Value::String(s) => Uuid::parse_str(s)
            .ok()
            .and_then(|id| names.get(&id).cloned())
            .unwrap_or_else(|| s.clone()),
        other => display_value(other),
    }
}

fn event_sentence(who: &str, event: &Value, names: &HashMap<Uuid, String>) -> String {
    let field = event["field"].as_str().unwrap_or("a field");
    let label = match field {
        "assignee_agent_id" => "the assigned agent".to_owned(),
        "assignee_team_id" => "the assigned team".to_owned(),
        "department_id" => "the department".to_owned(),
        "status_id" => "the status".to_owned(),
        "first_response_due_at" => "the first response due time".to_owned(),
        "resolution_due_at" => "the resolution due time".to_owned(),
        other => other
            .strip_prefix("custom.")
            .unwrap_or(other)
            .replace('_', " "),
    };
    let (from, to) = (&event["from"], &event["to"]);
    // A rule's change says which rule did what ("filter 'VIP' set priority high").
    if let Some(note) = event["note"].as_str().filter(|n| !n.is_empty()) {
        return if from.is_null() {
            note.to_owned()
        } else {
            format!("{note} (was {})", value_text(from, names))
        };
    }
    if field == "collaborators" {
        return match (from.is_null(), to.is_null()) {
            (true, _) => format!("{who} added {} in copy", value_text(to, names)),
            _ => format!("{who} removed {} from copy", value_text(from, names)),
        };
    }
    if from.is_null() {
        format!("{who} set {label} to {}", value_text(to, names))
    } else {
        format!(
            "{who} changed {label} from {} to {}",
            value_text(from, names),
            value_text(to, names)
        )
    }
}

async fn ticket_page(
    state: &AppState,
    agent: &SignedInAgent,
    csrf: &str,
    number: &str,
    notice: Option<String>,
    alert: Option<String>,
) -> Result<Response, PageError> {
    let scope = scope_of(agent)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let ticket = by_number(&mut tx, scope, number).await?;
    let settings = store::settings::load(&mut tx).await?;
    let entries = store::ticket_thread::thread(&mut tx, ticket.id).await?;
    let collaborators = store::tickets::collaborators(&mut tx, ticket.id).await?;
    let others = store::tickets::list(
        &mut tx,
        scope,
        &TicketQuery {
            requester: Some(ticket.requester.id),
            limit: 6,
            ..TicketQuery::default()
        },
    )
    .await?
    .items;
    let agents = store::agents::list(&mut tx).await?;
    let teams = store::teams::list(&mut tx).await?;
    let departments = store::departments::list(&mut tx).await?;
    let statuses = store::ticket_statuses::list(&mut tx).await?;
    let fields: Vec<FieldDefinition> =
        store::custom_fields::active(&mut tx, FieldEntity::Ticket).await?;
    // Users once in copy are named in events even after they left it.
    let mut former: HashMap<Uuid, String> = HashMap::new();
    for event in entries.iter().filter_map(|e| e.event.as_ref()) {
        if event["field"] != "collaborators" {
            continue;
        }
        for side in [&event["from"], &event["to"]] {
            if let Some(id) = side.as_str().and_then(|s| Uuid::parse_str(s).ok())
                && !former.contains_key(&id)
                && let Some(user) = store::user_directory::by_id(&mut tx, id).await?
            {
                former.insert(id, user.name);
            }
        }
    }
    tx.commit().await?;

    let mut names: HashMap<Uuid, String> = HashMap::new();
    names.extend(agents.iter().map(|a| (a.id, a.name.clone())));
    names.extend(teams.iter().map(|t| (t.id, t.name.clone())));
    names.extend(departments.iter().map(|d| (d.id, d.name.clone())));
    names.extend(statuses.iter().map(|s| (s.id, s.name.clone())));
    names.extend(collaborators.iter().map(|c| (c.id, c.name.clone())));
    names.extend(former);
    names.insert(ticket.requester.id, ticket.requester.name.clone());
    let thread = entries
        .iter()
        .map(|entry| {
            let author = entry
                .author_agent
                .as_ref()
                .or(entry.author_end_user.as_ref())
                .map_or_else(
                    || match &entry.event {
                        Some(event) if event.get("api_token_id").is_some() => {
                            "An API client".to_owned()
                        }
                        _ => "The system".to_owned(),
                    },
                    |n| n.name.clone(),
                );
            let kind = match entry.kind {
                EntryKind::Message => "message",
                EntryKind::Note => "note",
                EntryKind::Event => "event",
            };
            ThreadItem {
                kind,
                text: match &entry.event {
                    Some(event) => event_sentence(&author, event, &names),
                    None => String::new(),
                },
                // Stored bodies are sanitised on the way in; only this field is unescaped.
                body_html: entry.body_html.clone().unwrap_or_default(),
                author,
                at: when(entry.created_at),
            }
        })
        .collect();
    let now = Utc::now();
    render(&TicketPage {
        brand: Brand::from(&settings),
        section: "tickets",
        csrf,
        overdue: ticket.overdue(now),
        first_response_overdue: ticket.state.is_active()
            && ticket.first_responded_at.is_none()
            && ticket.first_response_due_at.is_some_and(|due| due < now),
        assignee: assignee_text(&ticket),
        thread,
        collaborators,
        others: others
            .iter()
            .filter(|o| o.id != ticket.id)
            .take(5)
            .map(|o| (o.number, o.subject.clone(), o.state.as_str()))
            .collect(),
        notice,
        alert,
        agents: agents
            .iter()
            .filter(|a| a.status.as_str() != "disabled")
            .map(|a| (a.id, a.name.clone()))
            .collect(),
        teams: teams.iter().map(|t| (t.id, t.name.clone())).collect(),
        departments: departments.iter().map(|d| (d.id, d.name.clone())).collect(),
        statuses: statuses
            .iter()
            .map(|s| (s.id, s.name.clone(), s.state.as_str()))
            .collect(),
        fields: fields
            .iter()
            .map(|f| {
                let stored = ticket.custom.get(&f.key);
                FieldInput {
                    name: format!("custom.{}", f.key),
                    label: f.label.clone(),
                    value: stored.map(text_value).unwrap_or_default(),
                    shown: stored.map(display_value).unwrap_or_default(),
                }
            })
            .collect(),
        states: TicketState::ALL,
        priorities: Priority::ALL,
        sel_agent: id_text(ticket.assignee_agent.as_ref()),
        sel_team: id_text(ticket.assignee_team.as_ref()),
        sel_status: id_text(ticket.status.as_ref()),
        t: ticket,
    })
    .map(IntoResponse::into_response)
}

pub async fn show(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(number): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let pairs = pairs_of(raw.as_deref());
    let notice = match get(&pairs, "done").as_str() {
        "created" => Some("The ticket is created."),
        "replied" => Some("Your reply is added."),
        "noted" => Some("Your internal note is added."),
        "assigned" => Some("The assignment is saved."),
        "transferred" => Some("The ticket is transferred."),
        "updated" => Some("State, status and priority are saved."),
        "fields" => Some("The fields are saved."),
        "collaborator-added" => Some("The user is in copy."),
        "collaborator-removed" => Some("The user is no longer in copy."),
        _ => None,
    }
    .map(str::to_owned);
    ticket_page(&state, &agent, &csrf, &number, notice, None).await
}

/// Commits and redirects back with a notice, or shows the page again with the refusal.
async fn finish(
    state: &AppState,
    agent: &SignedInAgent,
    csrf: &str,
    number: &str,
    tx: TenantTx,
    outcome: Result<(), TicketError>,
    done: &str,
) -> Result<Response, PageError> {
    match outcome {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/agent/tickets/{number}?done={done}")).into_response())
        }
        Err(error) => {
            drop(tx);
            let alert = alert_of(error)?;
            ticket_page(state, agent, csrf, number, None, Some(alert)).await
        }
    }
}

#[derive(Deserialize)]
pub struct BodyForm {
    #[serde(default)]
    body: String,
}

pub async fn reply(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(number): Path<String>,
    CsrfForm(form): CsrfForm<BodyForm>,
) -> Result<Response, PageError> {
    let scope = scope_of(&agent)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let ticket = by_number(&mut tx, scope, &number).await?;
    let signature = store::agents::profile(&mut tx, agent.agent.id)
        .await?
        .map(|p| p.signature)
        .unwrap_or_default();
    let outcome = if form.body.trim().is_empty() {
        Err(TicketError::Invalid(vec![(
            "reply".into(),
            "is empty".into(),
        )]))
    } else {
        let text = if signature.trim().is_empty() {
            form.body.clone()
        } else {
            format!("{}\n\n-- \n{}", form.body.trim_end(), signature.trim())
        };
        match MessageBody::parse(&text, BodyFormat::Text) {
            Ok(body) => workflow::reply(
                &mut tx,
                scope,
                TicketActor::Agent(agent.agent.id),
                ticket.id,
                &body,
            )
            .await
            .map(|_| ()),
            Err(message) => Err(TicketError::Invalid(vec![("reply".into(), message.into())])),
        }
    };
    finish(&state, &agent, &csrf, &number, tx, outcome, "replied").await
}

pub async fn note(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(number): Path<String>,
    CsrfForm(form): CsrfForm<BodyForm>,
) -> Result<Response, PageError> {
    let scope = scope_of(&agent)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let ticket = by_number(&mut tx, scope, &number).await?;
    let outcome = match MessageBody::parse(&form.body, BodyFormat::Text) {
        Ok(body) => workflow::note(
            &mut tx,
            scope,
            TicketActor::Agent(agent.agent.id),
            ticket.id,
            &body,
        )
        .await
        .map(|_| ()),
        Err(message) => Err(TicketError::Invalid(vec![("note".into(), message.into())])),
    };
    finish(&state, &agent, &csrf, &number, tx, outcome, "noted").await
}

/// An optional id from a select: empty is "none", anything else must be an id.
fn optional_id(
    form: &[(String, String)],
    name: &str,
    errors: &mut Vec<(String, String)>,
) -> Option<Uuid> {
    let raw = get(form, name);
    if raw.is_empty() {
        return None;
    }
    Uuid::parse_str(&raw)
        .map_err(|_| errors.push((name.to_owned(), "is not an id".into())))
        .ok()
}

/// One change through the workflow, from a form on the ticket page.
async fn change_ticket(
    state: AppState,
    agent: SignedInAgent,
    csrf: String,
    number: String,
    changes: TicketChanges,
    done: &str,
) -> Result<Response, PageError> {
    let scope = scope_of(&agent)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let ticket = by_number(&mut tx, scope, &number).await?;
    let outcome = workflow::change(
        &mut tx,
        scope,
        TicketActor::Agent(agent.agent.id),
        ticket.id,
        None,
        &changes,
    )
    .await
    .map(|_| ());
    finish(&state, &agent, &csrf, &number, tx, outcome, done).await
}

pub async fn assign(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(number): Path<String>,
    CsrfForm(form): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let mut changes = TicketChanges::default();
    changes.assignee_agent_id = Some(optional_id(&form, "assignee_agent_id", &mut changes.errors));
    changes.assignee_team_id = Some(optional_id(&form, "assignee_team_id", &mut changes.errors));
    change_ticket(state, agent, csrf, number, changes, "assigned").await
}

pub async fn transfer(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(number): Path<String>,
    CsrfForm(form): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let mut changes = TicketChanges::default();
    match optional_id(&form, "department_id", &mut changes.errors) {
        Some(id) => changes.department_id = Some(id),
        None => changes
            .errors
            .push(("department_id".into(), "is required".into())),
    }
    change_ticket(state, agent, csrf, number, changes, "transferred").await
}

pub async fn update(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(number): Path<String>,
    CsrfForm(form): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let mut changes = TicketChanges::default();
    let raw_state = get(&form, "state");
    if !raw_state.is_empty() {
        match TicketState::parse(&raw_state) {
            Some(s) => changes.state = Some(s),
            None => changes.errors.push((
                "state".into(),
                "must be open, pending, resolved or closed".into(),
            )),
        }
    }
    // A status is only sent when one is picked; "keep" leaves the workflow's rule in charge.
    let raw_status = get(&form, "status_id");
    if !raw_status.is_empty() {
        changes.status_id = Some(optional_id(&form, "status_id", &mut changes.errors));
    }
    let raw_priority = get(&form, "priority");
    if !raw_priority.is_empty() {
        match Priority::parse(&raw_priority) {
            Some(p) => changes.priority = Some(p),
            None => changes.errors.push((
                "priority".into(),
                "must be low, normal, high or urgent".into(),
            )),
        }
    }
    change_ticket(state, agent, csrf, number, changes, "updated").await
}

pub async fn fields(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(number): Path<String>,
    CsrfForm(form): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let definitions = store::custom_fields::active(&mut tx, FieldEntity::Ticket).await?;
    tx.commit().await?;
    let mut changes = TicketChanges::default();
    let mut custom = Map::new();
    for field in &definitions {
        let name = format!("custom.{}", field.key);
        if !form.iter().any(|(n, _)| *n == name) {
            continue;
        }
        match domain::custom_fields::parse_text_value(field, &get(&form, &name)) {
            Ok(value) => {
                custom.insert(field.key.clone(), value);
            }
            Err(message) => changes.errors.push((field.label.clone(), message)),
        }
    }
    changes.custom = Some(custom);
    change_ticket(state, agent, csrf, number, changes, "fields").await
}

#[derive(Deserialize)]
pub struct CollaboratorForm {
    #[serde(default)]
    email: String,
}

pub async fn add_collaborator(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(number): Path<String>,
    CsrfForm(form): CsrfForm<CollaboratorForm>,
) -> Result<Response, PageError> {
    let scope = scope_of(&agent)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let ticket = by_number(&mut tx, scope, &number).await?;
    let user = store::user_directory::by_email(&mut tx, form.email.trim()).await?;
    let outcome = match user {
        None => Err(TicketError::Refused(format!(
            "No user of this workspace has the email address \"{}\".",
            form.email.trim()
        ))),
        Some(user) => workflow::add_collaborator(
            &mut tx,
            scope,
            TicketActor::Agent(agent.agent.id),
            ticket.id,
            user.id,
        )
        .await
        .map(|_| ()),
    };
    finish(
        &state,
        &agent,
        &csrf,
        &number,
        tx,
        outcome,
        "collaborator-added",
    )
    .await
}

pub async fn remove_collaborator(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path((number, user)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<crate::pages::agent::EmptyForm>,
) -> Result<Response, PageError> {
    let scope = scope_of(&agent)?;
    let user = Uuid::parse_str(&user).map_err(|_| PageError::NotFound)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let ticket = by_number(&mut tx, scope, &number).await?;
    let outcome = workflow::remove_collaborator(
        &mut tx,
        scope,
        TicketActor::Agent(agent.agent.id),
        ticket.id,
        user,
    )
    .await;
    finish(
        &state,
        &agent,
        &csrf,
        &number,
        tx,
        outcome,
        "collaborator-removed",
    )
    .await
}

// ------------------------------------------------------------------------------------------
// New (phone) ticket
// ------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "agent_ticket_new.html")]
struct NewPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    values: Vec<(String, String)>,
    errors: Vec<(String, String)>,
    alert: Option<String>,
    departments: Vec<(Uuid, String)>,
    topics: Vec<(Uuid, String)>,
    agents: Vec<(Uuid, String)>,
    priorities: [Priority; 4],
    /// The custom ticket fields the chosen help topic asks for, in its order.
    fields: Vec<TopicField>,
}

/// One custom field on the phone-ticket form.
struct TopicField {
    name: String,
    label: String,
    help: String,
    required: bool,
    options: Vec<String>,
}

impl NewPage<'_> {
    fn value(&self, name: &str) -> String {
        get(&self.values, name)
    }
    fn error(&self, name: &str) -> String {
        let found: Vec<&str> = self
            .errors
            .iter()
            .filter(|(f, _)| f == name)
            .map(|(_, m)| m.as_str())
            .collect();
        found.join("; ")
    }
}

async fn new_page(
    state: &AppState,
    agent: &SignedInAgent,
    csrf: &str,
    values: Vec<(String, String)>,
    errors: Vec<(String, String)>,
) -> Result<Response, PageError> {
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let departments = store::departments::list(&mut tx).await?;
    let topics = store::help_topics::list(&mut tx).await?;
    let agents = store::agents::list(&mut tx).await?;
    let fields = topic_fields(&mut tx, &topics, &get(&values, "help_topic_id")).await?;
    tx.commit().await?;
    let alert = (!errors.is_empty()).then(|| {
        "The ticket was not created. Correct the fields marked below and try again.".to_owned()
    });
    render(&NewPage {
        brand: Brand::from(&settings),
        section: "tickets",
        csrf,
        values,
        errors,
        alert,
        departments: departments.iter().map(|d| (d.id, d.name.clone())).collect(),
        topics: topics.iter().map(|t| (t.id, t.name.clone())).collect(),
        agents: agents
            .iter()
            .filter(|a| a.status.as_str() != "disabled")
            .map(|a| (a.id, a.name.clone()))
            .collect(),
        priorities: Priority::ALL,
        fields: fields
            .into_iter()
            .map(|f| TopicField {
                name: format!("custom.{}", f.key),
                label: f.label,
                help: f.help_text,
                required: f.required,
                options: f.options,
            })
            .collect(),
    })
    .map(IntoResponse::into_response)
}

/// The active custom ticket fields the help topic `topic_id` (as typed in the form) asks for,
/// in the topic's order; none without a topic.
async fn topic_fields(
    tx: &mut TenantTx,
    topics: &[store::help_topics::HelpTopic],
    topic_id: &str,
) -> Result<Vec<FieldDefinition>, PageError> {
    let Some(topic) = Uuid::parse_str(topic_id)
        .ok()
        .and_then(|id| topics.iter().find(|t| t.id == id))
    else {
        return Ok(Vec::new());
    };
    let definitions = store::custom_fields::active(tx, FieldEntity::Ticket).await?;
    Ok(topic
        .field_ids
        .iter()
        .filter_map(|id| definitions.iter().find(|d| d.id == *id).cloned())
        .collect())
}

pub async fn new_form(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
) -> Result<Response, PageError> {
    scope_of(&agent)?;
    new_page(&state, &agent, &csrf, Vec::new(), Vec::new()).await
}

pub async fn create(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    CsrfForm(form): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let scope = scope_of(&agent)?;
    let mut values: Vec<(String, String)> = form.into_iter().filter(|(n, _)| n != "csrf").collect();
    // "Show the topic's fields" (the form works without JavaScript): the same form again,
    // values kept, with the chosen topic's fields.
    if get(&values, "show_fields") == "1" {
        values.retain(|(n, _)| n != "show_fields");
        return new_page(&state, &agent, &csrf, values, Vec::new()).await;
    }
    let mut errors = Vec::new();
    let mut custom = Map::new();
    {
        let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
        let topics = store::help_topics::list(&mut tx).await?;
        let fields = topic_fields(&mut tx, &topics, &get(&values, "help_topic_id")).await?;
        tx.commit().await?;
        for field in &fields {
            let name = format!("custom.{}", field.key);
            let raw = get(&values, &name);
            if raw.trim().is_empty() {
                continue;
            }
            match domain::custom_fields::parse_text_value(field, &raw) {
                Ok(value) => {
                    custom.insert(field.key.clone(), value);
                }
                Err(message) => errors.push((name, message)),
            }
        }
    }
    let requester = match EmailAddress::parse(&get(&values, "requester")) {
        Ok(email) => Some(RequesterInput::Email {
            email,
            name: Some(get(&values, "requester_name")).filter(|n| !n.is_empty()),
        }),
        Err(_) => {
            errors.push(("requester".into(), "must be an email address".into()));
            None
        }
    };
    let department_id = optional_id(&values, "department_id", &mut errors);
    let help_topic_id = optional_id(&values, "help_topic_id", &mut errors);
    let assignee_agent_id = optional_id(&values, "assignee_agent_id", &mut errors);
    let priority = match get(&values, "priority").as_str() {
        "" => None,
        raw => {
            let parsed = Priority::parse(raw);
            if parsed.is_none() {
                errors.push((
                    "priority".into(),
                    "must be low, normal, high or urgent".into(),
                ));
            }
            parsed
        }
    };
    let input = NewTicketInput {
        subject: get(&values, "subject"),
        message: get(&values, "message"),
        format: BodyFormat::Text,
        requester,
        department_id,
        help_topic_id,
        priority,
        assignee_agent_id,
        assignee_team_id: None,
        collaborators: Vec::new(),
        custom,
        source: Source::Agent,
        idempotency_key: None,
        errors,
    };
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    match workflow::create(&mut tx, TicketActor::Agent(agent.agent.id), &input).await {
        Ok(ticket) => {
            // The agent must be able to open what they made; out of scope, go to the queues.
            let visible = store::tickets::by_id(&mut tx, scope, ticket.id)
                .await?
                .is_some();
            tx.commit().await?;
            let to = if visible {
                format!("/agent/tickets/{}?done=created", ticket.number)
            } else {
                "/agent/tickets?queue=open".to_owned()
            };
            Ok(Redirect::to(&to).into_response())
        }
        Err(TicketError::Invalid(errors)) => {
            drop(tx);
            new_page(&state, &agent, &csrf, values, errors).await
        }
        Err(other) => {
            drop(tx);
            let alert = alert_of(other)?;
            new_page(&state, &agent, &csrf, values, vec![("form".into(), alert)]).await
        }
    }
}
