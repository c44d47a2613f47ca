//! Ticket attachments in the API: reading `multipart/form-data` message and note bodies,
//! `GET /api/v1/tickets/{id}/attachments` and `GET /api/v1/attachments/{id}` (the download,
//! after the same access check as the ticket).

use axum::Json;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::header;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use store::ticket_attachments::Attachment;
use store::tickets::TicketScope;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::json::ApiJson;
use crate::attachments::{self, AttachError, HARD_MAX_BYTES, MAX_FILES, Upload};
use crate::error::{ApiError, FieldError, Problem};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1e10", "ticket_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d70",
    "entry_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1dc0", "name": "invoice.pdf",
    "content_type": "application/pdf", "size_bytes": 48213,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "download_url": "/api/v1/attachments/01935c5e-7a10-7cc2-8d1e-2f0a9b6c1e10",
    "created_at": "2026-11-22T09:00:00Z"
}))]
pub struct AttachmentBody {
    pub id: Uuid,
    pub ticket_id: Uuid,
    /// The message or note the file came with.
    pub entry_id: Uuid,
    /// The name as sent, without any path, at most 255 characters.
    pub name: String,
    /// The declared type (never sniffed).
    pub content_type: String,
    pub size_bytes: i64,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    pub download_url: String,
    pub created_at: DateTime<Utc>,
}

impl From<Attachment> for AttachmentBody {
    fn from(a: Attachment) -> Self {
        Self {
            download_url: format!("/api/v1/attachments/{}", a.id),
            sha256: attachments::hex(&a.sha256),
            id: a.id,
            ticket_id: a.ticket_id,
            entry_id: a.entry_id,
            name: a.name,
            content_type: a.content_type,
            size_bytes: a.size_bytes,
            created_at: a.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AttachmentList {
    pub data: Vec<AttachmentBody>,
}

impl From<AttachError> for ApiError {
    fn from(error: AttachError) -> Self {
        match error {
            AttachError::Ticket(error) => error.into(),
            AttachError::Storage(error) => Self::Internal(Box::new(error)),
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Validation(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

/// A message or note request: JSON, or `multipart/form-data` with the same text fields
/// (`body`, `format`, `agent_id`) plus any number of `files`.
pub async fn entry_request(
    state: &AppState,
    tenant: domain::TenantId,
    request: Request,
) -> Result<(Value, Vec<Upload>), ApiError> {
    form_request(state, tenant, request, &["body", "format", "agent_id"], &[]).await
}

/// A request that may carry files: JSON, or `multipart/form-data` whose parts are the JSON
/// object's fields (`text_fields` as text, `json_fields` as JSON text, for example
/// `custom={"order":"A-1"}`) plus any number of `files`. Answers the object and the files.
pub async fn form_request(
    state: &AppState,
    tenant: domain::TenantId,
    request: Request,
    text_fields: &[&str],
    json_fields: &[&str],
) -> Result<(Value, Vec<Upload>), ApiError> {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !multipart {
        let ApiJson(body) = ApiJson::<Value>::from_request(request, state).await?;
        return Ok((body, Vec::new()));
    }
    // The workspace's own limit cuts an upload off early, so no request is held in memory
    // beyond it (the full check, naming the file, runs again in the transaction).
    let mut tx = state.store.begin_tenant(tenant).await?;
    let limit = store::ticket_settings::load(&mut tx)
        .await?
        .attachment_max_bytes;
    tx.commit().await?;
    let limit = usize::try_from(limit)
        .unwrap_or(HARD_MAX_BYTES)
        .min(HARD_MAX_BYTES);
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let mut fields = Map::new();
    let mut files = Vec::new();
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::BadRequest(e.body_text()))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "files" | "files[]" => {
                if files.len() == MAX_FILES {
                    return Err(invalid(
                        "files",
                        format!("at most {MAX_FILES} files per message"),
                    ));
                }
                let file_field = format!("files[{}]", files.len());
                let file_name = field.file_name().unwrap_or_default().to_owned();
                let content_type = field.content_type().map(str::to_owned);
                let mut bytes = Vec::new();
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| ApiError::BadRequest(e.body_text()))?
                {
                    if bytes.len() + chunk.len() > limit {
                        return Err(invalid(
                            &file_field,
                            format!(
                                "{} is larger than the workspace's limit of {limit} bytes",
                                attachments::sanitise_name(&file_name)
                            ),
                        ));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                files.push(Upload {
                    name: file_name,
                    content_type,
                    bytes,
                });
            }
            _ if text_fields.contains(&name.as_str()) => {
                let text = field
                    .text()
                    .await
                    .map_err(|e| ApiError::BadRequest(e.body_text()))?;
                fields.insert(name, Value::String(text));
            }
            _ if json_fields.contains(&name.as_str()) => {
                let text = field
                    .text()
                    .await
                    .map_err(|e| ApiError::BadRequest(e.body_text()))?;
                let value = serde_json::from_str(&text)
                    .map_err(|_| invalid(&name, "must be JSON in a multipart request"))?;
                fields.insert(name, value);
            }
            _ => return Err(invalid(&name, "is not a known field")),
        }
    }
    Ok((Value::Object(fields), files))
}

/// Bodies of message and note requests may carry files up to the largest limit a tenant may
/// set, a few times over; the tenant's own limit is applied per file.
pub fn body_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(2 * HARD_MAX_BYTES)
}

fn caller_scope(caller: &ApiCaller) -> Result<TicketScope, ApiError> {
    caller.require(domain::Permission::TicketsAll)?;
    Ok(TicketScope::All)
}

/// The files of a ticket's messages and notes, oldest first.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/attachments", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The ticket")),
    responses((status = 200, description = "The attachments, oldest first", body = AttachmentList),
        (status = 404, description = "No such ticket in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<AttachmentList>, ApiError> {
    let scope = caller_scope(&caller)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let grouped = attachments::by_entry(&mut tx, scope, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    let mut data: Vec<AttachmentBody> = grouped
        .into_iter()
        .flat_map(|(_, list)| list)
        .map(AttachmentBody::from)
        .collect();
    data.sort_by_key(|a| (a.created_at, a.id));
    Ok(Json(AttachmentList { data }))
}

/// Downloads a file: always `Content-Disposition: attachment`, `X-Content-Type-Options:
/// nosniff` and the stored content type.
#[utoipa::path(get, path = "/api/v1/attachments/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The attachment")),
    responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream", body = Vec<u8>,
            headers(("Content-Disposition" = String, description = "attachment; filename=\"invoice.pdf\"; filename*=UTF-8''invoice.pdf"),
                ("X-Content-Type-Options" = String, description = "nosniff"))),
        (status = 404, description = "No such attachment in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn download(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let scope = caller_scope(&caller)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let attachment = attachments::visible(&mut tx, scope, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    attachments::download_response(&state.attachments, &attachment)
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))
}
