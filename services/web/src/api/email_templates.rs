//! `/api/v1/email-templates`: the catalogue of events that send mail, and the tenant's overrides
//! of the shipped templates per locale: read the effective template, save one (validated), reset
//! to the default, preview with sample data, and send a test through the outbox.

use std::convert::Infallible;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::{EmailAddress, Locale};
use mail::{Event, TemplateProblem, TemplateSource};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::WorkspaceAdmin;
use crate::api::json::{ApiJson, FieldParser};
use crate::error::{ApiError, FieldError, Problem};
use crate::mailer::{self, EffectiveTemplate, Mail, Sender};

/// One variable a template may use.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"path": "user.name", "description": "The person's name."}))]
pub struct TemplateVariable {
    /// Dotted path as written in a template: `{{ user.name }}`.
    pub path: &'static str,
    pub description: &'static str,
}

fn variables(event: Event) -> Vec<TemplateVariable> {
    event
        .variables()
        .iter()
        .map(|variable| TemplateVariable {
            path: variable.path,
            description: variable.description,
        })
        .collect()
}

/// One event of the catalogue, and whether this tenant overrides its template.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "event": "user.invitation",
    "description": "Sent to a customer when an agent or admin invites them to the help desk portal.",
    "variables": [{"path": "tenant.name", "description": "The help desk's display name."},
                  {"path": "invitation_url", "description": "Link that accepts the invitation and lets them choose a password."}],
    "overridden": true,
    "overridden_locales": ["de", "en"]
}))]
pub struct EmailTemplateSummary {
    /// The event key, used in this API's paths.
    pub event: &'static str,
    /// Who receives this mail and when.
    pub description: &'static str,
    pub variables: Vec<TemplateVariable>,
    /// True when the tenant has an override in at least one locale.
    pub overridden: bool,
    /// The locales the tenant overrides, sorted.
    pub overridden_locales: Vec<String>,
}

/// The whole catalogue: every event, in catalogue order, on one page.
#[derive(Serialize, ToSchema)]
pub struct EmailTemplateList {
    pub data: Vec<EmailTemplateSummary>,
    /// Always null: the catalogue is never paged.
    pub next_cursor: Option<String>,
}

/// Where the effective template comes from.
#[derive(Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateOrigin {
    /// The tenant's override (see `override_locale`).
    Override,
    /// The template shipped with Tenantdesk.
    Default,
}

/// The template that applies to one event in one locale.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "event": "user.invitation",
    "locale": "de-AT",
    "source": "override",
    "override_locale": "de",
    "subject": "Einladung zu {{ tenant.name }}",
    "html": "<p>Hallo {{ user.name }},</p>\n<p><a href=\"{{ invitation_url }}\">Einladung annehmen</a></p>",
    "text": "Hallo {{ user.name }},\n\n{{ invitation_url }}",
    "updated_at": "2026-11-22T10:00:00Z",
    "description": "Sent to a customer when an agent or admin invites them to the help desk portal.",
    "variables": [{"path": "user.name", "description": "The person's name."}]
}))]
pub struct EmailTemplateBody {
    pub event: &'static str,
    /// The locale asked for (the tenant's default locale when none was).
    pub locale: String,
    pub source: TemplateOrigin,
    /// The locale of the override in use; null when the shipped default applies.
    pub override_locale: Option<String>,
    /// minijinja source of the subject (one line once rendered).
    pub subject: String,
    /// minijinja source of the HTML part; values are HTML-escaped when rendered.
    pub html: String,
    /// minijinja source of the plain-text part.
    pub text: String,
    /// When the override was last saved; null for the shipped default.
    pub updated_at: Option<DateTime<Utc>>,
    pub description: &'static str,
    pub variables: Vec<TemplateVariable>,
}

impl EmailTemplateBody {
    fn new(event: Event, locale: &Locale, effective: EffectiveTemplate) -> Self {
        let EffectiveTemplate { source, stored } = effective;
        Self {
            event: event.key(),
            locale: locale.to_string(),
            source: match stored {
                Some(_) => TemplateOrigin::Override,
                None => TemplateOrigin::Default,
            },
            override_locale: stored.as_ref().map(|stored| stored.locale.clone()),
            updated_at: stored.as_ref().map(|stored| stored.updated_at),
            subject: source.subject,
            html: source.html,
            text: source.text,
            description: event.description(),
            variables: variables(event),
        }
    }
}

