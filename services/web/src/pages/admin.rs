//! The tenant admin's pages under `/admin`: workspace settings, email templates and the outgoing
//! mail log. Every page needs a signed-in agent whose role holds
//! [`Permission::WorkspaceSettings`]; every form carries the CSRF token and follows
//! post/redirect/get. Validation is the API's: settings go through
//! [`api::settings::parse_patch`], templates through [`mail::validate`], mail through
//! [`mailer::queue`], so a page and the API can never disagree about what is valid.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::{EmailAddress, HexColour, Locale, Permission};
use mail::{TemplateProblem, Variable};
use serde::Deserialize;
use serde_json::{Map, Value};
use store::outbox::EmailSummary;
use store::settings::{UpdateError, WorkspaceSettings};
use uuid::Uuid;

use crate::AppState;
use crate::api::settings::{SettingsBody, parse_patch};
use crate::auth::SignedInAgent;
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::error::{ApiError, FieldError, PageError};
use crate::invalidation::{Invalidation, announce};
use crate::mailer::{self, Event, Mail, Sender, TemplateSource};
use crate::pages::agent::EmptyForm;
use crate::pages::{Brand, render};
use crate::workspace::SaveError;

/// How many of the most recent mails the mail page lists.
const RECENT_MAILS: i64 = 50;

/// The agent, if their role may configure the workspace; 403 otherwise.
fn admin(agent: SignedInAgent) -> Result<SignedInAgent, PageError> {
    agent.require(Permission::WorkspaceSettings)?;
    Ok(agent)
}

fn respond(status: StatusCode, page: &impl Template) -> Result<Response, PageError> {
    Ok((status, render(page)?).into_response())
}

