//! End-user accounts as a workflow an agent drives, next to [`crate::agents`]: inviting an end
//! user creates the account (or turns the guest with that address into it, keeping their
//! tickets), a single-use link and the `user.invitation` mail in one transaction ([`invite`]).
//! Agents may invite in every registration mode; in the private modes it is the only way in.

use std::time::Duration;

use domain::{BaseUrl, EmailAddress};
use serde_json::json;
use store::auth_tokens::{Holder, Purpose};
use store::end_users::{EndUser, EndUserStatus, NewEndUser};
use store::tenancy::Tenant;
use store::{StoreError, TenantTx};

use crate::mailer::{self, Event, Mail, MailerError, Sender};

/// How long an end user's invitation link stays valid.
pub const INVITATION_VALID_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

/// Why [`invite`] refused.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    /// The address already belongs to an active or locked account.
    #[error("{ALREADY_AN_ACCOUNT}")]
    AlreadyAnAccount,
    #[error(transparent)]
    Mailer(#[from] MailerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`InviteError::AlreadyAnAccount`] tells people.
pub const ALREADY_AN_ACCOUNT: &str = "This address already has an account. Send them a password \
     reset link instead if they cannot sign in.";

/// Invites an end user: a new pending account, or the guest (or unconfirmed) row with this
/// address made pending, and the `user.invitation` mail with the link that sets the password.
/// Nothing exists unless the caller commits `tx`.
pub async fn invite(
    tx: &mut TenantTx,
    tenant: &Tenant,
    base_url: &BaseUrl,
    platform_from: &EmailAddress,
    name: &str,
    email: &EmailAddress,
) -> Result<EndUser, InviteError> {
    let user = match store::end_users::by_email(tx, email.as_str()).await? {
        None => {
            store::end_users::create(
                tx,
                &NewEndUser {
                    name,
                    email,
                    status: EndUserStatus::Pending,
                    password_hash: None,
                },
            )
            .await?
        }
        Some(user) if matches!(user.status, EndUserStatus::Guest | EndUserStatus::Pending) => {
            if !store::end_users::begin_invitation(tx, user.id).await? {
                return Err(InviteError::AlreadyAnAccount);
            }
            user
        }
        Some(_) => return Err(InviteError::AlreadyAnAccount),
    };
    let secret = store::auth_tokens::issue(
        tx,
        Purpose::UserInvitation,
        Holder::EndUser(user.id),
        INVITATION_VALID_FOR,
    )
    .await?;
    let settings = store::settings::load(tx).await?;
    let portal = base_url.tenant_origin(tenant.slug.as_str());
    let recipient = EmailAddress::parse(&user.email).unwrap_or_else(|_| email.clone());
    let context = json!({
        "user": {"name": user.name, "email": user.email},
        "invitation_url": format!("{portal}/invitation/{secret}"),
        "expires_in_hours": INVITATION_VALID_FOR.as_secs() / 3600,
    });
    let sender = Sender {
        settings: &settings,
        platform_from,
        portal_url: &portal,
    };
    mailer::queue(
        tx,
        &sender,
        Mail {
            event: Event::UserInvitation,
            locale: None,
            recipient: &recipient,
            context,
        },
    )
    .await?;
    Ok(user)
}

/// The invited end user a live invitation link belongs to: a guest or pending row (an account
/// that is active or locked already has its password, so the link is spent).
pub async fn invited_holder(
    tx: &mut TenantTx,
    secret: &str,
) -> Result<Option<EndUser>, StoreError> {
    let Some(Holder::EndUser(id)) =
        store::auth_tokens::peek(tx, Purpose::UserInvitation, secret).await?
    else {
        return Ok(None);
    };
    Ok(store::end_users::by_id(tx, id)
        .await?
        .filter(|u| matches!(u.status, EndUserStatus::Guest | EndUserStatus::Pending)))
}
