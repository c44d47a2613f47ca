//! `/api/v1/api-tokens`: named tokens with a permission scope and an optional expiry. The
//! secret is in the creation answer only; afterwards a token is listed without it.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::{Permission, TokenName};
use serde::Serialize;
use store::tokens::{ApiToken, NewToken};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::json::{ApiJson, FieldParser};
use crate::api::page::{Page, PageQuery};
use crate::error::{ApiError, FieldError, Problem};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d40", "name": "CRM sync", "permissions": ["users.read"],
    "expires_at": "2027-01-01T00:00:00Z", "last_used_at": null, "revoked_at": null, "created_at": "2026-11-22T10:00:00Z"
}))]
pub struct TokenBody {
    pub id: Uuid,
    pub name: String,
    pub permissions: Vec<&'static str>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<ApiToken> for TokenBody {
    fn from(token: ApiToken) -> Self {
        Self {
            id: token.id,
            name: token.name,
            permissions: token.permissions.iter().map(|p| p.key()).collect(),
            expires_at: token.expires_at,
            last_used_at: token.last_used_at,
            revoked_at: token.revoked_at,
            created_at: token.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct IssuedBody {
    #[serde(flatten)]
    pub token: TokenBody,
    /// Shown this once; only its hash is stored. Send it as `Authorization: Bearer <secret>`.
    pub secret: String,
}

/// The tenant's tokens, newest first (revoked ones included, without secrets).
#[utoipa::path(get, path = "/api/v1/api-tokens", tag = "identity", security(("api_token" = [])), params(PageQuery),
    responses((status = 200, description = "One page of tokens", body = inline(Page<TokenBody>)),
        (status = 403, description = "The token lacks api_tokens.manage", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<TokenBody>>, ApiError> {
    caller.require(Permission::ApiTokensManage)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let mut tokens = store::tokens::list(&mut tx).await?;
    tx.commit().await?;
    tokens.sort_by_key(|t| t.id);
    Ok(Json(page.page(tokens, |t| t.id, TokenBody::from)?))
}

/// Creates a token. Its permissions must be a subset of the caller's; `expires_at` (RFC 3339,
/// in the future) is optional.
#[utoipa::path(post, path = "/api/v1/api-tokens", tag = "identity", security(("api_token" = [])),
    request_body(content = inline(serde_json::Value), example = json!({"name": "CRM sync", "permissions": ["users.read"], "expires_at": "2027-01-01T00:00:00Z"})),
    responses((status = 201, description = "The token with its secret, shown once", body = IssuedBody),
        (status = 409, description = "A token has this name", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::ApiTokensManage)?;
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::BadRequest("The body must be a JSON object.".into()))?;
    let mut fields = FieldParser::new(object, &["name", "permissions", "expires_at"]);
    let name = fields.string("name", TokenName::parse);
    let expires_at = fields.string("expires_at", |raw| {
        match DateTime::parse_from_rfc3339(raw) {
            Ok(at) if at.with_timezone(&Utc) > Utc::now() => Ok(at.with_timezone(&Utc)),
            Ok(_) => Err("must be in the future"),
            Err(_) => Err("must be an RFC 3339 time such as 2027-01-01T00:00:00Z"),
        }
    });
    let mut permissions = Vec::new();
    match object.get("permissions").map(|v| v.as_array()) {
        None => fields.errors.push(FieldError {
            field: "permissions".into(),
            message: "is required: a list of permission keys".into(),
        }),
        Some(None) => fields.errors.push(FieldError {
            field: "permissions".into(),
            message: "must be a list of permission keys".into(),
        }),
        Some(Some(list)) => {
            let mut requested = Vec::new();
            for item in list {
                match item.as_str().and_then(Permission::parse) {
                    Some(p) => requested.push(p),
                    None => fields.errors.push(FieldError {
                        field: "permissions".into(),
                        message: format!("{item} is not a permission"),
                    }),
                }
            }
            match crate::agents::grantable(&requested, &caller.token.permissions) {
                Ok(granted) => permissions = granted,
                Err(beyond) => fields.errors.extend(beyond.into_iter().map(|p| FieldError {
                    field: "permissions".into(),
                    message: format!("{} is beyond this token's own scope", p.key()),
                })),
            }
        }
    }
    if name.is_none() && !fields.errors.iter().any(|e| e.field == "name") {
        fields.errors.push(FieldError {
            field: "name".into(),
            message: "is required".into(),
        });
    }
    let (Some(name), expires_at) = fields.finish((name, expires_at))? else {
        return Err(ApiError::BadRequest("incomplete".into()));
    };
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let issued = store::tokens::create(
        &mut tx,
        &NewToken {
            name: &name,
            permissions: Some(&permissions),
            expires_at,
            created_by_agent: None,
        },
    )
    .await?;
    tx.commit().await?;
    let location = format!("/api/v1/api-tokens/{}", issued.token.id);
    let body = IssuedBody {
        token: issued.token.into(),
        secret: issued.secret,
    };
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response())
}

/// Revokes a token at once.
#[utoipa::path(delete, path = "/api/v1/api-tokens/{id}", tag = "identity", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The token")),
    responses((status = 204, description = "Revoked"),
        (status = 404, description = "No live token with this id in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::ApiTokensManage)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let revoked = store::tokens::revoke(&mut tx, id).await?;
    tx.commit().await?;
    if revoked {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