/// A field error or warning as a sentence: "Time zone must be ..." or "A colour must be ...".
fn sentence(label: &str, message: &str) -> String {
    let message = message.trim_end_matches('.');
    if message.starts_with("must ") || message.starts_with("is ") {
        format!("{label} {message}.")
    } else {
        let mut chars = message.chars();
        match chars.next() {
            Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
            None => String::new(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Workspace settings
// ---------------------------------------------------------------------------------------------

/// The settings form's fields as text, the way the form shows them.
struct SettingsValues {
    display_name: String,
    primary_colour: String,
    accent_colour: String,
    logo_url: String,
    welcome_text: String,
    support_email: String,
    locale: String,
    timezone: String,
    registration_required: bool,
    registration_method: String,
    password_min_length: String,
}

impl SettingsValues {
    fn of(settings: &WorkspaceSettings) -> Self {
        Self {
            display_name: settings.display_name.clone(),
            primary_colour: settings.primary_colour.to_string(),
            accent_colour: settings.accent_colour.to_string(),
            logo_url: settings
                .logo_url
                .as_ref()
                .map(|url| url.as_str().to_owned())
                .unwrap_or_default(),
            welcome_text: settings.welcome_text.as_str().to_owned(),
            support_email: settings
                .support_email
                .as_ref()
                .map(|email| email.as_str().to_owned())
                .unwrap_or_default(),
            locale: settings.locale.to_string(),
            timezone: settings.timezone.as_str().to_owned(),
            registration_required: settings.registration_required,
            registration_method: settings.registration_method.as_str().to_owned(),
            password_min_length: settings.password_min_length.to_string(),
        }
    }

    /// What was submitted, for showing the form again; a field the form left out keeps the
    /// value of `current`.
    fn submitted(form: &SettingsForm, current: &WorkspaceSettings) -> Self {
        let saved = Self::of(current);
        let text = |name: &str, fallback: String| form.text(name).unwrap_or(fallback);
        Self {
            display_name: text("display_name", saved.display_name),
            primary_colour: form
                .colour("primary_colour")
                .unwrap_or(saved.primary_colour),
            accent_colour: form.colour("accent_colour").unwrap_or(saved.accent_colour),
            logo_url: text("logo_url", saved.logo_url),
            welcome_text: text("welcome_text", saved.welcome_text),
            support_email: text("support_email", saved.support_email),
            locale: text("locale", saved.locale),
            timezone: text("timezone", saved.timezone),
            registration_required: form.checked("registration_required"),
            registration_method: text("registration_method", saved.registration_method),
            password_min_length: text("password_min_length", saved.password_min_length),
        }
    }

    /// (field, value as shown) of every field, for comparing two sets of values.
    fn by_field(&self) -> [(&'static str, String); 11] {
        let yes_no = |on: bool| if on { "checked" } else { "not checked" }.to_owned();
        [
            ("display_name", self.display_name.clone()),
            ("primary_colour", self.primary_colour.clone()),
            ("accent_colour", self.accent_colour.clone()),
            ("logo_url", self.logo_url.clone()),
            ("welcome_text", self.welcome_text.clone()),
            ("support_email", self.support_email.clone()),
            ("locale", self.locale.clone()),
            ("timezone", self.timezone.clone()),
            ("registration_required", yes_no(self.registration_required)),
            ("registration_method", self.registration_method.clone()),
            ("password_min_length", self.password_min_length.clone()),
        ]
    }
}

/// The fields the form shows, each with room for a message beside it.
const FORM_FIELDS: [&str; 11] = [
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

/// The label of a settings field, for messages.
fn settings_label(field: &str) -> &'static str {
    match field {
        "display_name" => "Display name",
        "primary_colour" => "Primary colour",
        "accent_colour" => "Accent colour",
        "logo_url" => "Logo URL",
        "welcome_text" => "Welcome text",
        "support_email" => "Support email",
        "locale" => "Default locale",
        "timezone" => "Time zone",
        "registration_required" => "Registration required",
        "registration_method" => "Registration method",
        "password_min_length" => "Minimum password length",
        "version" => "The form's version",
        _ => "This field",
    }
}

/// What the form says beside one field.
#[derive(Default)]
struct FieldNote {
    error: Option<String>,
    warning: Option<String>,
    /// After a stale save: the value this admin had entered, where it differs.
    yours: Option<String>,
}

/// One of osTicket's six registration modes, explained.
struct RegistrationMode {
    required: bool,
    method: &'static str,
    explanation: &'static str,
}

const REGISTRATION_MODES: [RegistrationMode; 6] = [
    RegistrationMode {
        required: false,
        method: "public",
        explanation: "Anyone may open a ticket without an account, and anyone may register one to follow their tickets.",
    },
    RegistrationMode {
        required: false,
        method: "private",
        explanation: "Anyone may open a ticket as a guest; accounts exist only when an agent creates or invites them.",
    },
    RegistrationMode {
        required: false,
        method: "disabled",
        explanation: "Anyone may open a ticket as a guest; nobody can register, so customers never sign in.",
    },
    RegistrationMode {
        required: true,
        method: "public",
        explanation: "Anyone may register, but only signed-in customers may open tickets.",
    },
    RegistrationMode {
        required: true,
        method: "private",
        explanation: "Only customers an agent has invited can sign in and open tickets: a closed help desk.",
    },
    RegistrationMode {
        required: true,
        method: "disabled",
        explanation: "Nobody can register; only customers who already have an account can sign in and open tickets.",
    },
];

#[derive(Template)]
#[template(path = "admin_settings.html")]
struct SettingsPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    values: SettingsValues,
    /// The stored version the form was rendered from.
    version: i64,
    support_email_verified: bool,
    notes: Vec<(&'static str, FieldNote)>,
    /// Problems that belong to no field of the form.
    general_errors: Vec<String>,
    /// A banner above the form (stale version).
    alert: Option<&'static str>,
    notice: Option<&'static str>,
    modes: &'static [RegistrationMode],
}

impl SettingsPage<'_> {
    fn note(&self, field: &str) -> Option<&FieldNote> {
        self.notes
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, note)| note)
    }

    fn has_errors(&self) -> bool {
        !self.general_errors.is_empty() || self.notes.iter().any(|(_, note)| note.error.is_some())
    }

    fn error(&self, field: &str) -> Option<&str> {
        self.note(field).and_then(|note| note.error.as_deref())
    }

    fn warning(&self, field: &str) -> Option<&str> {
        self.note(field).and_then(|note| note.warning.as_deref())
    }

    fn yours(&self, field: &str) -> Option<&str> {
        self.note(field).and_then(|note| note.yours.as_deref())
    }

    /// The ids an input's `aria-describedby` names: its hint (when it has one), error,
    /// warning and "you entered" note.
    fn described_by(&self, field: &str, hint: bool) -> String {
        let mut ids = Vec::new();
        if hint {
            ids.push(format!("{field}-hint"));
        }
        if self.error(field).is_some() {
            ids.push(format!("{field}-error"));
        }
        if self.warning(field).is_some() {
            ids.push(format!("{field}-warning"));
        }
        if self.yours(field).is_some() {
            ids.push(format!("{field}-yours"));
        }
        ids.join(" ")
    }

    /// A colour the `<input type="color">` and the preview can show: the field's value when it
    /// is a colour, else `fallback`.
    fn picker(value: &str, fallback: &str) -> String {
        HexColour::parse(value)
            .or_else(|_| HexColour::parse(fallback))
            .map(|colour| colour.to_string())
            .unwrap_or_else(|_| "#000000".to_owned())
    }

    fn primary_picker(&self) -> String {
        Self::picker(&self.values.primary_colour, &self.brand.primary_colour)
    }

    fn accent_picker(&self) -> String {
        Self::picker(&self.values.accent_colour, &self.brand.accent_colour)
    }

    fn is_mode(&self, mode: &RegistrationMode) -> bool {
        mode.required == self.values.registration_required
            && mode.method == self.values.registration_method
    }
}

/// Contrast warnings for the stored colours, beside their fields.
fn contrast_notes(settings: &WorkspaceSettings) -> Vec<(&'static str, FieldNote)> {
    SettingsBody::from(settings)
        .warnings
        .into_iter()
        .filter_map(|warning| {
            let field = match warning.field.as_str() {
                "primary_colour" => "primary_colour",
                "accent_colour" => "accent_colour",
                _ => return None,
            };
            Some((
                field,
                FieldNote {
                    warning: Some(sentence(settings_label(field), &warning.message)),
                    ..FieldNote::default()
                },
            ))
        })
        .collect()
}

fn settings_page<'a>(
    settings: &WorkspaceSettings,
    csrf: &'a str,
    values: SettingsValues,
) -> SettingsPage<'a> {
    SettingsPage {
        brand: Brand::from(settings),
        section: "settings",
        csrf,
        values,
        version: settings.version,
        support_email_verified: settings.support_email_verified,
        notes: Vec::new(),
        general_errors: Vec::new(),
        alert: None,
        notice: None,
        modes: &REGISTRATION_MODES,
    }
}

