//! The end user's door to the portal: sign-in and sign-out, self-registration with a
//! confirmation mail, and the profile (name, password, sign out everywhere). What registration
//! offers follows the tenant's registration mode (osTicket's six modes).
//!
//! End users sign in with their email address; usernames arrive with the directory issue.

use std::net::SocketAddr;
use std::time::Duration;

use askama::Template;
use axum::Extension;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use chrono::{DateTime, Utc};
use domain::{EmailAddress, RegistrationMethod, Username, Validity};
use serde::Deserialize;
use serde_json::json;
use store::TenantTx;
use store::auth_tokens::{Holder, Purpose};
use store::end_users::{EndUser, EndUserStatus, NewEndUser};
use store::settings::WorkspaceSettings;
use store::tenancy::Tenant;

use crate::AppState;
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::auth::passwords::{Verified, check_new_password};
use crate::auth::rate_limit::Limit;
use crate::auth::sessions::{self, PrincipalKind};
use crate::auth::{
    PasswordChange, SignInAttempt, check_password_change, removal_cookie, session_cookie,
    start_session,
};
use crate::error::PageError;
use crate::mailer::{self, Event, Mail, Sender};
use crate::pages::min_password_length;
use crate::pages::{Brand, ErrorPage, render};
use crate::telemetry::{self, SignInKind, SignInResult};
use crate::tenancy::CurrentTenant;

/// Registrations accepted per client address in the window.
pub const REGISTRATION_LIMIT: Limit = Limit {
    max: 10,
    window: Duration::from_secs(3600),
};

/// How long a registration confirmation link stays valid.
pub const CONFIRMATION_VALID_FOR: Duration = Duration::from_secs(24 * 3600);

/// The longest name an end user may have (the `end_users_name_length` check).
const MAX_NAME_CHARS: usize = 200;

/// The answer to a sign-in that failed for any reason: unknown address, wrong password, an
/// account that is pending, locked or a guest. One message, so it reveals nothing.
const SIGN_IN_FAILED: &str = "The email address or password is incorrect.";
/// For an account the directory marks invalid, shown only after the right password.
const ACCOUNT_NOT_IN_USE: &str =
    "This account is not in use at the moment. Please contact the help desk.";

pub(crate) async fn brand(state: &AppState, tenant: &Tenant) -> Result<Brand, PageError> {
    Ok(Brand::from(
        state.settings.get(&state.store, tenant.id).await?.as_ref(),
    ))
}

pub(crate) fn internal(error: impl std::error::Error + Send + Sync + 'static) -> PageError {
    PageError::Internal(Box::new(error))
}

/// The client's address for rate limits.
pub(crate) fn client_ip(client: Option<&Extension<ConnectInfo<SocketAddr>>>) -> String {
    client.map_or_else(|| "unknown".to_owned(), |c| c.0.0.ip().to_string())
}

