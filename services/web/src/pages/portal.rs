//! The customer portal at `/` of a tenant's host.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use axum_extra::extract::CookieJar;

use crate::AppState;
use crate::auth::csrf::CsrfToken;
use crate::error::PageError;
use crate::pages::account::{RegistrationMode, SignedInUser};
use crate::pages::{Brand, render};
use crate::tenancy::CurrentTenant;

#[derive(Template)]
#[template(path = "portal_home.html")]
struct PortalHome<'a> {
    brand: Brand,
    csrf: &'a str,
    /// Rendered by `WelcomeText::to_html`, which escapes raw HTML.
    welcome_html: String,
    /// The signed-in end user's name, if someone is signed in.
    user_name: Option<String>,
    /// The registration mode allows creating an account here.
    registration_open: bool,
    /// What the mode says about opening requests.
    tickets_sentence: &'static str,
}

/// The portal's home: the welcome text and only the account actions the registration mode
/// allows (Register in public modes; Sign in always, for accounts that exist; the profile
/// when signed in).
pub async fn home(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    jar: CookieJar,
) -> Result<Html<String>, PageError> {
    let settings = state.settings.get(&state.store, tenant.id).await?;
    let mode = RegistrationMode::of(&settings);
    let user = SignedInUser::from_jar(&state, &jar, &tenant).await?;
    render(&PortalHome {
        brand: Brand::from(settings.as_ref()),
        csrf: &csrf,
        welcome_html: settings.welcome_text.to_html(),
        user_name: user.map(|u| u.user.name),
        registration_open: mode.registration_open(),
        tickets_sentence: mode.tickets_sentence(),
    })
}

/// Any path of a tenant's host that no route claims.
pub async fn not_found() -> PageError {
    PageError::NotFound
}
