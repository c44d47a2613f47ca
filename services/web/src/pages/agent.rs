//! The agent panel's door: sign-in, sign-out, accepting an invitation, the panel's home, and
//! the agent's own profile (name, time zone, signature, password, ticket alerts).

use askama::Template;
use axum::Extension;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use domain::{Permission, TenantName, TextProblem, TimeZoneName};
use serde::Deserialize;
use std::net::SocketAddr;
use store::agents::{AgentProfile, AgentStatus};
use store::auth_tokens::{Holder, Purpose};
use store::notification_mutes::MuteKind;

use crate::AppState;
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::auth::passwords::{Verified, check_new_password};
use crate::auth::sessions::PrincipalKind;
use crate::auth::{
    PasswordChange, SignInAttempt, SignedInAgent, check_password_change, removal_cookie,
    session_cookie, start_session,
};
use crate::error::PageError;
use crate::pages::{Brand, min_password_length, render};
use crate::telemetry::{SignInKind, SignInResult, sign_in};
use crate::tenancy::CurrentTenant;

#[derive(Template)]
#[template(path = "agent_login.html")]
struct LoginPage<'a> {
    brand: Brand,
    csrf: &'a str,
    email: &'a str,
    next: &'a str,
    error: Option<&'a str>,
    notice: Option<&'a str>,
    /// Provider buttons, the password form, the email-first step (issue #8).
    options: crate::sign_in::LoginOptions,
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    signed_out: Option<String>,
    #[serde(default)]
    welcome: Option<String>,
    /// The email-first step: routed to the provider of the email's domain, if any.
    #[serde(default)]
    email: Option<String>,
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

async fn brand(state: &AppState, tenant: &store::tenancy::Tenant) -> Result<Brand, PageError> {
    Ok(Brand::from(
        state.settings.get(&state.store, tenant.id).await?.as_ref(),
    ))
}

/// The rate-limit account of an agent's sign-ins, across tenants (see [`SignInAttempt::new`]).
pub(crate) fn account_key(tenant: &store::tenancy::Tenant, email: &str) -> String {
    format!("agent:{}:{}", tenant.id, email.trim().to_lowercase())
}

/// Only paths of this site, so a sign-in link cannot send anyone elsewhere.
fn local_path(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/agent"
    }
}

pub async fn login_form(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let who = store::sign_in_providers::SignInAudience::Agents;
    let email = query.email.as_deref().unwrap_or_default().trim();
    if !email.is_empty()
        && let Some(target) =
            crate::sign_in::email_first_target(&state, &tenant, who, email, &query.next).await?
    {
        return Ok(Redirect::to(&target).into_response());
    }
    let notice = if query.signed_out.is_some() {
        Some("You are signed out.")
    } else if query.welcome.is_some() {
        Some("Your password is set. Sign in with it.")
    } else {
        None
    };
    Ok(render(&LoginPage {
        brand: brand(&state, &tenant).await?,
        csrf: &csrf,
        email,
        next: &query.next,
        error: None,
        notice,
        options: crate::sign_in::login_options(&state, &tenant, who, &query.next).await?,
    })?
    .into_response())
}

