//! The admin page of the portal options (`/admin/portal`: autoresponse, closing by end users,
//! the reopen window, guest link lifetime), saved through the API's parser, and the agent's
//! page of a ticket's guest links with a revoke button per live link
//! (`/agent/tickets/{number}/guest-links`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::Permission;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use store::guest_links::GuestLink;
use store::portal_settings::PortalSettings;
use store::tickets::{TicketQuery, TicketScope};
use uuid::Uuid;

use crate::AppState;
use crate::auth::SignedInAgent;
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::error::{ApiError, PageError};
use crate::pages::account::brand;
use crate::pages::{Brand, render};

#[derive(Template)]
#[template(path = "admin_portal.html")]
struct PortalOptionsPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    settings: PortalSettings,
    reopen_days: String,
    guest_link_days: String,
    notice: Option<&'static str>,
    errors: Vec<String>,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    #[serde(default)]
    done: Option<String>,
}

pub async fn form(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    agent.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let settings = store::portal_settings::load(&mut tx).await?;
    tx.commit().await?;
    let page = PortalOptionsPage {
        brand: brand(&state, &agent.tenant).await?,
        section: "portal",
        csrf: &csrf,
        reopen_days: settings.reopen_days.to_string(),
        guest_link_days: settings.guest_link_days_after_close.to_string(),
        settings,
        notice: query
            .done
            .is_some()
            .then_some("The portal options are saved."),
        errors: Vec::new(),
    };
    Ok(render(&page)?.into_response())
}

#[derive(Deserialize)]
pub struct OptionsForm {
    #[serde(default)]
    autoresponse: Option<String>,
    #[serde(default)]
    users_may_close: Option<String>,
    #[serde(default)]
    reopen_days: String,
    #[serde(default)]
    guest_link_days_after_close: String,
}

/// A day count as typed, for the API's parser (non-numbers stay text and are refused there).
fn days_value(raw: &str) -> Value {
    raw.trim()
        .parse::<i64>()
        .map_or_else(|_| json!(raw.trim()), |n| json!(n))
}

pub async fn save(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    CsrfForm(form): CsrfForm<OptionsForm>,
) -> Result<Response, PageError> {
    agent.require(Permission::HelpdeskConfigure)?;
    let mut body = Map::new();
    body.insert("autoresponse".into(), json!(form.autoresponse.is_some()));
    body.insert(
        "users_may_close".into(),
        json!(form.users_may_close.is_some()),
    );
    body.insert("reopen_days".into(), days_value(&form.reopen_days));
    body.insert(
        "guest_link_days_after_close".into(),
        days_value(&form.guest_link_days_after_close),
    );
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    match crate::api::portal_settings::save_in(&mut tx, Value::Object(body)).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/admin/portal?done=saved").into_response())
        }
        Err(ApiError::Validation(errors)) => {
            let settings = store::portal_settings::load(&mut tx).await?;
            drop(tx);
            let page = PortalOptionsPage {
                brand: brand(&state, &agent.tenant).await?,
                section: "portal",
                csrf: &csrf,
                settings,
                reopen_days: form.reopen_days.clone(),
                guest_link_days: form.guest_link_days_after_close.clone(),
                notice: None,
                errors: errors
                    .into_iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect(),
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response())
        }
        Err(error) => Err(PageError::Internal(Box::new(error))),
    }
}

#[derive(Template)]
#[template(path = "admin_portal_guest_links.html")]
struct GuestLinksPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    number: i64,
    subject: String,
    links: Vec<GuestLink>,
    notice: Option<&'static str>,
}

/// The ticket the agent may work, by number (404 otherwise).
async fn agent_ticket(
    state: &AppState,
    agent: &SignedInAgent,
    number: &str,
) -> Result<(TicketScope, store::tickets::Ticket), PageError> {
    let scope = crate::tickets::scope_for_agent(&agent.agent)
        .ok_or_else(|| PageError::Forbidden("Your role does not allow working tickets.".into()))?;
    let number: i64 = number.parse().map_err(|_| PageError::NotFound)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let query = TicketQuery {
        number: Some(number),
        limit: 1,
        ..TicketQuery::default()
    };
    let ticket = store::tickets::list(&mut tx, scope, &query)
        .await?
        .items
        .into_iter()
        .next();
    tx.commit().await?;
    Ok((scope, ticket.ok_or(PageError::NotFound)?))
}

/// The ticket's guest links with who they are for, when they were last used, and a revoke
/// button per live link.
pub async fn guest_links(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(number): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let (_, ticket) = agent_ticket(&state, &agent, &number).await?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let links = store::guest_links::for_ticket(&mut tx, ticket.id).await?;
    tx.commit().await?;
    let page = GuestLinksPage {
        brand: brand(&state, &agent.tenant).await?,
        section: "",
        csrf: &csrf,
        number: ticket.number,
        subject: ticket.subject,
        links,
        notice: query.done.is_some().then_some("The link is revoked."),
    };
    Ok(render(&page)?.into_response())
}

#[derive(Deserialize)]
pub struct EmptyForm {}

/// Revokes a guest link of a ticket the agent may work.
pub async fn revoke_guest_link(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path((number, link_id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let (_, ticket) = agent_ticket(&state, &agent, &number).await?;
    let link_id = Uuid::parse_str(&link_id).map_err(|_| PageError::NotFound)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let revoked =
        store::guest_links::revoke(&mut tx, ticket.id, link_id, Some(agent.agent.id)).await?;
    tx.commit().await?;
    if revoked.is_none() {
        return Err(PageError::NotFound);
    }
    Ok(Redirect::to(&format!(
        "/agent/tickets/{}/guest-links?done=revoked",
        ticket.number
    ))
    .into_response())
}
