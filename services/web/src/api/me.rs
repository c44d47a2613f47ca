//! `/api/v1/me`: who the caller is, and on which tenant.

use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::auth::ApiCaller;
use crate::error::Problem;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "kind": "api_token",
    "token": {"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d11", "name": "CRM sync", "permissions": ["users.read"], "created_at": "2026-11-22T10:00:00Z"},
    "tenant": {"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d00", "slug": "acme", "name": "Acme Corp"}
}))]
pub struct Me {
    /// The kind of principal: `api_token` for now; agents and end users follow.
    pub kind: &'static str,
    pub token: TokenSummary,
    pub tenant: TenantSummary,
}

#[derive(Serialize, ToSchema)]
pub struct TokenSummary {
    pub id: Uuid,
    pub name: String,
    /// What the token may do.
    pub permissions: Vec<&'static str>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct TenantSummary {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
}

/// The calling principal and its tenant.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "identity",
    security(("api_token" = [])),
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "No token, or not a token of this tenant", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn show(caller: ApiCaller) -> Json<Me> {
    Json(Me {
        kind: "api_token",
        token: TokenSummary {
            id: caller.token.id,
            name: caller.token.name,
            permissions: caller.token.permissions.iter().map(|p| p.key()).collect(),
            created_at: caller.token.created_at,
        },
        tenant: TenantSummary {
            id: caller.tenant.id.as_uuid(),
            slug: caller.tenant.slug.to_string(),
            name: caller.tenant.name.to_string(),
        },
    })
}
