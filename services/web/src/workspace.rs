//! Saving workspace settings as a workflow, shared by the settings API and the admin page: the
//! versioned update and, when a new support address was set, the mail that verifies it, in the
//! caller's transaction. Until verified, mail comes from the platform's address with the
//! support address as Reply-To.

use std::time::Duration;

use serde_json::json;
use store::TenantTx;
use store::auth_tokens::Purpose;
use store::settings::{SettingsChange, UpdateError, WorkspaceSettings};
use store::tenancy::Tenant;

use crate::WebConfig;
use crate::mailer::{self, Event, Mail, MailerError, Sender};

/// How long a support address verification link stays valid.
pub const VERIFICATION_VALID_FOR: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error(transparent)]
    Update(#[from] UpdateError),
    #[error(transparent)]
    Mail(#[from] MailerError),
}

impl From<store::StoreError> for SaveError {
    fn from(error: store::StoreError) -> Self {
        Self::Update(UpdateError::Store(error))
    }
}

/// Applies `change` (see `store::settings::update`) and queues the verification mail when the
/// change set a support address that is not verified yet.
pub async fn save_settings(
    tx: &mut TenantTx,
    config: &WebConfig,
    tenant: &Tenant,
    change: &SettingsChange,
    expected_version: Option<i64>,
) -> Result<WorkspaceSettings, SaveError> {
    let saved = store::settings::update(tx, change, expected_version).await?;
    if let (Some(Some(_)), Some(address), false) = (
        &change.support_email,
        &saved.support_email,
        saved.support_email_verified,
    ) {
        let secret = store::auth_tokens::issue_for_address(
            tx,
            Purpose::SupportEmailVerification,
            address,
            VERIFICATION_VALID_FOR,
        )
        .await?;
        let portal = mailer::portal_url(config, tenant);
        let context = json!({
            "verify_url": format!("{portal}/support-email/verify/{secret}"),
            "expires_in_hours": VERIFICATION_VALID_FOR.as_secs() / 3600,
        });
        let sender = Sender {
            settings: &saved,
            platform_from: &config.mail_from,
            portal_url: &portal,
        };
        let mail = Mail {
            event: Event::SupportEmailVerification,
            locale: None,
            recipient: address,
            context,
        };
        mailer::queue(tx, &sender, mail).await?;
    }
    Ok(saved)
}
