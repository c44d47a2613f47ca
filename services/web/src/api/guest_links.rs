//! `/api/v1/tickets/{id}/guest-links`: the guest links of a ticket (one per recipient, each
//! opening that ticket on the portal without signing in). List, mint for the requester or one
//! in copy (the URL is answered once and never again), revoke. Every call needs
//! `tickets.all`; another tenant's ticket or link is a 404.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::Permission;
use serde::Serialize;
use serde_json::Value;
use store::guest_links::GuestLink;
use store::tickets::TicketScope;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::departments::{field_error, object_of, parse_id};
use crate::api::json::{ApiJson, FieldParser};
use crate::error::{ApiError, Problem};
use crate::mailer;
use crate::ticket_notifications::guest_url;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d90", "ticket_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d80",
    "end_user_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d10", "end_user_name": "Dana Whitfield",
    "end_user_email": "dana@customer.example", "revoked_at": null, "last_used_at": "2026-11-22T10:15:00Z",
    "created_at": "2026-11-22T09:00:00Z"}))]
pub struct GuestLinkBody {
    pub id: Uuid,
    pub ticket_id: Uuid,
    /// The recipient the link acts for: the requester or one in copy.
    pub end_user_id: Uuid,
    pub end_user_name: String,
    pub end_user_email: String,
    pub created_by_agent_id: Option<Uuid>,
    /// Set once revoked: the link and every URL of it stop working.
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<GuestLink> for GuestLinkBody {
    fn from(l: GuestLink) -> Self {
        Self {
            id: l.id,
            ticket_id: l.ticket_id,
            end_user_id: l.end_user_id,
            end_user_name: l.end_user_name,
            end_user_email: l.end_user_email,
            created_by_agent_id: l.created_by_agent_id,
            revoked_at: l.revoked_at,
            last_used_at: l.last_used_at,
            created_at: l.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"link": {"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d90", "ticket_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d80",
    "end_user_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d10", "end_user_name": "Dana Whitfield",
    "end_user_email": "dana@customer.example", "revoked_at": null, "last_used_at": null,
    "created_at": "2026-11-22T09:00:00Z"},
    "url": "https://acme.tenantdesk.example/tickets/1042/guest/tdg_3q2-7wEvBf1uX0dZ8m5nYlKp4sR6tH9aJcQeVgLoN2i"}))]
pub struct MintedBody {
    pub link: GuestLinkBody,
    /// Opens the ticket on the portal. Shown only in this answer; only its hash is kept.
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct GuestLinkList {
    pub data: Vec<GuestLinkBody>,
}

async fn ticket_exists(tx: &mut store::TenantTx, id: Uuid) -> Result<(), ApiError> {
    store::tickets::by_id(tx, TicketScope::All, id)
        .await?
        .map(|_| ())
        .ok_or(ApiError::NotFound)
}

/// The ticket's guest links, newest first, revoked ones included.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/guest-links", tag = "portal", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The ticket")),
    responses((status = 200, description = "The links", body = GuestLinkList),
        (status = 403, description = "The token lacks tickets.all", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<GuestLinkList>, ApiError> {
    caller.require(Permission::TicketsAll)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    ticket_exists(&mut tx, id).await?;
    let links = store::guest_links::for_ticket(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(GuestLinkList {
        data: links.into_iter().map(GuestLinkBody::from).collect(),
    }))
}

/// A guest link URL for the requester or one in copy (their live link, made if needed).
/// The URL is in this answer only.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/guest-links", tag = "portal", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The ticket")),
    request_body(content = inline(serde_json::Value), example = json!({"end_user_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d10"})),
    responses((status = 201, description = "The link and its URL", body = MintedBody),
        (status = 403, description = "The token lacks tickets.all", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "end_user_id is missing, or not the requester nor in copy", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::TicketsAll)?;
    let object = object_of(body)?;
    let mut fields = FieldParser::new(&object, &["end_user_id"]);
    let user = fields.string("end_user_id", parse_id);
    if user.is_none() && fields.errors.is_empty() {
        fields
            .errors
            .push(field_error("end_user_id", "is required"));
    }
    let user = fields.finish(user)?.ok_or(ApiError::NotFound)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let ticket = store::tickets::by_id(&mut tx, TicketScope::All, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    // The requester and those in copy who may get mail (valid, not erased): a link for
    // anyone else would not open.
    let people = store::notification_mutes::ticket_people(&mut tx, id).await?;
    if !people.iter().any(|p| p.id == user) {
        return Err(ApiError::Validation(vec![field_error(
            "end_user_id",
            "must be the ticket's requester or someone in copy who may get mail",
        )]));
    }
    let minted = store::guest_links::mint(&mut tx, id, user, None).await?;
    tx.commit().await?;
    let url = guest_url(
        &mailer::portal_url(&state.config, &caller.tenant),
        ticket.number,
        &minted.secret,
    );
    let location = format!("/api/v1/tickets/{id}/guest-links");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(MintedBody {
            link: minted.link.into(),
            url,
        }),
    )
        .into_response())
}

/// Revokes a live guest link: every URL of it stops working at once.
#[utoipa::path(delete, path = "/api/v1/tickets/{id}/guest-links/{link_id}", tag = "portal", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The ticket"), ("link_id" = Uuid, Path, description = "The link")),
    responses((status = 204, description = "Revoked"),
        (status = 403, description = "The token lacks tickets.all", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ticket or live link in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, link_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::TicketsAll)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let revoked = store::guest_links::revoke(&mut tx, id, link_id, None).await?;
    tx.commit().await?;
    revoked
        .map(|_| StatusCode::NO_CONTENT)
        .ok_or(ApiError::NotFound)
}
