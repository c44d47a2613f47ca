//! The rules every new ticket passes before it is written, in this order (docs/architecture.md):
//! the help topic's defaults (applied by `tickets::create` itself), then the ticket filters in
//! their order, then the organization's account manager and primary contacts, then the mapping
//! of customer data to ticket fields. Each rule that changes something leaves an event naming
//! itself in the ticket's history ("filter 'VIP' set priority high"). Also: the checks of a
//! rule's references when it is saved, and the test of a rule against an existing ticket.

use domain::custom_fields::{FieldDefinition, FieldEntity, apply_custom_values, text_value};
use domain::ticket::{Priority, Source, TicketState};
use domain::ticket_filter::{Action, Pattern, RuleLogic, TicketFacts, parse_logic};
use serde_json::{Map, Value, json};
use store::TenantTx;
use store::organizations::Organization;
use store::ticket_filters::TicketFilter;
use store::tickets::Ticket;
use store::user_directory::UserRecord;
use uuid::Uuid;

use crate::tickets::TicketError;

/// The compiled size a filter's regular expression may reach (the `regex` crate refuses to
/// build beyond it), and its lazy DFA's cache: generous for real patterns, far below what a
/// pathological repetition such as `(a{100}){100}` needs.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;
const REGEX_DFA_SIZE_LIMIT: usize = 1024 * 1024;
const REGEX_NEST_LIMIT: u32 = 25;

/// A filter's regular expression, compiled within the size limits.
#[derive(Clone, Debug)]
pub struct RulePattern(regex::Regex);

impl Pattern for RulePattern {
    fn compile(source: &str) -> Result<Self, String> {
        regex::RegexBuilder::new(source)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
            .nest_limit(REGEX_NEST_LIMIT)
            .build()
            .map(Self)
            .map_err(|error| match error {
                regex::Error::CompiledTooBig(_) => {
                    "is too large a regular expression once compiled; simplify its repetitions"
                        .to_owned()
                }
                regex::Error::Syntax(message) => format!(
                    "is not a valid regular expression: {}",
                    message.lines().last().unwrap_or("syntax error").trim()
                ),
                _ => "is not a valid regular expression".to_owned(),
            })
    }

    fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

pub type Logic = RuleLogic<RulePattern>;

/// A stored rule's logic; `None` if what is stored no longer parses (a rule is checked when
/// saved, so this means a later change of the rules' grammar; such a rule is skipped).
pub fn logic_of(filter: &TicketFilter) -> Option<Logic> {
    match parse_logic(filter.match_all, &filter.conditions, &filter.actions) {
        Ok(logic) => Some(logic),
        Err(problems) => {
            tracing::warn!(filter.id = %filter.id, ?problems, "a stored ticket filter does not parse; skipped");
            None
        }
    }
}

/// A ticket about to be inserted, with everything the rules may read or change.
#[derive(Clone, Debug)]
pub struct Draft {
    pub subject: String,
    pub message_text: String,
    pub source: Source,
    pub requester: UserRecord,
    /// The requester's primary organization.
    pub organization: Option<Organization>,
    pub department_id: Uuid,
    /// The help topic and its name.
    pub help_topic: Option<(Uuid, String)>,
    pub priority: Priority,
    pub sla_plan_id: Option<Uuid>,
    pub state: TicketState,
    pub status_id: Option<Uuid>,
    pub assignee_agent_id: Option<Uuid>,
    pub assignee_team_id: Option<Uuid>,
    pub collaborators: Vec<Uuid>,
    pub custom: Map<String, Value>,
    /// The creator named the assignee: the account manager does not replace them.
    pub assigned_by_request: bool,
}

impl Draft {
    fn facts(&self) -> TicketFacts {
        facts(
            &self.subject,
            &self.message_text,
            self.help_topic.as_ref().map(|(_, name)| name.clone()),
            self.source,
            &self.custom,
            &self.requester,
            self.organization.as_ref(),
        )
    }
}

fn facts(
    subject: &str,
    message: &str,
    help_topic: Option<String>,
    source: Source,
    custom: &Map<String, Value>,
    requester: &UserRecord,
    organization: Option<&Organization>,
) -> TicketFacts {
    TicketFacts {
        subject: subject.to_owned(),
        message: message.to_owned(),
        help_topic,
        source: source.as_str().to_owned(),
        ticket_custom: custom.clone(),
        requester_email: requester.profile.email.clone(),
        requester_validity: requester.validity.as_str().to_owned(),
        requester_custom: requester.profile.custom.clone(),
        organization_name: organization.map(|o| o.name.clone()),
        organization_custom: organization.map(|o| o.custom.clone()).unwrap_or_default(),
    }
}

/// An event of the ticket's history made by a rule: the usual `{"field", "from", "to"}`, plus
/// `rule` (which rule) and `note` (the sentence people read).
fn rule_event(rule: &str, field: &str, from: Value, to: Value, did: &str) -> Value {
    json!({"field": field, "from": from, "to": to, "rule": rule, "note": format!("{rule} {did}")})
}

fn id_value(id: Option<Uuid>) -> Value {
    id.map_or(Value::Null, |id| json!(id))
}

/// The requester's primary organization, in full.
pub async fn organization_of(
    tx: &mut TenantTx,
    requester: &UserRecord,
) -> Result<Option<Organization>, TicketError> {
    Ok(match &requester.primary_organization {
        Some(reference) => store::organizations::by_id(tx, reference.id).await?,
        None => None,
    })
}

/// Runs every rule on `draft` (filters, account manager, primary contacts, field mapping),
/// returning the events to record. A rejecting filter ends it all with
/// [`TicketError::Rejected`]: the caller writes nothing.
pub async fn apply(tx: &mut TenantTx, draft: &mut Draft) -> Result<Vec<Value>, TicketError> {
    let mut events = Vec::new();
    for filter in store::ticket_filters::enabled(tx).await? {
        let Some(logic) = logic_of(&filter) else {
            continue;
        };
        if !logic.evaluate(&draft.facts()).1 {
            continue;
        }
        let rule = format!("filter '{}'", filter.name);
        let mut stop = false;
        for action in &logic.actions {
            if let Action::Stop = action {
                stop = true;
            } else {
                act(tx, draft, &rule, action, &mut events).await?;
            }
        }
        if stop {
            break;
        }
    }
    account_manager(tx, draft, &mut events).await?;
    primary_contacts(tx, draft, &mut events).await?;
    let mut custom = draft.custom.clone();
    map_fields(
        tx,
        &draft.requester,
        draft.organization.as_ref(),
        &mut custom,
        &mut events,
    )
    .await?;
    draft.custom = custom;
    Ok(events)
}

/// One action of a matching filter. A record the action names that is gone since the rule
/// was saved is skipped, and the history says so.
async fn act(
    tx: &mut TenantTx,
    draft: &mut Draft,
    rule: &str,
    action: &Action,
    events: &mut Vec<Value>,
) -> Result<(), TicketError> {
    match action {
        Action::Reject(message) => return Err(TicketError::Rejected(message.clone())),
        Action::Stop => {}
        Action::SetPriority(priority) => {
            if *priority != draft.priority {
                events.push(rule_event(
                    rule,
                    "priority",
                    json!(draft.priority.as_str()),
                    json!(priority.as_str()),
                    &format!("set priority {priority}"),
                ));
                draft.priority = *priority;
            }
        }
        Action::SetDepartment(id) => match store::departments::by_id(tx, *id).await? {
            Some(department) if department.id != draft.department_id => {
                events.push(rule_event(
                    rule,
                    "department_id",
                    json!(draft.department_id),
                    json!(id),
                    &format!("set the department to {}", department.name),
                ));
                draft.department_id = *id;
            }
            Some(_) => {}
            None => skip(events, rule, "set the department"),
        },
        Action::SetHelpTopic(id) => match store::help_topics::by_id(tx, *id).await? {
            Some(topic) if Some(topic.id) != draft.help_topic.as_ref().map(|t| t.0) => {
                events.push(rule_event(
                    rule,
                    "help_topic_id",
                    id_value(draft.help_topic.as_ref().map(|t| t.0)),
                    json!(id),
                    &format!("set the help topic to {}", topic.name),
                ));
                draft.help_topic = Some((topic.id, topic.name));
            }
            Some(_) => {}
            None => skip(events, rule, "set the help topic"),
        },
        Action::SetSlaPlan(id) => match store::sla_plans::by_id(tx, *id).await? {
            Some(plan) if Some(plan.id) != draft.sla_plan_id => {
                events.push(rule_event(
                    rule,
                    "sla_plan_id",
                    id_value(draft.sla_plan_id),
                    json!(id),
                    &format!("set the SLA plan to {}", plan.name),
                ));
                draft.sla_plan_id = Some(plan.id);
            }
            Some(_) => {}
            None => skip(events, rule, "set the SLA plan"),
        },
        Action::SetStatus(id) => {
            let status = store::ticket_statuses::by_id(tx, *id).await?;
            let state = store::tickets::status_state(tx, *id).await?;
            match (status, state) {
                (Some(status), Some(state @ (TicketState::Open | TicketState::Pending))) => {
                    if Some(status.id) != draft.status_id {
                        events.push(rule_event(
                            rule,
                            "status_id",
                            id_value(draft.status_id),
                            json!(id),
                            &format!("set the status to {}", status.name),
                        ));
                        draft.status_id = Some(status.id);
                        draft.state = state;
                    }
                }
                (Some(_), Some(_)) => {
                    skip(events, rule, "set a status of the open or pending state")
                }
                _ => skip(events, rule, "set the status"),
            }
        }
        Action::AssignAgent(id) => {
            if store::tickets::agent_assignable(tx, *id).await? {
                let name = store::agents::by_id(tx, *id)
                    .await?
                    .map(|a| a.name)
                    .unwrap_or_default();
                assign(draft, rule, Some(*id), None, &name, events);
            } else {
                skip(
                    events,
                    rule,
                    "assign the agent (or the agent is no longer active)",
                );
            }
        }
        Action::AssignTeam(id) => match store::teams::by_id(tx, *id).await? {
            Some(team) => assign(draft, rule, None, Some(*id), &team.name, events),
            None => skip(events, rule, "assign the team"),
        },
        Action::AddCollaborators(ids) => {
            for id in ids {
                if *id == draft.requester.id || draft.collaborators.contains(id) {
                    continue;
                }
                match store::user_directory::by_id(tx, *id).await? {
                    Some(user) if user.erased_at.is_none() => {
                        events.push(rule_event(
                            rule,
                            "collaborators",
                            Value::Null,
                            json!(id),
                            &format!("added {} in copy", user.name),
                        ));
                        draft.collaborators.push(*id);
                    }
                    _ => skip(events, rule, "add a collaborator"),
                }
            }
        }
        Action::SetCustomField { key, value } => {
            let fields = store::custom_fields::active(tx, FieldEntity::Ticket).await?;
            match set_custom(&fields, &draft.custom, key, value) {
                Some(merged) => {
                    let before = draft.custom.get(key).cloned().unwrap_or(Value::Null);
                    let after = merged.get(key).cloned().unwrap_or(Value::Null);
                    if before != after {
                        events.push(rule_event(
                            rule,
                            &format!("custom.{key}"),
                            before,
                            after.clone(),
                            &format!("set {key} to {}", text_value(&after)),
                        ));
                        draft.custom = merged;
                    }
                }
                None => skip(events, rule, &format!("set the custom field {key}")),
            }
        }
    }
    Ok(())
}

/// Records that a rule's action was skipped.
fn skip(events: &mut Vec<Value>, rule: &str, what: &str) {
    events.push(
        json!({"field": "rule", "from": null, "to": null, "rule": rule,
        "note": format!("{rule} could not {what}: it no longer exists")}),
    );
}

/// `custom` with `key` set to `value` as the field's type wants it; `None` when the field is
/// gone or the value no longer fits it. Other fields' requirements are not this action's.
fn set_custom(
    fields: &[FieldDefinition],
    custom: &Map<String, Value>,
    key: &str,
    value: &Value,
) -> Option<Map<String, Value>> {
    let mut field = fields.iter().find(|f| f.key == key)?.clone();
    field.required = false;
    // A value typed into a form arrives as text ("5", "yes"): read it as the field's type.
    let value = match value {
        Value::String(text) => {
            domain::custom_fields::parse_text_value(&field, text).unwrap_or(value.clone())
        }
        other => other.clone(),
    };
    let mut change = Map::new();
    change.insert(key.to_owned(), value);
    apply_custom_values(&[field], custom, &change).ok()
}

/// Assigns the agent or the team (never both), with events for what changed.
fn assign(
    draft: &mut Draft,
    rule: &str,
    agent: Option<Uuid>,
    team: Option<Uuid>,
    name: &str,
    events: &mut Vec<Value>,
) {
    if draft.assignee_agent_id != agent {
        let did = match agent {
            Some(_) => format!("assigned the ticket to {name}"),
            None => "took the assignment from the agent".to_owned(),
        };
        events.push(rule_event(
            rule,
            "assignee_agent_id",
            id_value(draft.assignee_agent_id),
            id_value(agent),
            &did,
        ));
        draft.assignee_agent_id = agent;
    }
    if draft.assignee_team_id != team {
        let did = match team {
            Some(_) => format!("assigned the ticket to the team {name}"),
            None => "took the assignment from the team".to_owned(),
        };
        events.push(rule_event(
            rule,
            "assignee_team_id",
            id_value(draft.assignee_team_id),
            id_value(team),
            &did,
        ));
        draft.assignee_team_id = team;
    }
}

/// The organization's account manager gets the ticket when the organization says so, unless
/// the creator named an assignee.
async fn account_manager(
    tx: &mut TenantTx,
    draft: &mut Draft,
    events: &mut Vec<Value>,
) -> Result<(), TicketError> {
    let Some(organization) = draft.organization.clone() else {
        return Ok(());
    };
    if !organization.assign_to_account_manager || draft.assigned_by_request {
        return Ok(());
    }
    let rule = format!("the account manager of {}", organization.name);
    if let Some(agent) = organization.account_manager_agent_id {
        if store::tickets::agent_assignable(tx, agent).await? {
            let name = store::agents::by_id(tx, agent)
                .await?
                .map(|a| a.name)
                .unwrap_or_default();
            assign(draft, &rule, Some(agent), None, &name, events);
        }
    } else if let Some(team) = organization.account_manager_team_id
        && let Some(found) = store::teams::by_id(tx, team).await?
    {
        assign(draft, &rule, None, Some(team), &found.name, events);
    }
    Ok(())
}

/// The organization's primary contacts are put in copy when it says so (not the requester).
async fn primary_contacts(
    tx: &mut TenantTx,
    draft: &mut Draft,
    events: &mut Vec<Value>,
) -> Result<(), TicketError> {
    let Some(organization) = draft.organization.clone() else {
        return Ok(());
    };
    if !organization.auto_collaborate_primary_contacts {
        return Ok(());
    }
    let rule = format!("the primary contacts of {}", organization.name);
    for id in store::ticket_filters::primary_contacts(tx, organization.id).await? {
        if id == draft.requester.id || draft.collaborators.contains(&id) {
            continue;
        }
        let Some(user) = store::user_directory::by_id(tx, id).await? else {
            continue;
        };
        if user.erased_at.is_some() {
            continue;
        }
        events.push(rule_event(
            &rule,
            "collaborators",
            Value::Null,
            json!(id),
            &format!("added {} in copy", user.name),
        ));
        draft.collaborators.push(id);
    }
    Ok(())
}

/// The built-in fields a mapping may read, by entity.
pub const USER_SOURCE_FIELDS: [&str; 14] = [
    "name",
    "first_name",
    "last_name",
    "title",
    "email",
    "login",
    "phone",
    "mobile",
    "street",
    "zip",
    "city",
    "country",
    "comment",
    "validity",
];
pub const ORGANIZATION_SOURCE_FIELDS: [&str; 10] = [
    "name",
    "customer_code",
    "street",
    "zip",
    "city",
    "country",
    "phone",
    "website",
    "comment",
    "validity",
];

/// The text of a mapping's source field, or `None` when empty.
fn source_text(
    entity: &str,
    field: &str,
    requester: &UserRecord,
    organization: Option<&Organization>,
) -> Option<String> {
    let text = match (entity, field.strip_prefix("custom.")) {
        ("user", Some(key)) => requester.profile.custom.get(key).map(text_value),
        ("user", None) if field == "name" => Some(requester.name.clone()),
        ("user", None) => Some(requester.profile.text(field)),
        ("organization", Some(key)) => organization?.custom.get(key).map(text_value),
        ("organization", None) => {
            let o = organization?;
            match field {
                "name" => Some(o.name.clone()),
                "customer_code" => o.customer_code.clone(),
                "street" => o.street.clone(),
                "zip" => o.zip.clone(),
                "city" => o.city.clone(),
                "country" => o.country.clone(),
                "phone" => o.phone.clone(),
                "website" => o.website.clone(),
                "comment" => o.comment.clone(),
                "validity" => Some(o.validity.as_str().to_owned()),
                _ => None,
            }
        }
        _ => None,
    };
    text.filter(|t| !t.trim().is_empty())
}

/// Fills the mapped ticket fields from the requester and their organization. A source with no
/// value leaves the ticket's field as it is; a value the target field does not take is
/// skipped (with an event saying so).
pub async fn map_fields(
    tx: &mut TenantTx,
    requester: &UserRecord,
    organization: Option<&Organization>,
    custom: &mut Map<String, Value>,
    events: &mut Vec<Value>,
) -> Result<(), TicketError> {
    let mappings = store::field_mappings::list(tx).await?;
    if mappings.is_empty() {
        return Ok(());
    }
    let fields = store::custom_fields::active(tx, FieldEntity::Ticket).await?;
    for mapping in mappings {
        let Some(text) = source_text(
            &mapping.source_entity,
            &mapping.source_field,
            requester,
            organization,
        ) else {
            continue;
        };
        let rule = format!(
            "the field mapping {}.{} → {}",
            mapping.source_entity, mapping.source_field, mapping.target_key
        );
        let Some(field) = fields.iter().find(|f| f.key == mapping.target_key) else {
            continue;
        };
        let value = domain::custom_fields::parse_text_value(field, &text).ok();
        match value.and_then(|v| set_custom(&fields, custom, &mapping.target_key, &v)) {
            Some(merged) => {
                let before = custom
                    .get(&mapping.target_key)
                    .cloned()
                    .unwrap_or(Value::Null);
                let after = merged
                    .get(&mapping.target_key)
                    .cloned()
                    .unwrap_or(Value::Null);
                if before != after {
                    events.push(rule_event(
                        &rule,
                        &format!("custom.{}", mapping.target_key),
                        before,
                        after.clone(),
                        &format!("set {} to {}", mapping.target_key, text_value(&after)),
                    ));
                    *custom = merged;
                }
            }
            None => events.push(
                json!({"field": "rule", "from": null, "to": null, "rule": rule,
                "note": format!("{rule} was skipped: '{text}' does not fit the field")}),
            ),
        }
    }
    Ok(())
}

/// The problems of a rule's references: ids that are not records of this workspace (another
/// tenant's ids included), custom field keys that are not defined, statuses outside the open
/// and pending states, values that do not fit their field. Named like the API's members.
pub async fn check_references(
    tx: &mut TenantTx,
    logic: &Logic,
) -> Result<Vec<(String, String)>, TicketError> {
    use domain::ticket_filter::Subject;
    let mut problems = Vec::new();
    let ticket_fields = store::custom_fields::active(tx, FieldEntity::Ticket).await?;
    let user_fields = store::custom_fields::active(tx, FieldEntity::User).await?;
    let organization_fields = store::custom_fields::active(tx, FieldEntity::Organization).await?;
    for (index, condition) in logic.conditions.iter().enumerate() {
        let (fields, key) = match &condition.subject {
            Subject::TicketCustom(key) => (&ticket_fields, key),
            Subject::RequesterCustom(key) => (&user_fields, key),
            Subject::OrganizationCustom(key) => (&organization_fields, key),
            _ => continue,
        };
        if !fields.iter().any(|f| f.key == *key) {
            problems.push((
                format!("conditions[{index}].field"),
                format!("names {key}, which is not a custom field of this workspace"),
            ));
        }
    }
    for (index, action) in logic.actions.iter().enumerate() {
        let at = format!("actions[{index}].value");
        let missing = |what: &str| {
            (
                at.clone(),
                format!("must be the id of {what} of this workspace"),
            )
        };
        match action {
            Action::SetDepartment(id) => {
                if store::departments::by_id(tx, *id).await?.is_none() {
                    problems.push(missing("a department"));
                }
            }
            Action::SetHelpTopic(id) => {
                if store::help_topics::by_id(tx, *id).await?.is_none() {
                    problems.push(missing("a help topic"));
                }
            }
            Action::SetSlaPlan(id) => {
                if store::sla_plans::by_id(tx, *id).await?.is_none() {
                    problems.push(missing("an SLA plan"));
                }
            }
            Action::SetStatus(id) => match store::tickets::status_state(tx, *id).await? {
                None => problems.push(missing("a ticket status")),
                Some(TicketState::Open | TicketState::Pending) => {}
                Some(_) => problems.push((
                    at.clone(),
                    "must be a status of the open or pending state: a new ticket is not resolved or closed at once".into(),
                )),
            },
            Action::AssignAgent(id) => {
                if !store::tickets::agent_assignable(tx, *id).await? {
                    problems.push(missing("an active agent"));
                }
            }
            Action::AssignTeam(id) => {
                if store::teams::by_id(tx, *id).await?.is_none() {
                    problems.push(missing("a team"));
                }
            }
            Action::AddCollaborators(ids) => {
                for id in ids {
                    if store::user_directory::by_id(tx, *id).await?.is_none() {
                        problems.push((at.clone(), format!("{id} is not a user of this workspace")));
                    }
                }
            }
            Action::SetCustomField { key, value } => {
                if !ticket_fields.iter().any(|f| f.key == *key) {
                    problems.push((
                        format!("actions[{index}].field"),
                        format!("names {key}, which is not a ticket custom field of this workspace"),
                    ));
                } else if set_custom(&ticket_fields, &Map::new(), key, value).is_none() {
                    let mut field = ticket_fields
                        .iter()
                        .filter(|f| f.key == *key)
                        .cloned()
                        .collect::<Vec<_>>();
                    field.iter_mut().for_each(|f| f.required = false);
                    let mut change = Map::new();
                    change.insert(key.clone(), value.clone());
                    let message = apply_custom_values(&field, &Map::new(), &change)
                        .err()
                        .and_then(|e| e.into_iter().next())
                        .map_or("does not fit the field".to_owned(), |e| e.message);
                    problems.push((at.clone(), message));
                }
            }
            Action::SetPriority(_) | Action::Reject(_) | Action::Stop => {}
        }
    }
    Ok(problems)
}

/// What testing a rule against a ticket found: each condition with its result, whether the
/// rule matches, and what each action would do. Nothing is changed.
#[derive(Clone, Debug)]
pub struct TestOutcome {
    pub conditions: Vec<(String, bool)>,
    pub matched: bool,
    pub actions: Vec<String>,
}

/// Tests `logic` against `ticket` as it is now (its first message, current requester and
/// organization).
pub async fn test(
    tx: &mut TenantTx,
    logic: &Logic,
    ticket: &Ticket,
) -> Result<TestOutcome, TicketError> {
    let requester = store::user_directory::by_id(tx, ticket.requester.id)
        .await?
        .ok_or(TicketError::NotFound)?;
    let organization = organization_of(tx, &requester).await?;
    let message = store::ticket_thread::thread(tx, ticket.id)
        .await?
        .into_iter()
        .find(|e| e.kind == store::ticket_thread::EntryKind::Message)
        .and_then(|e| e.body_text)
        .unwrap_or_default();
    let facts = facts(
        &ticket.subject,
        &message,
        ticket.help_topic.as_ref().map(|t| t.name.clone()),
        ticket.source,
        &ticket.custom,
        &requester,
        organization.as_ref(),
    );
    let (results, matched) = logic.evaluate(&facts);
    let conditions = logic
        .conditions
        .iter()
        .zip(results)
        .map(|(c, r)| (c.describe(), r))
        .collect();
    // The actions run on a copy of the ticket as a draft; the events say what would change.
    let mut draft = Draft {
        subject: ticket.subject.clone(),
        message_text: message,
        source: ticket.source,
        requester,
        organization,
        department_id: ticket.department.id,
        help_topic: ticket.help_topic.as_ref().map(|t| (t.id, t.name.clone())),
        priority: ticket.priority,
        sla_plan_id: ticket.sla_plan.as_ref().map(|p| p.id),
        state: ticket.state,
        status_id: ticket.status.as_ref().map(|s| s.id),
        assignee_agent_id: ticket.assignee_agent.as_ref().map(|a| a.id),
        assignee_team_id: ticket.assignee_team.as_ref().map(|t| t.id),
        collaborators: store::tickets::collaborators(tx, ticket.id)
            .await?
            .into_iter()
            .map(|c| c.id)
            .collect(),
        custom: ticket.custom.clone(),
        assigned_by_request: false,
    };
    let mut actions = Vec::new();
    for action in &logic.actions {
        let mut events = Vec::new();
        match action {
            Action::Reject(message) => {
                actions.push(format!("would reject the ticket: \"{message}\""));
                continue;
            }
            Action::Stop => {
                actions.push("would stop processing further rules".into());
                continue;
            }
            _ => act(tx, &mut draft, "", action, &mut events).await?,
        }
        if events.is_empty() {
            actions.push(format!("{}: no change (already so)", action_label(action)));
        }
        for event in events {
            let note = event["note"].as_str().unwrap_or_default().trim().to_owned();
            actions.push(format!("would {note}"));
        }
    }
    Ok(TestOutcome {
        conditions,
        matched,
        actions,
    })
}

fn action_label(action: &Action) -> &'static str {
    domain::ticket_filter::ACTIONS
        .iter()
        .find(|(n, _)| *n == action.kind())
        .map_or("", |(_, l)| *l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_expressions_are_size_limited() {
        assert!(RulePattern::compile("^(refund|chargeback)").is_ok());
        let huge = RulePattern::compile("(a{1000}){1000}").expect_err("too large");
        assert!(huge.contains("too large"), "{huge}");
        let invalid = RulePattern::compile("(unclosed").expect_err("invalid");
        assert!(
            invalid.contains("not a valid regular expression"),
            "{invalid}"
        );
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(RulePattern::compile(&deep).is_err());
    }
}
