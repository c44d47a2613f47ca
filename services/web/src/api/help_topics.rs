//! `/api/v1/help-topics`: help topics (OTRS services), nested, each with its department and
//! defaults, and who may use it (`/help-topics/{id}/grants`). Reads need `users.read`, writes
//! `helpdesk.configure`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use domain::Permission;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use store::TenantTx;
use store::departments::{Kind, Priority};
use store::help_topics::{Grantee, HelpTopic, TopicChange};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::departments::{
    check_references, deleted, expected_version, field_error, object_of, parse_id, parse_name,
    require_field, updated, versioned,
};
use crate::api::json::{ApiJson, FieldParser};
use crate::api::page::Page;
use crate::error::{ApiError, Problem};

/// The largest position a topic may have.
pub const MAX_POSITION: i64 = 10_000;
/// How many custom fields one topic may ask for.
pub const MAX_FIELDS: usize = 50;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"kind": "organization", "id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d40"}))]
pub struct GrantBody {
    /// `end_user`, `organization` or `customer_group`.
    pub kind: &'static str,
    pub id: Uuid,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1da0", "name": "Billing question", "parent_id": null,
    "department_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d60", "default_priority": "normal",
    "sla_plan_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d80", "auto_assign_agent_id": null, "auto_assign_team_id": null,
    "public": true, "for_everyone": false, "autoresponse": true, "field_ids": [], "position": 0,
    "grants": [{"kind": "organization", "id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d40"}],
    "created_at": "2026-11-22T09:00:00Z", "updated_at": "2026-11-22T09:00:00Z", "version": 1}))]
pub struct HelpTopicBody {
    pub id: Uuid,
    /// Unique in the workspace, ignoring case.
    pub name: String,
    pub parent_id: Option<Uuid>,
    /// Where tickets of this topic go.
    pub department_id: Uuid,
    /// `low`, `normal`, `high`, `urgent`, or null (the department's).
    pub default_priority: Option<&'static str>,
    pub sla_plan_id: Option<Uuid>,
    pub auto_assign_agent_id: Option<Uuid>,
    pub auto_assign_team_id: Option<Uuid>,
    /// Offered in the portal.
    pub public: bool,
    /// Offered to every end user; otherwise only to those in `grants`.
    pub for_everyone: bool,
    /// The portal's new-ticket autoresponse is sent.
    pub autoresponse: bool,
    /// Ticket custom fields it asks for, in order.
    pub field_ids: Vec<Uuid>,
    pub position: i32,
    pub grants: Vec<GrantBody>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl From<HelpTopic> for HelpTopicBody {
    fn from(t: HelpTopic) -> Self {
        Self {
            id: t.id,
            name: t.name,
            parent_id: t.parent_id,
            department_id: t.department_id,
            default_priority: t.default_priority.map(Priority::as_str),
            sla_plan_id: t.sla_plan_id,
            auto_assign_agent_id: t.auto_assign_agent_id,
            auto_assign_team_id: t.auto_assign_team_id,
            public: t.public,
            for_everyone: t.for_everyone,
            autoresponse: t.autoresponse,
            field_ids: t.field_ids,
            position: t.position,
            grants: t
                .grants
                .into_iter()
                .map(|g| GrantBody {
                    kind: g.kind(),
                    id: g.id(),
                })
                .collect(),
            created_at: t.created_at,
            updated_at: t.updated_at,
            version: t.version,
        }
    }
}

fn respond(status: StatusCode, topic: HelpTopic) -> Response {
    let location = format!("/api/v1/help-topics/{}", topic.id);
    let version = topic.version;
    versioned(status, location, version, HelpTopicBody::from(topic))
}

/// The fields of a create (POST; `name` and `department_id` required) or an update (PATCH).
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"name": "Billing question", "department_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d60",
    "sla_plan_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d80", "for_everyone": false}))]