pub async fn login(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<Response, PageError> {
    let email = form.email.trim().to_lowercase();
    let attempt = SignInAttempt::new(account_key(&tenant, &email), client.map(|c| c.0.0));
    if let Err(refused) = attempt.check(&state).await {
        sign_in(SignInKind::Agent, SignInResult::RateLimited);
        return Err(refused);
    }

    let who = store::sign_in_providers::SignInAudience::Agents;
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    // With the password off for agents ("agents must use SSO") no stored hash is consulted;
    // the dummy verification keeps the timing the same.
    let password_on = store::sign_in_providers::password_sign_in(&mut tx)
        .await?
        .allows(who);
    let agent = store::agents::by_email(&mut tx, &email)
        .await?
        .filter(|a| a.status == AgentStatus::Active && password_on);
    let verified = state
        .passwords
        .verify(
            &form.password,
            agent.as_ref().and_then(|a| a.password_hash.as_deref()),
        )
        .await
        .map_err(|e| PageError::Internal(Box::new(e)))?;
    let (agent, rehashed) = match (agent, verified) {
        (Some(agent), Verified::Yes { rehashed }) => (agent, rehashed),
        _ => {
            tx.commit().await?;
            // Then the agents' LDAP directories, in order.
            let directory = crate::sign_in::directory_sign_in(
                &state,
                &tenant,
                who,
                form.email.trim(),
                &form.password,
            )
            .await?;
            let error = match directory {
                crate::sign_in::DirectoryOutcome::SignedIn(signed_in) => {
                    attempt.succeeded(&state).await;
                    sign_in(SignInKind::Agent, SignInResult::Success);
                    let next = (!form.next.is_empty()).then_some(form.next.as_str());
                    return crate::sign_in::accounts::start_session(
                        &state, &tenant, jar, signed_in, next,
                    )
                    .await;
                }
                crate::sign_in::DirectoryOutcome::Refused(refusal) => {
                    attempt.failed(&state).await;
                    sign_in(SignInKind::Agent, SignInResult::Failure);
                    return Ok(crate::sign_in::accounts::refusal_page(
                        &state,
                        &tenant,
                        refusal.message(),
                    ));
                }
                crate::sign_in::DirectoryOutcome::Unreachable => {
                    "The directory that checks your password cannot be reached. Please try again later."
                }
                crate::sign_in::DirectoryOutcome::NoMatch => {
                    "The email address or password is incorrect."
                }
            };
            attempt.failed(&state).await;
            sign_in(SignInKind::Agent, SignInResult::Failure);
            let page = LoginPage {
                brand: brand(&state, &tenant).await?,
                csrf: &csrf,
                email: form.email.trim(),
                next: &form.next,
                error: Some(error),
                notice: None,
                options: crate::sign_in::login_options(&state, &tenant, who, &form.next).await?,
            };
            return Ok(render(&page)?.into_response());
        }
    };
    let signed_in_at =
        store::agents::record_sign_in(&mut tx, agent.id, rehashed.as_deref()).await?;
    tx.commit().await?;
    attempt.succeeded(&state).await;
    sign_in(SignInKind::Agent, SignInResult::Success);
    let token = start_session(
        &state,
        PrincipalKind::Agent,
        Some(&tenant),
        agent.id,
        signed_in_at,
    )
    .await?;
    // A fresh token at every sign-in: a session id planted before sign-in is worth nothing.
    if let Some(old) = jar.get(PrincipalKind::Agent.cookie_name(state.config.secure_cookies())) {
        let _ = state.sessions.end(old.value()).await;
    }
    let jar = jar.add(session_cookie(&state, PrincipalKind::Agent, token));
    Ok((jar, Redirect::to(local_path(&form.next))).into_response())
}

#[derive(Deserialize)]
pub struct EmptyForm {}

pub async fn logout(
    State(state): State<AppState>,
    agent: SignedInAgent,
    jar: CookieJar,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let _ = state.sessions.end(&agent.session_token).await;
    let jar = jar.add(removal_cookie(&state, PrincipalKind::Agent));
    Ok((jar, Redirect::to("/agent/login?signed_out=1")).into_response())
}

/// Ends every session of the agent, on every device.
pub async fn logout_everywhere(
    State(state): State<AppState>,
    agent: SignedInAgent,
    jar: CookieJar,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    store::agents::revoke_sessions(&mut tx, agent.agent.id).await?;
    tx.commit().await?;
    let _ = state.sessions.end(&agent.session_token).await;
    let jar = jar.add(removal_cookie(&state, PrincipalKind::Agent));
    Ok((jar, Redirect::to("/agent/login?signed_out=1")).into_response())
}

/// A link in the agent panel's home, shown only with its permission.
pub struct PanelLink {
    pub href: &'static str,
    pub label: &'static str,
    pub description: &'static str,
}

#[derive(Template)]
#[template(path = "agent_home.html")]
struct HomePage<'a> {
    brand: Brand,
    csrf: &'a str,
    agent_name: &'a str,
    role_name: &'a str,
    links: Vec<PanelLink>,
}

