//! Agent sign-in: sessions in host-only cookies, identical answers for unknown accounts and
//! wrong passwords, rate limits, CSRF, invitations, sign-out, and sessions that never cross
//! tenants.

use domain::BuiltinRole;
use reqwest::StatusCode;
use store::auth_tokens::{Holder, Purpose};
use tenantdesk_tests::spawn_app;

const PASSWORD: &str = "orbit maple cascade violin";

#[tokio::test]
async fn an_agent_signs_in_and_out() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Sign In Corp").await;
    app.create_agent(
        &tenant.tenant,
        BuiltinRole::Admin,
        "ada@signin.example",
        PASSWORD,
    )
    .await;
    let mut visitor = app.visitor(&tenant.host());

    let login = visitor.get("/agent/login").await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("Agent sign-in") && login.body.contains("Sign In Corp"));
    let page = visitor
        .post_form(
            "/agent/login",
            &[
                ("email", "ADA@signin.example"),
                ("password", PASSWORD),
                ("next", "/agent"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/agent"));
    let cookie = page
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("tdk_agent="))
        .expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(
        !cookie.to_ascii_lowercase().contains("domain="),
        "the session cookie is host-only: {cookie}"
    );

    let home = visitor.get("/agent").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Test Agent") && home.body.contains("Admin"));
    assert!(
        home.body.contains("/admin/settings"),
        "an Admin sees the workspace settings link"
    );

    let session = visitor.cookies.get("tdk_agent").cloned().expect("session");
    let out = visitor.post_form("/agent/logout", &[]).await;
    assert_eq!(out.location.as_deref(), Some("/agent/login?signed_out=1"));
    let mut thief = app.visitor(&tenant.host());
    thief.cookies.insert("tdk_agent".into(), session);
    let after = thief.get("/agent").await;
    assert_eq!(
        after.status,
        StatusCode::SEE_OTHER,
        "a session ended by sign-out is dead everywhere"
    );
    assert!(
        after
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("/agent/login"))
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_account_get_the_same_answer() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Enumeration Corp").await;
    app.create_agent(
        &tenant.tenant,
        BuiltinRole::Agent,
        "known@enum.example",
        PASSWORD,
    )
    .await;
    let mut visitor = app.visitor(&tenant.host());
    let wrong = visitor
        .post_form(
            "/agent/login",
            &[
                ("email", "known@enum.example"),
                ("password", "not the password"),
            ],
        )
        .await;
    let unknown = visitor
        .post_form(
            "/agent/login",
            &[
                ("email", "nobody@enum.example"),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert_eq!(wrong.status, unknown.status);
    assert!(
        wrong
            .body
            .contains("The email address or password is incorrect.")
    );
    assert_eq!(
        wrong.body.replace("known@enum.example", "EMAIL"),
        unknown.body.replace("nobody@enum.example", "EMAIL"),
        "the pages differ only in the address typed"
    );
    assert!(!visitor.cookies.contains_key("tdk_agent"));
}

#[tokio::test]
async fn repeated_failures_are_rate_limited_per_account() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Rate Limit Corp").await;
    app.create_agent(
        &tenant.tenant,
        BuiltinRole::Agent,
        "target@limit.example",
        PASSWORD,
    )
    .await;
    let mut visitor = app.visitor(&tenant.host());
    for _ in 0..10 {
        let page = visitor
            .post_form(
                "/agent/login",
                &[("email", "target@limit.example"), ("password", "guess")],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK);
    }
    let refused = visitor
        .post_form(
            "/agent/login",
            &[("email", "target@limit.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let retry_after: u64 = refused.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(retry_after > 0 && retry_after <= 900);
    assert!(!visitor.cookies.contains_key("tdk_agent"));

    // Another account from elsewhere is not affected.
    app.create_agent(
        &tenant.tenant,
        BuiltinRole::Agent,
        "other@limit.example",
        PASSWORD,
    )
    .await;
    let mut other = app.visitor(&tenant.host());
    other.sign_in_agent("other@limit.example", PASSWORD).await;
}

#[tokio::test]
async fn forms_without_the_csrf_token_or_from_another_origin_are_refused() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Csrf Corp").await;
    app.create_agent(
        &tenant.tenant,
        BuiltinRole::Agent,
        "csrf@csrf.example",
        PASSWORD,
    )
    .await;
    let mut visitor = app.visitor(&tenant.host());
    visitor.get("/agent/login").await;
    let token = visitor.csrf();
    let origin = format!("http://{}", tenant.host());
    let credentials = [("email", "csrf@csrf.example"), ("password", PASSWORD)];

    let without_token = visitor
        .post_raw("/agent/login", &credentials, Some(&origin))
        .await;
    assert_eq!(without_token.status, StatusCode::FORBIDDEN);
    let forged = [
        ("csrf", "forged-token-value-forged-token-value-xx"),
        credentials[0],
        credentials[1],
    ];
    assert_eq!(
        visitor
            .post_raw("/agent/login", &forged, Some(&origin))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let with_token = [("csrf", token.as_str()), credentials[0], credentials[1]];
    assert_eq!(
        visitor
            .post_raw("/agent/login", &with_token, Some("http://evil.example"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        visitor
            .post_raw("/agent/login", &with_token, None)
            .await
            .status,
        StatusCode::FORBIDDEN,
        "a missing Origin is refused"
    );
    assert!(
        !visitor.cookies.contains_key("tdk_agent"),
        "none of these signed in"
    );
    assert_eq!(
        visitor
            .post_raw("/agent/login", &with_token, Some(&origin))
            .await
            .status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_session_of_one_tenant_is_anonymous_on_another() {
    let app = spawn_app().await;
    let a = app.create_tenant("Session A").await;
    let b = app.create_tenant("Session B").await;
    app.create_agent(&a.tenant, BuiltinRole::Admin, "admin@a.example", PASSWORD)
        .await;
    let mut on_a = app.visitor(&a.host());
    on_a.sign_in_agent("admin@a.example", PASSWORD).await;

    let mut on_b = app.visitor(&b.host());
    on_b.cookies = on_a.cookies.clone();
    let page = on_b.get("/agent").await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "tenant A's session signs nobody in on B"
    );
    assert!(
        page.location
            .as_deref()
            .is_some_and(|l| l.starts_with("/agent/login"))
    );
}

#[tokio::test]
async fn sign_in_only_redirects_within_the_site() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Redirect Corp").await;
    app.create_agent(
        &tenant.tenant,
        BuiltinRole::Agent,
        "r@redirect.example",
        PASSWORD,
    )
    .await;
    let mut visitor = app.visitor(&tenant.host());
    let page = visitor
        .post_form(
            "/agent/login",
            &[
                ("email", "r@redirect.example"),
                ("password", PASSWORD),
                ("next", "//evil.example/steal"),
            ],
        )
        .await;
    assert_eq!(page.location.as_deref(), Some("/agent"));
    let guarded = app.visitor(&tenant.host()).get("/agent").await;
    assert_eq!(
        guarded.location.as_deref(),
        Some("/agent/login?next=%2Fagent")
    );
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Everywhere Corp").await;
    app.create_agent(
        &tenant.tenant,
        BuiltinRole::Agent,
        "e@everywhere.example",
        PASSWORD,
    )
    .await;
    let mut laptop = app.visitor(&tenant.host());
    let mut phone = app.visitor(&tenant.host());
    laptop.sign_in_agent("e@everywhere.example", PASSWORD).await;
    phone.sign_in_agent("e@everywhere.example", PASSWORD).await;
    assert_eq!(phone.get("/agent").await.status, StatusCode::OK);

    laptop.post_form("/agent/logout-everywhere", &[]).await;
    assert_eq!(
        phone.get("/agent").await.status,
        StatusCode::SEE_OTHER,
        "the other device is signed out too"
    );
    phone.sign_in_agent("e@everywhere.example", PASSWORD).await;
    assert_eq!(
        phone.get("/agent").await.status,
        StatusCode::OK,
        "signing in again works"
    );
}

#[tokio::test]
async fn an_invitation_link_sets_a_password_once() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Invitation Corp").await;
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let role = store::agents::builtin_role(&mut tx, BuiltinRole::Agent)
        .await
        .expect("role");
    let email = domain::EmailAddress::parse("new@invite.example").expect("email");
    let agent = store::agents::create(
        &mut tx,
        &store::agents::NewAgent {
            name: "Newcomer",
            email: &email,
            role_id: role.id,
            password_hash: None,
        },
    )
    .await
    .expect("agent");
    let secret = store::auth_tokens::issue(
        &mut tx,
        Purpose::AgentInvitation,
        Holder::Agent(agent.id),
        std::time::Duration::from_secs(3600),
    )
    .await
    .expect("token");
    tx.commit().await.expect("commit");
    let link = format!("/agent/invitation/{secret}");
    let mut visitor = app.visitor(&tenant.host());

    let before = visitor
        .post_form(
            "/agent/login",
            &[("email", "new@invite.example"), ("password", "")],
        )
        .await;
    assert!(
        before.body.contains("incorrect"),
        "an invited agent has no password yet"
    );
    let form = visitor.get(&link).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("Welcome, Newcomer"));
    let weak = visitor
        .post_form(
            &link,
            &[("password", "password1"), ("confirm", "password1")],
        )
        .await;
    assert_eq!(weak.status, StatusCode::OK);
    assert!(weak.body.contains("The password"), "{}", weak.body);
    let mismatch = visitor
        .post_form(
            &link,
            &[
                ("password", PASSWORD),
                ("confirm", "something else entirely"),
            ],
        )
        .await;
    assert!(mismatch.body.contains("not the same"));
    let done = visitor
        .post_form(&link, &[("password", PASSWORD), ("confirm", PASSWORD)])
        .await;
    assert_eq!(done.location.as_deref(), Some("/agent/login?welcome=1"));
    visitor.sign_in_agent("new@invite.example", PASSWORD).await;

    let reused = app.visitor(&tenant.host()).get(&link).await;
    assert_eq!(reused.status, StatusCode::FORBIDDEN, "the link works once");
    let other = app.create_tenant("Other Invitation Corp").await;
    assert_eq!(
        app.visitor(&other.host()).get(&link).await.status,
        StatusCode::FORBIDDEN,
        "and never on another tenant"
    );
}
