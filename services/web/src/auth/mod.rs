//! Who is signed in: password hashing, sessions, CSRF, rate limits, and the extractors that
//! give handlers a signed-in agent (with its permissions) or refuse.

pub mod csrf;
pub mod passwords;
pub mod rate_limit;
pub mod sessions;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use domain::Permission;
use store::agents::{Agent, AgentStatus};
use store::tenancy::Tenant;

use crate::AppState;
use crate::error::PageError;
use crate::tenancy::CurrentTenant;
use sessions::{PrincipalKind, Session};

/// A session cookie for `kind`: host-only (no Domain), HttpOnly, SameSite=Lax, Secure under HTTPS.
pub fn session_cookie(state: &AppState, kind: PrincipalKind, token: String) -> Cookie<'static> {
    Cookie::build((kind.cookie_name(state.config.secure_cookies()), token))
        .path("/")
        .http_only(true)
        .secure(state.config.secure_cookies())
        .same_site(SameSite::Lax)
        .build()
}

/// The expired cookie that removes the session cookie of `kind`.
pub fn removal_cookie(state: &AppState, kind: PrincipalKind) -> Cookie<'static> {
    let mut cookie = session_cookie(state, kind, String::new());
    cookie.make_removal();
    cookie
}

/// The session token and session of `kind` this request carries, if live.
pub async fn session_of(
    parts: &Parts,
    state: &AppState,
    kind: PrincipalKind,
) -> Result<Option<(String, Session)>, PageError> {
    sessions::session_of_jar(&CookieJar::from_headers(&parts.headers), state, kind).await
}

/// An active agent of this host's tenant with a live session. A session of another tenant,
/// of a disabled agent, or begun before a password change is no session at all.
pub struct SignedInAgent {
    pub agent: Agent,
    pub tenant: Tenant,
    pub session_token: String,
}

impl SignedInAgent {
    /// Refuses with 403 unless the agent's role holds `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), PageError> {
        if self.agent.can(permission) {
            Ok(())
        } else {
            Err(PageError::Forbidden(format!(
                "Your role ({}) does not allow this: it needs the permission \"{}\".",
                self.agent.role.name,
                permission.description()
            )))
        }
    }
}

impl FromRequestParts<AppState> for SignedInAgent {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let CurrentTenant(tenant) = parts
            .extensions
            .get::<CurrentTenant>()
            .cloned()
            .ok_or(PageError::NotFound)?;
        let sign_in = || PageError::SignInRequired {
            login: "/agent/login",
            next: parts.uri.path().to_owned(),
        };
        let Some((session_token, session)) = session_of(parts, state, PrincipalKind::Agent).await?
        else {
            return Err(sign_in());
        };
        if session.tenant_id != Some(tenant.id.as_uuid()) {
            return Err(sign_in());
        }
        let mut tx = state.store.begin_tenant(tenant.id).await?;
        let agent = store::agents::by_id(&mut tx, session.principal_id).await?;
        tx.commit().await?;
        let Some(agent) = agent.filter(|a| {
            a.status == AgentStatus::Active && session.created_at >= a.sessions_valid_after
        }) else {
            return Err(sign_in());
        };
        // A temporary password set by an admin: nothing but the password change until then.
        if agent.must_change_password && !password_change_allowed(parts) {
            return Err(PageError::SignInRequired {
                login: "/agent/profile",
                next: parts.uri.path().to_owned(),
            });
        }
        Ok(Self {
            agent,
            tenant,
            session_token,
        })
    }
}

/// What an agent who must change their password may still open: the profile page with the
/// password form, the password change itself, and signing out.
fn password_change_allowed(parts: &Parts) -> bool {
    match parts.uri.path() {
        "/agent/profile" => parts.method == axum::http::Method::GET,
        "/agent/profile/password" | "/agent/logout" | "/agent/logout-everywhere" => true,
        _ => false,
    }
}

/// Starts a session for a principal; the token goes into the cookie. `signed_in_at` is the
/// database's clock at sign-in, the same clock `sessions_valid_after` is set by.
pub async fn start_session(
    state: &AppState,
    kind: PrincipalKind,
    tenant: Option<&Tenant>,
    principal_id: uuid::Uuid,
    signed_in_at: chrono::DateTime<chrono::Utc>,
) -> Result<String, PageError> {
    let session = Session {
        kind,
        tenant_id: tenant.map(|t| t.id.as_uuid()),
        principal_id,
        created_at: signed_in_at,
    };
    state
        .sessions
        .create(session)
        .await
        .map_err(|e| PageError::Internal(Box::new(e)))
}