pub async fn home(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>, PageError> {
    let mut links = Vec::new();
    if agent.agent.can(Permission::TicketsWork) || agent.agent.can(Permission::TicketsAll) {
        links.push(PanelLink {
            href: "/agent/tickets",
            label: "Tickets",
            description: "Queues, the ticket thread, replies, notes, assignment, new tickets",
        });
    }
    if agent.agent.can(Permission::WorkspaceSettings) {
        links.push(PanelLink {
            href: "/admin/settings",
            label: "Workspace settings",
            description: "Name, colours, logo, welcome text, support address, registration",
        });
        links.push(PanelLink {
            href: "/admin/email-templates",
            label: "Email templates",
            description: "What every mail says, per event and language",
        });
        links.push(PanelLink {
            href: "/admin/mail",
            label: "Outgoing mail",
            description: "Recent mail with its delivery status; retry failed mail",
        });
    }
    if agent.agent.can(Permission::AgentsManage) {
        links.push(PanelLink {
            href: "/admin/agents",
            label: "Agents",
            description: "Invite agents, change their roles, disable and enable them",
        });
    }
    if agent.agent.can(Permission::UsersRead) {
        links.push(PanelLink {
            href: "/agent/users",
            label: "End-user directory",
            description: "Find end users by name, email, organization, group or custom field",
        });
        links.push(PanelLink {
            href: "/agent/organizations",
            label: "Organizations",
            description: "Find organizations; their members, primary contacts, domains and account manager",
        });
    }
    if agent.agent.can(Permission::UsersManage) {
        links.push(PanelLink {
            href: "/admin/users",
            label: "End users",
            description: "Invite end users; send a reset link, set a temporary password, unlock sign-in",
        });
    }
    if agent.agent.can(Permission::RolesManage) {
        links.push(PanelLink {
            href: "/admin/roles",
            label: "Roles",
            description: "Which role holds which permission; define your own roles",
        });
    }
    if agent.agent.can(Permission::DirectoryConfigure) {
        links.push(PanelLink {
            href: "/admin/fields",
            label: "Custom fields",
            description: "The fields end users, organizations and tickets carry beyond the built-in ones",
        });
        links.push(PanelLink {
            href: "/admin/groups",
            label: "Customer groups",
            description: "Groups that grant end users and organizations access; defaults for everyone",
        });
    }
    if agent.agent.can(Permission::HelpdeskConfigure) {
        for (href, label, description) in [
            (
                "/admin/departments",
                "Departments",
                "Queues tickets live in, their agents, manager and default priority",
            ),
            (
                "/admin/teams",
                "Teams",
                "Groups of agents tickets can be assigned to",
            ),
            (
                "/admin/help-topics",
                "Help topics",
                "What end users pick when opening a ticket, and where it goes",
            ),
            (
                "/admin/sla-plans",
                "SLA plans",
                "When first replies and resolutions are due",
            ),
            (
                "/admin/business-hours",
                "Business hours",
                "Time zone, opening hours and holidays SLA clocks count in",
            ),
            (
                "/admin/statuses",
                "Statuses",
                "Your own statuses within open, pending, resolved and closed",
            ),
            (
                "/admin/ticket-settings",
                "Ticket settings",
                "Ticket numbers, default department, attachments, replies to closed tickets",
            ),
        ] {
            links.push(PanelLink {
                href,
                label,
                description,
            });
        }
    }
    if agent.agent.can(Permission::ApiTokensManage) {
        links.push(PanelLink {
            href: "/admin/api-tokens",
            label: "API tokens",
            description: "Tokens for programs using the API: create, see their use, revoke",
        });
    }
    render(&HomePage {
        brand: brand(&state, &agent.tenant).await?,
        csrf: &csrf,
        agent_name: &agent.agent.name,
        role_name: &agent.agent.role.name,
        links,
    })
}

#[derive(Template)]
#[template(path = "agent_invitation.html")]
struct InvitationPage<'a> {
    brand: Brand,
    csrf: &'a str,
    agent_name: &'a str,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

fn link_expired() -> PageError {
    PageError::Forbidden(
        "This link has expired or was already used. Ask your administrator for a new invitation."
            .into(),
    )
}

/// The page an invitation link opens: choose a password.
pub async fn invitation_form(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Path(secret): Path<String>,
) -> Result<Html<String>, PageError> {
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let Some(Holder::Agent(id)) =
        store::auth_tokens::peek(&mut tx, Purpose::AgentInvitation, &secret).await?
    else {
        return Err(link_expired());
    };
    let agent = store::agents::by_id(&mut tx, id)
        .await?
        .ok_or_else(link_expired)?;
    tx.commit().await?;
    render(&InvitationPage {
        brand: brand(&state, &tenant).await?,
        csrf: &csrf,
        agent_name: &agent.name,
        error: None,
    })
}

pub async fn accept_invitation(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Path(secret): Path<String>,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, PageError> {
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let Some(Holder::Agent(id)) =
        store::auth_tokens::peek(&mut tx, Purpose::AgentInvitation, &secret).await?
    else {
        return Err(link_expired());
    };
    let agent = store::agents::by_id(&mut tx, id)
        .await?
        .ok_or_else(link_expired)?;
    let problem = if form.password != form.confirm {
        Some("The two passwords are not the same.".to_owned())
    } else {
        check_new_password(
            &form.password,
            min_password_length(&state, tenant.id).await?,
            &[&agent.email, &agent.name],
        )
        .err()
        .map(|why| format!("The password {why}."))
    };
    if let Some(error) = problem {
        tx.commit().await?;
        let page = InvitationPage {
            brand: brand(&state, &tenant).await?,
            csrf: &csrf,
            agent_name: &agent.name,
            error: Some(error),
        };
        return Ok(render(&page)?.into_response());
    }
    let hash = state
        .passwords
        .hash(&form.password)
        .await
        .map_err(|e| PageError::Internal(Box::new(e)))?;
    if store::auth_tokens::consume(&mut tx, Purpose::AgentInvitation, &secret)
        .await?
        .is_none()
    {
        return Err(link_expired());
    }
    store::agents::set_password(&mut tx, agent.id, &hash).await?;
    tx.commit().await?;
    Ok(Redirect::to("/agent/login?welcome=1").into_response())
}

// ---------------------------------------------------------------------------------------------
// The agent's own profile
// ---------------------------------------------------------------------------------------------

/// Signatures longer than this are refused (the database's limit too).
const MAX_SIGNATURE_CHARS: usize = 5000;

/// The profile form's fields as entered.
struct ProfileValues {
    name: String,
    timezone: String,
    signature: String,
}

#[derive(Default)]
struct ProfileErrors {
    name: Option<String>,
    timezone: Option<String>,
    signature: Option<String>,
    current: Option<String>,
    password: Option<String>,
    confirm: Option<String>,
}

impl ProfileErrors {
    fn details(&self) -> bool {
        self.name.is_some() || self.timezone.is_some() || self.signature.is_some()
    }

    fn password_change(&self) -> bool {
        self.current.is_some() || self.password.is_some() || self.confirm.is_some()
    }
}

#[derive(Template)]
#[template(path = "agent_profile.html")]
struct ProfilePage<'a> {
    brand: Brand,
    csrf: &'a str,
    email: &'a str,
    role_name: &'a str,
    values: ProfileValues,
    /// The workspace's time zone, which applies when the agent chooses none.
    workspace_timezone: String,
    min_password_chars: usize,
    errors: ProfileErrors,
    notice: Option<&'static str>,
    /// Which ticket alerts the agent receives (the kinds they did not mute).
    alerts: Alerts,
}

/// The ticket alerts an agent receives; each one off is a row in `agent_notification_mutes`.
struct Alerts {
    new_ticket: bool,
    assigned: bool,
    user_reply: bool,
}

/// The profile page with the stored values, or `values` as entered.
async fn profile_page<'a>(
    state: &AppState,
    agent: &'a SignedInAgent,
    csrf: &'a str,
    values: Option<ProfileValues>,
) -> Result<ProfilePage<'a>, PageError> {
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let stored = store::agents::profile(&mut tx, agent.agent.id)
        .await?
        .unwrap_or_default();
    let muted = store::notification_mutes::muted(&mut tx, agent.agent.id).await?;
    tx.commit().await?;
    let values = values.unwrap_or_else(|| ProfileValues {
        name: agent.agent.name.clone(),
        timezone: stored.timezone.unwrap_or_default(),
        signature: stored.signature,
    });
    Ok(ProfilePage {
        brand: Brand::from(&settings),
        csrf,
        email: &agent.agent.email,
        role_name: &agent.agent.role.name,
        values,
        workspace_timezone: settings.timezone.as_str().to_owned(),
        min_password_chars: settings.password_min_length,
        errors: ProfileErrors::default(),
        notice: None,
        alerts: Alerts {
            new_ticket: !muted.contains(&MuteKind::NewTicket),
            assigned: !muted.contains(&MuteKind::Assigned),
            user_reply: !muted.contains(&MuteKind::UserReply),
        },
    })
}

