//! The JSON API under `/api/v1`: its routes, its OpenAPI document, and token authentication.

pub mod agents;
pub mod api_tokens;
pub mod attachments;
pub mod auth;
pub mod departments;
pub mod email_templates;
pub mod field_mappings;
pub mod fields;
pub mod groups;
pub mod guest_links;
pub mod help_topics;
pub mod imports;
pub mod json;
pub mod me;
pub mod organizations;
pub mod page;
pub mod portal_settings;
pub mod roles;
pub mod settings;
pub mod sign_in_providers;
pub mod sla_plans;
pub mod statuses;
pub mod teams;
pub mod ticket_filters;
pub mod tickets;
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
        tickets::list, tickets::create, tickets::show, tickets::update, tickets::reply, tickets::note,
        tickets::events, tickets::collaborators, tickets::put_collaborator, tickets::remove_collaborator,
        attachments::list, attachments::download,
        groups::list, groups::show, groups::create, groups::update, groups::delete,
        groups::user_groups, groups::grant_to_user, groups::revoke_from_user,
        groups::organization_groups, groups::grant_to_organization, groups::revoke_from_organization,
        imports::create, imports::users_csv, imports::organizations_csv,
        departments::list, departments::show, departments::create, departments::update, departments::delete,
        departments::add_agent, departments::remove_agent,
        teams::list, teams::show, teams::create, teams::update, teams::delete, teams::add_member, teams::remove_member,
        sign_in_providers::list, sign_in_providers::show, sign_in_providers::create, sign_in_providers::update,
        sign_in_providers::delete, sign_in_providers::test_connection, sign_in_providers::look_up,
        sign_in_providers::show_settings, sign_in_providers::update_settings,
        sla_plans::business_hours, sla_plans::save_business_hours,
        sla_plans::list, sla_plans::show, sla_plans::create, sla_plans::update, sla_plans::delete,
        help_topics::list, help_topics::show, help_topics::create, help_topics::update, help_topics::delete,
        help_topics::grant, help_topics::revoke,
        statuses::list, statuses::show, statuses::create, statuses::update, statuses::delete,
        statuses::ticket_settings, statuses::update_ticket_settings,
        ticket_filters::list, ticket_filters::show, ticket_filters::create, ticket_filters::update, ticket_filters::delete, ticket_filters::test,
        field_mappings::list, field_mappings::create, field_mappings::delete,
        guest_links::list, guest_links::create, guest_links::revoke,
        portal_settings::show, portal_settings::update,
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
        tickets::TicketBody, tickets::RefBody, tickets::RequesterBody, tickets::EntryBody, tickets::EntryAuthor,
        tickets::EntryList, tickets::CollaboratorBody, tickets::CollaboratorList,
        attachments::AttachmentBody, attachments::AttachmentList,
        groups::GroupBody, groups::EffectiveGroupBody, groups::EffectiveGroupList, groups::GrantSourceBody,
        groups::OrganizationRef, groups::OrganizationGrantBody, groups::OrganizationGrantList,
        crate::imports::Report, crate::imports::RowError,
        departments::DepartmentBody, departments::DepartmentInput, teams::TeamBody, teams::TeamInput,
        sign_in_providers::SignInProviderBody, sign_in_providers::SignInProviderInput, sign_in_providers::ToolResult,
        sign_in_providers::LookUpInput, sign_in_providers::SignInSettingsBody,
        sla_plans::SlaPlanBody, sla_plans::SlaPlanInput, sla_plans::BusinessHoursBody, sla_plans::OpeningSpan,
        sla_plans::HolidayBody, help_topics::HelpTopicBody, help_topics::HelpTopicInput, help_topics::GrantBody,
        help_topics::GrantInput, statuses::StatusBody, statuses::StatusInput, statuses::TicketSettingsBody,
        guest_links::GuestLinkBody, guest_links::MintedBody, guest_links::GuestLinkList,
        portal_settings::PortalSettingsBody,
        ticket_filters::TicketFilterBody, ticket_filters::TicketFilterInput, ticket_filters::TestInput, ticket_filters::TestResult, ticket_filters::ConditionResult, field_mappings::FieldMappingBody, field_mappings::FieldMappingInput,
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
        .route(
            "/tickets",
            get(tickets::list).merge(post(tickets::create).layer(attachments::body_limit())),
        )
        .route("/tickets/{id}", get(tickets::show).patch(tickets::update))
        .route(
            "/tickets/{id}/messages",
            post(tickets::reply).layer(attachments::body_limit()),
        )
        .route(
            "/tickets/{id}/notes",
            post(tickets::note).layer(attachments::body_limit()),
        )
        .route("/tickets/{id}/attachments", get(attachments::list))
        .route("/attachments/{id}", get(attachments::download))
        .route("/tickets/{id}/events", get(tickets::events))
        .route("/tickets/{id}/collaborators", get(tickets::collaborators))
        .route(
            "/tickets/{id}/collaborators/{user_id}",
            axum::routing::put(tickets::put_collaborator).delete(tickets::remove_collaborator),
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
        .route(
            "/departments",
            get(departments::list).post(departments::create),
        )
        .route(
            "/departments/{id}",
            get(departments::show)
                .patch(departments::update)
                .delete(departments::delete),
        )
        .route(
            "/departments/{id}/agents/{agent_id}",
            axum::routing::put(departments::add_agent).delete(departments::remove_agent),
        )
        .route("/teams", get(teams::list).post(teams::create))
        .route(
            "/sign-in-providers",
            get(sign_in_providers::list).post(sign_in_providers::create),
        )
        .route(
            "/sign-in-providers/{id}",
            get(sign_in_providers::show)
                .patch(sign_in_providers::update)
                .delete(sign_in_providers::delete),
        )
        .route(
            "/sign-in-providers/{id}/test-connection",
            post(sign_in_providers::test_connection),
        )
        .route(
            "/sign-in-providers/{id}/look-up",
            post(sign_in_providers::look_up),
        )
        .route(
            "/sign-in-settings",
            get(sign_in_providers::show_settings).patch(sign_in_providers::update_settings),
        )
        .route(
            "/teams/{id}",
            get(teams::show).patch(teams::update).delete(teams::delete),
        )
        .route(
            "/teams/{id}/members/{agent_id}",
            axum::routing::put(teams::add_member).delete(teams::remove_member),
        )
        .route(
            "/business-hours",
            get(sla_plans::business_hours).put(sla_plans::save_business_hours),
        )
        .route("/sla-plans", get(sla_plans::list).post(sla_plans::create))
        .route(
            "/sla-plans/{id}",
            get(sla_plans::show)
                .patch(sla_plans::update)
                .delete(sla_plans::delete),
        )
        .route(
            "/help-topics",
            get(help_topics::list).post(help_topics::create),
        )
        .route(
            "/help-topics/{id}",
            get(help_topics::show)
                .patch(help_topics::update)
                .delete(help_topics::delete),
        )
        .route(
            "/help-topics/{id}/grants",
            axum::routing::put(help_topics::grant).delete(help_topics::revoke),
        )
        .route("/statuses", get(statuses::list).post(statuses::create))
        .route(
            "/statuses/{id}",
            get(statuses::show)
                .patch(statuses::update)
                .delete(statuses::delete),
        )
        .route(
            "/ticket-settings",
            get(statuses::ticket_settings).patch(statuses::update_ticket_settings),
        )
        .route(
            "/ticket-filters",
            get(ticket_filters::list).post(ticket_filters::create),
        )
        .route(
            "/ticket-filters/{id}",
            get(ticket_filters::show)
                .patch(ticket_filters::update)
                .delete(ticket_filters::delete),
        )
        .route("/ticket-filters/{id}/test", post(ticket_filters::test))
        .route(
            "/ticket-field-mappings",
            get(field_mappings::list).post(field_mappings::create),
        )
        .route(
            "/ticket-field-mappings/{id}",
            delete(field_mappings::delete),
        )
        .route(
            "/tickets/{id}/guest-links",
            get(guest_links::list).post(guest_links::create),
        )
        .route(
            "/tickets/{id}/guest-links/{link_id}",
            delete(guest_links::revoke),
        )
        .route(
            "/portal-settings",
            get(portal_settings::show).patch(portal_settings::update),
        )
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
