//! `/api/v1/settings`: the tenant's workspace settings, read and partially updated with
//! optimistic concurrency on `version`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::{
    EmailAddress, HexColour, Locale, RegistrationMethod, TenantName, TimeZoneName, WebUrl,
    WelcomeText,
};
use serde::Serialize;
use store::settings::{SettingsChange, UpdateError, WorkspaceSettings};
use utoipa::ToSchema;

use crate::AppState;
use crate::api::auth::WorkspaceAdmin;
use crate::api::json::{ApiJson, FieldParser, if_match_version};
use crate::error::{ApiError, FieldError, Problem};
use crate::invalidation::{Invalidation, announce};
use crate::workspace::{SaveError, save_settings};

/// Contrast of white header text below this (WCAG AA for normal text) earns a warning.
const MIN_CONTRAST: f64 = 4.5;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "display_name": "Acme Corp", "primary_colour": "#c2410c", "accent_colour": "#7c2d12",
    "logo_url": "https://cdn.acme.example/logo.svg", "welcome_text": "**Hello!** How can we help?",
    "support_email": "help@acme.example", "support_email_verified": false, "locale": "en",
    "timezone": "Europe/Berlin", "registration_required": false, "registration_method": "public",
    "password_min_length": 10, "version": 4, "updated_at": "2026-11-22T10:00:00Z", "warnings": []
}))]
pub struct SettingsBody {
    pub display_name: String,
    pub primary_colour: String,
    pub accent_colour: String,
    pub logo_url: Option<String>,
    /// Plain text or a small Markdown subset; raw HTML is shown as text.
    pub welcome_text: String,
    /// Used as Reply-To, and as From once verified.
    pub support_email: Option<String>,
    pub support_email_verified: bool,
    pub locale: String,
    pub timezone: String,
    /// With `registration_method`, one of osTicket's six registration modes.
    pub registration_required: bool,
    /// `public`, `private` or `disabled`.
    pub registration_method: String,
    /// New passwords need at least this many characters (8 to 128).
    pub password_min_length: usize,
    /// Send it back (or as `If-Match`) to update; a stale one gets 409.
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    /// Advice that does not block saving, such as low colour contrast.
    pub warnings: Vec<FieldError>,
}

impl From<&WorkspaceSettings> for SettingsBody {
    fn from(s: &WorkspaceSettings) -> Self {
        let mut warnings = Vec::new();
        for (field, colour) in [
            ("primary_colour", s.primary_colour),
            ("accent_colour", s.accent_colour),
        ] {
            let contrast = colour.contrast_with_white();
            if contrast < MIN_CONTRAST {
                warnings.push(FieldError {
                    field: field.into(),
                    message: format!(
                        "white text on {colour} has a contrast of {contrast:.1}:1, below the {MIN_CONTRAST}:1 that makes it readable for everyone"
                    ),
                });
            }
        }
        Self {
            display_name: s.display_name.clone(),
            primary_colour: s.primary_colour.to_string(),
            accent_colour: s.accent_colour.to_string(),
            logo_url: s.logo_url.as_ref().map(|u| u.as_str().to_owned()),
            welcome_text: s.welcome_text.as_str().to_owned(),
            support_email: s.support_email.as_ref().map(|e| e.as_str().to_owned()),
            support_email_verified: s.support_email_verified,
            locale: s.locale.to_string(),
            timezone: s.timezone.as_str().to_owned(),
            registration_required: s.registration_required,
            registration_method: s.registration_method.as_str().to_owned(),
            password_min_length: s.password_min_length,
            version: s.version,
            updated_at: s.updated_at,
            warnings,
        }
    }
}

