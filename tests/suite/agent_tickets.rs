//! The agent panel's ticket pages: queue counts after changes (two of them racing), the
//! access rule on the ticket page and in the queues, replies and internal notes through the
//! forms, bulk actions, CSRF refusal, another tenant's tickets answering 404, and in Chromium
//! an agent working a ticket from the queue to closed and a `<script>` that never runs.

use domain::BuiltinRole;
use fantoccini::Locator;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use store::tickets::{QueueCounts, TicketScope};
use tenantdesk_tests::{TestApp, TestTenant, browser, spawn_app, tenant_sql, unique_mail_domain};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";

async fn department(tenant: &TestTenant, name: &str, agents: &[Uuid]) -> Uuid {
    let id = Uuid::now_v7();
    let mut tx = tenant_sql(tenant).await;
    sqlx::query("insert into departments (tenant_id, id, name) values ($1, $2, $3)")
        .bind(tenant.tenant.id.as_uuid())
        .bind(id)
        .bind(name)
        .execute(&mut *tx)
        .await
        .expect("department");
    for agent in agents {
        sqlx::query(
            "insert into department_agents (tenant_id, department_id, agent_id) values ($1, $2, $3)",
        )
        .bind(tenant.tenant.id.as_uuid())
        .bind(id)
        .bind(agent)
        .execute(&mut *tx)
        .await
        .expect("department agent");
    }
    tx.commit().await.expect("commit");
    id
}

/// An agent with the role; returns their id and email.
async fn agent(app: &TestApp, tenant: &TestTenant, role: BuiltinRole) -> (Uuid, String) {
    let email = format!("{}@{}", Uuid::now_v7().simple(), unique_mail_domain());
    let agent = app
        .create_agent(&tenant.tenant, role, &email, PASSWORD)
        .await;
    (agent.id, email)
}

