//! `/admin/ticket-filters` and `/admin/field-mappings`: the rules every new ticket passes, for
//! agents whose role holds [`Permission::HelpdeskConfigure`]. Filters are listed in the order
//! they run, with buttons to move, enable or disable and delete each; a rule's conditions and
//! actions are rows of a plain form (a few empty rows are always offered, so it works without
//! JavaScript), and its page has the test-against-a-ticket tool. Forms become the API's JSON
//! bodies and go through the same `*_in` functions; errors are shown beside their rows with
//! the values kept. Another tenant's ids answer the 404 page.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::Permission;
use domain::custom_fields::FieldEntity;
use domain::ticket::Priority;
use domain::ticket_filter::{ACTIONS, OPERATORS, Subject};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use store::TenantTx;
use store::tickets::{TicketQuery, TicketScope};
use uuid::Uuid;

use crate::AppState;
use crate::api;
use crate::auth::SignedInAgent;
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::error::{ApiError, PageError};
use crate::pages::{Brand, render};
use crate::ticket_rules::{ORGANIZATION_SOURCE_FIELDS, USER_SOURCE_FIELDS};

/// Empty condition and action rows offered below the filled ones.
const SPARE_ROWS: usize = 3;

fn allowed(agent: SignedInAgent) -> Result<SignedInAgent, PageError> {
    agent.require(Permission::HelpdeskConfigure)?;
    Ok(agent)
}

/// A form as sent: every name with its values, in order.
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
            .map(|(_, value)| value.replace("\r\n", "\n"))
            .collect()
    }

    fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(key, _)| key == name)
    }
}

pub struct Choice {
    value: String,
    label: String,
    selected: bool,
}

fn choices(options: &[(String, String)], selected: &str) -> Vec<Choice> {
    options
        .iter()
        .map(|(value, label)| Choice {
            selected: value == selected,
            value: value.clone(),
            label: label.clone(),
        })
        .collect()
}

pub struct Group {
    label: String,
    choices: Vec<Choice>,
}

/// One condition row as shown.
pub struct ConditionRow {
    fields: Vec<Choice>,
    operators: Vec<Choice>,
    value: String,
    error: Option<String>,
}

/// One action row as shown: the type, a record or priority chosen from a list, and a text
/// (the rejection message, the custom value, collaborators' emails).
pub struct ActionRow {
    types: Vec<Choice>,
    targets: Vec<Group>,
    fields: Vec<Choice>,
    text: String,
    error: Option<String>,
}

/// A row as entered or stored: condition (field, operator, value) or action (type, target,
/// field, text).
#[derive(Clone, Default)]
struct Entered {
    a: String,
    b: String,
    c: String,
    d: String,
}

/// What the rows choose from, loaded once per page.
struct Lookups {
    subjects: Vec<(String, String)>,
    targets: Vec<(String, Vec<(String, String)>)>,
    ticket_fields: Vec<(String, String)>,
}

impl Lookups {
    async fn load(tx: &mut TenantTx) -> Result<Self, PageError> {
        let mut subjects: Vec<(String, String)> = vec![(String::new(), "(no condition)".into())];
        subjects.extend(
            Subject::FIXED
                .iter()
                .map(|(n, l)| ((*n).to_owned(), (*l).to_owned())),
        );
        let mut ticket_fields = vec![(String::new(), "(no field)".to_owned())];
        for (entity, prefix, label) in [
            (FieldEntity::Ticket, "ticket.custom.", "Ticket"),
            (FieldEntity::User, "requester.custom.", "Requester"),
            (
                FieldEntity::Organization,
                "organization.custom.",
                "Organization",
            ),
        ] {
            for field in store::custom_fields::active(tx, entity).await? {
                subjects.push((
                    format!("{prefix}{}", field.key),
                    format!("{label}: {}", field.label),
                ));
                if entity == FieldEntity::Ticket {
                    ticket_fields.push((field.key.clone(), field.label.clone()));
                }
            }
        }
        let pairs = |items: Vec<(Uuid, String)>| -> Vec<(String, String)> {
            items
                .into_iter()
                .map(|(id, label)| (id.to_string(), label))
                .collect()
        };
        let targets = vec![
            (
                "Priority".to_owned(),
                Priority::ALL
                    .iter()
                    .map(|p| (p.as_str().to_owned(), p.as_str().to_owned()))
                    .collect(),
            ),
            (
                "Departments".to_owned(),
                pairs(
                    store::departments::list(tx)
                        .await?
                        .into_iter()
                        .map(|d| (d.id, d.name))
                        .collect(),
                ),
            ),
            (
                "Help topics".to_owned(),
                pairs(
                    store::help_topics::list(tx)
                        .await?
                        .into_iter()
                        .map(|t| (t.id, t.name))
                        .collect(),
                ),
            ),
            (
                "SLA plans".to_owned(),
                pairs(
                    store::sla_plans::list(tx)
                        .await?
                        .into_iter()
                        .map(|p| (p.id, p.name))
                        .collect(),
                ),
            ),
            (
                "Statuses".to_owned(),
                pairs(
                    store::ticket_statuses::list(tx)
                        .await?
                        .into_iter()
                        .map(|s| (s.id, format!("{} ({})", s.name, s.state.as_str())))
                        .collect(),
                ),
            ),
            (
                "Agents".to_owned(),
                pairs(
                    store::agents::list(tx)
                        .await?
                        .into_iter()
                        .map(|a| (a.id, a.name))
                        .collect(),
                ),
            ),
            (
                "Teams".to_owned(),
                pairs(
                    store::teams::list(tx)
                        .await?
                        .into_iter()
                        .map(|t| (t.id, t.name))
                        .collect(),
                ),
            ),
        ];
        Ok(Self {
            subjects,
            targets,
            ticket_fields,
        })
    }

