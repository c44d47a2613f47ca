//! Sign-in providers (issue #8, the foundation): the API and admin page with validation and
//! write-only secrets, cross-tenant 404s, key rotation by the CLI, the trusted proxy header
//! (accepted from the proxy, ignored from anywhere else), linking and just-in-time accounts,
//! the password switch with its lockout protection, and the sign-in pages' buttons and
//! email-first step.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use store::sign_in_providers::{NewSignInProvider, ProviderAudience, ProviderKind};
use tenantdesk_tests::{TestApp, TestTenant, database, spawn_app, tenant_sql, tenantdesk_binary};
use uuid::Uuid;
use web::sign_in::secrets::SecretKey;

const SECRET: &str = "very-secret-client-value-42";

fn oidc_body(name: &str, audience: &str) -> Value {
    json!({
        "name": name, "kind": "oidc", "enabled": true, "audience": audience,
        "settings": {"issuer_url": "https://login.example.com", "client_id": "tenantdesk"},
        "secret": SECRET,
    })
}

fn header_settings(proxy: &str) -> Value {
    json!({"header": "X-Forwarded-User", "proxies": [proxy]})
}

async fn admin_token(app: &TestApp, tenant: &TestTenant) -> String {
    app.issue_token(&tenant.tenant, "sign-in admin").await
}

/// Inserts a provider directly (as tests of other kinds do), enabled.
async fn insert_provider(app: &TestApp, tenant: &TestTenant, new: &NewSignInProvider) {
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    store::sign_in_providers::insert(&mut tx, new)
        .await
        .expect("insert provider");
    tx.commit().await.expect("commit");
}

fn header_provider(audience: ProviderAudience, proxy: &str) -> NewSignInProvider {
    NewSignInProvider::new(
        "Company proxy",
        ProviderKind::TrustedHeader,
        audience,
        header_settings(proxy),
    )
}

/// `GET /auth/header` on the tenant's host with the proxy's header.
async fn header_sign_in(
    app: &TestApp,
    tenant: &TestTenant,
    audience: &str,
    user: &str,
) -> reqwest::Response {
    app.get(&tenant.host(), &format!("/auth/header?audience={audience}"))
        .header("X-Forwarded-User", user)
        .send()
        .await
        .expect("header sign-in")
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| {
            (v.starts_with("tdk_agent=") || v.starts_with("tdk_user="))
                && !v.to_ascii_lowercase().contains("max-age=0")
        })
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

