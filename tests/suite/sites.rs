//! Host resolution over HTTP: each tenant's host renders its own brand, unknown hosts learn
//! nothing, suspension refuses and resumption restores, and only Host chooses the tenant.

use domain::TenantStatus;
use reqwest::StatusCode;
use tenantdesk_tests::{BASE_DOMAIN, spawn_app};

#[tokio::test]
async fn each_tenant_host_renders_its_own_brand() {
    let app = spawn_app().await;
    let acme = app.create_tenant("Acme Rockets").await;
    let globex = app.create_tenant("Globex Widgets").await;

    for (tenant, other) in [(&acme, &globex), (&globex, &acme)] {
        let response = app.get(&tenant.host(), "/").send().await.expect("request");
        assert_eq!(response.status(), StatusCode::OK);
        let page = response.text().await.expect("body");
        assert!(
            page.contains(tenant.tenant.name.as_str()),
            "the portal names its tenant"
        );
        assert!(
            page.contains(&format!("--brand-primary: {}", tenant.primary_colour)),
            "the portal wears its tenant's colour"
        );
        assert!(
            !page.contains(other.tenant.name.as_str()),
            "and nothing of the other tenant"
        );
    }
}

#[tokio::test]
async fn an_unknown_host_gets_a_404_that_names_no_tenant() {
    let app = spawn_app().await;
    let known = app.create_tenant("Known Tenant Inc").await;
    for host in [
        format!("nobody-here.{BASE_DOMAIN}"),
        "help.unknown-company.example".to_owned(),
        format!("deep.{}", known.host()),
    ] {
        let response = app.get(&host, "/").send().await.expect("request");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{host}");
        let page = response.text().await.expect("body");
        assert!(
            !page.contains("Known Tenant Inc"),
            "{host} must not reveal a tenant"
        );
    }
    let api = app
        .get("nobody-here.localhost", "/api/v1/me")
        .send()
        .await
        .expect("request");
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    assert_eq!(api.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn a_missing_or_malformed_host_is_a_bad_request() {
    let app = spawn_app().await;
    for host in ["bad host", "under_score.localhost", "a..b"] {
        let response = app.get(host, "/").send().await.expect("request");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{host:?}");
    }
    // HTTP/1.0 allows a request with no Host at all.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.address)
        .await
        .expect("connect");
    stream
        .write_all(b"GET / HTTP/1.0\r\n\r\n")
        .await
        .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.0 400"), "got {answer}");
}

#[tokio::test]
async fn the_base_domain_shows_the_platform_page() {
    let app = spawn_app().await;
    let response = app
        .get(&format!("{BASE_DOMAIN}:8080"), "/")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("One help desk service for many companies")
    );
}

#[tokio::test]
async fn a_suspended_tenant_is_refused_and_comes_back_after_resume() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Suspendable Ltd").await;
    let slug = tenant.tenant.slug.clone();
    let token = app.issue_token(&tenant.tenant, "integration").await;
    assert_eq!(
        app.get(&tenant.host(), "/")
            .send()
            .await
            .expect("request")
            .status(),
        StatusCode::OK
    );

    app.owner
        .set_tenant_status(&slug, TenantStatus::Suspended)
        .await
        .expect("suspend");
    // In-process change: this instance drops its cache, as the platform console will.
    app.state.tenants.invalidate_all();
    let page = app.get(&tenant.host(), "/").send().await.expect("request");
    assert_eq!(page.status(), StatusCode::FORBIDDEN);
    assert!(page.text().await.expect("body").contains("suspended"));
    let api = app
        .get(&tenant.host(), "/api/v1/me")
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(
        api.status(),
        StatusCode::FORBIDDEN,
        "a valid token does not open a suspended tenant"
    );

    app.owner
        .set_tenant_status(&slug, TenantStatus::Active)
        .await
        .expect("resume");
    app.state.tenants.invalidate_all();
    assert_eq!(
        app.get(&tenant.host(), "/")
            .send()
            .await
            .expect("request")
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn no_header_but_host_chooses_the_tenant() {
    let app = spawn_app().await;
    let mine = app.create_tenant("Mine Corp").await;
    let theirs = app.create_tenant("Theirs Corp").await;
    let their_host = theirs.host();
    let response = app
        .http
        .get(app.url(&format!(
            "/?tenant={}&host={their_host}",
            theirs.tenant.slug
        )))
        .header("Host", mine.host())
        .header("X-Forwarded-Host", &their_host)
        .header("X-Tenant", theirs.tenant.slug.as_str())
        .header("X-Tenant-Id", theirs.tenant.id.to_string())
        .header("Forwarded", format!("host={their_host}"))
        .send()
        .await
        .expect("request");
    let page = response.text().await.expect("body");
    assert!(page.contains("Mine Corp") && !page.contains("Theirs Corp"));
}

#[tokio::test]
async fn a_verified_custom_domain_serves_its_tenant_and_an_unverified_one_does_not() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Custom Domain Co").await;
    let verified =
        domain::Host::parse(&format!("help.{}.example", tenant.tenant.slug)).expect("host");
    let pending =
        domain::Host::parse(&format!("support.{}.example", tenant.tenant.slug)).expect("host");
    app.owner
        .add_tenant_domain(tenant.tenant.id, &verified, true)
        .await
        .expect("verified");
    app.owner
        .add_tenant_domain(tenant.tenant.id, &pending, false)
        .await
        .expect("pending");

    let page = app
        .get(verified.as_str(), "/")
        .send()
        .await
        .expect("request");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .expect("body")
            .contains("Custom Domain Co")
    );
    let page = app
        .get(pending.as_str(), "/")
        .send()
        .await
        .expect("request");
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn health_readiness_and_static_assets_answer() {
    let app = spawn_app().await;
    let health = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("request");
    assert_eq!(health.status(), StatusCode::OK);
    let ready = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("request");
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.text().await.expect("body"), r#"{"status":"ready"}"#);
    let css = app
        .get(BASE_DOMAIN, "/static/app.css")
        .send()
        .await
        .expect("request");
    assert_eq!(css.status(), StatusCode::OK);
    assert!(
        css.headers()["cache-control"]
            .to_str()
            .expect("ascii")
            .contains("max-age=")
    );
    assert!(css.text().await.expect("body").contains("--brand-primary"));
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let response = app.get(BASE_DOMAIN, "/").send().await.expect("request");
    assert!(response.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn a_tenant_change_reaches_every_instance_through_redis() {
    let options = || tenantdesk_tests::AppOptions::with_redis("sites-two-instances");
    let first = tenantdesk_tests::spawn_app_with(options()).await;
    let second = tenantdesk_tests::spawn_app_with(options()).await;
    let tenant = first.create_tenant("Broadcast Corp").await;
    for app in [&first, &second] {
        assert_eq!(
            app.get(&tenant.host(), "/")
                .send()
                .await
                .expect("request")
                .status(),
            StatusCode::OK
        );
    }
    // Both caches now hold the tenant as active for an hour. Suspend it as the CLI does.
    first
        .owner
        .set_tenant_status(&tenant.tenant.slug, TenantStatus::Suspended)
        .await
        .expect("suspend");
    let options = options();
    let client =
        redis::Client::open(options.redis_url.as_deref().expect("redis")).expect("redis url");
    tenantdesk_tests::wait_for_subscribers(&options, 2).await;
    web::invalidation::publish(
        &client,
        &options.redis_channel,
        web::invalidation::Invalidation::Tenants,
    )
    .await
    .expect("publish");
    for app in [&first, &second] {
        let mut status = StatusCode::OK;
        // Delivery is asynchronous: a bounded number of tries, never a fixed sleep.
        for _ in 0..100 {
            status = app
                .get(&tenant.host(), "/")
                .send()
                .await
                .expect("request")
                .status();
            if status == StatusCode::FORBIDDEN {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "every instance sees the suspension"
        );
    }
}
