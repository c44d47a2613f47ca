//! Accounts signed in through an external provider, whatever its kind: linking a provider's
//! subject to an agent or end user, linking by verified email, just-in-time provisioning with
//! the provider's role, organization and groups, and the attribute map (osTicket's account
//! import). Everything runs in the caller's tenant transaction, so nothing crosses tenants
//! and a refusal writes nothing once the caller rolls back.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use domain::{BuiltinRole, EmailAddress, Validity};
use serde_json::Value;
use store::TenantTx;
use store::agents::AgentStatus;
use store::customer_groups::GroupPermission;
use store::end_users::EndUserStatus;
use store::organizations::MembershipChange;
use store::sign_in_providers::{LinkedAccount, SignInAudience, SignInProvider};
use store::tenancy::Tenant;
use store::user_directory::{Actor, Profile};
use uuid::Uuid;

use crate::AppState;
use crate::auth::sessions::PrincipalKind;
use crate::auth::{session_cookie, start_session as start_principal_session};
use crate::error::PageError;
use crate::pages::{Brand, ErrorPage};

/// What a provider says about the person signing in.
#[derive(Clone, Debug, Default)]
pub struct ExternalIdentity {
    /// Stable id at the provider (OIDC `sub`, LDAP DN, the trusted header's value).
    pub subject: String,
    pub email: Option<String>,
    /// LDAP and trusted header: true (the directory is the authority).
    pub email_verified: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Raw claims or attributes by name, which the provider's attribute map reads.
    pub attributes: BTreeMap<String, String>,
}

/// Who signed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignedIn {
    Agent(Uuid),
    EndUser(Uuid),
}

/// Why an external sign-in is refused; each ends on a clear page and writes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInRefusal {
    /// The email's domain is not among the provider's allowed domains.
    DomainNotAllowed,
    /// Linking or creating by email needs the provider to vouch for the address.
    EmailNotVerified,
    /// No account and the provider does not create one.
    NoAccount,
    /// The account is disabled, locked or marked invalid.
    AccountInvalid,
    /// The identity is linked to the other kind of account (an agent on the portal, ...).
    WrongAudience,
}

impl SignInRefusal {
    /// For the clear error page.
    pub fn message(&self) -> &'static str {
        match self {
            Self::DomainNotAllowed => {
                "Your email address's domain may not sign in through this provider. Please contact the help desk."
            }
            Self::EmailNotVerified => {
                "The sign-in provider did not confirm your email address, so it cannot be linked to an account here. Please contact the help desk."
            }
            Self::NoAccount => {
                "There is no account for you here yet. Please contact the help desk to have one created."
            }
            Self::AccountInvalid => {
                "This account is not in use at the moment. Please contact the help desk."
            }
            Self::WrongAudience => {
                "This sign-in belongs to another kind of account. Please use the other sign-in page, or contact the help desk."
            }
        }
    }
}

fn email_domain(email: &str) -> Option<String> {
    email
        .rsplit_once('@')
        .map(|(_, domain)| domain.trim().to_lowercase())
        .filter(|domain| !domain.is_empty())
}