#[derive(Deserialize, Default)]
pub struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

pub async fn settings_form(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<SavedQuery>,
) -> Result<Response, PageError> {
    let agent = admin(agent)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    tx.commit().await?;
    let mut page = settings_page(&settings, &csrf, SettingsValues::of(&settings));
    page.notes = contrast_notes(&settings);
    page.notice = query.saved.is_some().then_some("Settings saved.");
    respond(StatusCode::OK, &page)
}

/// The settings form as sent: every name with its first value.
#[derive(Deserialize)]
#[serde(transparent)]
pub struct SettingsForm(Vec<(String, String)>);

/// Text fields of the form, named as in the API.
const TEXT_FIELDS: [&str; 9] = [
    "display_name",
    "logo_url",
    "welcome_text",
    "support_email",
    "locale",
    "timezone",
    "registration_method",
    "password_min_length",
    "version",
];

impl SettingsForm {
    fn text(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.replace("\r\n", "\n"))
    }

    fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(key, _)| key == name)
    }

    /// A colour comes as text and from `<input type="color">` (`{name}_picker`). Scripts keep
    /// the two in step; without scripts, the one the admin changed wins: the text when it
    /// differs from what the form showed (`{name}_initial`), else the picker.
    fn colour(&self, name: &str) -> Option<String> {
        let text = self.text(name);
        let picker = self.text(&format!("{name}_picker"));
        let initial = self.text(&format!("{name}_initial"));
        let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
        match (text, picker) {
            (Some(text), Some(picker)) => {
                if initial.is_some_and(|initial| same(&initial, &text)) {
                    Some(picker)
                } else {
                    Some(text)
                }
            }
            (text, picker) => text.or(picker),
        }
    }

    /// The form as the API's PATCH body, so both go through one parser. An unchecked checkbox
    /// is not sent at all by browsers: its absence means false.
    fn as_patch(&self) -> Map<String, Value> {
        let mut object = Map::new();
        for name in TEXT_FIELDS {
            let Some(value) = self.text(name) else {
                continue;
            };
            let value = match name {
                "version" | "password_min_length" => value
                    .trim()
                    .parse::<i64>()
                    .map_or(Value::String(value), Value::from),
                _ => Value::String(value),
            };
            object.insert(name.to_owned(), value);
        }
        for name in ["primary_colour", "accent_colour"] {
            if let Some(colour) = self.colour(name) {
                object.insert(name.to_owned(), Value::String(colour));
            }
        }
        object.insert(
            "registration_required".to_owned(),
            Value::Bool(self.checked("registration_required")),
        );
        object
    }
}