/// A template as a tenant admin writes it: minijinja, sandboxed, in three parts.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({
    "subject": "Welcome to {{ tenant.name }}, {{ user.name }}",
    "html": "<p>Hello {{ user.name }},</p>\n<p><a href=\"{{ invitation_url }}\">Accept the invitation</a> within {{ expires_in_hours }} hours.</p>",
    "text": "Hello {{ user.name }},\n\nAccept the invitation within {{ expires_in_hours }} hours:\n{{ invitation_url }}"
}))]
pub struct TemplateInput {
    /// At most 500 characters; must not render empty.
    subject: String,
    /// At most 100 KiB.
    html: String,
    /// At most 100 KiB.
    text: String,
}

/// A template rendered with the event's sample data.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "subject": "Welcome to Acme Support, Dana Whitfield",
    "html": "<p>Hello Dana Whitfield,</p>\n<p><a href=\"https://support.acme.example/invitations/Jx83kQpLw2\">Accept the invitation</a> within 72 hours.</p>",
    "text": "Hello Dana Whitfield,\n\nAccept the invitation within 72 hours:\nhttps://support.acme.example/invitations/Jx83kQpLw2"
}))]
pub struct RenderedTemplate {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// Where to send a test mail.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"to": "admin@example.com"}))]
pub struct TestSendInput {
    /// The address that receives the test mail.
    to: String,
}

/// A test mail is in the outbox.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"queued": true, "id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d42"}))]
pub struct TestSendQueued {
    pub queued: bool,
    /// The id of the queued message.
    pub id: Uuid,
}

/// The `{event}` path segment: an event key of the catalogue, or 404.
pub struct EventParam(pub Event);

impl<S: Send + Sync> FromRequestParts<S> for EventParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(key) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound)?;
        Event::parse(&key).map(Self).ok_or(ApiError::NotFound)
    }
}

/// The optional `?locale=` query parameter; an invalid tag is a 422 naming `locale`.
pub struct LocaleParam(pub Option<Locale>);

impl<S: Send + Sync> FromRequestParts<S> for LocaleParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|_| ApiError::BadRequest("The query string is malformed.".into()))?;
        let Some((_, raw)) = pairs.into_iter().find(|(name, _)| name == "locale") else {
            return Ok(Self(None));
        };
        Locale::parse(&raw)
            .map(|locale| Self(Some(locale)))
            .map_err(|error| {
                ApiError::Validation(vec![FieldError {
                    field: "locale".into(),
                    message: error.to_string(),
                }])
            })
    }
}

/// A 422 listing every template problem under the part's name, with line and column.
fn template_problems(problems: &[TemplateProblem]) -> ApiError {
    ApiError::Validation(
        problems
            .iter()
            .map(|problem| FieldError {
                field: problem.part.to_string(),
                message: format!(
                    "line {}, column {}: {}",
                    problem.line, problem.column, problem.reason
                ),
            })
            .collect(),
    )
}

fn required(field: &str) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: "is required".into(),
    }
}

const TEMPLATE_FIELDS: [&str; 3] = ["subject", "html", "text"];

/// The parts given in `object`; every part is required when `all_required`, else a missing part
/// is `None`.
fn parse_parts(
    object: &Map<String, Value>,
    all_required: bool,
) -> Result<[Option<String>; 3], ApiError> {
    let mut fields = FieldParser::new(object, &TEMPLATE_FIELDS);
    let parts = TEMPLATE_FIELDS.map(|name| {
        if all_required && !object.contains_key(name) {
            fields.errors.push(required(name));
            return None;
        }
        fields.string(name, |raw| Ok::<_, Infallible>(raw.to_owned()))
    });
    fields.finish(parts)
}

fn object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(object) => Ok(object),
        _ => Err(ApiError::BadRequest(
            "The body must be a JSON object.".into(),
        )),
    }
}

