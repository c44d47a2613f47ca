//! `/api/v1/users`: the end-user directory (OTRS customer users): list with search, filters
//! and keyset pages, create, read, change, and erase for data-protection requests. Users are
//! never deleted; `validity` takes them out of use.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::Permission;
use domain::custom_fields::{FieldDefinition, FieldEntity};
use serde::Serialize;
use serde_json::{Map, Value};
use store::user_directory::{Actor, PROFILE_FIELDS, UserRecord};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::json::{ApiJson, if_match_version};
use crate::api::page::Page;
use crate::directory::{self, DirectoryError};
use crate::error::{ApiError, FieldError, Problem};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d50", "title": "Dr.", "first_name": "Robin",
    "last_name": "Customer", "name": "Robin Customer", "email": "robin@example.com",
    "login": "robin@example.com", "phone": "+49 30 1234567", "fax": null, "mobile": null,
    "street": "Hauptstr. 1", "zip": "10115", "city": "Berlin", "country": "DE", "comment": null,
    "validity": "valid", "custom": {"vip_level": "gold"}, "account_status": "active",
    "primary_organization": {"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d60", "name": "Example GmbH"},
    "erased": false, "erased_at": null, "created_by": null, "updated_by": null,
    "created_at": "2026-11-01T08:00:00Z", "updated_at": "2026-11-02T08:00:00Z", "version": 2
}))]
pub struct UserBody {
    pub id: Uuid,
    pub title: Option<String>,
    pub first_name: String,
    pub last_name: String,
    /// First and last name together.
    pub name: String,
    pub email: String,
    /// The username to sign in with besides the email (the email itself when none was chosen).
    pub login: String,
    pub phone: Option<String>,
    pub fax: Option<String>,
    pub mobile: Option<String>,
    pub street: Option<String>,
    pub zip: Option<String>,
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub comment: Option<String>,
    /// `valid`, `invalid` or `invalid_temporarily`; invalid users cannot sign in or open tickets.
    pub validity: &'static str,
    /// Values of the active custom user fields, by key.
    #[schema(value_type = Object)]
    pub custom: Map<String, Value>,
    /// `guest` (no account), `pending`, `active` or `locked`.
    pub account_status: &'static str,
    pub primary_organization: Option<PrimaryOrganizationRef>,
    /// True once the person's data was erased; the record stays as a tombstone.
    pub erased: bool,
    pub erased_at: Option<DateTime<Utc>>,
    /// The agent who created or last changed the record (null for API tokens and the system).
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Send it back (or as `If-Match`) when changing the record; a stale one gets 409.
    pub version: i64,
}

#[derive(Serialize, ToSchema)]
pub struct PrimaryOrganizationRef {
    pub id: Uuid,
    pub name: String,
}

impl UserBody {
    pub fn new(record: UserRecord, fields: &[FieldDefinition]) -> Self {
        let login = record.login().to_owned();
        let profile = record.profile;
        Self {
            id: record.id,
            title: profile.title,
            first_name: profile.first_name,
            last_name: profile.last_name,
            name: record.name,
            email: profile.email,
            login,
            phone: profile.phone,
            fax: profile.fax,
            mobile: profile.mobile,
            street: profile.street,
            zip: profile.zip,
            city: profile.city,
            country: profile.country,
            comment: profile.comment,
            validity: record.validity.as_str(),
            custom: domain::custom_fields::visible_values(fields, &profile.custom),
            account_status: record.status.as_str(),
            primary_organization: record.primary_organization.map(|o| PrimaryOrganizationRef {
                id: o.id,
                name: o.name,
            }),
            erased: record.erased_at.is_some(),
            erased_at: record.erased_at,
            created_by: record.created_by,
            updated_by: record.updated_by,
            created_at: record.created_at,
            updated_at: record.updated_at,
            version: record.version,
        }
    }
}

