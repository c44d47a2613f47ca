//! The platform's own site on the base domain: the landing page, the operators' sign-in, and
//! the local mailbox (where mail goes when no SMTP server is configured).

use std::net::SocketAddr;

use askama::Template;
use axum::Extension;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use crate::AppState;
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::auth::passwords::Verified;
use crate::auth::sessions::{PrincipalKind, session_of_jar};
use crate::auth::{SignInAttempt, SignedInOperator, removal_cookie, session_cookie, start_session};
use crate::error::PageError;
use crate::mailbox;
use crate::pages::{Brand, render};
use crate::telemetry::{SignInKind, SignInResult, sign_in};

#[derive(Template)]
#[template(path = "platform_home.html")]
struct PlatformHome<'a> {
    brand: Brand,
    csrf: &'a str,
    operator: Option<String>,
    has_mailbox: bool,
}

pub async fn home(
    State(state): State<AppState>,
    CsrfToken(csrf): CsrfToken,
    jar: CookieJar,
) -> Result<Html<String>, PageError> {
    let operator = match session_of_jar(&jar, &state, PrincipalKind::Operator).await? {
        Some((_, session)) => state
            .store
            .operator_by_id(session.principal_id)
            .await?
            .map(|o| o.name),
        None => None,
    };
    render(&PlatformHome {
        brand: Brand::platform(),
        csrf: &csrf,
        operator,
        has_mailbox: state.config.mailbox_dir.is_some(),
    })
}

#[derive(Template)]
#[template(path = "platform_login.html")]
struct LoginPage<'a> {
    brand: Brand,
    csrf: &'a str,
    email: &'a str,
    next: &'a str,
    error: Option<&'a str>,
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn login_form(
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<NextQuery>,
) -> Result<Html<String>, PageError> {
    render(&LoginPage {
        brand: Brand::platform(),
        csrf: &csrf,
        email: "",
        next: &query.next,
        error: None,
    })
}

pub async fn login(
    State(state): State<AppState>,
    CsrfToken(csrf): CsrfToken,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<Response, PageError> {
    let email = form.email.trim().to_lowercase();
    let attempt = SignInAttempt::new(format!("operator:{email}"), client.map(|c| c.0.0));
    if let Err(refused) = attempt.check(&state).await {
        sign_in(SignInKind::Operator, SignInResult::RateLimited);
        return Err(refused);
    }
    let operator = state.store.operator_by_email(&email).await?;
    let verified = state
        .passwords
        .verify(
            &form.password,
            operator.as_ref().map(|o| o.password_hash.as_str()),
        )
        .await
        .map_err(|e| PageError::Internal(Box::new(e)))?;
    let (operator, rehashed) = match (operator, verified) {
        (Some(operator), Verified::Yes { rehashed }) => (operator, rehashed),
        _ => {
            attempt.failed(&state).await;
            sign_in(SignInKind::Operator, SignInResult::Failure);
            let page = LoginPage {
                brand: Brand::platform(),
                csrf: &csrf,
                email: form.email.trim(),
                next: &form.next,
                error: Some("The email address or password is incorrect."),
            };
            return Ok(render(&page)?.into_response());
        }
    };
    let signed_in_at = state
        .store
        .record_operator_sign_in(operator.id, rehashed.as_deref())
        .await?;
    attempt.succeeded(&state).await;
    sign_in(SignInKind::Operator, SignInResult::Success);
    let token = start_session(
        &state,
        PrincipalKind::Operator,
        None,
        operator.id,
        signed_in_at,
    )
    .await?;
    let jar = jar.add(session_cookie(&state, PrincipalKind::Operator, token));
    let next = if form.next.starts_with('/') && !form.next.starts_with("//") {
        form.next.as_str()
    } else {
        "/"
    };
    Ok((jar, Redirect::to(next)).into_response())
}

#[derive(Deserialize)]
pub struct EmptyForm {}

pub async fn logout(
    State(state): State<AppState>,
    operator: SignedInOperator,
    jar: CookieJar,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let _ = state.sessions.end(&operator.session_token).await;
    Ok((
        jar.add(removal_cookie(&state, PrincipalKind::Operator)),
        Redirect::to("/"),
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "platform_mailbox.html")]
struct MailboxPage {
    brand: Brand,
    messages: Vec<mailbox::Summary>,
}

fn mailbox_dir(state: &AppState) -> Result<&std::path::Path, PageError> {
    state.config.mailbox_dir.as_deref().ok_or_else(|| {
        PageError::Forbidden(
            "Mail is delivered over SMTP here; there is no local mailbox to read.".into(),
        )
    })
}

pub async fn mailbox_list(
    State(state): State<AppState>,
    _operator: SignedInOperator,
) -> Result<Html<String>, PageError> {
    let messages =
        mailbox::list(mailbox_dir(&state)?, 200).map_err(|e| PageError::Internal(Box::new(e)))?;
    render(&MailboxPage {
        brand: Brand::platform(),
        messages,
    })
}

#[derive(Template)]
#[template(path = "platform_mail.html")]
struct MessagePage {
    brand: Brand,
    headers: Vec<(String, String)>,
    text: String,
    html: Option<String>,
}

pub async fn mailbox_message(
    State(state): State<AppState>,
    _operator: SignedInOperator,
    Path(id): Path<String>,
) -> Result<Html<String>, PageError> {
    let message = match mailbox::read(mailbox_dir(&state)?, &id) {
        Ok(message) => message,
        Err(mailbox::MailboxError::NotFound(_) | mailbox::MailboxError::Ambiguous(..)) => {
            return Err(PageError::NotFound);
        }
        Err(error) => return Err(PageError::Internal(Box::new(error))),
    };
    let shown = [
        "Date",
        "From",
        "Reply-To",
        "To",
        "Subject",
        "Message-ID",
        "X-Tenantdesk-Tenant",
    ];
    let headers = message
        .headers
        .into_iter()
        .filter(|(name, _)| shown.iter().any(|s| s.eq_ignore_ascii_case(name)))
        .collect();
    render(&MessagePage {
        brand: Brand::platform(),
        headers,
        text: message
            .text
            .unwrap_or_else(|| "(no plain-text part)".to_owned()),
        html: message.html,
    })
}
