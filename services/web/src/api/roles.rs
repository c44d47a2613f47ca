//! `/api/v1/roles` and `/api/v1/permissions`: the built-in roles and tenant-defined ones,
//! built from the documented permission list.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::Permission;
use serde::Serialize;
use store::agents::Role;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::json::{ApiJson, FieldParser};
use crate::api::page::{Page, PageQuery};
use crate::error::{ApiError, FieldError, Problem};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"key": "workspace.settings", "description": "Change workspace settings and email templates; read the mail log"}))]
pub struct PermissionBody {
    pub key: &'static str,
    pub description: &'static str,
}

/// Every permission a role can hold.
#[utoipa::path(get, path = "/api/v1/permissions", tag = "identity", security(("api_token" = [])),
    responses((status = 200, description = "The permission list", body = [PermissionBody])))]
pub async fn permissions(_caller: ApiCaller) -> Json<Vec<PermissionBody>> {
    Json(
        Permission::ALL
            .into_iter()
            .map(|p| PermissionBody {
                key: p.key(),
                description: p.description(),
            })
            .collect(),
    )
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d20", "name": "Admin", "builtin": "admin", "permissions": ["workspace.settings", "agents.manage"]}))]
pub struct RoleBody {
    pub id: Uuid,
    pub name: String,
    /// `admin`, `manager` or `agent` for the built-in roles (not editable); null otherwise.
    pub builtin: Option<&'static str>,
    pub permissions: Vec<&'static str>,
}

impl From<Role> for RoleBody {
    fn from(role: Role) -> Self {
        Self {
            id: role.id,
            name: role.name,
            builtin: role.builtin.map(|b| b.key()),
            permissions: role.permissions.iter().map(|p| p.key()).collect(),
        }
    }
}

/// The tenant's roles.
#[utoipa::path(get, path = "/api/v1/roles", tag = "identity", security(("api_token" = [])),
    params(PageQuery),
    responses((status = 200, description = "One page of roles", body = inline(Page<RoleBody>)),
        (status = 403, description = "The token lacks roles.manage", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<RoleBody>>, ApiError> {
    caller.require(Permission::RolesManage)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let mut roles = store::agents::roles(&mut tx).await?;
    tx.commit().await?;
    roles.sort_by_key(|r| r.id);
    Ok(Json(page.page(roles, |r| r.id, RoleBody::from)?))
}

fn parse_permissions(
    fields: &mut FieldParser<'_>,
    object: &serde_json::Map<String, serde_json::Value>,
) -> Option<Vec<Permission>> {
    let value = object.get("permissions")?;
    let Some(list) = value.as_array() else {
        fields.errors.push(FieldError {
            field: "permissions".into(),
            message: "must be a list of permission keys".into(),
        });
        return None;
    };
    let mut permissions = Vec::new();
    for item in list {
        match item.as_str().and_then(Permission::parse) {
            Some(p) if !permissions.contains(&p) => permissions.push(p),
            Some(_) => {}
            None => fields.errors.push(FieldError {
                field: "permissions".into(),
                message: format!("{item} is not a permission; see GET /api/v1/permissions"),
            }),
        }
    }
    Some(permissions)
}

/// Nobody grants a permission their own token lacks.
fn beyond_scope(
    fields: &mut FieldParser<'_>,
    caller: &ApiCaller,
    permissions: Option<&[Permission]>,
) {
    if let Some(Err(beyond)) =
        permissions.map(|p| crate::agents::grantable(p, &caller.token.permissions))
    {
        for permission in beyond {
            fields.errors.push(FieldError {
                field: "permissions".into(),
                message: format!("{} is beyond this token's own scope", permission.key()),
            });
        }
    }
}

/// Creates a tenant-defined role.
#[utoipa::path(post, path = "/api/v1/roles", tag = "identity", security(("api_token" = [])),
    request_body(content = inline(serde_json::Value), example = json!({"name": "Team lead", "permissions": ["users.read", "tickets.all"]})),
    responses((status = 201, description = "The role", body = RoleBody),
        (status = 409, description = "The name is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::RolesManage)?;
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::BadRequest("The body must be a JSON object.".into()))?;
    let mut fields = FieldParser::new(object, &["name", "permissions"]);
    let name = fields.string("name", crate::agents::parse_role_name);
    let permissions = parse_permissions(&mut fields, object);
    beyond_scope(&mut fields, &caller, permissions.as_deref());
    if name.is_none() && !fields.errors.iter().any(|e| e.field == "name") {
        fields.errors.push(FieldError {
            field: "name".into(),
            message: "is required".into(),
        });
    }
    let (name, permissions) = fields.finish((name, permissions.unwrap_or_default()))?;
    let name = name.unwrap_or_default();
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let role = store::agents::create_role(&mut tx, &name, &permissions).await?;
    tx.commit().await?;
    let location = format!("/api/v1/roles/{}", role.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(RoleBody::from(role)),
    )
        .into_response())
}

/// Renames a tenant-defined role or changes its permissions. Built-in roles are fixed (404 here).
#[utoipa::path(patch, path = "/api/v1/roles/{id}", tag = "identity", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The role")),
    request_body(content = inline(serde_json::Value), example = json!({"permissions": ["users.read"]})),
    responses((status = 200, description = "The role", body = RoleBody),
        (status = 404, description = "No such tenant-defined role", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<RoleBody>, ApiError> {
    caller.require(Permission::RolesManage)?;
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::BadRequest("The body must be a JSON object.".into()))?;
    let mut fields = FieldParser::new(object, &["name", "permissions"]);
    let name = fields.string("name", crate::agents::parse_role_name);
    let permissions = parse_permissions(&mut fields, object);
    let (name, permissions) = fields.finish((name, permissions))?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let role = store::agents::update_role(&mut tx, id, name.as_deref(), permissions.as_deref())
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(Json(RoleBody::from(role)))
}