pub struct HelpTopicInput {
    /// PATCH only: the version read (or `If-Match`); stale: 409.
    version: Option<i64>,
    /// 1 to 100 characters; 409 naming `name` when taken.
    name: Option<String>,
    /// Another topic of this workspace (not this one or one below it: 422), or null.
    parent_id: Option<Uuid>,
    /// A department of this workspace.
    department_id: Option<Uuid>,
    /// `low`, `normal`, `high`, `urgent`, or null.
    default_priority: Option<String>,
    /// An SLA plan of this workspace, or null.
    sla_plan_id: Option<Uuid>,
    /// An agent of this workspace, or null; not together with a team.
    auto_assign_agent_id: Option<Uuid>,
    /// A team of this workspace, or null; not together with an agent.
    auto_assign_team_id: Option<Uuid>,
    /// Default true.
    public: Option<bool>,
    /// Default true.
    for_everyone: Option<bool>,
    /// Default true.
    autoresponse: Option<bool>,
    /// Ids of ticket custom fields of this workspace, in order.
    field_ids: Option<Vec<Uuid>>,
    /// 0 to 10,000 (default 0).
    position: Option<i64>,
}

const FIELDS: &[&str] = &[
    "name",
    "parent_id",
    "department_id",
    "default_priority",
    "sla_plan_id",
    "auto_assign_agent_id",
    "auto_assign_team_id",
    "public",
    "for_everyone",
    "autoresponse",
    "field_ids",
    "position",
];

fn parse_body(body: Value, patch: bool) -> Result<(TopicChange, Option<i64>), ApiError> {
    let object = object_of(body)?;
    let mut known = FIELDS.to_vec();
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
        require_field(&mut fields, &object, "department_id");
    }
    let mut change = TopicChange {
        name: fields.string("name", parse_name),
        parent_id: fields.nullable_string("parent_id", parse_id),
        department_id: fields.string("department_id", parse_id),
        default_priority: fields
            .nullable_string("default_priority", store::departments::parse_priority),
        sla_plan_id: fields.nullable_string("sla_plan_id", parse_id),
        auto_assign_agent_id: fields.nullable_string("auto_assign_agent_id", parse_id),
        auto_assign_team_id: fields.nullable_string("auto_assign_team_id", parse_id),
        public: fields.boolean("public"),
        for_everyone: fields.boolean("for_everyone"),
        autoresponse: fields.boolean("autoresponse"),
        field_ids: None,
        position: fields.integer_in("position", 0..=MAX_POSITION),
    };
    match object.get("field_ids") {
        None => {}
        Some(Value::Array(items)) if items.len() <= MAX_FIELDS => {
            let mut ids = Vec::new();
            for item in items {
                match item.as_str().map(parse_id) {
                    Some(Ok(id)) if !ids.contains(&id) => ids.push(id),
                    Some(Ok(_)) => {}
                    _ => fields.errors.push(field_error(
                        "field_ids",
                        "must be a list of custom field ids",
                    )),
                }
            }
            change.field_ids = Some(ids);
        }
        Some(_) => fields.errors.push(field_error(
            "field_ids",
            format!("must be a list of at most {MAX_FIELDS} custom field ids"),
        )),
    }
    fields.finish((change, version))
}

