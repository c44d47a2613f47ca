//! `/api/v1/portal-settings`: the portal options (new-ticket autoresponse, closing by end
//! users, the reopen window, how long guest links work after closing). Reads need
//! `users.read`, changes `helpdesk.configure`.

use axum::Json;
use axum::extract::State;
use domain::Permission;
use serde::Serialize;
use serde_json::Value;
use store::TenantTx;
use store::portal_settings::{MAX_DAYS, PortalSettings, PortalSettingsChange};
use utoipa::ToSchema;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::departments::object_of;
use crate::api::json::{ApiJson, FieldParser};
use crate::error::{ApiError, Problem};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"autoresponse": true, "users_may_close": true, "reopen_days": 14,
    "guest_link_days_after_close": 30}))]
pub struct PortalSettingsBody {
    /// The new-ticket autoresponse is sent (help topics can still turn it off for themselves).
    pub autoresponse: bool,
    /// End users may close their own tickets on the portal.
    pub users_may_close: bool,
    /// Days after closing in which an end user may reopen; 0: never.
    pub reopen_days: i32,
    /// Days after a ticket closed that its guest links keep working.
    pub guest_link_days_after_close: i32,
}

impl From<PortalSettings> for PortalSettingsBody {
    fn from(s: PortalSettings) -> Self {
        Self {
            autoresponse: s.autoresponse,
            users_may_close: s.users_may_close,
            reopen_days: s.reopen_days,
            guest_link_days_after_close: s.guest_link_days_after_close,
        }
    }
}

/// Saves portal settings from a JSON body (the API's and the admin page's one path).
pub(crate) async fn save_in(tx: &mut TenantTx, body: Value) -> Result<PortalSettings, ApiError> {
    let object = object_of(body)?;
    let mut fields = FieldParser::new(
        &object,
        &[
            "autoresponse",
            "users_may_close",
            "reopen_days",
            "guest_link_days_after_close",
        ],
    );
    let change = PortalSettingsChange {
        autoresponse: fields.boolean("autoresponse"),
        users_may_close: fields.boolean("users_may_close"),
        reopen_days: fields.integer_in("reopen_days", 0..=i64::from(MAX_DAYS)),
        guest_link_days_after_close: fields
            .integer_in("guest_link_days_after_close", 0..=i64::from(MAX_DAYS)),
    };
    let change = fields.finish(change)?;
    Ok(store::portal_settings::update(tx, &change).await?)
}

/// The workspace's portal options.
#[utoipa::path(get, path = "/api/v1/portal-settings", tag = "portal", security(("api_token" = [])),
    responses((status = 200, description = "The portal options", body = PortalSettingsBody),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Json<PortalSettingsBody>, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let settings = store::portal_settings::load(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(settings.into()))
}

/// Changes the options given; the others stay.
#[utoipa::path(patch, path = "/api/v1/portal-settings", tag = "portal", security(("api_token" = [])),
    request_body(content = inline(serde_json::Value), example = json!({"users_may_close": false, "reopen_days": 0})),
    responses((status = 200, description = "The saved options", body = PortalSettingsBody),
        (status = 403, description = "The token lacks helpdesk.configure", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named", body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<PortalSettingsBody>, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let saved = save_in(&mut tx, body).await?;
    tx.commit().await?;
    Ok(Json(saved.into()))
}
