//! Ticket filters (osTicket filters): the conditions a new ticket is matched against and the
//! actions a matching rule takes, parsed from their JSON form, and the evaluation of conditions
//! against the facts of a ticket. Regular expressions are compiled by the caller through
//! [`Pattern`] (this crate has no regex engine), which must bound their compiled size: a
//! pattern is also capped at [`MAX_PATTERN_CHARS`] here, before it is ever compiled.
//!
//! Text comparisons (equals, contains, starts with, in list) ignore case, as osTicket's do;
//! a regular expression is matched as written (`(?i)` makes it ignore case).

use std::fmt;

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::custom_fields::text_value;
use crate::ticket::Priority;

/// How many conditions, and how many actions, one rule may have.
pub const MAX_CONDITIONS: usize = 20;
pub const MAX_ACTIONS: usize = 20;
/// The longest regular expression, in characters.
pub const MAX_PATTERN_CHARS: usize = 300;
/// The longest value compared against, and the longest rejection message.
pub const MAX_VALUE_CHARS: usize = 1_000;
/// How many entries an `in_list` value may have.
pub const MAX_LIST_ITEMS: usize = 200;
/// How many collaborators one action may add.
pub const MAX_COLLABORATORS: usize = 20;

/// A compiled regular expression. Implementations must refuse patterns whose compiled form
/// exceeds a size limit (the error says so), so no rule can make matching expensive.
pub trait Pattern: Sized {
    fn compile(source: &str) -> Result<Self, String>;
    fn is_match(&self, text: &str) -> bool;
}

/// What a condition looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    Subject,
    Message,
    /// The help topic's name.
    HelpTopic,
    /// portal, agent, api or email.
    Source,
    TicketCustom(String),
    RequesterEmail,
    /// The part of the requester's address after the @.
    RequesterDomain,
    /// valid, invalid or invalid_temporarily.
    RequesterValidity,
    RequesterCustom(String),
    /// The requester's primary organization.
    OrganizationName,
    OrganizationCustom(String),
}

impl Subject {
    /// The fixed subjects, by name, with the label people read.
    pub const FIXED: [(&'static str, &'static str); 8] = [
        ("subject", "Subject"),
        ("message", "Message"),
        ("help_topic", "Help topic"),
        ("source", "Source"),
        ("requester.email", "Requester email"),
        ("requester.domain", "Requester email domain"),
        ("requester.validity", "Requester validity"),
        ("organization.name", "Organization name"),
    ];

