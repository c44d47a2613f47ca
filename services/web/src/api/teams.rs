//! `/api/v1/teams`: teams of agents with a lead. Reads need `users.read`, writes
//! `helpdesk.configure`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use domain::Permission;
use serde::Serialize;
use serde_json::Value;
use store::TenantTx;
use store::departments::Kind;
use store::teams::{Team, TeamChange};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::departments::{
    check_references, deleted, expected_version, object_of, parse_id, parse_name, require_field,
    updated, versioned,
};
use crate::api::json::{ApiJson, FieldParser};
use crate::api::page::{Page, PageQuery};
use crate::error::{ApiError, Problem};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d70", "name": "Second level",
    "lead_agent_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d30", "member_ids": ["01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d30"],
    "created_at": "2026-11-22T09:00:00Z", "updated_at": "2026-11-22T09:00:00Z", "version": 1}))]
pub struct TeamBody {
    pub id: Uuid,
    /// Unique in the workspace, ignoring case; 1 to 100 characters.
    pub name: String,
    pub lead_agent_id: Option<Uuid>,
    pub member_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl From<Team> for TeamBody {
    fn from(t: Team) -> Self {
        Self {
            id: t.id,
            name: t.name,
            lead_agent_id: t.lead_agent_id,
            member_ids: t.member_ids,
            created_at: t.created_at,
            updated_at: t.updated_at,
            version: t.version,
        }
    }
}

fn respond(status: StatusCode, team: Team) -> Response {
    let location = format!("/api/v1/teams/{}", team.id);
    let version = team.version;
    versioned(status, location, version, TeamBody::from(team))
}

/// The fields of a create (POST; `name` required) or an update (PATCH).
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"name": "Second level", "lead_agent_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d30"}))]
pub struct TeamInput {
    /// PATCH only: the version read (or `If-Match`); stale: 409.
    version: Option<i64>,
    /// 1 to 100 characters; 409 naming `name` when taken.
    name: Option<String>,
    /// An agent of this workspace, or null.
    lead_agent_id: Option<Uuid>,
}

fn parse_body(body: Value, patch: bool) -> Result<(TeamChange, Option<i64>), ApiError> {
    let object = object_of(body)?;
    let known: &[&str] = if patch {
        &["name", "lead_agent_id", "version"]
    } else {
        &["name", "lead_agent_id"]
    };
    let mut fields = FieldParser::new(&object, known);
    let version = if patch {
        fields.integer("version")
    } else {
        None
    };
    if !patch {
        require_field(&mut fields, &object, "name");
    }
    let change = TeamChange {
        name: fields.string("name", parse_name),
        lead_agent_id: fields.nullable_string("lead_agent_id", parse_id),
    };
    fields.finish((change, version))
}

/// Creates a team from a JSON body (the API's and the admin page's one path).
pub(crate) async fn create_in(tx: &mut TenantTx, body: Value) -> Result<Team, ApiError> {
    let (change, _) = parse_body(body, false)?;
    let name = change.name.clone().unwrap_or_default();
    check_references(
        tx,
        &[("lead_agent_id", Kind::Agent, change.lead_agent_id.flatten())],
    )
    .await?;
    Ok(store::teams::create(tx, &name, &change).await?)
}

/// Updates a team from a JSON body; `if_match` wins over the body's `version`.
pub(crate) async fn update_in(
    tx: &mut TenantTx,
    id: Uuid,
    body: Value,
    if_match: Option<i64>,
) -> Result<Team, ApiError> {
    let (change, version) = parse_body(body, true)?;
    if store::teams::by_id(tx, id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    check_references(
        tx,
        &[("lead_agent_id", Kind::Agent, change.lead_agent_id.flatten())],
    )
    .await?;
    updated(
        store::teams::update(tx, id, &change, if_match.or(version)).await?,
        "team",
    )
}

/// The workspace's teams by name.
#[utoipa::path(get, path = "/api/v1/teams", tag = "tickets", security(("api_token" = [])),
    params(PageQuery),
    responses((status = 200, description = "One page of teams", body = inline(Page<TeamBody>)),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<TeamBody>>, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let mut teams = store::teams::list(&mut tx).await?;
    tx.commit().await?;
    teams.sort_by_key(|t| t.id);
    Ok(Json(page.page(teams, |t| t.id, TeamBody::from)?))
}

/// One team.
#[utoipa::path(get, path = "/api/v1/teams/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The team")),
    responses((status = 200, description = "The team", body = TeamBody),
        (status = 404, description = "No such team in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let team = store::teams::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(respond(StatusCode::OK, team))
}

/// Creates a team.
#[utoipa::path(post, path = "/api/v1/teams", tag = "tickets", security(("api_token" = [])),
    request_body = TeamInput,
    responses((status = 201, description = "The new team", body = TeamBody),
        (status = 409, description = "The name is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let team = create_in(&mut tx, body).await?;
    tx.commit().await?;
    Ok(respond(StatusCode::CREATED, team))
}

/// Renames a team or changes its lead.
#[utoipa::path(patch, path = "/api/v1/teams/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The team"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version read")),
    request_body(content = TeamInput, example = json!({"version": 1, "lead_agent_id": null})),
    responses((status = 200, description = "The saved team", body = TeamBody),
        (status = 404, description = "No such team in this tenant", body = Problem, content_type = "application/problem+json"),
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
    let team = update_in(&mut tx, id, body, if_match).await?;
    tx.commit().await?;
    Ok(respond(StatusCode::OK, team))
}

/// Deletes a team; refused (409) while tickets, help topics or organizations refer to it.
#[utoipa::path(delete, path = "/api/v1/teams/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The team")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such team in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still used", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let status = deleted(store::teams::delete(&mut tx, id).await?)?;
    tx.commit().await?;
    Ok(status)
}

/// Adds an agent to the team (201; 200 when already a member).
#[utoipa::path(put, path = "/api/v1/teams/{id}/members/{agent_id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The team"), ("agent_id" = Uuid, Path, description = "The agent")),
    responses((status = 201, description = "The agent is now a member; the team", body = TeamBody),
        (status = 200, description = "The agent already was a member", body = TeamBody),
        (status = 404, description = "No such team or agent in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn add_member(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, agent_id)): Path<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    if store::teams::by_id(&mut tx, id).await?.is_none()
        || !store::departments::exists(&mut tx, Kind::Agent, agent_id).await?
    {
        return Err(ApiError::NotFound);
    }
    let added = store::teams::add_member(&mut tx, id, agent_id).await?;
    let team = store::teams::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(respond(status, team))
}

/// Removes an agent from the team.
#[utoipa::path(delete, path = "/api/v1/teams/{id}/members/{agent_id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The team"), ("agent_id" = Uuid, Path, description = "The agent")),
    responses((status = 204, description = "The agent is no longer a member"),
        (status = 404, description = "No such membership in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn remove_member(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, agent_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    if !store::teams::remove_member(&mut tx, id, agent_id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
