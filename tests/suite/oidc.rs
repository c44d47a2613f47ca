//! OpenID Connect sign-in against a real OpenID provider (oidc-provider, run with node): the
//! full code flow through HTTP with a cookie jar (and once in Chromium), account creation with
//! mapped claims and linking by subject, every refusal (denied consent, tampered or replayed
//! state, a state from another flow, wrong nonce, another client's ID token, an unverified
//! email, a disallowed domain) ending on a clear page with nothing created, tenant isolation,
//! the admin's test sign-in, RP-initiated logout, and the client secret never shown.

use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::json;
use store::sign_in_providers::{NewSignInProvider, ProviderAudience, ProviderKind};
use tenantdesk_tests::oidc::{Consent, OidcClient, OidcProvider, free_port, issuer_on};
use tenantdesk_tests::{
    AppOptions, Page, TestApp, TestTenant, Visitor, browser, spawn_app, spawn_app_with, tenant_sql,
};
use uuid::Uuid;

fn callback_uri(tenant: &TestTenant, provider: Uuid) -> String {
    format!("http://{}/auth/oidc/{provider}/callback", tenant.host())
}

/// An OIDC provider row of `tenant` for `client` at `issuer`: end users, provisioning on,
/// example.com only, the `department` claim mapped to the city field.
async fn insert_provider(
    app: &TestApp,
    tenant: &TestTenant,
    id: Uuid,
    issuer: &str,
    client: &OidcClient,
    adjust: impl FnOnce(&mut NewSignInProvider),
) {
    let mut new = NewSignInProvider::new(
        "Company login",
        ProviderKind::Oidc,
        ProviderAudience::EndUsers,
        json!({
            "issuer_url": issuer,
            "client_id": client.client_id,
            "scopes": ["openid", "email", "profile"],
            "use_userinfo": false,
        }),
    );
    new.id = id;
    new.jit_provisioning = true;
    new.allowed_domains = vec!["example.com".into()];
    new.attribute_map = json!({"department": "city"});
    new.secret = Some(app.state.config.secret_key.seal(&client.client_secret, id));
    adjust(&mut new);
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tenant tx");
    store::sign_in_providers::insert(&mut tx, &new)
        .await
        .expect("inserting the provider");
    tx.commit().await.expect("commit");
}

/// Two tenants, each with an OIDC provider row for its own client at one real provider.
struct World {
    app: TestApp,
    a: TestTenant,
    b: TestTenant,
    idp: OidcProvider,
    provider_a: Uuid,
    provider_b: Uuid,
    client_a: OidcClient,
}

async fn world() -> World {
    world_with(|_, _| {}).await
}

/// `extra` may add clients (and rows after start) for a test's own needs.
async fn world_with(extra: impl FnOnce(&mut Vec<OidcClient>, &[(&TestTenant, Uuid)])) -> World {
    world_on(spawn_app().await, extra, |_| {}).await
}

/// The world on `app`; `adjust` changes tenant A's provider row.
async fn world_on(
    app: TestApp,
    extra: impl FnOnce(&mut Vec<OidcClient>, &[(&TestTenant, Uuid)]),
    adjust: impl FnOnce(&mut NewSignInProvider),
) -> World {
    let a = app.create_tenant("Acme OIDC").await;
    let b = app.create_tenant("Beta OIDC").await;
    let provider_a = Uuid::now_v7();
    let provider_b = Uuid::now_v7();
    let mut client_a = OidcClient::new("tenant-a", vec![callback_uri(&a, provider_a)]);
    client_a.post_logout_redirect_uris = vec![
        format!("http://{}/", a.host()),
        format!("http://{}/agent/login?signed_out=1", a.host()),
    ];
    let client_b = OidcClient::new("tenant-b", vec![callback_uri(&b, provider_b)]);
    let mut clients = vec![client_a.clone(), client_b.clone()];
    extra(&mut clients, &[(&a, provider_a), (&b, provider_b)]);
    let port = free_port();
    let issuer = issuer_on(port);
    insert_provider(&app, &a, provider_a, &issuer, &client_a, adjust).await;
    insert_provider(&app, &b, provider_b, &issuer, &client_b, |_| {}).await;
    let idp = OidcProvider::start_on(port, &clients);
    World {
        app,
        a,
        b,
        idp,
        provider_a,
        provider_b,
        client_a,
    }
}