    fn condition_row(&self, row: &Entered) -> ConditionRow {
        let operators: Vec<(String, String)> = OPERATORS
            .iter()
            .map(|(n, l)| ((*n).to_owned(), (*l).to_owned()))
            .collect();
        ConditionRow {
            fields: choices(&self.subjects, &row.a),
            operators: choices(&operators, &row.b),
            value: row.c.clone(),
            error: None,
        }
    }

    fn action_row(&self, row: &Entered) -> ActionRow {
        let mut types = vec![(String::new(), "(no action)".to_owned())];
        types.extend(
            ACTIONS
                .iter()
                .map(|(n, l)| ((*n).to_owned(), (*l).to_owned())),
        );
        let mut targets = vec![Group {
            label: "None".into(),
            choices: choices(&[(String::new(), "(none)".into())], &row.b),
        }];
        targets.extend(self.targets.iter().map(|(label, options)| Group {
            label: label.clone(),
            choices: choices(options, &row.b),
        }));
        ActionRow {
            types: choices(&types, &row.a),
            targets,
            fields: choices(&self.ticket_fields, &row.c),
            text: row.d.clone(),
            error: None,
        }
    }
}

#[derive(Template)]
#[template(path = "admin_ticket_filters.html")]
struct ListPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    notice: Option<String>,
    rules: Vec<RuleLine>,
}

struct RuleLine {
    id: Uuid,
    name: String,
    enabled: bool,
    position: i32,
    summary: String,
}

#[derive(Template)]
#[template(path = "admin_ticket_filters_edit.html")]
struct EditPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    title: String,
    notice: Option<String>,
    action: String,
    id: Option<Uuid>,
    version: Option<i64>,
    name: String,
    name_error: Option<String>,
    position: String,
    position_error: Option<String>,
    enabled: bool,
    match_all: bool,
    conditions: Vec<ConditionRow>,
    conditions_error: Option<String>,
    actions: Vec<ActionRow>,
    actions_error: Option<String>,
    alert: Option<String>,
    failed: bool,
    test_number: String,
    test_error: Option<String>,
    test: Option<api::ticket_filters::TestResult>,
}

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    #[serde(default)]
    done: Option<String>,
}

fn notice(query: &NoticeQuery) -> Option<String> {
    Some(
        match query.done.as_deref()? {
            "created" => "The rule is added.",
            "saved" => "The rule is saved.",
            "deleted" => "The rule is deleted.",
            "moved" => "The order is saved.",
            _ => return None,
        }
        .to_owned(),
    )
}

