//! Mail that is never lost: queued in the business transaction, delivered by workers through a
//! real SMTP server, retried through an outage, never sent twice, dead when it cannot go.

use std::collections::HashSet;
use std::time::Duration;

use domain::EmailAddress;
use store::outbox::{EmailSummary, NewEmail};
use tenantdesk::mail_worker::{Transport, WorkerConfig, deliver_batch};
use tenantdesk_tests::smtp::SmtpSink;
use tenantdesk_tests::{
    MAIL_FROM, MAIL_WORKERS, TestApp, TestTenant, spawn_app, unique_mail_domain,
};

fn email(to: &str, subject: &str) -> NewEmail {
    NewEmail {
        event: "user.password_reset".into(),
        recipient: EmailAddress::parse(to).expect("valid recipient"),
        from_name: "Outbox Corp".into(),
        from_address: None,
        reply_to: Some(EmailAddress::parse("help@outbox.example").expect("valid")),
        subject: subject.into(),
        html_body: format!("<p>{subject}</p>"),
        text_body: subject.into(),
    }
}

async fn queue(app: &TestApp, tenant: &TestTenant, emails: &[NewEmail]) {
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tenant tx");
    for email in emails {
        store::outbox::enqueue(&mut tx, email, "tenantdesk.test")
            .await
            .expect("enqueue");
    }
    tx.commit().await.expect("commit");
}

async fn statuses(app: &TestApp, tenant: &TestTenant) -> Vec<EmailSummary> {
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tenant tx");
    let rows = store::outbox::recent(&mut tx, 5000).await.expect("recent");
    tx.commit().await.expect("commit");
    rows
}

fn fast_config(max_attempts: i32) -> WorkerConfig {
    WorkerConfig {
        batch: 50,
        lease: Duration::from_secs(60),
        max_attempts,
        retry_base: Duration::from_millis(20),
        retry_cap: Duration::from_millis(100),
        idle_poll: Duration::from_millis(20),
        platform_from: EmailAddress::parse(MAIL_FROM).expect("valid"),
    }
}

fn smtp(sink: &SmtpSink) -> Transport {
    Transport::new(Some(&sink.url()), std::path::Path::new("/nonexistent")).expect("smtp transport")
}

/// Runs batches until `done` holds (bounded: a few hundred rounds).
async fn deliver_until(
    app: &TestApp,
    transport: &Transport,
    config: &WorkerConfig,
    mut done: impl AsyncFnMut() -> bool,
) {
    for _ in 0..500 {
        if done().await {
            return;
        }
        if deliver_batch(&app.state.store, transport, config)
            .await
            .expect("batch")
            == 0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    panic!("delivery did not finish");
}

#[tokio::test]
async fn a_rolled_back_write_leaves_no_mail() {
    // Other tests' workers claim queued mail of every tenant; hold them off to see "queued".
    let _turn = MAIL_WORKERS.lock().await;
    let app = spawn_app().await;
    let tenant = app.create_tenant("Rollback Mail").await;
    let domain = unique_mail_domain();

    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    store::outbox::enqueue(
        &mut tx,
        &email(&format!("a@{domain}"), "never"),
        "tenantdesk.test",
    )
    .await
    .expect("enqueue");
    drop(tx);
    assert!(
        statuses(&app, &tenant).await.is_empty(),
        "a rolled-back transaction queues nothing"
    );

    queue(&app, &tenant, &[email(&format!("b@{domain}"), "committed")]).await;
    let rows = statuses(&app, &tenant).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "queued");
}

#[tokio::test]
async fn mail_waits_out_an_smtp_outage_and_arrives_exactly_once() {
    let _turn = MAIL_WORKERS.lock().await;
    let app = spawn_app().await;
    let tenant = app.create_tenant("Outage Corp").await;
    let domain = unique_mail_domain();
    let mut sink = SmtpSink::start();
    let transport = smtp(&sink);
    let config = fast_config(50);
    let emails: Vec<NewEmail> = (0..20)
        .map(|i| email(&format!("user{i}@{domain}"), &format!("outage {i}")))
        .collect();

    sink.stop();
    queue(&app, &tenant, &emails).await;
    for _ in 0..3 {
        deliver_batch(&app.state.store, &transport, &config)
            .await
            .expect("batch");
    }
    let rows = statuses(&app, &tenant).await;
    assert!(
        rows.iter()
            .all(|r| r.status == "failed" || r.status == "queued"),
        "nothing is lost or dead during the outage"
    );
    assert!(
        rows.iter()
            .any(|r| r.last_error.as_deref().is_some_and(|e| e.contains("SMTP"))),
        "the error is recorded"
    );

    sink.resume();
    deliver_until(&app, &transport, &config, async || {
        statuses(&app, &tenant)
            .await
            .iter()
            .all(|r| r.status == "sent")
    })
    .await;
    let received = sink.messages_to(&domain);
    assert_eq!(received.len(), 20, "every message arrives once");
    let ids: HashSet<_> = received
        .iter()
        .filter_map(|m| m.header("Message-ID").map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), 20, "no message arrives twice");
}

