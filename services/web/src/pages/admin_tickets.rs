//! `/admin/departments`, `/admin/teams`, `/admin/sla-plans`, `/admin/help-topics`,
//! `/admin/statuses`, `/admin/business-hours` and `/admin/ticket-settings`: the help desk's
//! configuration for agents whose role holds [`Permission::HelpdeskConfigure`]. Each list page
//! has an add form, each record an edit page and a delete button; forms follow
//! post/redirect/get and show errors beside their fields. The rules are the API's, from one
//! place: a form becomes the JSON body the API takes and goes through the same `*_in`
//! functions, so a page can accept nothing the API would refuse. Another tenant's ids answer
//! the 404 page, exactly like ids that do not exist.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use domain::Permission;
use domain::custom_fields::FieldEntity;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use store::TenantTx;
use store::departments::Priority;
use store::ticket_statuses::State as TicketState;
use uuid::Uuid;

use crate::AppState;
use crate::api;
use crate::auth::SignedInAgent;
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::error::{ApiError, PageError};
use crate::invalidation::{Invalidation, announce};
use crate::pages::{Brand, render};

fn allowed(agent: SignedInAgent) -> Result<SignedInAgent, PageError> {
    agent.require(Permission::HelpdeskConfigure)?;
    Ok(agent)
}

/// A form as sent: every name with its values (unchecked boxes are absent).
#[derive(Deserialize)]
#[serde(transparent)]
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    fn text(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.replace("\r\n", "\n"))
            .unwrap_or_default()
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .collect()
    }

    fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(key, _)| key == name)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum InputKind {
    Text,
    Number,
    TextArea,
    Select,
    Checkbox,
    Checkboxes,
}

struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// One input of a form, with its value as entered (or stored) and its error.
struct Input {
    name: &'static str,
    label: &'static str,
    kind: InputKind,
    value: String,
    choices: Vec<Choice>,
    hint: &'static str,
    error: Option<String>,
}

impl Input {
    fn new(name: &'static str, label: &'static str, kind: InputKind, value: String) -> Self {
        Self {
            name,
            label,
            kind,
            value,
            choices: Vec::new(),
            hint: "",
            error: None,
        }
    }

    fn hint(mut self, hint: &'static str) -> Self {
        self.hint = hint;
        self
    }

    /// A select (or checkboxes) over `choices` of (value, label); `none` adds an empty first
    /// choice with that label.
    fn choose(
        mut self,
        choices: Vec<(String, String)>,
        selected: &[String],
        none: Option<&str>,
    ) -> Self {
        if let Some(none) = none {
            self.choices.push(Choice {
                value: String::new(),
                label: none.to_owned(),
                selected: selected.iter().all(String::is_empty),
            });
        }
        self.choices
            .extend(choices.into_iter().map(|(value, label)| Choice {
                selected: selected.contains(&value),
                value,
                label,
            }));
        self
    }

    /// The input's kind, as the template tells them apart.
    fn kind_name(&self) -> &'static str {
        match self.kind {
            InputKind::Text => "text",
            InputKind::Number => "number",
            InputKind::TextArea => "textarea",
            InputKind::Select => "select",
            InputKind::Checkbox => "checkbox",
            InputKind::Checkboxes => "checkboxes",
        }
    }

    fn checked(&self) -> bool {
        self.value == "on"
    }
}

struct Row {
    cells: Vec<String>,
    href: Option<String>,
    delete: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_tickets_page.html")]
struct ConfigPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    title: String,
    intro: &'static str,
    notice: Option<String>,
    headers: Vec<&'static str>,
    rows: Vec<Row>,
    form_title: String,
    action: String,
    inputs: Vec<Input>,
    submit: &'static str,
    /// A problem with the form as a whole (someone saved in between, still in use).
    alert: Option<String>,
    /// Whether the form was sent back with errors.
    failed: bool,
    version: Option<i64>,
    delete_action: Option<String>,
    back: Option<String>,
}

/// The record lists with an add form and an edit page each.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Resource {
    Departments,
    Teams,
    SlaPlans,
    HelpTopics,
    Statuses,
}

impl Resource {
    fn of(uri: &Uri) -> Result<Self, PageError> {
        match uri.path().trim_start_matches("/admin/").split('/').next() {
            Some("departments") => Ok(Self::Departments),
            Some("teams") => Ok(Self::Teams),
            Some("sla-plans") => Ok(Self::SlaPlans),
            Some("help-topics") => Ok(Self::HelpTopics),
            Some("statuses") => Ok(Self::Statuses),
            _ => Err(PageError::NotFound),
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Self::Departments => "departments",
            Self::Teams => "teams",
            Self::SlaPlans => "sla-plans",
            Self::HelpTopics => "help-topics",
            Self::Statuses => "statuses",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::Departments => "Departments",
            Self::Teams => "Teams",
            Self::SlaPlans => "SLA plans",
            Self::HelpTopics => "Help topics",
            Self::Statuses => "Ticket statuses",
        }
    }