/// Failed sign-ins allowed per account, and per client address, in the window.
pub const ACCOUNT_LIMIT: rate_limit::Limit = rate_limit::Limit {
    max: 10,
    window: std::time::Duration::from_secs(15 * 60),
};
pub const ADDRESS_LIMIT: rate_limit::Limit = rate_limit::Limit {
    max: 50,
    window: std::time::Duration::from_secs(15 * 60),
};

/// The rate-limit keys of one sign-in attempt: the account and the client address.
pub struct SignInAttempt {
    account_key: String,
    address_key: String,
}

impl SignInAttempt {
    /// `account` names the account across kinds and tenants (e.g. `agent:{tenant}:{email}`).
    pub fn new(account: String, client: Option<std::net::SocketAddr>) -> Self {
        Self {
            account_key: format!("signin:{account}"),
            address_key: format!(
                "signin:addr:{}",
                client.map_or_else(|| "unknown".to_owned(), |c| c.ip().to_string())
            ),
        }
    }

    /// Refuses with 429 when the account or the address failed too often lately.
    pub async fn check(&self, state: &AppState) -> Result<(), PageError> {
        state
            .limits
            .check(&self.account_key, ACCOUNT_LIMIT)
            .await
            .map_err(|wait| PageError::TooManyRequests(wait.0))?;
        state
            .limits
            .check(&self.address_key, ADDRESS_LIMIT)
            .await
            .map_err(|wait| PageError::TooManyRequests(wait.0))
    }

    pub async fn failed(&self, state: &AppState) {
        state.limits.record(&self.account_key, ACCOUNT_LIMIT).await;
        state.limits.record(&self.address_key, ADDRESS_LIMIT).await;
    }

    pub async fn succeeded(&self, state: &AppState) {
        state.limits.clear(&self.account_key).await;
    }

    /// Unlocks `account` (named as for [`SignInAttempt::new`]) at once: its failed sign-ins
    /// are forgotten, as after a successful sign-in. For admins helping a locked-out person.
    pub async fn unlock(state: &AppState, account: String) {
        Self::new(account, None).succeeded(state).await;
    }
}

/// A signed-in platform operator (base domain only).
pub struct SignedInOperator {
    pub operator: store::operators::Operator,
    pub session_token: String,
}

impl FromRequestParts<AppState> for SignedInOperator {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let sign_in = || PageError::SignInRequired {
            login: "/login",
            next: parts.uri.path().to_owned(),
        };
        let Some((session_token, session)) =
            session_of(parts, state, PrincipalKind::Operator).await?
        else {
            return Err(sign_in());
        };
        if session.tenant_id.is_some() {
            return Err(sign_in());
        }
        let operator = state.store.operator_by_id(session.principal_id).await?;
        let Some(operator) = operator.filter(|o| session.created_at >= o.sessions_valid_after)
        else {
            return Err(sign_in());
        };
        Ok(Self {
            operator,
            session_token,
        })
    }
}

/// The three fields of a password-change form, as a person filled them in.
pub struct PasswordChange<'a> {
    pub current: &'a str,
    pub new: &'a str,
    pub confirm: &'a str,
}

/// What is wrong with a password change, field by field; all `None` means go ahead.
#[derive(Default)]
pub struct PasswordChangeProblems {
    pub current: Option<String>,
    pub new: Option<String>,
    pub confirm: Option<String>,
}

impl PasswordChangeProblems {
    pub fn any(&self) -> bool {
        self.current.is_some() || self.new.is_some() || self.confirm.is_some()
    }
}

/// Checks a signed-in person's password change: the current password (a wrong one counts as
/// a failed sign-in of `attempt`), the new one against the tenant's rules and the person's own
/// name and address, and the confirmation.
pub async fn check_password_change(
    state: &AppState,
    attempt: &SignInAttempt,
    stored_hash: Option<&str>,
    change: &PasswordChange<'_>,
    min_length: usize,
    personal: &[&str],
) -> Result<PasswordChangeProblems, PageError> {
    attempt.check(state).await?;
    let verified = state
        .passwords
        .verify(change.current, stored_hash)
        .await
        .map_err(|e| PageError::Internal(Box::new(e)))?;
    let mut problems = PasswordChangeProblems::default();
    if verified == passwords::Verified::No {
        attempt.failed(state).await;
        problems.current = Some("This is not your current password.".to_owned());
    }
    if let Err(why) = passwords::check_new_password(change.new, min_length, personal) {
        problems.new = Some(format!("The new password {why}."));
    } else if change.new != change.confirm {
        problems.confirm = Some("The two new passwords are not the same.".to_owned());
    }
    Ok(problems)
}
