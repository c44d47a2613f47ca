//! `/api/v1/statuses`: the four built-in ticket states and the workspace's own statuses within
//! them; and `/api/v1/ticket-settings`: numbering, default department, attachment limits,
//! replies to closed tickets. Reads need `users.read`, writes `helpdesk.configure`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use domain::Permission;
use serde::Serialize;
use serde_json::Value;
use store::TenantTx;
use store::departments::Kind;
use store::ticket_settings::{ChangeOutcome, TicketSettings, TicketSettingsChange};
use store::ticket_statuses::{State as TicketState, StatusChange, TicketStatus};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::departments::{
    check_references, deleted, expected_version, field_error, object_of, parse_id, require_field,
    updated, versioned,
};
use crate::api::json::{ApiJson, FieldParser};
use crate::api::page::Page;
use crate::error::{ApiError, Problem};
use crate::invalidation::{Invalidation, announce};

/// The largest position a status may have.
pub const MAX_POSITION: i64 = 10_000;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d90", "name": "Waiting for parts", "state": "pending",
    "builtin": false, "position": 10, "version": 1}))]
pub struct StatusBody {
    /// Null for the four built-in states.
    pub id: Option<Uuid>,
    pub name: String,
    /// `open`, `pending`, `resolved` or `closed`.
    pub state: &'static str,
    /// The four states themselves; they cannot be changed.
    pub builtin: bool,
    pub position: i32,
    /// Null for the built-in states.
    pub version: Option<i64>,
}

impl From<TicketStatus> for StatusBody {
    fn from(s: TicketStatus) -> Self {
        Self {
            id: Some(s.id),
            name: s.name,
            state: s.state.as_str(),
            builtin: false,
            position: s.position,
            version: Some(s.version),
        }
    }
}

fn respond(status: StatusCode, ticket_status: TicketStatus) -> Response {
    let location = format!("/api/v1/statuses/{}", ticket_status.id);
    let version = ticket_status.version;
    versioned(status, location, version, StatusBody::from(ticket_status))
}

/// The fields of a create (POST; `name` and `state` required) or an update (PATCH).
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"name": "Waiting for parts", "state": "pending", "position": 10}))]
pub struct StatusInput {
    /// PATCH only: the version read (or `If-Match`); stale: 409.
    version: Option<i64>,
    /// 1 to 60 characters; 409 naming `name` when taken.
    name: Option<String>,
    /// `open`, `pending`, `resolved` or `closed`; fixed while tickets have the status (409).
    state: Option<String>,
    /// 0 to 10,000 (default 0): the order within its state.
    position: Option<i64>,
}

fn parse_body(body: Value, patch: bool) -> Result<(StatusChange, Option<i64>), ApiError> {
    let object = object_of(body)?;
    let known: &[&str] = if patch {
        &["name", "state", "position", "version"]
    } else {
        &["name", "state", "position"]
    };
    let mut fields = FieldParser::new(&object, known);
    let version = if patch {
        fields.integer("version")
    } else {
        None
    };
    if !patch {
        require_field(&mut fields, &object, "name");
        require_field(&mut fields, &object, "state");
    }
    let change = StatusChange {
        name: fields.string("name", |raw| domain::required_text(raw, 60)),
        state: fields.string("state", TicketState::parse),
        position: fields.integer_in("position", 0..=MAX_POSITION),
    };
    fields.finish((change, version))
}

/// The four built-in states, then the workspace's statuses by state and position. One page
/// holds them all (`next_cursor` is null).
#[utoipa::path(get, path = "/api/v1/statuses", tag = "tickets", security(("api_token" = [])),
    responses((status = 200, description = "Every state and status", body = inline(Page<StatusBody>)),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Json<Page<StatusBody>>, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let statuses = store::ticket_statuses::list(&mut tx).await?;
    tx.commit().await?;
    let builtin = TicketState::ALL.into_iter().map(|s| StatusBody {
        id: None,
        name: s.label().to_owned(),
        state: s.as_str(),
        builtin: true,
        position: 0,
        version: None,
    });
    Ok(Json(Page {
        data: builtin
            .chain(statuses.into_iter().map(StatusBody::from))
            .collect(),
        next_cursor: None,
    }))
}