    /// `subject`, `message`, `help_topic`, `source`, `ticket.custom.<key>`,
    /// `requester.email`, `requester.domain`, `requester.validity`, `requester.custom.<key>`,
    /// `organization.name` or `organization.custom.<key>`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let custom = |prefix: &str| {
            raw.strip_prefix(prefix)
                .map(crate::custom_fields::parse_key)
        };
        Ok(match raw {
            "subject" => Self::Subject,
            "message" => Self::Message,
            "help_topic" => Self::HelpTopic,
            "source" => Self::Source,
            "requester.email" => Self::RequesterEmail,
            "requester.domain" => Self::RequesterDomain,
            "requester.validity" => Self::RequesterValidity,
            "organization.name" => Self::OrganizationName,
            _ => {
                if let Some(key) = custom("ticket.custom.") {
                    Self::TicketCustom(key?)
                } else if let Some(key) = custom("requester.custom.") {
                    Self::RequesterCustom(key?)
                } else if let Some(key) = custom("organization.custom.") {
                    Self::OrganizationCustom(key?)
                } else {
                    return Err(
                        "must be subject, message, help_topic, source, requester.email, requester.domain, requester.validity, organization.name, or ticket.custom.<key>, requester.custom.<key>, organization.custom.<key>"
                            .into(),
                    );
                }
            }
        })
    }

    pub fn name(&self) -> String {
        match self {
            Self::Subject => "subject".into(),
            Self::Message => "message".into(),
            Self::HelpTopic => "help_topic".into(),
            Self::Source => "source".into(),
            Self::TicketCustom(key) => format!("ticket.custom.{key}"),
            Self::RequesterEmail => "requester.email".into(),
            Self::RequesterDomain => "requester.domain".into(),
            Self::RequesterValidity => "requester.validity".into(),
            Self::RequesterCustom(key) => format!("requester.custom.{key}"),
            Self::OrganizationName => "organization.name".into(),
            Self::OrganizationCustom(key) => format!("organization.custom.{key}"),
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// How a condition compares.
#[derive(Clone, Debug)]
pub enum Operator<P> {
    Equals(String),
    Contains(String),
    StartsWith(String),
    Matches { source: String, pattern: P },
    InList(Vec<String>),
}

impl<P> PartialEq for Operator<P> {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name() && self.value() == other.value()
    }
}

/// The operators by name, with the label people read.
pub const OPERATORS: [(&str, &str); 5] = [
    ("equals", "equals"),
    ("contains", "contains"),
    ("starts_with", "starts with"),
    ("matches", "matches the regular expression"),
    ("in_list", "is one of"),
];

fn text_operand(raw: &str) -> Result<String, String> {
    if raw.chars().count() > MAX_VALUE_CHARS {
        return Err(format!("must be at most {MAX_VALUE_CHARS} characters"));
    }
    Ok(raw.to_owned())
}

impl<P: Pattern> Operator<P> {
    /// The operator `name` with its `value`: a string, or for `in_list` an array of strings
    /// (or one string of entries separated by line breaks or commas). The error is about the
    /// value when the name is known (`(field, message)` with field `operator` or `value`).
    pub fn parse(name: &str, value: &Value) -> Result<Self, (&'static str, String)> {
        let text = || match value {
            Value::String(text) => text_operand(text).map_err(|e| ("value", e)),
            _ => Err(("value", "must be a string".to_owned())),
        };
        match name.trim() {
            "equals" => Ok(Self::Equals(text()?)),
            "contains" => Ok(Self::Contains(text()?)),
            "starts_with" => Ok(Self::StartsWith(text()?)),
            "matches" => {
                let source = text()?;
                if source.is_empty() {
                    return Err(("value", "must be a regular expression".into()));
                }
                if source.chars().count() > MAX_PATTERN_CHARS {
                    return Err((
                        "value",
                        format!(
                            "must be a regular expression of at most {MAX_PATTERN_CHARS} characters"
                        ),
                    ));
                }
                let pattern = P::compile(&source).map_err(|e| ("value", e))?;
                Ok(Self::Matches { source, pattern })
            }
            "in_list" => {
                let items: Vec<String> = match value {
                    Value::String(text) => text
                        .split(['\n', ','])
                        .map(str::trim)
                        .filter(|i| !i.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    Value::Array(items) => {
                        let mut list = Vec::new();
                        for item in items {
                            match item {
                                Value::String(text) if !text.trim().is_empty() => {
                                    list.push(text.trim().to_owned());
                                }
                                _ => {
                                    return Err((
                                        "value",
                                        "must be a list of non-empty strings".into(),
                                    ));
                                }
                            }
                        }
                        list
                    }
                    _ => return Err(("value", "must be a list of strings".into())),
                };
                if items.is_empty() || items.len() > MAX_LIST_ITEMS {
                    return Err((
                        "value",
                        format!("must list between 1 and {MAX_LIST_ITEMS} entries"),
                    ));
                }
                for item in &items {
                    text_operand(item).map_err(|e| ("value", e))?;
                }
                Ok(Self::InList(items))
            }
            _ => Err((
                "operator",
                "must be equals, contains, starts_with, matches or in_list".into(),
            )),
        }
    }

    /// Whether `text` satisfies the operator.
    pub fn is_match(&self, text: &str) -> bool {
        let folded = text.to_lowercase();
        match self {
            Self::Equals(value) => folded == value.to_lowercase(),
            Self::Contains(value) => folded.contains(&value.to_lowercase()),
            Self::StartsWith(value) => folded.starts_with(&value.to_lowercase()),
            Self::Matches { pattern, .. } => pattern.is_match(text),
            Self::InList(items) => items.iter().any(|i| i.to_lowercase() == folded),
        }
    }
}

impl<P> Operator<P> {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Equals(_) => "equals",
            Self::Contains(_) => "contains",
            Self::StartsWith(_) => "starts_with",
            Self::Matches { .. } => "matches",
            Self::InList(_) => "in_list",
        }
    }

    /// The value in its JSON form (a list for `in_list`).
    pub fn value(&self) -> Value {
        match self {
            Self::Equals(v) | Self::Contains(v) | Self::StartsWith(v) => json!(v),
            Self::Matches { source, .. } => json!(source),
            Self::InList(items) => json!(items),
        }
    }

    /// The value as one line of text (list entries one per line).
    pub fn value_text(&self) -> String {
        match self {
            Self::InList(items) => items.join("\n"),
            Self::Equals(v) | Self::Contains(v) | Self::StartsWith(v) => v.clone(),
            Self::Matches { source, .. } => source.clone(),
        }
    }
}

