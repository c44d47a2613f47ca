//! `/api/v1/ticket-filters`: the ordered rules every new ticket passes (osTicket filters),
//! and the test of a rule against an existing ticket. Everything needs `helpdesk.configure`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use domain::Permission;
use domain::ticket_filter::parse_logic;
use serde::Serialize;
use serde_json::{Map, Value};
use store::TenantTx;
use store::ticket_filters::{FilterWrite, TicketFilter};
use store::tickets::TicketScope;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::departments::{
    expected_version, field_error, object_of, parse_name, require_field, updated, versioned,
};
use crate::api::json::{ApiJson, FieldParser};
use crate::api::page::{Page, PageQuery};
use crate::error::{ApiError, Problem};
use crate::ticket_rules::{self, Logic};
use crate::tickets::TicketError;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1e10", "name": "VIP customers",
    "enabled": true, "position": 10, "match_all": true,
    "conditions": [{"field": "requester.domain", "operator": "in_list", "value": ["vip.example", "board.example"]},
                   {"field": "subject", "operator": "matches", "value": "(?i)^(urgent|down)"}],
    "actions": [{"type": "set_priority", "value": "high"},
                {"type": "assign_team", "value": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d70"},
                {"type": "stop"}],
    "created_at": "2026-11-22T09:00:00Z", "updated_at": "2026-11-22T09:00:00Z", "version": 1}))]
pub struct TicketFilterBody {
    pub id: Uuid,
    /// Unique in the workspace, ignoring case; 1 to 100 characters. Named in the ticket
    /// history of every ticket it changes ("filter 'VIP customers' set priority high").
    pub name: String,
    /// Disabled rules do not run (they can still be tested).
    pub enabled: bool,
    /// Rules run by position, then by creation; equal positions are allowed.
    pub position: i32,
    /// true: every condition must match; false: any one.
    pub match_all: bool,
    /// `[{"field", "operator", "value"}]`. Fields: `subject`, `message`, `help_topic` (its
    /// name), `source`, `ticket.custom.<key>`, `requester.email`, `requester.domain`,
    /// `requester.validity`, `requester.custom.<key>`, `organization.name`,
    /// `organization.custom.<key>` (the requester's primary organization). Operators:
    /// `equals`, `contains`, `starts_with` (ignoring case), `matches` (a regular expression
    /// of at most 300 characters whose compiled size is limited), `in_list` (a list of strings,
    /// ignoring case).
    #[schema(value_type = Vec<Object>)]
    pub conditions: Value,
    /// `[{"type", "value"}]`: `set_department`, `set_help_topic`, `set_sla_plan`, `set_status`
    /// (open or pending state), `assign_agent`, `assign_team` (ids); `set_priority`
    /// (low..urgent); `add_collaborators` (user ids); `set_custom_field` (with `field`: the
    /// ticket field's key); `reject` (the message the creator sees; nothing is created);
    /// `stop` (no later rule runs).
    #[schema(value_type = Vec<Object>)]
    pub actions: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl From<TicketFilter> for TicketFilterBody {
    fn from(f: TicketFilter) -> Self {
        Self {
            id: f.id,
            name: f.name,
            enabled: f.enabled,
            position: f.position,
            match_all: f.match_all,
            conditions: f.conditions,
            actions: f.actions,
            created_at: f.created_at,
            updated_at: f.updated_at,
            version: f.version,
        }
    }
}

fn respond(status: StatusCode, filter: TicketFilter) -> Response {
    let location = format!("/api/v1/ticket-filters/{}", filter.id);
    let version = filter.version;
    versioned(status, location, version, TicketFilterBody::from(filter))
}

/// The fields of a create (POST; `name`, `conditions` and `actions` required) or an update
/// (PATCH; only what changes).
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"name": "Spam", "position": 5,
    "conditions": [{"field": "subject", "operator": "contains", "value": "casino"}],
    "actions": [{"type": "reject", "value": "This request looks like spam and was not accepted."}]}))]
pub struct TicketFilterInput {
    /// PATCH only: the version read (or `If-Match`); stale: 409.
    version: Option<i64>,
    name: Option<String>,
    enabled: Option<bool>,
    /// 0 to 1,000,000; a create without one goes after the last rule.
    position: Option<i32>,
    match_all: Option<bool>,
    #[schema(value_type = Option<Vec<Object>>)]
    conditions: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    actions: Option<Value>,
}

const FIELDS: [&str; 6] = [
    "name",
    "enabled",
    "position",
    "match_all",
    "conditions",
    "actions",
];