/// A ticket through the API: its id and number.
async fn ticket(
    app: &TestApp,
    tenant: &TestTenant,
    token: &str,
    department: Uuid,
    subject: &str,
    extra: Value,
) -> (Uuid, i64) {
    let mut body = json!({"subject": subject, "message": "Please help.",
        "requester_email": "robin.customer@example.com", "department_id": department});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let (status, created) = app
        .api(tenant, token, Method::POST, "/api/v1/tickets", Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    (
        Uuid::parse_str(created["id"].as_str().expect("id")).expect("uuid"),
        created["number"].as_i64().expect("number"),
    )
}

async fn patch(app: &TestApp, tenant: &TestTenant, token: &str, id: Uuid, body: Value) {
    let (status, answer) = app
        .api(
            tenant,
            token,
            Method::PATCH,
            &format!("/api/v1/tickets/{id}"),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

async fn counts(app: &TestApp, tenant: &TestTenant, scope: TicketScope, me: Uuid) -> QueueCounts {
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    use sqlx::types::chrono::Utc;
    let since = Utc::now() - std::time::Duration::from_secs(7 * 86_400);
    let counts = store::tickets::queue_counts(&mut tx, scope, me, since)
        .await
        .expect("counts");
    tx.commit().await.expect("commit");
    counts
}

/// The count shown beside the queue link with this label.
fn shown_count(body: &str, label: &str) -> i64 {
    let at = body
        .find(&format!(">{label}</a>"))
        .unwrap_or_else(|| panic!("no queue {label} in {body}"));
    let rest = &body[at..];
    let start = rest.find("data-count=\"").expect("count") + "data-count=\"".len();
    rest[start..]
        .split('"')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("number")
}

#[tokio::test]
async fn queue_counts_follow_changes_including_two_racing() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Queue Counts").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let (me, email) = agent(&app, &tenant, BuiltinRole::Agent).await;
    let (colleague, _) = agent(&app, &tenant, BuiltinRole::Agent).await;
    let support = department(&tenant, "Helpline", &[me, colleague]).await;
    let sales = department(&tenant, "Sales", &[colleague]).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(
            ticket(
                &app,
                &tenant,
                &token,
                support,
                &format!("Support {n}"),
                json!({}),
            )
            .await
            .0,
        );
    }
    let (hidden, _) = ticket(&app, &tenant, &token, sales, "Sales only", json!({})).await;

    let scope = TicketScope::Agent(me);
    let start = counts(&app, &tenant, scope, me).await;
    assert_eq!(
        (
            start.mine,
            start.unassigned,
            start.open,
            start.recently_closed
        ),
        (0, 4, 4, 0),
        "the sales ticket is not counted for an agent outside Sales"
    );

    // Two assignments racing: both land, and the counts see both.
    let (a, b) = (ids[0], ids[1]);
    tokio::join!(
        patch(&app, &tenant, &token, a, json!({"assignee_agent_id": me})),
        patch(&app, &tenant, &token, b, json!({"assignee_agent_id": me})),
    );
    patch(&app, &tenant, &token, ids[2], json!({"state": "closed"})).await;
    patch(&app, &tenant, &token, ids[3], json!({"state": "pending"})).await;
    patch(
        &app,
        &tenant,
        &token,
        hidden,
        json!({"assignee_agent_id": me}),
    )
    .await;

    let after = counts(&app, &tenant, scope, me).await;
    assert_eq!(after.mine, 3, "two racing assignments and the sales one");
    assert_eq!(after.unassigned, 1, "the pending ticket");
    assert_eq!(
        after.open, 4,
        "three support tickets still active and the assigned sales one"
    );
    assert_eq!(after.recently_closed, 1);
    assert_eq!(after.overdue, 0);

    let mut visitor = app.visitor(&tenant.host());
    visitor.sign_in_agent(&email, PASSWORD).await;
    let page = visitor.get("/agent/tickets?queue=mine").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(shown_count(&page.body, "My tickets"), 3);
    assert_eq!(shown_count(&page.body, "Recently closed"), 1);
    assert_eq!(shown_count(&page.body, "Unassigned"), 1);
    assert!(
        page.body.contains("Sales only"),
        "assigned to me, so visible"
    );
}

#[tokio::test]
async fn an_agent_outside_the_department_gets_404_and_no_queue_entry() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Outside Dept").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let (insider, _) = agent(&app, &tenant, BuiltinRole::Agent).await;
    let (_, outsider_email) = agent(&app, &tenant, BuiltinRole::Agent).await;
    let billing = department(&tenant, "Billing", &[insider]).await;
    let (_, number) = ticket(&app, &tenant, &token, billing, "Invoice twice", json!({})).await;

    let mut outsider = app.visitor(&tenant.host());
    outsider.sign_in_agent(&outsider_email, PASSWORD).await;
    let page = outsider.get(&format!("/agent/tickets/{number}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = outsider
        .post_form(
            &format!("/agent/tickets/{number}/reply"),
            &[("body", "let me in")],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    for queue in ["open", "unassigned"] {
        let page = outsider.get(&format!("/agent/tickets?queue={queue}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            !page.body.contains("Invoice twice"),
            "{queue}: {}",
            page.body
        );
        assert!(!page.body.contains("Billing</a>"), "no queue for Billing");
    }
}

#[tokio::test]
async fn a_reply_and_a_note_through_the_forms_appear_in_the_thread() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Thread Forms").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let (me, email) = agent(&app, &tenant, BuiltinRole::Agent).await;
    let support = department(&tenant, "Helpline", &[me]).await;
    let (_, number) = ticket(&app, &tenant, &token, support, "Cannot log in", json!({})).await;
    {
        let mut tx = app
            .state
            .store
            .begin_tenant(tenant.tenant.id)
            .await
            .expect("tx");
        let profile = store::agents::AgentProfile {
            timezone: None,
            signature: "Dana from Support".into(),
        };
        store::agents::update_profile(&mut tx, me, "Dana Agent", &profile)
            .await
            .expect("profile");
        tx.commit().await.expect("commit");
    }

    let mut visitor = app.visitor(&tenant.host());
    visitor.sign_in_agent(&email, PASSWORD).await;
    let path = format!("/agent/tickets/{number}");
    let page = visitor
        .post_form(
            &format!("{path}/reply"),
            &[("body", "Try resetting <your> password.")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = visitor
        .post_form(
            &format!("{path}/note"),
            &[("body", "Customer called twice")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = visitor
        .post_form(
            &format!("{path}/update"),
            &[("state", "pending"), ("priority", "high")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let shown = visitor
        .get(page.location.as_deref().expect("location"))
        .await;
    assert!(shown.body.contains("State, status and priority are saved"));
    let body = shown.body;
    assert!(
        body.contains("Try resetting &lt;your&gt; password."),
        "{body}"
    );
    assert!(body.contains("Dana from Support"), "signature appended");
    let note = body.find("Customer called twice").expect("note shown");
    let marker = body[..note].rfind("<li class=\"entry").expect("entry");
    assert!(
        body[marker..note].contains("data-internal=\"true\"")
            && body[marker..note].contains("Internal note"),
        "the note is marked internal"
    );
    assert!(
        body.contains("Dana Agent changed state from open to pending"),
        "{body}"
    );
    assert!(body.contains("Dana Agent changed priority from normal to high"));

    // An empty reply shows the page again with the message; nothing is added.
    let page = visitor
        .post_form(&format!("{path}/reply"), &[("body", "  ")])
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Nothing was changed: reply is empty"));
}

#[tokio::test]
async fn bulk_assign_and_state_report_changes_and_refusals_and_csrf_is_required() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Bulk Work").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let (me, email) = agent(&app, &tenant, BuiltinRole::Manager).await;
    let support = department(&tenant, "Helpline", &[me]).await;
    let (a, _) = ticket(&app, &tenant, &token, support, "First", json!({})).await;
    let (b, _) = ticket(&app, &tenant, &token, support, "Second", json!({})).await;
    let (c, c_number) = ticket(&app, &tenant, &token, support, "Third", json!({})).await;
    patch(&app, &tenant, &token, c, json!({"state": "closed"})).await;

    let mut visitor = app.visitor(&tenant.host());
    visitor.sign_in_agent(&email, PASSWORD).await;
    let me_text = me.to_string();
    let (a_text, b_text, c_text) = (a.to_string(), b.to_string(), c.to_string());
    let page = visitor
        .post_form(
            "/agent/tickets/bulk",
            &[
                ("ticket", &a_text),
                ("ticket", &b_text),
                ("action", "assign"),
                ("agent", &me_text),
                ("back", "/agent/tickets?queue=unassigned"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let shown = visitor
        .get(page.location.as_deref().expect("location"))
        .await;
    assert!(
        shown.body.contains("2 ticket(s) changed."),
        "{}",
        shown.body
    );
    let mine = visitor.get("/agent/tickets?queue=mine").await;
    assert!(mine.body.contains("First") && mine.body.contains("Second"));

    let page = visitor
        .post_form(
            "/agent/tickets/bulk",
            &[
                ("ticket", &a_text),
                ("ticket", &c_text),
                ("action", "state"),
                ("state", "pending"),
                ("back", "/agent/tickets?queue=open"),
            ],
        )
        .await;
    let shown = visitor
        .get(page.location.as_deref().expect("location"))
        .await;
    assert!(
        shown
            .body
            .contains(&format!("1 ticket(s) changed. Refused: #{c_number}.")),
        "{}",
        shown.body
    );

    // Without the token (or from another site) the form is refused and nothing changes.
    let page = visitor
        .post_raw(
            "/agent/tickets/bulk",
            &[
                ("ticket", &b_text),
                ("action", "state"),
                ("state", "closed"),
            ],
            Some(&format!("http://{}", tenant.host())),
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let csrf = visitor.csrf();
    let page = visitor
        .post_raw(
            "/agent/tickets/bulk",
            &[
                ("csrf", &csrf),
                ("ticket", &b_text),
                ("action", "state"),
                ("state", "closed"),
            ],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let (_, second) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            &format!("/api/v1/tickets/{b}"),
            None,
        )
        .await;
    assert_eq!(second["state"], "open");
}

#[tokio::test]
async fn another_tenants_tickets_are_404_on_every_page() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Mine Tenant").await;
    let other = app.create_tenant("Their Tenant").await;
    let (_, email) = agent(&app, &tenant, BuiltinRole::Admin).await;
    let their_token = app.issue_token(&other.tenant, "admin").await;
    let theirs_dept = department(&other, "Theirs", &[]).await;
    let mut last = 0;
    for n in 0..2 {
        last = ticket(
            &app,
            &other,
            &their_token,
            theirs_dept,
            &format!("Secret {n}"),
            json!({}),
        )
        .await
        .1;
    }
    let their_id = ticket(
        &app,
        &other,
        &their_token,
        theirs_dept,
        "Secret 2",
        json!({}),
    )
    .await
    .0;
    let number = last + 1;

    let mut visitor = app.visitor(&tenant.host());
    visitor.sign_in_agent(&email, PASSWORD).await;
    assert_eq!(
        visitor
            .get(&format!("/agent/tickets/{number}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    for action in [
        "reply",
        "note",
        "update",
        "assign",
        "transfer",
        "fields",
        "collaborators",
    ] {
        let page = visitor
            .post_form(
                &format!("/agent/tickets/{number}/{action}"),
                &[("body", "x"), ("state", "closed")],
            )
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{action}");
    }
    let page = visitor
        .post_form(
            &format!(
                "/agent/tickets/{number}/collaborators/{}/remove",
                Uuid::now_v7()
            ),
            &[],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "remove collaborator");
    let their_id = their_id.to_string();
    let page = visitor
        .post_form(
            "/agent/tickets/bulk",
            &[
                ("ticket", &their_id),
                ("action", "state"),
                ("state", "closed"),
                ("back", "/agent/tickets"),
            ],
        )
        .await;
    let shown = visitor
        .get(page.location.as_deref().expect("location"))
        .await;
    assert!(shown.body.contains("0 ticket(s) changed."));
    for queue in ["open", "unassigned", "closed"] {
        let page = visitor.get(&format!("/agent/tickets?queue={queue}")).await;
        assert!(!page.body.contains("Secret"), "{queue}");
    }
    let (_, still) = app
        .api(
            &other,
            &their_token,
            Method::GET,
            &format!("/api/v1/tickets/{their_id}"),
            None,
        )
        .await;
    assert_eq!(still["state"], "open");
}

async fn sign_in(client: &fantoccini::Client, app: &TestApp, tenant: &TestTenant, email: &str) {
    client
        .goto(&app.browser_url(&tenant.host(), "/agent/login"))
        .await
        .expect("open sign-in");
    client
        .find(Locator::Id("email"))
        .await
        .expect("email")
        .send_keys(email)
        .await
        .expect("type");
    client
        .find(Locator::Id("password"))
        .await
        .expect("password")
        .send_keys(PASSWORD)
        .await
        .expect("type");
    client
        .find(Locator::Css(
            "form[action='/agent/login'] button[type=submit]",
        ))
        .await
        .expect("button")
        .click()
        .await
        .expect("sign in");
    client
        .wait()
        .for_element(Locator::Css(".panel-links"))
        .await
        .expect("agent panel");
}

#[tokio::test]
async fn in_chromium_an_agent_works_a_ticket_from_the_queue_to_closed() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Browser Tickets").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let (me, email) = agent(&app, &tenant, BuiltinRole::Agent).await;
    let support = department(&tenant, "Helpline", &[me]).await;
    let (_, number) = ticket(&app, &tenant, &token, support, "Printer on fire", json!({})).await;

    let client = browser::open().await;
    sign_in(&client, &app, &tenant, &email).await;
    client
        .find(Locator::Css(".panel-links a[href='/agent/tickets']"))
        .await
        .expect("tickets link")
        .click()
        .await
        .expect("open tickets");
    client
        .wait()
        .for_element(Locator::LinkText("Unassigned"))
        .await
        .expect("queues")
        .click()
        .await
        .expect("open unassigned");
    client
        .wait()
        .for_element(Locator::LinkText("Printer on fire"))
        .await
        .expect("ticket in the queue")
        .click()
        .await
        .expect("open the ticket");
    client
        .wait()
        .for_element(Locator::Id("reply-body"))
        .await
        .expect("reply form")
        .send_keys("We are sending a fire extinguisher.")
        .await
        .expect("type the reply");
    client
        .find(Locator::Css("#reply-form button[type=submit]"))
        .await
        .expect("send")
        .click()
        .await
        .expect("reply");
    client
        .wait()
        .for_element(Locator::Id("notice"))
        .await
        .expect("replied");
    let thread = client
        .find(Locator::Id("thread"))
        .await
        .expect("thread")
        .text()
        .await
        .expect("text");
    assert!(
        thread.contains("We are sending a fire extinguisher."),
        "{thread}"
    );
    client
        .find(Locator::Css("#state option[value='closed']"))
        .await
        .expect("closed option")
        .click()
        .await
        .expect("choose closed");
    client
        .find(Locator::Css("#update-form button[type=submit]"))
        .await
        .expect("save")
        .click()
        .await
        .expect("close");
    for _ in 0..100 {
        let url = client.current_url().await.expect("url");
        if url.query().is_some_and(|q| q.contains("done=updated")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let state = client
        .find(Locator::Id("ticket-state"))
        .await
        .expect("state")
        .text()
        .await
        .expect("text");
    assert!(state.starts_with("closed"), "{state}");
    client
        .find(Locator::LinkText("Back to the queues"))
        .await
        .expect("back")
        .click()
        .await
        .expect("queues");
    client
        .wait()
        .for_element(Locator::LinkText("Recently closed"))
        .await
        .expect("closed queue")
        .click()
        .await
        .expect("open closed queue");
    let table = client
        .wait()
        .for_element(Locator::Id("tickets"))
        .await
        .expect("closed tickets")
        .text()
        .await
        .expect("text");
    assert!(table.contains(&format!("#{number}")), "{table}");
    assert!(table.contains("Printer on fire"));
    client.close().await.expect("close");
}

#[tokio::test]
async fn in_chromium_a_script_sent_in_a_message_never_runs() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Browser Scripts").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let (me, email) = agent(&app, &tenant, BuiltinRole::Agent).await;
    let support = department(&tenant, "Helpline", &[me]).await;
    let (_, number) = ticket(
        &app,
        &tenant,
        &token,
        support,
        "<script>document.title='pwned'</script>",
        json!({"format": "html", "message": "<p>Hello</p><script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"}),
    )
    .await;

    let client = browser::open().await;
    sign_in(&client, &app, &tenant, &email).await;
    client
        .goto(&app.browser_url(&tenant.host(), &format!("/agent/tickets/{number}")))
        .await
        .expect("open the ticket");
    client
        .wait()
        .for_element(Locator::Id("thread"))
        .await
        .expect("thread");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let title = client.title().await.expect("title");
    // The subject is shown as text in the title; a script that ran would have replaced it.
    assert_ne!(title, "pwned");
    assert!(title.contains("Browser Scripts"), "{title}");
    let thread = client
        .find(Locator::Id("thread"))
        .await
        .expect("thread")
        .text()
        .await
        .expect("text");
    assert!(thread.contains("Hello"));
    client.close().await.expect("close");
}

#[tokio::test]
async fn an_agent_opens_a_phone_ticket_for_a_new_guest_and_mistakes_are_shown() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Phone Tickets").await;
    let (me, email) = agent(&app, &tenant, BuiltinRole::Agent).await;
    let helpline = department(&tenant, "Helpline", &[me]).await;
    let mut visitor = app.visitor(&tenant.host());
    visitor.sign_in_agent(&email, PASSWORD).await;
    assert_eq!(
        visitor.get("/agent/tickets/new").await.status,
        StatusCode::OK
    );

    let page = visitor
        .post_form(
            "/agent/tickets/new",
            &[
                ("requester", "not an address"),
                ("subject", "Kept subject"),
                ("message", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("The ticket was not created"));
    assert!(page.body.contains("id=\"requester-error\""));
    assert!(page.body.contains("id=\"message-error\""));
    assert!(
        page.body.contains("value=\"Kept subject\""),
        "typed values are kept"
    );

    let guest = format!("caller@{}", unique_mail_domain());
    let helpline_text = helpline.to_string();
    let me_text = me.to_string();
    let page = visitor
        .post_form(
            "/agent/tickets/new",
            &[
                ("requester", &guest),
                ("requester_name", "Carla Caller"),
                ("subject", "Phoned in: VPN down"),
                ("message", "Called at 9:05, VPN refuses her token."),
                ("department_id", &helpline_text),
                ("priority", "urgent"),
                ("assignee_agent_id", &me_text),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let shown = visitor
        .get(page.location.as_deref().expect("location"))
        .await;
    assert!(shown.body.contains("The ticket is created."));
    assert!(shown.body.contains("Phoned in: VPN down"));
    assert!(
        shown.body.contains("Carla Caller"),
        "the new guest is the requester"
    );
    assert!(shown.body.contains("urgent"));
    assert!(shown.body.contains("VPN refuses her token."));
}

#[tokio::test]
async fn assign_transfer_and_collaborator_forms_change_the_ticket() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Ticket Forms").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let (me, email) = agent(&app, &tenant, BuiltinRole::Manager).await;
    let helpline = department(&tenant, "Helpline", &[me]).await;
    let billing = department(&tenant, "Accounts", &[]).await;
    let (_, number) = ticket(&app, &tenant, &token, helpline, "Refund please", json!({})).await;
    let copy = format!("boss@{}", unique_mail_domain());
    let boss = app.create_end_user(&tenant, "Bea Boss", &copy, None).await;

    let mut visitor = app.visitor(&tenant.host());
    visitor.sign_in_agent(&email, PASSWORD).await;
    let path = format!("/agent/tickets/{number}");
    let me_text = me.to_string();
    let page = visitor
        .post_form(
            &format!("{path}/assign"),
            &[("assignee_agent_id", &me_text), ("assignee_team_id", "")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let billing_text = billing.to_string();
    let page = visitor
        .post_form(
            &format!("{path}/transfer"),
            &[("department_id", &billing_text)],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = visitor
        .post_form(&format!("{path}/collaborators"), &[("email", &copy)])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let shown = visitor.get(&path).await;
    assert!(
        shown
            .body
            .contains("changed the department from Helpline to Accounts")
    );
    assert!(
        shown.body.contains("added Bea Boss in copy"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("Bea Boss &lt;"), "listed in copy");

    // An unknown address is shown as a refusal on the page; nothing is added.
    let page = visitor
        .post_form(
            &format!("{path}/collaborators"),
            &[("email", "nobody@nowhere.example")],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("No user of this workspace has the email address")
    );

    let page = visitor
        .post_form(&format!("{path}/collaborators/{}/remove", boss.id), &[])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let shown = visitor
        .get(page.location.as_deref().expect("location"))
        .await;
    assert!(shown.body.contains("The user is no longer in copy."));
    assert!(
        shown.body.contains("removed Bea Boss from copy"),
        "{}",
        shown.body
    );
}

#[tokio::test]
async fn the_phone_ticket_form_asks_for_the_help_topics_fields() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Phone Topic Fields").await;
    let token = app.issue_token(&tenant.tenant, "setup").await;
    let (me, email) = agent(&app, &tenant, BuiltinRole::Admin).await;
    let desk = department(&tenant, "Hardware desk", &[me]).await;
    let mut field_ids = Vec::new();
    for field in [
        json!({"key": "serial", "label": "Serial number", "field_type": "text",
               "help_text": "On the label under the device"}),
        json!({"key": "seats", "label": "Seats affected", "field_type": "number"}),
        json!({"key": "colour", "label": "Colour", "field_type": "text"}),
    ] {
        let (status, body) = app
            .api(
                &tenant,
                &token,
                Method::POST,
                "/api/v1/fields/ticket",
                Some(field),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        field_ids.push(body["id"].clone());
    }
    let (status, topic) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/help-topics",
            Some(json!({"name": "Broken device", "department_id": desk,
                        "field_ids": [field_ids[1], field_ids[0]]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{topic}");
    let topic_id = topic["id"].as_str().expect("id").to_owned();

    let mut visitor = app.visitor(&tenant.host());
    visitor.sign_in_agent(&email, PASSWORD).await;
    let guest = format!("device@{}", unique_mail_domain());
    let base = [
        ("requester", guest.as_str()),
        ("subject", "Laptop screen cracked"),
        ("message", "Dropped it."),
        ("help_topic_id", topic_id.as_str()),
    ];
    // Without JavaScript: choose the topic, then show its fields, values kept.
    let mut show = base.to_vec();
    show.push(("show_fields", "1"));
    let page = visitor.post_form("/agent/tickets/new", &show).await;
    assert_eq!(page.status, StatusCode::OK);
    let seats = page
        .body
        .find("name=\"custom.seats\"")
        .expect("seats field");
    let serial = page
        .body
        .find("name=\"custom.serial\"")
        .expect("serial field");
    assert!(seats < serial, "in the topic's order");
    assert!(
        !page.body.contains("custom.colour"),
        "only the topic's fields"
    );
    assert!(page.body.contains("On the label under the device"));
    assert!(page.body.contains("value=\"Laptop screen cracked\""));
    assert!(!page.body.contains("The ticket was not created"));

    let mut wrong = base.to_vec();
    wrong.extend([("custom.seats", "many"), ("custom.serial", "SN-77")]);
    let page = visitor.post_form("/agent/tickets/new", &wrong).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("id=\"custom.seats-error\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("value=\"SN-77\""),
        "typed values are kept"
    );

    let mut right = base.to_vec();
    right.extend([("custom.seats", "3"), ("custom.serial", "SN-77")]);
    let page = visitor.post_form("/agent/tickets/new", &right).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let (_, list) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            "/api/v1/tickets?custom.serial=SN-77",
            None,
        )
        .await;
    assert_eq!(list["data"][0]["custom"]["seats"], json!(3));
    assert_eq!(list["data"][0]["help_topic"]["id"], json!(topic_id));
}