/// One condition of a rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition<P> {
    pub subject: Subject,
    pub operator: Operator<P>,
}

impl<P> Condition<P> {
    pub fn to_json(&self) -> Value {
        json!({"field": self.subject.name(), "operator": self.operator.name(), "value": self.operator.value()})
    }

    /// "subject contains 'refund'".
    pub fn describe(&self) -> String {
        let label = OPERATORS
            .iter()
            .find(|(n, _)| *n == self.operator.name())
            .map_or("", |(_, l)| *l);
        format!(
            "{} {label} '{}'",
            self.subject,
            self.operator.value_text().replace('\n', "', '")
        )
    }
}

/// What a matching rule does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    SetDepartment(Uuid),
    SetHelpTopic(Uuid),
    SetPriority(Priority),
    SetSlaPlan(Uuid),
    /// A status of the open or pending state (checked when the rule is saved).
    SetStatus(Uuid),
    AssignAgent(Uuid),
    AssignTeam(Uuid),
    AddCollaborators(Vec<Uuid>),
    /// A ticket custom field's key and its value (checked against the field when saved).
    SetCustomField {
        key: String,
        value: Value,
    },
    /// Refuse the ticket; the message is shown to whoever tried to create it.
    Reject(String),
    /// Run no later rule.
    Stop,
}

/// The action types by name, with the label people read.
pub const ACTIONS: [(&str, &str); 11] = [
    ("set_department", "Set the department"),
    ("set_help_topic", "Set the help topic"),
    ("set_priority", "Set the priority"),
    ("set_sla_plan", "Set the SLA plan"),
    ("set_status", "Set the status"),
    ("assign_agent", "Assign to an agent"),
    ("assign_team", "Assign to a team"),
    ("add_collaborators", "Add collaborators"),
    ("set_custom_field", "Set a custom field"),
    ("reject", "Reject the ticket"),
    ("stop", "Stop processing further rules"),
];