/// One of the workspace's statuses.
#[utoipa::path(get, path = "/api/v1/statuses/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The status")),
    responses((status = 200, description = "The status", body = StatusBody),
        (status = 404, description = "No such status in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let status = store::ticket_statuses::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(respond(StatusCode::OK, status))
}

/// Creates a status within one of the four states.
#[utoipa::path(post, path = "/api/v1/statuses", tag = "tickets", security(("api_token" = [])),
    request_body = StatusInput,
    responses((status = 201, description = "The new status", body = StatusBody),
        (status = 409, description = "The name is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let status = create_in(&mut tx, body).await?;
    tx.commit().await?;
    Ok(respond(StatusCode::CREATED, status))
}

/// Creates a status from a JSON body (the API's and the admin page's one path).
pub(crate) async fn create_in(tx: &mut TenantTx, body: Value) -> Result<TicketStatus, ApiError> {
    let (change, _) = parse_body(body, false)?;
    let (Some(name), Some(ticket_state)) = (change.name, change.state) else {
        return Err(ApiError::Validation(vec![field_error(
            "name",
            "is required",
        )]));
    };
    Ok(
        store::ticket_statuses::create(tx, &name, ticket_state, change.position.unwrap_or(0))
            .await?,
    )
}

/// Renames a status, moves it, or changes its state (only while no ticket has it).
#[utoipa::path(patch, path = "/api/v1/statuses/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The status"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version read")),
    request_body(content = StatusInput, example = json!({"version": 1, "name": "Waiting for supplier"})),
    responses((status = 200, description = "The saved status", body = StatusBody),
        (status = 404, description = "No such status in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale version, name taken, or a state change while tickets have it", body = Problem, content_type = "application/problem+json"),
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
    let status = update_in(&mut tx, id, body, if_match).await?;
    tx.commit().await?;
    Ok(respond(StatusCode::OK, status))
}

/// Updates a status from a JSON body; its state stays while tickets have it (409).
pub(crate) async fn update_in(
    tx: &mut TenantTx,
    id: Uuid,
    body: Value,
    if_match: Option<i64>,
) -> Result<TicketStatus, ApiError> {
    let (change, version) = parse_body(body, true)?;
    let current = store::ticket_statuses::by_id(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if let Some(new_state) = change.state
        && new_state != current.state
    {
        let tickets = store::ticket_statuses::tickets_using(tx, id).await?;
        if tickets > 0 {
            return Err(ApiError::Refused(format!(
                "{tickets} ticket(s) have this status, so its state stays {}; create a new status instead.",
                current.state.as_str()
            )));
        }
    }
    updated(
        store::ticket_statuses::update(tx, id, &change, if_match.or(version)).await?,
        "status",
    )
}

/// Deletes a status; refused (409) while a ticket has it. The built-in states cannot be deleted.
#[utoipa::path(delete, path = "/api/v1/statuses/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The status")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such status in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A ticket has it", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let status = deleted(store::ticket_statuses::delete(&mut tx, id).await?)?;
    tx.commit().await?;
    Ok(status)
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"next_ticket_number": 1000, "default_department_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d60",
    "attachment_max_bytes": 10485760, "attachment_allowed_types": ["image/png", "application/pdf"],
    "reply_to_closed_allowed": true}))]
pub struct TicketSettingsBody {
    /// The number the next ticket gets.
    pub next_ticket_number: i64,
    /// Where new tickets go when nothing names a department.
    pub default_department_id: Option<Uuid>,
    /// The largest attachment, in bytes (1 KiB to 100 MiB).
    pub attachment_max_bytes: i64,
    /// Content types attachments may have; empty: any except executables.
    pub attachment_allowed_types: Vec<String>,
    /// Whether end users may reply to closed tickets (which reopens them).
    pub reply_to_closed_allowed: bool,
}

impl From<TicketSettings> for TicketSettingsBody {
    fn from(s: TicketSettings) -> Self {
        Self {
            next_ticket_number: s.next_ticket_number,
            default_department_id: s.default_department_id,
            attachment_max_bytes: s.attachment_max_bytes,
            attachment_allowed_types: s.attachment_allowed_types,
            reply_to_closed_allowed: s.reply_to_closed_allowed,
        }
    }
}