/// Starts the flow on the visitor's host and returns the provider's authorization URL.
async fn start(visitor: &mut Visitor<'_>, provider: Uuid, query: &str) -> String {
    let page = visitor
        .get(&format!("/auth/oidc/{provider}/start?{query}"))
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "start: {}", page.body);
    page.location.expect("a redirect to the provider")
}

fn assert_refused(page: &Page, words: &str) {
    assert_eq!(page.status, StatusCode::FORBIDDEN, "body: {}", page.body);
    assert!(
        page.body.contains("Sign-in failed") && page.body.contains(words),
        "expected a clear page saying {words:?}, got:\n{}",
        page.body
    );
}

async fn end_users_with_email(tenant: &TestTenant, email: &str) -> i64 {
    let mut tx = tenant_sql(tenant).await;
    sqlx::query_scalar("select count(*) from end_users where lower(email) = lower($1)")
        .bind(email)
        .fetch_one(&mut *tx)
        .await
        .expect("count")
}

async fn identities(tenant: &TestTenant) -> i64 {
    let mut tx = tenant_sql(tenant).await;
    sqlx::query_scalar("select count(*) from sign_in_identities")
        .fetch_one(&mut *tx)
        .await
        .expect("count")
}

/// Signs `login` in at the provider and back on the visitor's host; the callback's page.
async fn sign_in(world: &World, visitor: &mut Visitor<'_>, provider: Uuid, login: &str) -> Page {
    let authorize = start(visitor, provider, "audience=end_users&next=/tickets").await;
    let returned = world
        .idp
        .browser()
        .sign_in(&authorize, login, Consent::Give)
        .await;
    visitor.get(&returned.path_and_query()).await
}

#[tokio::test]
async fn first_sign_in_creates_the_account_and_later_ones_link_by_subject() {
    let world = world().await;
    let mut visitor = world.app.visitor(&world.a.host());

    let authorize = start(
        &mut visitor,
        world.provider_a,
        "audience=end_users&next=/tickets",
    )
    .await;
    assert!(authorize.starts_with(&format!("{}/auth?", world.idp.issuer)));
    let url = reqwest::Url::parse(&authorize).expect("URL");
    let param = |name: &str| {
        url.query_pairs()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(
        param("redirect_uri"),
        Some(callback_uri(&world.a, world.provider_a))
    );
    assert!(param("nonce").is_some() && param("state").is_some());

    let returned = world
        .idp
        .browser()
        .sign_in(&authorize, "alice", Consent::Give)
        .await;
    assert!(
        returned.param("iss").is_some(),
        "the provider names itself (RFC 9207)"
    );
    let page = visitor.get(&returned.path_and_query()).await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "callback: {}",
        page.body
    );
    assert_eq!(page.location.as_deref(), Some("/tickets"));
    assert!(visitor.cookies.contains_key("tdk_user"), "signed in");
    let home = visitor.get("/").await;
    assert!(home.body.contains("Alice"), "the portal greets Alice");

    let mut tx = tenant_sql(&world.a).await;
    let (first, last, city): (Option<String>, Option<String>, Option<String>) = sqlx::query_as(
        "select first_name, last_name, city from end_users where email = 'alice@example.com'",
    )
    .fetch_one(&mut *tx)
    .await
    .expect("Alice's account was created");
    drop(tx);
    assert_eq!(first.as_deref(), Some("Alice"));
    assert_eq!(last.as_deref(), Some("Archer"));
    assert_eq!(city.as_deref(), Some("Support"), "the mapped claim");
    assert_eq!(identities(&world.a).await, 1);

    // Replaying the same callback: the state was single use.
    let replay = visitor.get(&returned.path_and_query()).await;
    assert_refused(&replay, "already used");

    // A new address at the provider: the subject still finds the same account.
    world
        .idp
        .change_account("alice", json!({"email": "alice.archer@example.com"}))
        .await;
    let mut again = world.app.visitor(&world.a.host());
    let page = sign_in(&world, &mut again, world.provider_a, "alice").await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "second sign-in: {}",
        page.body
    );
    assert_eq!(
        end_users_with_email(&world.a, "alice.archer@example.com").await,
        0
    );
    assert_eq!(end_users_with_email(&world.a, "alice@example.com").await, 1);
    assert_eq!(identities(&world.a).await, 1);
    // Nothing of it reached the other tenant.
    assert_eq!(end_users_with_email(&world.b, "alice@example.com").await, 0);
    assert_eq!(identities(&world.b).await, 0);
}