pub async fn list(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let rules = store::ticket_filters::list(&mut tx)
        .await?
        .into_iter()
        .map(|f| {
            let summary = match crate::ticket_rules::logic_of(&f) {
                Some(logic) => {
                    let joiner = if logic.match_all { " and " } else { " or " };
                    let conditions: Vec<String> =
                        logic.conditions.iter().map(|c| c.describe()).collect();
                    let actions: Vec<&str> = logic
                        .actions
                        .iter()
                        .map(|a| {
                            ACTIONS
                                .iter()
                                .find(|(n, _)| *n == a.kind())
                                .map_or("", |(_, l)| *l)
                        })
                        .collect();
                    format!(
                        "When {}: {}.",
                        conditions.join(joiner),
                        actions.join(", ").to_lowercase()
                    )
                }
                None => "This rule no longer reads; open it and save it again.".into(),
            };
            RuleLine {
                id: f.id,
                name: f.name,
                enabled: f.enabled,
                position: f.position,
                summary,
            }
        })
        .collect();
    tx.commit().await?;
    let page = ListPage {
        brand: Brand::from(&settings),
        section: "ticket-filters",
        csrf: &csrf,
        notice: notice(&query),
        rules,
    };
    Ok(render(&page)?.into_response())
}

fn id_of(raw: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(raw).map_err(|_| PageError::NotFound)
}

/// The rows of a stored rule.
fn stored_rows(filter: &store::ticket_filters::TicketFilter) -> (Vec<Entered>, Vec<Entered>) {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Null => String::new(),
        other => domain::custom_fields::text_value(other),
    };
    let conditions = filter
        .conditions
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|c| Entered {
                    a: text(&c["field"]),
                    b: text(&c["operator"]),
                    c: text(&c["value"]),
                    d: String::new(),
                })
                .collect()
        })
        .unwrap_or_default();
    let actions = filter
        .actions
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|a| {
                    let kind = text(&a["type"]);
                    let (target, body) = match kind.as_str() {
                        "reject" | "add_collaborators" | "set_custom_field" => {
                            (String::new(), text(&a["value"]))
                        }
                        _ => (text(&a["value"]), String::new()),
                    };
                    Entered {
                        a: kind,
                        b: target,
                        c: text(&a["field"]),
                        d: body,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    (conditions, actions)
}

/// The rows as entered, blank rows dropped (so the API's indexes match the rows shown).
fn entered_rows(form: &FormFields) -> (Vec<Entered>, Vec<Entered>) {
    let zip4 = |a: Vec<String>, b: Vec<String>, c: Vec<String>, d: Vec<String>| {
        (0..a.len())
            .map(|i| Entered {
                a: a[i].clone(),
                b: b.get(i).cloned().unwrap_or_default(),
                c: c.get(i).cloned().unwrap_or_default(),
                d: d.get(i).cloned().unwrap_or_default(),
            })
            .filter(|row| !row.a.trim().is_empty())
            .collect::<Vec<_>>()
    };
    (
        zip4(
            form.all("condition_field"),
            form.all("condition_operator"),
            form.all("condition_value"),
            Vec::new(),
        ),
        zip4(
            form.all("action_type"),
            form.all("action_target"),
            form.all("action_field"),
            form.all("action_text"),
        ),
    )
}

/// The API body for the form; collaborators given by email become user ids (an unknown
/// address is left as typed, so the API names the row).
async fn body_of(tx: &mut TenantTx, form: &FormFields) -> Result<Value, PageError> {
    let (conditions, actions) = entered_rows(form);
    let conditions: Vec<Value> = conditions
        .iter()
        .map(|row| {
            let value = if row.b == "in_list" {
                json!(
                    row.c
                        .split([',', '\n'])
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                )
            } else {
                json!(row.c)
            };
            json!({"field": row.a, "operator": row.b, "value": value})
        })
        .collect();
    let mut action_values = Vec::new();
    for row in &actions {
        let value = match row.a.as_str() {
            "reject" | "set_custom_field" => json!(row.d),
            "add_collaborators" => {
                let mut ids = Vec::new();
                for part in row
                    .d
                    .split([',', '\n', ' '])
                    .filter(|s| !s.trim().is_empty())
                {
                    let part = part.trim();
                    match store::user_directory::by_email(tx, part).await? {
                        Some(user) => ids.push(user.id.to_string()),
                        None => ids.push(part.to_owned()),
                    }
                }
                json!(ids)
            }
            "stop" => Value::Null,
            _ => json!(row.b),
        };
        let mut action = json!({"type": row.a, "value": value});
        if row.a == "set_custom_field" {
            action["field"] = json!(row.c);
        }
        action_values.push(action);
    }
    let mut body = Map::new();
    body.insert("name".into(), json!(form.text("name")));
    body.insert("enabled".into(), json!(form.checked("enabled")));
    body.insert("match_all".into(), json!(form.text("match") != "any"));
    let position = form.text("position");
    if !position.trim().is_empty() {
        body.insert(
            "position".into(),
            position
                .trim()
                .parse::<i64>()
                .map_or(json!(position), |p| json!(p)),
        );
    }
    body.insert("conditions".into(), Value::Array(conditions));
    body.insert("actions".into(), Value::Array(action_values));
    if let Ok(version) = form.text("version").trim().parse::<i64>() {
        body.insert("version".into(), json!(version));
    }
    Ok(Value::Object(body))
}

#[allow(clippy::too_many_arguments)]
fn edit_page<'a>(
    brand: Brand,
    csrf: &'a str,
    lookups: &Lookups,
    id: Option<Uuid>,
    version: Option<i64>,
    name: String,
    position: String,
    enabled: bool,
    match_all: bool,
    rows: (Vec<Entered>, Vec<Entered>),
) -> EditPage<'a> {
    let (conditions, actions) = rows;
    let spare = |mut rows: Vec<Entered>| {
        rows.extend(std::iter::repeat_n(Entered::default(), SPARE_ROWS));
        rows
    };
    EditPage {
        brand,
        section: "ticket-filters",
        csrf,
        title: match id {
            Some(_) => format!("Ticket filter: {name}"),
            None => "Add a ticket filter".into(),
        },
        notice: None,
        action: match id {
            Some(id) => format!("/admin/ticket-filters/{id}"),
            None => "/admin/ticket-filters/new".into(),
        },
        id,
        version,
        name,
        name_error: None,
        position,
        position_error: None,
        enabled,
        match_all,
        conditions: spare(conditions)
            .iter()
            .map(|r| lookups.condition_row(r))
            .collect(),
        conditions_error: None,
        actions: spare(actions)
            .iter()
            .map(|r| lookups.action_row(r))
            .collect(),
        actions_error: None,
        alert: None,
        failed: false,
        test_number: String::new(),
        test_error: None,
        test: None,
    }
}