impl From<DirectoryError> for ApiError {
    fn from(error: DirectoryError) -> Self {
        match error {
            DirectoryError::Invalid(errors) => Self::Validation(
                errors
                    .into_iter()
                    .map(|(field, message)| FieldError { field, message })
                    .collect(),
            ),
            DirectoryError::Conflict(field) => Self::Conflict { field },
            DirectoryError::Stale => Self::Stale(
                "The user was changed since you read it; read it again and retry.".into(),
            ),
            DirectoryError::NotFound => Self::NotFound,
            DirectoryError::Refused(message) => Self::Refused(message),
            DirectoryError::Store(error) => error.into(),
            DirectoryError::Internal(message) => Self::Internal(message),
        }
    }
}

fn actor(caller: &ApiCaller) -> Actor {
    Actor::ApiToken(caller.token.id)
}

/// The directory: search, filter, sort, page.
///
/// `q` searches name, email, login, phones, custom values and organization names
/// (a case-insensitive substring; `*` is a wildcard `rob*mer`). Filters: `validity`, `organization` (an id),
/// `group` (an id; users with at least `ro` by any route, or `rw` with `group_permission=rw`),
/// and custom fields: `custom.<key>=value` (equality; for multi-choice fields, holding that
/// option), `custom.<key>.min=` / `custom.<key>.max=` (number, decimal and date fields).
/// `sort`: `name` (default), `email`, `organization`, `created`; `-` in front reverses.
#[utoipa::path(get, path = "/api/v1/users", tag = "directory", security(("api_token" = [])),
    params(
        ("q" = Option<String>, Query, description = "Search term; `*` is a wildcard"),
        ("validity" = Option<String>, Query, description = "valid, invalid or invalid_temporarily"),
        ("organization" = Option<Uuid>, Query, description = "Members of this organization"),
        ("group" = Option<Uuid>, Query, description = "Users with a permission on this customer group"),
        ("group_permission" = Option<String>, Query, description = "ro (default) or rw"),
        ("sort" = Option<String>, Query, description = "name, email, organization, created; prefix - to reverse"),
        ("limit" = Option<u32>, Query, description = "1 to 200, default 50"),
        ("cursor" = Option<String>, Query, description = "The next_cursor of the previous page"),
    ),
    responses((status = 200, description = "One page of users", body = inline(Page<UserBody>)),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad filter, sort or cursor", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<UserBody>>, ApiError> {
    caller.require(Permission::UsersRead)?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
            .map_err(|_| ApiError::BadRequest("The query string is malformed.".into()))?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let fields = store::custom_fields::active(&mut tx, FieldEntity::User).await?;
    let query = directory::user_query(&pairs, &fields)?;
    let page = store::user_directory::list(&mut tx, &query).await?;
    tx.commit().await?;
    Ok(Json(Page {
        data: page
            .items
            .into_iter()
            .map(|r| UserBody::new(r, &fields))
            .collect(),
        next_cursor: page.next.map(|after| after.encode()),
    }))
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "directory", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The user")),
    responses((status = 200, description = "The user; the ETag is its version", body = UserBody),
        (status = 404, description = "No such user in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let record = store::user_directory::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let fields = store::custom_fields::active(&mut tx, FieldEntity::User).await?;
    tx.commit().await?;
    Ok(with_etag(StatusCode::OK, UserBody::new(record, &fields)))
}

fn with_etag(status: StatusCode, body: UserBody) -> Response {
    let etag = format!("\"{}\"", body.version);
    (status, [(header::ETAG, etag)], Json(body)).into_response()
}

/// The body of a create or change, field by field: text fields as strings (empty or null
/// clears an optional one), `custom` as an object of key -> value.
fn changes(body: &Value, extra: &[&str]) -> Result<directory::UserChanges, ApiError> {
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::BadRequest("The body must be a JSON object.".into()))?;
    let mut errors = Vec::new();
    let mut text = Vec::new();
    let mut custom = None;
    let mut flags = Map::new();
    for (key, value) in object {
        match (key.as_str(), value) {
            ("custom", Value::Object(values)) => custom = Some(values.clone()),
            ("custom", _) => errors.push(field_error("custom", "must be an object")),
            (field, Value::String(raw)) if PROFILE_FIELDS.contains(&field) => {
                text.push((field.to_owned(), raw.clone()));
            }
            (field, Value::Null) if PROFILE_FIELDS.contains(&field) => {
                text.push((field.to_owned(), String::new()));
            }
            (field, _) if PROFILE_FIELDS.contains(&field) => {
                errors.push(field_error(field, "must be a string or null"));
            }
            (field, value) if extra.contains(&field) => {
                flags.insert(field.to_owned(), value.clone());
            }
            (field, _) => errors.push(field_error(field, "is not a known field")),
        }
    }
    Ok(directory::UserChanges {
        text,
        custom,
        extra: flags,
        errors: errors.into_iter().map(|e| (e.field, e.message)).collect(),
    })
}

fn field_error(field: &str, message: &str) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// Creates a user in the directory. `first_name`, `last_name` and `email` are required; the
/// login is the email unless one is given. An organization listing the email's domain makes
/// them a member. No password is set: `"send_invitation": true` mails them the link to choose
/// one (the `user.invitation` template).
#[utoipa::path(post, path = "/api/v1/users", tag = "directory", security(("api_token" = [])),
    request_body(content = inline(Object), example = json!({
        "first_name": "Robin", "last_name": "Customer", "email": "robin@example.com",
        "phone": "+49 30 1234567", "country": "DE", "custom": {"vip_level": "gold"},
        "send_invitation": true})),
    responses((status = 201, description = "The new user", body = UserBody),
        (status = 403, description = "The token lacks users.manage", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email or login is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::UsersManage)?;
    let changes = changes(&body, &["send_invitation"])?;
    let invite = match changes.extra.get("send_invitation") {
        None | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => {
            return Err(ApiError::Validation(vec![field_error(
                "send_invitation",
                "must be true or false",
            )]));
        }
    };
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let fields = store::custom_fields::active(&mut tx, FieldEntity::User).await?;
    let record = directory::create_user(&mut tx, &fields, &changes, actor(&caller)).await?;
    if invite {
        directory::invite(&state, &mut tx, &caller.tenant, &record).await?;
    }
    let record = store::user_directory::by_id(&mut tx, record.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    let location = format!("/api/v1/users/{}", record.id);
    let mut response = with_etag(StatusCode::CREATED, UserBody::new(record, &fields));
    if let Ok(value) = location.parse() {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// Changes a user: only the fields sent. `custom` merges key by key (null clears one).
/// Send the `version` read (in the body or as `If-Match`); a stale one gets 409. Erased users
/// cannot be changed.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "directory", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The user")),
    request_body(content = inline(Object), example = json!({"version": 2, "validity": "invalid", "custom": {"vip_level": null}})),
    responses((status = 200, description = "The changed user", body = UserBody),
        (status = 404, description = "No such user in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A stale version, or the email or login is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named", body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::UsersManage)?;
    let changes = changes(&body, &["version"])?;
    let version = match changes.extra.get("version") {
        None => if_match_version(&headers)?,
        Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
        Some(_) => {
            return Err(ApiError::Validation(vec![field_error(
                "version",
                "must be the integer version you read",
            )]));
        }
    };
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let fields = store::custom_fields::active(&mut tx, FieldEntity::User).await?;
    let record =
        directory::update_user(&mut tx, &fields, id, version, &changes, actor(&caller)).await?;
    tx.commit().await?;
    Ok(with_etag(StatusCode::OK, UserBody::new(record, &fields)))
}

/// Erases a user for a data-protection request: name, addresses, phones, custom data and
/// password are replaced by a tombstone ("Erased user"), memberships and group grants go, and
/// the erasure is recorded with the token and the time. Their tickets stay, showing the
/// requester as erased. Needs `users.erase`. Cannot be undone.
#[utoipa::path(post, path = "/api/v1/users/{id}/erase", tag = "directory", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The user")),
    responses((status = 200, description = "The erased user's tombstone", body = UserBody),
        (status = 403, description = "The token lacks users.erase", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already erased", body = Problem, content_type = "application/problem+json")))]
pub async fn erase(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    caller.require(Permission::UsersErase)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let record = directory::erase_user(&mut tx, id, actor(&caller)).await?;
    let fields = store::custom_fields::active(&mut tx, FieldEntity::User).await?;
    tx.commit().await?;
    Ok(with_etag(StatusCode::OK, UserBody::new(record, &fields)))
}