#[tokio::test]
async fn with_redis_flows_are_single_use_and_logout_carries_the_id_token() {
    let app = spawn_app_with(AppOptions::with_redis("oidc")).await;
    let world = world_on(app, |_, _| {}, |_| {}).await;
    let mut visitor = world.app.visitor(&world.a.host());
    let authorize = start(&mut visitor, world.provider_a, "audience=end_users").await;
    let returned = world
        .idp
        .browser()
        .sign_in(&authorize, "alice", Consent::Give)
        .await;
    let page = visitor.get(&returned.path_and_query()).await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "callback: {}",
        page.body
    );
    assert_refused(
        &visitor.get(&returned.path_and_query()).await,
        "already used",
    );
    let page = visitor
        .post_form(&format!("/auth/oidc/{}/logout", world.provider_a), &[])
        .await;
    let location = page.location.expect("a redirect");
    assert!(location.contains("id_token_hint="), "{location}");
    assert!(!visitor.cookies.contains_key("tdk_user"));
}

#[tokio::test]
async fn agents_sign_in_by_their_verified_email_and_sign_out_to_the_agent_page() {
    let world = world_on(
        spawn_app().await,
        |_, _| {},
        |p| p.audience = ProviderAudience::Both,
    )
    .await;
    world
        .app
        .create_agent(
            &world.a.tenant,
            domain::BuiltinRole::Agent,
            "dave@example.com",
            "correct horse battery staple",
        )
        .await;
    let mut visitor = world.app.visitor(&world.a.host());
    let authorize = start(
        &mut visitor,
        world.provider_a,
        "audience=agents&next=/agent",
    )
    .await;
    let returned = world
        .idp
        .browser()
        .sign_in(&authorize, "dave", Consent::Give)
        .await;
    let page = visitor.get(&returned.path_and_query()).await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "callback: {}",
        page.body
    );
    assert_eq!(page.location.as_deref(), Some("/agent"));
    assert!(visitor.cookies.contains_key("tdk_agent"));
    assert_eq!(visitor.get("/agent").await.status, StatusCode::OK);
    assert_eq!(end_users_with_email(&world.a, "dave@example.com").await, 0);

    let page = visitor
        .post_form(
            &format!("/auth/oidc/{}/logout", world.provider_a),
            &[("audience", "agents")],
        )
        .await;
    let location = page.location.expect("a redirect");
    let url = reqwest::Url::parse(&location).expect("URL");
    assert_eq!(
        url.query_pairs()
            .find(|(n, _)| n == "post_logout_redirect_uri")
            .map(|(_, v)| v.into_owned()),
        Some(format!(
            "http://{}/agent/login?signed_out=1",
            world.a.host()
        ))
    );
    assert!(!visitor.cookies.contains_key("tdk_agent"));
}

#[tokio::test]
async fn userinfo_claims_are_read_when_configured() {
    let world = world_on(
        spawn_app().await,
        |_, _| {},
        |p| p.settings["use_userinfo"] = json!(true),
    )
    .await;
    let mut visitor = world.app.visitor(&world.a.host());
    let page = sign_in(&world, &mut visitor, world.provider_a, "alice").await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "callback: {}",
        page.body
    );
    let mut tx = tenant_sql(&world.a).await;
    let city: Option<String> =
        sqlx::query_scalar("select city from end_users where email = 'alice@example.com'")
            .fetch_one(&mut *tx)
            .await
            .expect("Alice's account");
    assert_eq!(city.as_deref(), Some("Support"));
}

