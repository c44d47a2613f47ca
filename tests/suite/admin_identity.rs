//! The identity admin pages and the agent's profile, through HTTP as a browser sends forms:
//! which role opens which admin page, inviting (mail queued, bad input kept), disabling (the
//! session ends; the last admin stays), custom roles, API tokens (secret shown once, scope,
//! revoke), the password change (this browser stays, the others are signed out), and another
//! tenant's admin and ids.

use domain::{BuiltinRole, Permission, TokenName};
use reqwest::StatusCode;
use serde_json::Value;
use store::outbox::EmailSummary;
use tenantdesk_tests::{Page, TestApp, TestTenant, Visitor, spawn_app};
use uuid::Uuid;

const PASSWORD: &str = "orbit maple cascade violin";

/// Every admin page a GET opens, with the permission it needs.
const ADMIN_PAGES: [(&str, Permission); 6] = [
    ("/admin/agents", Permission::AgentsManage),
    ("/admin/roles", Permission::RolesManage),
    ("/admin/api-tokens", Permission::ApiTokensManage),
    ("/admin/settings", Permission::WorkspaceSettings),
    ("/admin/email-templates", Permission::WorkspaceSettings),
    ("/admin/mail", Permission::WorkspaceSettings),
];

/// An agent of `tenant` with `role`, signed in on a browser of its own.
async fn signed_in<'a>(
    app: &'a TestApp,
    tenant: &TestTenant,
    role: BuiltinRole,
    email: &str,
) -> (store::agents::Agent, Visitor<'a>) {
    let agent = app
        .create_agent(&tenant.tenant, role, email, PASSWORD)
        .await;
    let mut visitor = app.visitor(&tenant.host());
    visitor.sign_in_agent(email, PASSWORD).await;
    (agent, visitor)
}

async fn builtin_role_id(app: &TestApp, tenant: &TestTenant, role: BuiltinRole) -> String {
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tenant tx");
    let role = store::agents::builtin_role(&mut tx, role)
        .await
        .expect("role");
    tx.commit().await.expect("commit");
    role.id.to_string()
}

async fn outbox(app: &TestApp, tenant: &TestTenant) -> Vec<EmailSummary> {
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tenant tx");
    let rows = store::outbox::recent(&mut tx, 50).await.expect("recent");
    tx.commit().await.expect("commit");
    rows
}

async fn agent_status(app: &TestApp, tenant: &TestTenant, id: Uuid) -> &'static str {
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tenant tx");
    let agent = store::agents::by_id(&mut tx, id)
        .await
        .expect("agent")
        .expect("the agent exists");
    tx.commit().await.expect("commit");
    agent.status.as_str()
}

/// GET `path` on the tenant's API with a bearer token: status and JSON body.
async fn api_get(
    app: &TestApp,
    tenant: &TestTenant,
    token: &str,
    path: &str,
) -> (StatusCode, Value) {
    let response = app
        .get(&tenant.host(), path)
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn assert_redirects_to_login(page: &Page, what: &str) {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{what}: {}", page.body);
    assert!(
        page.location
            .as_deref()
            .is_some_and(|l| l.starts_with("/agent/login")),
        "{what}: {:?}",
        page.location
    );
}

/// The `value` of the input named `name` (the first one) on a page.
fn field_value(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\"");
    let at = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} on the page"));
    let rest = &body[at..];
    let tag = &rest[..rest.find('>').expect("end of the tag")];
    let value = tag
        .split_once("value=\"")
        .unwrap_or_else(|| panic!("field {name} has no value"))
        .1;
    value[..value.find('"').expect("end of the value")].to_owned()
}

/// The secret the token page shows once.
fn shown_secret(body: &str) -> String {
    let at = body
        .find("value=\"tdk_")
        .expect("the secret is on the page")
        + "value=\"".len();
    let rest = &body[at..];
    rest[..rest.find('"').expect("end of the secret")].to_owned()
}

