//! Tickets: the lifecycle with every step in the history, per-tenant numbering under
//! concurrent creation, the access rule per role (a matrix), idempotent creation, sanitised
//! bodies, field-named validation, SLA due times and the pending pause, replies to closed
//! tickets, and another tenant's ids answering 404 on every endpoint.

use domain::BuiltinRole;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use store::tickets::{TicketQuery, TicketScope};
use tenantdesk_tests::{TestApp, TestTenant, spawn_app, tenant_sql, unique_mail_domain};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";

fn errors_of(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs one statement as the runtime role in `tenant` ($1 is the tenant id).
async fn sql(tenant: &TestTenant, statement: &str, ids: &[Uuid]) {
    let mut tx = tenant_sql(tenant).await;
    let mut query = sqlx::query(statement).bind(tenant.tenant.id.as_uuid());
    for id in ids {
        query = query.bind(*id);
    }
    query.execute(&mut *tx).await.expect(statement);
    tx.commit().await.expect("commit");
}

async fn department(tenant: &TestTenant, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    let mut tx = tenant_sql(tenant).await;
    sqlx::query("insert into departments (tenant_id, id, name) values ($1, $2, $3)")
        .bind(tenant.tenant.id.as_uuid())
        .bind(id)
        .bind(name)
        .execute(&mut *tx)
        .await
        .expect("department");
    tx.commit().await.expect("commit");
    id
}

async fn team(tenant: &TestTenant, name: &str, members: &[Uuid]) -> Uuid {
    let id = Uuid::now_v7();
    let mut tx = tenant_sql(tenant).await;
    sqlx::query("insert into teams (tenant_id, id, name) values ($1, $2, $3)")
        .bind(tenant.tenant.id.as_uuid())
        .bind(id)
        .bind(name)
        .execute(&mut *tx)
        .await
        .expect("team");
    for member in members {
        sqlx::query("insert into team_members (tenant_id, team_id, agent_id) values ($1, $2, $3)")
            .bind(tenant.tenant.id.as_uuid())
            .bind(id)
            .bind(member)
            .execute(&mut *tx)
            .await
            .expect("member");
    }
    tx.commit().await.expect("commit");
    id
}

async fn agent(app: &TestApp, tenant: &TestTenant, role: BuiltinRole) -> Uuid {
    let email = format!("{}@{}", Uuid::now_v7().simple(), unique_mail_domain());
    app.create_agent(&tenant.tenant, role, &email, PASSWORD)
        .await
        .id
}

/// The first-response and resolution due times, in whole seconds after creation.
async fn due_offsets(tenant: &TestTenant, id: Uuid) -> (i64, i64) {
    let mut tx = tenant_sql(tenant).await;
    let offsets: (i64, i64) = sqlx::query_as(
        "select extract(epoch from first_response_due_at - created_at)::bigint,
                extract(epoch from resolution_due_at - created_at)::bigint
           from tickets where id = $1",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await
    .expect("due times");
    offsets
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

async fn thread(app: &TestApp, tenant: &TestTenant, token: &str, ticket: Uuid) -> Vec<Value> {
    let (status, body) = app
        .api(
            tenant,
            token,
            Method::GET,
            &format!("/api/v1/tickets/{ticket}/events"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].as_array().expect("data").clone()
}

fn events(thread: &[Value]) -> Vec<(String, Value, Value)> {
    thread
        .iter()
        .filter(|e| e["kind"] == "event")
        .map(|e| {
            (
                e["event"]["field"].as_str().unwrap_or_default().to_owned(),
                e["event"]["from"].clone(),
                e["event"]["to"].clone(),
            )
        })
        .collect()
}

async fn patch(
    app: &TestApp,
    tenant: &TestTenant,
    token: &str,
    ticket: Uuid,
    body: Value,
) -> (StatusCode, Value) {
    app.api(
        tenant,
        token,
        Method::PATCH,
        &format!("/api/v1/tickets/{ticket}"),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_ticket_lives_from_creation_to_reopening_and_every_step_is_in_its_history() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Ticket Lifecycle").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let support = department(&tenant, "First line").await;
    let billing = department(&tenant, "Billing").await;
    let sam = agent(&app, &tenant, BuiltinRole::Agent).await;

    let ticket = create_ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "  Printer\non fire ", "message": "It is burning.\n\nPlease help.",
               "requester_email": "robin.customer@example.com", "department_id": support,
               "priority": "high"}),
    )
    .await;
    let id = id_of(&ticket);
    assert_eq!(ticket["subject"], "Printer on fire");
    assert_eq!(ticket["state"], "open");
    assert_eq!(ticket["priority"], "high");
    assert_eq!(ticket["source"], "api");
    assert_eq!(ticket["number"], 1, "the tenant's first ticket");
    assert_eq!(ticket["department"]["id"], json!(support));
    assert_eq!(
        ticket["requester"]["name"], "Robin Customer",
        "a new address becomes a guest named after it"
    );
    assert!(ticket["first_responded_at"].is_null());

    let (status, reply) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            &format!("/api/v1/tickets/{id}/messages"),
            Some(json!({"body": "We are on it.", "agent_id": sam})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    assert_eq!(reply["author"]["kind"], "agent");
    assert_eq!(reply["author"]["id"], json!(sam));
    let (status, note) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            &format!("/api/v1/tickets/{id}/notes"),
            Some(json!({"body": "Called the customer."})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{note}");
    assert_eq!(note["kind"], "note");

    let (_, read) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            &format!("/api/v1/tickets/{id}"),
            None,
        )
        .await;
    assert!(
        read["first_responded_at"].is_string(),
        "the first reply is the first response"
    );
    let mut version = read["version"].as_i64().expect("version");

    let steps = [
        json!({"assignee_agent_id": sam}),
        json!({"department_id": billing}),
        json!({"state": "pending"}),
        json!({"state": "resolved"}),
        json!({"state": "closed"}),
    ];
    for step in steps {
        let mut body = step.clone();
        body["version"] = json!(version);
        let (status, changed) = patch(&app, &tenant, &token, id, body).await;
        assert_eq!(status, StatusCode::OK, "{step}: {changed}");
        version = changed["version"].as_i64().expect("version");
    }
    let (_, closed) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            &format!("/api/v1/tickets/{id}"),
            None,
        )
        .await;
    assert_eq!(closed["state"], "closed");
    assert!(closed["closed_at"].is_string());

    let (status, refused) = patch(&app, &tenant, &token, id, json!({"state": "pending"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(errors_of(&refused), vec!["state"]);
    let (status, stale) = patch(
        &app,
        &tenant,
        &token,
        id,
        json!({"state": "open", "version": version - 1}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "a stale version: {stale}");
    let (status, reopened) = patch(
        &app,
        &tenant,
        &token,
        id,
        json!({"state": "open", "version": version}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reopened}");
    assert!(reopened["closed_at"].is_null());

    let thread = thread(&app, &tenant, &token, id).await;
    let kinds: Vec<&str> = thread
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds[0], "message", "the requester's message comes first");
    assert_eq!(thread[0]["author"]["kind"], "end_user");
    assert!(kinds.contains(&"note"));
    assert_eq!(
        events(&thread),
        vec![
            ("state".into(), Value::Null, json!("open")),
            ("assignee_agent_id".into(), Value::Null, json!(sam)),
            ("department_id".into(), json!(support), json!(billing)),
            ("state".into(), json!("open"), json!("pending")),
            ("state".into(), json!("pending"), json!("resolved")),
            ("state".into(), json!("resolved"), json!("closed")),
            ("state".into(), json!("closed"), json!("open")),
        ]
    );
    let token_id = thread
        .iter()
        .filter(|e| e["kind"] == "event")
        .map(|e| e["author"]["kind"].clone())
        .collect::<Vec<_>>();
    assert!(
        token_id.iter().all(|k| k == "api_token"),
        "changes by a token name the token: {token_id:?}"
    );
}

#[tokio::test]
async fn numbers_are_sequential_per_tenant_under_concurrent_creation() {
    let app = spawn_app().await;
    let first = app.create_tenant("Numbering One").await;
    let second = app.create_tenant("Numbering Two").await;
    let first_token = app.issue_token(&first.tenant, "one").await;
    let second_token = app.issue_token(&second.tenant, "two").await;
    // Half the creations make a new guest requester in the same transaction, half reuse one
    // who exists: the two take their locks in different orders unless nothing else locks
    // (the usage counters of migration 18 only append, so nothing deadlocks here).
    for (tenant, token) in [(&first, &first_token), (&second, &second_token)] {
        create_ticket(
            &app,
            tenant,
            token,
            json!({"subject": "First", "message": "Hello", "requester_email": "regular@example.com"}),
        )
        .await;
    }
    let mut tasks = Vec::new();
    for n in 0..50 {
        let requester = if n % 2 == 0 {
            "regular@example.com".to_owned()
        } else {
            format!("p{n}@example.com")
        };
        for (tenant, token) in [(&first, &first_token), (&second, &second_token)] {
            let http = app.http.clone();
            let url = app.url("/api/v1/tickets");
            let host = tenant.host();
            let token = token.clone();
            let requester = requester.clone();
            tasks.push(tokio::spawn(async move {
                let response = http
                    .post(url)
                    .header("Host", host.clone())
                    .bearer_auth(token)
                    .json(
                        &json!({"subject": format!("Parallel {n}"), "message": "Hello",
                                  "requester_email": requester}),
                    )
                    .send()
                    .await
                    .expect("create");
                let status = response.status();
                let body: Value = response.json().await.expect("json");
                assert_eq!(status, StatusCode::CREATED, "{body}");
                (host, body["number"].as_i64().expect("number"))
            }));
        }
    }
    let mut numbers: std::collections::HashMap<String, Vec<i64>> = Default::default();
    for task in tasks {
        let (host, number) = task.await.expect("task");
        numbers.entry(host).or_default().push(number);
    }
    for tenant in [&first, &second] {
        let mut got = numbers.remove(&tenant.host()).expect("numbers");
        got.sort_unstable();
        assert_eq!(got, (2..=51).collect::<Vec<i64>>(), "{}", tenant.host());
    }
}

#[tokio::test]
async fn who_sees_which_ticket_follows_departments_teams_and_assignments() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Ticket Access").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let sales = department(&tenant, "Sales").await;
    let other = department(&tenant, "Elsewhere").await;
    let admin = agent(&app, &tenant, BuiltinRole::Admin).await;
    let manager = agent(&app, &tenant, BuiltinRole::Manager).await;
    let in_department = agent(&app, &tenant, BuiltinRole::Agent).await;
    let outsider = agent(&app, &tenant, BuiltinRole::Agent).await;
    let via_team = agent(&app, &tenant, BuiltinRole::Agent).await;
    let assigned = agent(&app, &tenant, BuiltinRole::Agent).await;
    sql(
        &tenant,
        "insert into department_agents (tenant_id, department_id, agent_id) values ($1, $2, $3)",
        &[sales, in_department],
    )
    .await;
    let crew = team(&tenant, "Night crew", &[via_team]).await;

    let in_sales = id_of(
        &create_ticket(
            &app,
            &tenant,
            &token,
            json!({"subject": "Sales question", "message": "Hi", "requester_email": "a@example.com",
                   "department_id": sales}),
        )
        .await,
    );
    let to_team = id_of(
        &create_ticket(
            &app,
            &tenant,
            &token,
            json!({"subject": "For the team", "message": "Hi", "requester_email": "b@example.com",
                   "department_id": other, "assignee_team_id": crew}),
        )
        .await,
    );
    let to_agent = id_of(
        &create_ticket(
            &app,
            &tenant,
            &token,
            json!({"subject": "For one agent", "message": "Hi", "requester_email": "c@example.com",
                   "department_id": other, "assignee_agent_id": assigned}),
        )
        .await,
    );
    let all = [in_sales, to_team, to_agent];
    let expected: [(Uuid, &str, Vec<Uuid>); 6] = [
        (admin, "admin", all.to_vec()),
        (manager, "manager", all.to_vec()),
        (in_department, "agent in the department", vec![in_sales]),
        (outsider, "agent outside it", vec![]),
        (via_team, "agent via team", vec![to_team]),
        (assigned, "agent via assignment", vec![to_agent]),
    ];
    for (agent_id, who, visible) in expected {
        let mut tx = app
            .state
            .store
            .begin_tenant(tenant.tenant.id)
            .await
            .expect("tx");
        let record = store::agents::by_id(&mut tx, agent_id)
            .await
            .expect("agent")
            .expect("exists");
        let scope = web::tickets::scope_for_agent(&record).expect("may work tickets");
        if matches!(who, "admin" | "manager") {
            assert_eq!(scope, TicketScope::All, "{who}");
        }
        let page = store::tickets::list(&mut tx, scope, &TicketQuery::default())
            .await
            .expect("list");
        let mut listed: Vec<Uuid> = page.items.iter().map(|t| t.id).collect();
        listed.sort();
        let mut wanted = visible.clone();
        wanted.sort();
        assert_eq!(listed, wanted, "{who} lists");
        for ticket in all {
            let read = store::tickets::by_id(&mut tx, scope, ticket)
                .await
                .expect("read");
            assert_eq!(
                read.is_some(),
                visible.contains(&ticket),
                "{who} reads {ticket}"
            );
            let changed = web::tickets::change(
                &mut tx,
                scope,
                web::tickets::TicketActor::Agent(agent_id),
                ticket,
                None,
                &web::tickets::TicketChanges {
                    priority: Some(domain::ticket::Priority::Urgent),
                    ..Default::default()
                },
            )
            .await;
            assert_eq!(
                changed.is_ok(),
                visible.contains(&ticket),
                "{who} changes {ticket}"
            );
        }
        drop(tx);
    }
}

#[tokio::test]
async fn the_same_idempotency_key_answers_the_same_ticket() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Ticket Idempotency").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let send = |body: Value, key: &'static str| {
        app.http
            .post(app.url("/api/v1/tickets"))
            .header("Host", tenant.host())
            .header("Idempotency-Key", key)
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let body =
        json!({"subject": "Once only", "message": "Hello", "requester_email": "once@example.com"});
    let first = send(body.clone(), "order-1001").await.expect("first");
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.expect("json");
    let again = send(body.clone(), "order-1001").await.expect("again");
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "a retry answers the original"
    );
    let again: Value = again.json().await.expect("json");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["number"], first["number"]);
    let other = send(
        json!({"subject": "Something else", "message": "Hello", "requester_email": "once@example.com"}),
        "order-1001",
    )
    .await
    .expect("other");
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let other: Value = other.json().await.expect("json");
    assert_eq!(errors_of(&other), vec!["Idempotency-Key"]);
    let fresh = send(body, "order-1002").await.expect("fresh");
    assert_eq!(
        fresh.status(),
        StatusCode::CREATED,
        "another key, another ticket"
    );
    let (_, list) = app
        .api(&tenant, &token, Method::GET, "/api/v1/tickets", None)
        .await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn scripts_and_event_handlers_never_reach_the_thread() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Ticket Sanitising").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let ticket = create_ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "Look", "format": "html", "requester_email": "x@example.com",
               "message": "<p>Hi <b>there</b></p><script>alert('x')</script><img src=\"a.png\" onerror=\"alert(1)\">"}),
    )
    .await;
    let id = id_of(&ticket);
    let (status, reply) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            &format!("/api/v1/tickets/{id}/messages"),
            Some(json!({"format": "html",
                        "body": "<a href=\"javascript:alert(2)\" onclick=\"x()\">click</a><script>steal()</script>"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let (status, empty) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            &format!("/api/v1/tickets/{id}/notes"),
            Some(json!({"format": "html", "body": "<script>only()</script>"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{empty}");
    assert_eq!(errors_of(&empty), vec!["body"]);
    let thread = thread(&app, &tenant, &token, id).await;
    let bodies: Vec<&str> = thread
        .iter()
        .filter_map(|e| e["body_html"].as_str())
        .collect();
    assert_eq!(bodies.len(), 2);
    for html in &bodies {
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("onclick"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }
    assert!(bodies[0].contains("<b>there</b>"), "harmless markup stays");
    assert_eq!(thread[0]["body_text"], "Hi there");
}

#[tokio::test]
async fn bad_references_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Ticket Validation").await;
    let other = app.create_tenant("Ticket Validation Other").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let foreign_department = department(&other, "Theirs").await;
    let foreign_team = team(&other, "Their team", &[]).await;
    let foreign_agent = agent(&app, &other, BuiltinRole::Agent).await;
    let foreign_user = app
        .create_end_user(&other, "Their User", "their@example.com", None)
        .await
        .id;
    let (status, problem) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/tickets",
            Some(
                json!({"subject": "", "message": "", "requester_id": foreign_user,
                        "department_id": foreign_department, "help_topic_id": Uuid::now_v7(),
                        "assignee_agent_id": foreign_agent, "assignee_team_id": foreign_team,
                        "priority": "critical", "colour": "red"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let mut fields = errors_of(&problem);
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "assignee_agent_id",
            "assignee_team_id",
            "colour",
            "department_id",
            "help_topic_id",
            "message",
            "priority",
            "requester",
            "subject",
        ]
    );
    let invalid = app
        .create_end_user(&tenant, "Gone Person", "gone@example.com", None)
        .await
        .id;
    sql(
        &tenant,
        "update end_users set validity = 'invalid' where tenant_id = $1 and id = $2",
        &[invalid],
    )
    .await;
    let (status, problem) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/tickets",
            Some(json!({"subject": "Hi", "message": "Hi", "requester_id": invalid})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(errors_of(&problem), vec!["requester"]);
    let (_, list) = app
        .api(&tenant, &token, Method::GET, "/api/v1/tickets", None)
        .await;
    assert_eq!(list["data"], json!([]), "nothing half-written");
    let (status, problem) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            "/api/v1/tickets?state=done&sort=colour",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(errors_of(&problem), vec!["state", "sort"]);
}

#[tokio::test]
async fn another_tenants_ticket_is_not_found_on_every_endpoint() {
    let app = spawn_app().await;
    let ours = app.create_tenant("Ticket Ours").await;
    let theirs = app.create_tenant("Ticket Theirs").await;
    let our_token = app.issue_token(&ours.tenant, "ours").await;
    let their_token = app.issue_token(&theirs.tenant, "theirs").await;
    let ticket = create_ticket(
        &app,
        &theirs,
        &their_token,
        json!({"subject": "Private", "message": "Secret", "requester_email": "p@example.com"}),
    )
    .await;
    let id = id_of(&ticket);
    let their_user = Uuid::parse_str(ticket["requester"]["id"].as_str().expect("id")).expect("id");
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/v1/tickets/{id}"), None),
        (
            Method::PATCH,
            format!("/api/v1/tickets/{id}"),
            Some(json!({"state": "closed"})),
        ),
        (
            Method::POST,
            format!("/api/v1/tickets/{id}/messages"),
            Some(json!({"body": "x"})),
        ),
        (
            Method::POST,
            format!("/api/v1/tickets/{id}/notes"),
            Some(json!({"body": "x"})),
        ),
        (Method::GET, format!("/api/v1/tickets/{id}/events"), None),
        (
            Method::GET,
            format!("/api/v1/tickets/{id}/collaborators"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/tickets/{id}/collaborators/{their_user}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/tickets/{id}/collaborators/{their_user}"),
            None,
        ),
    ];
    for (method, path, body) in calls {
        let (status, problem) = app
            .api(&ours, &our_token, method.clone(), &path, body)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {problem}");
    }
    let (_, list) = app
        .api(&ours, &our_token, Method::GET, "/api/v1/tickets", None)
        .await;
    assert_eq!(list["data"], json!([]));
    // Their ticket is untouched, and our ticket cannot take their user in copy either.
    let (_, thread_body) = app
        .api(
            &theirs,
            &their_token,
            Method::GET,
            &format!("/api/v1/tickets/{id}/events"),
            None,
        )
        .await;
    assert_eq!(thread_body["data"].as_array().map(Vec::len), Some(2));
    let mine = id_of(
        &create_ticket(
            &app,
            &ours,
            &our_token,
            json!({"subject": "Mine", "message": "Hi", "requester_email": "m@example.com"}),
        )
        .await,
    );
    let (status, _) = app
        .api(
            &ours,
            &our_token,
            Method::PUT,
            &format!("/api/v1/tickets/{mine}/collaborators/{their_user}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .api(
            &ours,
            &our_token,
            Method::GET,
            &format!("/api/v1/tickets?requester={their_user}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn collaborators_are_added_listed_and_removed() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Ticket Collaborators").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let colleague = app
        .create_end_user(&tenant, "Cee Colleague", "cee@example.com", None)
        .await
        .id;
    let ticket = id_of(
        &create_ticket(
            &app,
            &tenant,
            &token,
            json!({"subject": "Copy", "message": "Hi", "requester_email": "r@example.com",
                   "collaborators": [colleague]}),
        )
        .await,
    );
    let path = format!("/api/v1/tickets/{ticket}/collaborators");
    let (_, list) = app.api(&tenant, &token, Method::GET, &path, None).await;
    assert_eq!(list["data"][0]["email"], "cee@example.com");
    let (status, _) = app
        .api(
            &tenant,
            &token,
            Method::DELETE,
            &format!("{path}/{colleague}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .api(
            &tenant,
            &token,
            Method::DELETE,
            &format!("{path}/{colleague}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not in copy any more");
    let (status, _) = app
        .api(
            &tenant,
            &token,
            Method::PUT,
            &format!("{path}/{colleague}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = app.api(&tenant, &token, Method::GET, &path, None).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
    let history = events(&thread(&app, &tenant, &token, ticket).await);
    let copies: Vec<_> = history
        .into_iter()
        .filter(|(field, _, _)| field == "collaborators")
        .collect();
    assert_eq!(
        copies,
        vec![
            ("collaborators".into(), Value::Null, json!(colleague)),
            ("collaborators".into(), json!(colleague), Value::Null),
            ("collaborators".into(), Value::Null, json!(colleague)),
        ]
    );
}

#[tokio::test]
async fn sla_due_times_are_stored_and_a_pending_pause_pushes_them() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Ticket SLA").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let desk = department(&tenant, "Desk").await;
    let plan = Uuid::now_v7();
    let topic = Uuid::now_v7();
    sql(
        &tenant,
        "insert into sla_plans (tenant_id, id, name, first_response_hours, resolution_hours,
                business_hours_only, pause_while_pending) values ($1, $2, 'Standard', 4, 48, false, true)",
        &[plan],
    )
    .await;
    sql(
        &tenant,
        "insert into help_topics (tenant_id, id, name, department_id, sla_plan_id, default_priority)
         values ($1, $2, 'Hardware', $3, $4, 'urgent')",
        &[topic, desk, plan],
    )
    .await;
    let ticket = create_ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "Broken", "message": "Help", "requester_email": "s@example.com",
               "help_topic_id": topic}),
    )
    .await;
    let id = id_of(&ticket);
    assert_eq!(
        ticket["department"]["id"],
        json!(desk),
        "the topic's department"
    );
    assert_eq!(ticket["priority"], "urgent", "the topic's priority");
    assert_eq!(ticket["sla_plan"]["id"], json!(plan));
    assert!(ticket["first_response_due_at"].is_string());
    assert_eq!(
        due_offsets(&tenant, id).await,
        (4 * 3600, 48 * 3600),
        "due times count from creation, around the clock"
    );

    let (status, pending) = patch(&app, &tenant, &token, id, json!({"state": "pending"})).await;
    assert_eq!(status, StatusCode::OK, "{pending}");
    assert!(pending["sla_paused_since"].is_string(), "the clock stops");
    // Two hours spent pending, without waiting two hours.
    sql(
        &tenant,
        "update tickets set sla_paused_since = sla_paused_since - interval '2 hours' where tenant_id = $1 and id = $2",
        &[id],
    )
    .await;
    let (status, open) = patch(&app, &tenant, &token, id, json!({"state": "open"})).await;
    assert_eq!(status, StatusCode::OK, "{open}");
    assert!(open["sla_paused_since"].is_null());
    let (first, resolution) = due_offsets(&tenant, id).await;
    assert!((first - 6 * 3600).abs() <= 60, "pushed to {first} s");
    assert!(
        (resolution - 50 * 3600).abs() <= 60,
        "pushed to {resolution} s"
    );
    let history = events(&thread(&app, &tenant, &token, id).await);
    assert!(
        history
            .iter()
            .any(|(field, _, _)| field == "resolution_due_at")
    );

    sql(
        &tenant,
        "update tickets set resolution_due_at = now() - interval '1 minute' where tenant_id = $1 and id = $2",
        &[id],
    )
    .await;
    let (_, overdue) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            "/api/v1/tickets?overdue=true",
            None,
        )
        .await;
    assert_eq!(overdue["data"][0]["id"], json!(id));
    assert_eq!(overdue["data"][0]["overdue"], true);
}

async fn due_times(
    tenant: &TestTenant,
    id: Uuid,
) -> (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) {
    let mut tx = tenant_sql(tenant).await;
    sqlx::query_as("select first_response_due_at, resolution_due_at from tickets where id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .expect("due times")
}

#[tokio::test]
async fn a_pending_pause_under_business_hours_counts_only_open_time() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Ticket SLA Calendar").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let desk = department(&tenant, "Desk").await;
    // Open around the clock every day in UTC, except four holidays: the last three days and
    // today. Whatever the time now, the pause's open time is known without the calendar code.
    let today = chrono::Utc::now().date_naive();
    let mut tx = tenant_sql(&tenant).await;
    sqlx::query("insert into business_calendars (tenant_id, timezone) values ($1, 'UTC')")
        .bind(tenant.tenant.id.as_uuid())
        .execute(&mut *tx)
        .await
        .expect("calendar");
    for weekday in 1..=7_i16 {
        sqlx::query(
            "insert into business_hours (tenant_id, id, weekday, opens, closes)
             values ($1, $2, $3, '00:00', '24:00')",
        )
        .bind(tenant.tenant.id.as_uuid())
        .bind(Uuid::now_v7())
        .bind(weekday)
        .execute(&mut *tx)
        .await
        .expect("hours");
    }
    for back in 0..=3 {
        sqlx::query(
            "insert into business_holidays (tenant_id, day, name) values ($1, $2, 'Closed')",
        )
        .bind(tenant.tenant.id.as_uuid())
        .bind(today - chrono::Days::new(back))
        .execute(&mut *tx)
        .await
        .expect("holiday");
    }
    tx.commit().await.expect("commit");
    let mut topics = Vec::new();
    for (name, business_only) in [("Business", "true"), ("Clock", "false")] {
        let (plan, topic) = (Uuid::now_v7(), Uuid::now_v7());
        topics.push(topic);
        sql(
            &tenant,
            &format!(
                "insert into sla_plans (tenant_id, id, name, first_response_hours, resolution_hours,
                        business_hours_only, pause_while_pending)
                 values ($1, $2, '{name}', 4, 48, {business_only}, true)"
            ),
            &[plan],
        )
        .await;
        sql(
            &tenant,
            &format!(
                "insert into help_topics (tenant_id, id, name, department_id, sla_plan_id)
                 values ($1, $2, '{name}', $3, $4)"
            ),
            &[topic, desk, plan],
        )
        .await;
    }
    let tomorrow = (today + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let mut tickets = Vec::new();
    for topic in topics {
        let ticket = create_ticket(
            &app,
            &tenant,
            &token,
            json!({"subject": "Calendar", "message": "Help", "requester_email": "c@example.com",
                   "help_topic_id": topic}),
        )
        .await;
        tickets.push(id_of(&ticket));
    }
    let (business_ticket, clock_ticket) = (tickets[0], tickets[1]);
    let (first, resolution) = due_times(&tenant, business_ticket).await;
    assert_eq!(
        (first, resolution),
        (
            tomorrow + chrono::Duration::hours(4),
            tomorrow + chrono::Duration::hours(48)
        ),
        "created on a holiday, the clock starts when the desk opens"
    );

    // Pending since five days ago: open time only before the holidays began.
    let holidays_began = (today - chrono::Days::new(3))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    for id in [business_ticket, clock_ticket] {
        let (status, body) = patch(&app, &tenant, &token, id, json!({"state": "pending"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        sql(
            &tenant,
            "update tickets set sla_paused_since = now() - interval '5 days' where tenant_id = $1 and id = $2",
            &[id],
        )
        .await;
    }
    let paused_since: chrono::DateTime<chrono::Utc> = {
        let mut tx = tenant_sql(&tenant).await;
        sqlx::query_scalar("select sla_paused_since from tickets where id = $1")
            .bind(business_ticket)
            .fetch_one(&mut *tx)
            .await
            .expect("paused since")
    };
    let open_while_paused = holidays_began - paused_since;
    let clock_before = due_times(&tenant, clock_ticket).await;
    for id in [business_ticket, clock_ticket] {
        let (status, body) = patch(&app, &tenant, &token, id, json!({"state": "open"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (first_after, resolution_after) = due_times(&tenant, business_ticket).await;
    let near = |actual: chrono::DateTime<chrono::Utc>, expected: chrono::DateTime<chrono::Utc>| {
        (actual - expected).num_seconds().abs() <= 60
    };
    assert!(
        near(first_after, first + open_while_paused),
        "business plan pushed by the open time only: {first} -> {first_after}, open {open_while_paused}"
    );
    assert!(near(resolution_after, resolution + open_while_paused));
    let (clock_first, clock_resolution) = due_times(&tenant, clock_ticket).await;
    assert!(
        near(clock_first, clock_before.0 + chrono::Duration::days(5)),
        "the around-the-clock plan is pushed by all five days"
    );
    assert!(near(
        clock_resolution,
        clock_before.1 + chrono::Duration::days(5)
    ));
}

#[tokio::test]
async fn replies_to_closed_tickets_follow_the_workspace_setting() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Ticket Closed Replies").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let id = id_of(
        &create_ticket(
            &app,
            &tenant,
            &token,
            json!({"subject": "Done", "message": "Hi", "requester_email": "d@example.com"}),
        )
        .await,
    );
    let (status, _) = patch(&app, &tenant, &token, id, json!({"state": "closed"})).await;
    assert_eq!(status, StatusCode::OK);
    let path = format!("/api/v1/tickets/{id}/messages");
    let reply = |body: &'static str| {
        app.api(
            &tenant,
            &token,
            Method::POST,
            &path,
            Some(json!({ "body": body })),
        )
    };
    let (status, _) = reply("Allowed by default").await;
    assert_eq!(status, StatusCode::CREATED);
    sql(
        &tenant,
        "update tenant_settings set reply_to_closed_allowed = false where tenant_id = $1",
        &[],
    )
    .await;
    let (status, problem) = reply("Now refused").await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let messages = thread(&app, &tenant, &token, id)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "message")
        .count();
    assert_eq!(messages, 2, "the refused reply left nothing behind");
}

#[tokio::test]
async fn the_list_filters_sorts_and_pages() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Ticket List").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let mut ids = Vec::new();
    for (n, priority) in ["low", "urgent", "normal", "high", "urgent"]
        .iter()
        .enumerate()
    {
        let ticket = create_ticket(
            &app,
            &tenant,
            &token,
            json!({"subject": format!("List {n}"), "message": "Hi",
                   "requester_email": "list@example.com", "priority": priority}),
        )
        .await;
        ids.push(id_of(&ticket));
    }
    let (_, urgent) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            "/api/v1/tickets?priority=urgent&sort=number",
            None,
        )
        .await;
    let numbers: Vec<i64> = urgent["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|t| t["number"].as_i64().expect("number"))
        .collect();
    assert_eq!(numbers, vec![2, 5]);
    let mut seen = Vec::new();
    let mut path = "/api/v1/tickets?sort=-priority&limit=2".to_owned();
    loop {
        let (status, page) = app.api(&tenant, &token, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for ticket in page["data"].as_array().expect("data") {
            seen.push(ticket["priority"].as_str().expect("priority").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/tickets?sort=-priority&limit=2&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(seen, vec!["urgent", "urgent", "high", "normal", "low"]);
    let (_, number) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            "/api/v1/tickets?number=3",
            None,
        )
        .await;
    assert_eq!(number["data"][0]["id"], json!(ids[2]));
    let (_, unassigned) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            "/api/v1/tickets?assignee=none&state=open",
            None,
        )
        .await;
    assert_eq!(unassigned["data"].as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn concurrent_repeats_of_one_key_make_one_ticket_and_one_requester() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Ticket Key Race").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let mut tasks = Vec::new();
    for n in 0..6 {
        let http = app.http.clone();
        let url = app.url("/api/v1/tickets");
        let host = tenant.host();
        let token = token.clone();
        // Four repeats of one key, and two keyless requests for the same new requester.
        let key = (n < 4).then_some("crm-race");
        tasks.push(tokio::spawn(async move {
            let mut request = http.post(url).header("Host", host).bearer_auth(token);
            if let Some(key) = key {
                request = request.header("Idempotency-Key", key);
            }
            let response = request
                .json(&json!({"subject": "Race", "message": "Hello",
                              "requester_email": "racer@example.com"}))
                .send()
                .await
                .expect("create");
            let status = response.status();
            let body: Value = response.json().await.expect("json");
            (key.is_some(), status, body)
        }));
    }
    let mut keyed = Vec::new();
    let mut requesters = std::collections::HashSet::new();
    for task in tasks {
        let (with_key, status, body) = task.await.expect("task");
        assert!(
            status == StatusCode::CREATED || (with_key && status == StatusCode::OK),
            "{status}: {body}"
        );
        requesters.insert(body["requester"]["id"].clone());
        if with_key {
            keyed.push((status, body["id"].clone()));
        }
    }
    assert_eq!(
        keyed
            .iter()
            .filter(|(s, _)| *s == StatusCode::CREATED)
            .count(),
        1,
        "one request created it: {keyed:?}"
    );
    assert!(keyed.iter().all(|(_, id)| *id == keyed[0].1), "{keyed:?}");
    assert_eq!(requesters.len(), 1, "one guest user for the address");
    let (_, list) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            "/api/v1/tickets?sort=number",
            None,
        )
        .await;
    let numbers: Vec<i64> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|t| t["number"].as_i64().expect("number"))
        .collect();
    assert_eq!(numbers, vec![1, 2, 3], "no number lost to the races");
}

#[tokio::test]
async fn tokens_without_tickets_all_are_refused() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Ticket Token Scope").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    let (status, issued) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({"name": "directory only", "permissions": ["users.read", "tickets.work"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let narrow = issued["secret"].as_str().expect("secret");
    let id = id_of(
        &create_ticket(
            &app,
            &tenant,
            &admin,
            json!({"subject": "Scoped", "message": "Hi", "requester_email": "s@example.com"}),
        )
        .await,
    );
    for (method, path) in [
        (Method::GET, "/api/v1/tickets".to_owned()),
        (Method::POST, "/api/v1/tickets".to_owned()),
        (Method::GET, format!("/api/v1/tickets/{id}")),
        (Method::GET, format!("/api/v1/tickets/{id}/events")),
    ] {
        let body = (method == Method::POST).then(|| json!({"subject": "x", "message": "x"}));
        let (status, problem) = app.api(&tenant, narrow, method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {problem}");
    }
}

#[tokio::test]
async fn changes_validate_references_statuses_and_custom_fields() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Ticket Change Checks").await;
    let other = app.create_tenant("Ticket Change Other").await;
    let token = app.issue_token(&tenant.tenant, "integration").await;
    let (status, field) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/fields/ticket",
            Some(
                json!({"key": "order_number", "label": "Order number", "field_type": "number",
                        "required": true}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{field}");
    let (status, problem) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/tickets",
            Some(
                json!({"subject": "Order", "message": "Hi", "requester_email": "o@example.com",
                        "custom": {"order_number": "many"}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(errors_of(&problem), vec!["custom.order_number"]);
    let ticket = create_ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "Order", "message": "Hi", "requester_email": "o@example.com",
               "custom": {"order_number": 41}}),
    )
    .await;
    assert_eq!(ticket["custom"]["order_number"], 41);
    let id = id_of(&ticket);

    let waiting = Uuid::now_v7();
    sql(
        &tenant,
        "insert into ticket_statuses (tenant_id, id, name, state) values ($1, $2, 'Waiting for parts', 'pending')",
        &[waiting],
    )
    .await;
    let theirs = department(&other, "Theirs").await;
    let (status, problem) = patch(
        &app,
        &tenant,
        &token,
        id,
        json!({"department_id": theirs, "assignee_agent_id": Uuid::now_v7(),
               "assignee_team_id": Uuid::now_v7(), "status_id": Uuid::now_v7(), "priority": "meh"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let mut fields = errors_of(&problem);
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "assignee_agent_id",
            "assignee_team_id",
            "department_id",
            "priority",
            "status_id"
        ]
    );
    let (status, problem) = patch(
        &app,
        &tenant,
        &token,
        id,
        json!({"status_id": waiting, "state": "resolved"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(errors_of(&problem), vec!["status_id"]);

    let (status, changed) = patch(
        &app,
        &tenant,
        &token,
        id,
        json!({"status_id": waiting, "custom": {"order_number": 42}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["state"], "pending", "a status brings its state");
    assert_eq!(changed["status"]["name"], "Waiting for parts");
    assert_eq!(changed["custom"]["order_number"], 42);
    let (status, changed) = patch(&app, &tenant, &token, id, json!({"state": "open"})).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert!(
        changed["status"].is_null(),
        "the pending status does not follow to open"
    );
    let history = events(&thread(&app, &tenant, &token, id).await);
    for expected in [
        ("custom.order_number".to_owned(), json!(41), json!(42)),
        ("state".to_owned(), json!("open"), json!("pending")),
        ("status_id".to_owned(), Value::Null, json!(waiting)),
        ("status_id".to_owned(), json!(waiting), Value::Null),
    ] {
        assert!(history.contains(&expected), "{expected:?} in {history:?}");
    }
}