#[tokio::test]
async fn an_end_user_provider_does_not_sign_in_agents() {
    let world = world().await;
    let mut visitor = world.app.visitor(&world.a.host());
    let page = visitor
        .get(&format!(
            "/auth/oidc/{}/start?audience=agents",
            world.provider_a
        ))
        .await;
    assert_refused(&page, "another kind of account");
}

#[tokio::test]
async fn tampered_state_unknown_provider_and_denied_consent_are_refused() {
    let world = world().await;
    let mut visitor = world.app.visitor(&world.a.host());
    let authorize = start(&mut visitor, world.provider_a, "audience=end_users").await;
    let returned = world
        .idp
        .browser()
        .sign_in(&authorize, "alice", Consent::Give)
        .await;
    let state = returned.param("state").expect("state");
    let tampered = returned
        .path_and_query()
        .replace(&format!("state={state}"), &format!("state={state}x"));
    assert_refused(&visitor.get(&tampered).await, "unknown");
    let no_state = returned
        .path_and_query()
        .replace(&format!("state={state}"), "");
    assert_refused(&visitor.get(&no_state).await, "unknown");

    // A provider id that is no provider of this tenant.
    let unknown = visitor
        .get(&format!(
            "/auth/oidc/{}/start?audience=end_users",
            Uuid::now_v7()
        ))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let malformed = visitor.get("/auth/oidc/not-a-uuid/callback?state=x").await;
    assert_eq!(malformed.status, StatusCode::NOT_FOUND);

    // The person cancels at the provider.
    let authorize = start(&mut visitor, world.provider_a, "audience=end_users").await;
    let returned = world
        .idp
        .browser()
        .sign_in(&authorize, "alice", Consent::Refuse)
        .await;
    assert_eq!(returned.param("error").as_deref(), Some("access_denied"));
    assert_refused(&visitor.get(&returned.path_and_query()).await, "declined");

    // An authorization response naming another issuer (RFC 9207 mix-up defence).
    let authorize = start(&mut visitor, world.provider_a, "audience=end_users").await;
    let returned = world
        .idp
        .browser()
        .sign_in(&authorize, "alice", Consent::Give)
        .await;
    let iss = returned.param("iss").expect("iss");
    let mixed_up = returned.path_and_query().replace(
        &format!("iss={}", urlencode(&iss)),
        "iss=https%3A%2F%2Fevil.example",
    );
    assert_ne!(mixed_up, returned.path_and_query());
    assert_refused(&visitor.get(&mixed_up).await, "could not be verified");

    // The callback from another browser (no flow cookie) is refused too.
    let authorize = start(&mut visitor, world.provider_a, "audience=end_users").await;
    let returned = world
        .idp
        .browser()
        .sign_in(&authorize, "alice", Consent::Give)
        .await;
    let mut stranger = world.app.visitor(&world.a.host());
    assert_refused(
        &stranger.get(&returned.path_and_query()).await,
        "another browser",
    );

    assert_eq!(end_users_with_email(&world.a, "alice@example.com").await, 0);
    assert_eq!(identities(&world.a).await, 0);
}