#[tokio::test]
async fn providers_are_created_read_changed_and_deleted_with_the_secret_never_returned() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Sign-in CRUD").await;
    let token = admin_token(&app, &tenant).await;

    let (status, created) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/sign-in-providers",
            Some(oidc_body("Corporate login", "agents")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["has_secret"], true);
    assert_eq!(
        created["settings"]["scopes"],
        json!(["openid", "email", "profile"])
    );
    assert!(!created.to_string().contains(SECRET), "{created}");
    assert!(created.get("secret").is_none());
    let id = created["id"].as_str().expect("id").to_owned();

    // Stored sealed: not the plaintext, and it opens with the server's key for this provider.
    let mut sql = tenant_sql(&tenant).await;
    let sealed: Vec<u8> =
        sqlx::query_scalar("select secret from sign_in_providers where id = $1::uuid")
            .bind(&id)
            .fetch_one(&mut *sql)
            .await
            .expect("row");
    drop(sql);
    assert!(!sealed.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));
    let provider_id = Uuid::parse_str(&id).expect("uuid");
    assert_eq!(
        app.state
            .config
            .secret_key
            .open(&sealed, provider_id)
            .as_deref(),
        Ok(SECRET)
    );

    let (status, shown) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            &format!("/api/v1/sign-in-providers/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!shown.to_string().contains(SECRET));
    let (status, listed) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            "/api/v1/sign-in-providers",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1));
    assert!(!listed.to_string().contains(SECRET));

    // PATCH with the version read; a stale version is refused.
    let (status, patched) = app
        .api(&tenant, &token, Method::PATCH, &format!("/api/v1/sign-in-providers/{id}"),
            Some(json!({"version": 1, "allowed_domains": ["Corp.Example"], "settings": {"use_userinfo": true}})))
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["allowed_domains"], json!(["corp.example"]));
    assert_eq!(patched["settings"]["use_userinfo"], true);
    assert_eq!(patched["settings"]["client_id"], "tenantdesk");
    assert_eq!(patched["has_secret"], true);
    let (status, _) = app
        .api(
            &tenant,
            &token,
            Method::PATCH,
            &format!("/api/v1/sign-in-providers/{id}"),
            Some(json!({"version": 1, "name": "Stale"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, cleared) = app
        .api(
            &tenant,
            &token,
            Method::PATCH,
            &format!("/api/v1/sign-in-providers/{id}"),
            Some(json!({"secret": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cleared["has_secret"], false);

    // The name is unique ignoring case.
    let (status, duplicate) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/sign-in-providers",
            Some(oidc_body("CORPORATE LOGIN", "agents")),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{duplicate}");

    let (status, _) = app
        .api(
            &tenant,
            &token,
            Method::DELETE,
            &format!("/api/v1/sign-in-providers/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            &format!("/api/v1/sign-in-providers/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn error_fields(problem: &Value) -> Vec<String> {
    let mut fields: Vec<String> = problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    fields.sort();
    fields
}

#[tokio::test]
async fn bad_provider_settings_answer_422_naming_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Sign-in validation").await;
    let token = admin_token(&app, &tenant).await;
    let cases = [
        (
            json!({"name": "Dir", "kind": "ldap", "settings": {"url": "http://ldap.example", "base_dn": "",
                "user_filter": "(uid=everyone)"}}),
            vec!["settings.base_dn", "settings.url", "settings.user_filter"],
        ),
        (
            json!({"name": "Proxy", "kind": "trusted_header", "settings": {"header": "X User",
                "proxies": ["10.0.0.0/99"], "rewrite_pattern": "(unclosed"}}),
            vec![
                "settings.header",
                "settings.proxies",
                "settings.rewrite_pattern",
            ],
        ),
        (
            json!({"name": "Huge", "kind": "trusted_header", "settings": {"header": "X-User",
                "proxies": ["10.0.0.0/8"], "rewrite_pattern": "a{1000}{1000}{1000}"}}),
            vec!["settings.rewrite_pattern"],
        ),
        (
            json!({"name": "Okta", "kind": "oidc", "settings": {"issuer_url": "ftp://x", "client_id": "c"}}),
            vec!["settings.issuer_url"],
        ),
        (
            json!({"name": "", "kind": "saml", "audience": "robots", "allowed_domains": ["not a domain"],
                "attribute_map": {"tel": "shoe_size"}, "settings": {}}),
            vec![
                "allowed_domains",
                "attribute_map",
                "audience",
                "kind",
                "name",
            ],
        ),
        (
            json!({"name": "No settings", "kind": "oidc"}),
            vec!["settings"],
        ),
        (
            json!({"name": "Role", "kind": "oidc", "jit_role_id": Uuid::now_v7().to_string(),
                "settings": {"issuer_url": "https://login.example.com", "client_id": "c"}}),
            vec!["jit_role_id"],
        ),
    ];
    for (body, expected) in cases {
        let (status, problem) = app
            .api(
                &tenant,
                &token,
                Method::POST,
                "/api/v1/sign-in-providers",
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} -> {problem}"
        );
        assert_eq!(error_fields(&problem), expected, "{body} -> {problem}");
    }
    let (_, listed) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            "/api/v1/sign-in-providers",
            None,
        )
        .await;
    assert_eq!(listed["data"], json!([]), "nothing half-written");

    // A PATCH's settings are checked against the kind, merged with what is stored.
    let (status, created) = app
        .api(&tenant, &token, Method::POST, "/api/v1/sign-in-providers",
            Some(json!({"name": "Proxy", "kind": "trusted_header", "settings": header_settings("10.0.0.0/8")})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id");
    let (status, problem) = app
        .api(
            &tenant,
            &token,
            Method::PATCH,
            &format!("/api/v1/sign-in-providers/{id}"),
            Some(json!({"kind": "oidc", "settings": {"proxies": ["nowhere"]}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["kind"]);
    let (status, problem) = app
        .api(
            &tenant,
            &token,
            Method::PATCH,
            &format!("/api/v1/sign-in-providers/{id}"),
            Some(json!({"settings": {"proxies": ["nowhere"]}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&problem), ["settings.proxies"]);
}

#[tokio::test]
async fn another_tenants_provider_is_not_found_on_every_endpoint_and_page() {
    let app = spawn_app().await;
    let a = app.create_tenant("Sign-in A").await;
    let b = app.create_tenant("Sign-in B").await;
    let token_a = admin_token(&app, &a).await;
    let token_b = admin_token(&app, &b).await;
    let (_, created) = app
        .api(
            &a,
            &token_a,
            Method::POST,
            "/api/v1/sign-in-providers",
            Some(oidc_body("A's login", "both")),
        )
        .await;
    let id = created["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/sign-in-providers/{id}");
    for (method, path, body) in [
        (Method::GET, path.clone(), None),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"name": "Taken over"})),
        ),
        (Method::DELETE, path.clone(), None),
        (Method::POST, format!("{path}/test-connection"), None),
        (
            Method::POST,
            format!("{path}/look-up"),
            Some(json!({"login": "ada"})),
        ),
    ] {
        let (status, body) = app.api(&b, &token_b, method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert!(!body.to_string().contains("A's login"));
    }
    let (_, listed) = app
        .api(&b, &token_b, Method::GET, "/api/v1/sign-in-providers", None)
        .await;
    assert_eq!(listed["data"], json!([]));

    // B's admin page knows nothing of A's provider.
    app.create_agent(
        &b.tenant,
        domain::BuiltinRole::Admin,
        "admin@b.example",
        "correct horse battery 9",
    )
    .await;
    let mut admin = app.visitor(&b.host());
    admin
        .sign_in_agent("admin@b.example", "correct horse battery 9")
        .await;
    let page = admin.get(&format!("/admin/sign-in/{id}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = admin
        .post_form(&format!("/admin/sign-in/{id}/delete"), &[])
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = admin.get("/admin/sign-in").await;
    assert!(!page.body.contains("s login"), "{}", page.body);

    // A's provider is untouched.
    let (status, shown) = app.api(&a, &token_a, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["name"], "A's login");
}

#[tokio::test]
async fn the_admin_page_lists_creates_and_checks_providers_without_showing_secrets() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Sign-in admin page").await;
    app.create_agent(
        &tenant.tenant,
        domain::BuiltinRole::Admin,
        "admin@page.example",
        "correct horse battery 9",
    )
    .await;
    let mut admin = app.visitor(&tenant.host());
    admin
        .sign_in_agent("admin@page.example", "correct horse battery 9")
        .await;
    let page = admin.get("/admin/sign-in").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("href=\"/admin/sign-in\""),
        "linked from the admin menu"
    );

    let page = admin
        .post_form(
            "/admin/sign-in?kind=oidc",
            &[
                ("name", "Okta"),
                ("audience", "agents"),
                ("position", "1"),
                ("enabled", "on"),
                ("settings.issuer_url", "https://okta.example.com"),
                ("settings.client_id", "desk"),
                ("settings.scopes", "openid email"),
                ("secret", SECRET),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let edit = page.location.expect("redirect");
    let page = admin.get(&edit).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("A secret is stored"));
    assert!(!page.body.contains(SECRET));
    assert!(
        page.body.contains("/start?test=1"),
        "the OIDC test sign-in link"
    );
    let list = admin.get("/admin/sign-in").await;
    assert!(list.body.contains("Okta") && !list.body.contains(SECRET));

    // A bad form keeps the values and names the field; nothing is created.
    let page = admin
        .post_form(
            "/admin/sign-in?kind=trusted_header",
            &[
                ("name", "Proxy"),
                ("audience", "both"),
                ("position", "0"),
                ("settings.header", "X-Forwarded-User"),
                ("settings.proxies", "10.0.0.0/8\nnot-a-network"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body.contains("f-settings.proxies-error"),
        "{}",
        page.body
    );
    assert!(page.body.contains("not-a-network"));
    let list = admin.get("/admin/sign-in").await;
    assert!(!list.body.contains(">Proxy<"));
}

async fn stored_secret(tenant: &TestTenant, id: Uuid) -> Vec<u8> {
    let mut sql = tenant_sql(tenant).await;
    sqlx::query_scalar("select secret from sign_in_providers where id = $1")
        .bind(id)
        .fetch_one(&mut *sql)
        .await
        .expect("secret")
}

async fn rotate(args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(tenantdesk_binary())
        .env_remove("DATABASE_URL")
        .env_remove("TENANTDESK_SECRET_KEY")
        .env("TENANTDESK_DATABASE_URL", &database().runtime_url)
        .env("TENANTDESK_MIGRATION_URL", &database().owner_url)
        .arg("rotate-secret-key")
        .args(args)
        .output()
        .await
        .expect("running tenantdesk rotate-secret-key")
}

#[tokio::test]
async fn rotating_the_key_reseals_every_secret_in_one_go() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Key rotation").await;
    let old = SecretKey::generate();
    let new = SecretKey::generate();
    let mut ids = Vec::new();
    for name in ["First", "Second"] {
        let mut provider = NewSignInProvider::new(
            name,
            ProviderKind::Oidc,
            ProviderAudience::Agents,
            json!({"issuer_url": "https://login.example.com", "client_id": "c"}),
        );
        provider.secret = Some(old.seal(&format!("{name} secret"), provider.id));
        insert_provider(&app, &tenant, &provider).await;
        ids.push(provider.id);
    }
    let slug = tenant.tenant.slug.as_str().to_owned();

    // A wrong old key changes nothing.
    let wrong = rotate(&[
        "--tenant",
        &slug,
        "--old-key",
        &new.to_base64(),
        "--new-key",
        &old.to_base64(),
    ])
    .await;
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("does not open with the old key"));
    assert_eq!(
        old.open(&stored_secret(&tenant, ids[0]).await, ids[0])
            .as_deref(),
        Ok("First secret")
    );

    let rotated = rotate(&[
        "--tenant",
        &slug,
        "--old-key",
        &old.to_base64(),
        "--new-key",
        &new.to_base64(),
    ])
    .await;
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert!(String::from_utf8_lossy(&rotated.stdout).contains("re-encrypted 2"));
    for (id, name) in ids.iter().zip(["First", "Second"]) {
        let sealed = stored_secret(&tenant, *id).await;
        assert_eq!(
            new.open(&sealed, *id).as_deref(),
            Ok(format!("{name} secret").as_str())
        );
        assert!(
            old.open(&sealed, *id).is_err(),
            "the old key no longer opens it"
        );
    }

    let bad = rotate(&[
        "--tenant",
        &slug,
        "--old-key",
        "short",
        "--new-key",
        &new.to_base64(),
    ])
    .await;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("old key"));

    // The new key may come on standard input, out of the process list.
    let mut back = tokio::process::Command::new(tenantdesk_binary())
        .env_remove("DATABASE_URL")
        .env_remove("TENANTDESK_SECRET_KEY")
        .env("TENANTDESK_DATABASE_URL", &database().runtime_url)
        .env("TENANTDESK_MIGRATION_URL", &database().owner_url)
        .args([
            "rotate-secret-key",
            "--tenant",
            &slug,
            "--old-key",
            &new.to_base64(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting rotate-secret-key");
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = back.stdin.take().expect("stdin");
        stdin
            .write_all(format!("{}\n", old.to_base64()).as_bytes())
            .await
            .expect("write the key");
    }
    let back = back.wait_with_output().await.expect("rotate back");
    assert!(
        back.status.success(),
        "{}",
        String::from_utf8_lossy(&back.stderr)
    );
    let sealed = stored_secret(&tenant, ids[1]).await;
    assert_eq!(old.open(&sealed, ids[1]).as_deref(), Ok("Second secret"));
}

#[tokio::test]
async fn the_trusted_header_from_the_proxy_creates_then_links_the_account() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Header sign-in").await;
    let mut provider = header_provider(ProviderAudience::EndUsers, "127.0.0.1/32");
    provider.jit_provisioning = true;
    provider.attribute_map = json!({"login": "custom.proxy_login"});
    insert_provider(&app, &tenant, &provider).await;

    let first = header_sign_in(&app, &tenant, "end_users", "ada@corp.example").await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(first.headers()["location"], "/");
    let cookie = session_cookie(&first).expect("a session");
    let profile = app
        .get(&tenant.host(), "/account")
        .header("Cookie", &cookie)
        .send()
        .await
        .expect("profile");
    assert_eq!(
        profile.status(),
        StatusCode::OK,
        "signed in as the new account"
    );
    assert!(
        profile
            .text()
            .await
            .unwrap_or_default()
            .contains("ada@corp.example")
    );

    let second = header_sign_in(&app, &tenant, "end_users", "ada@corp.example").await;
    assert_eq!(second.status(), StatusCode::SEE_OTHER);
    let mut sql = tenant_sql(&tenant).await;
    let (users, links): (i64, i64) = sqlx::query_as(
        "select (select count(*) from end_users where email = 'ada@corp.example'),
                (select count(*) from sign_in_identities where subject = 'ada@corp.example' and end_user_id is not null)",
    )
    .fetch_one(&mut *sql)
    .await
    .expect("counts");
    assert_eq!(
        (users, links),
        (1, 1),
        "created once, then linked by subject"
    );
    let mapped: Option<String> = sqlx::query_scalar(
        "select custom ->> 'proxy_login' from end_users where email = 'ada@corp.example'",
    )
    .fetch_one(&mut *sql)
    .await
    .expect("custom value");
    assert_eq!(
        mapped.as_deref(),
        Some("ada@corp.example"),
        "the attribute map filled the custom field at creation"
    );

    // Agents are not this provider's audience: nobody is signed in there.
    let agents = header_sign_in(&app, &tenant, "agents", "ada@corp.example").await;
    assert_eq!(agents.headers()["location"], "/agent/login");
    assert!(session_cookie(&agents).is_none());
}

#[tokio::test]
async fn the_trusted_header_from_any_other_address_is_ignored() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Header ignored").await;
    let mut provider = header_provider(ProviderAudience::Both, "10.0.0.0/8");
    provider.jit_provisioning = true;
    insert_provider(&app, &tenant, &provider).await;
    app.create_agent(
        &tenant.tenant,
        domain::BuiltinRole::Admin,
        "boss@corp.example",
        "correct horse battery 9",
    )
    .await;

    for (audience, login_page) in [("agents", "/agent/login"), ("end_users", "/login")] {
        let response = header_sign_in(&app, &tenant, audience, "boss@corp.example").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()["location"], login_page);
        assert!(session_cookie(&response).is_none(), "anonymous");
    }
    let mut sql = tenant_sql(&tenant).await;
    let (users, links): (i64, i64) = sqlx::query_as(
        "select (select count(*) from end_users), (select count(*) from sign_in_identities)",
    )
    .fetch_one(&mut *sql)
    .await
    .expect("counts");
    assert_eq!((users, links), (0, 0), "nothing created or linked");
}

#[tokio::test]
async fn external_sign_in_refuses_clearly_and_writes_nothing() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Header refusals").await;
    // No provisioning, and only corp.example.
    let mut provider = header_provider(ProviderAudience::Both, "127.0.0.1/32");
    provider.allowed_domains = vec!["corp.example".into()];
    insert_provider(&app, &tenant, &provider).await;

    let unknown = header_sign_in(&app, &tenant, "end_users", "new@corp.example").await;
    assert_eq!(unknown.status(), StatusCode::FORBIDDEN);
    assert!(
        unknown
            .text()
            .await
            .unwrap_or_default()
            .contains("contact the help desk")
    );

    let foreign = header_sign_in(&app, &tenant, "end_users", "eve@elsewhere.example").await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert!(foreign.text().await.unwrap_or_default().contains("domain"));

    // An existing person the directory marks invalid is refused with the help desk message.
    let user = app
        .create_end_user(&tenant, "Ivy Invalid", "ivy@corp.example", None)
        .await;
    let mut sql = tenant_sql(&tenant).await;
    sqlx::query("update end_users set validity = 'invalid' where id = $1")
        .bind(user.id)
        .execute(&mut *sql)
        .await
        .expect("mark invalid");
    sql.commit().await.expect("commit");
    let invalid = header_sign_in(&app, &tenant, "end_users", "ivy@corp.example").await;
    assert_eq!(invalid.status(), StatusCode::FORBIDDEN);
    assert!(session_cookie(&invalid).is_none());
    let text = invalid.text().await.unwrap_or_default();
    assert!(
        text.contains("not in use") && text.contains("contact the help desk"),
        "{text}"
    );

    let mut sql = tenant_sql(&tenant).await;
    let (users, links): (i64, i64) = sqlx::query_as(
        "select (select count(*) from end_users), (select count(*) from sign_in_identities)",
    )
    .fetch_one(&mut *sql)
    .await
    .expect("counts");
    assert_eq!((users, links), (1, 0), "nothing created or linked");
}

#[tokio::test]
async fn a_new_agent_gets_the_providers_role_and_mapped_name() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Header agents").await;
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let manager = store::agents::builtin_role(&mut tx, domain::BuiltinRole::Manager)
        .await
        .expect("role");
    tx.commit().await.expect("commit");
    let mut provider = header_provider(ProviderAudience::Agents, "127.0.0.0/8");
    provider.jit_provisioning = true;
    provider.jit_role_id = Some(manager.id);
    insert_provider(&app, &tenant, &provider).await;

    let response = header_sign_in(&app, &tenant, "agents", "grace@corp.example").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/agent");
    let cookie = session_cookie(&response).expect("session");
    let panel = app
        .get(&tenant.host(), "/agent")
        .header("Cookie", &cookie)
        .send()
        .await
        .expect("panel");
    assert_eq!(panel.status(), StatusCode::OK);
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let agent = store::agents::by_email(&mut tx, "grace@corp.example")
        .await
        .expect("read")
        .expect("created");
    assert_eq!(agent.role.id, manager.id);
    assert_eq!(agent.status, store::agents::AgentStatus::Active);
    assert!(agent.password_hash.is_none());
}

#[tokio::test]
async fn password_sign_in_for_agents_turns_off_only_when_an_admin_can_still_sign_in() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("SSO only").await;
    let token = admin_token(&app, &tenant).await;
    app.create_agent(
        &tenant.tenant,
        domain::BuiltinRole::Admin,
        "chief@corp.example",
        "correct horse battery 9",
    )
    .await;

    // No provider an admin has used: refused, nothing changes.
    let (status, problem) = app
        .api(
            &tenant,
            &token,
            Method::PATCH,
            "/api/v1/sign-in-settings",
            Some(json!({"password_sign_in_agents": false})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (_, settings) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            "/api/v1/sign-in-settings",
            None,
        )
        .await;
    assert_eq!(settings["password_sign_in_agents"], true);

    // The admin signs in once through the proxy; now the switch is allowed.
    let provider = header_provider(ProviderAudience::Agents, "127.0.0.1/32");
    let provider_id = provider.id;
    insert_provider(&app, &tenant, &provider).await;
    let linked = header_sign_in(&app, &tenant, "agents", "chief@corp.example").await;
    assert_eq!(linked.status(), StatusCode::SEE_OTHER);
    assert!(session_cookie(&linked).is_some());
    let (status, settings) = app
        .api(
            &tenant,
            &token,
            Method::PATCH,
            "/api/v1/sign-in-settings",
            Some(json!({"password_sign_in_agents": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(settings["password_sign_in_agents"], false);

    // The password no longer signs agents in, and the page says so.
    let mut visitor = app.visitor(&tenant.host());
    let page = visitor.get("/agent/login").await;
    assert!(page.body.contains("id=\"password-off\""), "{}", page.body);
    let page = visitor
        .post_form(
            "/agent/login",
            &[
                ("email", "chief@corp.example"),
                ("password", "correct horse battery 9"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("incorrect"));

    // Disabling or deleting the admin's only provider would lock everyone out: refused.
    let path = format!("/api/v1/sign-in-providers/{provider_id}");
    let (status, _) = app
        .api(
            &tenant,
            &token,
            Method::PATCH,
            &path,
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app.api(&tenant, &token, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, shown) = app.api(&tenant, &token, Method::GET, &path, None).await;
    assert_eq!(
        (status, shown["enabled"].clone()),
        (StatusCode::OK, json!(true))
    );

    // The platform operator's way back.
    let reset = tokio::process::Command::new(tenantdesk_binary())
        .env_remove("DATABASE_URL")
        .env("TENANTDESK_DATABASE_URL", &database().runtime_url)
        .env("TENANTDESK_MIGRATION_URL", &database().owner_url)
        .args(["reset-sign-in", "--tenant", tenant.tenant.slug.as_str()])
        .output()
        .await
        .expect("reset-sign-in");
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    let (_, settings) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            "/api/v1/sign-in-settings",
            None,
        )
        .await;
    assert_eq!(settings["password_sign_in_agents"], true);
    visitor
        .sign_in_agent("chief@corp.example", "correct horse battery 9")
        .await;
}

#[tokio::test]
async fn each_sign_in_page_shows_the_buttons_of_its_audience() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Sign-in buttons").await;
    let token = admin_token(&app, &tenant).await;
    let mut ids = Vec::new();
    for (name, audience, enabled) in [
        ("Staff SSO", "agents", true),
        ("Customer ID", "end_users", true),
        ("Everyone Login", "both", true),
        ("Switched Off", "both", false),
    ] {
        let mut body = oidc_body(name, audience);
        body["enabled"] = json!(enabled);
        let (status, created) = app
            .api(
                &tenant,
                &token,
                Method::POST,
                "/api/v1/sign-in-providers",
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        ids.push(created["id"].as_str().expect("id").to_owned());
    }
    let agents = app
        .get(&tenant.host(), "/agent/login")
        .send()
        .await
        .expect("page");
    let agents = agents.text().await.unwrap_or_default();
    let users = app
        .get(&tenant.host(), "/login")
        .send()
        .await
        .expect("page");
    let users = users.text().await.unwrap_or_default();
    assert!(agents.contains("Sign in with Staff SSO"));
    assert!(agents.contains(&format!("/auth/oidc/{}/start?audience=agents", ids[0])));
    assert!(agents.contains("Sign in with Everyone Login"));
    assert!(!agents.contains("Customer ID") && !agents.contains("Switched Off"));
    assert!(users.contains("Sign in with Customer ID"));
    assert!(users.contains(&format!("/auth/oidc/{}/start?audience=end_users", ids[1])));
    assert!(users.contains("Sign in with Everyone Login"));
    assert!(!users.contains("Staff SSO") && !users.contains("Switched Off"));
    assert!(
        agents.contains("name=\"password\""),
        "the password form stays while enabled"
    );
}

#[tokio::test]
async fn the_email_first_step_sends_a_domain_to_its_provider() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Email first").await;
    let token = admin_token(&app, &tenant).await;
    let mut body = oidc_body("Corp SSO", "both");
    body["allowed_domains"] = json!(["corp.example"]);
    let (_, created) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/sign-in-providers",
            Some(body),
        )
        .await;
    let id = created["id"].as_str().expect("id");

    let page = app
        .get(&tenant.host(), "/agent/login")
        .send()
        .await
        .expect("page");
    assert!(
        page.text()
            .await
            .unwrap_or_default()
            .contains("id=\"email-first\"")
    );
    let routed = app
        .get(
            &tenant.host(),
            "/agent/login?email=Ada%40Corp.Example&next=%2Fagent%2Ftickets",
        )
        .send()
        .await
        .expect("routed");
    assert_eq!(routed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        routed.headers()["location"],
        format!("/auth/oidc/{id}/start?audience=agents&next=%2Fagent%2Ftickets").as_str()
    );
    let routed = app
        .get(&tenant.host(), "/login?email=bob%40corp.example")
        .send()
        .await
        .expect("routed");
    assert_eq!(
        routed.headers()["location"],
        format!("/auth/oidc/{id}/start?audience=end_users").as_str()
    );

    // Another domain: the password form, with the address filled in.
    let other = app
        .get(&tenant.host(), "/agent/login?email=eve%40other.example")
        .send()
        .await
        .expect("page");
    assert_eq!(other.status(), StatusCode::OK);
    let other = other.text().await.unwrap_or_default();
    assert!(other.contains("name=\"password\"") && other.contains("eve@other.example"));
}
