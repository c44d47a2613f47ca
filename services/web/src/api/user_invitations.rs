//! `/api/v1/user-invitations`: invite an end user to the portal (every registration mode allows
//! agents to invite; in the private modes it is the only way to an account).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::{EmailAddress, Permission, TenantName};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::json::{ApiJson, FieldParser};
use crate::error::{ApiError, FieldError, Problem};
use crate::users::{INVITATION_VALID_FOR, InviteError};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "user": {"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d50", "name": "Robin Customer", "email": "robin@example.com", "status": "pending"},
    "expires_at": "2026-11-29T10:00:00Z"
}))]
pub struct InvitationBody {
    pub user: InvitedUser,
    /// When the emailed link stops working.
    pub expires_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct InvitedUser {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    /// `pending` until the invitation is accepted.
    pub status: &'static str,
}

/// Invites an end user: creates a pending account (or turns the guest with this address into
/// one, keeping their history) and queues the `user.invitation` mail with a single-use link
/// valid 7 days.
#[utoipa::path(post, path = "/api/v1/user-invitations", tag = "identity", security(("api_token" = [])),
    request_body(content = inline(serde_json::Value), example = json!({"name": "Robin Customer", "email": "robin@example.com"})),
    responses((status = 201, description = "The invitation is queued", body = InvitationBody),
        (status = 403, description = "The token lacks users.manage", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The address already has an account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::UsersManage)?;
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::BadRequest("The body must be a JSON object.".into()))?;
    let mut fields = FieldParser::new(object, &["name", "email"]);
    let name = fields.string("name", TenantName::parse);
    let email = fields.string("email", EmailAddress::parse);
    for (field, given) in [("name", name.is_some()), ("email", email.is_some())] {
        if !given && !fields.errors.iter().any(|e| e.field == field) {
            fields.errors.push(FieldError {
                field: field.into(),
                message: "is required".into(),
            });
        }
    }
    let (Some(name), Some(email)) = fields.finish((name, email))? else {
        return Err(ApiError::BadRequest("incomplete".into()));
    };
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let user = crate::users::invite(&mut tx, &caller.tenant, &state.config.base_url, &state.config.mail_from, name.as_str(), &email)
        .await
        .map_err(|error| match error {
            InviteError::AlreadyAnAccount => ApiError::Refused("This address already has an account; send a password reset link instead if they cannot sign in.".into()),
            InviteError::Mailer(error) => error.into(),
            InviteError::Store(error) => error.into(),
        })?;
    tx.commit().await?;
    let body = InvitationBody {
        user: InvitedUser {
            id: user.id,
            name: user.name,
            email: user.email,
            status: user.status.as_str(),
        },
        expires_at: Utc::now()
            + chrono::Duration::from_std(INVITATION_VALID_FOR).unwrap_or_default(),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}
