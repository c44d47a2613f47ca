//! The JSON API under `/api/v1`: its routes, its OpenAPI document, and token authentication.

pub mod agents;
pub mod api_tokens;
pub mod auth;
pub mod email_templates;
pub mod fields;
pub mod groups;
pub mod imports;
pub mod json;
pub mod me;
pub mod organizations;
pub mod page;
pub mod roles;
pub mod settings;
pub mod user_invitations;
pub mod users;

use axum::Json;
use axum::Router;
use axum::routing::{delete, get, patch, post};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::AppState;
use crate::error::{ApiError, FieldError, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tenantdesk API",
        description = "The API of one Tenantdesk tenant. Every request goes to the tenant's own host \
                       (`https://{slug}.{base domain}/api/v1/...`); the host alone chooses the tenant. \
                       Errors are RFC 9457 problem documents (`application/problem+json`)."
    ),
    paths(
        me::show, settings::show, settings::update,
        email_templates::list, email_templates::show, email_templates::update, email_templates::reset,
        email_templates::preview, email_templates::send_test,
        agents::list, agents::show, agents::invite, agents::update,
        roles::permissions, roles::list, roles::create, roles::update,
        api_tokens::list, api_tokens::create, api_tokens::revoke,
        user_invitations::create,
        fields::list, fields::show, fields::create, fields::update,
        organizations::list, organizations::show, organizations::create, organizations::update,
        organizations::members, organizations::put_member, organizations::remove_member,
        organizations::user_organizations,
        users::list, users::show, users::create, users::update, users::erase,
        groups::list, groups::show, groups::create, groups::update, groups::delete,
        groups::user_groups, groups::grant_to_user, groups::revoke_from_user,
        groups::organization_groups, groups::grant_to_organization, groups::revoke_from_organization,
        imports::create, imports::users_csv, imports::organizations_csv,
        crate::health::healthz, crate::health::readyz, openapi_json),
    components(schemas(Problem, FieldError, me::Me, me::TokenSummary, me::TenantSummary, settings::SettingsBody, settings::SettingsPatch,
        email_templates::EmailTemplateList, email_templates::EmailTemplateSummary, email_templates::TemplateVariable,
        email_templates::EmailTemplateBody, email_templates::TemplateOrigin, email_templates::TemplateInput,
        email_templates::RenderedTemplate, email_templates::TestSendInput, email_templates::TestSendQueued,
        agents::AgentBody, agents::RoleRef, roles::RoleBody, roles::PermissionBody,
        api_tokens::TokenBody, api_tokens::IssuedBody,
        user_invitations::InvitationBody, user_invitations::InvitedUser,
        fields::FieldBody, fields::FieldPatch,
        organizations::OrganizationBody, organizations::OrganizationInput, organizations::MemberBody,
        organizations::MembershipInput, organizations::UserOrganizationBody,
        users::UserBody, users::PrimaryOrganizationRef,
        groups::GroupBody, groups::EffectiveGroupBody, groups::EffectiveGroupList, groups::GrantSourceBody,
        groups::OrganizationRef, groups::OrganizationGrantBody, groups::OrganizationGrantList,
        crate::imports::Report, crate::imports::RowError,
    )),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json"))
)]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Routes of a tenant's API.
pub fn tenant_routes() -> Router<AppState> {
    Router::new()
        .route("/me", get(me::show))
        .route("/settings", get(settings::show).patch(settings::update))
        .route("/email-templates", get(email_templates::list))
        .route(
            "/email-templates/{event}",
            get(email_templates::show)
                .put(email_templates::update)
                .delete(email_templates::reset),
        )
        .route(
            "/email-templates/{event}/preview",
            post(email_templates::preview),
        )
        .route(
            "/email-templates/{event}/test",
            post(email_templates::send_test),
        )
        .route("/agents", get(agents::list).post(agents::invite))
        .route("/agents/{id}", get(agents::show).patch(agents::update))
        .route("/permissions", get(roles::permissions))
        .route("/roles", get(roles::list).post(roles::create))
        .route("/roles/{id}", patch(roles::update))
        .route(
            "/api-tokens",
            get(api_tokens::list).post(api_tokens::create),
        )
        .route("/api-tokens/{id}", delete(api_tokens::revoke))
        .route("/user-invitations", post(user_invitations::create))
        .route("/fields/{entity}", get(fields::list).post(fields::create))
        .route(
            "/fields/{entity}/{id}",
            get(fields::show).patch(fields::update),
        )
        .route(
            "/organizations",
            get(organizations::list).post(organizations::create),
        )
        .route(
            "/organizations/{id}",
            get(organizations::show).patch(organizations::update),
        )
        .route("/organizations/{id}/members", get(organizations::members))
        .route(
            "/organizations/{id}/members/{user_id}",
            axum::routing::put(organizations::put_member).delete(organizations::remove_member),
        )
        .route(
            "/users/{id}/organizations",
            get(organizations::user_organizations),
        )
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::show).patch(users::update))
        .route("/users/{id}/erase", post(users::erase))
        .route("/groups", get(groups::list).post(groups::create))
        .route(
            "/groups/{id}",
            get(groups::show)
                .patch(groups::update)
                .delete(groups::delete),
        )
        .route("/users/{id}/groups", get(groups::user_groups))
        .route(
            "/users/{id}/groups/{group_id}",
            axum::routing::put(groups::grant_to_user).delete(groups::revoke_from_user),
        )
        .route(
            "/organizations/{id}/groups",
            get(groups::organization_groups),
        )
        .route(
            "/organizations/{id}/groups/{group_id}",
            axum::routing::put(groups::grant_to_organization)
                .delete(groups::revoke_from_organization),
        )
        .route(
            "/imports",
            post(imports::create).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/users.csv", get(imports::users_csv))
        .route("/organizations.csv", get(imports::organizations_csv))
        .route("/openapi.json", get(openapi_json))
        .fallback(not_found)
}

/// Routes of the platform's API on the base domain.
pub fn platform_routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .fallback(not_found)
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}