impl Action {
    /// An action from `{"type": ..., "value": ..., "field": ...}` (`field` only for
    /// `set_custom_field`). The error names the member at fault.
    pub fn parse(object: &Map<String, Value>) -> Result<Self, (&'static str, String)> {
        let kind = match object.get("type") {
            Some(Value::String(kind)) => kind.trim(),
            _ => return Err(("type", "is required".into())),
        };
        let value = object.get("value").unwrap_or(&Value::Null);
        let id = || match value {
            Value::String(raw) => Uuid::parse_str(raw.trim())
                .map_err(|_| ("value", "must be an id (a UUID)".to_owned())),
            _ => Err(("value", "must be an id (a UUID)".to_owned())),
        };
        Ok(match kind {
            "set_department" => Self::SetDepartment(id()?),
            "set_help_topic" => Self::SetHelpTopic(id()?),
            "set_sla_plan" => Self::SetSlaPlan(id()?),
            "set_status" => Self::SetStatus(id()?),
            "assign_agent" => Self::AssignAgent(id()?),
            "assign_team" => Self::AssignTeam(id()?),
            "set_priority" => Self::SetPriority(
                value
                    .as_str()
                    .and_then(Priority::parse)
                    .ok_or(("value", "must be low, normal, high or urgent".to_owned()))?,
            ),
            "add_collaborators" => {
                let raw: Vec<&str> = match value {
                    Value::String(text) => text
                        .split([',', '\n', ' '])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .collect(),
                    Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                };
                let mut ids = Vec::new();
                for item in raw {
                    let parsed = Uuid::parse_str(item)
                        .map_err(|_| ("value", "must be a list of user ids".to_owned()))?;
                    if !ids.contains(&parsed) {
                        ids.push(parsed);
                    }
                }
                if ids.is_empty() || ids.len() > MAX_COLLABORATORS {
                    return Err((
                        "value",
                        format!("must list between 1 and {MAX_COLLABORATORS} user ids"),
                    ));
                }
                Self::AddCollaborators(ids)
            }
            "set_custom_field" => {
                let key = match object.get("field") {
                    Some(Value::String(key)) => {
                        crate::custom_fields::parse_key(key.trim()).map_err(|e| ("field", e))?
                    }
                    _ => return Err(("field", "must be the key of a ticket custom field".into())),
                };
                Self::SetCustomField {
                    key,
                    value: value.clone(),
                }
            }
            "reject" => {
                let message = value.as_str().map(str::trim).unwrap_or_default();
                if message.is_empty() || message.chars().count() > MAX_VALUE_CHARS {
                    return Err((
                        "value",
                        format!("must be the message shown, 1 to {MAX_VALUE_CHARS} characters"),
                    ));
                }
                Self::Reject(message.to_owned())
            }
            "stop" => Self::Stop,
            _ => {
                return Err((
                    "type",
                    format!("must be one of {}", ACTIONS.map(|(n, _)| n).join(", ")),
                ));
            }
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::SetDepartment(_) => "set_department",
            Self::SetHelpTopic(_) => "set_help_topic",
            Self::SetPriority(_) => "set_priority",
            Self::SetSlaPlan(_) => "set_sla_plan",
            Self::SetStatus(_) => "set_status",
            Self::AssignAgent(_) => "assign_agent",
            Self::AssignTeam(_) => "assign_team",
            Self::AddCollaborators(_) => "add_collaborators",
            Self::SetCustomField { .. } => "set_custom_field",
            Self::Reject(_) => "reject",
            Self::Stop => "stop",
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Self::SetDepartment(id)
            | Self::SetHelpTopic(id)
            | Self::SetSlaPlan(id)
            | Self::SetStatus(id)
            | Self::AssignAgent(id)
            | Self::AssignTeam(id) => json!({"type": self.kind(), "value": id}),
            Self::SetPriority(p) => json!({"type": self.kind(), "value": p.as_str()}),
            Self::AddCollaborators(ids) => json!({"type": self.kind(), "value": ids}),
            Self::SetCustomField { key, value } => {
                json!({"type": self.kind(), "field": key, "value": value})
            }
            Self::Reject(message) => json!({"type": self.kind(), "value": message}),
            Self::Stop => json!({"type": self.kind()}),
        }
    }

    /// The value as one line of form text.
    pub fn value_text(&self) -> String {
        match self {
            Self::SetDepartment(id)
            | Self::SetHelpTopic(id)
            | Self::SetSlaPlan(id)
            | Self::SetStatus(id)
            | Self::AssignAgent(id)
            | Self::AssignTeam(id) => id.to_string(),
            Self::SetPriority(p) => p.as_str().into(),
            Self::AddCollaborators(ids) => ids
                .iter()
                .map(Uuid::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            Self::SetCustomField { value, .. } => text_value(value),
            Self::Reject(message) => message.clone(),
            Self::Stop => String::new(),
        }
    }
}

/// A rule's conditions and actions, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleLogic<P> {
    /// Every condition must match (false: any one).
    pub match_all: bool,
    pub conditions: Vec<Condition<P>>,
    pub actions: Vec<Action>,
}

/// A field error: the member path (`conditions[0].value`) and the message.
pub type RuleProblem = (String, String);

/// Parses the JSON lists of conditions (`[{"field", "operator", "value"}]`) and actions
/// (`[{"type", "value", "field"?}]`), collecting every problem with its path.
pub fn parse_logic<P: Pattern>(
    match_all: bool,
    conditions: &Value,
    actions: &Value,
) -> Result<RuleLogic<P>, Vec<RuleProblem>> {
    let mut problems = Vec::new();
    let mut parsed_conditions = Vec::new();
    match conditions {
        Value::Array(items) if items.len() <= MAX_CONDITIONS => {
            for (index, item) in items.iter().enumerate() {
                let at = |member: &str| format!("conditions[{index}].{member}");
                let Value::Object(object) = item else {
                    problems.push((
                        format!("conditions[{index}]"),
                        "must be an object with field, operator and value".into(),
                    ));
                    continue;
                };
                let subject = match object.get("field") {
                    Some(Value::String(raw)) => Subject::parse(raw),
                    _ => Err("is required".into()),
                };
                let operator = match object.get("operator") {
                    Some(Value::String(raw)) => {
                        Operator::parse(raw, object.get("value").unwrap_or(&Value::Null))
                    }
                    _ => Err(("operator", "is required".into())),
                };
                match (subject, operator) {
                    (Ok(subject), Ok(operator)) => {
                        parsed_conditions.push(Condition { subject, operator });
                    }
                    (subject, operator) => {
                        if let Err(message) = subject {
                            problems.push((at("field"), message));
                        }
                        if let Err((member, message)) = operator {
                            problems.push((at(member), message));
                        }
                    }
                }
            }
        }
        Value::Array(_) => problems.push((
            "conditions".into(),
            format!("must have at most {MAX_CONDITIONS} conditions"),
        )),
        _ => problems.push(("conditions".into(), "must be a list".into())),
    }
    let mut parsed_actions = Vec::new();
    match actions {
        Value::Array(items) if !items.is_empty() && items.len() <= MAX_ACTIONS => {
            for (index, item) in items.iter().enumerate() {
                match item {
                    Value::Object(object) => match Action::parse(object) {
                        Ok(action) => parsed_actions.push(action),
                        Err((member, message)) => {
                            problems.push((format!("actions[{index}].{member}"), message));
                        }
                    },
                    _ => problems.push((
                        format!("actions[{index}]"),
                        "must be an object with type and value".into(),
                    )),
                }
            }
        }
        Value::Array(_) => problems.push((
            "actions".into(),
            format!("must have between 1 and {MAX_ACTIONS} actions"),
        )),
        _ => problems.push(("actions".into(), "must be a list".into())),
    }
    if parsed_conditions.is_empty() && problems.iter().all(|(f, _)| !f.starts_with("conditions")) {
        problems.push((
            "conditions".into(),
            "must have at least one condition (a rule for every ticket needs one that always matches, such as subject matches '.')".into(),
        ));
    }
    if problems.is_empty() {
        Ok(RuleLogic {
            match_all,
            conditions: parsed_conditions,
            actions: parsed_actions,
        })
    } else {
        Err(problems)
    }
}

impl<P> RuleLogic<P> {
    pub fn conditions_json(&self) -> Value {
        Value::Array(self.conditions.iter().map(Condition::to_json).collect())
    }