    fn singular(self) -> &'static str {
        match self {
            Self::Departments => "department",
            Self::Teams => "team",
            Self::SlaPlans => "SLA plan",
            Self::HelpTopics => "help topic",
            Self::Statuses => "status",
        }
    }

    fn intro(self) -> &'static str {
        match self {
            Self::Departments => {
                "Departments (queues) hold tickets. Agents see the tickets of the departments they belong to; new tickets without one go to the default department (see Ticket settings)."
            }
            Self::Teams => {
                "Teams group agents so tickets can be assigned to the team as a whole; a team can also be an organization's account manager."
            }
            Self::SlaPlans => {
                "SLA plans set when the first reply and the resolution of a ticket are due, counted in business hours or around the clock."
            }
            Self::HelpTopics => {
                "Help topics are what end users pick when they open a ticket: each sends its tickets to a department with its own priority, SLA plan and assignee."
            }
            Self::Statuses => {
                "Every ticket is open, pending, resolved or closed. Add your own statuses within those states, such as Waiting for parts within pending."
            }
        }
    }

    fn headers(self) -> Vec<&'static str> {
        match self {
            Self::Departments => vec!["Name", "Email alias", "Priority", "Agents"],
            Self::Teams => vec!["Name", "Members"],
            Self::SlaPlans => vec!["Name", "First response", "Resolution", "Counts"],
            Self::HelpTopics => vec!["Name", "Department", "Offered to"],
            Self::Statuses => vec!["Name", "State"],
        }
    }
}

/// What the forms choose from: this tenant's agents, groups, departments, plans, teams,
/// topics and ticket fields, as (id, label).
#[derive(Default)]
struct Lookups {
    agents: Vec<(String, String)>,
    groups: Vec<(String, String)>,
    departments: Vec<(String, String)>,
    plans: Vec<(String, String)>,
    teams: Vec<(String, String)>,
    topics: Vec<(String, String)>,
    fields: Vec<(String, String)>,
}

impl Lookups {
    async fn load(tx: &mut TenantTx) -> Result<Self, PageError> {
        let pairs = |items: Vec<(Uuid, String)>| {
            items
                .into_iter()
                .map(|(id, label)| (id.to_string(), label))
                .collect()
        };
        Ok(Self {
            agents: pairs(
                store::agents::list(tx)
                    .await?
                    .into_iter()
                    .map(|a| (a.id, format!("{} <{}>", a.name, a.email)))
                    .collect(),
            ),
            groups: pairs(
                store::customer_groups::list(tx)
                    .await?
                    .into_iter()
                    .map(|g| (g.id, g.name))
                    .collect(),
            ),
            departments: pairs(
                store::departments::list(tx)
                    .await?
                    .into_iter()
                    .map(|d| (d.id, d.name))
                    .collect(),
            ),
            plans: pairs(
                store::sla_plans::list(tx)
                    .await?
                    .into_iter()
                    .map(|p| (p.id, p.name))
                    .collect(),
            ),
            teams: pairs(
                store::teams::list(tx)
                    .await?
                    .into_iter()
                    .map(|t| (t.id, t.name))
                    .collect(),
            ),
            topics: pairs(
                store::help_topics::list(tx)
                    .await?
                    .into_iter()
                    .map(|t| (t.id, t.name))
                    .collect(),
            ),
            fields: pairs(
                store::custom_fields::list(tx, FieldEntity::Ticket, false)
                    .await?
                    .into_iter()
                    .map(|f| (f.id, f.label))
                    .collect(),
            ),
        })
    }

    fn name_of(list: &[(String, String)], id: &str) -> String {
        list.iter()
            .find(|(value, _)| value == id)
            .map(|(_, label)| label.clone())
            .unwrap_or_default()
    }
}

fn priorities() -> Vec<(String, String)> {
    Priority::ALL
        .into_iter()
        .map(|p| {
            (
                p.as_str().to_owned(),
                sentence(p.as_str()).trim_end_matches('.').to_owned(),
            )
        })
        .collect()
}