/// The references, the single assignee, the parent chain and the fields, checked against this
/// workspace; `id` is the topic being changed (None when creating).
async fn check(
    tx: &mut TenantTx,
    id: Option<Uuid>,
    change: &TopicChange,
    current: Option<&HelpTopic>,
) -> Result<(), ApiError> {
    check_references(
        tx,
        &[
            ("parent_id", Kind::HelpTopic, change.parent_id.flatten()),
            ("department_id", Kind::Department, change.department_id),
            ("sla_plan_id", Kind::SlaPlan, change.sla_plan_id.flatten()),
            (
                "auto_assign_agent_id",
                Kind::Agent,
                change.auto_assign_agent_id.flatten(),
            ),
            (
                "auto_assign_team_id",
                Kind::Team,
                change.auto_assign_team_id.flatten(),
            ),
        ],
    )
    .await?;
    let mut errors = Vec::new();
    let agent = change
        .auto_assign_agent_id
        .unwrap_or(current.and_then(|c| c.auto_assign_agent_id));
    let team = change
        .auto_assign_team_id
        .unwrap_or(current.and_then(|c| c.auto_assign_team_id));
    if agent.is_some() && team.is_some() {
        let field = if change.auto_assign_team_id.flatten().is_some() {
            "auto_assign_team_id"
        } else {
            "auto_assign_agent_id"
        };
        errors.push(field_error(
            field,
            "auto-assign to an agent or to a team, not both; set the other to null",
        ));
    }
    if let (Some(id), Some(Some(parent))) = (id, change.parent_id)
        && (parent == id || store::help_topics::would_cycle(tx, id, parent).await?)
    {
        errors.push(field_error(
            "parent_id",
            "must not be the topic itself or one of its sub-topics",
        ));
    }
    if let Some(field_ids) = &change.field_ids {
        let known = store::help_topics::known_ticket_fields(tx, field_ids).await?;
        if let Some(unknown) = field_ids.iter().find(|id| !known.contains(id)) {
            errors.push(field_error(
                "field_ids",
                format!("{unknown} is not a ticket custom field of this workspace"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

#[derive(Deserialize, IntoParams)]
pub struct ListParams {
    /// Only the topics this end user may open tickets under (public ones for everyone, and
    /// those granted to them, their organizations or their customer groups).
    available_to: Option<Uuid>,
}

/// The workspace's help topics by position and name (one page holds them all).
#[utoipa::path(get, path = "/api/v1/help-topics", tag = "tickets", security(("api_token" = [])),
    params(ListParams),
    responses((status = 200, description = "Every topic", body = inline(Page<HelpTopicBody>)),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`available_to` is not an end user of this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(params): Query<ListParams>,
) -> Result<Json<Page<HelpTopicBody>>, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let topics = match params.available_to {
        None => store::help_topics::list(&mut tx).await?,
        Some(user) => {
            if !store::departments::exists(&mut tx, Kind::EndUser, user).await? {
                return Err(ApiError::NotFound);
            }
            store::help_topics::topics_for_user(&mut tx, Some(user)).await?
        }
    };
    tx.commit().await?;
    Ok(Json(Page {
        data: topics.into_iter().map(HelpTopicBody::from).collect(),
        next_cursor: None,
    }))
}

/// One help topic.
#[utoipa::path(get, path = "/api/v1/help-topics/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The topic")),
    responses((status = 200, description = "The topic", body = HelpTopicBody),
        (status = 404, description = "No such topic in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let topic = store::help_topics::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(respond(StatusCode::OK, topic))
}

/// Creates a help topic.
#[utoipa::path(post, path = "/api/v1/help-topics", tag = "tickets", security(("api_token" = [])),
    request_body = HelpTopicInput,
    responses((status = 201, description = "The new topic", body = HelpTopicBody),
        (status = 409, description = "The name is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, unknown references, both assignees", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let topic = create_in(&mut tx, body).await?;
    tx.commit().await?;
    Ok(respond(StatusCode::CREATED, topic))
}

/// Creates a topic from a JSON body (the API's and the admin page's one path).
pub(crate) async fn create_in(tx: &mut TenantTx, body: Value) -> Result<HelpTopic, ApiError> {
    let (change, _) = parse_body(body, false)?;
    let (Some(name), Some(department_id)) = (change.name.clone(), change.department_id) else {
        return Err(ApiError::Validation(vec![field_error(
            "name",
            "is required",
        )]));
    };
    check(tx, None, &change, None).await?;
    Ok(store::help_topics::create(tx, &name, department_id, &change).await?)
}

/// Changes some fields of a topic. A parent that is the topic itself or below it is refused
/// (422 naming `parent_id`).
#[utoipa::path(patch, path = "/api/v1/help-topics/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The topic"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version read")),
    request_body(content = HelpTopicInput, example = json!({"version": 1, "parent_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1da1", "public": false})),
    responses((status = 200, description = "The saved topic", body = HelpTopicBody),
        (status = 404, description = "No such topic in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale version or the name is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, a cycle, unknown references", body = Problem, content_type = "application/problem+json")))]
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
    let topic = update_in(&mut tx, id, body, if_match).await?;
    tx.commit().await?;
    Ok(respond(StatusCode::OK, topic))
}

/// Updates a topic from a JSON body; `if_match` wins over the body's `version`.
pub(crate) async fn update_in(
    tx: &mut TenantTx,
    id: Uuid,
    body: Value,
    if_match: Option<i64>,
) -> Result<HelpTopic, ApiError> {
    let (change, version) = parse_body(body, true)?;
    let current = store::help_topics::for_update(tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    check(tx, Some(id), &change, Some(&current)).await?;
    updated(
        store::help_topics::update(tx, id, &change, if_match.or(version)).await?,
        "help topic",
    )
}

/// Deletes a topic; refused (409) while tickets or sub-topics use it.
#[utoipa::path(delete, path = "/api/v1/help-topics/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The topic")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such topic in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still used", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let status = deleted(store::help_topics::delete(&mut tx, id).await?)?;
    tx.commit().await?;
    Ok(status)
}

/// The one grantee a grants body names.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"organization_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d40"}))]
pub struct GrantInput {
    /// An end user of this workspace.
    end_user_id: Option<Uuid>,
    /// An organization of this workspace (every member may use the topic).
    organization_id: Option<Uuid>,
    /// A customer group of this workspace (everyone holding at least `ro` on it).
    customer_group_id: Option<Uuid>,
}

fn parse_grantee(object: &Map<String, Value>) -> Result<(&'static str, Grantee), ApiError> {
    let mut fields = FieldParser::new(
        object,
        &["end_user_id", "organization_id", "customer_group_id"],
    );
    let user = fields.string("end_user_id", parse_id);
    let organization = fields.string("organization_id", parse_id);
    let group = fields.string("customer_group_id", parse_id);
    let named = [
        user.map(|id| ("end_user_id", Grantee::EndUser(id))),
        organization.map(|id| ("organization_id", Grantee::Organization(id))),
        group.map(|id| ("customer_group_id", Grantee::CustomerGroup(id))),
    ];
    let mut named = named.into_iter().flatten();
    let first = named.next();
    if fields.errors.is_empty() && (first.is_none() || named.next().is_some()) {
        fields.errors.push(field_error(
            "end_user_id",
            "name exactly one of end_user_id, organization_id or customer_group_id",
        ));
    }
    let first = fields.finish(first)?;
    first.ok_or_else(|| ApiError::Validation(vec![field_error("end_user_id", "is required")]))
}

async fn grant_target(tx: &mut TenantTx, id: Uuid, body: Value) -> Result<Grantee, ApiError> {
    let object = object_of(body)?;
    let (field, grantee) = parse_grantee(&object)?;
    if store::help_topics::by_id(tx, id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let kind = match grantee {
        Grantee::EndUser(_) => Kind::EndUser,
        Grantee::Organization(_) => Kind::Organization,
        Grantee::CustomerGroup(_) => Kind::CustomerGroup,
    };
    check_references(tx, &[(field, kind, Some(grantee.id()))]).await?;
    Ok(grantee)
}

/// Grants the topic to one end user, organization or customer group (201; 200 when they
/// already had it). Grants matter when the topic is not `for_everyone`.
#[utoipa::path(put, path = "/api/v1/help-topics/{id}/grants", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The topic")),
    request_body = GrantInput,
    responses((status = 201, description = "Granted; the topic", body = HelpTopicBody),
        (status = 200, description = "Already granted; the topic", body = HelpTopicBody),
        (status = 404, description = "No such topic in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not exactly one grantee, or one unknown here", body = Problem, content_type = "application/problem+json")))]
pub async fn grant(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let grantee = grant_target(&mut tx, id, body).await?;
    let added = store::help_topics::grant(&mut tx, id, grantee).await?;
    let topic = store::help_topics::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(respond(
        if added {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        topic,
    ))
}

/// Takes a grant back.
#[utoipa::path(delete, path = "/api/v1/help-topics/{id}/grants", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The topic")),
    request_body = GrantInput,
    responses((status = 204, description = "No longer granted"),
        (status = 404, description = "No such topic or grant in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not exactly one grantee", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<Value>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let object = object_of(body)?;
    let (_, grantee) = parse_grantee(&object)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    if !store::help_topics::revoke(&mut tx, id, grantee).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