#[tokio::test]
async fn a_state_from_another_flow_and_a_wrong_nonce_are_refused() {
    let wrong_nonce_provider = Uuid::now_v7();
    let mut nonce_client = None;
    let world = world_with(|clients, tenants| {
        let (a, _) = tenants[0];
        let mut client = OidcClient::new("nonce", vec![callback_uri(a, wrong_nonce_provider)]);
        client.id_token_nonce = Some("a-nonce-of-another-flow".into());
        clients.push(client.clone());
        nonce_client = Some(client);
    })
    .await;
    let nonce_client = nonce_client.expect("the client");
    insert_provider(
        &world.app,
        &world.a,
        wrong_nonce_provider,
        &world.idp.issuer,
        &nonce_client,
        |p| p.name = "Nonce login".into(),
    )
    .await;

    // Two flows in one browser; the code of the second comes back with the state of the first.
    let mut visitor = world.app.visitor(&world.a.host());
    let first = start(&mut visitor, world.provider_a, "audience=end_users").await;
    let second = start(&mut visitor, world.provider_a, "audience=end_users").await;
    let first_state = reqwest::Url::parse(&first)
        .expect("URL")
        .query_pairs()
        .find(|(n, _)| n == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let returned = world
        .idp
        .browser()
        .sign_in(&second, "alice", Consent::Give)
        .await;
    let second_state = returned.param("state").expect("state");
    let mixed = returned
        .path_and_query()
        .replace(&second_state, &first_state);
    assert_refused(&visitor.get(&mixed).await, "try again");

    // A validly signed ID token whose nonce is not this flow's.
    let page = sign_in(&world, &mut visitor, wrong_nonce_provider, "alice").await;
    assert_refused(&page, "could not be verified");

    assert_eq!(end_users_with_email(&world.a, "alice@example.com").await, 0);
    assert_eq!(identities(&world.a).await, 0);
}

#[tokio::test]
async fn an_id_token_for_another_client_is_refused() {
    let audience_provider = Uuid::now_v7();
    let mut mixup_client = None;
    let world = world_with(|clients, tenants| {
        let (a, _) = tenants[0];
        // Signed by the provider, but for tenant B's client.
        let mut client = OidcClient::new("mixup", vec![callback_uri(a, audience_provider)]);
        client.id_token_audience = Some(clients[1].client_id.clone());
        clients.push(client.clone());
        mixup_client = Some(client);
    })
    .await;
    let mixup_client = mixup_client.expect("the client");
    insert_provider(
        &world.app,
        &world.a,
        audience_provider,
        &world.idp.issuer,
        &mixup_client,
        |p| p.name = "Mix-up login".into(),
    )
    .await;
    let mut visitor = world.app.visitor(&world.a.host());
    let page = sign_in(&world, &mut visitor, audience_provider, "alice").await;
    assert_refused(&page, "could not be verified");
    assert_eq!(end_users_with_email(&world.a, "alice@example.com").await, 0);
}

#[tokio::test]
async fn an_unverified_email_and_a_disallowed_domain_are_refused() {
    let world = world().await;
    let mut visitor = world.app.visitor(&world.a.host());
    let page = sign_in(&world, &mut visitor, world.provider_a, "bob").await;
    assert_refused(&page, "did not confirm your email");
    assert_eq!(end_users_with_email(&world.a, "bob@example.com").await, 0);

    let page = sign_in(&world, &mut visitor, world.provider_a, "carol").await;
    assert_refused(&page, "domain");
    assert_eq!(
        end_users_with_email(&world.a, "carol@elsewhere.test").await,
        0
    );
    assert_eq!(identities(&world.a).await, 0);
    assert!(!visitor.cookies.contains_key("tdk_user"));
}

#[tokio::test]
async fn a_tenants_provider_cannot_sign_anyone_into_another_tenant() {
    let world = world().await;
    // A's provider on B's host: nothing there.
    let mut on_b = world.app.visitor(&world.b.host());
    let page = on_b
        .get(&format!(
            "/auth/oidc/{}/start?audience=end_users",
            world.provider_a
        ))
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    // A flow of A's provider, its callback sent to B's host: A's provider is unknown there.
    let mut on_a = world.app.visitor(&world.a.host());
    let authorize = start(&mut on_a, world.provider_a, "audience=end_users").await;
    let returned = world
        .idp
        .browser()
        .sign_in(&authorize, "alice", Consent::Give)
        .await;
    on_b.cookies = on_a.cookies.clone();
    let page = on_b.get(&returned.path_and_query()).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    // ... and with B's provider id, A's state is unknown on B's host.
    let onto_b = returned
        .path_and_query()
        .replace(&world.provider_a.to_string(), &world.provider_b.to_string());
    assert_refused(&on_b.get(&onto_b).await, "unknown");
    assert!(!on_b.cookies.contains_key("tdk_user"));
    assert_eq!(end_users_with_email(&world.b, "alice@example.com").await, 0);
    assert_eq!(identities(&world.b).await, 0);

    // The flow was not used up on B: it still completes on A.
    let page = on_a.get(&returned.path_and_query()).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "on A: {}", page.body);
    assert_eq!(end_users_with_email(&world.a, "alice@example.com").await, 1);
}

