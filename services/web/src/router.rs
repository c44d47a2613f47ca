//! Every route of Tenantdesk, wired in one place. Health and static assets answer on any host;
//! everything else first resolves the Host to the platform site or one tenant's site.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::HOST;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::Host;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::auth::csrf;
use crate::error::{ApiError, PageError};
use crate::tenancy::{CurrentTenant, Site};
use crate::{AppState, api, assets, health, pages, telemetry};
use domain::TenantStatus;

pub fn router(state: AppState) -> Router {
    let sites = Sites {
        tenant: tenant_site(state.clone()),
        platform: platform_site(state.clone()),
    };
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/static/app.css", get(assets::stylesheet))
        .route_layer(middleware::from_fn(telemetry::record_route))
        .fallback(move |State(state): State<AppState>, request: Request| {
            let sites = sites.clone();
            async move { sites.dispatch(&state, request).await }
        })
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(telemetry::request_span)
                        .on_response(telemetry::record_response),
                )
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(middleware::from_fn(telemetry::observe)),
        )
}

/// A tenant's portal, agent panel, admin pages and API.
fn tenant_site(state: AppState) -> Router {
    use pages::{account, admin, admin_identity, admin_users, agent, password_reset};
    Router::new()
        .route("/", get(pages::portal::home))
        .route("/agent", get(agent::home))
        .route(
            "/support-email/verify/{token}",
            get(pages::support_email::show).post(pages::support_email::confirm),
        )
        .route("/agent/login", get(agent::login_form).post(agent::login))
        // OpenID Connect sign-in: start, the provider's callback, RP-initiated logout.
        .route(
            "/auth/oidc/{provider}/start",
            get(crate::sign_in::oidc::start),
        )
        .route(
            "/auth/oidc/{provider}/callback",
            get(crate::sign_in::oidc::callback),
        )
        .route(
            "/auth/oidc/{provider}/logout",
            post(crate::sign_in::oidc::logout),
        )
        // Trusted reverse-proxy header sign-in (see sign_in::trusted_header).
        .route("/auth/header", get(crate::sign_in::trusted_header::sign_in))
        .route(
            "/admin/sign-in",
            get(pages::admin_sign_in::list).post(pages::admin_sign_in::create),
        )
        .route("/admin/sign-in/new", get(pages::admin_sign_in::new_form))
        .route(
            "/admin/sign-in/password",
            post(pages::admin_sign_in::save_password),
        )
        .route(
            "/admin/sign-in/{id}",
            get(pages::admin_sign_in::edit).post(pages::admin_sign_in::save),
        )
        .route(
            "/admin/sign-in/{id}/delete",
            post(pages::admin_sign_in::delete),
        )
        .route(
            "/admin/sign-in/{id}/test-connection",
            post(pages::admin_sign_in::test_connection),
        )
        .route(
            "/admin/sign-in/{id}/look-up",
            post(pages::admin_sign_in::look_up),
        )
        .route("/agent/logout", post(agent::logout))
        .route("/agent/attachments/{id}", get(pages::attachments::download))
        .route("/agent/logout-everywhere", post(agent::logout_everywhere))
        .route(
            "/agent/invitation/{token}",
            get(agent::invitation_form).post(agent::accept_invitation),
        )
        .route(
            "/admin/settings",
            get(admin::settings_form).post(admin::save_settings),
        )
        .route("/admin/email-templates", get(admin::email_templates))
        .route("/admin/email-templates/{event}", get(admin::email_template))
        .route(
            "/admin/email-templates/{event}/save",
            post(admin::save_template),
        )
        .route(
            "/admin/email-templates/{event}/preview",
            post(admin::preview_template),
        )
        .route(
            "/admin/email-templates/{event}/reset",
            post(admin::reset_template),
        )
        .route(
            "/admin/email-templates/{event}/test",
            post(admin::send_test),
        )
        .route("/admin/mail", get(admin::mail_log))
        .route("/admin/mail/{id}/retry", post(admin::retry_mail))
        // Identity administration: agents, roles, API tokens; the agent's own profile.
        .route(
            "/admin/agents",
            get(admin_identity::agents_list).post(admin_identity::invite_agent),
        )
        .route(
            "/admin/agents/{id}/role",
            post(admin_identity::change_agent_role),
        )
        .route(
            "/admin/agents/{id}/status",
            post(admin_identity::change_agent_status),
        )
        .route(
            "/admin/roles",
            get(admin_identity::roles_list).post(admin_identity::create_role),
        )
        .route(
            "/admin/roles/{id}",
            get(admin_identity::role_form).post(admin_identity::save_role),
        )
        .route(
            "/admin/api-tokens",
            get(admin_identity::api_tokens_list).post(admin_identity::create_api_token),
        )
        .route(
            "/admin/api-tokens/{id}/revoke",
            post(admin_identity::revoke_api_token),
        )
        // Custom fields: definitions per entity, edit, archive and restore.
        .route("/admin/fields", get(pages::admin_fields::fields_list))
        .route(
            "/admin/fields/{entity}",
            post(pages::admin_fields::create_field),
        )
        .route(
            "/admin/fields/{entity}/{id}",
            get(pages::admin_fields::field_form).post(pages::admin_fields::save_field),
        )
        .route(
            "/admin/fields/{entity}/{id}/archive",
            post(pages::admin_fields::archive_field),
        )
        .route(
            "/admin/fields/{entity}/{id}/restore",
            post(pages::admin_fields::restore_field),
        )
        // Ticket configuration: one list page with an add form, an edit page and a delete
        // button per resource; business hours and ticket settings are single forms.
        .route(
            "/admin/departments",
            get(pages::admin_tickets::list).post(pages::admin_tickets::create),
        )
        .route(
            "/admin/departments/{id}",
            get(pages::admin_tickets::edit).post(pages::admin_tickets::save),
        )
        .route(
            "/admin/departments/{id}/delete",
            post(pages::admin_tickets::delete),
        )
        .route(
            "/admin/teams",
            get(pages::admin_tickets::list).post(pages::admin_tickets::create),
        )
        .route(
            "/admin/teams/{id}",
            get(pages::admin_tickets::edit).post(pages::admin_tickets::save),
        )
        .route(
            "/admin/teams/{id}/delete",
            post(pages::admin_tickets::delete),
        )
        .route(
            "/admin/sla-plans",
            get(pages::admin_tickets::list).post(pages::admin_tickets::create),
        )
        .route(
            "/admin/sla-plans/{id}",
            get(pages::admin_tickets::edit).post(pages::admin_tickets::save),
        )
        .route(
            "/admin/sla-plans/{id}/delete",
            post(pages::admin_tickets::delete),
        )
        .route(
            "/admin/help-topics",
            get(pages::admin_tickets::list).post(pages::admin_tickets::create),
        )
        .route(
            "/admin/help-topics/{id}",
            get(pages::admin_tickets::edit).post(pages::admin_tickets::save),
        )
        .route(
            "/admin/help-topics/{id}/delete",
            post(pages::admin_tickets::delete),
        )
        .route(
            "/admin/statuses",
            get(pages::admin_tickets::list).post(pages::admin_tickets::create),
        )
        .route(
            "/admin/statuses/{id}",
            get(pages::admin_tickets::edit).post(pages::admin_tickets::save),
        )
        .route(
            "/admin/statuses/{id}/delete",
            post(pages::admin_tickets::delete),
        )
        .route(
            "/admin/business-hours",
            get(pages::admin_tickets::settings_form).post(pages::admin_tickets::save_settings_form),
        )
        .route(
            "/admin/ticket-settings",
            get(pages::admin_tickets::settings_form).post(pages::admin_tickets::save_settings_form),
        )
        // Ticket filters and field mappings (pages::admin_ticket_rules).
        .route(
            "/admin/ticket-filters",
            get(pages::admin_ticket_rules::list),
        )
        .route(
            "/admin/ticket-filters/new",
            get(pages::admin_ticket_rules::new_form).post(pages::admin_ticket_rules::create),
        )
        .route(
            "/admin/ticket-filters/{id}",
            get(pages::admin_ticket_rules::edit).post(pages::admin_ticket_rules::save),
        )
        .route(
            "/admin/ticket-filters/{id}/test",
            post(pages::admin_ticket_rules::test),
        )
        .route(
            "/admin/ticket-filters/{id}/toggle",
            post(pages::admin_ticket_rules::toggle),
        )
        .route(
            "/admin/ticket-filters/{id}/move",
            post(pages::admin_ticket_rules::move_rule),
        )
        .route(
            "/admin/ticket-filters/{id}/delete",
            post(pages::admin_ticket_rules::delete),
        )
        .route(
            "/admin/field-mappings",
            get(pages::admin_ticket_rules::mappings)
                .post(pages::admin_ticket_rules::create_mapping),
        )
        .route(
            "/admin/field-mappings/{id}/delete",
            post(pages::admin_ticket_rules::delete_mapping),
        )
        // Customer groups: the admin page, and grants posted from user and organization pages.
        .route(
            "/admin/groups",
            get(pages::admin_groups::groups_list).post(pages::admin_groups::create_group),
        )
        .route(
            "/admin/groups/{id}",
            get(pages::admin_groups::group_form).post(pages::admin_groups::save_group),
        )
        .route(
            "/admin/groups/{id}/delete",
            post(pages::admin_groups::delete_group),
        )
        .route(
            "/agent/users/{id}/groups",
            post(pages::admin_groups::grant_to_user),
        )
        .route(
            "/agent/users/{id}/groups/{group_id}/revoke",
            post(pages::admin_groups::revoke_from_user),
        )
        .route(
            "/agent/organizations/{id}/groups",
            post(pages::admin_groups::grant_to_organization),
        )
        .route(
            "/agent/organizations/{id}/groups/{group_id}/revoke",
            post(pages::admin_groups::revoke_from_organization),
        )
        // The agent panel's tickets: queues, bulk actions, the ticket page and its forms.
        .route("/agent/tickets", get(pages::tickets::queues))
        .route("/agent/tickets/bulk", post(pages::tickets::bulk))
        .route(
            "/agent/tickets/new",
            get(pages::tickets::new_form).post(pages::tickets::create),
        )
        .route("/agent/tickets/{number}", get(pages::tickets::show))
        .route("/agent/tickets/{number}/reply", post(pages::tickets::reply))
        .route("/agent/tickets/{number}/note", post(pages::tickets::note))
        .route(
            "/agent/tickets/{number}/assign",
            post(pages::tickets::assign),
        )
        .route(
            "/agent/tickets/{number}/transfer",
            post(pages::tickets::transfer),
        )
        .route(
            "/agent/tickets/{number}/update",
            post(pages::tickets::update),
        )
        .route(
            "/agent/tickets/{number}/fields",
            post(pages::tickets::fields),
        )
        .route(
            "/agent/tickets/{number}/collaborators",
            post(pages::tickets::add_collaborator),
        )
        .route(
            "/agent/tickets/{number}/collaborators/{user_id}/remove",
            post(pages::tickets::remove_collaborator),
        )
        // The end-user directory.
        .route("/agent/users", get(pages::user_directory::list))
        .route(
            "/agent/users/new",
            get(pages::user_directory::new_form).post(pages::user_directory::create),
        )
        .route("/agent/users/{id}", get(pages::user_directory::show))
        .route(
            "/agent/users/{id}/edit",
            get(pages::user_directory::edit_form).post(pages::user_directory::update),
        )
        .route(
            "/agent/users/{id}/invite",
            post(pages::user_directory::invite),
        )
        .route(
            "/agent/users/{id}/erase",
            post(pages::user_directory::erase),
        )
        // Organizations: list, new, the organization's page with its members.
        .route("/agent/organizations", get(pages::organizations::list))
        .route(
            "/agent/organizations/new",
            get(pages::organizations::new_form).post(pages::organizations::create),
        )
        .route(
            "/agent/organizations/{id}",
            get(pages::organizations::show).post(pages::organizations::save),
        )
        .route(
            "/agent/organizations/{id}/members",
            post(pages::organizations::add_member),
        )
        .route(
            "/agent/organizations/{id}/members/{user_id}",
            post(pages::organizations::change_member),
        )
        .route(
            "/agent/organizations/{id}/members/{user_id}/remove",
            post(pages::organizations::remove_member),
        )
        // CSV import and export of the directory. The upload's size is checked while it is
        // spooled to disk (TENANTDESK_IMPORT_MAX_BYTES), not by the default body limit.
        .route(
            "/agent/import",
            get(pages::imports::import_form)
                .post(pages::imports::import_upload)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/agent/import/users.csv", get(pages::imports::users_csv))
        .route(
            "/agent/import/organizations.csv",
            get(pages::imports::organizations_csv),
        )
        .route(
            "/agent/profile",
            get(agent::profile).post(agent::save_profile),
        )
        .route("/agent/profile/password", post(agent::change_password))
        .route(
            "/agent/profile/notifications",
            post(agent::save_notifications),
        )
        // End-user accounts: sign-in, registration, confirmation, profile.
        .route("/login", get(account::login_form).post(account::login))
        .route("/logout", post(account::logout))
        .route("/logout-everywhere", post(account::logout_everywhere))
        .route(
            "/register",
            get(account::register_form).post(account::register),
        )
        .route(
            "/register/confirm/{token}",
            get(account::confirm_form).post(account::confirm),
        )
        .route("/account", get(account::profile))
        .route("/account/name", post(account::save_name))
        .route("/account/password", post(account::change_password))
        // Forgotten passwords, for end users and for agents.
        .route(
            "/password/forgot",
            get(password_reset::user_forgot_form).post(password_reset::user_forgot),
        )
        .route(
            "/password/reset/{token}",
            get(password_reset::user_reset_form).post(password_reset::user_reset),
        )
        .route(
            "/agent/password/forgot",
            get(password_reset::agent_forgot_form).post(password_reset::agent_forgot),
        )
        .route(
            "/agent/password/reset/{token}",
            get(password_reset::agent_reset_form).post(password_reset::agent_reset),
        )
        // Helping end users and agents who cannot sign in; inviting end users.
        .route(
            "/admin/users",
            get(admin_users::users_list).post(admin_users::invite_user),
        )
        .route(
            "/admin/users/{id}/reset-link",
            post(admin_users::send_reset_link),
        )
        .route(
            "/admin/users/{id}/temporary-password",
            post(admin_users::set_temporary_password),
        )
        .route("/admin/users/{id}/unlock", post(admin_users::unlock))
        .route(
            "/admin/agents/{id}/reset-link",
            post(admin_identity::send_agent_reset_link),
        )
        .route(
            "/admin/agents/{id}/temporary-password",
            post(admin_identity::set_agent_temporary_password),
        )
        .route(
            "/admin/agents/{id}/unlock",
            post(admin_identity::unlock_agent),
        )
        .route(
            "/invitation/{token}",
            get(account::invitation_form).post(account::accept_invitation),
        )
        // The portal's tickets: open (as guest or signed in), my requests, the ticket page,
        // guest links, ticket-number access; portal options and guest-link revocation.
        .route(
            "/tickets/new",
            get(pages::portal::new_form)
                .post(pages::portal::create)
                .layer(api::attachments::body_limit()),
        )
        .route("/tickets/opened", get(pages::portal::opened))
        .route("/tickets", get(pages::portal_tickets::list))
        .route("/tickets/{number}", get(pages::portal_tickets::show))
        .route(
            "/tickets/{number}/reply",
            post(pages::portal_tickets::reply).layer(api::attachments::body_limit()),
        )
        .route(
            "/tickets/{number}/close",
            post(pages::portal_tickets::close),
        )
        .route(
            "/tickets/{number}/reopen",
            post(pages::portal_tickets::reopen),
        )
        .route(
            "/tickets/{number}/attachments/{id}",
            get(pages::portal_tickets::download),
        )
        .route(
            "/tickets/{number}/guest/{secret}",
            get(pages::portal_tickets::guest_show),
        )
        .route(
            "/tickets/{number}/guest/{secret}/reply",
            post(pages::portal_tickets::guest_reply).layer(api::attachments::body_limit()),
        )
        .route(
            "/tickets/{number}/guest/{secret}/close",
            post(pages::portal_tickets::guest_close),
        )
        .route(
            "/tickets/{number}/guest/{secret}/reopen",
            post(pages::portal_tickets::guest_reopen),
        )
        .route(
            "/tickets/{number}/guest/{secret}/attachments/{id}",
            get(pages::portal_tickets::guest_download),
        )
        .route(
            "/access",
            get(pages::portal::access_form).post(pages::portal::request_access),
        )
        .route(
            "/admin/portal",
            get(pages::admin_portal::form).post(pages::admin_portal::save),
        )
        .route(
            "/agent/tickets/{number}/guest-links",
            get(pages::admin_portal::guest_links),
        )
        .route(
            "/agent/tickets/{number}/guest-links/{link_id}/revoke",
            post(pages::admin_portal::revoke_guest_link),
        )
        .layer(middleware::from_fn_with_state(
            state.clone(),
            csrf::ensure_cookie,
        ))
        .nest("/api/v1", api::tenant_routes())
        .fallback(pages::portal::not_found)
        .route_layer(middleware::from_fn(telemetry::record_route))
        .with_state(state)
}

/// The platform's own site on the base domain.
fn platform_site(state: AppState) -> Router {
    use pages::platform;
    Router::new()
        .route("/", get(platform::home))
        .route("/login", get(platform::login_form).post(platform::login))
        .route("/logout", post(platform::logout))
        .route("/mailbox", get(platform::mailbox_list))
        .route("/mailbox/{id}", get(platform::mailbox_message))
        // The platform console: operators only (SignedInOperator in every handler).
        .route("/console", get(pages::console::tenants))
        .route(
            "/console/tenants/new",
            get(pages::console::new_tenant_form).post(pages::console::create_tenant),
        )
        .route(
            "/console/tenants/{slug}/suspend",
            post(pages::console::suspend),
        )
        .route(
            "/console/tenants/{slug}/resume",
            post(pages::console::resume),
        )
        .route("/console/tenants/{slug}/usage", get(pages::console::usage))
        .route("/console/audit", get(pages::console::audit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            csrf::ensure_cookie,
        ))
        .nest("/api/v1", api::platform_routes())
        .fallback(pages::portal::not_found)
        .route_layer(middleware::from_fn(telemetry::record_route))
        .with_state(state)
}

#[derive(Clone)]
struct Sites {
    tenant: Router,
    platform: Router,
}

impl Sites {
    /// Chooses the site by the Host header alone; no other header or parameter counts.
    async fn dispatch(self, state: &AppState, mut request: Request) -> Response {
        let wants_api = request.uri().path().starts_with("/api/");
        let refuse = |page: PageError, api: ApiError| {
            if wants_api {
                api.into_response()
            } else {
                page.into_response()
            }
        };
        let host = request
            .headers()
            .get(HOST)
            .and_then(|value| value.to_str().ok())
            .map(Host::parse);
        let Some(Ok(host)) = host else {
            let why = "The request needs a valid Host header.";
            return refuse(
                PageError::BadRequest(why.into()),
                ApiError::BadRequest(why.into()),
            );
        };
        let site = state
            .tenants
            .resolve(&state.store, state.config.base_url.host(), &host)
            .await;
        let router = match site {
            Ok(Site::Platform) => self.platform,
            Ok(Site::Tenant(tenant)) => {
                let span = Span::current();
                span.record("tenant.id", tracing::field::display(tenant.id));
                span.record("tenant.slug", tenant.slug.as_str());
                if tenant.status == TenantStatus::Suspended {
                    return refuse(PageError::Suspended, ApiError::Suspended);
                }
                request.extensions_mut().insert(CurrentTenant(tenant));
                self.tenant
            }
            Ok(Site::Unknown) => return refuse(PageError::NotFound, ApiError::NotFound),
            Err(error) => {
                return refuse(
                    PageError::from(error),
                    ApiError::Internal("tenant resolution failed".into()),
                );
            }
        };
        match router.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}
