//! Workspace settings through the API: round trip, validation per field, optimistic
//! concurrency, the cache dropped on save (here and on other instances), and isolation.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tenantdesk_tests::{AppOptions, TestApp, TestTenant, spawn_app_with};

/// A cache TTL of an hour: only invalidation can explain a change seen at once.
fn long_cache() -> AppOptions {
    AppOptions {
        tenant_cache_ttl: Duration::from_secs(3600),
        ..AppOptions::default()
    }
}

async fn settings(app: &TestApp, tenant: &TestTenant, token: &str) -> Value {
    let response = app
        .get(&tenant.host(), "/api/v1/settings")
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

async fn patch(app: &TestApp, tenant: &TestTenant, token: &str, body: Value) -> reqwest::Response {
    app.http
        .patch(app.url("/api/v1/settings"))
        .header("Host", tenant.host())
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("PATCH")
}

#[tokio::test]
async fn settings_round_trip_and_show_on_the_next_request() {
    let app = spawn_app_with(long_cache()).await;
    let tenant = app.create_tenant("Round Trip Inc").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;

    let before = settings(&app, &tenant, &token).await;
    assert_eq!(before["display_name"], "Round Trip Inc");
    assert_eq!(before["registration_method"], "public");
    // Warm the portal's cache.
    assert!(
        app.get(&tenant.host(), "/")
            .send()
            .await
            .expect("portal")
            .text()
            .await
            .expect("body")
            .contains("Round Trip Inc")
    );

    let response = patch(
        &app,
        &tenant,
        &token,
        json!({
            "version": before["version"],
            "display_name": "Round Trip Renamed",
            "primary_colour": "#1D4ED8",
            "accent_colour": "#1e3a8a",
            "logo_url": "https://cdn.example.com/logo.svg",
            "welcome_text": "**Hello** <script>alert('x')</script>",
            "support_email": "help@roundtrip.example",
            "locale": "de_de",
            "timezone": "Europe/Berlin",
            "registration_required": true,
            "registration_method": "private"
        }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()["etag"]
        .to_str()
        .expect("etag")
        .to_owned();
    let saved: Value = response.json().await.expect("json");
    assert_eq!(
        saved["version"],
        before["version"].as_i64().expect("version") + 1
    );
    assert_eq!(etag, format!("\"{}\"", saved["version"]));
    assert_eq!(saved["primary_colour"], "#1d4ed8", "colours are normalised");
    assert_eq!(saved["locale"], "de-DE");
    assert_eq!(saved["support_email_verified"], false);
    assert_eq!(
        saved,
        settings(&app, &tenant, &token).await,
        "GET returns what PATCH saved"
    );

    let page = app
        .get(&tenant.host(), "/")
        .send()
        .await
        .expect("portal")
        .text()
        .await
        .expect("body");
    assert!(
        page.contains("Round Trip Renamed"),
        "the very next request shows the new name"
    );
    assert!(page.contains("--brand-primary: #1d4ed8"));
    assert!(page.contains(r#"src="https://cdn.example.com/logo.svg""#));
    assert!(page.contains("<strong>Hello</strong>"));
    assert!(
        !page.contains("<script>alert"),
        "raw HTML in the welcome text is never markup"
    );

    let cleared = patch(
        &app,
        &tenant,
        &token,
        json!({"logo_url": null, "support_email": ""}),
    )
    .await;
    let cleared: Value = cleared.json().await.expect("json");
    assert_eq!(cleared["logo_url"], Value::Null);
    assert_eq!(cleared["support_email"], Value::Null);
}

#[tokio::test]
async fn every_invalid_field_is_named_and_nothing_is_saved() {
    let app = spawn_app_with(long_cache()).await;
    let tenant = app.create_tenant("Validation Ltd").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let before = settings(&app, &tenant, &token).await;

    let response = patch(
        &app,
        &tenant,
        &token,
        json!({
            "display_name": "   ",
            "primary_colour": "red",
            "accent_colour": "#12345",
            "logo_url": "javascript:alert(1)",
            "welcome_text": "x".repeat(5001),
            "support_email": "not-an-address",
            "locale": "english",
            "timezone": "Mars/Olympus",
            "registration_required": "yes",
            "registration_method": "open",
            "colour": "#ffffff"
        }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.expect("json");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field"))
        .collect();
    for field in [
        "display_name",
        "primary_colour",
        "accent_colour",
        "logo_url",
        "welcome_text",
        "support_email",
        "locale",
        "timezone",
        "registration_required",
        "registration_method",
        "colour",
    ] {
        assert!(
            fields.contains(&field),
            "{field} must be named, got {fields:?}"
        );
    }
    assert_eq!(
        settings(&app, &tenant, &token).await,
        before,
        "nothing was saved"
    );

    // A valid field beside an invalid one is not saved either.
    let response = patch(
        &app,
        &tenant,
        &token,
        json!({"display_name": "Fine Name", "timezone": "Nowhere/Else"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(settings(&app, &tenant, &token).await, before);

    for body in ["not json", "[1, 2]"] {
        let response = app
            .http
            .patch(app.url("/api/v1/settings"))
            .header("Host", tenant.host())
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("PATCH");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
}

#[tokio::test]
async fn a_stale_version_gets_409_and_changes_nothing() {
    let app = spawn_app_with(long_cache()).await;
    let tenant = app.create_tenant("Concurrency Co").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let read = settings(&app, &tenant, &token).await;
    let version = read["version"].as_i64().expect("version");

    let first = patch(
        &app,
        &tenant,
        &token,
        json!({"version": version, "display_name": "First Writer"}),
    )
    .await;
    assert_eq!(first.status(), StatusCode::OK);
    let second = patch(
        &app,
        &tenant,
        &token,
        json!({"version": version, "display_name": "Second Writer"}),
    )
    .await;
    assert_eq!(second.status(), StatusCode::CONFLICT);
    let problem: Value = second.json().await.expect("json");
    assert_eq!(problem["type"], "urn:tenantdesk:problem:stale-version");

    let stale_if_match = app
        .http
        .patch(app.url("/api/v1/settings"))
        .header("Host", tenant.host())
        .bearer_auth(&token)
        .header("If-Match", format!("\"{version}\""))
        .json(&json!({"display_name": "Third Writer"}))
        .send()
        .await
        .expect("PATCH");
    assert_eq!(stale_if_match.status(), StatusCode::CONFLICT);
    assert_eq!(
        settings(&app, &tenant, &token).await["display_name"],
        "First Writer"
    );

    let fresh_if_match = app
        .http
        .patch(app.url("/api/v1/settings"))
        .header("Host", tenant.host())
        .bearer_auth(&token)
        .header("If-Match", format!("\"{}\"", version + 1))
        .json(&json!({"display_name": "Fourth Writer"}))
        .send()
        .await
        .expect("PATCH");
    assert_eq!(fresh_if_match.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_colour_hard_to_read_under_white_text_earns_a_warning() {
    let app = spawn_app_with(long_cache()).await;
    let tenant = app.create_tenant("Pale Colours").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let saved: Value = patch(
        &app,
        &tenant,
        &token,
        json!({"primary_colour": "#ffff00", "accent_colour": "#1e3a8a"}),
    )
    .await
    .json()
    .await
    .expect("json");
    let warnings = saved["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["field"], "primary_colour");
    assert_eq!(
        saved["primary_colour"], "#ffff00",
        "a warning does not block saving"
    );
}

#[tokio::test]
async fn tenant_a_cannot_read_or_change_tenant_b_settings() {
    let app = spawn_app_with(long_cache()).await;
    let a = app.create_tenant("Settings A").await;
    let b = app.create_tenant("Settings B").await;
    let token_a = app.issue_token(&a.tenant, "admin").await;
    let token_b = app.issue_token(&b.tenant, "admin").await;
    let before = settings(&app, &b, &token_b).await;

    let read = app
        .get(&b.host(), "/api/v1/settings")
        .bearer_auth(&token_a)
        .send()
        .await
        .expect("GET");
    assert_eq!(read.status(), StatusCode::UNAUTHORIZED);
    assert!(!read.text().await.expect("body").contains("Settings B"));
    let write = patch(&app, &b, &token_a, json!({"display_name": "Taken Over"})).await;
    assert_eq!(write.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(settings(&app, &b, &token_b).await, before);
}

#[tokio::test]
async fn a_settings_change_reaches_another_instance_through_redis() {
    let options = || AppOptions::with_redis("settings-two-instances");
    let first = spawn_app_with(options()).await;
    let second = spawn_app_with(options()).await;
    let tenant = first.create_tenant("Two Instances").await;
    let token = first.issue_token(&tenant.tenant, "admin").await;
    assert!(
        second
            .get(&tenant.host(), "/")
            .send()
            .await
            .expect("portal")
            .text()
            .await
            .expect("body")
            .contains("Two Instances")
    );

    tenantdesk_tests::wait_for_subscribers(&options(), 2).await;
    let response = patch(
        &first,
        &tenant,
        &token,
        json!({"display_name": "Seen Everywhere"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut page = String::new();
    for _ in 0..100 {
        page = second
            .get(&tenant.host(), "/")
            .send()
            .await
            .expect("portal")
            .text()
            .await
            .expect("body");
        if page.contains("Seen Everywhere") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        page.contains("Seen Everywhere"),
        "the other instance dropped its cached settings"
    );
}

#[tokio::test]
async fn a_new_support_address_is_verified_by_the_emailed_link_before_mail_comes_from_it() {
    let _turn = tenantdesk_tests::MAIL_WORKERS.lock().await;
    let app = spawn_app_with(long_cache()).await;
    let tenant = app.create_tenant("Verified Sender").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let domain = tenantdesk_tests::unique_mail_domain();
    let old_address = format!("old@{domain}");
    let new_address = format!("help@{domain}");
    let sink = tenantdesk_tests::smtp::SmtpSink::start();
    let transport = tenantdesk::mail_worker::Transport::new(
        Some(&sink.url()),
        std::path::Path::new("/nonexistent"),
    )
    .expect("smtp");
    let config = tenantdesk::mail_worker::WorkerConfig::new(
        domain::EmailAddress::parse(tenantdesk_tests::MAIL_FROM).expect("from"),
        3,
    );
    let deliver = async |to: &str| {
        for _ in 0..200 {
            tenantdesk::mail_worker::deliver_batch(&app.state.store, &transport, &config)
                .await
                .expect("batch");
            let found = sink.messages_to(to);
            if !found.is_empty() {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no mail reached {to}");
    };
    let link_in = |message: &tenantdesk_tests::smtp::Received| {
        let prefix = format!("http://{}/support-email/verify/", tenant.host());
        let link = message
            .text
            .split_whitespace()
            .find(|w| w.starts_with(&prefix))
            .expect("a verification link")
            .to_owned();
        link[format!("http://{}", tenant.host()).len()..].to_owned()
    };

    assert_eq!(
        patch(&app, &tenant, &token, json!({"support_email": old_address}))
            .await
            .status(),
        StatusCode::OK
    );
    let old_link = link_in(&deliver(&old_address).await[0]);
    let saved: Value = patch(&app, &tenant, &token, json!({"support_email": new_address}))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(saved["support_email_verified"], false);
    let mail = deliver(&new_address).await;
    assert!(
        mail[0]
            .header("From")
            .is_some_and(|f| f.contains(tenantdesk_tests::MAIL_FROM)),
        "until verified, mail comes from the platform"
    );
    let new_link = link_in(&mail[0]);

    let mut visitor = app.visitor(&tenant.host());
    let stale = visitor.get(&old_link).await;
    let refused = visitor.post_form(&old_link, &[]).await;
    assert!(stale.status == StatusCode::OK || stale.status == StatusCode::FORBIDDEN);
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "a link to a former address verifies nothing"
    );
    assert_eq!(
        settings(&app, &tenant, &token).await["support_email_verified"],
        false
    );

    let page = visitor.get(&new_link).await;
    assert!(
        page.body.contains(&new_address),
        "the page names the address"
    );
    assert_eq!(
        settings(&app, &tenant, &token).await["support_email_verified"],
        false,
        "opening the link alone verifies nothing"
    );
    let confirmed = visitor.post_form(&new_link, &[]).await;
    assert_eq!(confirmed.status, StatusCode::OK);
    assert!(confirmed.body.contains("Address confirmed"));
    assert_eq!(
        settings(&app, &tenant, &token).await["support_email_verified"],
        true
    );
    assert_eq!(
        visitor.post_form(&new_link, &[]).await.status,
        StatusCode::FORBIDDEN,
        "the link works once"
    );

    let recipient = format!("customer@{domain}");
    let test = app
        .http
        .post(app.url("/api/v1/email-templates/user.password_reset/test"))
        .header("Host", tenant.host())
        .bearer_auth(&token)
        .json(&json!({"to": recipient}))
        .send()
        .await
        .expect("test send");
    assert_eq!(test.status(), StatusCode::ACCEPTED);
    let mail = deliver(&recipient).await;
    assert!(
        mail[0]
            .header("From")
            .is_some_and(|f| f.contains(&new_address)),
        "a verified address is the From: {:?}",
        mail[0].header("From")
    );
}