#[tokio::test]
async fn the_admins_test_sign_in_shows_the_claims_and_creates_nothing() {
    let world = world().await;
    world
        .app
        .create_agent(
            &world.a.tenant,
            domain::BuiltinRole::Admin,
            "admin@acme.example",
            "correct horse battery staple",
        )
        .await;
    world
        .app
        .create_agent(
            &world.a.tenant,
            domain::BuiltinRole::Agent,
            "agent@acme.example",
            "correct horse battery staple",
        )
        .await;

    // Nobody signed in: to the agent sign-in page.
    let mut anonymous = world.app.visitor(&world.a.host());
    let page = anonymous
        .get(&format!("/auth/oidc/{}/start?test=1", world.provider_a))
        .await;
    assert!(page.status.is_redirection());
    let login = page.location.unwrap_or_default();
    assert!(login.starts_with("/agent/login"), "{login}");
    assert!(
        login.contains("test%3D1"),
        "back to the test sign-in: {login}"
    );

    // An agent without the permission: refused.
    let mut agent = world.app.visitor(&world.a.host());
    agent
        .sign_in_agent("agent@acme.example", "correct horse battery staple")
        .await;
    let page = agent
        .get(&format!("/auth/oidc/{}/start?test=1", world.provider_a))
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    let mut admin = world.app.visitor(&world.a.host());
    admin
        .sign_in_agent("admin@acme.example", "correct horse battery staple")
        .await;
    world
        .idp
        .change_account("dave", json!({"given_name": "<b>Dave</b>"}))
        .await;
    let authorize = start(&mut admin, world.provider_a, "test=1").await;
    let returned = world
        .idp
        .browser()
        .sign_in(&authorize, "dave", Consent::Give)
        .await;
    let page = admin.get(&returned.path_and_query()).await;
    assert_eq!(page.status, StatusCode::OK, "test page: {}", page.body);
    assert!(page.body.contains("dave@example.com"));
    assert!(
        page.body.contains("<code>sub</code></td><td>dave</td>"),
        "the subject"
    );
    assert!(page.body.contains("Support"), "the department claim");
    assert!(
        page.body.contains("&lt;b&gt;Dave&lt;/b&gt;") || page.body.contains("&#60;b&#62;Dave"),
        "claims are escaped:\n{}",
        page.body
    );
    assert!(!page.body.contains("<b>Dave</b>"));
    assert_eq!(end_users_with_email(&world.a, "dave@example.com").await, 0);
    assert_eq!(identities(&world.a).await, 0);
    assert!(!admin.cookies.contains_key("tdk_user"));
}

