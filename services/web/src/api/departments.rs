//! `/api/v1/departments`: departments (queues) with their member agents; and the helpers the
//! other ticket configuration endpoints share (reference checks, versions, outcomes). Reads
//! need `users.read`, writes `helpdesk.configure`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::{Permission, bounded_text, required_text};
use serde::Serialize;
use serde_json::{Map, Value};
use store::TenantTx;
use store::departments::{DeleteOutcome, Department, DepartmentChange, Kind, UpdateOutcome};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::json::{ApiJson, FieldParser, if_match_version};
use crate::api::page::{Page, PageQuery};
use crate::error::{ApiError, FieldError, Problem};

pub(crate) fn field_error(field: &str, message: impl ToString) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.to_string(),
    }
}

/// The body as a JSON object, or 400.
pub(crate) fn object_of(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(object) => Ok(object),
        _ => Err(ApiError::BadRequest(
            "The body must be a JSON object.".into(),
        )),
    }
}

/// A UUID naming something of this workspace (checked to exist by [`check_references`]).
pub(crate) fn parse_id(raw: &str) -> Result<Uuid, &'static str> {
    Uuid::parse_str(raw.trim()).map_err(|_| "must be an id (a UUID)")
}

/// A 422 naming each field whose id is not a record of `kind` in this workspace; another
/// tenant's ids are unknown here exactly like ids that never existed.
pub(crate) async fn check_references(
    tx: &mut TenantTx,
    references: &[(&str, Kind, Option<Uuid>)],
) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    for (field, kind, id) in references {
        if let Some(id) = id
            && !store::departments::exists(tx, *kind, *id).await?
        {
            errors.push(field_error(
                field,
                format!("must be the id of {} of this workspace", noun(*kind)),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

fn noun(kind: Kind) -> &'static str {
    match kind {
        Kind::Agent => "an agent",
        Kind::CustomerGroup => "a customer group",
        Kind::Department => "a department",
        Kind::Team => "a team",
        Kind::SlaPlan => "an SLA plan",
        Kind::HelpTopic => "a help topic",
        Kind::EndUser => "an end user",
        Kind::Organization => "an organization",
    }
}

/// The version a PATCH expects: `If-Match` or the body's `version`.
pub(crate) fn expected_version(
    headers: &HeaderMap,
    body: Option<i64>,
) -> Result<Option<i64>, ApiError> {
    Ok(if_match_version(headers)?.or(body))
}

/// An update's outcome as the response's object (404, or 409 when stale).
pub(crate) fn updated<T>(outcome: UpdateOutcome<T>, what: &str) -> Result<T, ApiError> {
    match outcome {
        UpdateOutcome::Updated(value) => Ok(value),
        UpdateOutcome::NotFound => Err(ApiError::NotFound),
        UpdateOutcome::Stale { current } => Err(ApiError::Stale(format!(
            "The {what} was changed by someone else; the current version is {current}. Read it again and reapply your change."
        ))),
    }
}

/// A delete's outcome: 204, 404, or 409 saying what still uses it.
pub(crate) fn deleted(outcome: DeleteOutcome) -> Result<StatusCode, ApiError> {
    match outcome {
        DeleteOutcome::Deleted => Ok(StatusCode::NO_CONTENT),
        DeleteOutcome::NotFound => Err(ApiError::NotFound),
        DeleteOutcome::InUse(why) => Err(ApiError::Refused(why)),
    }
}

/// The object with its version as ETag; 201 with Location for a create.
pub(crate) fn versioned<T: Serialize>(
    status: StatusCode,
    location: String,
    version: i64,
    body: T,
) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    if status == StatusCode::CREATED
        && let Ok(location) = HeaderValue::from_str(&location)
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// "is required" for a create that lacks `field`.
pub(crate) fn require_field(
    fields: &mut FieldParser<'_>,
    object: &Map<String, Value>,
    field: &str,
) {
    if !object.contains_key(field) && !fields.errors.iter().any(|e| e.field == field) {
        fields.errors.push(field_error(field, "is required"));
    }
}

pub(crate) fn parse_name(raw: &str) -> Result<String, String> {
    required_text(raw, 100)
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d60", "name": "Billing", "description": "Invoices and refunds",
    "email_alias": "billing@acme.example", "default_priority": "normal",
    "customer_group_id": null, "manager_agent_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d30",
    "agent_ids": ["01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d30"], "is_default": false,
    "created_at": "2026-11-22T09:00:00Z", "updated_at": "2026-11-22T09:30:00Z", "version": 2
}))]
pub struct DepartmentBody {
    pub id: Uuid,
    /// Unique in the workspace, ignoring case; 1 to 100 characters.
    pub name: String,
    pub description: String,
    /// The address inbound mail for this department arrives at; unique, ignoring case.
    pub email_alias: Option<String>,
    /// `low`, `normal`, `high` or `urgent`.
    pub default_priority: &'static str,
    /// End users need `rw` on this customer group to open tickets here, `ro` to see them.
    pub customer_group_id: Option<Uuid>,
    pub manager_agent_id: Option<Uuid>,
    /// The agents who belong to the department.
    pub agent_ids: Vec<Uuid>,
    /// Whether new tickets without a department go here (see `/ticket-settings`).
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl From<Department> for DepartmentBody {
    fn from(d: Department) -> Self {
        Self {
            id: d.id,
            name: d.name,
            description: d.description,
            email_alias: d.email_alias,
            default_priority: d.default_priority.as_str(),
            customer_group_id: d.customer_group_id,
            manager_agent_id: d.manager_agent_id,
            agent_ids: d.agent_ids,
            is_default: d.is_default,
            created_at: d.created_at,
            updated_at: d.updated_at,
            version: d.version,
        }
    }
}

fn respond(status: StatusCode, department: Department) -> Response {
    let location = format!("/api/v1/departments/{}", department.id);
    let version = department.version;
    versioned(status, location, version, DepartmentBody::from(department))
}

/// The fields a create (POST) or an update (PATCH) may carry; only `name` is required.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"name": "Billing", "description": "Invoices and refunds", "email_alias": "billing@acme.example",
    "default_priority": "high", "manager_agent_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d30"}))]
