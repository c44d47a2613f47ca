//! Liveness (`/healthz`) and readiness (`/readyz`) for load balancers and orchestrators.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, description = "Up", example = json!({"status": "ok"}))))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The database answers and carries every migration this binary expects.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "meta",
    responses(
        (status = 200, description = "Ready", example = json!({"status": "ready"})),
        (status = 503, description = "Database unreachable or migrations not current", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match state.store.migrations_current().await {
        Ok(true) => Ok(Json(json!({"status": "ready"}))),
        Ok(false) => Err(ApiError::Unavailable(
            "database migrations are not current".into(),
        )),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            Err(ApiError::Unavailable("the database does not answer".into()))
        }
    }
}
