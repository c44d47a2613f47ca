//! Ticket notifications received at a real SMTP server: new-ticket alerts to the department's
//! agents (not one who muted them on their profile), assignment alerts, end-user reply alerts,
//! agent replies and closing to the requester and collaborators, nothing queued by a rolled-back
//! change, and never a mail to another tenant's agents.

use std::time::Duration;

use domain::ticket::{BodyFormat, MessageBody, Source};
use domain::{BuiltinRole, EmailAddress};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use store::ticket_thread::{Author, EntryKind};
use store::tickets::TicketScope;
use tenantdesk::mail_worker::{Transport, WorkerConfig, deliver_batch};
use tenantdesk_tests::smtp::SmtpSink;
use tenantdesk_tests::{
    MAIL_FROM, MAIL_WORKERS, TestApp, TestTenant, spawn_app, tenant_sql, unique_mail_domain,
};
use uuid::Uuid;
use web::tickets::{NewTicketInput, RequesterInput, TicketActor, TicketChanges};

const PASSWORD: &str = "correct horse battery staple";

fn worker_config() -> WorkerConfig {
    WorkerConfig {
        batch: 50,
        lease: Duration::from_secs(60),
        max_attempts: 5,
        retry_base: Duration::from_millis(20),
        retry_cap: Duration::from_millis(100),
        idle_poll: Duration::from_millis(20),
        platform_from: EmailAddress::parse(MAIL_FROM).expect("valid"),
    }
}