pub async fn save_settings(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    CsrfForm(form): CsrfForm<SettingsForm>,
) -> Result<Response, PageError> {
    let agent = admin(agent)?;
    let parsed = match parse_patch(&form.as_patch()) {
        Ok(parsed) => Ok(parsed),
        Err(ApiError::Validation(errors)) => Err(errors),
        Err(other) => return Err(PageError::Internal(Box::new(other))),
    };
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let (change, version) = match parsed {
        Ok(parsed) => parsed,
        Err(errors) => {
            let current = store::settings::load(&mut tx).await?;
            tx.commit().await?;
            let mut page =
                settings_page(&current, &csrf, SettingsValues::submitted(&form, &current));
            // The version the admin started from, so saving the corrected form still detects
            // someone else's save in between.
            if let Some(version) = form.text("version").and_then(|v| v.trim().parse().ok()) {
                page.version = version;
            }
            for FieldError { field, message } in errors {
                let text = sentence(settings_label(&field), &message);
                match FORM_FIELDS.iter().find(|known| **known == field) {
                    Some(known) => page.notes.push((
                        known,
                        FieldNote {
                            error: Some(text),
                            ..FieldNote::default()
                        },
                    )),
                    None => page.general_errors.push(text),
                }
            }
            return respond(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    match crate::workspace::save_settings(&mut tx, &state.config, &agent.tenant, &change, version)
        .await
    {
        Ok(_) => {
            tx.commit().await?;
            announce(&state, Invalidation::Settings(agent.tenant.id)).await;
            Ok(Redirect::to("/admin/settings?saved=1").into_response())
        }
        Err(SaveError::Update(UpdateError::StaleVersion { .. })) => {
            let current = store::settings::load(&mut tx).await?;
            tx.commit().await?;
            let theirs = SettingsValues::of(&current);
            let yours = SettingsValues::submitted(&form, &current);
            let mut page = settings_page(&current, &csrf, theirs);
            page.alert = Some(
                "Someone else saved the settings meanwhile; review the current values below and save again. Where your entry differs, it is shown beside the field.",
            );
            page.notes = page
                .values
                .by_field()
                .into_iter()
                .zip(yours.by_field())
                .filter(|((_, now), (_, entered))| now != entered)
                .map(|((field, _), (_, entered))| {
                    (
                        field,
                        FieldNote {
                            yours: Some(if entered.is_empty() {
                                "(empty)".to_owned()
                            } else {
                                entered
                            }),
                            ..FieldNote::default()
                        },
                    )
                })
                .collect();
            respond(StatusCode::CONFLICT, &page)
        }
        Err(SaveError::Update(UpdateError::Store(error))) => Err(error.into()),
        Err(SaveError::Mail(error)) => Err(PageError::Internal(Box::new(error))),
    }
}

// ---------------------------------------------------------------------------------------------
// Email templates
// ---------------------------------------------------------------------------------------------

struct TemplateRow {
    key: &'static str,
    description: &'static str,
    overridden_locales: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin_email_templates.html")]
struct TemplateListPage {
    brand: Brand,
    section: &'static str,
    rows: Vec<TemplateRow>,
}

pub async fn email_templates(
    State(state): State<AppState>,
    agent: SignedInAgent,
) -> Result<Response, PageError> {
    let agent = admin(agent)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let overrides = store::email_templates::list(&mut tx).await?;
    tx.commit().await?;
    let rows = Event::ALL
        .into_iter()
        .map(|event| {
            let mut overridden_locales: Vec<String> = overrides
                .iter()
                .filter(|stored| stored.event == event.key())
                .map(|stored| stored.locale.clone())
                .collect();
            overridden_locales.sort();
            TemplateRow {
                key: event.key(),
                description: event.description(),
                overridden_locales,
            }
        })
        .collect();
    respond(
        StatusCode::OK,
        &TemplateListPage {
            brand: Brand::from(&settings),
            section: "templates",
            rows,
        },
    )
}

/// The `{event}` of a page path: a catalogue key, or the 404 page.
fn event_of(key: &str) -> Result<Event, PageError> {
    Event::parse(key).ok_or(PageError::NotFound)
}

/// The locale asked for; blank means the tenant's default.
fn locale_of(raw: Option<&str>, settings: &WorkspaceSettings) -> Result<Locale, PageError> {
    match raw.map(str::trim).filter(|raw| !raw.is_empty()) {
        None => Ok(settings.locale.clone()),
        Some(raw) => Locale::parse(raw)
            .map_err(|error| PageError::BadRequest(format!("The locale \"{raw}\" {error}."))),
    }
}

/// The rendered preview the editor shows.
struct Preview {
    subject: String,
    html: String,
    text: String,
}

#[derive(Template)]
#[template(path = "admin_email_template.html")]
struct TemplateEditor<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    event: &'static str,
    description: &'static str,
    variables: &'static [Variable],
    locale: String,
    /// Which template the editor was filled with.
    origin: String,
    /// The tenant has an override for exactly this locale (so "Reset" has something to do).
    overridden_here: bool,
    overridden_locales: Vec<String>,
    subject: String,
    html: String,
    text: String,
    problems: Vec<TemplateProblem>,
    preview: Option<Preview>,
    notice: Option<String>,
    agent_email: &'a str,
}

impl TemplateEditor<'_> {
    /// "line L, column C: reason" for every problem of `part` (`subject`, `html` or `text`).
    fn problems_of(&self, part: &str) -> Vec<String> {
        self.problems
            .iter()
            .filter(|problem| problem.part.to_string() == part)
            .map(|problem| {
                format!(
                    "line {}, column {}: {}",
                    problem.line, problem.column, problem.reason
                )
            })
            .collect()
    }

    fn described_by(&self, part: &str) -> String {
        if self.problems_of(part).is_empty() {
            String::new()
        } else {
            format!("{part}-error")
        }
    }
}

/// What the editor needs besides the text in it.
struct EditorContext {
    settings: WorkspaceSettings,
    locale: Locale,
    effective: mailer::EffectiveTemplate,
    overridden_here: bool,
    overridden_locales: Vec<String>,
}

async fn editor_context(
    state: &AppState,
    agent: &SignedInAgent,
    event: Event,
    locale: Option<&str>,
) -> Result<EditorContext, PageError> {
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let locale = locale_of(locale, &settings)?;
    let effective = mailer::effective_template(&mut tx, event, &locale, &settings.locale).await?;
    let mut overridden_locales: Vec<String> = store::email_templates::list(&mut tx)
        .await?
        .into_iter()
        .filter(|stored| stored.event == event.key())
        .map(|stored| stored.locale)
        .collect();
    tx.commit().await?;
    overridden_locales.sort();
    Ok(EditorContext {
        overridden_here: overridden_locales.iter().any(|l| l == locale.as_str()),
        overridden_locales,
        settings,
        locale,
        effective,
    })
}

fn editor<'a>(
    context: EditorContext,
    event: Event,
    csrf: &'a str,
    agent: &'a SignedInAgent,
    source: Option<TemplateSource>,
) -> TemplateEditor<'a> {
    let EditorContext {
        settings,
        locale,
        effective,
        overridden_here,
        overridden_locales,
    } = context;
    let origin = match &effective.stored {
        Some(stored) if stored.locale == locale.as_str() => format!(
            "Your override for {locale}, saved {}.",
            stored.updated_at.format("%Y-%m-%d %H:%M UTC")
        ),
        Some(stored) => format!(
            "Your override for {}, which {locale} falls back to. Saving creates an override for {locale}.",
            stored.locale
        ),
        None => format!(
            "The default template shipped with Tenantdesk. Saving creates your override for {locale}."
        ),
    };
    let source = source.unwrap_or(effective.source);
    TemplateEditor {
        brand: Brand::from(&settings),
        section: "templates",
        csrf,
        event: event.key(),
        description: event.description(),
        variables: event.variables(),
        locale: locale.to_string(),
        origin,
        overridden_here,
        overridden_locales,
        subject: source.subject,
        html: source.html,
        text: source.text,
        problems: Vec::new(),
        preview: None,
        notice: None,
        agent_email: &agent.agent.email,
    }
}

