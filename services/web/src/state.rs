//! The application state every handler receives: cheap to clone, one `Arc` inside.

use std::ops::Deref;
use std::sync::Arc;

use domain::{BaseUrl, EmailAddress};
use store::Store;

use crate::auth::passwords::Passwords;
use crate::auth::rate_limit::RateLimiter;
use crate::auth::sessions::Sessions;
use crate::settings_cache::SettingsCache;
use crate::tenancy::TenantResolver;

/// Settings of the web layer that come from the command line or environment.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// The public address: the base domain is the platform's site, tenants live under it,
    /// and links in mail start with it. `https` makes cookies `Secure` with the `__Host-` prefix.
    pub base_url: BaseUrl,
    /// The Redis channel cache invalidations travel on.
    pub invalidation_channel: String,
    /// The platform's sending address: From of every mail whose tenant has no verified
    /// support address, and the domain of every Message-ID.
    pub mail_from: EmailAddress,
    /// Where the worker writes mail when no SMTP server is configured (read at `/mailbox`).
    pub mailbox_dir: Option<std::path::PathBuf>,
    /// How large a CSV import may be (bytes and rows).
    pub import_limits: crate::imports::ImportLimits,
    /// Seals sign-in provider secrets at rest (`TENANTDESK_SECRET_KEY`); Debug hides it.
    pub secret_key: crate::sign_in::secrets::SecretKey,
}

impl WebConfig {
    /// Served over HTTPS: cookies get `Secure` and the `__Host-` prefix.
    pub fn secure_cookies(&self) -> bool {
        self.base_url.is_https()
    }
}

pub struct App {
    pub store: Store,
    pub tenants: TenantResolver,
    pub settings: SettingsCache,
    pub passwords: Passwords,
    pub sessions: Sessions,
    pub limits: RateLimiter,
    /// Set when REDIS_URL is: cache invalidations reach every instance through it.
    pub redis: Option<redis::Client>,
    /// Where ticket attachments are kept (a directory or S3-compatible storage).
    pub attachments: crate::attachments::AttachmentStore,
    pub config: WebConfig,
}

#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl AppState {
    pub fn new(app: App) -> Self {
        crate::ticket_notifications::register_origin(&app.config);
        Self(Arc::new(app))
    }
}

impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}