/// Only paths of this site, so a sign-in link cannot send anyone elsewhere.
fn local_path(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

/// The rate-limit key of an end user's account, across tenants.
pub(crate) fn account_key(tenant: &Tenant, email: &str) -> String {
    format!("user:{}:{}", tenant.id, email.trim().to_lowercase())
}

/// `14 Mar 2025, 09:26 UTC`, as the `user.password_changed` mail shows it.
pub(crate) fn mail_time(at: DateTime<Utc>) -> String {
    at.format("%-d %b %Y, %H:%M UTC").to_string()
}

/// The recipient of mail to an end user: the stored address (it was valid when stored).
pub(crate) fn address_of(user: &EndUser) -> Result<EmailAddress, PageError> {
    EmailAddress::parse(&user.email).map_err(internal)
}

/// Queues the `user.password_changed` mail in `tx`.
pub(crate) async fn queue_password_changed(
    state: &AppState,
    tx: &mut TenantTx,
    tenant: &Tenant,
    user: &EndUser,
    changed_at: DateTime<Utc>,
) -> Result<(), PageError> {
    let settings = store::settings::load(tx).await?;
    let portal = mailer::portal_url(&state.config, tenant);
    let recipient = address_of(user)?;
    let sender = Sender {
        settings: &settings,
        platform_from: &state.config.mail_from,
        portal_url: &portal,
    };
    mailer::queue(
        tx,
        &sender,
        Mail {
            event: Event::UserPasswordChanged,
            locale: None,
            recipient: &recipient,
            context: json!({
                "user": {"name": user.name, "email": user.email},
                "changed_at": mail_time(changed_at),
            }),
        },
    )
    .await
    .map_err(internal)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Registration modes

/// The tenant's registration mode as the portal applies it (osTicket's table):
///
/// | required | method   | register | tickets                       |
/// |----------|----------|----------|-------------------------------|
/// | no       | public   | yes      | guests too                    |
/// | yes      | public   | yes      | signed-in users only          |
/// | no       | private  | no       | guests too; agents invite     |
/// | yes      | private  | no       | invited, signed-in users only |
/// | no       | disabled | no       | guests too                    |
/// | yes      | disabled | no       | none through the portal       |
///
/// Signing in stays open in every mode: accounts made earlier (or by invitation) keep working.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegistrationMode {
    pub required: bool,
    pub method: RegistrationMethod,
}

impl RegistrationMode {
    pub fn of(settings: &WorkspaceSettings) -> Self {
        Self {
            required: settings.registration_required,
            method: settings.registration_method,
        }
    }

    /// Anyone may create an account at `/register`.
    pub fn registration_open(self) -> bool {
        self.method == RegistrationMethod::Public
    }

    /// Why `/register` refuses, in words for the visitor; `None` when it is open.
    pub fn closed_reason(self) -> Option<&'static str> {
        match (self.method, self.required) {
            (RegistrationMethod::Public, _) => None,
            (RegistrationMethod::Private, false) => Some(
                "This help desk does not take sign-ups: its agents create accounts and send an \
                 invitation by email. You can still open a request without an account.",
            ),
            (RegistrationMethod::Private, true) => Some(
                "This help desk is by invitation only: its agents create accounts and send an \
                 invitation by email. If you expected one, ask the team that supports you.",
            ),
            (RegistrationMethod::Disabled, false) => Some(
                "This help desk does not offer accounts. You can open a request without one and \
                 follow it through the links in our emails.",
            ),
            (RegistrationMethod::Disabled, true) => Some(
                "This help desk accepts neither new accounts nor new requests through the portal.",
            ),
        }
    }

    /// One sentence on opening requests in this mode, for the portal's home.
    pub fn tickets_sentence(self) -> &'static str {
        match (self.method, self.required) {
            (_, false) => "You can open a request without an account.",
            (RegistrationMethod::Public, true) => {
                "Sign in, or create an account, to open a request."
            }
            (RegistrationMethod::Private, true) => {
                "Requests are open to invited customers: sign in with the account we created for you."
            }
            (RegistrationMethod::Disabled, true) => {
                "This help desk does not accept new requests through the portal."
            }
        }
    }
}

/// The 403 page that explains why registration is closed, in the tenant's colours.
fn registration_closed(brand: Brand, reason: &str) -> Response {
    let page = ErrorPage {
        brand,
        title: "Registration is closed",
        message: reason,
    };
    match render(&page) {
        Ok(html) => (StatusCode::FORBIDDEN, html).into_response(),
        Err(error) => error.into_response(),
    }
}

// ---------------------------------------------------------------------------------------
// Who is signed in

/// An active end user of this host's tenant with a live session. A session of another
/// tenant, of a pending or locked account, or begun before a password change is no session.
pub struct SignedInUser {
    pub user: EndUser,
    pub tenant: Tenant,
    pub session_token: String,
}

impl SignedInUser {
    /// The signed-in end user of these cookies on `tenant`'s host, if any. One who must
    /// change a temporary password first counts as nobody here (the portal's pages).
    pub async fn from_jar(
        state: &AppState,
        jar: &CookieJar,
        tenant: &Tenant,
    ) -> Result<Option<Self>, PageError> {
        Ok(Self::load(state, jar, tenant)
            .await?
            .filter(|signed_in| !signed_in.user.must_change_password))
    }

    /// The signed-in end user of these cookies, whether or not their password must change.
    async fn load(
        state: &AppState,
        jar: &CookieJar,
        tenant: &Tenant,
    ) -> Result<Option<Self>, PageError> {
        let Some((session_token, session)) =
            sessions::session_of_jar(jar, state, PrincipalKind::EndUser).await?
        else {
            return Ok(None);
        };
        if session.tenant_id != Some(tenant.id.as_uuid()) {
            return Ok(None);
        }
        let mut tx = state.store.begin_tenant(tenant.id).await?;
        let user = store::end_users::by_id(&mut tx, session.principal_id).await?;
        tx.commit().await?;
        Ok(user
            .filter(|u| {
                u.status == EndUserStatus::Active
                    && u.validity == Validity::Valid
                    && session.created_at >= u.sessions_valid_after
            })
            .map(|user| Self {
                user,
                tenant: tenant.clone(),
                session_token,
            }))
    }
}