#[derive(Deserialize, Default)]
pub struct EditorQuery {
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    saved: Option<String>,
    #[serde(default)]
    reset: Option<String>,
    #[serde(default)]
    tested: Option<String>,
}

pub async fn email_template(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(key): Path<String>,
    Query(query): Query<EditorQuery>,
) -> Result<Response, PageError> {
    let agent = admin(agent)?;
    let event = event_of(&key)?;
    let context = editor_context(&state, &agent, event, query.locale.as_deref()).await?;
    let locale = context.locale.to_string();
    let mut page = editor(context, event, &csrf, &agent, None);
    page.notice = if query.saved.is_some() {
        Some(format!("Template saved for {locale}."))
    } else if query.reset.is_some() {
        Some(format!(
            "The override for {locale} is removed; the template shown now applies."
        ))
    } else if query.tested.is_some() {
        Some(format!("Test mail queued to {}.", agent.agent.email))
    } else {
        None
    };
    respond(StatusCode::OK, &page)
}

/// The editor's form: the three parts and the locale they are for.
#[derive(Deserialize)]
pub struct TemplateForm {
    #[serde(default)]
    locale: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    html: String,
    #[serde(default)]
    text: String,
}

impl TemplateForm {
    /// Browsers send textarea lines ending in CRLF; templates are stored with LF.
    fn source(&self) -> TemplateSource {
        let lf = |part: &str| part.replace("\r\n", "\n");
        TemplateSource {
            subject: lf(&self.subject),
            html: lf(&self.html),
            text: lf(&self.text),
        }
    }
}