/// The catalogue of events that send mail, with the locales this tenant overrides.
#[utoipa::path(
    get, path = "/api/v1/email-templates", tag = "email templates", security(("api_token" = [])),
    responses(
        (status = 200, description = "Every event, its variables, and the tenant's overrides", body = EmailTemplateList),
        (status = 401, description = "No token of this tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    WorkspaceAdmin(caller): WorkspaceAdmin,
) -> Result<Json<EmailTemplateList>, ApiError> {
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let overrides = store::email_templates::list(&mut tx).await?;
    tx.commit().await?;
    let data = Event::ALL
        .into_iter()
        .map(|event| {
            let mut overridden_locales: Vec<String> = overrides
                .iter()
                .filter(|stored| stored.event == event.key())
                .map(|stored| stored.locale.clone())
                .collect();
            overridden_locales.sort();
            EmailTemplateSummary {
                event: event.key(),
                description: event.description(),
                variables: variables(event),
                overridden: !overridden_locales.is_empty(),
                overridden_locales,
            }
        })
        .collect();
    Ok(Json(EmailTemplateList {
        data,
        next_cursor: None,
    }))
}

/// The template that applies to an event in a locale: the tenant's override for that locale,
/// else for its bare language (`de` for `de-AT`), else for the tenant's default locale, else the
/// shipped default.
#[utoipa::path(
    get, path = "/api/v1/email-templates/{event}", tag = "email templates", security(("api_token" = [])),
    params(
        ("event" = String, Path, description = "An event key from the catalogue", example = "user.invitation"),
        ("locale" = Option<String>, Query, description = "A language tag; the tenant's default locale when absent", example = "de-AT"),
    ),
    responses(
        (status = 200, description = "The effective template", body = EmailTemplateBody),
        (status = 401, description = "No token of this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`locale` is not a language tag", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    WorkspaceAdmin(caller): WorkspaceAdmin,
    EventParam(event): EventParam,
    LocaleParam(locale): LocaleParam,
) -> Result<Json<EmailTemplateBody>, ApiError> {
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let locale = locale.unwrap_or_else(|| settings.locale.clone());
    let effective = mailer::effective_template(&mut tx, event, &locale, &settings.locale).await?;
    tx.commit().await?;
    Ok(Json(EmailTemplateBody::new(event, &locale, effective)))
}

/// Saves the tenant's override of an event's template for one locale, replacing any earlier
/// one. The template is checked first: syntax, variables the event does not offer, sizes, and a
/// strict render with sample data; nothing is saved unless every part passes.
#[utoipa::path(
    put, path = "/api/v1/email-templates/{event}", tag = "email templates", security(("api_token" = [])),
    params(
        ("event" = String, Path, description = "An event key from the catalogue", example = "user.invitation"),
        ("locale" = Option<String>, Query, description = "The locale to override; the tenant's default locale when absent", example = "de"),
    ),
    request_body = TemplateInput,
    responses(
        (status = 200, description = "The saved override", body = EmailTemplateBody),
        (status = 400, description = "The body is not a JSON object", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token of this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing parts, an invalid `locale`, or template problems: `field` names the part (`subject`, `html`, `text`) and `message` starts with the line and column", body = Problem, content_type = "application/problem+json",
            example = json!({
                "type": "urn:tenantdesk:problem:validation", "title": "Invalid request", "status": 422,
                "detail": "Some fields are invalid; see `errors`.",
                "errors": [{"field": "html", "message": "line 3, column 7: unknown variable `user.password`: user.invitation mails do not offer it"}]
            })),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    WorkspaceAdmin(caller): WorkspaceAdmin,
    EventParam(event): EventParam,
    LocaleParam(locale): LocaleParam,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<EmailTemplateBody>, ApiError> {
    let [subject, html, text] = parse_parts(&object(body)?, true)?;
    let source = TemplateSource {
        subject: subject.unwrap_or_default(),
        html: html.unwrap_or_default(),
        text: text.unwrap_or_default(),
    };
    mail::validate(event, &source).map_err(|problems| template_problems(&problems))?;

    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let locale = match locale {
        Some(locale) => locale,
        None => store::settings::load(&mut tx).await?.locale,
    };
    let saved = store::email_templates::put(
        &mut tx,
        &store::email_templates::NewOverride {
            event: event.key(),
            locale: &locale,
            subject: &source.subject,
            html: &source.html,
            text: &source.text,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(EmailTemplateBody::new(
        event,
        &locale,
        EffectiveTemplate {
            source,
            stored: Some(saved),
        },
    )))
}

/// Removes the tenant's override for one locale: that locale falls back again (to the bare
/// language, the default locale's override, or the shipped default).
#[utoipa::path(
    delete, path = "/api/v1/email-templates/{event}", tag = "email templates", security(("api_token" = [])),
    params(
        ("event" = String, Path, description = "An event key from the catalogue", example = "user.invitation"),
        ("locale" = Option<String>, Query, description = "The locale whose override to remove; the tenant's default locale when absent", example = "de"),
    ),
    responses(
        (status = 204, description = "The override is gone"),
        (status = 401, description = "No token of this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event, or no override for this locale", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`locale` is not a language tag", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reset(
    State(state): State<AppState>,
    WorkspaceAdmin(caller): WorkspaceAdmin,
    EventParam(event): EventParam,
    LocaleParam(locale): LocaleParam,
) -> Result<StatusCode, ApiError> {
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let locale = match locale {
        Some(locale) => locale,
        None => store::settings::load(&mut tx).await?.locale,
    };
    if !store::email_templates::delete(&mut tx, event.key(), &locale).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Renders a template with the event's sample data, strictly (any undefined value is an error).
/// With no body (or `{}`) it renders the effective template for the locale; parts given in the
/// body (unsaved edits) replace the effective template's parts. Nothing is saved.
#[utoipa::path(
    post, path = "/api/v1/email-templates/{event}/preview", tag = "email templates", security(("api_token" = [])),
    params(
        ("event" = String, Path, description = "An event key from the catalogue", example = "user.invitation"),
        ("locale" = Option<String>, Query, description = "Whose effective template fills parts the body leaves out; the tenant's default locale when absent", example = "de"),
    ),
    request_body = Option<TemplateInput>,
    responses(
        (status = 200, description = "The rendered subject, HTML and text", body = RenderedTemplate),
        (status = 400, description = "The body is not a JSON object", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token of this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid `locale`, or template problems, as for PUT", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn preview(
    State(state): State<AppState>,
    WorkspaceAdmin(caller): WorkspaceAdmin,
    EventParam(event): EventParam,
    LocaleParam(locale): LocaleParam,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<RenderedTemplate>, ApiError> {
    let [subject, html, text] = match optional_json(&headers, &body)? {
        Some(body) => parse_parts(&object(body)?, false)?,
        None => [None, None, None],
    };
    let source = match (subject, html, text) {
        (Some(subject), Some(html), Some(text)) => TemplateSource {
            subject,
            html,
            text,
        },
        (subject, html, text) => {
            let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
            let settings = store::settings::load(&mut tx).await?;
            let locale = locale.unwrap_or_else(|| settings.locale.clone());
            let effective =
                mailer::effective_template(&mut tx, event, &locale, &settings.locale).await?;
            tx.commit().await?;
            TemplateSource {
                subject: subject.unwrap_or(effective.source.subject),
                html: html.unwrap_or(effective.source.html),
                text: text.unwrap_or(effective.source.text),
            }
        }
    };
    mail::validate(event, &source).map_err(|problems| template_problems(&problems))?;
    let rendered = mail::render_preview(event, &source)
        .map_err(|problem| template_problems(std::slice::from_ref(&problem)))?;
    Ok(Json(RenderedTemplate {
        subject: rendered.subject,
        html: rendered.html,
        text: rendered.text,
    }))
}

/// An empty body is `None`; anything else must be JSON (with a JSON content type).
fn optional_json(headers: &HeaderMap, body: &Bytes) -> Result<Option<Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::trim)
        .is_some_and(|mime| {
            mime.eq_ignore_ascii_case("application/json")
                || mime.to_ascii_lowercase().ends_with("+json")
        });
    if !is_json {
        return Err(ApiError::BadRequest(
            "Send the body as JSON with `Content-Type: application/json`.".into(),
        ));
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|error| ApiError::BadRequest(format!("The body is not valid JSON: {error}")))
}

/// Sends a test: renders the effective template for the locale with the event's sample data (and
/// the tenant's own name, portal address and support address) and queues it to `to` through the
/// outbox, From and Reply-To as real mail of this event would be.
#[utoipa::path(
    post, path = "/api/v1/email-templates/{event}/test", tag = "email templates", security(("api_token" = [])),
    params(
        ("event" = String, Path, description = "An event key from the catalogue", example = "user.invitation"),
        ("locale" = Option<String>, Query, description = "Whose effective template to send; the tenant's default locale when absent", example = "de"),
    ),
    request_body = TestSendInput,
    responses(
        (status = 202, description = "The test mail is queued", body = TestSendQueued),
        (status = 400, description = "The body is not a JSON object", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token of this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`to` is missing or not an email address, an invalid `locale`, or the effective template does not render", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn send_test(
    State(state): State<AppState>,
    WorkspaceAdmin(caller): WorkspaceAdmin,
    EventParam(event): EventParam,
    LocaleParam(locale): LocaleParam,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let object = object(body)?;
    let mut fields = FieldParser::new(&object, &["to"]);
    let to = fields.string("to", EmailAddress::parse);
    if !object.contains_key("to") {
        fields.errors.push(required("to"));
    }
    let to = fields
        .finish(to)?
        .ok_or_else(|| ApiError::Validation(vec![required("to")]))?;

    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let locale = locale.unwrap_or_else(|| settings.locale.clone());
    // The admin is testing the template: a problem is theirs to see, not to be papered over by
    // the mailer's fallback to the shipped default.
    let effective = mailer::effective_template(&mut tx, event, &locale, &settings.locale).await?;
    mail::render_preview(event, &effective.source)
        .map_err(|problem| template_problems(std::slice::from_ref(&problem)))?;
    let portal_url = mailer::portal_url(&state.config, &caller.tenant);
    let sender = Sender {
        settings: &settings,
        platform_from: &state.config.mail_from,
        portal_url: &portal_url,
    };
    let id = mailer::queue(
        &mut tx,
        &sender,
        Mail {
            event,
            locale: Some(&locale),
            recipient: &to,
            context: event.sample_context(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(TestSendQueued { queued: true, id }),
    )
        .into_response())
}