fn with_etag(settings: &WorkspaceSettings) -> Response {
    let mut response = Json(SettingsBody::from(settings)).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", settings.version)) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// The workspace settings.
#[utoipa::path(
    get, path = "/api/v1/settings", tag = "settings", security(("api_token" = [])),
    responses(
        (status = 200, description = "The settings; the ETag header carries the version", body = SettingsBody),
        (status = 401, description = "No token of this tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    WorkspaceAdmin(caller): WorkspaceAdmin,
) -> Result<Response, ApiError> {
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    tx.commit().await?;
    Ok(with_etag(&settings))
}

/// The fields a PATCH may carry.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"version": 4, "primary_colour": "#1d4ed8", "welcome_text": "We answer within a day."}))]
pub struct SettingsPatch {
    /// The version read; or send `If-Match: "4"`. Stale: 409.
    version: Option<i64>,
    display_name: Option<String>,
    primary_colour: Option<String>,
    accent_colour: Option<String>,
    /// null or "" clears it.
    logo_url: Option<String>,
    welcome_text: Option<String>,
    /// null or "" clears it; a new address must be verified again.
    support_email: Option<String>,
    locale: Option<String>,
    timezone: Option<String>,
    registration_required: Option<bool>,
    registration_method: Option<String>,
    /// 8 to 128.
    password_min_length: Option<u8>,
}

const PATCH_FIELDS: &[&str] = &[
    "version",
    "display_name",
    "primary_colour",
    "accent_colour",
    "logo_url",
    "welcome_text",
    "support_email",
    "locale",
    "timezone",
    "registration_required",
    "registration_method",
    "password_min_length",
];

/// Parses a PATCH body into a change and the expected version.
pub fn parse_patch(
    object: &serde_json::Map<String, serde_json::Value>,
) -> Result<(SettingsChange, Option<i64>), ApiError> {
    let mut fields = FieldParser::new(object, PATCH_FIELDS);
    let version = fields.integer("version");
    let change = SettingsChange {
        display_name: fields.string("display_name", TenantName::parse),
        primary_colour: fields.string("primary_colour", HexColour::parse),
        accent_colour: fields.string("accent_colour", HexColour::parse),
        logo_url: fields.nullable_string("logo_url", WebUrl::parse),
        welcome_text: fields.string("welcome_text", WelcomeText::parse),
        support_email: fields.nullable_string("support_email", EmailAddress::parse),
        locale: fields.string("locale", Locale::parse),
        timezone: fields.string("timezone", TimeZoneName::parse),
        registration_required: fields.boolean("registration_required"),
        registration_method: fields.string("registration_method", RegistrationMethod::parse),
        password_min_length: fields.integer_in("password_min_length", 8..=128),
    };
    fields.finish((change, version))
}

/// Changes some settings. Every given field is validated; nothing is saved unless all are valid.
#[utoipa::path(
    patch, path = "/api/v1/settings", tag = "settings", security(("api_token" = [])),
    request_body = SettingsPatch,
    params(("If-Match" = Option<String>, Header, description = "The ETag of the version read, such as \"4\"")),
    responses(
        (status = 200, description = "The saved settings, with the new version", body = SettingsBody),
        (status = 400, description = "The body is not a JSON object", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token of this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The version is stale: someone saved in between", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named in `errors`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    WorkspaceAdmin(caller): WorkspaceAdmin,
    headers: HeaderMap,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    let serde_json::Value::Object(object) = body else {
        return Err(ApiError::BadRequest(
            "The body must be a JSON object.".into(),
        ));
    };
    let (change, body_version) = parse_patch(&object)?;
    let expected = if_match_version(&headers)?.or(body_version);
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let saved = match save_settings(&mut tx, &state.config, &caller.tenant, &change, expected).await
    {
        Ok(saved) => saved,
        Err(SaveError::Update(UpdateError::StaleVersion { current, .. })) => {
            return Err(ApiError::Stale(format!(
                "The settings were changed by someone else; the current version is {current}. Read them again and reapply your change."
            )));
        }
        Err(SaveError::Update(UpdateError::Store(error))) => return Err(error.into()),
        Err(SaveError::Mail(error)) => return Err(error.into()),
    };
    tx.commit().await?;
    announce(&state, Invalidation::Settings(caller.tenant.id)).await;
    Ok(with_etag(&saved))
}