/// Finds the account linked to (provider, subject); else links by email when verified and the
/// domain allowed; else creates it when the provider provisions just in time; applies the
/// attribute map (on creation, and on every sign-in when update_on_sign_in). Never crosses
/// tenants: every read and write goes through `tx`, whose tenant is the provider's.
pub async fn sign_in_external(
    tx: &mut TenantTx,
    provider: &SignInProvider,
    who: SignInAudience,
    identity: &ExternalIdentity,
) -> Result<Result<SignedIn, SignInRefusal>, store::StoreError> {
    if !provider.audience.includes(who) {
        return Ok(Err(SignInRefusal::WrongAudience));
    }
    let email = identity
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .and_then(|e| EmailAddress::parse(e).ok());
    // The allowed domains hold for every sign-in, linked or not: an admin who narrows them
    // shuts out the other domains at once.
    if !provider.allowed_domains.is_empty() {
        let allowed = email
            .as_ref()
            .and_then(|e| email_domain(e.as_str()))
            .is_some_and(|domain| provider.allows_domain(&domain));
        if !allowed {
            return Ok(Err(SignInRefusal::DomainNotAllowed));
        }
    }

    let linked = store::sign_in_providers::identity(tx, provider.id, &identity.subject).await?;
    let (account, created) = match (linked, who) {
        (Some(LinkedAccount::Agent(id)), SignInAudience::Agents) => (SignedIn::Agent(id), false),
        (Some(LinkedAccount::EndUser(id)), SignInAudience::EndUsers) => {
            (SignedIn::EndUser(id), false)
        }
        (Some(_), _) => return Ok(Err(SignInRefusal::WrongAudience)),
        (None, _) => {
            let Some(email) = email.as_ref() else {
                return Ok(Err(SignInRefusal::NoAccount));
            };
            match find_by_email(tx, who, email).await? {
                Some(account) if identity.email_verified => (account, false),
                Some(_) => return Ok(Err(SignInRefusal::EmailNotVerified)),
                None if !provider.jit_provisioning => return Ok(Err(SignInRefusal::NoAccount)),
                None if !identity.email_verified => {
                    return Ok(Err(SignInRefusal::EmailNotVerified));
                }
                None => (create(tx, provider, who, email, identity).await?, true),
            }
        }
    };

    match account {
        SignedIn::Agent(id) => {
            let Some(agent) = store::agents::by_id(tx, id).await? else {
                return Ok(Err(SignInRefusal::NoAccount));
            };
            // An invited agent proves who they are through the provider as well as by the
            // invitation link; a disabled one stays out.
            if agent.status == AgentStatus::Disabled {
                return Ok(Err(SignInRefusal::AccountInvalid));
            }
            if agent.status == AgentStatus::Invited {
                store::sign_in_providers::activate_invited_agent(tx, id).await?;
            }
            if created || provider.update_on_sign_in {
                apply_to_agent(tx, provider, id, &agent.name, identity).await?;
            }
            store::sign_in_providers::link_identity(
                tx,
                provider.id,
                &identity.subject,
                LinkedAccount::Agent(id),
            )
            .await?;
            store::agents::record_sign_in(tx, id, None).await?;
        }
        SignedIn::EndUser(id) => {
            let Some(record) = store::user_directory::by_id(tx, id).await? else {
                return Ok(Err(SignInRefusal::NoAccount));
            };
            if record.erased_at.is_some()
                || record.validity != Validity::Valid
                || record.status == EndUserStatus::Locked
            {
                return Ok(Err(SignInRefusal::AccountInvalid));
            }
            if created || provider.update_on_sign_in {
                apply_to_end_user(tx, provider, &record, identity).await?;
                // The map may have marked the person invalid.
                if let Some(after) = store::user_directory::by_id(tx, id).await?
                    && after.validity != Validity::Valid
                {
                    return Ok(Err(SignInRefusal::AccountInvalid));
                }
            }
            store::sign_in_providers::activate_guest_end_user(tx, id).await?;
            store::sign_in_providers::link_identity(
                tx,
                provider.id,
                &identity.subject,
                LinkedAccount::EndUser(id),
            )
            .await?;
            store::end_users::record_sign_in(tx, id, None).await?;
        }
    }
    Ok(Ok(account))
}

async fn find_by_email(
    tx: &mut TenantTx,
    who: SignInAudience,
    email: &EmailAddress,
) -> Result<Option<SignedIn>, store::StoreError> {
    Ok(match who {
        SignInAudience::Agents => store::agents::by_email(tx, email.as_str())
            .await?
            .map(|a| SignedIn::Agent(a.id)),
        SignInAudience::EndUsers => store::end_users::by_email(tx, email.as_str())
            .await?
            .map(|u| SignedIn::EndUser(u.id)),
    })
}

/// The name a new account gets: the provider's names, else the address's local part.
fn names(identity: &ExternalIdentity, email: &EmailAddress) -> (String, String) {
    let first = identity
        .first_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let last = identity
        .last_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or_default();
    let first = first.map_or_else(
        || {
            email
                .as_str()
                .split('@')
                .next()
                .unwrap_or("user")
                .to_owned()
        },
        str::to_owned,
    );
    (
        first.chars().take(100).collect(),
        last.chars().take(100).collect(),
    )
}

