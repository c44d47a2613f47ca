//! The end user's tickets on the portal: "my requests" (filtered by state), the
//! organization's requests when its sharing allows, and the ticket page (public thread,
//! reply with files, close, reopen, attachment downloads), reached either signed in
//! (`/tickets/{number}`) or by guest link (`/tickets/{number}/guest/{secret}`), which opens
//! that one ticket and no other number.

use askama::Template;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::http::header::REFERRER_POLICY;
use axum::response::{IntoResponse, Redirect, Response};
use domain::ticket::TicketState;
use serde::Deserialize;
use store::TenantTx;
use store::portal_tickets::{PortalTicket, Reach};
use store::tenancy::Tenant;
use store::tickets::Ticket;
use uuid::Uuid;

use crate::AppState;
use crate::attachments::{AttachError, download_response};
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::error::PageError;
use crate::pages::account::{EmptyForm, RegistrationMode, SignedInUser, brand, internal};
use crate::pages::portal::{error_lines, read_files_form, refusal};
use crate::pages::{Brand, render};
use crate::portal::{self, Access, Allowed};
use crate::tenancy::CurrentTenant;
use crate::tickets::TicketError;

const LIST_LIMIT: i64 = 100;

#[derive(Template)]
#[template(path = "portal_tickets.html")]
struct ListPage {
    brand: Brand,
    /// The registration mode takes new tickets through the portal.
    may_open: bool,
    organization: bool,
    shares_organization: bool,
    state: String,
    tickets: Vec<PortalTicket>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    reach: String,
}

/// The signed-in end user's requests (`?reach=organization`: their organizations' shared
/// ones), filtered by `?state=` (open, pending, resolved, closed; empty: all).
pub async fn list(
    State(state): State<AppState>,
    user: SignedInUser,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let settings = state.settings.get(&state.store, user.tenant.id).await?;
    let brand = Brand::from(settings.as_ref());
    let may_open = portal::accepts_tickets(RegistrationMode::of(&settings));
    let states: Vec<TicketState> = match query.state.trim() {
        "" => Vec::new(),
        raw => match TicketState::parse(raw) {
            Some(s) => vec![s],
            None => {
                return Err(PageError::BadRequest(
                    "state must be open, pending, resolved or closed".into(),
                ));
            }
        },
    };
    let organization = query.reach == "organization";
    let reach = if organization {
        Reach::Organization
    } else {
        Reach::Mine
    };
    let mut tx = state.store.begin_tenant(user.tenant.id).await?;
    let tickets =
        store::portal_tickets::list(&mut tx, user.user.id, reach, &states, LIST_LIMIT).await?;
    let shares_organization =
        store::portal_tickets::shares_organization_tickets(&mut tx, user.user.id).await?;
    tx.commit().await?;
    if organization && !shares_organization {
        return Err(PageError::NotFound);
    }
    Ok(render(&ListPage {
        brand,
        may_open,
        organization,
        shares_organization,
        state: query.state.trim().to_owned(),
        tickets,
    })?
    .into_response())
}

/// One message of the public thread.
struct ThreadItem {
    author: String,
    from_help_desk: bool,
    at: String,
    body_html: String,
    files: Vec<(Uuid, String, i64)>,
}

#[derive(Template)]
#[template(path = "portal_ticket.html")]
struct TicketPage<'a> {
    brand: Brand,
    csrf: &'a str,
    /// Where this page's forms and downloads go: `/tickets/{number}` or
    /// `/tickets/{number}/guest/{secret}`.
    base: String,
    guest: bool,
    t: Ticket,
    status: String,
    thread: Vec<ThreadItem>,
    allowed: Allowed,
    notice: Option<&'static str>,
    errors: Vec<String>,
}

#[derive(Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    done: Option<String>,
}