/// A "must be ..." message as a sentence.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
    let mut text = first.unwrap_or_default() + chars.as_str();
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

/// Files the API's errors beside the rows and inputs they name.
fn file_error(error: ApiError, page: &mut EditPage<'_>) -> Result<(), PageError> {
    match error {
        ApiError::Validation(errors) => {
            for e in errors {
                let message = sentence(&e.message);
                let (base, index) = match e.field.split_once('[') {
                    Some((base, rest)) => (
                        base.to_owned(),
                        rest.split(']').next().and_then(|n| n.parse::<usize>().ok()),
                    ),
                    None => (e.field.clone(), None),
                };
                let member = e.field.rsplit('.').next().unwrap_or_default().to_owned();
                match (base.as_str(), index) {
                    ("conditions", Some(i)) if i < page.conditions.len() => {
                        page.conditions[i].error = Some(format!("{member}: {message}"));
                    }
                    ("actions", Some(i)) if i < page.actions.len() => {
                        page.actions[i].error = Some(format!("{member}: {message}"));
                    }
                    ("conditions", _) => page.conditions_error = Some(message),
                    ("actions", _) => page.actions_error = Some(message),
                    ("name", _) => page.name_error = Some(message),
                    ("position", _) => page.position_error = Some(message),
                    _ => page.alert = Some(format!("{}: {message}", e.field)),
                }
            }
            Ok(())
        }
        ApiError::Conflict { field } => {
            if field == "name" {
                page.name_error = Some("Another rule already has this name.".into());
            } else {
                page.alert = Some(format!("{field} is already taken."));
            }
            Ok(())
        }
        ApiError::Stale(why) | ApiError::Refused(why) => {
            page.alert = Some(why);
            Ok(())
        }
        ApiError::NotFound => Err(PageError::NotFound),
        other => Err(PageError::Internal(Box::new(other))),
    }
}

pub async fn new_form(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let lookups = Lookups::load(&mut tx).await?;
    tx.commit().await?;
    let page = edit_page(
        Brand::from(&settings),
        &csrf,
        &lookups,
        None,
        None,
        String::new(),
        String::new(),
        true,
        true,
        (Vec::new(), Vec::new()),
    );
    Ok(render(&page)?.into_response())
}