/// The query value `key` of a redirect's location.
fn location_param(page: &Page, key: &str) -> String {
    let location = page.location.as_deref().expect("a redirect");
    let query = location.split_once('?').expect("a query").1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {location}"))
        .to_owned()
}

#[tokio::test]
async fn each_built_in_role_opens_exactly_the_admin_pages_its_permissions_allow() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Matrix Corp").await;

    let mut anonymous = app.visitor(&tenant.host());
    for (path, _) in ADMIN_PAGES {
        assert_redirects_to_login(&anonymous.get(path).await, path);
    }
    assert_redirects_to_login(&anonymous.get("/agent/profile").await, "profile");
    let agent_role = builtin_role_id(&app, &tenant, BuiltinRole::Agent).await;
    let page = anonymous
        .post_form(
            "/admin/agents",
            &[
                ("name", "Sneaky"),
                ("email", "sneaky@matrix.example"),
                ("role_id", &agent_role),
            ],
        )
        .await;
    assert_redirects_to_login(&page, "POST /admin/agents");

    for (role, email) in [
        (BuiltinRole::Admin, "admin@matrix.example"),
        (BuiltinRole::Manager, "manager@matrix.example"),
        (BuiltinRole::Agent, "agent@matrix.example"),
    ] {
        let (_, mut visitor) = signed_in(&app, &tenant, role, email).await;
        let home = visitor.get("/agent").await;
        assert!(home.body.contains("href=\"/agent/profile\""), "{role:?}");
        for (path, permission) in ADMIN_PAGES {
            let allowed = role.permissions().contains(&permission);
            let page = visitor.get(path).await;
            let expected = if allowed {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(page.status, expected, "{role:?} {path}: {}", page.body);
            if !allowed {
                assert!(
                    page.body.contains(permission.description()),
                    "{}",
                    page.body
                );
            }
            assert_eq!(
                home.body.contains(&format!("href=\"{path}\"")),
                allowed,
                "{role:?} is offered {path} on the panel's home only with {permission:?}"
            );
        }
        let page = visitor.get("/agent/profile").await;
        assert_eq!(page.status, StatusCode::OK, "{role:?} opens their profile");
        if !role.permissions().contains(&Permission::AgentsManage) {
            let page = visitor
                .post_form(
                    "/admin/agents",
                    &[
                        ("name", "Sneaky"),
                        ("email", "sneaky@matrix.example"),
                        ("role_id", &agent_role),
                    ],
                )
                .await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{role:?} inviting");
        }
        if !role.permissions().contains(&Permission::ApiTokensManage) {
            let page = visitor
                .post_form(
                    "/admin/api-tokens",
                    &[("name", "Sneaky"), ("permissions", "users.read")],
                )
                .await;
            assert_eq!(
                page.status,
                StatusCode::FORBIDDEN,
                "{role:?} making a token"
            );
        }
    }
    assert!(
        outbox(&app, &tenant).await.is_empty(),
        "nobody was invited by those refused"
    );
}

