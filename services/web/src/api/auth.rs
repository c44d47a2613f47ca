//! Who is calling the API: an API token of the tenant whose host was called.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use domain::Permission;
use store::tenancy::Tenant;
use store::tokens::ApiToken;

use crate::AppState;
use crate::error::ApiError;
use crate::tenancy::CurrentTenant;

/// A request authenticated by a live API token of this host's tenant. A token of another
/// tenant is simply unknown here (row-level security never shows it), so it is a 401.
pub struct ApiCaller {
    pub tenant: Tenant,
    pub token: ApiToken,
}

impl ApiCaller {
    /// Refuses with 403 unless the token's scope includes `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.token.permissions.contains(&permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "This token's scope does not include the permission `{}` ({}).",
                permission.key(),
                permission.description()
            )))
        }
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let CurrentTenant(tenant) = parts
            .extensions
            .get::<CurrentTenant>()
            .cloned()
            .ok_or(ApiError::NotFound)?;
        let secret = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(ApiError::Unauthorized)?;
        let mut tx = state.store.begin_tenant(tenant.id).await?;
        let token = store::tokens::api_token_by_secret(&mut tx, secret).await?;
        tx.commit().await?;
        let token = token.ok_or(ApiError::Unauthorized)?;
        Ok(Self { tenant, token })
    }
}

/// A caller whose token may configure the workspace (settings, email templates, mail log).
pub struct WorkspaceAdmin(pub ApiCaller);

impl FromRequestParts<AppState> for WorkspaceAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = ApiCaller::from_request_parts(parts, state).await?;
        caller.require(Permission::WorkspaceSettings)?;
        Ok(Self(caller))
    }
}