impl FromRequestParts<AppState> for SignedInUser {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let CurrentTenant(tenant) = parts
            .extensions
            .get::<CurrentTenant>()
            .cloned()
            .ok_or(PageError::NotFound)?;
        let jar = CookieJar::from_headers(&parts.headers);
        let signed_in =
            Self::load(state, &jar, &tenant)
                .await?
                .ok_or_else(|| PageError::SignInRequired {
                    login: "/login",
                    next: parts.uri.path().to_owned(),
                })?;
        // A temporary password set by an agent: nothing but the password change until then.
        let allowed = match parts.uri.path() {
            "/account" => parts.method == axum::http::Method::GET,
            "/account/password" | "/logout" | "/logout-everywhere" => true,
            _ => false,
        };
        if signed_in.user.must_change_password && !allowed {
            return Err(PageError::SignInRequired {
                login: "/account",
                next: parts.uri.path().to_owned(),
            });
        }
        Ok(signed_in)
    }
}

/// Starts a fresh session for `user` (ending the one `jar` carried) and sets its cookie.
async fn sign_in(
    state: &AppState,
    tenant: &Tenant,
    jar: CookieJar,
    user_id: uuid::Uuid,
    signed_in_at: DateTime<Utc>,
) -> Result<CookieJar, PageError> {
    let token = start_session(
        state,
        PrincipalKind::EndUser,
        Some(tenant),
        user_id,
        signed_in_at,
    )
    .await?;
    // A fresh token at every sign-in: a session id planted before sign-in is worth nothing.
    if let Some(old) = jar.get(PrincipalKind::EndUser.cookie_name(state.config.secure_cookies())) {
        let _ = state.sessions.end(old.value()).await;
    }
    Ok(jar.add(session_cookie(state, PrincipalKind::EndUser, token)))
}

// ---------------------------------------------------------------------------------------
// Sign-in and sign-out

#[derive(Template)]
#[template(path = "account_login.html")]
struct LoginPage<'a> {
    brand: Brand,
    csrf: &'a str,
    email: &'a str,
    next: &'a str,
    error: Option<&'a str>,
    notice: Option<&'a str>,
    registration_open: bool,
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
    reset: Option<String>,
    #[serde(default)]
    invited: Option<String>,
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

