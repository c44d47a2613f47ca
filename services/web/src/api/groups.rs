//! `/api/v1/groups` (customer groups) and the group grants of end users
//! (`/users/{id}/groups...`) and organizations (`/organizations/{id}/groups...`): defining
//! groups needs `directory.configure`, granting `users.manage`, reading `users.read`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::Permission;
use serde::Serialize;
use store::customer_groups::{
    self as groups, CustomerGroup, EffectiveGroup, GrantSource, GroupChange, GroupDescription,
    GroupName, GroupPermission, NewGroup, UpdateOutcome,
};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::json::{ApiJson, FieldParser, if_match_version};
use crate::api::page::{Page, PageQuery};
use crate::error::{ApiError, FieldError, Problem};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d40", "name": "Billing",
    "description": "Invoices and payment questions", "default_permission": "ro",
    "version": 3, "created_at": "2026-11-22T10:00:00Z"
}))]
pub struct GroupBody {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// `ro` or `rw`: what every end user holds without a grant; null for nothing.
    pub default_permission: Option<&'static str>,
    /// Send it back (or `If-Match: "3"`) when changing the group; stale: 409.
    pub version: i64,
    pub created_at: DateTime<Utc>,
}

impl From<CustomerGroup> for GroupBody {
    fn from(group: CustomerGroup) -> Self {
        Self {
            id: group.id,
            name: group.name,
            description: group.description,
            default_permission: group.default_permission.map(GroupPermission::as_str),
            version: group.version,
            created_at: group.created_at,
        }
    }
}

fn with_etag(group: CustomerGroup) -> Response {
    let version = group.version;
    let mut response = Json(GroupBody::from(group)).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

fn object(
    body: &serde_json::Value,
) -> Result<&serde_json::Map<String, serde_json::Value>, ApiError> {
    body.as_object()
        .ok_or_else(|| ApiError::BadRequest("The body must be a JSON object.".into()))
}

fn parse_permission(raw: &str) -> Result<GroupPermission, &'static str> {
    GroupPermission::parse(raw).ok_or("must be ro or rw")
}

fn required(fields: &mut FieldParser<'_>, field: &str, given: bool) {
    if !given && !fields.errors.iter().any(|e| e.field == field) {
        fields.errors.push(FieldError {
            field: field.into(),
            message: "is required".into(),
        });
    }
}

/// The tenant's customer groups.
#[utoipa::path(get, path = "/api/v1/groups", tag = "directory", security(("api_token" = [])),
    params(PageQuery),
    responses((status = 200, description = "One page of groups, oldest first", body = inline(Page<GroupBody>)),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<GroupBody>>, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let mut all = groups::list(&mut tx).await?;
    tx.commit().await?;
    all.sort_by_key(|g| g.id);
    Ok(Json(page.page(all, |g| g.id, GroupBody::from)?))
}

/// One customer group; the ETag header carries its version.
#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "directory", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The group")),
    responses((status = 200, description = "The group", body = GroupBody),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such group in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let group = groups::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(with_etag(group))
}

