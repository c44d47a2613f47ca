//! `/api/v1/agents`: the tenant's agents; inviting one sends the invitation mail.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::{EmailAddress, Permission, TenantName};
use serde::Serialize;
use store::agents::{Agent, AgentChange};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::agents::{ChangeError, LAST_MANAGER};
use crate::api::auth::ApiCaller;
use crate::api::json::{ApiJson, FieldParser};
use crate::api::page::{Page, PageQuery};
use crate::error::{ApiError, FieldError, Problem};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d30", "name": "Dana Whitfield", "email": "dana@acme.example",
    "status": "active", "role": {"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d20", "name": "Agent"},
    "last_sign_in_at": "2026-11-22T09:30:00Z", "created_at": "2026-11-01T08:00:00Z"
}))]
pub struct AgentBody {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    /// `invited` (no password yet), `active` or `disabled`.
    pub status: &'static str,
    pub role: RoleRef,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct RoleRef {
    pub id: Uuid,
    pub name: String,
}

impl From<Agent> for AgentBody {
    fn from(agent: Agent) -> Self {
        Self {
            id: agent.id,
            name: agent.name,
            email: agent.email,
            status: agent.status.as_str(),
            role: RoleRef {
                id: agent.role.id,
                name: agent.role.name,
            },
            last_sign_in_at: agent.last_sign_in_at,
            created_at: agent.created_at,
        }
    }
}

/// The tenant's agents.
#[utoipa::path(get, path = "/api/v1/agents", tag = "identity", security(("api_token" = [])), params(PageQuery),
    responses((status = 200, description = "One page of agents, oldest first", body = inline(Page<AgentBody>)),
        (status = 403, description = "The token lacks agents.manage", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<AgentBody>>, ApiError> {
    caller.require(Permission::AgentsManage)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let mut agents = store::agents::list(&mut tx).await?;
    tx.commit().await?;
    agents.sort_by_key(|a| a.id);
    Ok(Json(page.page(agents, |a| a.id, AgentBody::from)?))
}

/// One agent.
#[utoipa::path(get, path = "/api/v1/agents/{id}", tag = "identity", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The agent")),
    responses((status = 200, description = "The agent", body = AgentBody),
        (status = 404, description = "No such agent in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<AgentBody>, ApiError> {
    caller.require(Permission::AgentsManage)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let agent = store::agents::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(Json(agent.into()))
}

fn role_id(fields: &mut FieldParser<'_>) -> Option<Uuid> {
    fields.string("role_id", |raw| {
        Uuid::parse_str(raw).map_err(|_| "must be the id of a role")
    })
}

/// Invites an agent: the account is created without a password and an invitation mail with a
/// single-use link (valid 7 days) is queued.
#[utoipa::path(post, path = "/api/v1/agents", tag = "identity", security(("api_token" = [])),
    request_body(content = inline(serde_json::Value), example = json!({"name": "Dana Whitfield", "email": "dana@acme.example", "role_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d20"})),
    responses((status = 201, description = "The invited agent", body = AgentBody),
        (status = 409, description = "An agent has this email", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (an unknown role_id included)", body = Problem, content_type = "application/problem+json")))]
pub async fn invite(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::AgentsManage)?;
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::BadRequest("The body must be a JSON object.".into()))?;
    let mut fields = FieldParser::new(object, &["name", "email", "role_id"]);
    let name = fields.string("name", TenantName::parse);
    let email = fields.string("email", EmailAddress::parse);
    let role_id = role_id(&mut fields);
    for (field, given) in [
        ("name", name.is_some()),
        ("email", email.is_some()),
        ("role_id", role_id.is_some()),
    ] {
        if !given && !fields.errors.iter().any(|e| e.field == field) {
            fields.errors.push(FieldError {
                field: field.into(),
                message: "is required".into(),
            });
        }
    }
    let (Some(name), Some(email), Some(role_id)) = fields.finish((name, email, role_id))? else {
        return Err(ApiError::BadRequest("incomplete".into()));
    };
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let role = store::agents::role_by_id(&mut tx, role_id)
        .await?
        .ok_or_else(unknown_role)?;
    within_scope(&caller, &role)?;
    let agent = crate::agents::invite(
        &mut tx,
        &caller.tenant,
        &state.config.base_url,
        &state.config.mail_from,
        name.as_str(),
        &email,
        &role,
    )
    .await?;
    tx.commit().await?;
    let location = format!("/api/v1/agents/{}", agent.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(AgentBody::from(agent)),
    )
        .into_response())
}

/// Nobody hands out a role holding a permission their own token lacks.
fn within_scope(caller: &ApiCaller, role: &store::agents::Role) -> Result<(), ApiError> {
    crate::agents::grantable(&role.permissions, &caller.token.permissions)
        .map(drop)
        .map_err(|beyond| {
            let keys: Vec<&str> = beyond.iter().map(|p| p.key()).collect();
            ApiError::Validation(vec![FieldError {
                field: "role_id".into(),
                message: format!(
                    "holds permissions beyond this token's own scope: {}",
                    keys.join(", ")
                ),
            }])
        })
}

fn unknown_role() -> ApiError {
    ApiError::Validation(vec![FieldError {
        field: "role_id".into(),
        message: "is not a role of this workspace".into(),
    }])
}

/// Changes an agent's name, role, or status (`active`/`disabled`; disabling ends every session).
/// The last active agent who can manage agents cannot be disabled or demoted.
#[utoipa::path(patch, path = "/api/v1/agents/{id}", tag = "identity", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The agent")),
    request_body(content = inline(serde_json::Value), example = json!({"status": "disabled"})),
    responses((status = 200, description = "The agent", body = AgentBody),
        (status = 404, description = "No such agent in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It would leave nobody able to manage agents", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<AgentBody>, ApiError> {
    caller.require(Permission::AgentsManage)?;
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::BadRequest("The body must be a JSON object.".into()))?;
    let mut fields = FieldParser::new(object, &["name", "role_id", "status"]);
    let name = fields.string("name", TenantName::parse);
    let role_id = role_id(&mut fields);
    let disabled = fields.string("status", |raw| match raw {
        "active" => Ok(false),
        "disabled" => Ok(true),
        _ => Err("must be active or disabled"),
    });
    let (name, role_id, disabled) = fields.finish((name, role_id, disabled))?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    if let Some(role_id) = role_id {
        let role = store::agents::role_by_id(&mut tx, role_id)
            .await?
            .ok_or_else(unknown_role)?;
        within_scope(&caller, &role)?;
    }
    let change = AgentChange {
        name: name.as_ref().map(TenantName::as_str),
        role_id,
        disabled,
    };
    let agent = crate::agents::change(&mut tx, id, &change)
        .await
        .map_err(|error| match error {
            ChangeError::NotFound => ApiError::NotFound,
            ChangeError::LastManager => ApiError::Refused(LAST_MANAGER.into()),
            ChangeError::Store(error) => error.into(),
        })?;
    tx.commit().await?;
    Ok(Json(agent.into()))
}