/// Delivers queued mail to `sink` until nothing of this test's is left queued.
async fn deliver_all(app: &TestApp, sink: &SmtpSink, tenant: &TestTenant) {
    let transport = Transport::new(Some(&sink.url()), std::path::Path::new("/nonexistent"))
        .expect("smtp transport");
    let config = worker_config();
    for _ in 0..500 {
        if outbox(app, tenant)
            .await
            .iter()
            .all(|(_, _, status)| status == "sent")
        {
            return;
        }
        if deliver_batch(&app.state.store, &transport, &config)
            .await
            .expect("batch")
            == 0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    panic!("delivery did not finish");
}

/// The tenant's queued or sent mail: (event, recipient, status).
async fn outbox(app: &TestApp, tenant: &TestTenant) -> Vec<(String, String, String)> {
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let rows = store::outbox::recent(&mut tx, 1000).await.expect("recent");
    tx.commit().await.expect("commit");
    rows.into_iter()
        .map(|row| (row.event, row.recipient, row.status))
        .collect()
}

/// Recipients of `event` in the tenant's outbox, sorted.
async fn recipients(app: &TestApp, tenant: &TestTenant, event: &str) -> Vec<String> {
    let mut found: Vec<String> = outbox(app, tenant)
        .await
        .into_iter()
        .filter(|(e, _, _)| e == event)
        .map(|(_, recipient, _)| recipient)
        .collect();
    found.sort();
    found
}

async fn sql(tenant: &TestTenant, statement: &str, ids: &[Uuid]) {
    let mut tx = tenant_sql(tenant).await;
    let mut query = sqlx::query(statement).bind(tenant.tenant.id.as_uuid());
    for id in ids {
        query = query.bind(*id);
    }
    query.execute(&mut *tx).await.expect(statement);
    tx.commit().await.expect("commit");
}

async fn department(tenant: &TestTenant, agents: &[Uuid]) -> Uuid {
    let id = Uuid::now_v7();
    let mut tx = tenant_sql(tenant).await;
    sqlx::query("insert into departments (tenant_id, id, name) values ($1, $2, $3)")
        .bind(tenant.tenant.id.as_uuid())
        .bind(id)
        .bind(format!("Queue {}", id.simple()))
        .execute(&mut *tx)
        .await
        .expect("department");
    tx.commit().await.expect("commit");
    for agent in agents {
        sql(
            tenant,
            "insert into department_agents (tenant_id, department_id, agent_id) values ($1, $2, $3)",
            &[id, *agent],
        )
        .await;
    }
    id
}

/// An active agent with an address of its own: (id, address).
async fn agent(app: &TestApp, tenant: &TestTenant, domain: &str, local: &str) -> (Uuid, String) {
    let email = format!("{local}@{domain}");
    let agent = app
        .create_agent(&tenant.tenant, BuiltinRole::Agent, &email, PASSWORD)
        .await;
    (agent.id, email)
}

async fn create_ticket(app: &TestApp, tenant: &TestTenant, token: &str, body: Value) -> Value {
    let (status, ticket) = app
        .api(tenant, token, Method::POST, "/api/v1/tickets", Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    ticket
}

fn id_of(value: &Value) -> Uuid {
    Uuid::parse_str(value["id"].as_str().expect("id")).expect("uuid")
}

fn new_ticket(department: Uuid, requester: &str) -> NewTicketInput {
    NewTicketInput {
        subject: "Printer on fire".into(),
        message: "It is really on fire.".into(),
        format: BodyFormat::Text,
        requester: Some(RequesterInput::Email {
            email: EmailAddress::parse(requester).expect("email"),
            name: None,
        }),
        department_id: Some(department),
        help_topic_id: None,
        priority: None,
        assignee_agent_id: None,
        assignee_team_id: None,
        collaborators: Vec::new(),
        custom: Map::new(),
        source: Source::Agent,
        idempotency_key: None,
        errors: Vec::new(),
    }
}

#[tokio::test]
async fn a_new_ticket_alerts_the_departments_agents_but_not_one_who_muted_it() {
    let _turn = MAIL_WORKERS.lock().await;
    let app = spawn_app().await;
    let tenant = app.create_tenant("Alert Corp").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let domain = unique_mail_domain();
    let (ada, ada_email) = agent(&app, &tenant, &domain, "ada").await;
    let (bo, bo_email) = agent(&app, &tenant, &domain, "bo").await;
    let (_outsider, _) = agent(&app, &tenant, &domain, "outsider").await;
    let support = department(&tenant, &[ada, bo]).await;

    // Bo turns the new-ticket alert off on their profile page and sees it stay off.
    let mut bo_browser = app.visitor(&tenant.host());
    bo_browser.sign_in_agent(&bo_email, PASSWORD).await;
    let saved = bo_browser
        .post_form(
            "/agent/profile/notifications",
            &[("assigned", "on"), ("user_reply", "on")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let profile = bo_browser.get("/agent/profile?saved=notifications").await;
    assert!(
        profile
            .body
            .contains("Your notification settings are saved.")
    );
    assert!(
        !profile
            .body
            .contains(r#"name="new_ticket" value="on" checked"#)
    );
    assert!(
        profile
            .body
            .contains(r#"name="assigned" value="on" checked"#)
    );

    let requester = format!("robin@{domain}");
    let ticket = create_ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "Printer on fire", "message": "Smoke everywhere.",
               "requester_email": requester, "department_id": support}),
    )
    .await;
    assert_eq!(
        recipients(&app, &tenant, "ticket.created.alert").await,
        vec![ada_email.clone()],
        "only the unmuted department agent is alerted"
    );

    let sink = SmtpSink::start();
    deliver_all(&app, &sink, &tenant).await;
    let mail = sink.messages_to(&ada_email);
    assert_eq!(mail.len(), 1);
    let number = ticket["number"].as_i64().expect("number").to_string();
    assert!(mail[0].text.contains(&number), "{}", mail[0].text);
    assert!(
        mail[0].text.contains("Smoke everywhere."),
        "{}",
        mail[0].text
    );
    assert!(
        mail[0]
            .text
            .contains(&format!("{}/agent/tickets/{number}", tenant.host()))
    );
    assert!(sink.messages_to(&bo_email).is_empty());
    assert!(sink.messages_to("outsider@").is_empty());
    assert!(
        sink.messages_to(&requester).is_empty(),
        "the requester gets no agent alert"
    );
}

#[tokio::test]
async fn assignment_alerts_the_assignee_but_not_an_agent_assigning_themselves() {
    let _turn = MAIL_WORKERS.lock().await;
    let app = spawn_app().await;
    let tenant = app.create_tenant("Assign Corp").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let domain = unique_mail_domain();
    let (sam, sam_email) = agent(&app, &tenant, &domain, "sam").await;
    let (kim, kim_email) = agent(&app, &tenant, &domain, "kim").await;
    let support = department(&tenant, &[]).await;
    let ticket = create_ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "Need a hand", "message": "Please.",
               "requester_email": format!("req@{domain}"), "department_id": support}),
    )
    .await;
    let id = id_of(&ticket);

    let (status, body) = app
        .api(
            &tenant,
            &token,
            Method::PATCH,
            &format!("/api/v1/tickets/{id}"),
            Some(json!({"assignee_agent_id": sam})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Kim takes the ticket herself: nobody needs telling.
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    web::tickets::change(
        &mut tx,
        TicketScope::All,
        TicketActor::Agent(kim),
        id,
        None,
        &TicketChanges {
            assignee_agent_id: Some(Some(kim)),
            ..TicketChanges::default()
        },
    )
    .await
    .expect("self-assignment");
    tx.commit().await.expect("commit");

    assert_eq!(
        recipients(&app, &tenant, "ticket.assigned.alert").await,
        vec![sam_email.clone()]
    );
    let sink = SmtpSink::start();
    deliver_all(&app, &sink, &tenant).await;
    let mail = sink.messages_to(&sam_email);
    assert_eq!(mail.len(), 1);
    assert!(mail[0].text.contains(&ticket["number"].to_string()));
    assert!(mail[0].text.contains("Need a hand"));
    assert!(sink.messages_to(&kim_email).is_empty());
}

#[tokio::test]
async fn an_agent_reply_and_closing_reach_the_requester_and_collaborators_who_may_get_mail() {
    let _turn = MAIL_WORKERS.lock().await;
    let app = spawn_app().await;
    let tenant = app.create_tenant("Reply Corp").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let domain = unique_mail_domain();
    let (sam, _) = agent(&app, &tenant, &domain, "sam").await;
    let support = department(&tenant, &[]).await;
    let requester = format!("robin@{domain}");
    let colleague = app
        .create_end_user(&tenant, "Casey Colleague", &format!("casey@{domain}"), None)
        .await;
    let invalid = app
        .create_end_user(&tenant, "Ivy Invalid", &format!("ivy@{domain}"), None)
        .await;
    sql(
        &tenant,
        "update end_users set validity = 'invalid' where tenant_id = $1 and id = $2",
        &[invalid.id],
    )
    .await;
    let ticket = create_ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "Broken login", "message": "Cannot sign in.",
               "requester_email": requester, "department_id": support,
               "collaborators": [colleague.id, invalid.id]}),
    )
    .await;
    let id = id_of(&ticket);
    let (status, body) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            &format!("/api/v1/tickets/{id}/messages"),
            Some(json!({"body": "Reset link is on its way.", "agent_id": sam})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .api(
            &tenant,
            &token,
            Method::PATCH,
            &format!("/api/v1/tickets/{id}"),
            Some(json!({"state": "closed"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut expected = vec![requester.clone(), format!("casey@{domain}")];
    expected.sort();
    assert_eq!(
        recipients(&app, &tenant, "ticket.reply.to_user").await,
        expected
    );
    assert_eq!(recipients(&app, &tenant, "ticket.closed").await, expected);

    let sink = SmtpSink::start();
    deliver_all(&app, &sink, &tenant).await;
    let number = ticket["number"].to_string();
    for address in &expected {
        let mail = sink.messages_to(address);
        assert_eq!(mail.len(), 2, "a reply and a closing notice to {address}");
        let reply = mail
            .iter()
            .find(|m| m.text.contains("Reset link is on its way."))
            .unwrap_or_else(|| panic!("the reply reaches {address}"));
        assert!(reply.text.contains(&number), "{}", reply.text);
        assert!(
            reply
                .text
                .contains(&format!("{}/tickets/{number}", tenant.host())),
            "{}",
            reply.text
        );
    }
    assert!(
        sink.messages_to("ivy@").is_empty(),
        "invalid users get no mail"
    );
}

#[tokio::test]
async fn an_end_user_message_alerts_the_assignee_or_else_the_department() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("User Reply Corp").await;
    let domain = unique_mail_domain();
    let (ada, ada_email) = agent(&app, &tenant, &domain, "ada").await;
    let (bo, bo_email) = agent(&app, &tenant, &domain, "bo").await;
    let support = department(&tenant, &[ada, bo]).await;

    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let ticket = web::tickets::create(
        &mut tx,
        TicketActor::Agent(ada),
        &new_ticket(support, &format!("req@{domain}")),
    )
    .await
    .expect("ticket");
    let body = MessageBody::parse("Any news?", BodyFormat::Text).expect("body");
    let entry_id = store::ticket_thread::add_body(
        &mut tx,
        ticket.id,
        EntryKind::Message,
        Author::EndUser(ticket.requester.id),
        &body,
    )
    .await
    .expect("message");
    let entry = store::ticket_thread::entry(&mut tx, ticket.id, entry_id)
        .await
        .expect("entry")
        .expect("stored");
    web::ticket_notifications::user_replied(&mut tx, &ticket, &entry)
        .await
        .expect("alert");
    tx.commit().await.expect("commit");
    assert_eq!(
        recipients(&app, &tenant, "ticket.message.alert").await,
        {
            let mut both = vec![ada_email.clone(), bo_email.clone()];
            both.sort();
            both
        },
        "an unassigned ticket alerts its department"
    );

    // Assigned to Bo, who muted end-user replies: nobody else is told instead.
    sql(
        &tenant,
        "insert into agent_notification_mutes (tenant_id, agent_id, kind) values ($1, $2, 'user_reply')",
        &[bo],
    )
    .await;
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let assigned = web::tickets::change(
        &mut tx,
        TicketScope::All,
        TicketActor::Agent(bo),
        ticket.id,
        None,
        &TicketChanges {
            assignee_agent_id: Some(Some(bo)),
            ..TicketChanges::default()
        },
    )
    .await
    .expect("assign");
    web::ticket_notifications::user_replied(&mut tx, &assigned, &entry)
        .await
        .expect("alert");
    tx.commit().await.expect("commit");
    assert_eq!(
        recipients(&app, &tenant, "ticket.message.alert")
            .await
            .len(),
        2,
        "a muting assignee gets nothing, and the department is not told instead"
    );
}

#[tokio::test]
async fn a_rolled_back_change_queues_no_notification() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Rollback Alerts").await;
    let domain = unique_mail_domain();
    let (ada, _) = agent(&app, &tenant, &domain, "ada").await;
    let support = department(&tenant, &[ada]).await;

    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let ticket = web::tickets::create(
        &mut tx,
        TicketActor::ApiToken {
            token: Uuid::now_v7(),
            agent: None,
        },
        &new_ticket(support, &format!("req@{domain}")),
    )
    .await
    .expect("ticket");
    let body = MessageBody::parse("On it.", BodyFormat::Text).expect("body");
    web::tickets::reply(
        &mut tx,
        TicketScope::All,
        TicketActor::Agent(ada),
        ticket.id,
        &body,
    )
    .await
    .expect("reply");
    assert!(
        !outbox_in(&mut tx).await.is_empty(),
        "the alert and the reply were queued inside the transaction"
    );
    drop(tx);
    assert!(
        outbox(&app, &tenant).await.is_empty(),
        "a rolled-back change sends nothing"
    );
}

async fn outbox_in(tx: &mut store::TenantTx) -> Vec<String> {
    store::outbox::recent(tx, 100)
        .await
        .expect("recent")
        .into_iter()
        .map(|row| row.recipient)
        .collect()
}

#[tokio::test]
async fn another_tenants_agents_never_get_mail() {
    let _turn = MAIL_WORKERS.lock().await;
    let app = spawn_app().await;
    let ours = app.create_tenant("Our Desk").await;
    let theirs = app.create_tenant("Their Desk").await;
    let token = app.issue_token(&ours.tenant, "integration").await;
    let domain = unique_mail_domain();
    let (ada, ada_email) = agent(&app, &ours, &domain, "ada").await;
    let (stranger, stranger_email) = agent(&app, &theirs, &domain, "stranger").await;
    let support = department(&ours, &[ada]).await;
    department(&theirs, &[stranger]).await;

    // Their agent cannot be assigned here, so is never alerted.
    let (status, body) = app
        .api(
            &ours,
            &token,
            Method::POST,
            "/api/v1/tickets",
            Some(json!({"subject": "Hello", "message": "Hi",
                        "requester_email": format!("req@{domain}"),
                        "department_id": support, "assignee_agent_id": stranger})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    create_ticket(
        &app,
        &ours,
        &token,
        json!({"subject": "Hello", "message": "Hi",
               "requester_email": format!("req@{domain}"), "department_id": support}),
    )
    .await;

    // Their agent's session does not reach our host: saving alerts there is not accepted.
    let mut browser = app.visitor(&theirs.host());
    browser.sign_in_agent(&stranger_email, PASSWORD).await;
    let mut on_ours = app.visitor(&ours.host());
    let refused = on_ours.post_form("/agent/profile/notifications", &[]).await;
    assert!(
        !refused
            .location
            .as_deref()
            .is_some_and(|location| location.contains("saved=notifications")),
        "{} {:?}",
        refused.status,
        refused.location
    );

    let sink = SmtpSink::start();
    deliver_all(&app, &sink, &ours).await;
    assert_eq!(sink.messages_to(&ada_email).len(), 1);
    assert!(sink.messages_to(&stranger_email).is_empty());
    assert!(outbox(&app, &theirs).await.is_empty());
}

#[tokio::test]
async fn an_organization_that_asks_for_it_alerts_its_account_manager_team() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Account Corp").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let domain = unique_mail_domain();
    let (ada, ada_email) = agent(&app, &tenant, &domain, "ada").await;
    let (max, max_email) = agent(&app, &tenant, &domain, "max").await;
    let support = department(&tenant, &[ada]).await;
    let team = Uuid::now_v7();
    sql(
        &tenant,
        "insert into teams (tenant_id, id, name) values ($1, $2, 'Key accounts')",
        &[team],
    )
    .await;
    sql(
        &tenant,
        "insert into team_members (tenant_id, team_id, agent_id) values ($1, $2, $3)",
        &[team, max],
    )
    .await;
    let quiet = Uuid::now_v7();
    let loud = Uuid::now_v7();
    for (organization, alert) in [(quiet, "false"), (loud, "true")] {
        sql(
            &tenant,
            &format!(
                "insert into organizations (tenant_id, id, name, account_manager_team_id, alert_account_manager)
                 values ($1, $2, 'Org ' || $2::text, $3, {alert})"
            ),
            &[organization, team],
        )
        .await;
    }
    for (local, organization) in [("quiet", quiet), ("loud", loud)] {
        let user = app
            .create_end_user(&tenant, local, &format!("{local}@{domain}"), None)
            .await;
        sql(
            &tenant,
            "insert into organization_members (tenant_id, end_user_id, organization_id, is_primary)
             values ($1, $2, $3, true)",
            &[user.id, organization],
        )
        .await;
        create_ticket(
            &app,
            &tenant,
            &token,
            json!({"subject": format!("From {local}"), "message": "Hi",
                   "requester_id": user.id, "department_id": support}),
        )
        .await;
    }
    let alerted = recipients(&app, &tenant, "ticket.created.alert").await;
    assert_eq!(
        alerted.iter().filter(|r| **r == ada_email).count(),
        2,
        "the department hears of both tickets"
    );
    assert_eq!(
        alerted.iter().filter(|r| **r == max_email).count(),
        1,
        "the account manager team only of the organization that asks for it"
    );
}