fn id_text(id: Option<Uuid>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

fn on(value: bool) -> String {
    if value { "on" } else { "" }.to_owned()
}

/// The form's inputs for `resource`, holding `values` by input name.
fn inputs(resource: Resource, lookups: &Lookups, values: &Map<String, Value>) -> Vec<Input> {
    use InputKind::*;
    let text = |name: &str| match values.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => on(*b),
        _ => String::new(),
    };
    let list = |name: &str| -> Vec<String> {
        match values.get(name) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    match resource {
        Resource::Departments => vec![
            Input::new("name", "Name", Text, text("name")),
            Input::new("description", "Description", TextArea, text("description")),
            Input::new("email_alias", "Email alias", Text, text("email_alias"))
                .hint("Optional: the address mail for this department will arrive at."),
            Input::new("default_priority", "Default priority", Select, text("default_priority"))
                .choose(priorities(), &[text("default_priority")], None),
            Input::new("customer_group_id", "Customer group", Select, String::new())
                .choose(lookups.groups.clone(), &[text("customer_group_id")], Some("None: every end user"))
                .hint("End users need read and write on it to open tickets here, read only to see them."),
            Input::new("manager_agent_id", "Manager", Select, String::new())
                .choose(lookups.agents.clone(), &[text("manager_agent_id")], Some("No manager")),
            Input::new("agent_ids", "Agents who belong", Checkboxes, String::new())
                .choose(lookups.agents.clone(), &list("agent_ids"), None),
        ],
        Resource::Teams => vec![
            Input::new("name", "Name", Text, text("name")),
            Input::new("lead_agent_id", "Lead", Select, String::new())
                .choose(lookups.agents.clone(), &[text("lead_agent_id")], Some("No lead")),
            Input::new("member_ids", "Members", Checkboxes, String::new())
                .choose(lookups.agents.clone(), &list("member_ids"), None),
        ],
        Resource::SlaPlans => vec![
            Input::new("name", "Name", Text, text("name")),
            Input::new("first_response_hours", "First response within (hours)", Number, text("first_response_hours"))
                .hint("Leave empty for no first-response target."),
            Input::new("resolution_hours", "Resolution within (hours)", Number, text("resolution_hours"))
                .hint("Leave empty for no resolution target."),
            Input::new("business_hours_only", "Count business hours only", Checkbox, text("business_hours_only"))
                .hint("Otherwise the clock runs around the clock."),
            Input::new("pause_while_pending", "Pause while pending on the customer", Checkbox, text("pause_while_pending")),
        ],
        Resource::HelpTopics => vec![
            Input::new("name", "Name", Text, text("name")),
            Input::new("parent_id", "Parent topic", Select, String::new())
                .choose(lookups.topics.clone(), &[text("parent_id")], Some("None: a top-level topic")),
            Input::new("department_id", "Department", Select, String::new())
                .choose(lookups.departments.clone(), &[text("department_id")], None),
            Input::new("default_priority", "Priority", Select, String::new())
                .choose(priorities(), &[text("default_priority")], Some("The department's")),
            Input::new("sla_plan_id", "SLA plan", Select, String::new())
                .choose(lookups.plans.clone(), &[text("sla_plan_id")], Some("No SLA plan")),
            Input::new("auto_assign_agent_id", "Assign to agent", Select, String::new())
                .choose(lookups.agents.clone(), &[text("auto_assign_agent_id")], Some("Nobody")),
            Input::new("auto_assign_team_id", "Assign to team", Select, String::new())
                .choose(lookups.teams.clone(), &[text("auto_assign_team_id")], Some("No team"))
                .hint("An agent or a team, not both."),
            Input::new("public", "Offered in the portal", Checkbox, text("public")),
            Input::new("for_everyone", "For every end user", Checkbox, text("for_everyone"))
                .hint("Otherwise only for the end users, organizations and groups granted it (through the API)."),
            Input::new("autoresponse", "Send the new-ticket autoresponse", Checkbox, text("autoresponse")),
            Input::new("field_ids", "Ticket fields it asks for", Checkboxes, String::new())
                .choose(lookups.fields.clone(), &list("field_ids"), None),
            Input::new("position", "Position", Number, text("position")),
        ],
        Resource::Statuses => vec![
            Input::new("name", "Name", Text, text("name")),
            Input::new("state", "Within the state", Select, String::new()).choose(
                TicketState::ALL
                    .into_iter()
                    .map(|s| (s.as_str().to_owned(), s.label().to_owned()))
                    .collect(),
                &[text("state")],
                None,
            ),
            Input::new("position", "Position", Number, text("position")),
        ],
    }
}

/// The record's stored values, by input name.
async fn stored_values(
    tx: &mut TenantTx,
    resource: Resource,
    id: Uuid,
) -> Result<(Map<String, Value>, i64), PageError> {
    let ids = |ids: &[Uuid]| json!(ids.iter().map(Uuid::to_string).collect::<Vec<_>>());
    let (value, version) = match resource {
        Resource::Departments => {
            let d = store::departments::by_id(tx, id)
                .await?
                .ok_or(PageError::NotFound)?;
            (
                json!({"name": d.name, "description": d.description, "email_alias": d.email_alias.unwrap_or_default(),
                       "default_priority": d.default_priority.as_str(), "customer_group_id": id_text(d.customer_group_id),
                       "manager_agent_id": id_text(d.manager_agent_id), "agent_ids": ids(&d.agent_ids)}),
                d.version,
            )
        }
        Resource::Teams => {
            let t = store::teams::by_id(tx, id)
                .await?
                .ok_or(PageError::NotFound)?;
            (
                json!({"name": t.name, "lead_agent_id": id_text(t.lead_agent_id), "member_ids": ids(&t.member_ids)}),
                t.version,
            )
        }
        Resource::SlaPlans => {
            let p = store::sla_plans::by_id(tx, id)
                .await?
                .ok_or(PageError::NotFound)?;
            (
                json!({"name": p.name, "first_response_hours": p.first_response_hours.map(|h| h.to_string()).unwrap_or_default(),
                       "resolution_hours": p.resolution_hours.map(|h| h.to_string()).unwrap_or_default(),
                       "business_hours_only": p.business_hours_only, "pause_while_pending": p.pause_while_pending}),
                p.version,
            )
        }
        Resource::HelpTopics => {
            let t = store::help_topics::by_id(tx, id)
                .await?
                .ok_or(PageError::NotFound)?;
            (
                json!({"name": t.name, "parent_id": id_text(t.parent_id), "department_id": t.department_id.to_string(),
                       "default_priority": t.default_priority.map(Priority::as_str).unwrap_or_default(),
                       "sla_plan_id": id_text(t.sla_plan_id), "auto_assign_agent_id": id_text(t.auto_assign_agent_id),
                       "auto_assign_team_id": id_text(t.auto_assign_team_id), "public": t.public,
                       "for_everyone": t.for_everyone, "autoresponse": t.autoresponse, "field_ids": ids(&t.field_ids),
                       "position": t.position}),
                t.version,
            )
        }
        Resource::Statuses => {
            let s = store::ticket_statuses::by_id(tx, id)
                .await?
                .ok_or(PageError::NotFound)?;
            (
                json!({"name": s.name, "state": s.state.as_str(), "position": s.position}),
                s.version,
            )
        }
    };
    let Value::Object(map) = value else {
        unreachable!("a JSON object literal")
    };
    Ok((map, version))
}

/// A new record's form values.
fn defaults(resource: Resource) -> Map<String, Value> {
    let value = match resource {
        Resource::Departments => json!({"default_priority": "normal"}),
        Resource::SlaPlans => json!({"business_hours_only": true, "pause_while_pending": true}),
        Resource::HelpTopics => json!({"public": true, "for_everyone": true, "autoresponse": true}),
        Resource::Statuses => json!({"state": "open"}),
        Resource::Teams => json!({}),
    };
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The form as entered, by input name (for showing it again).
fn entered(resource: Resource, form: &FormFields, lookups: &Lookups) -> Map<String, Value> {
    let mut map = Map::new();
    for input in inputs(resource, lookups, &Map::new()) {
        let value = match input.kind {
            InputKind::Checkbox => Value::Bool(form.checked(input.name)),
            InputKind::Checkboxes => json!(form.all(input.name)),
            _ => Value::String(form.text(input.name)),
        };
        map.insert(input.name.to_owned(), value);
    }
    map
}

/// The JSON body the API takes for this form. Empty optional inputs are null; numbers that do
/// not parse are passed on as text so the API's message names them. Membership boxes are not
/// part of the body (`memberships` handles them).
fn body_of(resource: Resource, form: &FormFields, editing: bool) -> Value {
    let mut body = Map::new();
    let text = |name: &str| Value::String(form.text(name));
    let nullable = |name: &str| {
        let raw = form.text(name);
        if raw.trim().is_empty() {
            Value::Null
        } else {
            Value::String(raw)
        }
    };
    let number = |name: &str| {
        let raw = form.text(name);
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            Value::Null
        } else {
            trimmed
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::String(raw))
        }
    };
    let boolean = |name: &str| Value::Bool(form.checked(name));
    let mut put = |name: &str, value: Value| {
        body.insert(name.to_owned(), value);
    };
    match resource {
        Resource::Departments => {
            put("name", text("name"));
            put("description", text("description"));
            put("email_alias", nullable("email_alias"));
            put("default_priority", text("default_priority"));
            put("customer_group_id", nullable("customer_group_id"));
            put("manager_agent_id", nullable("manager_agent_id"));
        }
        Resource::Teams => {
            put("name", text("name"));
            put("lead_agent_id", nullable("lead_agent_id"));
        }
        Resource::SlaPlans => {
            put("name", text("name"));
            put("first_response_hours", number("first_response_hours"));
            put("resolution_hours", number("resolution_hours"));
            put("business_hours_only", boolean("business_hours_only"));
            put("pause_while_pending", boolean("pause_while_pending"));
        }
        Resource::HelpTopics => {
            put("name", text("name"));
            put("parent_id", nullable("parent_id"));
            put("department_id", text("department_id"));
            put("default_priority", nullable("default_priority"));
            put("sla_plan_id", nullable("sla_plan_id"));
            put("auto_assign_agent_id", nullable("auto_assign_agent_id"));
            put("auto_assign_team_id", nullable("auto_assign_team_id"));
            put("public", boolean("public"));
            put("for_everyone", boolean("for_everyone"));
            put("autoresponse", boolean("autoresponse"));
            put("field_ids", json!(form.all("field_ids")));
            let position = number("position");
            put(
                "position",
                if position.is_null() {
                    Value::from(0)
                } else {
                    position
                },
            );
        }
        Resource::Statuses => {
            put("name", text("name"));
            put("state", text("state"));
            let position = number("position");
            put(
                "position",
                if position.is_null() {
                    Value::from(0)
                } else {
                    position
                },
            );
        }
    }
    if editing && let Ok(version) = form.text("version").trim().parse::<i64>() {
        put("version", Value::from(version));
    }
    Value::Object(body)
}