/// Creates (`id` None) or saves a rule from the form; on errors the form again, values kept.
async fn save_form(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &str,
    id: Option<Uuid>,
    form: &FormFields,
) -> Result<Response, PageError> {
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    if let Some(id) = id
        && store::ticket_filters::by_id(&mut tx, id).await?.is_none()
    {
        return Err(PageError::NotFound);
    }
    let body = body_of(&mut tx, form).await?;
    let saved = match id {
        None => api::ticket_filters::create_in(&mut tx, body).await,
        Some(id) => api::ticket_filters::update_in(&mut tx, id, body, None).await,
    };
    let error = match saved {
        Ok(filter) => {
            tx.commit().await?;
            let done = if id.is_some() { "saved" } else { "created" };
            return Ok(
                Redirect::to(&format!("/admin/ticket-filters/{}?done={done}", filter.id))
                    .into_response(),
            );
        }
        Err(error) => error,
    };
    drop(tx);
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let lookups = Lookups::load(&mut tx).await?;
    tx.commit().await?;
    let mut page = edit_page(
        Brand::from(&settings),
        csrf,
        &lookups,
        id,
        form.text("version").trim().parse().ok(),
        form.text("name"),
        form.text("position"),
        form.checked("enabled"),
        form.text("match") != "any",
        entered_rows(form),
    );
    page.failed = true;
    file_error(error, &mut page)?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    save_form(&state, &me, &csrf, None, &form).await
}

pub async fn save(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let id = id_of(&id)?;
    save_form(&state, &me, &csrf, Some(id), &form).await
}

/// The edit page of a stored rule (with the test tool's result when given).
async fn stored_page<'a>(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &'a str,
    id: Uuid,
) -> Result<EditPage<'a>, PageError> {
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let filter = store::ticket_filters::by_id(&mut tx, id)
        .await?
        .ok_or(PageError::NotFound)?;
    let settings = store::settings::load(&mut tx).await?;
    let lookups = Lookups::load(&mut tx).await?;
    tx.commit().await?;
    Ok(edit_page(
        Brand::from(&settings),
        csrf,
        &lookups,
        Some(filter.id),
        Some(filter.version),
        filter.name.clone(),
        filter.position.to_string(),
        filter.enabled,
        filter.match_all,
        stored_rows(&filter),
    ))
}

pub async fn edit(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let id = id_of(&id)?;
    let mut page = stored_page(&state, &me, &csrf, id).await?;
    page.notice = notice(&query);
    Ok(render(&page)?.into_response())
}

