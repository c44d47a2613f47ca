//! Sessions and rate limits in both stores: in process, and in Redis (shared by instances).

use std::time::Duration;

use domain::BuiltinRole;
use reqwest::StatusCode;
use tenantdesk_tests::{AppOptions, TestApp, spawn_app_with};
use web::auth::rate_limit::{Limit, RateLimiter};

const PASSWORD: &str = "copper lagoon thistle orbit";

/// The session behaviour every store must show.
async fn session_scenario(app: &TestApp, label: &str) {
    let tenant = app.create_tenant(&format!("Sessions {label}")).await;
    let other = app.create_tenant(&format!("Other {label}")).await;
    let email = format!("agent-{label}@sessions.example");
    app.create_agent(&tenant.tenant, BuiltinRole::Agent, &email, PASSWORD)
        .await;

    let mut first = app.visitor(&tenant.host());
    first.sign_in_agent(&email, PASSWORD).await;
    assert_eq!(
        first.get("/agent").await.status,
        StatusCode::OK,
        "{label}: signed in"
    );
    let planted = first.cookies.get("tdk_agent").cloned().expect("cookie");
    first.sign_in_agent(&email, PASSWORD).await;
    assert_ne!(
        first.cookies.get("tdk_agent"),
        Some(&planted),
        "{label}: a new token at every sign-in"
    );
    let mut replay = app.visitor(&tenant.host());
    replay.cookies.insert("tdk_agent".into(), planted);
    assert_eq!(
        replay.get("/agent").await.status,
        StatusCode::SEE_OTHER,
        "{label}: the previous token ended at sign-in"
    );

    let mut elsewhere = app.visitor(&other.host());
    elsewhere.cookies = first.cookies.clone();
    assert_eq!(
        elsewhere.get("/agent").await.status,
        StatusCode::SEE_OTHER,
        "{label}: never valid on another tenant"
    );

    let mut second = app.visitor(&tenant.host());
    second.sign_in_agent(&email, PASSWORD).await;
    first.post_form("/agent/logout", &[]).await;
    assert_eq!(
        first.get("/agent").await.status,
        StatusCode::SEE_OTHER,
        "{label}: signed out"
    );
    assert_eq!(
        second.get("/agent").await.status,
        StatusCode::OK,
        "{label}: other sessions live on"
    );
    second.post_form("/agent/logout-everywhere", &[]).await;
    assert_eq!(
        second.get("/agent").await.status,
        StatusCode::SEE_OTHER,
        "{label}: everywhere"
    );
}

#[tokio::test]
async fn sessions_behave_the_same_in_process_and_in_redis() {
    let in_process = spawn_app_with(AppOptions::default()).await;
    session_scenario(&in_process, "in-process").await;
    let with_redis = spawn_app_with(AppOptions::with_redis("sessions-scenario")).await;
    session_scenario(&with_redis, "redis").await;
}

#[tokio::test]
async fn with_redis_a_session_made_on_one_instance_works_on_another() {
    let first = spawn_app_with(AppOptions::with_redis("sessions-shared")).await;
    let second = spawn_app_with(AppOptions::with_redis("sessions-shared")).await;
    let tenant = first.create_tenant("Shared Sessions").await;
    first
        .create_agent(
            &tenant.tenant,
            BuiltinRole::Agent,
            "shared@sessions.example",
            PASSWORD,
        )
        .await;
    let mut on_first = first.visitor(&tenant.host());
    on_first
        .sign_in_agent("shared@sessions.example", PASSWORD)
        .await;
    let mut on_second = second.visitor(&tenant.host());
    on_second.cookies = on_first.cookies.clone();
    assert_eq!(
        on_second.get("/agent").await.status,
        StatusCode::OK,
        "the other instance knows the session"
    );
    on_second.post_form("/agent/logout", &[]).await;
    assert_eq!(
        on_first.get("/agent").await.status,
        StatusCode::SEE_OTHER,
        "and its end"
    );
}

#[tokio::test]
async fn failed_sign_ins_count_across_instances_sharing_redis() {
    let first = spawn_app_with(AppOptions::with_redis("limits-shared")).await;
    let second = spawn_app_with(AppOptions::with_redis("limits-shared")).await;
    let tenant = first.create_tenant("Shared Limits").await;
    first
        .create_agent(
            &tenant.tenant,
            BuiltinRole::Agent,
            "limited@sessions.example",
            PASSWORD,
        )
        .await;
    let mut a = first.visitor(&tenant.host());
    let mut b = second.visitor(&tenant.host());
    for round in 0..5 {
        for visitor in [&mut a, &mut b] {
            let page = visitor
                .post_form(
                    "/agent/login",
                    &[("email", "limited@sessions.example"), ("password", "wrong")],
                )
                .await;
            assert_eq!(page.status, StatusCode::OK, "attempt in round {round}");
        }
    }
    for visitor in [&mut a, &mut b] {
        let page = visitor
            .post_form(
                "/agent/login",
                &[
                    ("email", "limited@sessions.example"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(
            page.status,
            StatusCode::TOO_MANY_REQUESTS,
            "ten failures across both instances lock the account on both"
        );
    }
}

#[tokio::test]
async fn a_redis_rate_limit_recovers_after_its_window() {
    let client = redis::Client::open(tenantdesk_tests::redis_url()).expect("redis");
    let limiter = RateLimiter::new(Some(client));
    let key = format!("test:{}", uuid::Uuid::now_v7());
    let limit = Limit {
        max: 2,
        window: Duration::from_millis(300),
    };
    limiter.record(&key, limit).await;
    assert!(limiter.check(&key, limit).await.is_ok(), "below the limit");
    limiter.record(&key, limit).await;
    let wait = limiter.check(&key, limit).await.expect_err("at the limit");
    assert!(wait.0 <= Duration::from_millis(300));
    let mut recovered = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if limiter.check(&key, limit).await.is_ok() {
            recovered = true;
            break;
        }
    }
    assert!(recovered, "the limit lifts when its window ends");
}