/// A "must be ..." message as a sentence beside its input.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
    let mut text = first.unwrap_or_default() + chars.as_str();
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

/// Files an API error beside the inputs it names (or as the form's alert); `None` when it is
/// not the person's to fix.
fn file_error(
    error: ApiError,
    inputs: &mut [Input],
    alert: &mut Option<String>,
) -> Result<(), PageError> {
    let mut place = |field: &str, message: String| {
        let base = field.split('[').next().unwrap_or(field);
        match inputs.iter_mut().find(|i| i.name == base) {
            Some(input) if input.error.is_none() => input.error = Some(message),
            Some(_) => {}
            None => *alert = Some(message),
        }
    };
    match error {
        ApiError::Validation(errors) => {
            for e in errors {
                let message = match e.field.split_once('[') {
                    Some((_, rest)) => {
                        let line = rest
                            .split(']')
                            .next()
                            .and_then(|n| n.parse::<usize>().ok())
                            .map_or(0, |n| n + 1);
                        format!("Line {line}: {}", sentence(&e.message))
                    }
                    None => sentence(&e.message),
                };
                place(&e.field, message);
            }
            Ok(())
        }
        ApiError::Conflict { field } => {
            place(
                field,
                format!(
                    "Another record already has this {}.",
                    field.replace('_', " ")
                ),
            );
            Ok(())
        }
        ApiError::Stale(why) | ApiError::Refused(why) => {
            *alert = Some(why);
            Ok(())
        }
        ApiError::NotFound => Err(PageError::NotFound),
        other => Err(PageError::Internal(Box::new(other))),
    }
}

