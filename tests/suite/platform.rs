//! The base domain: platform operators sign in there, read the local mailbox, and nobody
//! else's session counts there.

use domain::BuiltinRole;
use reqwest::StatusCode;
use store::outbox::NewEmail;
use tenantdesk_tests::{AppOptions, BASE_DOMAIN, MAIL_WORKERS, spawn_app, spawn_app_with};

const PASSWORD: &str = "lantern quarry pebble nimbus";

fn unique_email(prefix: &str) -> String {
    format!(
        "{prefix}-{}@platform.example",
        uuid::Uuid::now_v7().simple()
    )
}

#[tokio::test]
async fn an_operator_signs_in_on_the_base_domain_only() {
    let app = spawn_app().await;
    let email = unique_email("op");
    app.create_operator(&email, PASSWORD).await;
    let mut visitor = app.visitor(BASE_DOMAIN);
    visitor.get("/login").await;

    let wrong = visitor
        .post_form("/login", &[("email", &email), ("password", "nope")])
        .await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(wrong.body.contains("incorrect"));
    let page = visitor
        .post_form("/login", &[("email", &email), ("password", PASSWORD)])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let home = visitor.get("/").await;
    assert!(
        home.body.contains("Signed in as Test Operator"),
        "{}",
        home.body
    );

    // The operator's cookie means nothing on a tenant's host, and a tenant agent's on the base domain.
    let tenant = app.create_tenant("Platform Check").await;
    let mut on_tenant = app.visitor(&tenant.host());
    on_tenant.cookies = visitor.cookies.clone();
    assert_eq!(on_tenant.get("/agent").await.status, StatusCode::SEE_OTHER);

    app.create_agent(
        &tenant.tenant,
        BuiltinRole::Admin,
        "admin@platform-check.example",
        PASSWORD,
    )
    .await;
    let mut admin = app.visitor(&tenant.host());
    admin
        .sign_in_agent("admin@platform-check.example", PASSWORD)
        .await;
    let mut admin_on_base = app.visitor(BASE_DOMAIN);
    admin_on_base.cookies = admin.cookies.clone();
    assert!(
        !admin_on_base.get("/").await.body.contains("Signed in as"),
        "a tenant admin is anonymous on the base domain"
    );
    let mailbox = admin_on_base.get("/mailbox").await;
    assert_eq!(
        mailbox.status,
        StatusCode::SEE_OTHER,
        "and cannot read the mailbox"
    );
}

#[tokio::test]
async fn the_local_mailbox_is_for_operators() {
    let _turn = MAIL_WORKERS.lock().await;
    let data_dir = tenantdesk_tests::programs::scratch_dir("platform-mailbox");
    let mailbox = tenantdesk::mail_worker::mailbox_dir(&data_dir);
    let app = spawn_app_with(AppOptions {
        mailbox_dir: Some(mailbox.clone()),
        ..AppOptions::default()
    })
    .await;
    let tenant = app.create_tenant("Mailbox Reader").await;
    let recipient = unique_email("reader");
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let email = NewEmail {
        event: "user.password_reset".into(),
        recipient: domain::EmailAddress::parse(&recipient).expect("email"),
        from_name: "Mailbox Reader".into(),
        from_address: None,
        reply_to: None,
        subject: "Reset link inside".into(),
        html_body: "<p>Follow <a href=\"http://x/reset\">this</a></p>".into(),
        text_body: "Follow http://x/reset".into(),
    };
    store::outbox::enqueue(&mut tx, &email, "tenantdesk.test")
        .await
        .expect("enqueue");
    tx.commit().await.expect("commit");
    let transport =
        tenantdesk::mail_worker::Transport::new(None, &mailbox).expect("mailbox transport");
    let config = tenantdesk::mail_worker::WorkerConfig::new(
        domain::EmailAddress::parse(tenantdesk_tests::MAIL_FROM).expect("from"),
        3,
    );
    while tenantdesk::mail_worker::deliver_batch(&app.state.store, &transport, &config)
        .await
        .expect("batch")
        > 0
    {}

    let mut anonymous = app.visitor(BASE_DOMAIN);
    assert_eq!(
        anonymous.get("/mailbox").await.location.as_deref(),
        Some("/login?next=%2Fmailbox")
    );

    let operator = unique_email("mail-op");
    app.create_operator(&operator, PASSWORD).await;
    let mut visitor = app.visitor(BASE_DOMAIN);
    visitor.get("/login").await;
    visitor
        .post_form("/login", &[("email", &operator), ("password", PASSWORD)])
        .await;
    let list = visitor.get("/mailbox").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains(&recipient) && list.body.contains("Reset link inside"));
    let href = list
        .body
        .split("href=\"/mailbox/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a message link");
    let message = visitor.get(&format!("/mailbox/{href}")).await;
    assert_eq!(message.status, StatusCode::OK);
    assert!(message.body.contains("Follow http://x/reset"));
    assert_eq!(
        visitor.get("/mailbox/no-such-message").await.status,
        StatusCode::NOT_FOUND
    );
}
