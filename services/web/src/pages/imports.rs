//! `/agent/import`: the import page for agents who manage users ([`Permission::UsersManage`]):
//! a CSV upload (multipart) of end users or organizations with a mode (dry run, all or
//! nothing, skip bad rows), the report with every bad line, and the CSV downloads
//! `/agent/import/users.csv` and `/agent/import/organizations.csv` ([`Permission::UsersRead`]).
//! The workflow is [`crate::imports`]; this module handles the form.

use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};
use axum::response::{IntoResponse, Response};
use domain::Permission;
use store::user_directory::{Actor, PROFILE_FIELDS};

use crate::AppState;
use crate::auth::SignedInAgent;
use crate::auth::csrf::CsrfToken;
use crate::error::PageError;
use crate::imports::{
    self, Entity, FileProblem, ImportError, ImportOptions, Mode, ORGANIZATION_FIELDS, Report,
    SpoolError,
};
use crate::pages::{Brand, render};

/// The longest value a plain field of the upload form may have.
const MAX_FIELD_BYTES: usize = 4096;

#[derive(Default)]
struct FormErrors {
    entity: Option<String>,
    mode: Option<String>,
    file: Option<String>,
}

impl FormErrors {
    fn any(&self) -> bool {
        self.entity.is_some() || self.mode.is_some() || self.file.is_some()
    }
}

#[derive(Template)]
#[template(path = "agent_import.html")]
struct ImportPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    entity: String,
    mode: String,
    file_name: String,
    errors: FormErrors,
    report: Option<Report>,
    can_export: bool,
    max_size: String,
    max_rows: u64,
    user_columns: String,
    organization_columns: String,
}

impl ImportPage<'_> {
    fn entity_label(&self) -> &'static str {
        match self.entity.as_str() {
            "organizations" => "organizations",
            _ => "end users",
        }
    }
}

fn allowed(agent: &SignedInAgent) -> Result<(), PageError> {
    agent.require(Permission::UsersManage)
}

async fn page<'a>(
    state: &AppState,
    agent: &SignedInAgent,
    csrf: &'a str,
) -> Result<ImportPage<'a>, PageError> {
    let settings = state.settings.get(&state.store, agent.tenant.id).await?;
    let limits = state.config.import_limits;
    Ok(ImportPage {
        brand: Brand::from(settings.as_ref()),
        section: "import",
        csrf,
        entity: "users".into(),
        mode: "dry_run".into(),
        file_name: String::new(),
        errors: FormErrors::default(),
        report: None,
        can_export: agent.agent.can(Permission::UsersRead),
        max_size: imports::human_bytes(limits.max_bytes),
        max_rows: limits.max_rows,
        user_columns: PROFILE_FIELDS
            .iter()
            .copied()
            .chain(["organization"])
            .collect::<Vec<_>>()
            .join(", "),
        organization_columns: ORGANIZATION_FIELDS.join(", "),
    })
}

pub async fn import_form(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
) -> Result<Response, PageError> {
    allowed(&agent)?;
    Ok(render(&page(&state, &agent, &csrf).await?)?.into_response())
}

fn expired() -> PageError {
    PageError::Forbidden(
        "This form expired or was sent from another site. Go back, reload the page and try again."
            .into(),
    )
}

/// True when Origin names exactly the host the request came to (as for every other form).
fn same_origin(headers: &HeaderMap) -> bool {
    let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(scheme, rest)| {
            matches!(scheme, "http" | "https") && rest.eq_ignore_ascii_case(host)
        }),
        _ => false,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unreadable() -> PageError {
    PageError::BadRequest("The upload could not be read.".into())
}

/// A plain form field, read up to [`MAX_FIELD_BYTES`].
async fn small_field(field: &mut axum::extract::multipart::Field<'_>) -> Result<String, PageError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|_| unreadable())? {
        if bytes.len() + chunk.len() > MAX_FIELD_BYTES {
            return Err(PageError::BadRequest("A form field is too long.".into()));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| unreadable())
}