/// Creates a customer group. `name` is unique in the tenant regardless of case.
#[utoipa::path(post, path = "/api/v1/groups", tag = "directory", security(("api_token" = [])),
    request_body(content = inline(serde_json::Value), example = json!({"name": "Billing", "description": "Invoices and payment questions", "default_permission": "ro"})),
    responses((status = 201, description = "The group; Location names it", body = GroupBody),
        (status = 403, description = "The token lacks directory.configure", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A group has this name", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::DirectoryConfigure)?;
    let object = object(&body)?;
    let mut fields = FieldParser::new(object, &["name", "description", "default_permission"]);
    let name = fields.string("name", GroupName::parse);
    let description = fields.string("description", GroupDescription::parse);
    let default_permission = fields.nullable_string("default_permission", parse_permission);
    required(&mut fields, "name", name.is_some());
    let (name, description, default_permission) =
        fields.finish((name, description, default_permission))?;
    let Some(name) = name else {
        return Err(ApiError::BadRequest("incomplete".into()));
    };
    let new = NewGroup {
        name,
        description: description.unwrap_or_default(),
        default_permission: default_permission.flatten(),
    };
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let group = groups::create(&mut tx, &new).await?;
    tx.commit().await?;
    let location = format!("/api/v1/groups/{}", group.id);
    let mut response = with_etag(group);
    *response.status_mut() = StatusCode::CREATED;
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// Changes a group's name, description or default permission (null removes the default).
#[utoipa::path(patch, path = "/api/v1/groups/{id}", tag = "directory", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The group"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version read, such as \"3\"")),
    request_body(content = inline(serde_json::Value), example = json!({"version": 3, "default_permission": null})),
    responses((status = 200, description = "The group with its new version", body = GroupBody),
        (status = 403, description = "The token lacks directory.configure", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such group in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is taken, or the version is stale", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::DirectoryConfigure)?;
    let object = object(&body)?;
    let mut fields = FieldParser::new(
        object,
        &["name", "description", "default_permission", "version"],
    );
    let change = GroupChange {
        name: fields.string("name", GroupName::parse),
        description: fields.string("description", GroupDescription::parse),
        default_permission: fields.nullable_string("default_permission", parse_permission),
    };
    let version = fields.integer("version");
    let (change, version) = fields.finish((change, version))?;
    let expected = if_match_version(&headers)?.or(version);
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let group = match groups::update(&mut tx, id, &change, expected).await? {
        UpdateOutcome::Updated(group) => group,
        UpdateOutcome::NotFound => return Err(ApiError::NotFound),
        UpdateOutcome::Stale { current } => {
            return Err(ApiError::Stale(format!(
                "The group was changed by someone else; the current version is {current}. Read it again and reapply your change."
            )));
        }
    };
    tx.commit().await?;
    Ok(with_etag(group))
}

/// Deletes a group with every grant on it.
#[utoipa::path(delete, path = "/api/v1/groups/{id}", tag = "directory", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The group")),
    responses((status = 204, description = "Deleted, with its grants"),
        (status = 403, description = "The token lacks directory.configure", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such group in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::DirectoryConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    if !groups::delete(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Grants
// ---------------------------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct OrganizationRef {
    pub id: Uuid,
    pub name: String,
}

/// One contribution to an effective permission.
#[derive(Serialize, ToSchema)]
pub struct GrantSourceBody {
    /// `direct` (granted to the user), `organization` (granted to one of their organizations)
    /// or `default` (the group's tenant default).
    pub source: &'static str,
    /// The organization, for `organization` sources; null otherwise.
    pub organization: Option<OrganizationRef>,
    /// `ro` or `rw`.
    pub permission: &'static str,
}

/// What an end user holds on one group, and where it comes from.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "group_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d40", "group_name": "Billing", "permission": "rw",
    "sources": [
        {"source": "direct", "organization": null, "permission": "ro"},
        {"source": "organization", "organization": {"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d50", "name": "Acme Ltd"}, "permission": "rw"},
        {"source": "default", "organization": null, "permission": "ro"}
    ]
}))]
pub struct EffectiveGroupBody {
    pub group_id: Uuid,
    pub group_name: String,
    /// The strongest permission among the sources (`rw` includes `ro`).
    pub permission: &'static str,
    pub sources: Vec<GrantSourceBody>,
}

impl From<EffectiveGroup> for EffectiveGroupBody {
    fn from(group: EffectiveGroup) -> Self {
        Self {
            group_id: group.group_id,
            group_name: group.group_name,
            permission: group.permission.as_str(),
            sources: group
                .sources
                .into_iter()
                .map(|(source, permission)| GrantSourceBody {
                    source: source.kind(),
                    organization: match source {
                        GrantSource::Organization { id, name } => {
                            Some(OrganizationRef { id, name })
                        }
                        _ => None,
                    },
                    permission: permission.as_str(),
                })
                .collect(),
        }
    }
}

/// The effective group permissions of a user: every group they hold something on.
#[derive(Serialize, ToSchema)]
pub struct EffectiveGroupList {
    /// By group name; all of them (a tenant has few groups).
    pub data: Vec<EffectiveGroupBody>,
}

/// A group granted to an organization.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"group_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d40", "group_name": "Billing", "permission": "rw"}))]
pub struct OrganizationGrantBody {
    pub group_id: Uuid,
    pub group_name: String,
    /// `ro` or `rw`.
    pub permission: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct OrganizationGrantList {
    /// By group name; all of them.
    pub data: Vec<OrganizationGrantBody>,
}

/// The `permission` of a grant body.
fn grant_permission(body: &serde_json::Value) -> Result<GroupPermission, ApiError> {
    let object = object(body)?;
    let mut fields = FieldParser::new(object, &["permission"]);
    let permission = fields.string("permission", parse_permission);
    required(&mut fields, "permission", permission.is_some());
    fields
        .finish(permission)?
        .ok_or_else(|| ApiError::BadRequest("incomplete".into()))
}

/// The effective group permissions of an end user: the union of their own grants, the grants
/// of each of their organizations and the tenant defaults, each with its sources.
#[utoipa::path(get, path = "/api/v1/users/{id}/groups", tag = "directory", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The end user")),
    responses((status = 200, description = "Every group the user holds something on", body = EffectiveGroupList),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such end user in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn user_groups(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<EffectiveGroupList>, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    groups::end_user_name(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let effective = groups::effective_for_user(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(EffectiveGroupList {
        data: effective
            .into_iter()
            .map(EffectiveGroupBody::from)
            .collect(),
    }))
}

/// Grants `ro` or `rw` on a group to the end user (replacing their own grant, if any);
/// answers what they now hold on the group, from every source.
#[utoipa::path(put, path = "/api/v1/users/{id}/groups/{group_id}", tag = "directory", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The end user"), ("group_id" = Uuid, Path, description = "The group")),
    request_body(content = inline(serde_json::Value), example = json!({"permission": "rw"})),
    responses((status = 200, description = "The user's effective permission on the group", body = EffectiveGroupBody),
        (status = 403, description = "The token lacks users.manage", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user or group in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "permission is not ro or rw", body = Problem, content_type = "application/problem+json")))]
pub async fn grant_to_user(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, group_id)): Path<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<EffectiveGroupBody>, ApiError> {
    caller.require(Permission::UsersManage)?;
    let permission = grant_permission(&body)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    if !groups::grant_to_user(&mut tx, group_id, id, permission).await? {
        return Err(ApiError::NotFound);
    }
    let effective = groups::effective_for_user(&mut tx, id)
        .await?
        .into_iter()
        .find(|g| g.group_id == group_id)
        .ok_or_else(|| ApiError::Internal("the grant just written is not in effect".into()))?;
    tx.commit().await?;
    Ok(Json(effective.into()))
}

/// Removes the end user's own grant on a group (grants through organizations and the default
/// stay).
#[utoipa::path(delete, path = "/api/v1/users/{id}/groups/{group_id}", tag = "directory", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The end user"), ("group_id" = Uuid, Path, description = "The group")),
    responses((status = 204, description = "Revoked"),
        (status = 403, description = "The token lacks users.manage", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The user has no own grant on this group (or either is not in this tenant)", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_from_user(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, group_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::UsersManage)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    if !groups::revoke_from_user(&mut tx, group_id, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The groups granted to an organization (and so to each of its members).
#[utoipa::path(get, path = "/api/v1/organizations/{id}/groups", tag = "directory", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The organization")),
    responses((status = 200, description = "The organization's grants, by group name", body = OrganizationGrantList),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn organization_groups(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<OrganizationGrantList>, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    groups::organization_name(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let grants = groups::organization_grants(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(OrganizationGrantList {
        data: grants
            .into_iter()
            .map(|(group, permission)| OrganizationGrantBody {
                group_id: group.id,
                group_name: group.name,
                permission: permission.as_str(),
            })
            .collect(),
    }))
}

/// Grants `ro` or `rw` on a group to an organization, replacing its grant if any; every member
/// holds it from then on.
#[utoipa::path(put, path = "/api/v1/organizations/{id}/groups/{group_id}", tag = "directory", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The organization"), ("group_id" = Uuid, Path, description = "The group")),
    request_body(content = inline(serde_json::Value), example = json!({"permission": "ro"})),
    responses((status = 200, description = "The grant", body = OrganizationGrantBody),
        (status = 403, description = "The token lacks users.manage", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization or group in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "permission is not ro or rw", body = Problem, content_type = "application/problem+json")))]
pub async fn grant_to_organization(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, group_id)): Path<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<OrganizationGrantBody>, ApiError> {
    caller.require(Permission::UsersManage)?;
    let permission = grant_permission(&body)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    if !groups::grant_to_organization(&mut tx, group_id, id, permission).await? {
        return Err(ApiError::NotFound);
    }
    let group = groups::by_id(&mut tx, group_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(Json(OrganizationGrantBody {
        group_id: group.id,
        group_name: group.name,
        permission: permission.as_str(),
    }))
}

/// Removes an organization's grant on a group.
#[utoipa::path(delete, path = "/api/v1/organizations/{id}/groups/{group_id}", tag = "directory", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The organization"), ("group_id" = Uuid, Path, description = "The group")),
    responses((status = 204, description = "Revoked"),
        (status = 403, description = "The token lacks users.manage", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The organization has no grant on this group (or either is not in this tenant)", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke_from_organization(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, group_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::UsersManage)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    if !groups::revoke_from_organization(&mut tx, group_id, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