/// The write a body asks for, its version (PATCH), and its conditions and actions parsed
/// against the stored ones (`current`) for a PATCH that changes only one of them.
async fn parse_body(
    tx: &mut TenantTx,
    body: Value,
    current: Option<&TicketFilter>,
) -> Result<(FilterWrite, Option<i64>), ApiError> {
    let object = object_of(body)?;
    let patch = current.is_some();
    let mut known: Vec<&str> = FIELDS.to_vec();
    if patch {
        known.push("version");
    }
    let mut fields = FieldParser::new(&object, &known);
    let version = if patch {
        fields.integer("version")
    } else {
        None
    };
    if !patch {
        for field in ["name", "conditions", "actions"] {
            require_field(&mut fields, &object, field);
        }
    }
    let write = FilterWrite {
        name: fields.string("name", parse_name),
        enabled: fields.boolean("enabled"),
        position: fields.integer_in("position", 0..=1_000_000),
        match_all: fields.boolean("match_all"),
        conditions: object.get("conditions").cloned(),
        actions: object.get("actions").cloned(),
    };
    let mut errors = fields.errors;
    if write.conditions.is_some() || write.actions.is_some() || write.match_all.is_some() {
        let empty = Value::Array(Vec::new());
        let conditions = write
            .conditions
            .as_ref()
            .or(current.map(|c| &c.conditions))
            .unwrap_or(&empty);
        let actions = write
            .actions
            .as_ref()
            .or(current.map(|c| &c.actions))
            .unwrap_or(&empty);
        let match_all = write
            .match_all
            .or(current.map(|c| c.match_all))
            .unwrap_or(true);
        match parse_logic::<ticket_rules::RulePattern>(match_all, conditions, actions) {
            Ok(logic) => {
                let problems = ticket_rules::check_references(tx, &logic)
                    .await
                    .map_err(ticket_error)?;
                errors.extend(problems.iter().map(|(f, m)| field_error(f, m)));
                if errors.is_empty() {
                    // Stored in the canonical form (ids and values as parsed).
                    return Ok((
                        FilterWrite {
                            conditions: Some(logic.conditions_json()),
                            actions: Some(logic.actions_json()),
                            ..write
                        },
                        version,
                    ));
                }
            }
            Err(problems) => errors.extend(problems.iter().map(|(f, m)| field_error(f, m))),
        }
    }
    if errors.is_empty() {
        Ok((write, version))
    } else {
        Err(ApiError::Validation(errors))
    }
}

fn ticket_error(error: TicketError) -> ApiError {
    match error {
        TicketError::Store(error) => error.into(),
        TicketError::NotFound => ApiError::NotFound,
        other => ApiError::Refused(other.to_string()),
    }
}

/// Creates a rule from a JSON body (the API's and the admin page's one path).
pub(crate) async fn create_in(tx: &mut TenantTx, body: Value) -> Result<TicketFilter, ApiError> {
    let (write, _) = parse_body(tx, body, None).await?;
    Ok(store::ticket_filters::create(tx, &write).await?)
}

/// Updates a rule from a JSON body; `if_match` wins over the body's `version`.
pub(crate) async fn update_in(
    tx: &mut TenantTx,
    id: Uuid,
    body: Value,
    if_match: Option<i64>,
) -> Result<TicketFilter, ApiError> {
    let current = store::ticket_filters::by_id(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let (write, version) = parse_body(tx, body, Some(&current)).await?;
    updated(
        store::ticket_filters::update(tx, id, &write, if_match.or(version)).await?,
        "ticket filter",
    )
}

/// The workspace's ticket filters in creation order (they run by `position`).
#[utoipa::path(get, path = "/api/v1/ticket-filters", tag = "tickets", security(("api_token" = [])),
    params(PageQuery),
    responses((status = 200, description = "One page of ticket filters", body = inline(Page<TicketFilterBody>)),
        (status = 403, description = "The token lacks helpdesk.configure", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<TicketFilterBody>>, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let mut filters = store::ticket_filters::list(&mut tx).await?;
    tx.commit().await?;
    filters.sort_by_key(|f| f.id);
    Ok(Json(page.page(
        filters,
        |f| f.id,
        TicketFilterBody::from,
    )?))
}

/// One ticket filter.
#[utoipa::path(get, path = "/api/v1/ticket-filters/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The ticket filter")),
    responses((status = 200, description = "The ticket filter", body = TicketFilterBody),
        (status = 404, description = "No such ticket filter in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let filter = store::ticket_filters::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(respond(StatusCode::OK, filter))
}

/// Creates a ticket filter. An invalid or too large regular expression, an unknown field or
/// an id that is not this workspace's is a 422 naming the member (`conditions[0].value`).
#[utoipa::path(post, path = "/api/v1/ticket-filters", tag = "tickets", security(("api_token" = [])),
    request_body = TicketFilterInput,
    responses((status = 201, description = "The new ticket filter", body = TicketFilterBody),
        (status = 409, description = "The name is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "https://tenantdesk.dev/problems/validation", "title": "Invalid fields", "status": 422,
                "errors": [{"field": "conditions[0].value", "message": "is too large a regular expression once compiled; simplify its repetitions"}]}))))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let filter = create_in(&mut tx, body).await?;
    tx.commit().await?;
    Ok(respond(StatusCode::CREATED, filter))
}