fn notice_of(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "replied" => Some("Your message was added."),
        "closed" => Some("The request is closed."),
        "reopened" => Some("The request is open again."),
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
async fn ticket_page(
    state: &AppState,
    tenant: &Tenant,
    csrf: &str,
    access: Access,
    base: String,
    ticket: Ticket,
    notice: Option<&'static str>,
    errors: Vec<String>,
) -> Result<Response, PageError> {
    let brand = brand(state, tenant).await?;
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let settings = store::portal_settings::load(&mut tx).await?;
    let allowed = portal::allowed(&mut tx, access, &ticket, &settings).await?;
    let entries = portal::public_thread(&mut tx, ticket.id).await?;
    let files = portal::public_attachments(&mut tx, ticket.id).await?;
    tx.commit().await?;
    let thread = entries
        .into_iter()
        .map(|e| ThreadItem {
            author: e
                .author_agent
                .as_ref()
                .or(e.author_end_user.as_ref())
                .map_or_else(|| "Help desk".to_owned(), |n| n.name.clone()),
            from_help_desk: e.author_end_user.is_none(),
            at: e.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            body_html: e.body_html.unwrap_or_default(),
            files: files
                .iter()
                .filter(|a| a.entry_id == e.id)
                .map(|a| (a.id, a.name.clone(), a.size_bytes))
                .collect(),
        })
        .collect();
    let status = ticket
        .status
        .as_ref()
        .map_or_else(|| ticket.state.as_str().to_owned(), |s| s.name.clone());
    let status_code = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let guest = matches!(access, Access::Guest { .. });
    let page = TicketPage {
        brand,
        csrf,
        base,
        guest,
        t: ticket,
        status,
        thread,
        allowed,
        notice,
        errors,
    };
    let mut response = (status_code, render(&page)?).into_response();
    if guest {
        // The secret is in the address: never hand it to another site (same-origin, not
        // no-referrer, which would make browsers send `Origin: null` with the forms).
        response.headers_mut().insert(
            REFERRER_POLICY,
            axum::http::HeaderValue::from_static("same-origin"),
        );
    }
    Ok(response)
}

fn parse_number(raw: &str) -> Result<i64, PageError> {
    raw.trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(PageError::NotFound)
}

/// The signed-in user's ticket by number (404 for one they may not see).
async fn user_ticket(
    state: &AppState,
    user: &SignedInUser,
    number: &str,
) -> Result<(Access, Ticket), PageError> {
    let number = parse_number(number)?;
    let access = Access::User(user.user.id);
    let mut tx = state.store.begin_tenant(user.tenant.id).await?;
    let ticket = portal::ticket(&mut tx, access, number).await?;
    tx.commit().await?;
    Ok((access, ticket.ok_or(PageError::NotFound)?))
}

/// The guest link's ticket and the page's base address (404 for an unknown, revoked or
/// expired secret, and for a number that is not the link's ticket).
async fn guest_ticket(
    state: &AppState,
    tenant: &Tenant,
    number: &str,
    secret: &str,
) -> Result<(Access, Ticket, String), PageError> {
    let number = parse_number(number)?;
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let found = guest_in(&mut tx, secret).await?;
    tx.commit().await?;
    let (access, ticket) = found
        .filter(|(_, t)| t.number == number)
        .ok_or(PageError::NotFound)?;
    let base = format!("/tickets/{number}/guest/{secret}");
    Ok((access, ticket, base))
}

async fn guest_in(tx: &mut TenantTx, secret: &str) -> Result<Option<(Access, Ticket)>, PageError> {
    let Some(grant) = store::guest_links::by_secret(tx, secret).await? else {
        return Ok(None);
    };
    let ticket =
        store::tickets::by_id(tx, store::tickets::TicketScope::All, grant.ticket_id).await?;
    Ok(ticket.map(|t| {
        (
            Access::Guest {
                end_user_id: grant.end_user_id,
                ticket_id: grant.ticket_id,
            },
            t,
        )
    }))
}

pub async fn show(
    State(state): State<AppState>,
    user: SignedInUser,
    CsrfToken(csrf): CsrfToken,
    Path(number): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, PageError> {
    let (access, ticket) = user_ticket(&state, &user, &number).await?;
    let base = format!("/tickets/{}", ticket.number);
    let notice = notice_of(query.done.as_deref());
    ticket_page(
        &state,
        &user.tenant,
        &csrf,
        access,
        base,
        ticket,
        notice,
        Vec::new(),
    )
    .await
}

pub async fn guest_show(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Path((number, secret)): Path<(String, String)>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, PageError> {
    let (access, ticket, base) = guest_ticket(&state, &tenant, &number, &secret).await?;
    let notice = notice_of(query.done.as_deref());
    ticket_page(
        &state,
        &tenant,
        &csrf,
        access,
        base,
        ticket,
        notice,
        Vec::new(),
    )
    .await
}

/// A reply from the ticket page, with files.
async fn reply_with(
    state: AppState,
    tenant: Tenant,
    csrf: String,
    access: Access,
    base: String,
    ticket: Ticket,
    request: Request,
) -> Result<Response, PageError> {
    let form = read_files_form(&state, &tenant, &csrf, request).await?;
    if !form.errors.is_empty() {
        let errors = error_lines(&form.errors);
        return ticket_page(&state, &tenant, &csrf, access, base, ticket, None, errors).await;
    }
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let mut staged = state.attachments.stage();
    let outcome = portal::reply(
        &mut tx,
        &mut staged,
        access,
        &ticket,
        &form.get("message"),
        &form.files,
    )
    .await;
    match outcome {
        Ok(()) => {
            tx.commit().await?;
            staged.keep();
            Ok(Redirect::to(&format!("{base}?done=replied")).into_response())
        }
        Err(error) => {
            drop(tx);
            staged.discard().await;
            let errors = match error {
                AttachError::Ticket(TicketError::Invalid(errors)) => error_lines(&errors),
                AttachError::Ticket(TicketError::Refused(why) | TicketError::Rejected(why)) => {
                    let brand = brand(&state, &tenant).await?;
                    return Ok(refusal(brand, StatusCode::FORBIDDEN, "Not allowed", &why));
                }
                AttachError::Ticket(TicketError::NotFound) => return Err(PageError::NotFound),
                AttachError::Ticket(TicketError::Stale) => {
                    vec!["The request changed meanwhile; please try again.".into()]
                }
                AttachError::Ticket(TicketError::Store(error)) => return Err(error.into()),
                AttachError::Storage(error) => return Err(internal(error)),
            };
            ticket_page(&state, &tenant, &csrf, access, base, ticket, None, errors).await
        }
    }
}

pub async fn reply(
    State(state): State<AppState>,
    user: SignedInUser,
    CsrfToken(csrf): CsrfToken,
    Path(number): Path<String>,
    request: Request,
) -> Result<Response, PageError> {
    let (access, ticket) = user_ticket(&state, &user, &number).await?;
    let base = format!("/tickets/{}", ticket.number);
    reply_with(state, user.tenant, csrf, access, base, ticket, request).await
}

pub async fn guest_reply(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Path((number, secret)): Path<(String, String)>,
    request: Request,
) -> Result<Response, PageError> {
    let (access, ticket, base) = guest_ticket(&state, &tenant, &number, &secret).await?;
    reply_with(state, tenant, csrf, access, base, ticket, request).await
}

/// Closes or reopens from the ticket page.
async fn set_state_with(
    state: AppState,
    tenant: Tenant,
    access: Access,
    base: String,
    ticket: Ticket,
    to: TicketState,
) -> Result<Response, PageError> {
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    match portal::set_state(&mut tx, access, &ticket, to).await {
        Ok(_) => {
            tx.commit().await?;
            let done = if to == TicketState::Closed {
                "closed"
            } else {
                "reopened"
            };
            Ok(Redirect::to(&format!("{base}?done={done}")).into_response())
        }
        Err(TicketError::Refused(why) | TicketError::Rejected(why)) => {
            drop(tx);
            let brand = brand(&state, &tenant).await?;
            Ok(refusal(brand, StatusCode::FORBIDDEN, "Not allowed", &why))
        }
        Err(TicketError::Invalid(errors)) => {
            drop(tx);
            let brand = brand(&state, &tenant).await?;
            let why = error_lines(&errors).join(" ");
            Ok(refusal(brand, StatusCode::CONFLICT, "Not possible", &why))
        }
        Err(TicketError::NotFound) => Err(PageError::NotFound),
        Err(TicketError::Stale) => Err(PageError::BadRequest(
            "The request changed meanwhile; please try again.".into(),
        )),
        Err(TicketError::Store(error)) => Err(error.into()),
    }
}

pub async fn close(
    State(state): State<AppState>,
    user: SignedInUser,
    Path(number): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let (access, ticket) = user_ticket(&state, &user, &number).await?;
    let base = format!("/tickets/{}", ticket.number);
    set_state_with(
        state,
        user.tenant,
        access,
        base,
        ticket,
        TicketState::Closed,
    )
    .await
}

pub async fn reopen(
    State(state): State<AppState>,
    user: SignedInUser,
    Path(number): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let (access, ticket) = user_ticket(&state, &user, &number).await?;
    let base = format!("/tickets/{}", ticket.number);
    set_state_with(state, user.tenant, access, base, ticket, TicketState::Open).await
}

pub async fn guest_close(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    Path((number, secret)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let (access, ticket, base) = guest_ticket(&state, &tenant, &number, &secret).await?;
    set_state_with(state, tenant, access, base, ticket, TicketState::Closed).await
}

pub async fn guest_reopen(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    Path((number, secret)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let (access, ticket, base) = guest_ticket(&state, &tenant, &number, &secret).await?;
    set_state_with(state, tenant, access, base, ticket, TicketState::Open).await
}

/// An attachment of the ticket's public thread (never one of an internal note).
async fn download_in(
    state: &AppState,
    tenant: &Tenant,
    ticket: &Ticket,
    attachment_id: &str,
) -> Result<Response, PageError> {
    let id = Uuid::parse_str(attachment_id).map_err(|_| PageError::NotFound)?;
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let attachment = portal::public_attachments(&mut tx, ticket.id)
        .await?
        .into_iter()
        .find(|a| a.id == id);
    tx.commit().await?;
    let attachment = attachment.ok_or(PageError::NotFound)?;
    let mut response = download_response(&state.attachments, &attachment)
        .await
        .map_err(internal)?;
    response.headers_mut().insert(
        REFERRER_POLICY,
        axum::http::HeaderValue::from_static("same-origin"),
    );
    Ok(response)
}

pub async fn download(
    State(state): State<AppState>,
    user: SignedInUser,
    Path((number, attachment_id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let (_, ticket) = user_ticket(&state, &user, &number).await?;
    download_in(&state, &user.tenant, &ticket, &attachment_id).await
}

pub async fn guest_download(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    Path((number, secret, attachment_id)): Path<(String, String, String)>,
) -> Result<Response, PageError> {
    let (_, ticket, _) = guest_ticket(&state, &tenant, &number, &secret).await?;
    download_in(&state, &tenant, &ticket, &attachment_id).await
}