/// Runs an upload: the form's fields in document order (the CSRF token first, so nothing of
/// a forged request is stored), the file spooled to disk under the size limit, then the
/// import; the page shows the report, or the form again with what is wrong.
pub async fn import_upload(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    allowed(&agent)?;
    if !same_origin(&headers) {
        return Err(expired());
    }
    let mut view = page(&state, &agent, &csrf).await?;
    let limits = state.config.import_limits;
    let mut verified = false;
    let mut file = None;
    while let Some(mut field) = multipart.next_field().await.map_err(|_| unreadable())? {
        match field.name().unwrap_or_default() {
            "csrf" => {
                let sent = small_field(&mut field).await?;
                verified = !sent.is_empty() && constant_time_eq(sent.as_bytes(), csrf.as_bytes());
            }
            "entity" => view.entity = small_field(&mut field).await?,
            "mode" => view.mode = small_field(&mut field).await?,
            "file" => {
                if !verified {
                    return Err(expired());
                }
                view.file_name = field.file_name().unwrap_or_default().to_owned();
                let mut spool = imports::Spool::new(limits.max_bytes);
                let mut refused = None;
                while let Some(chunk) = field.chunk().await.map_err(|_| unreadable())? {
                    if let Err(error) = spool.push(chunk).await {
                        refused = Some(error);
                        break;
                    }
                }
                match refused {
                    Some(SpoolError::TooLarge(problem)) => {
                        view.errors.file = Some(sentence(&problem))
                    }
                    Some(other) => return Err(PageError::Internal(Box::new(other))),
                    None => {
                        file = Some(
                            spool
                                .finish()
                                .await
                                .map_err(|e| PageError::Internal(Box::new(e)))?,
                        );
                    }
                }
                if view.errors.file.is_some() {
                    break;
                }
            }
            _ => {}
        }
    }
    if !verified {
        return Err(expired());
    }
    let entity = Entity::parse(&view.entity);
    if entity.is_none() {
        view.errors.entity = Some("Choose end users or organizations.".into());
    }
    let mode = Mode::parse(&view.mode);
    if mode.is_none() {
        view.errors.mode = Some("Choose how to import.".into());
    }
    if view.errors.file.is_none() && (file.is_none() || view.file_name.is_empty()) {
        view.errors.file = Some("Choose a CSV file to import.".into());
        file = None;
    }
    let (Some(entity), Some(mode), Some(file), false) = (entity, mode, file, view.errors.any())
    else {
        return Ok(render(&view)?.into_response());
    };
    let tx = state.store.begin_tenant(agent.tenant.id).await?;
    let options = ImportOptions {
        entity,
        mode,
        limits,
        actor: Actor::Agent(agent.agent.id),
    };
    match imports::import(tx, file, options, &mut |_, _| {}).await {
        Ok(report) => view.report = Some(report),
        Err(ImportError::File(problem)) => view.errors.file = Some(sentence(&problem)),
        Err(ImportError::Store(error)) => return Err(error.into()),
        Err(ImportError::Internal(message)) => return Err(PageError::Internal(message.into())),
    }
    Ok(render(&view)?.into_response())
}

/// A file problem as a sentence for the page.
fn sentence(problem: &FileProblem) -> String {
    format!("Nothing was imported: {problem}.")
}

async fn download(
    state: AppState,
    agent: SignedInAgent,
    entity: Entity,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersRead)?;
    Ok(crate::api::imports::csv_download(
        &state,
        &agent.tenant,
        entity,
    ))
}

pub async fn users_csv(
    State(state): State<AppState>,
    agent: SignedInAgent,
) -> Result<Response, PageError> {
    download(state, agent, Entity::Users).await
}

pub async fn organizations_csv(
    State(state): State<AppState>,
    agent: SignedInAgent,
) -> Result<Response, PageError> {
    download(state, agent, Entity::Organizations).await
}