/// Changes a ticket filter (enable or disable it, move it, rewrite its rule).
#[utoipa::path(patch, path = "/api/v1/ticket-filters/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The ticket filter"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version read")),
    request_body(content = TicketFilterInput, example = json!({"version": 1, "enabled": false, "position": 20})),
    responses((status = 200, description = "The saved ticket filter", body = TicketFilterBody),
        (status = 404, description = "No such ticket filter in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale version or the name is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let if_match = expected_version(&headers, None)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let filter = update_in(&mut tx, id, body, if_match).await?;
    tx.commit().await?;
    Ok(respond(StatusCode::OK, filter))
}

/// Deletes a ticket filter (tickets it changed keep their history).
#[utoipa::path(delete, path = "/api/v1/ticket-filters/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The ticket filter")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such ticket filter in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    if !store::ticket_filters::delete(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a test found.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"matched": true,
    "conditions": [{"condition": "requester.domain is one of 'vip.example'", "matched": true}],
    "actions": ["would set priority high", "would stop processing further rules"]}))]
pub struct TestResult {
    /// Whether the rule matches the ticket as it is now.
    pub matched: bool,
    pub conditions: Vec<ConditionResult>,
    /// What each action would do to the ticket (nothing is changed).
    pub actions: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConditionResult {
    pub condition: String,
    pub matched: bool,
}

/// The body of a test.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"ticket_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1dc0"}))]
pub struct TestInput {
    /// A ticket of this workspace.
    ticket_id: Uuid,
}

/// Tests the rule (enabled or not) against an existing ticket of `ticket_id`: the test
/// (shared with the admin page).
pub(crate) async fn test_in(
    tx: &mut TenantTx,
    filter: &TicketFilter,
    ticket_id: Uuid,
) -> Result<TestResult, ApiError> {
    let logic: Logic = ticket_rules::logic_of(filter).ok_or_else(|| {
        ApiError::Refused("This rule no longer parses; save it again first.".into())
    })?;
    let ticket = store::tickets::by_id(tx, TicketScope::All, ticket_id)
        .await?
        .ok_or_else(|| {
            ApiError::Validation(vec![field_error(
                "ticket_id",
                "is not a ticket of this workspace",
            )])
        })?;
    let outcome = ticket_rules::test(tx, &logic, &ticket)
        .await
        .map_err(ticket_error)?;
    Ok(TestResult {
        matched: outcome.matched,
        conditions: outcome
            .conditions
            .into_iter()
            .map(|(condition, matched)| ConditionResult { condition, matched })
            .collect(),
        actions: outcome.actions,
    })
}

/// Tests a rule against an existing ticket: which conditions match and what the actions
/// would do. Nothing is changed.
#[utoipa::path(post, path = "/api/v1/ticket-filters/{id}/test", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The ticket filter")),
    request_body = TestInput,
    responses((status = 200, description = "What the rule would do", body = TestResult),
        (status = 404, description = "No such ticket filter in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`ticket_id` is not a ticket of this workspace", body = Problem, content_type = "application/problem+json")))]
pub async fn test(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<TestResult>, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let object: Map<String, Value> = object_of(body)?;
    let mut fields = FieldParser::new(&object, &["ticket_id"]);
    require_field(&mut fields, &object, "ticket_id");
    let ticket_id = fields.string("ticket_id", crate::api::departments::parse_id);
    let ticket_id = fields.finish(ticket_id)?.ok_or(ApiError::NotFound)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let filter = store::ticket_filters::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let result = test_in(&mut tx, &filter, ticket_id).await?;
    // Nothing may be written by a test: roll back whatever the lookups touched.
    drop(tx);
    Ok(Json(result))
}