    pub fn actions_json(&self) -> Value {
        Value::Array(self.actions.iter().map(Action::to_json).collect())
    }
}

impl<P: Pattern> RuleLogic<P> {
    /// Each condition's result, and whether the rule matches as a whole.
    pub fn evaluate(&self, facts: &TicketFacts) -> (Vec<bool>, bool) {
        let results: Vec<bool> = self
            .conditions
            .iter()
            .map(|c| {
                facts
                    .value(&c.subject)
                    .is_some_and(|text| c.operator.is_match(&text))
            })
            .collect();
        let matched = if self.match_all {
            results.iter().all(|r| *r)
        } else {
            results.iter().any(|r| *r)
        };
        let matched = matched && !results.is_empty();
        (results, matched)
    }
}

/// What conditions look at: the ticket as it is being created (or as it is, for the test
/// tool), its requester and the requester's primary organization.
#[derive(Clone, Debug, Default)]
pub struct TicketFacts {
    pub subject: String,
    pub message: String,
    pub help_topic: Option<String>,
    pub source: String,
    pub ticket_custom: Map<String, Value>,
    pub requester_email: String,
    pub requester_validity: String,
    pub requester_custom: Map<String, Value>,
    pub organization_name: Option<String>,
    pub organization_custom: Map<String, Value>,
}

impl TicketFacts {
    /// The text a condition on `subject` compares; `None` when there is nothing to compare
    /// (no help topic, no organization, an empty custom value): such a condition never matches.
    pub fn value(&self, subject: &Subject) -> Option<String> {
        let custom = |map: &Map<String, Value>, key: &str| {
            map.get(key).map(text_value).filter(|text| !text.is_empty())
        };
        match subject {
            Subject::Subject => Some(self.subject.clone()),
            Subject::Message => Some(self.message.clone()),
            Subject::HelpTopic => self.help_topic.clone(),
            Subject::Source => Some(self.source.clone()),
            Subject::TicketCustom(key) => custom(&self.ticket_custom, key),
            Subject::RequesterEmail => Some(self.requester_email.clone()),
            Subject::RequesterDomain => self
                .requester_email
                .rsplit_once('@')
                .map(|(_, domain)| domain.to_owned()),
            Subject::RequesterValidity => Some(self.requester_validity.clone()),
            Subject::RequesterCustom(key) => custom(&self.requester_custom, key),
            Subject::OrganizationName => self.organization_name.clone(),
            Subject::OrganizationCustom(key) => self
                .organization_name
                .as_ref()
                .and_then(|_| custom(&self.organization_custom, key)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in engine: `^x` is "starts with x", anything else is a substring; `(` is an
    /// invalid pattern and `huge` one over the size limit.
    #[derive(Clone, Debug)]
    struct Simple(String);

    impl Pattern for Simple {
        fn compile(source: &str) -> Result<Self, String> {
            match source {
                s if s.contains('(') => Err("is not a valid regular expression".into()),
                "huge" => Err("is too large".into()),
                s => Ok(Self(s.to_owned())),
            }
        }

        fn is_match(&self, text: &str) -> bool {
            match self.0.strip_prefix('^') {
                Some(start) => text.starts_with(start),
                None => text.contains(&self.0),
            }
        }
    }

    fn facts() -> TicketFacts {
        let mut ticket_custom = Map::new();
        ticket_custom.insert("order".into(), json!("A-17"));
        let mut requester_custom = Map::new();
        requester_custom.insert("tier".into(), json!("Gold"));
        TicketFacts {
            subject: "Refund for order A-17".into(),
            message: "Please send the money back".into(),
            help_topic: Some("Billing".into()),
            source: "api".into(),
            ticket_custom,
            requester_email: "ada@VIP.example".into(),
            requester_validity: "valid".into(),
            requester_custom,
            organization_name: None,
            organization_custom: Map::new(),
        }
    }

    fn logic(match_all: bool, conditions: Value) -> RuleLogic<Simple> {
        parse_logic(match_all, &conditions, &json!([{"type": "stop"}])).expect("rule")
    }

    #[test]
    fn every_operator_compares_as_documented() {
        let facts = facts();
        let cases = [
            (
                json!({"field": "subject", "operator": "contains", "value": "REFUND"}),
                true,
            ),
            (
                json!({"field": "subject", "operator": "equals", "value": "refund"}),
                false,
            ),
            (
                json!({"field": "subject", "operator": "starts_with", "value": "refund for"}),
                true,
            ),
            (
                json!({"field": "message", "operator": "matches", "value": "^Please"}),
                true,
            ),
            (
                json!({"field": "message", "operator": "matches", "value": "^please"}),
                false,
            ),
            (
                json!({"field": "requester.domain", "operator": "in_list", "value": ["a.example", "vip.example"]}),
                true,
            ),
            (
                json!({"field": "requester.domain", "operator": "in_list", "value": "a.example, b.example"}),
                false,
            ),
            (
                json!({"field": "help_topic", "operator": "equals", "value": "billing"}),
                true,
            ),
            (
                json!({"field": "source", "operator": "equals", "value": "portal"}),
                false,
            ),
            (
                json!({"field": "ticket.custom.order", "operator": "equals", "value": "a-17"}),
                true,
            ),
            (
                json!({"field": "requester.custom.tier", "operator": "equals", "value": "gold"}),
                true,
            ),
            (
                json!({"field": "requester.validity", "operator": "equals", "value": "valid"}),
                true,
            ),
            // No organization: conditions on it never match.
            (
                json!({"field": "organization.name", "operator": "contains", "value": ""}),
                false,
            ),
            (
                json!({"field": "ticket.custom.missing", "operator": "contains", "value": ""}),
                false,
            ),
        ];
        for (condition, expected) in cases {
            let rule = logic(true, json!([condition.clone()]));
            assert_eq!(rule.evaluate(&facts).1, expected, "{condition}");
        }
    }

    #[test]
    fn all_or_any() {
        let conditions = json!([
            {"field": "subject", "operator": "contains", "value": "refund"},
            {"field": "source", "operator": "equals", "value": "email"}
        ]);
        let (results, matched) = logic(true, conditions.clone()).evaluate(&facts());
        assert_eq!(results, vec![true, false]);
        assert!(!matched);
        assert!(logic(false, conditions).evaluate(&facts()).1);
    }

    #[test]
    fn bad_rules_name_the_member_at_fault() {
        let problems = parse_logic::<Simple>(
            true,
            &json!([
                {"field": "colour", "operator": "equals", "value": "red"},
                {"field": "subject", "operator": "matches", "value": "(a"},
                {"field": "subject", "operator": "matches", "value": "huge"},
                {"field": "subject", "operator": "matches", "value": "a".repeat(MAX_PATTERN_CHARS + 1)},
                {"field": "subject", "operator": "resembles", "value": "x"},
                {"field": "subject", "operator": "in_list", "value": []}
            ]),
            &json!([
                {"type": "set_priority", "value": "huge"},
                {"type": "assign_agent", "value": "nobody"},
                {"type": "reject", "value": " "},
                {"type": "set_custom_field", "value": "x"},
                {"type": "explode"}
            ]),
        )
        .expect_err("bad rule");
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "conditions[0].field",
                "conditions[1].value",
                "conditions[2].value",
                "conditions[3].value",
                "conditions[4].operator",
                "conditions[5].value",
                "actions[0].value",
                "actions[1].value",
                "actions[2].value",
                "actions[3].field",
                "actions[4].type",
            ]
        );
        assert!(problems[2].1.contains("too large"));
        let none = parse_logic::<Simple>(true, &json!([]), &json!([])).expect_err("empty");
        let fields: Vec<&str> = none.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, vec!["actions", "conditions"]);
    }

    #[test]
    fn rules_round_trip_through_json() {
        let conditions = json!([
            {"field": "organization.custom.plan", "operator": "in_list", "value": ["gold", "silver"]},
            {"field": "subject", "operator": "matches", "value": "^x"}
        ]);
        let actions = json!([
            {"type": "set_priority", "value": "high"},
            {"type": "add_collaborators", "value": ["01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d30"]},
            {"type": "set_custom_field", "field": "tier", "value": "gold"},
            {"type": "reject", "value": "No spam, thanks."},
            {"type": "stop"}
        ]);
        let rule: RuleLogic<Simple> = parse_logic(false, &conditions, &actions).expect("rule");
        assert_eq!(rule.conditions_json(), conditions);
        assert_eq!(rule.actions_json(), actions);
        assert_eq!(
            rule.conditions[0].describe(),
            "organization.custom.plan is one of 'gold', 'silver'"
        );
    }
}