fn cells(resource: Resource, lookups: &Lookups, record: &Map<String, Value>) -> Vec<String> {
    let text = |name: &str| match record.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let count = |name: &str| {
        record
            .get(name)
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    match resource {
        Resource::Departments => vec![
            text("name"),
            text("email_alias"),
            text("default_priority"),
            count("agent_ids").to_string(),
        ],
        Resource::Teams => vec![text("name"), count("member_ids").to_string()],
        Resource::SlaPlans => {
            let hours = |name: &str| {
                let h = text(name);
                if h.is_empty() {
                    "no target".to_owned()
                } else {
                    format!("{h} h")
                }
            };
            vec![
                text("name"),
                hours("first_response_hours"),
                hours("resolution_hours"),
                if record.get("business_hours_only") == Some(&Value::Bool(true)) {
                    "business hours".to_owned()
                } else {
                    "around the clock".to_owned()
                },
            ]
        }
        Resource::HelpTopics => vec![
            text("name"),
            Lookups::name_of(&lookups.departments, &text("department_id")),
            match (record.get("public"), record.get("for_everyone")) {
                (Some(Value::Bool(false)), _) => "nobody (not in the portal)".to_owned(),
                (_, Some(Value::Bool(true))) => "everyone".to_owned(),
                _ => "those granted it".to_owned(),
            },
        ],
        Resource::Statuses => vec![text("name"), text("state")],
    }
}

async fn record_ids(tx: &mut TenantTx, resource: Resource) -> Result<Vec<Uuid>, PageError> {
    Ok(match resource {
        Resource::Departments => store::departments::list(tx)
            .await?
            .into_iter()
            .map(|d| d.id)
            .collect(),
        Resource::Teams => store::teams::list(tx)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect(),
        Resource::SlaPlans => store::sla_plans::list(tx)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect(),
        Resource::HelpTopics => store::help_topics::list(tx)
            .await?
            .into_iter()
            .map(|t| t.id)
            .collect(),
        Resource::Statuses => store::ticket_statuses::list(tx)
            .await?
            .into_iter()
            .map(|s| s.id)
            .collect(),
    })
}

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    #[serde(default)]
    done: Option<String>,
}

fn notice(resource: &str, query: &NoticeQuery) -> Option<String> {
    Some(match query.done.as_deref()? {
        "created" => format!("The {resource} is added."),
        "saved" => format!("The {resource} is saved."),
        "deleted" => format!("The {resource} is deleted."),
        _ => return None,
    })
}

/// The list page of `resource` with its add form (values and errors as given).
async fn list_page<'a>(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &'a str,
    resource: Resource,
    values: Option<Map<String, Value>>,
) -> Result<(ConfigPage<'a>, Lookups), PageError> {
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let lookups = Lookups::load(&mut tx).await?;
    let mut rows = Vec::new();
    for id in record_ids(&mut tx, resource).await? {
        let (record, _) = stored_values(&mut tx, resource, id).await?;
        let base = format!("/admin/{}/{id}", resource.slug());
        rows.push(Row {
            cells: cells(resource, &lookups, &record),
            href: Some(base.clone()),
            delete: Some(format!("{base}/delete")),
        });
    }
    tx.commit().await?;
    let values = values.unwrap_or_else(|| defaults(resource));
    let page = ConfigPage {
        brand: Brand::from(&settings),
        section: resource.slug(),
        csrf,
        title: resource.title().to_owned(),
        intro: resource.intro(),
        notice: None,
        headers: resource.headers(),
        rows,
        form_title: format!("Add a {}", resource.singular()),
        action: format!("/admin/{}", resource.slug()),
        inputs: inputs(resource, &lookups, &values),
        submit: "Add",
        alert: None,
        failed: false,
        version: None,
        delete_action: None,
        back: None,
    };
    Ok((page, lookups))
}

