//! Server-rendered pages (askama): the brand every page wears and the pages themselves.

pub mod account;
pub mod admin;
pub mod admin_fields;
pub mod admin_groups;
pub mod admin_identity;
pub mod admin_portal;
pub mod admin_sign_in;
pub mod admin_ticket_rules;
pub mod admin_tickets;
pub mod admin_users;
pub mod agent;
pub mod attachments;
pub mod console;
pub mod imports;
pub mod organizations;
pub mod password_reset;
pub mod platform;
pub mod portal;
pub mod portal_tickets;
pub mod support_email;
pub mod tickets;
pub mod user_directory;

use askama::Template;
use axum::response::Html;
use store::settings::WorkspaceSettings;

use crate::error::PageError;

/// The name, colours and logo a page is drawn in.
pub struct Brand {
    pub name: String,
    pub primary_colour: String,
    pub accent_colour: String,
    pub logo_url: Option<String>,
}

impl Brand {
    /// Tenantdesk's own look, for the platform and for pages that belong to no tenant.
    pub fn platform() -> Self {
        Self {
            name: "Tenantdesk".to_owned(),
            primary_colour: "#334155".to_owned(),
            accent_colour: "#0f172a".to_owned(),
            logo_url: None,
        }
    }
}

impl From<&WorkspaceSettings> for Brand {
    fn from(settings: &WorkspaceSettings) -> Self {
        Self {
            name: settings.display_name.clone(),
            primary_colour: settings.primary_colour.to_string(),
            accent_colour: settings.accent_colour.to_string(),
            logo_url: settings
                .logo_url
                .as_ref()
                .map(|url| url.as_str().to_owned()),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub brand: Brand,
    pub title: &'a str,
    pub message: &'a str,
}

pub fn render(page: &impl Template) -> Result<Html<String>, PageError> {
    Ok(Html(page.render()?))
}

/// How long new passwords of this tenant must be (its workspace setting).
pub async fn min_password_length(
    state: &crate::AppState,
    tenant: domain::TenantId,
) -> Result<usize, PageError> {
    Ok(state
        .settings
        .get(&state.store, tenant)
        .await?
        .password_min_length)
}