#[tokio::test]
async fn two_workers_deliver_a_thousand_messages_none_lost_none_twice() {
    let _turn = MAIL_WORKERS.lock().await;
    let app = spawn_app().await;
    let tenant = app.create_tenant("Thousand Mails").await;
    let domain = unique_mail_domain();
    let sink = SmtpSink::start();
    for chunk in 0..10 {
        let emails: Vec<NewEmail> = (0..100)
            .map(|i| {
                email(
                    &format!("u{chunk}-{i}@{domain}"),
                    &format!("bulk {chunk}-{i}"),
                )
            })
            .collect();
        queue(&app, &tenant, &emails).await;
    }

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(tenantdesk::mail_worker::run(
                app.state.store.clone(),
                smtp(&sink),
                fast_config(5),
                stopped.clone(),
            ))
        })
        .collect();
    for _ in 0..3000 {
        if statuses(&app, &tenant)
            .await
            .iter()
            .all(|r| r.status == "sent")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    for worker in workers {
        worker.await.expect("worker");
    }

    let rows = statuses(&app, &tenant).await;
    assert_eq!(rows.len(), 1000);
    assert!(
        rows.iter().all(|r| r.status == "sent"),
        "every message was sent"
    );
    let received = sink.messages_to(&domain);
    let ids: HashSet<_> = received
        .iter()
        .filter_map(|m| m.header("Message-ID").map(str::to_owned))
        .collect();
    assert_eq!(received.len(), 1000, "none lost, none sent twice");
    assert_eq!(ids.len(), 1000);
}

#[tokio::test]
async fn refused_mail_is_dead_at_once_and_failing_mail_after_its_attempts() {
    let _turn = MAIL_WORKERS.lock().await;
    let app = spawn_app().await;
    let tenant = app.create_tenant("Dead Letters").await;
    let sink = SmtpSink::start();
    let transport = smtp(&sink);
    let config = fast_config(3);
    queue(
        &app,
        &tenant,
        &[
            email("nobody@refused.test", "refused"),
            email("later@tempfail.test", "tempfail"),
        ],
    )
    .await;

    deliver_until(&app, &transport, &config, async || {
        statuses(&app, &tenant)
            .await
            .iter()
            .all(|r| r.status == "dead")
    })
    .await;
    let rows = statuses(&app, &tenant).await;
    let refused = rows
        .iter()
        .find(|r| r.subject == "refused")
        .expect("refused row");
    assert_eq!(refused.attempts, 1, "a permanent refusal is not retried");
    assert!(
        refused
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("550"),
        "{:?}",
        refused.last_error
    );
    let tempfail = rows
        .iter()
        .find(|r| r.subject == "tempfail")
        .expect("tempfail row");
    assert_eq!(
        tempfail.attempts, 3,
        "a transient failure is retried up to the configured attempts"
    );
    assert!(
        tempfail
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("gave up after 3 attempts")
    );

    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    assert!(
        store::outbox::retry_dead(&mut tx, refused.id)
            .await
            .expect("retry")
    );
    tx.commit().await.expect("commit");
    let again = statuses(&app, &tenant).await;
    assert_eq!(
        again
            .iter()
            .find(|r| r.id == refused.id)
            .map(|r| r.status.as_str()),
        Some("queued")
    );
    // Leave nothing due for other tests' workers.
    deliver_until(&app, &transport, &config, async || {
        statuses(&app, &tenant)
            .await
            .iter()
            .all(|r| r.status == "dead")
    })
    .await;
}