#[derive(Deserialize, Default)]
pub struct ProfileQuery {
    #[serde(default)]
    saved: Option<String>,
}

pub async fn profile(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<ProfileQuery>,
) -> Result<Response, PageError> {
    let mut page = profile_page(&state, &agent, &csrf, None).await?;
    page.notice = match query.saved.as_deref() {
        Some("profile") => Some("Your profile is saved."),
        Some("notifications") => Some("Your notification settings are saved."),
        Some("password") => {
            Some("Your password is changed. You are signed out on every other device.")
        }
        _ if agent.agent.must_change_password => Some(
            "Your administrator set a temporary password for you. Choose your own password \
             below to continue.",
        ),
        _ => None,
    };
    Ok(render(&page)?.into_response())
}

#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    signature: String,
}

/// Saves name, time zone (empty: the workspace's) and signature.
pub async fn save_profile(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    CsrfForm(form): CsrfForm<ProfileForm>,
) -> Result<Response, PageError> {
    let mut errors = ProfileErrors::default();
    let name = TenantName::parse(&form.name)
        .map_err(|error| {
            errors.name = Some(match error.0 {
                TextProblem::Empty => "Enter your name.".to_owned(),
                problem => format!("Your name {problem}."),
            });
        })
        .ok();
    let timezone = match form.timezone.trim() {
        "" => None,
        raw => TimeZoneName::parse(raw)
            .map_err(|why| errors.timezone = Some(format!("The time zone {why}.")))
            .ok(),
    };
    let signature = form.signature.replace("\r\n", "\n").trim_end().to_owned();
    if signature.chars().count() > MAX_SIGNATURE_CHARS {
        errors.signature = Some(format!(
            "The signature must be at most {MAX_SIGNATURE_CHARS} characters."
        ));
    }
    let Some(name) = name.filter(|_| !errors.details()) else {
        let values = ProfileValues {
            name: form.name,
            timezone: form.timezone,
            signature,
        };
        let mut page = profile_page(&state, &agent, &csrf, Some(values)).await?;
        page.errors = errors;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
    };
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    store::agents::update_profile(
        &mut tx,
        agent.agent.id,
        name.as_str(),
        &AgentProfile {
            timezone: timezone.map(|zone| zone.as_str().to_owned()),
            signature,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/agent/profile?saved=profile").into_response())
}

/// The notification form: a checked box means the agent wants that alert.
#[derive(Deserialize)]
pub struct NotificationsForm {
    #[serde(default)]
    new_ticket: Option<String>,
    #[serde(default)]
    assigned: Option<String>,
    #[serde(default)]
    user_reply: Option<String>,
}

/// Saves which ticket alerts the agent receives (every box unchecked mutes them all).
pub async fn save_notifications(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfForm(form): CsrfForm<NotificationsForm>,
) -> Result<Response, PageError> {
    let muted: Vec<MuteKind> = [
        (MuteKind::NewTicket, form.new_ticket),
        (MuteKind::Assigned, form.assigned),
        (MuteKind::UserReply, form.user_reply),
    ]
    .into_iter()
    .filter(|(_, wanted)| wanted.is_none())
    .map(|(kind, _)| kind)
    .collect();
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    store::notification_mutes::set(&mut tx, agent.agent.id, &muted).await?;
    tx.commit().await?;
    Ok(Redirect::to("/agent/profile?saved=notifications").into_response())
}

#[derive(Deserialize)]
pub struct ChangePasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// Changes the agent's password (the current one is required, and counts as a sign-in attempt
/// for the rate limit). Every other session of the agent ends; this browser gets a fresh one.
pub async fn change_password(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<ChangePasswordForm>,
) -> Result<Response, PageError> {
    let attempt = SignInAttempt::new(
        account_key(&agent.tenant, &agent.agent.email),
        client.map(|c| c.0.0),
    );
    let problems = check_password_change(
        &state,
        &attempt,
        agent.agent.password_hash.as_deref(),
        &PasswordChange {
            current: &form.current,
            new: &form.password,
            confirm: &form.confirm,
        },
        min_password_length(&state, agent.tenant.id).await?,
        &[&agent.agent.email, &agent.agent.name],
    )
    .await?;
    let errors = ProfileErrors {
        current: problems.current,
        password: problems.new,
        confirm: problems.confirm,
        ..ProfileErrors::default()
    };
    if errors.password_change() {
        let mut page = profile_page(&state, &agent, &csrf, None).await?;
        page.errors = errors;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
    }
    let hash = state
        .passwords
        .hash(&form.password)
        .await
        .map_err(|e| PageError::Internal(Box::new(e)))?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    store::agents::set_password(&mut tx, agent.agent.id, &hash).await?;
    // Read after the revocation, so this browser's new session outlives it.
    let signed_in_at = store::agents::session_clock(&mut tx).await?;
    tx.commit().await?;
    attempt.succeeded(&state).await;
    let token = start_session(
        &state,
        PrincipalKind::Agent,
        Some(&agent.tenant),
        agent.agent.id,
        signed_in_at,
    )
    .await?;
    let _ = state.sessions.end(&agent.session_token).await;
    let jar = jar.add(session_cookie(&state, PrincipalKind::Agent, token));
    Ok((jar, Redirect::to("/agent/profile?saved=password")).into_response())
}