pub async fn list(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    uri: Uri,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let resource = Resource::of(&uri)?;
    let (mut page, _) = list_page(&state, &me, &csrf, resource, None).await?;
    page.notice = notice(resource.singular(), &query);
    Ok(render(&page)?.into_response())
}

/// Sets the department's agents or the team's members to exactly those ticked.
async fn memberships(
    tx: &mut TenantTx,
    resource: Resource,
    id: Uuid,
    form: &FormFields,
) -> Result<(), PageError> {
    let wanted: Vec<Uuid> = match resource {
        Resource::Departments => form.all("agent_ids"),
        Resource::Teams => form.all("member_ids"),
        _ => return Ok(()),
    }
    .iter()
    .filter_map(|raw| Uuid::parse_str(raw).ok())
    .collect();
    let current = match resource {
        Resource::Departments => store::departments::by_id(tx, id)
            .await?
            .map(|d| d.agent_ids),
        _ => store::teams::by_id(tx, id).await?.map(|t| t.member_ids),
    }
    .unwrap_or_default();
    for agent in &wanted {
        if !current.contains(agent)
            && store::departments::exists(tx, store::departments::Kind::Agent, *agent).await?
        {
            match resource {
                Resource::Departments => store::departments::add_agent(tx, id, *agent).await?,
                _ => store::teams::add_member(tx, id, *agent).await?,
            };
        }
    }
    for agent in current.iter().filter(|a| !wanted.contains(a)) {
        match resource {
            Resource::Departments => store::departments::remove_agent(tx, id, *agent).await?,
            _ => store::teams::remove_member(tx, id, *agent).await?,
        };
    }
    Ok(())
}

/// Creates (id None) or updates a record from the form through the API's path; its id.
async fn save_record(
    tx: &mut TenantTx,
    resource: Resource,
    id: Option<Uuid>,
    body: Value,
) -> Result<Uuid, ApiError> {
    Ok(match (resource, id) {
        (Resource::Departments, None) => api::departments::create_in(tx, body).await?.id,
        (Resource::Departments, Some(id)) => {
            api::departments::update_in(tx, id, body, None).await?.id
        }
        (Resource::Teams, None) => api::teams::create_in(tx, body).await?.id,
        (Resource::Teams, Some(id)) => api::teams::update_in(tx, id, body, None).await?.id,
        (Resource::SlaPlans, None) => api::sla_plans::create_in(tx, body).await?.id,
        (Resource::SlaPlans, Some(id)) => api::sla_plans::update_in(tx, id, body, None).await?.id,
        (Resource::HelpTopics, None) => api::help_topics::create_in(tx, body).await?.id,
        (Resource::HelpTopics, Some(id)) => {
            api::help_topics::update_in(tx, id, body, None).await?.id
        }
        (Resource::Statuses, None) => api::statuses::create_in(tx, body).await?.id,
        (Resource::Statuses, Some(id)) => api::statuses::update_in(tx, id, body, None).await?.id,
    })
}

pub async fn create(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    uri: Uri,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let resource = Resource::of(&uri)?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let saved = save_record(&mut tx, resource, None, body_of(resource, &form, false)).await;
    let error = match saved {
        Ok(id) => {
            memberships(&mut tx, resource, id, &form).await?;
            tx.commit().await?;
            return Ok(
                Redirect::to(&format!("/admin/{}?done=created", resource.slug())).into_response(),
            );
        }
        Err(error) => error,
    };
    drop(tx);
    let (mut page, lookups) = list_page(&state, &me, &csrf, resource, None).await?;
    page.inputs = inputs(resource, &lookups, &entered(resource, &form, &lookups));
    page.failed = true;
    file_error(error, &mut page.inputs, &mut page.alert)?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
}

fn id_of(raw: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(raw).map_err(|_| PageError::NotFound)
}

/// The edit page of one record.
async fn edit_page<'a>(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &'a str,
    resource: Resource,
    id: Uuid,
) -> Result<(ConfigPage<'a>, Lookups), PageError> {
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let lookups = Lookups::load(&mut tx).await?;
    let (values, version) = stored_values(&mut tx, resource, id).await?;
    tx.commit().await?;
    let base = format!("/admin/{}/{id}", resource.slug());
    let name = values
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let page = ConfigPage {
        brand: Brand::from(&settings),
        section: resource.slug(),
        csrf,
        title: format!("{}: {name}", resource.title()),
        intro: resource.intro(),
        notice: None,
        headers: Vec::new(),
        rows: Vec::new(),
        form_title: format!("Edit the {} {name}", resource.singular()),
        action: base.clone(),
        inputs: inputs(resource, &lookups, &values),
        submit: "Save",
        alert: None,
        failed: false,
        version: Some(version),
        delete_action: Some(format!("{base}/delete")),
        back: Some(format!("/admin/{}", resource.slug())),
    };
    Ok((page, lookups))
}