fn editor_path(event: Event, locale: &Locale, flag: &str) -> String {
    format!(
        "/admin/email-templates/{}?locale={locale}&{flag}=1",
        event.key()
    )
}

pub async fn save_template(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(key): Path<String>,
    CsrfForm(form): CsrfForm<TemplateForm>,
) -> Result<Response, PageError> {
    let agent = admin(agent)?;
    let event = event_of(&key)?;
    let source = form.source();
    if let Err(problems) = mail::validate(event, &source) {
        let context = editor_context(&state, &agent, event, Some(&form.locale)).await?;
        let mut page = editor(context, event, &csrf, &agent, Some(source));
        page.problems = problems;
        return respond(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let locale = locale_of(Some(&form.locale), &settings)?;
    store::email_templates::put(
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
    Ok(Redirect::to(&editor_path(event, &locale, "saved")).into_response())
}

/// Renders the submitted, unsaved parts with the event's sample data.
pub async fn preview_template(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(key): Path<String>,
    CsrfForm(form): CsrfForm<TemplateForm>,
) -> Result<Response, PageError> {
    let agent = admin(agent)?;
    let event = event_of(&key)?;
    let source = form.source();
    let context = editor_context(&state, &agent, event, Some(&form.locale)).await?;
    let rendered = mail::validate(event, &source)
        .and_then(|()| mail::render_preview(event, &source).map_err(|problem| vec![problem]));
    let mut page = editor(context, event, &csrf, &agent, Some(source));
    match rendered {
        Ok(rendered) => {
            page.preview = Some(Preview {
                subject: rendered.subject,
                html: rendered.html,
                text: rendered.text,
            });
            respond(StatusCode::OK, &page)
        }
        Err(problems) => {
            page.problems = problems;
            respond(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

/// Deletes the override for the form's locale: the fallback applies again.
pub async fn reset_template(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path(key): Path<String>,
    CsrfForm(form): CsrfForm<TemplateForm>,
) -> Result<Response, PageError> {
    let agent = admin(agent)?;
    let event = event_of(&key)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let locale = locale_of(Some(&form.locale), &settings)?;
    // Nothing to delete (a second click, say) leaves the same state: nothing to report.
    store::email_templates::delete(&mut tx, event.key(), &locale).await?;
    tx.commit().await?;
    Ok(Redirect::to(&editor_path(event, &locale, "reset")).into_response())
}

/// Queues the saved (effective) template, rendered with sample data, to the signed-in agent,
/// the way `POST /api/v1/email-templates/{event}/test` does.
pub async fn send_test(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(key): Path<String>,
    CsrfForm(form): CsrfForm<TemplateForm>,
) -> Result<Response, PageError> {
    let agent = admin(agent)?;
    let event = event_of(&key)?;
    let to = EmailAddress::parse(&agent.agent.email)
        .map_err(|error| PageError::Internal(Box::new(error)))?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let locale = locale_of(Some(&form.locale), &settings)?;
    // A problem in the template is the admin's to see, not to be papered over by the mailer's
    // fallback to the shipped default.
    let effective = mailer::effective_template(&mut tx, event, &locale, &settings.locale).await?;
    if let Err(problem) = mail::render_preview(event, &effective.source) {
        tx.commit().await?;
        let context = editor_context(&state, &agent, event, Some(&form.locale)).await?;
        let mut page = editor(context, event, &csrf, &agent, None);
        page.problems = vec![problem];
        return respond(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let portal_url = mailer::portal_url(&state.config, &agent.tenant);
    let sender = Sender {
        settings: &settings,
        platform_from: &state.config.mail_from,
        portal_url: &portal_url,
    };
    mailer::queue(
        &mut tx,
        &sender,
        Mail {
            event,
            locale: Some(&locale),
            recipient: &to,
            context: event.sample_context(),
        },
    )
    .await
    .map_err(|error| PageError::Internal(Box::new(error)))?;
    tx.commit().await?;
    Ok(Redirect::to(&editor_path(event, &locale, "tested")).into_response())
}

// ---------------------------------------------------------------------------------------------
// Outgoing mail
// ---------------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin_mail.html")]
struct MailPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    mails: Vec<EmailSummary>,
    notice: Option<&'static str>,
    limit: i64,
}

impl MailPage<'_> {
    fn when(mail: &EmailSummary) -> String {
        mail.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    }

    fn status_label(mail: &EmailSummary) -> &'static str {
        match mail.status.as_str() {
            "queued" => "Queued",
            "sending" => "Sending",
            "sent" => "Sent",
            "failed" => "Failed, will retry",
            "dead" => "Failed, given up",
            _ => "Unknown",
        }
    }
}

#[derive(Deserialize, Default)]
pub struct MailQuery {
    #[serde(default)]
    retried: Option<String>,
}

pub async fn mail_log(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<MailQuery>,
) -> Result<Response, PageError> {
    let agent = admin(agent)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let mails = store::outbox::recent(&mut tx, RECENT_MAILS).await?;
    tx.commit().await?;
    respond(
        StatusCode::OK,
        &MailPage {
            brand: Brand::from(&settings),
            section: "mail",
            csrf: &csrf,
            mails,
            notice: query
                .retried
                .is_some()
                .then_some("The mail is queued again and will be sent shortly."),
            limit: RECENT_MAILS,
        },
    )
}

/// Puts a dead mail back in the queue. Another tenant's id, an unknown one, or a mail that is
/// not dead is the 404 page.
pub async fn retry_mail(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let agent = admin(agent)?;
    let id = Uuid::parse_str(&id).map_err(|_| PageError::NotFound)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let retried = store::outbox::retry_dead(&mut tx, id).await?;
    tx.commit().await?;
    if !retried {
        return Err(PageError::NotFound);
    }
    Ok(Redirect::to("/admin/mail?retried=1").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> SettingsForm {
        SettingsForm(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn the_colour_the_admin_changed_wins() {
        let picker_changed = form(&[
            ("primary_colour", "#112233"),
            ("primary_colour_initial", "#112233"),
            ("primary_colour_picker", "#445566"),
        ]);
        assert_eq!(
            picker_changed.colour("primary_colour").as_deref(),
            Some("#445566")
        );
        let text_changed = form(&[
            ("primary_colour", "#778899"),
            ("primary_colour_initial", "#112233"),
            ("primary_colour_picker", "#112233"),
        ]);
        assert_eq!(
            text_changed.colour("primary_colour").as_deref(),
            Some("#778899")
        );
        assert_eq!(
            form(&[("primary_colour", "blue")])
                .colour("primary_colour")
                .as_deref(),
            Some("blue")
        );
    }

    #[test]
    fn the_form_becomes_a_patch_body() {
        let patch = form(&[
            ("csrf", "x"),
            ("version", "7"),
            ("display_name", "Acme"),
            ("accent_colour", "#000000"),
        ])
        .as_patch();
        assert_eq!(patch["version"], Value::from(7));
        assert_eq!(patch["display_name"], "Acme");
        assert_eq!(patch["registration_required"], false);
        assert!(!patch.contains_key("csrf"));
        assert!(!patch.contains_key("primary_colour"));
    }

    #[test]
    fn messages_read_as_sentences() {
        assert_eq!(
            sentence("Time zone", "must be an IANA time zone name"),
            "Time zone must be an IANA time zone name."
        );
        assert_eq!(
            sentence("Primary colour", "a colour must be written as #rrggbb"),
            "A colour must be written as #rrggbb."
        );
    }

    #[test]
    fn six_registration_modes_each_once() {
        for required in [false, true] {
            for method in ["public", "private", "disabled"] {
                assert_eq!(
                    REGISTRATION_MODES
                        .iter()
                        .filter(|m| m.required == required && m.method == method)
                        .count(),
                    1
                );
            }
        }
    }
}
