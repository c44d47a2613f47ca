//! The customer portal at `/` of a tenant's host: the home with the actions the registration
//! mode allows, opening a ticket (as a guest or signed in, with the topic's fields and
//! attachments), the answer page with the ticket number, and the ticket-number-and-email form
//! that mails an access link. The workflow and its checks live in [`crate::portal`].

use std::net::SocketAddr;
use std::time::Duration;

use askama::Template;
use axum::Extension;
use axum::extract::{ConnectInfo, FromRequest, Multipart, Query, Request, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, HOST, ORIGIN};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use domain::custom_fields::FieldDefinition;
use serde::Deserialize;
use store::tenancy::Tenant;
use uuid::Uuid;

use crate::AppState;
use crate::attachments::{AttachError, HARD_MAX_BYTES, MAX_FILES, Upload, sanitise_name};
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::auth::rate_limit::Limit;
use crate::error::PageError;
use crate::pages::account::{RegistrationMode, SignedInUser, client_ip, internal};
use crate::pages::{Brand, ErrorPage, render};
use crate::portal::{self, OpenForm, Opener};
use crate::tenancy::CurrentTenant;
use crate::tickets::TicketError;

/// Ticket-number access requests per client address in the window.
pub const ACCESS_LIMIT: Limit = Limit {
    max: 10,
    window: Duration::from_secs(3600),
};

/// The one answer of the access form, whatever was typed.
pub const ACCESS_ANSWER: &str = "If the ticket number and email address match a request, we \
     have sent a link to that address that opens it. Check your inbox.";

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
    /// The visitor may open a ticket now (signed in, or guests allowed).
    may_open: bool,
    /// Opening needs signing in first (offered as a sign-in link).
    open_needs_sign_in: bool,
}

/// The portal's home: the welcome text and only the actions the registration mode allows
/// (open a request, as guest or signed in; my requests when signed in; Register in public
/// modes; Sign in always, for accounts that exist; find a request by number).
pub async fn home(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    jar: CookieJar,
) -> Result<Html<String>, PageError> {
    let settings = state.settings.get(&state.store, tenant.id).await?;
    let mode = RegistrationMode::of(&settings);
    let user = SignedInUser::from_jar(&state, &jar, &tenant).await?;
    let accepts = portal::accepts_tickets(mode);
    let signed_in = user.is_some();
    render(&PortalHome {
        brand: Brand::from(settings.as_ref()),
        csrf: &csrf,
        welcome_html: settings.welcome_text.to_html(),
        user_name: user.map(|u| u.user.name),
        registration_open: mode.registration_open(),
        tickets_sentence: mode.tickets_sentence(),
        may_open: accepts && (signed_in || portal::guests_may_open(mode)),
        open_needs_sign_in: accepts && !signed_in && !portal::guests_may_open(mode),
    })
}

/// Any path of a tenant's host that no route claims.
pub async fn not_found() -> PageError {
    PageError::NotFound
}

/// A refusal page in the tenant's colours with `status`.
pub(crate) fn refusal(brand: Brand, status: StatusCode, title: &str, message: &str) -> Response {
    let page = ErrorPage {
        brand,
        title,
        message,
    };
    match render(&page) {
        Ok(html) => (status, html).into_response(),
        Err(error) => error.into_response(),
    }
}

// ---------------------------------------------------------------------------------------
// Forms with files

/// A `multipart/form-data` form that passed the CSRF checks (same Origin, the cookie's
/// token): its text fields, its files, and the files refused while reading (over the
/// workspace's size limit, or too many), by field name.
pub(crate) struct FilesForm {
    pub fields: Vec<(String, String)>,
    pub files: Vec<Upload>,
    pub errors: Vec<(String, String)>,
}