pub async fn edit(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    uri: Uri,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let resource = Resource::of(&uri)?;
    let (page, _) = edit_page(&state, &me, &csrf, resource, id_of(&id)?).await?;
    Ok(render(&page)?.into_response())
}

pub async fn save(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    uri: Uri,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let resource = Resource::of(&uri)?;
    let id = id_of(&id)?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let error = match save_record(&mut tx, resource, Some(id), body_of(resource, &form, true)).await
    {
        Ok(id) => {
            memberships(&mut tx, resource, id, &form).await?;
            tx.commit().await?;
            return Ok(
                Redirect::to(&format!("/admin/{}?done=saved", resource.slug())).into_response(),
            );
        }
        Err(error) => error,
    };
    drop(tx);
    let (mut page, lookups) = edit_page(&state, &me, &csrf, resource, id).await?;
    page.inputs = inputs(resource, &lookups, &entered(resource, &form, &lookups));
    page.failed = true;
    file_error(error, &mut page.inputs, &mut page.alert)?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    uri: Uri,
    Path(id): Path<String>,
    CsrfForm(_form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let resource = Resource::of(&uri)?;
    let id = id_of(&id)?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let outcome = match resource {
        Resource::Departments => store::departments::delete(&mut tx, id).await?,
        Resource::Teams => store::teams::delete(&mut tx, id).await?,
        Resource::SlaPlans => store::sla_plans::delete(&mut tx, id).await?,
        Resource::HelpTopics => store::help_topics::delete(&mut tx, id).await?,
        Resource::Statuses => store::ticket_statuses::delete(&mut tx, id).await?,
    };
    match outcome {
        store::departments::DeleteOutcome::Deleted => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/admin/{}?done=deleted", resource.slug())).into_response())
        }
        store::departments::DeleteOutcome::NotFound => Err(PageError::NotFound),
        store::departments::DeleteOutcome::InUse(why) => {
            drop(tx);
            let (mut page, _) = edit_page(&state, &me, &csrf, resource, id).await?;
            page.alert = Some(format!("Not deleted. {why}"));
            Ok((StatusCode::CONFLICT, render(&page)?).into_response())
        }
    }
}

/// A single-form page (business hours, ticket settings).
async fn single_page<'a>(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &'a str,
    section: &'static str,
) -> Result<(ConfigPage<'a>, Lookups), PageError> {
    use InputKind::*;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let lookups = Lookups::load(&mut tx).await?;
    let (title, intro, inputs, version) = if section == "business-hours" {
        let stored = store::sla_plans::stored_calendar(&mut tx).await?;
        let hours = stored
            .calendar
            .spans
            .iter()
            .map(|s| format!("{} {}-{}", s.weekday.name(), s.opens, s.closes))
            .collect::<Vec<_>>()
            .join("\n");
        let holidays = stored
            .calendar
            .holidays
            .iter()
            .map(|h| format!("{} {}", h.day, h.name))
            .collect::<Vec<_>>()
            .join("\n");
        (
            "Business hours",
            "SLA plans that count business hours only count the hours open here, in this time zone, skipping holidays. Without any opening hours the desk counts as open around the clock.",
            vec![
                Input::new("timezone", "Time zone", Text, stored.calendar.timezone.as_str().to_owned())
                    .hint("An IANA name such as Europe/Berlin or America/New_York."),
                Input::new("hours", "Opening hours", TextArea, hours)
                    .hint("One span per line: a weekday, then opens-closes, such as Monday 09:00-17:00. 24:00 ends the day; a night shift is two lines."),
                Input::new("holidays", "Holidays", TextArea, holidays)
                    .hint("One per line: the date, then its name, such as 2026-12-25 Christmas Day."),
            ],
            Some(stored.version),
        )
    } else {
        let s = store::ticket_settings::load(&mut tx).await?;
        (
            "Ticket settings",
            "Numbering, where new tickets go, attachments, and replies to closed tickets.",
            vec![
                Input::new("next_ticket_number", "Next ticket number", Number, s.next_ticket_number.to_string())
                    .hint("It can only be raised: ticket numbers never repeat."),
                Input::new("default_department_id", "Default department", Select, String::new())
                    .choose(lookups.departments.clone(), &[id_text(s.default_department_id)], None),
                Input::new("attachment_max_bytes", "Largest attachment (bytes)", Number, s.attachment_max_bytes.to_string())
                    .hint("From 1024 (1 KiB) to 104857600 (100 MiB)."),
                Input::new("attachment_allowed_types", "Allowed attachment types", TextArea, s.attachment_allowed_types.join("\n"))
                    .hint("One content type per line, such as image/* or application/pdf; empty allows any but executables."),
                Input::new("reply_to_closed_allowed", "End users may reply to closed tickets", Checkbox, on(s.reply_to_closed_allowed)),
            ],
            None,
        )
    };
    tx.commit().await?;
    let page = ConfigPage {
        brand: Brand::from(&settings),
        section,
        csrf,
        title: title.to_owned(),
        intro,
        notice: None,
        headers: Vec::new(),
        rows: Vec::new(),
        form_title: title.to_owned(),
        action: format!("/admin/{section}"),
        inputs,
        submit: "Save",
        alert: None,
        failed: false,
        version,
        delete_action: None,
        back: None,
    };
    Ok((page, lookups))
}