pub struct DepartmentInput {
    /// PATCH only: the version read (or `If-Match`); stale: 409.
    version: Option<i64>,
    /// 1 to 100 characters; 409 naming `name` when taken (ignoring case).
    name: Option<String>,
    /// At most 2,000 characters.
    description: Option<String>,
    /// An email address; null or "" clears it; 409 naming `email_alias` when taken.
    email_alias: Option<String>,
    /// `low`, `normal` (default), `high` or `urgent`.
    default_priority: Option<String>,
    /// A customer group of this workspace, or null.
    customer_group_id: Option<Uuid>,
    /// An agent of this workspace, or null.
    manager_agent_id: Option<Uuid>,
}

fn parse_body(body: Value, patch: bool) -> Result<(DepartmentChange, Option<i64>), ApiError> {
    let object = object_of(body)?;
    let mut known = vec![
        "name",
        "description",
        "email_alias",
        "default_priority",
        "customer_group_id",
        "manager_agent_id",
    ];
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
        require_field(&mut fields, &object, "name");
    }
    let change = DepartmentChange {
        name: fields.string("name", parse_name),
        description: fields.string("description", |raw| bounded_text(raw, 2000)),
        email_alias: fields.nullable_string("email_alias", |raw| {
            domain::EmailAddress::parse(raw)
                .map(|e| e.as_str().to_owned())
                .map_err(|_| "must be an email address")
        }),
        default_priority: fields.string("default_priority", store::departments::parse_priority),
        customer_group_id: fields.nullable_string("customer_group_id", parse_id),
        manager_agent_id: fields.nullable_string("manager_agent_id", parse_id),
    };
    fields.finish((change, version))
}

async fn check(tx: &mut TenantTx, change: &DepartmentChange) -> Result<(), ApiError> {
    check_references(
        tx,
        &[
            (
                "customer_group_id",
                Kind::CustomerGroup,
                change.customer_group_id.flatten(),
            ),
            (
                "manager_agent_id",
                Kind::Agent,
                change.manager_agent_id.flatten(),
            ),
        ],
    )
    .await
}

/// Creates a department from a JSON body (the API's and the admin page's one path).
pub(crate) async fn create_in(tx: &mut TenantTx, body: Value) -> Result<Department, ApiError> {
    let (change, _) = parse_body(body, false)?;
    let name = change.name.clone().unwrap_or_default();
    check(tx, &change).await?;
    Ok(store::departments::create(tx, &name, &change).await?)
}