impl FilesForm {
    pub fn get(&self, name: &str) -> String {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

fn form_expired() -> PageError {
    PageError::Forbidden(
        "This form expired or was sent from another site. Go back, reload the page and try again."
            .into(),
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Reads a portal form with files. Files over the workspace's limit are not kept (their
/// bytes are read and dropped) and reported as `files[i]`, so the form can be shown again.
pub(crate) async fn read_files_form(
    state: &AppState,
    tenant: &Tenant,
    csrf: &str,
    request: Request,
) -> Result<FilesForm, PageError> {
    let headers = request.headers();
    let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
    let same_origin = match (origin, host) {
        (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(scheme, rest)| {
            matches!(scheme, "http" | "https") && rest.eq_ignore_ascii_case(host)
        }),
        _ => false,
    };
    if !same_origin {
        return Err(form_expired());
    }
    let multipart = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let mut form = FilesForm {
        fields: Vec::new(),
        files: Vec::new(),
        errors: Vec::new(),
    };
    if !multipart {
        let CsrfForm(fields) =
            CsrfForm::<Vec<(String, String)>>::from_request(request, state).await?;
        form.fields = fields;
        return Ok(form);
    }
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let limit = store::ticket_settings::load(&mut tx)
        .await?
        .attachment_max_bytes;
    tx.commit().await?;
    let limit = usize::try_from(limit)
        .unwrap_or(HARD_MAX_BYTES)
        .min(HARD_MAX_BYTES);
    let unreadable = |_| PageError::BadRequest("The form could not be read.".into());
    let mut parts = Multipart::from_request(request, state)
        .await
        .map_err(|_| PageError::BadRequest("The form could not be read.".into()))?;
    let mut index = 0;
    while let Some(mut field) = parts.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "files" || name == "files[]" {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let content_type = field.content_type().map(str::to_owned);
            let mut bytes = Vec::new();
            let mut too_large = false;
            while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                if too_large || bytes.len() + chunk.len() > limit {
                    too_large = true;
                    bytes.clear();
                } else {
                    bytes.extend_from_slice(&chunk);
                }
            }
            // A file input left empty still sends a part without a name or bytes.
            if file_name.is_empty() && bytes.is_empty() && !too_large {
                continue;
            }
            let field_name = format!("files[{index}]");
            index += 1;
            if too_large {
                form.errors.push((
                    field_name,
                    format!(
                        "{} is larger than the limit of {limit} bytes",
                        sanitise_name(&file_name)
                    ),
                ));
            } else if form.files.len() >= MAX_FILES {
                form.errors.push((
                    "files".into(),
                    format!("at most {MAX_FILES} files per message"),
                ));
            } else {
                form.files.push(Upload {
                    name: file_name,
                    content_type,
                    bytes,
                });
            }
        } else {
            let text = field.text().await.map_err(unreadable)?;
            form.fields.push((name, text));
        }
    }
    let sent = form.get("csrf");
    if sent.is_empty() || !constant_time_eq(sent.as_bytes(), csrf.as_bytes()) {
        return Err(form_expired());
    }
    Ok(form)
}

/// Field errors for people: "Subject: is required".
pub(crate) fn error_lines(errors: &[(String, String)]) -> Vec<String> {
    errors
        .iter()
        .map(|(field, message)| format!("{}: {message}", field_label(field)))
        .collect()
}

fn field_label(field: &str) -> String {
    match field {
        "subject" => "Subject".into(),
        "message" => "Message".into(),
        "name" => "Your name".into(),
        "email" => "Email address".into(),
        "help_topic_id" => "Topic".into(),
        "requester" => "Requester".into(),
        other => other.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// Opening a ticket

/// One custom field of the chosen topic, as the form shows it.
struct FormField {
    name: String,
    label: String,
    help: String,
    required: bool,
    value: String,
}

#[derive(Template)]
#[template(path = "portal_new.html")]
struct NewTicketPage<'a> {
    brand: Brand,
    csrf: &'a str,
    guest: bool,
    /// (id, name, chosen)
    topics: Vec<(Uuid, String, bool)>,
    fields: Vec<FormField>,
    name: String,
    email: String,
    subject: String,
    message: String,
    errors: Vec<String>,
}

#[derive(Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    topic: Option<String>,
}

/// Whether the mode lets this visitor open a ticket: `Err` is the page to show instead
/// (a refusal, or the way to the sign-in page).
fn gate(brand: Brand, mode: RegistrationMode, signed_in: bool) -> Result<Brand, Box<Response>> {
    if !portal::accepts_tickets(mode) {
        return Err(Box::new(refusal(
            brand,
            StatusCode::FORBIDDEN,
            "No new requests here",
            portal::NO_NEW_TICKETS,
        )));
    }
    if !signed_in && !portal::guests_may_open(mode) {
        return Err(Box::new(
            PageError::SignInRequired {
                login: "/login",
                next: "/tickets/new".into(),
            }
            .into_response(),
        ));
    }
    Ok(brand)
}

#[allow(clippy::too_many_arguments)]
async fn new_page(
    state: &AppState,
    tenant: &Tenant,
    brand: Brand,
    csrf: &str,
    user: Option<Uuid>,
    topic: Option<Uuid>,
    values: &FilesForm,
    errors: Vec<String>,
) -> Result<Response, PageError> {
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let topics = portal::offered_topics(&mut tx, user).await?;
    let chosen = topic
        .and_then(|id| topics.iter().find(|t| t.id == id))
        .cloned();
    let definitions: Vec<FieldDefinition> = match &chosen {
        Some(topic) => portal::topic_fields(&mut tx, topic).await?,
        None => Vec::new(),
    };
    tx.commit().await?;
    let page = NewTicketPage {
        brand,
        csrf,
        guest: user.is_none(),
        topics: topics
            .iter()
            .map(|t| {
                (
                    t.id,
                    t.name.clone(),
                    Some(t.id) == chosen.as_ref().map(|c| c.id),
                )
            })
            .collect(),
        fields: definitions
            .into_iter()
            .map(|f| {
                let name = format!("custom.{}", f.key);
                FormField {
                    value: values.get(&name),
                    name,
                    label: f.label,
                    help: f.help_text,
                    required: f.required,
                }
            })
            .collect(),
        name: values.get("name"),
        email: values.get("email"),
        subject: values.get("subject"),
        message: values.get("message"),
        errors,
    };
    let status = if page.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, render(&page)?).into_response())
}

