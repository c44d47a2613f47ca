//! "Forgot your password?" for end users (`/password/...`) and agents (`/agent/password/...`):
//! the same answer whether or not an account exists, a single-use link valid for an hour
//! (stored hashed), and using it sets the new password and ends every session.
//!
//! Who gets a link: an end user who has a password (pending or active; a reset proves the
//! address, so it also confirms a pending registration), or a guest without a password while
//! the tenant's registration method is public (they could register anyway); never a locked
//! account. An agent who is active. Everyone else gets the same answer and no mail.

use std::net::SocketAddr;
use std::time::Duration;

use askama::Template;
use axum::Extension;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use domain::{EmailAddress, RegistrationMethod};
use serde::Deserialize;
use serde_json::json;
use store::TenantTx;
use store::agents::AgentStatus;
use store::auth_tokens::{Holder, Purpose};
use store::end_users::EndUserStatus;
use store::tenancy::Tenant;

use crate::AppState;
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::auth::passwords::check_new_password;
use crate::auth::rate_limit::Limit;
use crate::error::PageError;
use crate::mailer::{self, Event, Mail, Sender};
use crate::pages::account::{brand, client_ip, internal, queue_password_changed};
use crate::pages::min_password_length;
use crate::pages::render;
use crate::tenancy::CurrentTenant;

/// How long a reset link stays valid.
pub const RESET_VALID_FOR: Duration = Duration::from_secs(3600);

/// Reset requests per client address in the window, whatever address they name.
pub const ADDRESS_LIMIT: Limit = Limit {
    max: 10,
    window: Duration::from_secs(3600),
};

/// Reset requests per account (the address typed, whether or not it has an account).
pub const ACCOUNT_LIMIT: Limit = Limit {
    max: 5,
    window: Duration::from_secs(3600),
};

/// Whose password: the two kinds differ only in paths, tables and mail.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    EndUser,
    Agent,
}

impl Kind {
    fn forgot_path(self) -> &'static str {
        match self {
            Self::EndUser => "/password/forgot",
            Self::Agent => "/agent/password/forgot",
        }
    }

    fn reset_prefix(self) -> &'static str {
        match self {
            Self::EndUser => "/password/reset/",
            Self::Agent => "/agent/password/reset/",
        }
    }

    /// Where a successful reset leads, with its notice.
    fn done_path(self) -> &'static str {
        match self {
            Self::EndUser => "/login?reset=1",
            Self::Agent => "/agent/login?welcome=1",
        }
    }

    fn purpose(self) -> Purpose {
        match self {
            Self::EndUser => Purpose::UserPasswordReset,
            Self::Agent => Purpose::AgentPasswordReset,
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::EndUser => "user",
            Self::Agent => "agent",
        }
    }
}

fn link_expired(kind: Kind) -> PageError {
    PageError::Forbidden(format!(
        "This password reset link has expired or was already used. Ask for a new one at {}.",
        kind.forgot_path()
    ))
}

// ---------------------------------------------------------------------------------------
// Asking for a link

#[derive(Template)]
#[template(path = "account_forgot_password.html")]
struct UserForgotPage<'a> {
    brand: crate::pages::Brand,
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
    sent: bool,
}

#[derive(Template)]
#[template(path = "agent_forgot_password.html")]
struct AgentForgotPage<'a> {
    brand: crate::pages::Brand,
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
    sent: bool,
}

#[derive(Deserialize, Default)]
pub struct ForgotQuery {
    #[serde(default)]
    sent: Option<String>,
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

async fn forgot_page(
    state: &AppState,
    tenant: &Tenant,
    kind: Kind,
    csrf: &str,
    email: &str,
    error: Option<&str>,
    sent: bool,
) -> Result<Html<String>, PageError> {
    let brand = brand(state, tenant).await?;
    match kind {
        Kind::EndUser => render(&UserForgotPage {
            brand,
            csrf,
            email,
            error,
            sent,
        }),
        Kind::Agent => render(&AgentForgotPage {
            brand,
            csrf,
            email,
            error,
            sent,
        }),
    }
}

pub async fn user_forgot_form(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<ForgotQuery>,
) -> Result<Html<String>, PageError> {
    forgot_page(
        &state,
        &tenant,
        Kind::EndUser,
        &csrf,
        "",
        None,
        query.sent.is_some(),
    )
    .await
}

pub async fn agent_forgot_form(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<ForgotQuery>,
) -> Result<Html<String>, PageError> {
    forgot_page(
        &state,
        &tenant,
        Kind::Agent,
        &csrf,
        "",
        None,
        query.sent.is_some(),
    )
    .await
}

pub async fn user_forgot(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    CsrfForm(form): CsrfForm<ForgotForm>,
) -> Result<Response, PageError> {
    forgot(
        &state,
        &tenant,
        Kind::EndUser,
        &csrf,
        client.as_ref(),
        &form,
    )
    .await
}

pub async fn agent_forgot(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    CsrfForm(form): CsrfForm<ForgotForm>,
) -> Result<Response, PageError> {
    forgot(&state, &tenant, Kind::Agent, &csrf, client.as_ref(), &form).await
}

/// Counts the request against the client address and the account, mails a link when the
/// account may reset, and answers "check your mail" either way.
async fn forgot(
    state: &AppState,
    tenant: &Tenant,
    kind: Kind,
    csrf: &str,
    client: Option<&Extension<ConnectInfo<SocketAddr>>>,
    form: &ForgotForm,
) -> Result<Response, PageError> {
    let address_key = format!("reset:addr:{}", client_ip(client));
    let account_key = format!(
        "reset:{}:{}:{}",
        kind.key(),
        tenant.id,
        form.email.trim().to_lowercase()
    );
    for (key, limit) in [(&address_key, ADDRESS_LIMIT), (&account_key, ACCOUNT_LIMIT)] {
        state
            .limits
            .check(key, limit)
            .await
            .map_err(|wait| PageError::TooManyRequests(wait.0))?;
    }
    state.limits.record(&address_key, ADDRESS_LIMIT).await;
    state.limits.record(&account_key, ACCOUNT_LIMIT).await;

    let Ok(email) = EmailAddress::parse(&form.email) else {
        let page = forgot_page(
            state,
            tenant,
            kind,
            csrf,
            form.email.trim(),
            Some("Enter an email address like name@example.com."),
            false,
        )
        .await?;
        return Ok(page.into_response());
    };
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    match kind {
        Kind::EndUser => mail_user_link(state, &mut tx, tenant, &email).await?,
        Kind::Agent => mail_agent_link(state, &mut tx, tenant, &email).await?,
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("{}?sent=1", kind.forgot_path())).into_response())
}