/// Updates a department from a JSON body; `if_match` wins over the body's `version`.
pub(crate) async fn update_in(
    tx: &mut TenantTx,
    id: Uuid,
    body: Value,
    if_match: Option<i64>,
) -> Result<Department, ApiError> {
    let (change, version) = parse_body(body, true)?;
    if store::departments::by_id(tx, id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    check(tx, &change).await?;
    updated(
        store::departments::update(tx, id, &change, if_match.or(version)).await?,
        "department",
    )
}

/// The workspace's departments by name (one page holds them all unless `limit` says less).
#[utoipa::path(get, path = "/api/v1/departments", tag = "tickets", security(("api_token" = [])),
    params(PageQuery),
    responses((status = 200, description = "One page of departments", body = inline(Page<DepartmentBody>)),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    axum::extract::Query(page): axum::extract::Query<PageQuery>,
) -> Result<Json<Page<DepartmentBody>>, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let mut departments = store::departments::list(&mut tx).await?;
    tx.commit().await?;
    departments.sort_by_key(|d| d.id);
    Ok(Json(page.page(
        departments,
        |d| d.id,
        DepartmentBody::from,
    )?))
}

/// One department; the ETag carries its version.
#[utoipa::path(get, path = "/api/v1/departments/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The department")),
    responses((status = 200, description = "The department", body = DepartmentBody),
        (status = 404, description = "No such department in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let department = store::departments::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(respond(StatusCode::OK, department))
}

/// Creates a department.
#[utoipa::path(post, path = "/api/v1/departments", tag = "tickets", security(("api_token" = [])),
    request_body = DepartmentInput,
    responses((status = 201, description = "The new department; Location names it", body = DepartmentBody),
        (status = 403, description = "The token lacks helpdesk.configure", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name or email alias is taken (`name`, `email_alias`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named in `errors`", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let department = create_in(&mut tx, body).await?;
    tx.commit().await?;
    Ok(respond(StatusCode::CREATED, department))
}

/// Changes some fields of a department; nothing is saved unless every field is valid.
#[utoipa::path(patch, path = "/api/v1/departments/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The department"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version read, such as \"2\"")),
    request_body(content = DepartmentInput, example = json!({"version": 2, "default_priority": "urgent", "email_alias": null})),
    responses((status = 200, description = "The saved department", body = DepartmentBody),
        (status = 404, description = "No such department in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale version, or the name or alias is taken", body = Problem, content_type = "application/problem+json"),
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
    let department = update_in(&mut tx, id, body, if_match).await?;
    tx.commit().await?;
    Ok(respond(StatusCode::OK, department))
}

/// Deletes a department. Refused (409) while tickets or help topics use it, or while it is the
/// workspace's default department.
#[utoipa::path(delete, path = "/api/v1/departments/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The department")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such department in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still used, or the default department", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let status = deleted(store::departments::delete(&mut tx, id).await?)?;
    tx.commit().await?;
    Ok(status)
}

/// Adds an agent to the department (201; 200 when already a member).
#[utoipa::path(put, path = "/api/v1/departments/{id}/agents/{agent_id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The department"), ("agent_id" = Uuid, Path, description = "The agent")),
    responses((status = 201, description = "The agent now belongs; the department", body = DepartmentBody),
        (status = 200, description = "The agent already belonged", body = DepartmentBody),
        (status = 404, description = "No such department or agent in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn add_agent(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, agent_id)): Path<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    if store::departments::by_id(&mut tx, id).await?.is_none()
        || !store::departments::exists(&mut tx, Kind::Agent, agent_id).await?
    {
        return Err(ApiError::NotFound);
    }
    let added = store::departments::add_agent(&mut tx, id, agent_id).await?;
    let department = store::departments::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(respond(status, department))
}

/// Removes an agent from the department.
#[utoipa::path(delete, path = "/api/v1/departments/{id}/agents/{agent_id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The department"), ("agent_id" = Uuid, Path, description = "The agent")),
    responses((status = 204, description = "The agent no longer belongs"),
        (status = 404, description = "No such membership in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn remove_agent(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, agent_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    if !store::departments::remove_agent(&mut tx, id, agent_id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