/// The new-ticket form. Without JavaScript, choosing a topic reloads the form with that
/// topic's fields (`?topic=`).
pub async fn new_form(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<NewQuery>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let settings = state.settings.get(&state.store, tenant.id).await?;
    let mode = RegistrationMode::of(&settings);
    let user = SignedInUser::from_jar(&state, &jar, &tenant).await?;
    let brand = match gate(Brand::from(settings.as_ref()), mode, user.is_some()) {
        Ok(brand) => brand,
        Err(page) => return Ok(*page),
    };
    let topic = query
        .topic
        .as_deref()
        .and_then(|raw| Uuid::parse_str(raw).ok());
    let empty = FilesForm {
        fields: Vec::new(),
        files: Vec::new(),
        errors: Vec::new(),
    };
    new_page(
        &state,
        &tenant,
        brand,
        &csrf,
        user.map(|u| u.user.id),
        topic,
        &empty,
        Vec::new(),
    )
    .await
}

/// Opens the ticket; the form comes back with the values kept and the errors listed, or the
/// answer page shows the number.
pub async fn create(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    jar: CookieJar,
    request: Request,
) -> Result<Response, PageError> {
    let settings = state.settings.get(&state.store, tenant.id).await?;
    let mode = RegistrationMode::of(&settings);
    let user = SignedInUser::from_jar(&state, &jar, &tenant).await?;
    let brand = match gate(Brand::from(settings.as_ref()), mode, user.is_some()) {
        Ok(brand) => brand,
        Err(page) => return Ok(*page),
    };
    let form = read_files_form(&state, &tenant, &csrf, request).await?;
    let user_id = user.as_ref().map(|u| u.user.id);
    let topic = Uuid::parse_str(form.get("help_topic_id").trim()).ok();
    if !form.errors.is_empty() {
        let errors = error_lines(&form.errors);
        return new_page(&state, &tenant, brand, &csrf, user_id, topic, &form, errors).await;
    }
    let opener = match &user {
        Some(user) => Opener::User(user.user.id),
        None => Opener::Guest {
            name: form.get("name"),
            email: form.get("email"),
        },
    };
    let input = OpenForm {
        help_topic_id: form.get("help_topic_id"),
        subject: form.get("subject"),
        message: form.get("message"),
        custom: form
            .fields
            .iter()
            .filter(|(n, _)| n.starts_with("custom."))
            .cloned()
            .collect(),
    };
    let mut tx = state.store.begin_tenant(tenant.id).await?;
    let mut staged = state.attachments.stage();
    match portal::open(&mut tx, &mut staged, mode, &opener, &input, &form.files).await {
        Ok(ticket) => {
            let mailed = store::portal_settings::load(&mut tx).await?.autoresponse
                && match &ticket.help_topic {
                    Some(topic) => store::help_topics::by_id(&mut tx, topic.id)
                        .await?
                        .is_none_or(|t| t.autoresponse),
                    None => true,
                };
            tx.commit().await?;
            staged.keep();
            let mailed = if mailed { "&mailed=1" } else { "" };
            Ok(
                Redirect::to(&format!("/tickets/opened?number={}{mailed}", ticket.number))
                    .into_response(),
            )
        }
        Err(error) => {
            drop(tx);
            staged.discard().await;
            match error {
                AttachError::Ticket(TicketError::Invalid(errors)) => {
                    let errors = error_lines(&errors);
                    new_page(&state, &tenant, brand, &csrf, user_id, topic, &form, errors).await
                }
                AttachError::Ticket(TicketError::Refused(why)) => Ok(refusal(
                    brand,
                    StatusCode::FORBIDDEN,
                    "Request not accepted",
                    &why,
                )),
                AttachError::Ticket(TicketError::Rejected(why)) => Ok(refusal(
                    brand,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Request not accepted",
                    &why,
                )),
                AttachError::Ticket(TicketError::NotFound) => Err(PageError::NotFound),
                AttachError::Ticket(TicketError::Stale) => Err(PageError::BadRequest(
                    "Something changed meanwhile; please try again.".into(),
                )),
                AttachError::Ticket(TicketError::Store(error)) => Err(error.into()),
                AttachError::Storage(error) => Err(internal(error)),
            }
        }
    }
}