/// The test tool: the rule against the ticket of the number given, changing nothing.
pub async fn test(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let id = id_of(&id)?;
    let mut page = stored_page(&state, &me, &csrf, id).await?;
    let raw = form.text("number");
    page.test_number = raw.clone();
    let number = raw.trim().trim_start_matches('#').parse::<i64>().ok();
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let filter = store::ticket_filters::by_id(&mut tx, id)
        .await?
        .ok_or(PageError::NotFound)?;
    let ticket = match number {
        Some(number) => store::tickets::list(
            &mut tx,
            TicketScope::All,
            &TicketQuery {
                number: Some(number),
                limit: 1,
                ..TicketQuery::default()
            },
        )
        .await?
        .items
        .into_iter()
        .next(),
        None => None,
    };
    let status = match ticket {
        None => {
            page.test_error = Some("There is no ticket with this number.".into());
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Some(ticket) => match api::ticket_filters::test_in(&mut tx, &filter, ticket.id).await {
            Ok(result) => {
                page.test = Some(result);
                StatusCode::OK
            }
            Err(error) => {
                file_error(error, &mut page)?;
                StatusCode::UNPROCESSABLE_ENTITY
            }
        },
    };
    // A test writes nothing: the transaction is dropped, not committed.
    drop(tx);
    Ok((status, render(&page)?).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path(id): Path<String>,
    CsrfForm(_form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let id = id_of(&id)?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    if !store::ticket_filters::delete(&mut tx, id).await? {
        return Err(PageError::NotFound);
    }
    tx.commit().await?;
    Ok(Redirect::to("/admin/ticket-filters?done=deleted").into_response())
}

/// Enables or disables a rule.
pub async fn toggle(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path(id): Path<String>,
    CsrfForm(_form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let id = id_of(&id)?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let filter = store::ticket_filters::by_id(&mut tx, id)
        .await?
        .ok_or(PageError::NotFound)?;
    api::ticket_filters::update_in(&mut tx, id, json!({"enabled": !filter.enabled}), None)
        .await
        .map_err(|e| PageError::Internal(Box::new(e)))?;
    tx.commit().await?;
    Ok(Redirect::to("/admin/ticket-filters?done=saved").into_response())
}

/// Moves a rule one place up or down (`direction` up or down).
pub async fn move_rule(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let id = id_of(&id)?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    if !store::ticket_filters::move_rule(&mut tx, id, form.text("direction") == "up").await? {
        return Err(PageError::NotFound);
    }
    tx.commit().await?;
    Ok(Redirect::to("/admin/ticket-filters?done=moved").into_response())
}

// ------------------------------------------------------------------------------------------
// Field mappings
// ------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin_field_mappings.html")]
struct MappingsPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    notice: Option<String>,
    mappings: Vec<(Uuid, String, String)>,
    sources: Vec<Choice>,
    targets: Vec<Choice>,
    source_error: Option<String>,
    target_error: Option<String>,
    alert: Option<String>,
}

async fn mappings_page<'a>(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &'a str,
    source: &str,
    target: &str,
) -> Result<MappingsPage<'a>, PageError> {
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let ticket_fields = store::custom_fields::active(&mut tx, FieldEntity::Ticket).await?;
    let label_of = |key: &str| {
        ticket_fields
            .iter()
            .find(|f| f.key == key)
            .map_or_else(|| key.to_owned(), |f| f.label.clone())
    };
    let mappings = store::field_mappings::list(&mut tx)
        .await?
        .into_iter()
        .map(|m| {
            (
                m.id,
                format!("{} {}", m.source_entity, m.source_field),
                label_of(&m.target_key),
            )
        })
        .collect();
    let mut sources: Vec<(String, String)> = Vec::new();
    for field in USER_SOURCE_FIELDS {
        sources.push((format!("user:{field}"), format!("Requester: {field}")));
    }
    for field in store::custom_fields::active(&mut tx, FieldEntity::User).await? {
        sources.push((
            format!("user:custom.{}", field.key),
            format!("Requester: {}", field.label),
        ));
    }
    for field in ORGANIZATION_SOURCE_FIELDS {
        sources.push((
            format!("organization:{field}"),
            format!("Organization: {field}"),
        ));
    }
    for field in store::custom_fields::active(&mut tx, FieldEntity::Organization).await? {
        sources.push((
            format!("organization:custom.{}", field.key),
            format!("Organization: {}", field.label),
        ));
    }
    let targets: Vec<(String, String)> = ticket_fields
        .iter()
        .map(|f| (f.key.clone(), f.label.clone()))
        .collect();
    tx.commit().await?;
    Ok(MappingsPage {
        brand: Brand::from(&settings),
        section: "field-mappings",
        csrf,
        notice: None,
        mappings,
        sources: choices(&sources, source),
        targets: choices(&targets, target),
        source_error: None,
        target_error: None,
        alert: None,
    })
}

pub async fn mappings(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let mut page = mappings_page(&state, &me, &csrf, "", "").await?;
    page.notice = match query.done.as_deref() {
        Some("created") => Some("The mapping is added.".into()),
        Some("deleted") => Some("The mapping is deleted.".into()),
        _ => None,
    };
    Ok(render(&page)?.into_response())
}

pub async fn create_mapping(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let source = form.text("source");
    let target = form.text("target_key");
    let (entity, field) = source.split_once(':').unwrap_or(("", ""));
    let body = json!({"source_entity": entity, "source_field": field, "target_key": target});
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let error = match api::field_mappings::create_in(&mut tx, body).await {
        Ok(_) => {
            tx.commit().await?;
            return Ok(Redirect::to("/admin/field-mappings?done=created").into_response());
        }
        Err(error) => error,
    };
    drop(tx);
    let mut page = mappings_page(&state, &me, &csrf, &source, &target).await?;
    match error {
        ApiError::Validation(errors) => {
            for e in errors {
                match e.field.as_str() {
                    "target_key" => page.target_error = Some(sentence(&e.message)),
                    _ => page.source_error = Some(sentence(&e.message)),
                }
            }
        }
        ApiError::Conflict { .. } => {
            page.target_error = Some("This ticket field already has a mapping.".into());
        }
        ApiError::BadRequest(why) => page.alert = Some(why),
        other => return Err(PageError::Internal(Box::new(other))),
    }
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
}

pub async fn delete_mapping(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path(id): Path<String>,
    CsrfForm(_form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let id = id_of(&id)?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    if !store::field_mappings::delete(&mut tx, id).await? {
        return Err(PageError::NotFound);
    }
    tx.commit().await?;
    Ok(Redirect::to("/admin/field-mappings?done=deleted").into_response())
}
