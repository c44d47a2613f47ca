//! Sign-in through a tenant's external providers (issue #8): OpenID Connect, LDAP and a
//! trusted proxy header, the account linking and just-in-time provisioning they share, and
//! the sealing of their secrets at rest.

pub mod accounts;
pub mod ldap;
pub mod oidc;
pub mod secrets;
pub mod trusted_header;

use store::sign_in_providers::{ProviderKind, SignInAudience, SignInProvider};
use store::tenancy::Tenant;

use crate::AppState;
use crate::error::PageError;
use crate::sign_in::accounts::{SignInRefusal, SignedIn};

/// A button on a sign-in page.
pub struct ProviderButton {
    pub label: String,
    pub href: String,
}

/// What a sign-in page offers its audience.
pub struct LoginOptions {
    /// One per enabled OpenID Connect or trusted-header provider, in order.
    pub buttons: Vec<ProviderButton>,
    /// Whether the password form is shown: the built-in password is on, or an LDAP
    /// directory takes the typed name and password.
    pub password_form: bool,
    /// An LDAP directory is among the providers: the name field takes usernames too.
    pub directory: bool,
    /// Some provider routes by email domain: the page offers the email-first step.
    pub email_first: bool,
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn audience_param(who: SignInAudience) -> &'static str {
    who.as_str()
}

/// Where an OIDC provider's sign-in starts for `who`.
pub fn oidc_start(provider: &SignInProvider, who: SignInAudience, next: &str) -> String {
    let mut href = format!(
        "/auth/oidc/{}/start?audience={}",
        provider.id,
        audience_param(who)
    );
    if !next.is_empty() {
        href.push_str("&next=");
        href.push_str(&encode(next));
    }
    href
}

fn header_start(who: SignInAudience, next: &str) -> String {
    let mut href = format!("/auth/header?audience={}", audience_param(who));
    if !next.is_empty() {
        href.push_str("&next=");
        href.push_str(&encode(next));
    }
    href
}

/// The enabled providers of the audience and whether its password is on.
async fn providers_for(
    state: &AppState,
    tenant: &Tenant,
    who: SignInAudience,
) -> Result<(Vec<SignInProvider>, bool), PageError> {
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let providers = store::sign_in_providers::enabled_for(&mut tx, who).await?;
    let password = store::sign_in_providers::password_sign_in(&mut tx).await?;
    tx.commit().await?;
    Ok((providers, password.allows(who)))
}

/// What the sign-in page of `who` shows.
pub async fn login_options(
    state: &AppState,
    tenant: &Tenant,
    who: SignInAudience,
    next: &str,
) -> Result<LoginOptions, PageError> {
    let (providers, password) = providers_for(state, tenant, who).await?;
    let mut buttons = Vec::new();
    let mut header_offered = false;
    for provider in &providers {
        match provider.kind {
            ProviderKind::Oidc => buttons.push(ProviderButton {
                label: provider.name.clone(),
                href: oidc_start(provider, who, next),
            }),
            // One link serves every header provider: the endpoint tries them in order.
            ProviderKind::TrustedHeader if !header_offered => {
                header_offered = true;
                buttons.push(ProviderButton {
                    label: provider.name.clone(),
                    href: header_start(who, next),
                });
            }
            _ => {}
        }
    }
    let directory = providers.iter().any(|p| p.kind == ProviderKind::Ldap);
    Ok(LoginOptions {
        buttons,
        password_form: password || directory,
        directory,
        email_first: providers
            .iter()
            .any(|p| p.kind == ProviderKind::Oidc && !p.allowed_domains.is_empty()),
    })
}

/// Home-realm discovery: the start of the first enabled OIDC provider of `who` whose allowed
/// domains include the email's domain; `None` when no provider claims it (the password form).
pub async fn email_first_target(
    state: &AppState,
    tenant: &Tenant,
    who: SignInAudience,
    email: &str,
    next: &str,
) -> Result<Option<String>, PageError> {
    let Some((_, domain)) = email.trim().rsplit_once('@') else {
        return Ok(None);
    };
    let domain = domain.trim().to_lowercase();
    if domain.is_empty() {
        return Ok(None);
    }
    let (providers, _) = providers_for(state, tenant, who).await?;
    Ok(providers
        .iter()
        .find(|p| p.kind == ProviderKind::Oidc && p.allowed_domains.contains(&domain))
        .map(|p| oidc_start(p, who, next)))
}

/// What trying the audience's LDAP directories with a typed name and password gave.
pub enum DirectoryOutcome {
    SignedIn(SignedIn),
    /// A directory knew the person but the account may not sign in (the clear page).
    Refused(SignInRefusal),
    /// A directory that refuses when unreachable could not be reached.
    Unreachable,
    /// No directory accepted the name and password.
    NoMatch,
}

/// Tries the enabled LDAP providers of `who` in order (OTRS CustomerUser1..N): an unreachable
/// directory passes to the next one unless it refuses when unreachable ("Die"); the first that
/// accepts the password signs the person in through [`accounts::sign_in_external`]. Runs only
/// when password sign-in found nobody, so the built-in password comes first.
pub async fn directory_sign_in(
    state: &AppState,
    tenant: &Tenant,
    who: SignInAudience,
    login: &str,
    password: &str,
) -> Result<DirectoryOutcome, PageError> {
    let (providers, _) = providers_for(state, tenant, who).await?;
    for provider in providers.iter().filter(|p| p.kind == ProviderKind::Ldap) {
        let Ok(settings) = serde_json::from_value::<ldap::LdapSettings>(provider.settings.clone())
        else {
            tracing::warn!(provider.id = %provider.id, "LDAP provider has unreadable settings");
            continue;
        };
        let Ok(bind_password) = secrets::provider_secret(&state.config.secret_key, provider) else {
            tracing::warn!(
                provider.id = %provider.id,
                "the LDAP bind password does not open with the configured secret key"
            );
            continue;
        };
        match ldap::authenticate(&settings, bind_password.as_deref(), login, password).await {
            Ok(found) => {
                let mut tx = state.store.begin_tenant(tenant.id).await?;
                let outcome =
                    accounts::sign_in_external(&mut tx, provider, who, &found.external()).await?;
                return Ok(match outcome {
                    Ok(signed_in) => {
                        tx.commit().await?;
                        DirectoryOutcome::SignedIn(signed_in)
                    }
                    Err(refusal) => DirectoryOutcome::Refused(refusal),
                });
            }
            Err(ldap::LdapError::Unreachable(_)) if settings.refuse_when_unreachable => {
                return Ok(DirectoryOutcome::Unreachable);
            }
            Err(ldap::LdapError::Misconfigured(_)) => {
                tracing::warn!(provider.id = %provider.id, "LDAP provider is misconfigured");
            }
            Err(_) => {}
        }
    }
    Ok(DirectoryOutcome::NoMatch)
}