async fn mail_user_link(
    state: &AppState,
    tx: &mut TenantTx,
    tenant: &Tenant,
    email: &EmailAddress,
) -> Result<(), PageError> {
    let Some(user) = store::end_users::by_email(tx, email.as_str()).await? else {
        return Ok(());
    };
    let settings = store::settings::load(tx).await?;
    let may_reset = match user.status {
        EndUserStatus::Locked => false,
        // A registered account can always reset, whatever the mode.
        _ if user.password_hash.is_some() => true,
        // Without a password a reset would create an account: only where anyone may.
        _ => settings.registration_method == RegistrationMethod::Public,
    };
    if !may_reset {
        return Ok(());
    }
    send_user_link(state, tx, tenant, &settings, &user).await
}

/// Issues a reset link for `user` and queues the `user.password_reset` mail in `tx`: the
/// forgot-password form's path, and the one an agent helping the user takes.
pub(crate) async fn send_user_link(
    state: &AppState,
    tx: &mut TenantTx,
    tenant: &Tenant,
    settings: &store::settings::WorkspaceSettings,
    user: &store::end_users::EndUser,
) -> Result<(), PageError> {
    let recipient = crate::pages::account::address_of(user)?;
    let context = json!({"user": {"name": user.name, "email": user.email}});
    send_link(
        state,
        tx,
        tenant,
        settings,
        Kind::EndUser,
        Holder::EndUser(user.id),
        &recipient,
        context,
    )
    .await
}

async fn mail_agent_link(
    state: &AppState,
    tx: &mut TenantTx,
    tenant: &Tenant,
    email: &EmailAddress,
) -> Result<(), PageError> {
    let Some(agent) = store::agents::by_email(tx, email.as_str())
        .await?
        .filter(|a| a.status == AgentStatus::Active)
    else {
        return Ok(());
    };
    let settings = store::settings::load(tx).await?;
    send_agent_link(state, tx, tenant, &settings, &agent).await
}

/// Issues a reset link for `agent` and queues the `agent.password_reset` mail in `tx`: the
/// forgot-password form's path, and the one an admin helping the agent takes.
pub(crate) async fn send_agent_link(
    state: &AppState,
    tx: &mut TenantTx,
    tenant: &Tenant,
    settings: &store::settings::WorkspaceSettings,
    agent: &store::agents::Agent,
) -> Result<(), PageError> {
    let recipient = EmailAddress::parse(&agent.email).map_err(internal)?;
    let context = json!({"agent": {"name": agent.name, "email": agent.email}});
    send_link(
        state,
        tx,
        tenant,
        settings,
        Kind::Agent,
        Holder::Agent(agent.id),
        &recipient,
        context,
    )
    .await
}