#[derive(Template)]
#[template(path = "portal_opened.html")]
struct OpenedPage {
    brand: Brand,
    number: i64,
    mailed: bool,
    signed_in: bool,
}

#[derive(Deserialize)]
pub struct OpenedQuery {
    #[serde(default)]
    number: i64,
    #[serde(default)]
    mailed: Option<String>,
}

/// The answer after opening: the ticket number, and that a confirmation mail is on its way.
pub async fn opened(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    Query(query): Query<OpenedQuery>,
    jar: CookieJar,
) -> Result<Html<String>, PageError> {
    let settings = state.settings.get(&state.store, tenant.id).await?;
    let user = SignedInUser::from_jar(&state, &jar, &tenant).await?;
    if query.number <= 0 {
        return Err(PageError::NotFound);
    }
    render(&OpenedPage {
        brand: Brand::from(settings.as_ref()),
        number: query.number,
        mailed: query.mailed.is_some(),
        signed_in: user.is_some(),
    })
}

// ---------------------------------------------------------------------------------------
// Ticket number and email

#[derive(Template)]
#[template(path = "portal_access.html")]
struct AccessPage<'a> {
    brand: Brand,
    csrf: &'a str,
    sent: bool,
    answer: &'a str,
}

#[derive(Deserialize)]
pub struct AccessQuery {
    #[serde(default)]
    sent: Option<String>,
}

pub async fn access_form(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<AccessQuery>,
) -> Result<Html<String>, PageError> {
    let settings = state.settings.get(&state.store, tenant.id).await?;
    render(&AccessPage {
        brand: Brand::from(settings.as_ref()),
        csrf: &csrf,
        sent: query.sent.is_some(),
        answer: ACCESS_ANSWER,
    })
}

#[derive(Deserialize)]
pub struct AccessForm {
    #[serde(default)]
    number: String,
    #[serde(default)]
    email: String,
}

/// Mails a guest link when the number and address match a ticket where the address is the
/// requester or in copy. The answer is the same redirect in every case, and every request
/// counts against the client address's limit, so the form tells an outsider nothing.
pub async fn request_access(
    State(state): State<AppState>,
    CurrentTenant(tenant): CurrentTenant,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    CsrfForm(form): CsrfForm<AccessForm>,
) -> Result<Response, PageError> {
    let limit_key = format!("ticket-access:{}:{}", tenant.id, client_ip(client.as_ref()));
    state
        .limits
        .check(&limit_key, ACCESS_LIMIT)
        .await
        .map_err(|wait| PageError::TooManyRequests(wait.0))?;
    state.limits.record(&limit_key, ACCESS_LIMIT).await;
    let number = form
        .number
        .trim()
        .trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0);
    let email = domain::EmailAddress::parse(form.email.trim()).ok();
    if let (Some(number), Some(email)) = (number, email) {
        let mut tx = state.store.begin_tenant(tenant.id).await?;
        if let Some((ticket_id, user_id)) =
            store::portal_tickets::by_number_and_email(&mut tx, number, email.as_str()).await?
            && let Some(ticket) =
                store::tickets::by_id(&mut tx, store::tickets::TicketScope::All, ticket_id).await?
        {
            crate::ticket_notifications::access_link(&mut tx, &ticket, user_id).await?;
        }
        tx.commit().await?;
    }
    Ok(Redirect::to("/access?sent=1").into_response())
}