fn section_of(uri: &Uri) -> Result<&'static str, PageError> {
    match uri.path() {
        "/admin/business-hours" => Ok("business-hours"),
        "/admin/ticket-settings" => Ok("ticket-settings"),
        _ => Err(PageError::NotFound),
    }
}

pub async fn settings_form(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    uri: Uri,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let section = section_of(&uri)?;
    let (mut page, _) = single_page(&state, &me, &csrf, section).await?;
    if query.done.as_deref() == Some("saved") {
        page.notice = Some(format!("The {} are saved.", page.title.to_lowercase()));
    }
    Ok(render(&page)?.into_response())
}

/// Weekday names (English, any case, full or three letters) or ISO numbers 1 to 7.
fn weekday_number(raw: &str) -> Option<i64> {
    let lower = raw.trim().to_lowercase();
    if let Ok(n) = lower.parse::<i64>() {
        return Some(n);
    }
    [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .iter()
    .position(|day| lower.len() >= 3 && day.starts_with(&lower))
    .map(|i| i as i64 + 1)
}

/// The calendar form as the API's body; a line that is not "weekday opens-closes" is an error
/// of its own.
fn calendar_body(form: &FormFields, inputs: &mut [Input]) -> Value {
    let mut hours = Vec::new();
    let mut bad_line = None;
    for (i, line) in form.text("hours").lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parsed = line.split_once(char::is_whitespace).and_then(|(day, span)| {
            let (opens, closes) = span.trim().split_once('-')?;
            Some(json!({"weekday": weekday_number(day)?, "opens": opens.trim(), "closes": closes.trim()}))
        });
        match parsed {
            Some(span) => hours.push(span),
            None => {
                bad_line.get_or_insert(i + 1);
            }
        }
    }
    if let Some(line) = bad_line
        && let Some(input) = inputs.iter_mut().find(|i| i.name == "hours")
    {
        input.error = Some(format!(
            "Line {line}: write a weekday, then opens-closes, such as Monday 09:00-17:00."
        ));
    }
    let holidays: Vec<Value> = form
        .text("holidays")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| match line.split_once(char::is_whitespace) {
            Some((day, name)) => json!({"day": day, "name": name.trim()}),
            None => json!({"day": line, "name": ""}),
        })
        .collect();
    let mut body = json!({"timezone": form.text("timezone"), "hours": hours, "holidays": holidays});
    if let Ok(version) = form.text("version").trim().parse::<i64>() {
        body["version"] = Value::from(version);
    }
    body
}

fn ticket_settings_body(form: &FormFields) -> Value {
    let number = |name: &str| {
        let raw = form.text(name);
        raw.trim()
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::String(raw))
    };
    let types: Vec<String> = form
        .text("attachment_allowed_types")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    json!({
        "next_ticket_number": number("next_ticket_number"),
        "default_department_id": form.text("default_department_id"),
        "attachment_max_bytes": number("attachment_max_bytes"),
        "attachment_allowed_types": types,
        "reply_to_closed_allowed": form.checked("reply_to_closed_allowed"),
    })
}

pub async fn save_settings_form(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    uri: Uri,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let section = section_of(&uri)?;
    let (mut page, _) = single_page(&state, &me, &csrf, section).await?;
    for input in &mut page.inputs {
        input.value = match input.kind {
            InputKind::Checkbox => on(form.checked(input.name)),
            _ => form.text(input.name),
        };
        for choice in &mut input.choices {
            choice.selected = choice.value == form.text(input.name);
        }
    }
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let result = if section == "business-hours" {
        let body = calendar_body(&form, &mut page.inputs);
        if page.inputs.iter().any(|i| i.error.is_some()) {
            Err(ApiError::Validation(Vec::new()))
        } else {
            api::sla_plans::save_calendar_in(&mut tx, body, None)
                .await
                .map(|_| ())
        }
    } else {
        api::statuses::save_ticket_settings_in(&mut tx, ticket_settings_body(&form))
            .await
            .map(|_| ())
    };
    match result {
        Ok(()) => {
            tx.commit().await?;
            if section == "ticket-settings" {
                announce(&state, Invalidation::Settings(me.tenant.id)).await;
            }
            Ok(Redirect::to(&format!("/admin/{section}?done=saved")).into_response())
        }
        Err(error) => {
            drop(tx);
            page.failed = true;
            file_error(error, &mut page.inputs, &mut page.alert)?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
    }
}