pub async fn login_form(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let who = store::sign_in_providers::SignInAudience::EndUsers;
    let email = query.email.as_deref().unwrap_or_default().trim();
    if !email.is_empty()
        && let Some(target) =
            crate::sign_in::email_first_target(&state, &tenant, who, email, &query.next).await?
    {
        return Ok(Redirect::to(&target).into_response());
    }
    let settings = state.settings.get(&state.store, tenant.id).await?;
    let notice = if query.signed_out.is_some() {
        Some("You are signed out.")
    } else if query.reset.is_some() {
        Some("Your password is changed. Sign in with the new one.")
    } else if query.invited.is_some() {
        Some("Your account is ready. Sign in with the password you chose.")
    } else {
        None
    };
    Ok(render(&LoginPage {
        brand: Brand::from(settings.as_ref()),
        csrf: &csrf,
        email,
        next: &query.next,
        error: None,
        notice,
        registration_open: RegistrationMode::of(&settings).registration_open(),
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
    let attempt = SignInAttempt::new(account_key(&tenant, &form.email), client.map(|c| c.0.0));
    if let Err(refused) = attempt.check(&state).await {
        telemetry::sign_in(SignInKind::EndUser, SignInResult::RateLimited);
        return Err(refused);
    }

    let who = store::sign_in_providers::SignInAudience::EndUsers;
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    // With the password off for end users no stored hash is consulted; the dummy
    // verification keeps the timing the same.
    let password_on = store::sign_in_providers::password_sign_in(&mut tx)
        .await?
        .allows(who);
    let user = store::end_users::by_email_or_login(&mut tx, &form.email)
        .await?
        .filter(|u| u.status == EndUserStatus::Active && password_on);
    let verified = state
        .passwords
        .verify(
            &form.password,
            user.as_ref().and_then(|u| u.password_hash.as_deref()),
        )
        .await
        .map_err(internal)?;
    let (user, rehashed) = match (user, verified) {
        (Some(user), Verified::Yes { rehashed }) if user.validity == Validity::Valid => {
            (user, rehashed)
        }
        (user, verified) => {
            // Only someone who knows the password learns that the account is out of use.
            let error = match (user, verified) {
                (Some(_), Verified::Yes { .. }) => ACCOUNT_NOT_IN_USE,
                _ => SIGN_IN_FAILED,
            };
            tx.commit().await?;
            // Then the end users' LDAP directories, in order.
            let error = if error == SIGN_IN_FAILED {
                let directory = crate::sign_in::directory_sign_in(
                    &state,
                    &tenant,
                    who,
                    form.email.trim(),
                    &form.password,
                )
                .await?;
                match directory {
                    crate::sign_in::DirectoryOutcome::SignedIn(signed_in) => {
                        attempt.succeeded(&state).await;
                        telemetry::sign_in(SignInKind::EndUser, SignInResult::Success);
                        let next = (!form.next.is_empty()).then_some(form.next.as_str());
                        return crate::sign_in::accounts::start_session(
                            &state, &tenant, jar, signed_in, next,
                        )
                        .await;
                    }
                    crate::sign_in::DirectoryOutcome::Refused(refusal) => {
                        attempt.failed(&state).await;
                        telemetry::sign_in(SignInKind::EndUser, SignInResult::Failure);
                        return Ok(crate::sign_in::accounts::refusal_page(
                            &state,
                            &tenant,
                            refusal.message(),
                        ));
                    }
                    crate::sign_in::DirectoryOutcome::Unreachable => {
                        "The directory that checks your password cannot be reached. Please try again later."
                    }
                    crate::sign_in::DirectoryOutcome::NoMatch => SIGN_IN_FAILED,
                }
            } else {
                error
            };
            attempt.failed(&state).await;
            telemetry::sign_in(SignInKind::EndUser, SignInResult::Failure);
            let settings = state.settings.get(&state.store, tenant.id).await?;
            let page = LoginPage {
                brand: Brand::from(settings.as_ref()),
                csrf: &csrf,
                email: form.email.trim(),
                next: &form.next,
                error: Some(error),
                notice: None,
                registration_open: RegistrationMode::of(&settings).registration_open(),
                options: crate::sign_in::login_options(&state, &tenant, who, &form.next).await?,
            };
            return Ok(render(&page)?.into_response());
        }
    };
    let signed_in_at =
        store::end_users::record_sign_in(&mut tx, user.id, rehashed.as_deref()).await?;
    tx.commit().await?;
    attempt.succeeded(&state).await;
    telemetry::sign_in(SignInKind::EndUser, SignInResult::Success);
    let jar = sign_in(&state, &tenant, jar, user.id, signed_in_at).await?;
    Ok((jar, Redirect::to(local_path(&form.next))).into_response())
}

#[derive(Deserialize)]
pub struct EmptyForm {}

pub async fn logout(
    State(state): State<AppState>,
    user: SignedInUser,
    jar: CookieJar,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let _ = state.sessions.end(&user.session_token).await;
    let jar = jar.add(removal_cookie(&state, PrincipalKind::EndUser));
    Ok((jar, Redirect::to("/login?signed_out=1")).into_response())
}

/// Ends every session of the end user, on every device.
pub async fn logout_everywhere(
    State(state): State<AppState>,
    user: SignedInUser,
    jar: CookieJar,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let mut tx = state.store.begin_tenant(user.tenant.id).await?;
    store::end_users::revoke_sessions(&mut tx, user.user.id).await?;
    tx.commit().await?;
    let _ = state.sessions.end(&user.session_token).await;
    let jar = jar.add(removal_cookie(&state, PrincipalKind::EndUser));
    Ok((jar, Redirect::to("/login?signed_out=1")).into_response())
}

// ---------------------------------------------------------------------------------------
// Registration

/// A field's problem, shown beside it.
#[derive(Default)]
struct RegisterErrors {
    name: Option<String>,
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    confirm: Option<String>,
}

impl RegisterErrors {
    fn any(&self) -> bool {
        self.name.is_some()
            || self.username.is_some()
            || self.email.is_some()
            || self.password.is_some()
            || self.confirm.is_some()
    }
}

#[derive(Template)]
#[template(path = "account_register.html")]
struct RegisterPage<'a> {
    brand: Brand,
    csrf: &'a str,
    name: &'a str,
    email: &'a str,
    username: &'a str,
    errors: RegisterErrors,
    /// The form was accepted: show "check your mail" instead of the form.
    sent: bool,
}

#[derive(Deserialize, Default)]
pub struct RegisterQuery {
    #[serde(default)]
    sent: Option<String>,
}

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    name: String,
    /// Optional: a username to sign in with besides the email.
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

pub async fn register_form(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<RegisterQuery>,
) -> Result<Response, PageError> {
    let settings = state.settings.get(&state.store, tenant.id).await?;
    let brand = Brand::from(settings.as_ref());
    if let Some(reason) = RegistrationMode::of(&settings).closed_reason() {
        return Ok(registration_closed(brand, reason));
    }
    let page = RegisterPage {
        brand,
        csrf: &csrf,
        name: "",
        email: "",
        username: "",
        errors: RegisterErrors::default(),
        sent: query.sent.is_some(),
    };
    Ok(render(&page)?.into_response())
}

/// Registers an account. The answer is the same whether or not the address already has an
/// account: a new address, a guest's or an unconfirmed one gets a confirmation mail; an
/// active or locked account gets no mail at all (and the password typed is thrown away).
pub async fn register(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    CsrfForm(form): CsrfForm<RegisterForm>,
) -> Result<Response, PageError> {
    let settings = state.settings.get(&state.store, tenant.id).await?;
    let brand = Brand::from(settings.as_ref());
    if let Some(reason) = RegistrationMode::of(&settings).closed_reason() {
        return Ok(registration_closed(brand, reason));
    }
    let limit_key = format!("register:addr:{}", client_ip(client.as_ref()));
    state
        .limits
        .check(&limit_key, REGISTRATION_LIMIT)
        .await
        .map_err(|wait| PageError::TooManyRequests(wait.0))?;

    let name = form.name.trim();
    let mut errors = RegisterErrors::default();
    let name_chars = name.chars().count();
    if name_chars == 0 {
        errors.name = Some("Enter your name.".to_owned());
    } else if name_chars > MAX_NAME_CHARS {
        errors.name = Some(format!("Use at most {MAX_NAME_CHARS} characters."));
    }
    let email = EmailAddress::parse(&form.email);
    if email.is_err() {
        errors.email = Some("Enter an email address like name@example.com.".to_owned());
    }
    if let Err(why) = check_new_password(
        &form.password,
        settings.password_min_length,
        &[form.email.trim(), name],
    ) {
        errors.password = Some(format!("The password {why}."));
    } else if form.password != form.confirm {
        errors.confirm = Some("The two passwords are not the same.".to_owned());
    }
    let username = match form.username.trim() {
        "" => None,
        typed => match Username::parse(typed) {
            Ok(username) => {
                let mut tx = state.store.begin_tenant(tenant.id).await?;
                let taken = store::end_users::username_taken(&mut tx, &username).await?;
                tx.commit().await?;
                if taken {
                    errors.username = Some(
                        "That username is taken; choose another or leave it empty.".to_owned(),
                    );
                }
                Some(username)
            }
            Err(why) => {
                errors.username = Some(format!("A username {why}."));
                None
            }
        },
    };
    let email = match email {
        Ok(email) if !errors.any() => email,
        _ => {
            let page = RegisterPage {
                brand,
                csrf: &csrf,
                name,
                username: form.username.trim(),
                email: form.email.trim(),
                errors,
                sent: false,
            };
            return Ok(render(&page)?.into_response());
        }
    };
    state.limits.record(&limit_key, REGISTRATION_LIMIT).await;

    // Hash in every case, so an existing account does not answer faster.
    let hash = state
        .passwords
        .hash(&form.password)
        .await
        .map_err(internal)?;
    start_registration(&state, &tenant, name, &email, username.as_ref(), &hash).await?;
    Ok(Redirect::to("/register?sent=1").into_response())
}

/// The registration's writes: the pending account (a new row, or the guest's row with the
/// same address), its confirmation link and mail, in one transaction.
async fn start_registration(
    state: &AppState,
    tenant: &Tenant,
    name: &str,
    email: &EmailAddress,
    username: Option<&Username>,
    hash: &str,
) -> Result<(), PageError> {
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let user = match store::end_users::by_email(&mut tx, email.as_str()).await? {
        None => {
            let new = NewEndUser {
                name,
                email,
                status: EndUserStatus::Pending,
                password_hash: Some(hash.to_owned()),
            };
            match store::end_users::create(&mut tx, &new).await {
                Ok(user) => user,
                // Registered by someone else a moment ago: answer as for any existing account.
                Err(store::StoreError::Conflict { .. }) => return Ok(()),
                Err(error) => return Err(error.into()),
            }
        }
        Some(user) if matches!(user.status, EndUserStatus::Guest | EndUserStatus::Pending) => {
            if !store::end_users::begin_registration(&mut tx, user.id, hash).await? {
                return Ok(());
            }
            user
        }
        // An active or locked account: nothing to do, and nothing said about it.
        Some(_) => return Ok(()),
    };
    if let Some(username) = username {
        match store::end_users::set_username(&mut tx, user.id, username).await {
            Ok(()) => {}
            // Taken a moment ago by someone else: the account signs in by email only.
            Err(store::StoreError::Conflict { .. }) => return Ok(()),
            Err(error) => return Err(error.into()),
        }
    }
    let secret = store::auth_tokens::issue(
        &mut tx,
        Purpose::UserRegistrationConfirm,
        Holder::EndUser(user.id),
        CONFIRMATION_VALID_FOR,
    )
    .await?;
    let settings = store::settings::load(&mut tx).await?;
    let portal = mailer::portal_url(&state.config, tenant);
    let recipient = address_of(&user)?;
    let sender = Sender {
        settings: &settings,
        platform_from: &state.config.mail_from,
        portal_url: &portal,
    };
    mailer::queue(
        &mut tx,
        &sender,
        Mail {
            event: Event::UserRegistrationConfirm,
            locale: None,
            recipient: &recipient,
            context: json!({
                "user": {"name": user.name, "email": user.email},
                "confirm_url": format!("{portal}/register/confirm/{secret}"),
                "expires_in_hours": CONFIRMATION_VALID_FOR.as_secs() / 3600,
            }),
        },
    )
    .await
    .map_err(internal)?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Confirmation

#[derive(Template)]
#[template(path = "account_confirm.html")]
struct ConfirmPage<'a> {
    brand: Brand,
    csrf: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    password: String,
}

fn confirmation_expired() -> PageError {
    PageError::Forbidden(
        "This confirmation link has expired or was already used. If your account is confirmed, \
         sign in; otherwise register again to get a new link."
            .into(),
    )
}

/// The pending end user a live confirmation link belongs to.
async fn pending_holder(tx: &mut TenantTx, secret: &str) -> Result<EndUser, PageError> {
    let Some(Holder::EndUser(id)) =
        store::auth_tokens::peek(tx, Purpose::UserRegistrationConfirm, secret).await?
    else {
        return Err(confirmation_expired());
    };
    store::end_users::by_id(tx, id)
        .await?
        .filter(|u| u.status == EndUserStatus::Pending)
        .ok_or_else(confirmation_expired)
}

/// The page a confirmation link opens. Opening it changes nothing (mail scanners open links
/// too); the person confirms with the password they chose, so a stranger who registered
/// someone else's address cannot have its owner activate an account the stranger controls.
pub async fn confirm_form(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Path(secret): Path<String>,
) -> Result<Html<String>, PageError> {
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let user = pending_holder(&mut tx, &secret).await?;
    tx.commit().await?;
    render(&ConfirmPage {
        brand: brand(&state, &tenant).await?,
        csrf: &csrf,
        email: &user.email,
        error: None,
    })
}

/// Confirms the address: the link is used up, the account becomes active, and this browser
/// is signed in (then sent to the profile page with a welcome notice).
pub async fn confirm(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    jar: CookieJar,
    Path(secret): Path<String>,
    CsrfForm(form): CsrfForm<ConfirmForm>,
) -> Result<Response, PageError> {
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let user = pending_holder(&mut tx, &secret).await?;
    let attempt = SignInAttempt::new(account_key(&tenant, &user.email), client.map(|c| c.0.0));
    attempt.check(&state).await?;
    let verified = state
        .passwords
        .verify(&form.password, user.password_hash.as_deref())
        .await
        .map_err(internal)?;
    let Verified::Yes { rehashed } = verified else {
        tx.commit().await?;
        attempt.failed(&state).await;
        let page = ConfirmPage {
            brand: brand(&state, &tenant).await?,
            csrf: &csrf,
            email: &user.email,
            error: Some(
                "That is not the password you chose when registering. Try again, or use \
                 \"Forgot your password?\" on the sign-in page to choose a new one.",
            ),
        };
        return Ok(render(&page)?.into_response());
    };
    if store::auth_tokens::consume(&mut tx, Purpose::UserRegistrationConfirm, &secret)
        .await?
        .is_none()
        || !store::end_users::activate(&mut tx, user.id).await?
    {
        return Err(confirmation_expired());
    }
    let signed_in_at =
        store::end_users::record_sign_in(&mut tx, user.id, rehashed.as_deref()).await?;
    tx.commit().await?;
    attempt.succeeded(&state).await;
    telemetry::sign_in(SignInKind::EndUser, SignInResult::Success);
    let jar = sign_in(&state, &tenant, jar, user.id, signed_in_at).await?;
    Ok((jar, Redirect::to("/account?welcome=1")).into_response())
}

// ---------------------------------------------------------------------------------------
// Profile

#[derive(Default)]
struct ProfileErrors {
    name: Option<String>,
    current: Option<String>,
    password: Option<String>,
    confirm: Option<String>,
}

#[derive(Template)]
#[template(path = "account_profile.html")]
struct ProfilePage<'a> {
    brand: Brand,
    csrf: &'a str,
    name: &'a str,
    email: &'a str,
    notice: Option<&'a str>,
    errors: ProfileErrors,
}

#[derive(Deserialize, Default)]
pub struct ProfileQuery {
    #[serde(default)]
    welcome: Option<String>,
    #[serde(default)]
    saved: Option<String>,
}

pub async fn profile(
    State(state): State<AppState>,
    user: SignedInUser,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<ProfileQuery>,
) -> Result<Html<String>, PageError> {
    let notice = if query.welcome.is_some() {
        Some("Your email address is confirmed and you are signed in. Welcome!")
    } else {
        match query.saved.as_deref() {
            Some("name") => Some("Your name is saved."),
            Some("password") => {
                Some("Your password is changed. Your other devices are signed out.")
            }
            _ if user.user.must_change_password => Some(
                "You signed in with a temporary password. Choose your own password below to \
                 continue.",
            ),
            _ => None,
        }
    };
    render(&ProfilePage {
        brand: brand(&state, &user.tenant).await?,
        csrf: &csrf,
        name: &user.user.name,
        email: &user.user.email,
        notice,
        errors: ProfileErrors::default(),
    })
}

#[derive(Deserialize)]
pub struct NameForm {
    #[serde(default)]
    name: String,
}

pub async fn save_name(
    State(state): State<AppState>,
    user: SignedInUser,
    CsrfToken(csrf): CsrfToken,
    CsrfForm(form): CsrfForm<NameForm>,
) -> Result<Response, PageError> {
    let name = form.name.trim();
    let chars = name.chars().count();
    let problem = if chars == 0 {
        Some("Enter your name.".to_owned())
    } else if chars > MAX_NAME_CHARS {
        Some(format!("Use at most {MAX_NAME_CHARS} characters."))
    } else {
        None
    };
    if let Some(problem) = problem {
        let page = ProfilePage {
            brand: brand(&state, &user.tenant).await?,
            csrf: &csrf,
            name,
            email: &user.user.email,
            notice: None,
            errors: ProfileErrors {
                name: Some(problem),
                ..ProfileErrors::default()
            },
        };
        return Ok(render(&page)?.into_response());
    }
    let mut tx = state.store.begin_tenant(user.tenant.id).await?;
    store::end_users::update_name(&mut tx, user.user.id, name).await?;
    tx.commit().await?;
    Ok(Redirect::to("/account?saved=name").into_response())
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

/// Changes the password (the current one is required): every other session ends, this
/// browser gets a fresh one, and the `user.password_changed` mail goes out.
pub async fn change_password(
    State(state): State<AppState>,
    user: SignedInUser,
    CsrfToken(csrf): CsrfToken,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    jar: CookieJar,
    CsrfForm(form): CsrfForm<ChangePasswordForm>,
) -> Result<Response, PageError> {
    let attempt = SignInAttempt::new(
        account_key(&user.tenant, &user.user.email),
        client.map(|c| c.0.0),
    );
    let problems = check_password_change(
        &state,
        &attempt,
        user.user.password_hash.as_deref(),
        &PasswordChange {
            current: &form.current,
            new: &form.password,
            confirm: &form.confirm,
        },
        min_password_length(&state, user.tenant.id).await?,
        &[&user.user.email, &user.user.name],
    )
    .await?;
    let errors = ProfileErrors {
        current: problems.current,
        password: problems.new,
        confirm: problems.confirm,
        ..ProfileErrors::default()
    };
    if errors.current.is_some() || errors.password.is_some() || errors.confirm.is_some() {
        let page = ProfilePage {
            brand: brand(&state, &user.tenant).await?,
            csrf: &csrf,
            name: &user.user.name,
            email: &user.user.email,
            notice: None,
            errors,
        };
        return Ok(render(&page)?.into_response());
    }
    let hash = state
        .passwords
        .hash(&form.password)
        .await
        .map_err(internal)?;
    let mut tx = state.store.begin_tenant(user.tenant.id).await?;
    store::end_users::set_password(&mut tx, user.user.id, &hash).await?;
    // Dated after the revocation, so this browser's new session survives it.
    let signed_in_at = store::end_users::record_sign_in(&mut tx, user.user.id, None).await?;
    queue_password_changed(&state, &mut tx, &user.tenant, &user.user, signed_in_at).await?;
    tx.commit().await?;
    attempt.succeeded(&state).await;
    let jar = sign_in(&state, &user.tenant, jar, user.user.id, signed_in_at).await?;
    Ok((jar, Redirect::to("/account?saved=password")).into_response())
}

// ---------------------------------------------------------------------------------------
// Invitations (agents invite end users; see `crate::users::invite`)

#[derive(Template)]
#[template(path = "account_invitation.html")]
struct InvitationPage<'a> {
    brand: Brand,
    csrf: &'a str,
    name: &'a str,
    email: &'a str,
    min_password_chars: usize,
    error: Option<String>,
}

fn invitation_expired() -> PageError {
    PageError::Forbidden(
        "This invitation link has expired or was already used. If you set your password, sign \
         in; otherwise ask the team that invited you for a new invitation."
            .into(),
    )
}

/// The page an invitation link opens: choose a password. Opening it changes nothing.
pub async fn invitation_form(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Path(secret): Path<String>,
) -> Result<Html<String>, PageError> {
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let user = crate::users::invited_holder(&mut tx, &secret)
        .await?
        .ok_or_else(invitation_expired)?;
    tx.commit().await?;
    render(&InvitationPage {
        brand: brand(&state, &tenant).await?,
        csrf: &csrf,
        name: &user.name,
        email: &user.email,
        min_password_chars: min_password_length(&state, tenant.id).await?,
        error: None,
    })
}

/// Accepts the invitation: the link is used up, the password set, the account active.
pub async fn accept_invitation(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Path(secret): Path<String>,
    CsrfForm(form): CsrfForm<ConfirmPasswordForm>,
) -> Result<Response, PageError> {
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let user = crate::users::invited_holder(&mut tx, &secret)
        .await?
        .ok_or_else(invitation_expired)?;
    let min_chars = min_password_length(&state, tenant.id).await?;
    let problem = if let Err(why) =
        check_new_password(&form.password, min_chars, &[&user.email, &user.name])
    {
        Some(format!("The password {why}."))
    } else if form.password != form.confirm {
        Some("The two passwords are not the same.".to_owned())
    } else {
        None
    };
    if let Some(error) = problem {
        tx.commit().await?;
        let page = InvitationPage {
            brand: brand(&state, &tenant).await?,
            csrf: &csrf,
            name: &user.name,
            email: &user.email,
            min_password_chars: min_chars,
            error: Some(error),
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
    }
    let hash = state
        .passwords
        .hash(&form.password)
        .await
        .map_err(internal)?;
    if store::auth_tokens::consume(&mut tx, Purpose::UserInvitation, &secret)
        .await?
        .is_none()
    {
        return Err(invitation_expired());
    }
    store::end_users::set_password(&mut tx, user.id, &hash).await?;
    tx.commit().await?;
    Ok(Redirect::to("/login?invited=1").into_response())
}

#[derive(Deserialize)]
pub struct ConfirmPasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}