async fn create(
    tx: &mut TenantTx,
    provider: &SignInProvider,
    who: SignInAudience,
    email: &EmailAddress,
    identity: &ExternalIdentity,
) -> Result<SignedIn, store::StoreError> {
    let (first, last) = names(identity, email);
    match who {
        SignInAudience::Agents => {
            let role_id = match provider.jit_role_id {
                Some(role) => role,
                None => {
                    store::agents::builtin_role(tx, BuiltinRole::Agent)
                        .await?
                        .id
                }
            };
            let name = format!("{first} {last}");
            let id =
                store::sign_in_providers::create_external_agent(tx, &name, email, role_id).await?;
            Ok(SignedIn::Agent(id))
        }
        SignInAudience::EndUsers => {
            let profile = Profile {
                first_name: first,
                last_name: last,
                email: email.as_str().to_owned(),
                ..Default::default()
            };
            let record = store::user_directory::create(tx, &profile, Actor::System).await?;
            if let Some(organization) = provider.jit_organization_id {
                let joined = store::organizations::put_member(
                    tx,
                    organization,
                    record.id,
                    MembershipChange {
                        primary: Some(true),
                        primary_contact: None,
                    },
                )
                .await;
                match joined {
                    Ok(_) | Err(store::organizations::MembershipError::NotFound) => {}
                    Err(store::organizations::MembershipError::Store(error)) => return Err(error),
                }
            }
            for group in &provider.jit_group_ids {
                store::customer_groups::grant_to_user(tx, *group, record.id, GroupPermission::Rw)
                    .await?;
            }
            Ok(SignedIn::EndUser(record.id))
        }
    }
}

/// The provider attribute values mapped to each user field name.
fn mapped_values<'a>(
    provider: &'a SignInProvider,
    identity: &'a ExternalIdentity,
) -> Vec<(&'a str, &'a str)> {
    let Some(map) = provider.attribute_map.as_object() else {
        return Vec::new();
    };
    map.iter()
        .filter_map(|(attribute, field)| {
            let field = field.as_str()?;
            // An exact name first (OIDC claims are case-sensitive); else ignoring case, as LDAP
            // attribute names are (`telephonenumber` maps `telephoneNumber`).
            let value = identity.attributes.get(attribute).or_else(|| {
                identity
                    .attributes
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(attribute))
                    .map(|(_, value)| value)
            })?;
            Some((field, value.as_str()))
        })
        .collect()
}

async fn apply_to_agent(
    tx: &mut TenantTx,
    provider: &SignInProvider,
    id: Uuid,
    current_name: &str,
    identity: &ExternalIdentity,
) -> Result<(), store::StoreError> {
    // Agents keep one name; the first and last names map into it.
    let (current_first, current_last) = current_name.rsplit_once(' ').unwrap_or((current_name, ""));
    let mut first = identity
        .first_name
        .clone()
        .unwrap_or_else(|| current_first.to_owned());
    let mut last = identity
        .last_name
        .clone()
        .unwrap_or_else(|| current_last.to_owned());
    for (field, value) in mapped_values(provider, identity) {
        match field {
            "first_name" => first = value.to_owned(),
            "last_name" => last = value.to_owned(),
            _ => {}
        }
    }
    let name: String = format!("{} {}", first.trim(), last.trim())
        .trim()
        .chars()
        .take(100)
        .collect();
    if !name.is_empty() {
        store::sign_in_providers::set_agent_name(tx, id, &name).await?;
    }
    Ok(())
}