#[tokio::test]
async fn inviting_on_the_page_queues_the_invitation_and_bad_input_is_kept() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Invite Corp").await;
    let (_, mut admin) = signed_in(&app, &tenant, BuiltinRole::Admin, "admin@invite.example").await;
    let agent_role = builtin_role_id(&app, &tenant, BuiltinRole::Agent).await;

    let page = admin
        .post_form(
            "/admin/agents",
            &[
                ("name", "Dana Whitfield"),
                ("email", "dana@invite.example"),
                ("role_id", &agent_role),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let listed = admin.get(page.location.as_deref().expect("location")).await;
    assert!(
        listed.body.contains("Dana Whitfield is invited"),
        "{}",
        listed.body
    );
    assert!(listed.body.contains("Invited, no password yet"));
    let mails = outbox(&app, &tenant).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].event, "agent.invitation");
    assert_eq!(mails[0].recipient, "dana@invite.example");

    let page = admin
        .post_form(
            "/admin/agents",
            &[
                ("name", "Dana Again"),
                ("email", "DANA@invite.example"),
                ("role_id", &agent_role),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.body);
    assert!(
        page.body
            .contains("An agent with this email already exists."),
        "{}",
        page.body
    );
    assert_eq!(field_value(&page.body, "name"), "Dana Again");
    assert_eq!(field_value(&page.body, "email"), "DANA@invite.example");

    let page = admin
        .post_form(
            "/admin/agents",
            &[
                ("name", "Eli Marsh"),
                ("email", "eli at invite"),
                ("role_id", &agent_role),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("Enter an email address such as"));
    assert_eq!(field_value(&page.body, "name"), "Eli Marsh");
    assert_eq!(field_value(&page.body, "email"), "eli at invite");
    assert!(
        page.body
            .contains(&format!("<option value=\"{agent_role}\" selected>")),
        "the chosen role stays chosen"
    );

    let page = admin
        .post_form(
            "/admin/agents",
            &[
                ("name", " "),
                ("email", "fay@invite.example"),
                ("role_id", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("Enter the agent"), "{}", page.body);
    assert!(page.body.contains("Choose one of the roles listed."));
    assert_eq!(field_value(&page.body, "email"), "fay@invite.example");

    assert_eq!(
        outbox(&app, &tenant).await.len(),
        1,
        "refused invitations send nothing"
    );
}

#[tokio::test]
async fn disabling_on_the_page_ends_the_session_and_the_last_admin_stays() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Disable Page Corp").await;
    let (boss, mut admin) =
        signed_in(&app, &tenant, BuiltinRole::Admin, "boss@disable.example").await;
    let (worker, mut worker_browser) =
        signed_in(&app, &tenant, BuiltinRole::Agent, "worker@disable.example").await;
    assert_eq!(worker_browser.get("/agent").await.status, StatusCode::OK);

    let page = admin
        .post_form(
            &format!("/admin/agents/{}/status", worker.id),
            &[("status", "disabled")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let listed = admin.get(page.location.as_deref().expect("location")).await;
    assert!(
        listed
            .body
            .contains("is disabled and signed out everywhere"),
        "{}",
        listed.body
    );
    assert_redirects_to_login(
        &worker_browser.get("/agent").await,
        "the disabled agent's session ended",
    );
    assert_eq!(agent_status(&app, &tenant, worker.id).await, "disabled");

    let page = admin
        .post_form(
            &format!("/admin/agents/{}/status", boss.id),
            &[("status", "disabled")],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.body);
    assert!(
        page.body.contains("nobody able to manage agents"),
        "{}",
        page.body
    );
    let agent_role = builtin_role_id(&app, &tenant, BuiltinRole::Agent).await;
    let page = admin
        .post_form(
            &format!("/admin/agents/{}/role", boss.id),
            &[("role_id", &agent_role)],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::CONFLICT,
        "nor demoted: {}",
        page.body
    );
    assert_eq!(agent_status(&app, &tenant, boss.id).await, "active");
    assert_eq!(
        admin.get("/admin/agents").await.status,
        StatusCode::OK,
        "the last admin is still an admin and signed in"
    );

    let page = admin
        .post_form(
            &format!("/admin/agents/{}/status", worker.id),
            &[("status", "active")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(agent_status(&app, &tenant, worker.id).await, "active");
    let mut again = app.visitor(&tenant.host());
    again
        .sign_in_agent("worker@disable.example", PASSWORD)
        .await;
}

#[tokio::test]
async fn a_custom_role_opens_exactly_the_pages_of_its_permissions() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Custom Role Corp").await;
    let (_, mut admin) = signed_in(&app, &tenant, BuiltinRole::Admin, "admin@custom.example").await;

    let page = admin
        .post_form(
            "/admin/roles",
            &[
                ("name", "Integrator"),
                ("permissions", "api_tokens.manage"),
                ("permissions", "roles.manage"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let role_id = location_param(&page, "created");
    let roles = admin.get(page.location.as_deref().expect("location")).await;
    assert!(roles.body.contains("The role Integrator is created."));
    assert!(
        roles
            .body
            .contains(&format!("href=\"/admin/roles/{role_id}\""))
    );
    assert!(
        roles.body.contains("Integrator holds api_tokens.manage")
            && roles
                .body
                .contains("Integrator does not hold agents.manage"),
        "the matrix shows what the role holds"
    );

    let page = admin
        .post_form(
            "/admin/roles",
            &[("name", "integrator"), ("permissions", "users.read")],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("A role with this name already exists."));
    assert_eq!(field_value(&page.body, "name"), "integrator");
    let page = admin
        .post_form("/admin/roles", &[("name", ""), ("permissions", "nope")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("is not a permission"), "{}", page.body);
    let admin_role = builtin_role_id(&app, &tenant, BuiltinRole::Admin).await;
    assert_eq!(
        admin
            .get(&format!("/admin/roles/{admin_role}"))
            .await
            .status,
        StatusCode::NOT_FOUND,
        "built-in roles are read-only"
    );
    assert_eq!(
        admin.get(&format!("/admin/roles/{role_id}")).await.status,
        StatusCode::OK
    );

    let (integrator, mut browser) =
        signed_in(&app, &tenant, BuiltinRole::Agent, "int@custom.example").await;
    let page = admin
        .post_form(
            &format!("/admin/agents/{}/role", integrator.id),
            &[("role_id", &role_id)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    for (path, permission) in ADMIN_PAGES {
        let expected = if matches!(
            permission,
            Permission::ApiTokensManage | Permission::RolesManage
        ) {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(
            browser.get(path).await.status,
            expected,
            "Integrator {path}"
        );
    }

    // Nobody grants what they do not hold: not to a token, not to a role.
    let page = browser
        .post_form(
            "/admin/api-tokens",
            &[("name", "Too much"), ("permissions", "workspace.settings")],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("workspace.settings"), "{}", page.body);
    let page = browser
        .post_form(
            "/admin/api-tokens",
            &[("name", "Enough"), ("permissions", "api_tokens.manage")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let page = browser
        .post_form(
            &format!("/admin/roles/{role_id}"),
            &[
                ("name", "Integrator"),
                ("permissions", "api_tokens.manage"),
                ("permissions", "roles.manage"),
                ("permissions", "agents.manage"),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert_eq!(
        browser.get("/admin/agents").await.status,
        StatusCode::FORBIDDEN,
        "the role did not grow"
    );
}

#[tokio::test]
async fn a_token_made_on_the_page_shows_its_secret_once_and_works_within_its_scope() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Token Page Corp").await;
    let (_, mut admin) = signed_in(&app, &tenant, BuiltinRole::Admin, "admin@tokens.example").await;

    let page = admin
        .post_form(
            "/admin/api-tokens",
            &[
                ("name", "Reporter"),
                ("permissions", "users.read"),
                ("expires_on", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.location.is_none(), "the secret is never in a redirect");
    assert_eq!(
        page.headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    assert!(page.body.contains("cannot be shown again"));
    let secret = shown_secret(&page.body);

    let (status, me) = api_get(&app, &tenant, &secret, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["token"]["name"], "Reporter");
    assert_eq!(
        me["token"]["permissions"],
        serde_json::json!(["users.read"])
    );
    let (status, _) = api_get(&app, &tenant, &secret, "/api/v1/agents").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "outside the chosen permissions"
    );

    let listed = admin.get("/admin/api-tokens").await;
    assert!(listed.body.contains("Reporter"));
    assert!(
        !listed.body.contains(&secret),
        "the list never shows a secret"
    );

    let page = admin
        .post_form(
            "/admin/api-tokens",
            &[("name", "reporter"), ("permissions", "users.read")],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("A token with this name already exists."));
    let page = admin
        .post_form(
            "/admin/api-tokens",
            &[
                ("name", "Old"),
                ("permissions", "users.read"),
                ("expires_on", "2001-01-01"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("must be today or later"));
    assert_eq!(field_value(&page.body, "name"), "Old");
    assert_eq!(field_value(&page.body, "expires_on"), "2001-01-01");
    assert!(!page.body.contains("value=\"tdk_"), "no token was made");

    let page = admin
        .post_form(
            "/admin/api-tokens",
            &[("name", "Dated"), ("expires_on", "2099-12-31")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let (_, dated) = api_get(&app, &tenant, &shown_secret(&page.body), "/api/v1/me").await;
    assert_eq!(dated["token"]["permissions"], serde_json::json!([]));

    let id = me["token"]["id"].as_str().expect("token id").to_owned();
    let page = admin
        .post_form(&format!("/admin/api-tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let listed = admin.get(page.location.as_deref().expect("location")).await;
    assert!(listed.body.contains("The token Reporter is revoked"));
    let (status, _) = api_get(&app, &tenant, &secret, "/api/v1/me").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a revoked token is refused"
    );
    let page = admin
        .post_form(&format!("/admin/api-tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "revoked once");
}

#[tokio::test]
async fn the_profile_changes_the_password_and_signs_out_the_other_browsers() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Profile Corp").await;
    let (_, mut here) = signed_in(&app, &tenant, BuiltinRole::Agent, "pat@profile.example").await;
    let mut elsewhere = app.visitor(&tenant.host());
    elsewhere
        .sign_in_agent("pat@profile.example", PASSWORD)
        .await;
    let new_password = "lantern quarry mosaic thistle";

    let page = here
        .post_form(
            "/agent/profile/password",
            &[
                ("current", "not my password at all"),
                ("password", new_password),
                ("confirm", new_password),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("This is not your current password."));
    let page = here
        .post_form(
            "/agent/profile/password",
            &[
                ("current", PASSWORD),
                ("password", "password123"),
                ("confirm", "password123"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body.contains("The new password is too weak"),
        "the strength check's message: {}",
        page.body
    );
    assert_eq!(
        elsewhere.get("/agent").await.status,
        StatusCode::OK,
        "refused changes sign nobody out"
    );

    let page = here
        .post_form(
            "/agent/profile/password",
            &[
                ("current", PASSWORD),
                ("password", new_password),
                ("confirm", new_password),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let profile = here.get(page.location.as_deref().expect("location")).await;
    assert_eq!(
        profile.status,
        StatusCode::OK,
        "this browser stays signed in"
    );
    assert!(profile.body.contains("Your password is changed."));
    assert_redirects_to_login(
        &elsewhere.get("/agent").await,
        "the other browser is signed out",
    );
    let mut later = app.visitor(&tenant.host());
    later.get("/agent/login").await;
    let old = later
        .post_form(
            "/agent/login",
            &[("email", "pat@profile.example"), ("password", PASSWORD)],
        )
        .await;
    assert!(old.body.contains("incorrect"), "the old password is gone");
    later
        .sign_in_agent("pat@profile.example", new_password)
        .await;

    let page = here
        .post_form(
            "/agent/profile",
            &[
                ("name", "Pat Quinn"),
                ("timezone", "Mars/Olympus"),
                ("signature", "Cheers,\r\nPat"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("IANA time zone"));
    assert_eq!(field_value(&page.body, "timezone"), "Mars/Olympus");
    let page = here
        .post_form(
            "/agent/profile",
            &[
                ("name", "Pat Quinn"),
                ("timezone", "Europe/Berlin"),
                ("signature", "Cheers,\r\nPat"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let profile = here.get("/agent/profile").await;
    assert_eq!(field_value(&profile.body, "name"), "Pat Quinn");
    assert_eq!(field_value(&profile.body, "timezone"), "Europe/Berlin");
    assert!(profile.body.contains("Cheers,\nPat"));
    assert!(here.get("/agent").await.body.contains("Hello, Pat Quinn"));
}

#[tokio::test]
async fn another_tenants_admin_is_nobody_here_and_its_ids_are_not_found() {
    let app = spawn_app().await;
    let a = app.create_tenant("Tenant A").await;
    let b = app.create_tenant("Tenant B").await;
    let (_, mut admin_a) = signed_in(&app, &a, BuiltinRole::Admin, "admin@a.example").await;
    let (worker_b, mut worker_b_browser) =
        signed_in(&app, &b, BuiltinRole::Agent, "worker@b.example").await;
    app.create_agent(&b.tenant, BuiltinRole::Admin, "admin@b.example", PASSWORD)
        .await;

    // A's cookies on B's host: no session there, so every form sends to the sign-in page.
    let mut intruder = app.visitor(&b.host());
    intruder.cookies = admin_a.cookies.clone();
    let b_agent_role = builtin_role_id(&app, &b, BuiltinRole::Agent).await;
    for (path, fields) in [
        (
            "/admin/agents".to_owned(),
            vec![
                ("name", "Mole"),
                ("email", "mole@a.example"),
                ("role_id", b_agent_role.as_str()),
            ],
        ),
        (
            format!("/admin/agents/{}/status", worker_b.id),
            vec![("status", "disabled")],
        ),
        (
            "/admin/api-tokens".to_owned(),
            vec![("name", "Mole"), ("permissions", "users.read")],
        ),
        (
            "/admin/roles".to_owned(),
            vec![("name", "Mole"), ("permissions", "users.read")],
        ),
        (
            "/agent/profile/password".to_owned(),
            vec![("current", PASSWORD), ("password", "x"), ("confirm", "x")],
        ),
    ] {
        let page = intruder.post_form(&path, &fields).await;
        assert_redirects_to_login(&page, &path);
    }
    assert_redirects_to_login(&intruder.get("/admin/agents").await, "GET on B");
    assert!(outbox(&app, &b).await.is_empty());
    assert_eq!(agent_status(&app, &b, worker_b.id).await, "active");

    // B's ids in A's forms, on A's host: 404, exactly like ids that do not exist.
    let mut tx = app.state.store.begin_tenant(b.tenant.id).await.expect("tx");
    let b_role = store::agents::create_role(&mut tx, "B team", &[Permission::UsersRead])
        .await
        .expect("role");
    let b_token = store::tokens::create(
        &mut tx,
        &store::tokens::NewToken {
            name: &TokenName::parse("B sync").expect("name"),
            permissions: Some(&[Permission::UsersRead]),
            expires_at: None,
            created_by_agent: None,
        },
    )
    .await
    .expect("token");
    tx.commit().await.expect("commit");
    let a_agent_role = builtin_role_id(&app, &a, BuiltinRole::Agent).await;
    for (path, fields) in [
        (
            format!("/admin/agents/{}/status", worker_b.id),
            vec![("status", "disabled")],
        ),
        (
            format!("/admin/agents/{}/role", worker_b.id),
            vec![("role_id", a_agent_role.as_str())],
        ),
        (
            format!("/admin/roles/{}", b_role.id),
            vec![("name", "Taken"), ("permissions", "users.read")],
        ),
        (
            format!("/admin/api-tokens/{}/revoke", b_token.token.id),
            vec![],
        ),
        (
            format!("/admin/agents/{}/status", Uuid::now_v7()),
            vec![("status", "disabled")],
        ),
    ] {
        let page = admin_a.post_form(&path, &fields).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.body);
    }
    assert_eq!(
        admin_a
            .get(&format!("/admin/roles/{}", b_role.id))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let page = admin_a
        .post_form(
            "/admin/agents",
            &[
                ("name", "Role Thief"),
                ("email", "thief@a.example"),
                ("role_id", &b_agent_role),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "B's role is no role of A"
    );
    assert!(page.body.contains("Choose one of the roles listed."));
    let listed = admin_a.get("/admin/agents").await;
    assert!(
        !listed.body.contains("worker@b.example"),
        "A lists only A's agents"
    );

    assert_eq!(agent_status(&app, &b, worker_b.id).await, "active");
    assert_eq!(worker_b_browser.get("/agent").await.status, StatusCode::OK);
    let (status, _) = api_get(&app, &b, &b_token.secret, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "B's token is not revoked");
}