#[tokio::test]
async fn a_claim_abandoned_mid_send_is_delivered_after_its_lease() {
    let _turn = MAIL_WORKERS.lock().await;
    let app = spawn_app().await;
    let tenant = app.create_tenant("Crashed Worker").await;
    let domain = unique_mail_domain();
    let sink = SmtpSink::start();
    let transport = smtp(&sink);
    queue(
        &app,
        &tenant,
        &[email(&format!("crash@{domain}"), "after a crash")],
    )
    .await;

    // A worker claims with a one-second lease and dies without settling.
    let claimed = app.state.store.claim_emails(1000, 1).await.expect("claim");
    assert!(claimed.iter().any(|c| c.recipient.ends_with(&domain)));
    assert_eq!(statuses(&app, &tenant).await[0].status, "sending");
    let config = fast_config(5);
    deliver_batch(&app.state.store, &transport, &config)
        .await
        .expect("batch");
    assert!(
        sink.messages_to(&domain).is_empty(),
        "a live claim is not taken over"
    );

    deliver_until(&app, &transport, &config, async || {
        statuses(&app, &tenant).await[0].status == "sent"
    })
    .await;
    let received = sink.messages_to(&domain);
    assert_eq!(received.len(), 1);
    let stale = claimed
        .iter()
        .find(|c| c.recipient.ends_with(&domain))
        .expect("claim");
    assert_eq!(
        received[0].header("Message-ID"),
        Some(stale.message_id.as_str()),
        "the Message-ID is stable across claims"
    );
    assert!(
        !app.state.store.mark_sent(stale).await.expect("settle"),
        "the dead worker's claim settles nothing"
    );
}

#[tokio::test]
async fn delivered_mail_carries_the_tenants_name_reply_to_and_headers() {
    let _turn = MAIL_WORKERS.lock().await;
    let app = spawn_app().await;
    let tenant = app.create_tenant("Header Corp").await;
    let domain = unique_mail_domain();
    let sink = SmtpSink::start();
    let transport = smtp(&sink);
    queue(
        &app,
        &tenant,
        &[email(&format!("headers@{domain}"), "Ünïcödé subject")],
    )
    .await;
    let config = fast_config(5);
    deliver_until(&app, &transport, &config, async || {
        !sink.messages_to(&domain).is_empty()
    })
    .await;

    let message = &sink.messages_to(&domain)[0];
    assert_eq!(message.header("Subject"), Some("Ünïcödé subject"));
    assert!(
        message
            .header("From")
            .is_some_and(|f| f.contains("Outbox Corp") && f.contains(MAIL_FROM))
    );
    assert!(
        message
            .header("Reply-To")
            .is_some_and(|r| r.contains("help@outbox.example"))
    );
    assert_eq!(
        message.header("X-Tenantdesk-Tenant"),
        Some(tenant.tenant.id.to_string().as_str())
    );
    assert!(message.header("Date").is_some());
    assert!(
        message
            .header("Message-ID")
            .is_some_and(|id| id.ends_with("@tenantdesk.test>"))
    );
    assert_eq!(message.text.trim(), "Ünïcödé subject");
    assert!(message.html.contains("<p>Ünïcödé subject</p>"));
}

#[tokio::test]
async fn without_smtp_mail_lands_in_the_local_mailbox() {
    let _turn = MAIL_WORKERS.lock().await;
    let app = spawn_app().await;
    let tenant = app.create_tenant("Mailbox Corp").await;
    let domain = unique_mail_domain();
    let data_dir = tenantdesk_tests::programs::scratch_dir("mailbox");
    let transport =
        Transport::new(None, &tenantdesk::mail_worker::mailbox_dir(&data_dir)).expect("mailbox");
    queue(
        &app,
        &tenant,
        &[email(&format!("reader@{domain}"), "Reset your password")],
    )
    .await;
    let config = fast_config(5);
    deliver_until(&app, &transport, &config, async || {
        statuses(&app, &tenant).await[0].status == "sent"
    })
    .await;

    let list = tokio::process::Command::new(tenantdesk_tests::tenantdesk_binary())
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["mailbox", "list"])
        .output()
        .await
        .expect("mailbox list");
    let listing = String::from_utf8_lossy(&list.stdout);
    let line = listing
        .lines()
        .find(|l| l.contains(&domain))
        .expect("the message is listed");
    assert!(line.contains("Reset your password"), "{line}");
    let id = line.split_whitespace().next().expect("id");
    let show = tokio::process::Command::new(tenantdesk_tests::tenantdesk_binary())
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["mailbox", "show", &id[..8]])
        .output()
        .await
        .expect("mailbox show");
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(
        show.status.success(),
        "{}",
        String::from_utf8_lossy(&show.stderr)
    );
    assert!(
        shown.contains("Subject: Reset your password")
            && shown.contains(&format!("X-Tenantdesk-Tenant: {}", tenant.tenant.id)),
        "{shown}"
    );
}