async fn apply_to_end_user(
    tx: &mut TenantTx,
    provider: &SignInProvider,
    record: &store::user_directory::UserRecord,
    identity: &ExternalIdentity,
) -> Result<(), store::StoreError> {
    let mut profile = record.profile.clone();
    if let Some(first) = identity
        .first_name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
    {
        let _ = profile.set_text("first_name", first);
    }
    if let Some(last) = identity
        .last_name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
    {
        let _ = profile.set_text("last_name", last);
    }
    for (field, value) in mapped_values(provider, identity) {
        if let Some(key) = field.strip_prefix("custom.") {
            profile
                .custom
                .insert(key.to_owned(), Value::String(value.to_owned()));
        } else if field == "email" {
            // The address is the identity's, and changing it here could take over another
            // account's address; it is left as it is.
        } else if let Err(problem) = profile.set_text(field, value) {
            // The value itself stays out of the log (it is personal data).
            tracing::warn!(
                provider.id = %provider.id,
                field,
                problem,
                "a mapped attribute was not applied"
            );
        }
    }
    if profile_differs(&profile, &record.profile) {
        store::user_directory::update(tx, record.id, record.version, &profile, Actor::System)
            .await?;
    }
    // Fields the provider rewrites at every sign-in are its to keep: the directory shows them
    // read-only with their source, and refuses edits that the next sign-in would undo.
    let mut kept: Vec<String> = Vec::new();
    if provider.update_on_sign_in {
        if identity
            .first_name
            .as_deref()
            .is_some_and(|n| !n.trim().is_empty())
        {
            kept.push("first_name".into());
        }
        if identity
            .last_name
            .as_deref()
            .is_some_and(|n| !n.trim().is_empty())
        {
            kept.push("last_name".into());
        }
        kept.extend(
            mapped_values(provider, identity)
                .into_iter()
                .map(|(field, _)| field.to_owned())
                .filter(|field| field != "email"),
        );
    }
    store::user_directory::set_directory_fields(tx, record.id, &provider.name, &kept).await?;
    Ok(())
}

fn profile_differs(a: &Profile, b: &Profile) -> bool {
    store::user_directory::PROFILE_FIELDS
        .iter()
        .any(|field| a.text(field) != b.text(field))
        || a.custom != b.custom
}

/// Starts the session for the signed-in principal exactly as password sign-in does (cookie,
/// rotation) and redirects to `next` (a same-site path) or the audience's home.
pub async fn start_session(
    state: &AppState,
    tenant: &Tenant,
    jar: CookieJar,
    signed_in: SignedIn,
    next: Option<&str>,
) -> Result<Response, PageError> {
    let (kind, id, home) = match signed_in {
        SignedIn::Agent(id) => (PrincipalKind::Agent, id, "/agent"),
        SignedIn::EndUser(id) => (PrincipalKind::EndUser, id, "/"),
    };
    // Dated by the database's clock, like a password sign-in, so that a revocation earlier in
    // this request (sessions_valid_after) does not end the new session.
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let signed_in_at = store::agents::session_clock(&mut tx).await?;
    tx.commit().await?;
    let token = start_principal_session(state, kind, Some(tenant), id, signed_in_at).await?;
    // A fresh token at every sign-in: a session id planted before sign-in is worth nothing.
    if let Some(old) = jar.get(kind.cookie_name(state.config.secure_cookies())) {
        let _ = state.sessions.end(old.value()).await;
    }
    let jar = jar.add(session_cookie(state, kind, token));
    let target = next.filter(|n| local_path(n)).unwrap_or(home);
    Ok((jar, Redirect::to(target)).into_response())
}

/// Only paths of this site, so a sign-in link cannot send anyone elsewhere.
pub fn local_path(next: &str) -> bool {
    next.starts_with('/') && !next.starts_with("//") && !next.contains('\\')
}

/// The clear page for a refused or failed external sign-in (never a 500 for a provider's error).
pub fn refusal_page(state: &AppState, tenant: &Tenant, message: &str) -> Response {
    let _ = state;
    let brand = Brand {
        name: tenant.name.as_str().to_owned(),
        ..Brand::platform()
    };
    let page = ErrorPage {
        brand,
        title: "Sign-in failed",
        message,
    };
    match crate::pages::render(&page) {
        Ok(html) => (StatusCode::FORBIDDEN, html).into_response(),
        Err(_) => (StatusCode::FORBIDDEN, message.to_owned()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_what_to_do() {
        assert!(
            SignInRefusal::AccountInvalid
                .message()
                .contains("contact the help desk")
        );
        assert_eq!(
            email_domain("Ada@Example.COM").as_deref(),
            Some("example.com")
        );
        assert_eq!(email_domain("nobody"), None);
    }

    #[test]
    fn only_local_paths_are_followed() {
        assert!(local_path("/agent/tickets"));
        assert!(!local_path("//evil.example"));
        assert!(!local_path("https://evil.example"));
        assert!(!local_path("/\\evil"));
    }
}