/// Issues the reset token and queues its mail in `tx`.
#[allow(clippy::too_many_arguments)]
async fn send_link(
    state: &AppState,
    tx: &mut TenantTx,
    tenant: &Tenant,
    settings: &store::settings::WorkspaceSettings,
    kind: Kind,
    holder: Holder,
    recipient: &EmailAddress,
    mut context: serde_json::Value,
) -> Result<(), PageError> {
    let secret = store::auth_tokens::issue(tx, kind.purpose(), holder, RESET_VALID_FOR).await?;
    let portal = mailer::portal_url(&state.config, tenant);
    context["reset_url"] = json!(format!("{portal}{}{secret}", kind.reset_prefix()));
    context["expires_in_minutes"] = json!(RESET_VALID_FOR.as_secs() / 60);
    let sender = Sender {
        settings,
        platform_from: &state.config.mail_from,
        portal_url: &portal,
    };
    let event = match kind {
        Kind::EndUser => Event::UserPasswordReset,
        Kind::Agent => Event::AgentPasswordReset,
    };
    mailer::queue(
        tx,
        &sender,
        Mail {
            event,
            locale: None,
            recipient,
            context,
        },
    )
    .await
    .map_err(internal)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Using the link

#[derive(Template)]
#[template(path = "account_reset_password.html")]
struct UserResetPage<'a> {
    brand: crate::pages::Brand,
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "agent_reset_password.html")]
struct AgentResetPage<'a> {
    brand: crate::pages::Brand,
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// Whom a live link of `kind` belongs to, if they may still reset: (holder, name, email).
async fn holder_of(
    tx: &mut TenantTx,
    kind: Kind,
    secret: &str,
) -> Result<(Holder, String, String), PageError> {
    let holder = store::auth_tokens::peek(tx, kind.purpose(), secret).await?;
    let found = match (kind, holder) {
        (Kind::EndUser, Some(Holder::EndUser(id))) => store::end_users::by_id(tx, id)
            .await?
            .filter(|u| u.status != EndUserStatus::Locked)
            .map(|u| (Holder::EndUser(id), u.name, u.email)),
        (Kind::Agent, Some(Holder::Agent(id))) => store::agents::by_id(tx, id)
            .await?
            .filter(|a| a.status == AgentStatus::Active)
            .map(|a| (Holder::Agent(id), a.name, a.email)),
        _ => None,
    };
    found.ok_or_else(|| link_expired(kind))
}

async fn reset_page(
    state: &AppState,
    tenant: &Tenant,
    kind: Kind,
    csrf: &str,
    email: &str,
    error: Option<&str>,
) -> Result<Html<String>, PageError> {
    let brand = brand(state, tenant).await?;
    match kind {
        Kind::EndUser => render(&UserResetPage {
            brand,
            csrf,
            email,
            error,
        }),
        Kind::Agent => render(&AgentResetPage {
            brand,
            csrf,
            email,
            error,
        }),
    }
}

async fn reset_form(
    state: &AppState,
    tenant: &Tenant,
    kind: Kind,
    csrf: &str,
    secret: &str,
) -> Result<Html<String>, PageError> {
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let (_, _, email) = holder_of(&mut tx, kind, secret).await?;
    tx.commit().await?;
    reset_page(state, tenant, kind, csrf, &email, None).await
}

pub async fn user_reset_form(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Path(secret): Path<String>,
) -> Result<Html<String>, PageError> {
    reset_form(&state, &tenant, Kind::EndUser, &csrf, &secret).await
}

pub async fn agent_reset_form(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Path(secret): Path<String>,
) -> Result<Html<String>, PageError> {
    reset_form(&state, &tenant, Kind::Agent, &csrf, &secret).await
}

pub async fn user_reset(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Path(secret): Path<String>,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> Result<Response, PageError> {
    reset(&state, &tenant, Kind::EndUser, &csrf, &secret, &form).await
}

pub async fn agent_reset(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Path(secret): Path<String>,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> Result<Response, PageError> {
    reset(&state, &tenant, Kind::Agent, &csrf, &secret, &form).await
}

/// Sets the new password: the link is used up (with any other outstanding reset link of the
/// account), every session ends, and an end user gets the `user.password_changed` mail.
async fn reset(
    state: &AppState,
    tenant: &Tenant,
    kind: Kind,
    csrf: &str,
    secret: &str,
    form: &ResetForm,
) -> Result<Response, PageError> {
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let (holder, name, email) = holder_of(&mut tx, kind, secret).await?;
    let problem = if let Err(why) = check_new_password(
        &form.password,
        min_password_length(state, tenant.id).await?,
        &[&email, &name],
    ) {
        Some(format!("The password {why}."))
    } else if form.password != form.confirm {
        Some("The two passwords are not the same.".to_owned())
    } else {
        None
    };
    if let Some(error) = problem {
        tx.commit().await?;
        let page = reset_page(state, tenant, kind, csrf, &email, Some(&error)).await?;
        return Ok(page.into_response());
    }
    let hash = state
        .passwords
        .hash(&form.password)
        .await
        .map_err(internal)?;
    if store::auth_tokens::consume(&mut tx, kind.purpose(), secret)
        .await?
        .is_none()
    {
        return Err(link_expired(kind));
    }
    match holder {
        Holder::EndUser(id) => {
            store::end_users::set_password(&mut tx, id, &hash).await?;
            let user = store::end_users::by_id(&mut tx, id)
                .await?
                .ok_or_else(|| link_expired(kind))?;
            queue_password_changed(state, &mut tx, tenant, &user, chrono::Utc::now()).await?;
        }
        Holder::Agent(id) => store::agents::reset_password(&mut tx, id, &hash).await?,
        Holder::Workspace => return Err(link_expired(kind)),
    }
    tx.commit().await?;
    Ok(Redirect::to(kind.done_path()).into_response())
}