#[tokio::test]
async fn logout_ends_the_session_and_goes_to_the_providers_end_session_endpoint() {
    let world = world().await;
    let mut visitor = world.app.visitor(&world.a.host());
    let page = sign_in(&world, &mut visitor, world.provider_a, "alice").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "sign-in: {}", page.body);
    assert!(visitor.cookies.contains_key("tdk_user"));

    let page = visitor
        .post_form(
            &format!("/auth/oidc/{}/logout", world.provider_a),
            &[("audience", "end_users")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "logout: {}", page.body);
    let location = page.location.expect("a redirect");
    let url = reqwest::Url::parse(&location).expect("an absolute URL");
    assert!(location.starts_with(&format!("{}/session/end", world.idp.issuer)));
    let param = |name: &str| {
        url.query_pairs()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    };
    assert!(param("id_token_hint").is_some(), "the ID token as hint");
    assert_eq!(
        param("post_logout_redirect_uri"),
        Some(format!("http://{}/", world.a.host()))
    );
    assert!(!visitor.cookies.contains_key("tdk_user"), "signed out here");
    let home = visitor.get("/").await;
    assert!(!home.body.contains("Alice"));

    // The provider accepts the request (its confirmation page, not an error).
    let at_provider = reqwest::Client::new()
        .get(&location)
        .send()
        .await
        .expect("end session");
    assert_eq!(at_provider.status(), StatusCode::OK);
    let body = at_provider.text().await.unwrap_or_default();
    assert!(
        body.contains("logout") || body.contains("sign-out") || body.contains("Sign-out"),
        "{body}"
    );

    // Without CSRF: refused.
    let page = visitor
        .post_raw(
            &format!("/auth/oidc/{}/logout", world.provider_a),
            &[("audience", "end_users")],
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_client_secret_is_never_shown() {
    let world = world().await;
    let token = world
        .app
        .issue_token(&world.a.tenant, "oidc secret check")
        .await;
    let secret = &world.client_a.client_secret;

    let (status, body) = world
        .app
        .api(
            &world.a,
            &token,
            reqwest::Method::GET,
            "/api/v1/sign-in-providers",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.to_string().contains(secret.as_str()));
    let (_, body) = world
        .app
        .api(
            &world.a,
            &token,
            reqwest::Method::GET,
            &format!("/api/v1/sign-in-providers/{}", world.provider_a),
            None,
        )
        .await;
    assert!(!body.to_string().contains(secret.as_str()));
    assert_eq!(body["has_secret"], json!(true));

    // Nor in any step of a sign-in (pages, headers, the provider redirect).
    let mut visitor = world.app.visitor(&world.a.host());
    let authorize = start(&mut visitor, world.provider_a, "audience=end_users").await;
    assert!(!authorize.contains(secret.as_str()));
    let returned = world
        .idp
        .browser()
        .sign_in(&authorize, "alice", Consent::Give)
        .await;
    let page = visitor.get(&returned.path_and_query()).await;
    assert!(!page.body.contains(secret.as_str()));
    assert!(
        page.headers
            .iter()
            .all(|(_, v)| !v.to_str().unwrap_or_default().contains(secret.as_str()))
    );
}

#[tokio::test]
async fn chromium_signs_in_through_the_providers_pages() {
    let world = world().await;
    let client = browser::open().await;
    client
        .goto(&world.app.browser_url(
            &world.a.host(),
            &format!("/auth/oidc/{}/start?audience=end_users", world.provider_a),
        ))
        .await
        .expect("start the sign-in");
    client
        .find(Locator::Css("input[name=login]"))
        .await
        .expect("the provider's login form")
        .send_keys("alice")
        .await
        .expect("type the login");
    client
        .find(Locator::Css("input[name=password]"))
        .await
        .expect("password field")
        .send_keys("any password")
        .await
        .expect("type the password");
    client
        .find(Locator::Css("button[type=submit]"))
        .await
        .expect("sign-in button")
        .click()
        .await
        .expect("submit the login");
    // Wait for the consent page itself: right after the login's click the old page, or none,
    // may still be there.
    client
        .wait()
        .for_element(Locator::Css(
            "input[name=prompt][value=consent] ~ button[type=submit]",
        ))
        .await
        .expect("the consent button")
        .click()
        .await
        .expect("consent");
    // The provider sends the browser to the redirect URI, which names the tenant's host on
    // the base URL's port (none in the tests); the same request goes to the app's port.
    // The consent's redirects take a moment, longer on a busy machine: wait (bounded) until
    // the browser has left the provider.
    let mut returned = client.current_url().await.expect("the callback URL");
    for _ in 0..100 {
        if returned.host_str() == Some(world.a.host().as_str()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        returned = client.current_url().await.expect("the callback URL");
    }
    assert_eq!(
        returned.host_str(),
        Some(world.a.host().as_str()),
        "back at the tenant: {returned}"
    );
    let path = format!(
        "{}?{}",
        returned.path(),
        returned.query().unwrap_or_default()
    );
    client
        .goto(&world.app.browser_url(&world.a.host(), &path))
        .await
        .expect("the callback");
    let name = client
        .find(Locator::Css("main"))
        .await
        .expect("the portal")
        .text()
        .await
        .expect("text");
    client.close().await.expect("close the browser");
    assert!(name.contains("Alice"), "signed in as Alice: {name}");
    assert_eq!(end_users_with_email(&world.a, "alice@example.com").await, 1);
}

fn urlencode(value: &str) -> String {
    reqwest::Url::parse_with_params("http://x/", [("v", value)])
        .expect("URL")
        .query()
        .unwrap_or_default()
        .trim_start_matches("v=")
        .to_owned()
}
