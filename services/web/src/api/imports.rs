//! `/api/v1/imports`: CSV import of end users and organizations, and the CSV exports
//! `/api/v1/users.csv` and `/api/v1/organizations.csv` with the same columns. The workflow
//! (checks, matching, writing, the report) is [`crate::imports`].

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use domain::Permission;
use serde::Deserialize;
use store::user_directory::Actor;
use utoipa::IntoParams;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::error::{ApiError, FieldError, Problem};
use crate::imports::{
    self, Entity, FileProblem, ImportError, ImportOptions, Mode, Report, SpoolError,
};

#[derive(Deserialize, IntoParams)]
pub struct ImportQuery {
    /// `users` or `organizations`.
    entity: Option<String>,
    /// `dry_run` (check and report, write nothing), `all_or_nothing` (the default: write every
    /// row or none) or `skip_bad_rows` (write the good rows, report the bad ones).
    mode: Option<String>,
}

fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn file_problem(problem: &FileProblem) -> ApiError {
    ApiError::Validation(
        problem
            .field_errors()
            .into_iter()
            .map(|(field, message)| field_error(field, message))
            .collect(),
    )
}

impl From<ImportError> for ApiError {
    fn from(error: ImportError) -> Self {
        match error {
            ImportError::File(problem) => file_problem(&problem),
            ImportError::Store(error) => error.into(),
            ImportError::Internal(message) => Self::Internal(message.into()),
        }
    }
}

impl From<SpoolError> for ApiError {
    fn from(error: SpoolError) -> Self {
        match error {
            SpoolError::TooLarge(problem) => file_problem(&problem),
            SpoolError::Upload(message) => Self::BadRequest(message),
            SpoolError::Storage(message) => Self::Internal(message.into()),
        }
    }
}

/// The entity and mode the query names, or 422 naming what is wrong.
fn options(
    query: &ImportQuery,
    caller: &ApiCaller,
    state: &AppState,
) -> Result<ImportOptions, ApiError> {
    let mut errors = Vec::new();
    let entity = match query.entity.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(field_error("entity", "is required: users or organizations"));
            None
        }
        Some(raw) => match Entity::parse(raw) {
            Some(entity) => Some(entity),
            None => {
                errors.push(field_error("entity", "must be users or organizations"));
                None
            }
        },
    };
    let mode = match query.mode.as_deref().map(str::trim) {
        None | Some("") => Some(Mode::AllOrNothing),
        Some(raw) => Mode::parse(raw).or_else(|| {
            errors.push(field_error(
                "mode",
                "must be dry_run, all_or_nothing or skip_bad_rows",
            ));
            None
        }),
    };
    match (entity, mode) {
        (Some(entity), Some(mode)) if errors.is_empty() => Ok(ImportOptions {
            entity,
            mode,
            limits: state.config.import_limits,
            actor: Actor::ApiToken(caller.token.id),
        }),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// Imports a CSV file of end users or organizations.
///
/// The body is the file itself (UTF-8, with or without a byte order mark; a header row names
/// the columns, custom fields by their key). Users need `first_name`, `last_name` and `email`
/// and may have any of `title`, `login`, `phone`, `fax`, `mobile`, `street`, `zip`, `city`,
/// `country`, `comment`, `validity`, `organization` (a name or customer code: the user
/// becomes a member); an existing user with the same email is updated. Organizations need
/// `name` and may have `customer_code`, `street`, `zip`, `city`, `country`, `phone`,
/// `website`, `comment`, `validity`, `ticket_sharing`, the yes/no flags
/// `auto_collaborate_primary_contacts`, `assign_to_account_manager`, `alert_account_manager`,
/// and `domains` separated by `|`; an existing organization with the same customer code (or
/// name, when the row has no code) is updated. An empty cell clears an optional field.
///
/// Every bad row is reported with its line. A file-level problem (not UTF-8, too large, too
/// many rows, missing or unknown columns) is a 422 naming it, and nothing is written.
#[utoipa::path(post, path = "/api/v1/imports", tag = "directory", security(("api_token" = [])),
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv",
        example = "first_name,last_name,email,organization,vip_level\nAda,Lovelace,ada@example.com,Analytical Engines,gold\nGrace,Hopper,grace@example.com,,\n"),
    responses((status = 200, description = "What the import did (or in a dry run would do), with every bad row", body = Report),
        (status = 403, description = "The token lacks users.manage", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad entity or mode, or a problem with the whole file; nothing was written", body = Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:tenantdesk:problem:validation", "title": "Invalid request", "status": 422,
                "detail": "Some fields are invalid; see `errors`.",
                "errors": [{"field": "columns", "message": "required columns are missing: email"}]}))))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Report>, ApiError> {
    caller.require(Permission::UsersManage)?;
    let options = options(&query, &caller, &state)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/")
        || content_type.starts_with("application/json")
        || content_type.starts_with("application/x-www-form-urlencoded")
    {
        return Err(ApiError::Validation(vec![field_error(
            "body",
            "must be the CSV file itself, sent with Content-Type: text/csv",
        )]));
    }
    let file = imports::spool_body(body, options.limits.max_bytes).await?;
    let tx = state.store.begin_tenant(caller.tenant.id).await?;
    let report = imports::import(tx, file, options, &mut |_, _| {}).await?;
    Ok(Json(report))
}

/// A CSV download streamed page by page.
pub fn csv_download(state: &AppState, tenant: &store::tenancy::Tenant, entity: Entity) -> Response {
    let filename = format!("{}-{}.csv", tenant.slug, entity.as_str());
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        Body::from_stream(imports::export(state.store.clone(), tenant.id, entity)),
    )
        .into_response()
}

/// Every end user as CSV, oldest first, in the columns `POST /imports?entity=users` reads
/// (custom fields by key; `organization` is the primary organization's name). Erased users
/// are left out. Cells a spreadsheet would run as a formula start with `'`, which the import
/// removes again.
#[utoipa::path(get, path = "/api/v1/users.csv", tag = "directory", security(("api_token" = [])),
    responses((status = 200, description = "The end users as CSV (UTF-8)", content_type = "text/csv",
            body = String, example = "title,first_name,last_name,email,login,phone,fax,mobile,street,zip,city,country,comment,validity,organization,vip_level\n,Ada,Lovelace,ada@example.com,,+44 20 7946 0958,,,,,London,GB,,valid,Analytical Engines,gold\n"),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json")))]
pub async fn users_csv(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Response, ApiError> {
    caller.require(Permission::UsersRead)?;
    Ok(csv_download(&state, &caller.tenant, Entity::Users))
}

/// Every organization as CSV, oldest first, in the columns
/// `POST /imports?entity=organizations` reads (`domains` separated by `|`).
#[utoipa::path(get, path = "/api/v1/organizations.csv", tag = "directory", security(("api_token" = [])),
    responses((status = 200, description = "The organizations as CSV (UTF-8)", content_type = "text/csv",
            body = String, example = "name,customer_code,street,zip,city,country,phone,website,comment,validity,ticket_sharing,auto_collaborate_primary_contacts,assign_to_account_manager,alert_account_manager,domains\nAnalytical Engines,AE-1,,,London,GB,,https://ae.example,,valid,none,no,no,no,ae.example|engines.example\n"),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json")))]
pub async fn organizations_csv(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Response, ApiError> {
    caller.require(Permission::UsersRead)?;
    Ok(csv_download(&state, &caller.tenant, Entity::Organizations))
}
