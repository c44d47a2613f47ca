//! The identity API: agents (invite, change, disable), roles, scoped API tokens, and the
//! permission matrix of the built-in roles against every protected endpoint.

use domain::{BuiltinRole, Permission};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantdesk_tests::{TestApp, TestTenant, spawn_app};

async fn role_id(app: &TestApp, tenant: &TestTenant, token: &str, builtin: &str) -> String {
    let (_, roles) = app
        .api(tenant, token, Method::GET, "/api/v1/roles", None)
        .await;
    roles["data"]
        .as_array()
        .expect("roles")
        .iter()
        .find(|r| r["builtin"] == builtin)
        .expect("built-in role")["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// A token holding exactly the permissions of `role`, made through the API.
async fn token_like(
    app: &TestApp,
    tenant: &TestTenant,
    admin_token: &str,
    role: BuiltinRole,
) -> String {
    let permissions: Vec<&str> = role.permissions().iter().map(|p| p.key()).collect();
    let (status, issued) = app
        .api(
            tenant,
            admin_token,
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({"name": format!("{} token", role.name()), "permissions": permissions})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    issued["secret"].as_str().expect("secret").to_owned()
}

#[tokio::test]
async fn each_built_in_role_against_each_protected_endpoint() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Matrix Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    let endpoints: &[(Method, &str, Permission)] = &[
        (
            Method::GET,
            "/api/v1/settings",
            Permission::WorkspaceSettings,
        ),
        (
            Method::GET,
            "/api/v1/email-templates",
            Permission::WorkspaceSettings,
        ),
        (Method::GET, "/api/v1/agents", Permission::AgentsManage),
        (Method::GET, "/api/v1/roles", Permission::RolesManage),
        (
            Method::GET,
            "/api/v1/api-tokens",
            Permission::ApiTokensManage,
        ),
    ];
    for role in BuiltinRole::ALL {
        let token = token_like(&app, &tenant, &admin, role).await;
        for (method, path, needs) in endpoints {
            let (status, problem) = app.api(&tenant, &token, method.clone(), path, None).await;
            let expected = if role.permissions().contains(needs) {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(status, expected, "{} on {method} {path}", role.name());
            if status == StatusCode::FORBIDDEN {
                assert!(
                    problem["detail"]
                        .as_str()
                        .expect("detail")
                        .contains(needs.key()),
                    "the refusal names the permission"
                );
            }
        }
        let (status, me) = app
            .api(&tenant, &token, Method::GET, "/api/v1/me", None)
            .await;
        assert_eq!(status, StatusCode::OK, "every token may ask who it is");
        assert_eq!(
            me["token"]["permissions"].as_array().expect("list").len(),
            role.permissions().len()
        );
    }
}

#[tokio::test]
async fn agents_are_invited_changed_and_disabled_through_the_api() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Agents Api Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    let agent_role = role_id(&app, &tenant, &admin, "agent").await;

    let (status, invited) = app.api(&tenant, &admin, Method::POST, "/api/v1/agents",
        Some(json!({"name": "Dana Whitfield", "email": "dana@agents-api.example", "role_id": agent_role}))).await;
    assert_eq!(status, StatusCode::CREATED, "{invited}");
    assert_eq!(invited["status"], "invited");
    assert_eq!(invited["role"]["name"], "Agent");
    let id = invited["id"].as_str().expect("id").to_owned();

    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let mail = store::outbox::recent(&mut tx, 10).await.expect("outbox");
    tx.commit().await.expect("commit");
    assert!(
        mail.iter()
            .any(|m| m.event == "agent.invitation" && m.recipient == "dana@agents-api.example"),
        "the invitation is queued"
    );

    let (status, problem) = app.api(&tenant, &admin, Method::POST, "/api/v1/agents",
        Some(json!({"name": "Dana Again", "email": "DANA@agents-api.example", "role_id": agent_role}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (status, problem) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            "/api/v1/agents",
            Some(json!({"name": "", "email": "not-an-address", "role_id": "nope", "extra": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field"))
        .collect();
    for field in ["name", "email", "role_id", "extra"] {
        assert!(fields.contains(&field), "{field} named in {fields:?}");
    }

    let (status, changed) = app
        .api(
            &tenant,
            &admin,
            Method::PATCH,
            &format!("/api/v1/agents/{id}"),
            Some(json!({"name": "Dana W."})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(changed["name"], "Dana W.");
    let (status, _) = app
        .api(
            &tenant,
            &admin,
            Method::PATCH,
            &format!("/api/v1/agents/{id}"),
            Some(json!({"status": "paused"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn disabling_an_agent_ends_their_sessions_and_the_last_admin_stays() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Disable Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    let password = "walnut ember tundra sail";
    let boss = app
        .create_agent(
            &tenant.tenant,
            BuiltinRole::Admin,
            "boss@disable.example",
            password,
        )
        .await;
    let worker = app
        .create_agent(
            &tenant.tenant,
            BuiltinRole::Agent,
            "worker@disable.example",
            password,
        )
        .await;
    let mut visitor = app.visitor(&tenant.host());
    visitor
        .sign_in_agent("worker@disable.example", password)
        .await;

    let (status, disabled) = app
        .api(
            &tenant,
            &admin,
            Method::PATCH,
            &format!("/api/v1/agents/{}", worker.id),
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(disabled["status"], "disabled");
    assert_eq!(
        visitor.get("/agent").await.status,
        StatusCode::SEE_OTHER,
        "the disabled agent's session ended"
    );
    let again = visitor
        .post_form(
            "/agent/login",
            &[("email", "worker@disable.example"), ("password", password)],
        )
        .await;
    assert!(
        again.body.contains("incorrect"),
        "a disabled agent cannot sign in"
    );

    let agent_role = role_id(&app, &tenant, &admin, "agent").await;
    let (status, problem) = app
        .api(
            &tenant,
            &admin,
            Method::PATCH,
            &format!("/api/v1/agents/{}", boss.id),
            Some(json!({"role_id": agent_role})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "the last admin cannot be demoted: {problem}"
    );
    let (status, _) = app
        .api(
            &tenant,
            &admin,
            Method::PATCH,
            &format!("/api/v1/agents/{}", boss.id),
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "nor disabled");
    let (_, boss_now) = app
        .api(
            &tenant,
            &admin,
            Method::GET,
            &format!("/api/v1/agents/{}", boss.id),
            None,
        )
        .await;
    assert_eq!(boss_now["status"], "active");
    assert_eq!(boss_now["role"]["name"], "Admin");
}

#[tokio::test]
async fn roles_are_defined_from_the_permission_list() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Roles Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    let (status, permissions) = app
        .api(&tenant, &admin, Method::GET, "/api/v1/permissions", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        permissions.as_array().expect("list").len(),
        Permission::ALL.len()
    );

    let (status, role) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            "/api/v1/roles",
            Some(json!({"name": "Team lead", "permissions": ["users.read", "tickets.all"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{role}");
    assert_eq!(role["builtin"], Value::Null);
    let (status, _) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            "/api/v1/roles",
            Some(json!({"name": "team LEAD", "permissions": []})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, problem) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            "/api/v1/roles",
            Some(json!({"name": "Odd", "permissions": ["everything"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "permissions");
    let id = role["id"].as_str().expect("id");
    let (status, updated) = app
        .api(
            &tenant,
            &admin,
            Method::PATCH,
            &format!("/api/v1/roles/{id}"),
            Some(json!({"permissions": ["users.read"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["permissions"], json!(["users.read"]));
    let admin_role = role_id(&app, &tenant, &admin, "admin").await;
    let (status, _) = app
        .api(
            &tenant,
            &admin,
            Method::PATCH,
            &format!("/api/v1/roles/{admin_role}"),
            Some(json!({"name": "Boss"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "built-in roles are fixed");
}

#[tokio::test]
async fn tokens_carry_a_scope_expire_and_revoke() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Tokens Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    let (status, issued) = app.api(&tenant, &admin, Method::POST, "/api/v1/api-tokens",
        Some(json!({"name": "Reader", "permissions": ["users.read"], "expires_at": "2099-01-01T00:00:00Z"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let reader = issued["secret"].as_str().expect("secret").to_owned();
    let id = issued["id"].as_str().expect("id").to_owned();

    let (status, _) = app
        .api(&tenant, &reader, Method::GET, "/api/v1/settings", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "outside its scope");
    let (status, problem) = app
        .api(
            &tenant,
            &reader,
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({"name": "x", "permissions": ["users.read"]})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");

    let (_, listed) = app
        .api(&tenant, &admin, Method::GET, "/api/v1/api-tokens", None)
        .await;
    assert!(
        !listed.to_string().contains(&reader),
        "a listed token never shows its secret"
    );
    let (status, problem) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({"name": "Past", "permissions": [], "expires_at": "2001-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");

    let (status, _) = app
        .api(
            &tenant,
            &admin,
            Method::DELETE,
            &format!("/api/v1/api-tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .api(&tenant, &reader, Method::GET, "/api/v1/me", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a revoked token is dead");
    let (status, _) = app
        .api(
            &tenant,
            &admin,
            Method::DELETE,
            &format!("/api/v1/api-tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An expired token is dead too.
    let (_, short) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({"name": "Short", "permissions": [], "expires_at": "2099-01-01T00:00:00Z"})),
        )
        .await;
    let mut tx = app.owner.begin_tenant(tenant.tenant.id).await.expect("tx");
    store::tokens::list(&mut tx).await.expect("list");
    tx.commit().await.expect("commit");
    let owner = sqlx::PgPool::connect(&tenantdesk_tests::database().owner_url)
        .await
        .expect("owner");
    sqlx::query(
        "update api_tokens set expires_at = now() - interval '1 second' where id = $1::uuid",
    )
    .bind(short["id"].as_str().expect("id"))
    .execute(&owner)
    .await
    .expect("expire");
    let (status, _) = app
        .api(
            &tenant,
            short["secret"].as_str().expect("secret"),
            Method::GET,
            "/api/v1/me",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn identity_objects_of_another_tenant_are_404() {
    let app = spawn_app().await;
    let a = app.create_tenant("Identity A").await;
    let b = app.create_tenant("Identity B").await;
    let token_a = app.issue_token(&a.tenant, "admin").await;
    let token_b = app.issue_token(&b.tenant, "admin").await;
    let agent_b = app
        .create_agent(
            &b.tenant,
            BuiltinRole::Agent,
            "agent@identity-b.example",
            "walnut ember tundra sail",
        )
        .await;
    let role_b = role_id(&app, &b, &token_b, "agent").await;
    let (_, token_of_b) = app
        .api(
            &b,
            &token_b,
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({"name": "B's", "permissions": []})),
        )
        .await;
    let (_, custom_b) = app
        .api(
            &b,
            &token_b,
            Method::POST,
            "/api/v1/roles",
            Some(json!({"name": "B custom", "permissions": []})),
        )
        .await;

    for (method, path, body) in [
        (Method::GET, format!("/api/v1/agents/{}", agent_b.id), None),
        (
            Method::PATCH,
            format!("/api/v1/agents/{}", agent_b.id),
            Some(json!({"status": "disabled"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/roles/{}", custom_b["id"].as_str().expect("id")),
            Some(json!({"name": "Taken"})),
        ),
        (
            Method::DELETE,
            format!(
                "/api/v1/api-tokens/{}",
                token_of_b["id"].as_str().expect("id")
            ),
            None,
        ),
    ] {
        let (status, problem) = app.api(&a, &token_a, method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {problem}");
        assert!(
            !problem.to_string().contains("identity-b"),
            "nothing of B leaks"
        );
    }
    let (status, problem) = app
        .api(
            &a,
            &token_a,
            Method::POST,
            "/api/v1/agents",
            Some(
                json!({"name": "Sneaky", "email": "sneaky@identity-a.example", "role_id": role_b}),
            ),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "B's role is not a role of A: {problem}"
    );
    let (_, agent_now) = app
        .api(
            &b,
            &token_b,
            Method::GET,
            &format!("/api/v1/agents/{}", agent_b.id),
            None,
        )
        .await;
    assert_eq!(agent_now["status"], "active", "B's agent is untouched");
    let (status, _) = app
        .api(&b, &token_a, Method::GET, "/api/v1/agents", None)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "A's token is nobody on B's host"
    );
}

#[tokio::test]
async fn end_users_are_invited_through_the_api() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Invites Api Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    let (status, invited) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            "/api/v1/user-invitations",
            Some(json!({"name": "Robin Customer", "email": "robin@invites-api.example"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invited}");
    assert_eq!(invited["user"]["status"], "pending");
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let mail = store::outbox::recent(&mut tx, 10).await.expect("outbox");
    tx.commit().await.expect("commit");
    assert!(
        mail.iter()
            .any(|m| m.event == "user.invitation" && m.recipient == "robin@invites-api.example")
    );

    app.create_end_user(
        &tenant,
        "Active Person",
        "active@invites-api.example",
        Some("walnut ember tundra sail"),
    )
    .await;
    let (status, _) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            "/api/v1/user-invitations",
            Some(json!({"name": "Active Person", "email": "active@invites-api.example"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "an existing account is not invited again"
    );
    let (status, problem) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            "/api/v1/user-invitations",
            Some(json!({"name": "", "email": "nope"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let agent_like = token_like(&app, &tenant, &admin, BuiltinRole::Agent).await;
    let (status, _) = app
        .api(
            &tenant,
            &agent_like,
            Method::POST,
            "/api/v1/user-invitations",
            Some(json!({"name": "X", "email": "x@invites-api.example"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "inviting needs users.manage");
}