/// The workspace's ticket settings.
#[utoipa::path(get, path = "/api/v1/ticket-settings", tag = "tickets", security(("api_token" = [])),
    responses((status = 200, description = "The settings", body = TicketSettingsBody),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json")))]
pub async fn ticket_settings(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Json<TicketSettingsBody>, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let settings = store::ticket_settings::load(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(settings.into()))
}

/// A content type such as `image/png` (lower case), or a family such as `image/*`.
pub fn parse_content_type(raw: &str) -> Result<String, String> {
    let value = raw.trim().to_ascii_lowercase();
    let valid = value.len() <= 255
        && value.split_once('/').is_some_and(|(kind, sub)| {
            let token = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
            };
            token(kind) && (sub == "*" || token(sub))
        });
    if valid {
        Ok(value)
    } else {
        Err(format!("{raw:?} is not a content type such as image/png"))
    }
}

/// The largest and smallest attachment limit the schema allows.
pub const ATTACHMENT_BYTES: std::ops::RangeInclusive<i64> = 1024..=104_857_600;

/// The changes a PATCH asks for, field by field.
pub fn parse_ticket_settings(body: Value) -> Result<TicketSettingsChange, ApiError> {
    let object = object_of(body)?;
    let mut fields = FieldParser::new(
        &object,
        &[
            "next_ticket_number",
            "default_department_id",
            "attachment_max_bytes",
            "attachment_allowed_types",
            "reply_to_closed_allowed",
        ],
    );
    let mut change = TicketSettingsChange {
        next_ticket_number: fields.integer_in("next_ticket_number", 1..=i64::MAX / 2),
        default_department_id: fields.string("default_department_id", parse_id),
        attachment_max_bytes: fields.integer_in("attachment_max_bytes", ATTACHMENT_BYTES),
        attachment_allowed_types: None,
        reply_to_closed_allowed: fields.boolean("reply_to_closed_allowed"),
    };
    match object.get("attachment_allowed_types") {
        None => {}
        Some(Value::Array(items)) if items.len() <= 100 => {
            let mut types = Vec::new();
            for item in items {
                match item.as_str().map(parse_content_type) {
                    Some(Ok(t)) => types.push(t),
                    Some(Err(e)) => fields
                        .errors
                        .push(field_error("attachment_allowed_types", e)),
                    None => fields.errors.push(field_error(
                        "attachment_allowed_types",
                        "must be a list of content types",
                    )),
                }
            }
            types.sort();
            types.dedup();
            change.attachment_allowed_types = Some(types);
        }
        Some(_) => fields.errors.push(field_error(
            "attachment_allowed_types",
            "must be a list of at most 100 content types",
        )),
    }
    fields.finish(change)
}

/// Saves the settings given. `next_ticket_number` may only rise (422 otherwise): ticket
/// numbers never repeat.
#[utoipa::path(patch, path = "/api/v1/ticket-settings", tag = "tickets", security(("api_token" = [])),
    request_body(content = inline(serde_json::Value), example = json!({"next_ticket_number": 5000, "attachment_max_bytes": 5242880,
        "attachment_allowed_types": ["image/*", "application/pdf"], "reply_to_closed_allowed": false})),
    responses((status = 200, description = "The saved settings", body = TicketSettingsBody),
        (status = 403, description = "The token lacks helpdesk.configure", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or a lower next number", body = Problem, content_type = "application/problem+json")))]
pub async fn update_ticket_settings(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<TicketSettingsBody>, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let saved = save_ticket_settings_in(&mut tx, body).await?;
    tx.commit().await?;
    announce(&state, Invalidation::Settings(caller.tenant.id)).await;
    Ok(Json(saved.into()))
}

/// Saves ticket settings from a JSON body (the API's and the admin page's one path).
pub(crate) async fn save_ticket_settings_in(
    tx: &mut TenantTx,
    body: Value,
) -> Result<TicketSettings, ApiError> {
    let change = parse_ticket_settings(body)?;
    check_references(
        tx,
        &[(
            "default_department_id",
            Kind::Department,
            change.default_department_id,
        )],
    )
    .await?;
    match store::ticket_settings::update(tx, &change).await? {
        ChangeOutcome::Saved(saved) => Ok(saved),
        ChangeOutcome::NumberTooLow { current } => Err(ApiError::Validation(vec![field_error(
            "next_ticket_number",
            format!("must be at least {current}: ticket numbers only rise, so none repeats"),
        )])),
    }
}
