//! The rules every new ticket passes (issue 7): ticket filters (each condition through the
//! test tool, the actions on a real ticket, order, stop, disabled rules, reject writing
//! nothing, bad and catastrophic regular expressions), the organization's account manager
//! (agent and team, with the alert) and primary contacts, the mapping of customer data to
//! ticket fields on creation and on a requester change, and another tenant's ids answering
//! 404. Operators and parsing are unit-tested in `domain::ticket_filter`, the regex limits in
//! `web::ticket_rules`.

use domain::BuiltinRole;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantdesk_tests::{TestApp, TestTenant, spawn_app, tenant_sql, unique_mail_domain};
use uuid::Uuid;

const PASSWORD: &str = "lantern quartz meadow ripple";

async fn call(
    app: &TestApp,
    tenant: &TestTenant,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    app.api(tenant, token, method, path, body).await
}

async fn post(app: &TestApp, tenant: &TestTenant, token: &str, path: &str, body: Value) -> Value {
    let (status, body) = call(app, tenant, token, Method::POST, path, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "POST {path}: {body}");
    body
}

async fn patch(app: &TestApp, tenant: &TestTenant, token: &str, path: &str, body: Value) -> Value {
    let (status, body) = call(app, tenant, token, Method::PATCH, path, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "PATCH {path}: {body}");
    body
}

async fn get(app: &TestApp, tenant: &TestTenant, token: &str, path: &str) -> Value {
    let (status, body) = call(app, tenant, token, Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

fn id(body: &Value) -> String {
    body["id"].as_str().expect("id").to_owned()
}

/// The fields a 422 names.
fn named(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {body}"))
        .iter()
        .map(|e| e["field"].as_str().expect("field").to_owned())
        .collect()
}

async fn setup(app: &TestApp, name: &str) -> (TestTenant, String) {
    let tenant = app.create_tenant(name).await;
    let token = app.issue_token(&tenant.tenant, "rules").await;
    (tenant, token)
}

async fn agent(app: &TestApp, tenant: &TestTenant) -> (Uuid, String) {
    let email = format!("{}@{}", Uuid::now_v7().simple(), unique_mail_domain());
    let id = app
        .create_agent(&tenant.tenant, BuiltinRole::Agent, &email, PASSWORD)
        .await
        .id;
    (id, email)
}

async fn user(app: &TestApp, tenant: &TestTenant, email: &str) -> Uuid {
    app.create_end_user(tenant, "Test User", email, None)
        .await
        .id
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

async fn ticket(app: &TestApp, tenant: &TestTenant, token: &str, body: Value) -> Value {
    post(app, tenant, token, "/api/v1/tickets", body).await
}

/// The notes rules left in a ticket's history, in order.
async fn rule_notes(app: &TestApp, tenant: &TestTenant, token: &str, ticket: &str) -> Vec<String> {
    let events = get(
        app,
        tenant,
        token,
        &format!("/api/v1/tickets/{ticket}/events"),
    )
    .await;
    events["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|e| e["event"]["note"].as_str().map(str::to_owned))
        .collect()
}

async fn collaborators(
    app: &TestApp,
    tenant: &TestTenant,
    token: &str,
    ticket: &str,
) -> Vec<String> {
    let list = get(
        app,
        tenant,
        token,
        &format!("/api/v1/tickets/{ticket}/collaborators"),
    )
    .await;
    let mut ids: Vec<String> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(id)
        .collect();
    ids.sort();
    ids
}

async fn count(tenant: &TestTenant, query: &str) -> i64 {
    let mut tx = tenant_sql(tenant).await;
    sqlx::query_scalar(query)
        .fetch_one(&mut *tx)
        .await
        .expect(query)
}

#[tokio::test]
async fn filters_act_in_order_stop_when_told_and_the_history_names_each_rule() {
    let app = spawn_app().await;
    let (tenant, token) = setup(&app, "Filter Works").await;
    let billing = id(&post(
        &app,
        &tenant,
        &token,
        "/api/v1/departments",
        json!({"name": "Billing"}),
    )
    .await);
    let team = id(&post(
        &app,
        &tenant,
        &token,
        "/api/v1/teams",
        json!({"name": "Refund desk"}),
    )
    .await);
    let plan = id(&post(
        &app,
        &tenant,
        &token,
        "/api/v1/sla-plans",
        json!({"name": "Fast", "resolution_hours": 8, "business_hours_only": false}),
    )
    .await);
    let waiting = id(&post(
        &app,
        &tenant,
        &token,
        "/api/v1/statuses",
        json!({"name": "Waiting for refund", "state": "pending"}),
    )
    .await);
    post(
        &app,
        &tenant,
        &token,
        "/api/v1/fields/ticket",
        json!({"key": "order_ref", "label": "Order", "field_type": "text"}),
    )
    .await;
    let (kim, _) = agent(&app, &tenant).await;
    let auditor = user(&app, &tenant, &format!("auditor@{}", unique_mail_domain())).await;

    let refunds = post(
        &app,
        &tenant,
        &token,
        "/api/v1/ticket-filters",
        json!({"name": "Refunds", "position": 10,
               "conditions": [{"field": "subject", "operator": "contains", "value": "REFUND"},
                              {"field": "requester.domain", "operator": "in_list", "value": ["vip.example", "board.example"]}],
               "actions": [{"type": "set_priority", "value": "high"},
                           {"type": "set_department", "value": billing},
                           {"type": "assign_team", "value": team},
                           {"type": "set_sla_plan", "value": plan},
                           {"type": "set_status", "value": waiting},
                           {"type": "add_collaborators", "value": [auditor.to_string()]},
                           {"type": "set_custom_field", "field": "order_ref", "value": "R-1"}]}),
    )
    .await;
    let urgent = post(
        &app,
        &tenant,
        &token,
        "/api/v1/ticket-filters",
        json!({"name": "Calm down", "position": 20,
               "conditions": [{"field": "subject", "operator": "matches", "value": "(?i)^refund"}],
               "actions": [{"type": "set_priority", "value": "low"}, {"type": "stop"}]}),
    )
    .await;
    post(
        &app,
        &tenant,
        &token,
        "/api/v1/ticket-filters",
        json!({"name": "Everything to Kim", "position": 30,
               "conditions": [{"field": "source", "operator": "equals", "value": "api"}],
               "actions": [{"type": "assign_agent", "value": kim}]}),
    )
    .await;

    // All three match; the second stops the third.
    let first = ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "Refund for order 17", "message": "Money back please",
               "requester_email": "ada@vip.example"}),
    )
    .await;
    assert_eq!(first["priority"], "low", "the later rule wins: {first}");
    assert_eq!(first["department"]["id"], billing.as_str());
    assert_eq!(first["assignee_team"]["id"], team.as_str());
    assert_eq!(first["assignee_agent"], Value::Null, "stopped before Kim");
    assert_eq!(first["sla_plan"]["id"], plan.as_str());
    assert!(
        first["resolution_due_at"].is_string(),
        "the filter's plan sets due times"
    );
    assert_eq!(first["status"]["id"], waiting.as_str());
    assert_eq!(first["state"], "pending");
    assert_eq!(first["custom"]["order_ref"], "R-1");
    assert_eq!(
        collaborators(&app, &tenant, &token, &id(&first)).await,
        vec![auditor.to_string()]
    );
    let notes = rule_notes(&app, &tenant, &token, &id(&first)).await;
    assert!(
        notes.contains(&"filter 'Refunds' set priority high".to_owned()),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"filter 'Refunds' set the department to Billing".to_owned()),
        "{notes:?}"
    );
    assert!(
        notes.contains(&"filter 'Calm down' set priority low".to_owned()),
        "{notes:?}"
    );
    assert!(
        !notes.iter().any(|n| n.contains("Everything to Kim")),
        "{notes:?}"
    );

    // Moved first, the stopping rule keeps the others from running at all.
    patch(
        &app,
        &tenant,
        &token,
        &format!("/api/v1/ticket-filters/{}", id(&urgent)),
        json!({"position": 5, "version": urgent["version"]}),
    )
    .await;
    let second = ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "refund again", "message": "x", "requester_email": "ada@vip.example"}),
    )
    .await;
    assert_eq!(second["priority"], "low");
    assert_ne!(
        second["department"]["id"],
        billing.as_str(),
        "Refunds did not run"
    );

    // Disabled, it does not run; a stale version is refused.
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        &format!("/api/v1/ticket-filters/{}", id(&urgent)),
        Some(json!({"enabled": false, "version": urgent["version"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "stale version");
    patch(
        &app,
        &tenant,
        &token,
        &format!("/api/v1/ticket-filters/{}", id(&urgent)),
        json!({"enabled": false}),
    )
    .await;
    let third = ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "Refund", "message": "x", "requester_email": "bo@board.example"}),
    )
    .await;
    assert_eq!(third["priority"], "high");
    assert_eq!(third["assignee_agent"]["id"], kim.to_string().as_str());
    assert_eq!(
        third["assignee_team"],
        Value::Null,
        "an agent replaces the team"
    );

    // A requester outside the list: Refunds does not match (all conditions must).
    let fourth = ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "Refund", "message": "x", "requester_email": "eve@other.example"}),
    )
    .await;
    assert_eq!(fourth["priority"], "normal");

    // Read, list and delete.
    let shown = get(
        &app,
        &tenant,
        &token,
        &format!("/api/v1/ticket-filters/{}", id(&refunds)),
    )
    .await;
    assert_eq!(
        shown["conditions"][1]["value"],
        json!(["vip.example", "board.example"])
    );
    let list = get(&app, &tenant, &token, "/api/v1/ticket-filters").await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(3));
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::DELETE,
        &format!("/api/v1/ticket-filters/{}", id(&refunds)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn the_test_tool_shows_each_condition_and_what_would_happen_changing_nothing() {
    let app = spawn_app().await;
    let (tenant, token) = setup(&app, "Filter Test Tool").await;
    for (entity, key) in [
        ("ticket", "order_ref"),
        ("user", "tier"),
        ("organization", "plan"),
    ] {
        post(
            &app,
            &tenant,
            &token,
            &format!("/api/v1/fields/{entity}"),
            json!({"key": key, "label": key, "field_type": "text"}),
        )
        .await;
    }
    let topic_department = id(&post(
        &app,
        &tenant,
        &token,
        "/api/v1/departments",
        json!({"name": "Orders"}),
    )
    .await);
    let topic = id(&post(
        &app,
        &tenant,
        &token,
        "/api/v1/help-topics",
        json!({"name": "Returns", "department_id": topic_department}),
    )
    .await);
    let domain = unique_mail_domain();
    let requester = user(&app, &tenant, &format!("ada@{domain}")).await;
    let organization = Uuid::now_v7();
    sql(
        &tenant,
        "insert into organizations (tenant_id, id, name, custom) values ($1, $2, 'Acme Gold', '{\"plan\": \"Premium\"}')",
        &[organization],
    )
    .await;
    sql(
        &tenant,
        "insert into organization_members (tenant_id, end_user_id, organization_id, is_primary) values ($1, $2, $3, true)",
        &[requester, organization],
    )
    .await;
    sql(
        &tenant,
        "update end_users set custom = '{\"tier\": \"Gold\"}' where id = $2",
        &[requester],
    )
    .await;
    let existing = ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "Broken parcel", "message": "The box arrived crushed", "requester_id": requester,
               "help_topic_id": topic, "custom": {"order_ref": "A-17"}}),
    )
    .await;

    let filter = post(
        &app,
        &tenant,
        &token,
        "/api/v1/ticket-filters",
        json!({"name": "Everything", "enabled": false, "match_all": false,
               "conditions": [
                 {"field": "subject", "operator": "starts_with", "value": "broken"},
                 {"field": "message", "operator": "matches", "value": "crush(ed)?"},
                 {"field": "help_topic", "operator": "equals", "value": "returns"},
                 {"field": "source", "operator": "equals", "value": "portal"},
                 {"field": "ticket.custom.order_ref", "operator": "equals", "value": "a-17"},
                 {"field": "requester.email", "operator": "contains", "value": domain},
                 {"field": "requester.domain", "operator": "equals", "value": "elsewhere.example"},
                 {"field": "requester.custom.tier", "operator": "in_list", "value": "silver\ngold"},
                 {"field": "requester.validity", "operator": "equals", "value": "valid"},
                 {"field": "organization.name", "operator": "contains", "value": "acme"},
                 {"field": "organization.custom.plan", "operator": "equals", "value": "basic"}],
               "actions": [{"type": "set_priority", "value": "urgent"}, {"type": "reject", "value": "No."}]}),
    )
    .await;
    let (status, result) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        &format!("/api/v1/ticket-filters/{}/test", id(&filter)),
        Some(json!({"ticket_id": id(&existing)})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    let matched: Vec<bool> = result["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .map(|c| c["matched"].as_bool().expect("matched"))
        .collect();
    assert_eq!(
        matched,
        vec![
            true, true, true, false, true, true, false, true, true, true, false
        ]
    );
    assert_eq!(result["matched"], true, "any one condition is enough");
    assert_eq!(
        result["actions"],
        json!([
            "would set priority urgent",
            "would reject the ticket: \"No.\""
        ])
    );
    let after = get(
        &app,
        &tenant,
        &token,
        &format!("/api/v1/tickets/{}", id(&existing)),
    )
    .await;
    assert_eq!(
        after["priority"], existing["priority"],
        "the test changed nothing"
    );
    assert_eq!(after["version"], existing["version"]);

    // A ticket id that is not this workspace's is refused by name.
    let (status, body) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        &format!("/api/v1/ticket-filters/{}/test", id(&filter)),
        Some(json!({"ticket_id": Uuid::now_v7()})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(named(&body), vec!["ticket_id"]);
}

#[tokio::test]
async fn a_rejecting_filter_refuses_the_ticket_and_writes_nothing() {
    let app = spawn_app().await;
    let (tenant, token) = setup(&app, "Filter Reject").await;
    post(
        &app,
        &tenant,
        &token,
        "/api/v1/ticket-filters",
        json!({"name": "Spam",
               "conditions": [{"field": "subject", "operator": "contains", "value": "casino"}],
               "actions": [{"type": "reject", "value": "This looks like spam and was not accepted."}]}),
    )
    .await;
    let stranger = format!("new@{}", unique_mail_domain());
    let (status, body) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        "/api/v1/tickets",
        Some(
            json!({"subject": "Free CASINO chips", "message": "win", "requester_email": stranger}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(named(&body), vec!["ticket"]);
    assert_eq!(
        body["errors"][0]["message"],
        "This looks like spam and was not accepted."
    );
    assert_eq!(count(&tenant, "select count(*) from tickets").await, 0);
    assert_eq!(
        count(&tenant, "select count(*) from end_users").await,
        0,
        "not even the guest requester was kept"
    );

    // The agent panel shows the message on the form, with what was typed.
    let (_, email) = {
        let email = format!("{}@{}", Uuid::now_v7().simple(), unique_mail_domain());
        let agent = app
            .create_agent(&tenant.tenant, BuiltinRole::Admin, &email, PASSWORD)
            .await;
        (agent.id, email)
    };
    let mut visitor = app.visitor(&tenant.host());
    visitor.sign_in_agent(&email, PASSWORD).await;
    visitor.get("/agent/tickets/new").await;
    let page = visitor
        .post_form(
            "/agent/tickets/new",
            &[
                ("subject", "Casino night"),
                ("message", "Join us"),
                ("requester", "guest@example.com"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains("This looks like spam and was not accepted."),
        "{}",
        page.body
    );
    assert!(page.body.contains("Casino night"), "the values are kept");
    assert_eq!(count(&tenant, "select count(*) from tickets").await, 0);
}

#[tokio::test]
async fn bad_rules_are_refused_naming_the_member_and_nothing_is_saved() {
    let app = spawn_app().await;
    let (tenant, token) = setup(&app, "Filter Bad Input").await;
    let (other, other_token) = setup(&app, "Filter Other Tenant").await;
    let foreign_team = id(&post(
        &app,
        &other,
        &other_token,
        "/api/v1/teams",
        json!({"name": "Theirs"}),
    )
    .await);
    let closed = id(&post(
        &app,
        &tenant,
        &token,
        "/api/v1/statuses",
        json!({"name": "Done and dusted", "state": "closed"}),
    )
    .await);
    let (status, body) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        "/api/v1/ticket-filters",
        Some(json!({"name": "Bad",
               "conditions": [
                 {"field": "subject", "operator": "matches", "value": "(unclosed"},
                 {"field": "subject", "operator": "matches", "value": "(a{1000}){1000}"},
                 {"field": "subject", "operator": "matches", "value": "a".repeat(301)},
                 {"field": "shoe_size", "operator": "equals", "value": "42"},
                 {"field": "ticket.custom.nothing", "operator": "equals", "value": "x"}],
               "actions": [{"type": "assign_team", "value": foreign_team},
                           {"type": "set_status", "value": closed},
                           {"type": "set_priority", "value": "extreme"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        named(&body),
        vec![
            "conditions[0].value",
            "conditions[1].value",
            "conditions[2].value",
            "conditions[3].field",
            "actions[2].value"
        ]
    );
    let too_large = &body["errors"][1]["message"];
    assert!(
        too_large.as_str().is_some_and(|m| m.contains("too large")),
        "{too_large}"
    );
    // References are checked once the rule parses.
    let (status, body) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        "/api/v1/ticket-filters",
        Some(json!({"name": "Bad",
               "conditions": [{"field": "ticket.custom.nothing", "operator": "equals", "value": "x"}],
               "actions": [{"type": "assign_team", "value": foreign_team},
                           {"type": "set_status", "value": closed}]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        named(&body),
        vec![
            "conditions[0].field",
            "actions[0].value",
            "actions[1].value"
        ]
    );
    let (status, body) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        "/api/v1/ticket-filters",
        Some(json!({"name": "", "conditions": [], "actions": []})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(named(&body), vec!["name", "actions", "conditions"]);
    assert_eq!(
        count(&tenant, "select count(*) from ticket_filters").await,
        0
    );
}

#[tokio::test]
async fn account_managers_take_new_tickets_and_primary_contacts_are_put_in_copy() {
    let app = spawn_app().await;
    let (tenant, token) = setup(&app, "Account Managers").await;
    let (manager, manager_email) = agent(&app, &tenant).await;
    let team = Uuid::now_v7();
    sql(
        &tenant,
        "insert into teams (tenant_id, id, name) values ($1, $2, 'Key accounts')",
        &[team],
    )
    .await;
    let domain = unique_mail_domain();
    let member = user(&app, &tenant, &format!("member@{domain}")).await;
    let contact = user(&app, &tenant, &format!("contact@{domain}")).await;
    let requester_contact = user(&app, &tenant, &format!("boss@{domain}")).await;
    let (by_agent, by_team) = (Uuid::now_v7(), Uuid::now_v7());
    sql(
        &tenant,
        "insert into organizations (tenant_id, id, name, account_manager_agent_id, assign_to_account_manager,
                alert_account_manager, auto_collaborate_primary_contacts)
         values ($1, $2, 'Managed by agent', $3, true, true, true)",
        &[by_agent, manager],
    )
    .await;
    sql(
        &tenant,
        "insert into organizations (tenant_id, id, name, account_manager_team_id, assign_to_account_manager)
         values ($1, $2, 'Managed by team', $3, true)",
        &[by_team, team],
    )
    .await;
    for (user, primary_contact) in [(member, false), (contact, true), (requester_contact, true)] {
        let statement = format!(
            "insert into organization_members (tenant_id, end_user_id, organization_id, is_primary, primary_contact)
             values ($1, $2, $3, true, {primary_contact})"
        );
        sql(&tenant, &statement, &[user, by_agent]).await;
    }
    let team_member = user(&app, &tenant, &format!("t@{}", unique_mail_domain())).await;
    sql(
        &tenant,
        "insert into organization_members (tenant_id, end_user_id, organization_id, is_primary) values ($1, $2, $3, true)",
        &[team_member, by_team],
    )
    .await;

    let first = ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "Help", "message": "x", "requester_id": member}),
    )
    .await;
    assert_eq!(first["assignee_agent"]["id"], manager.to_string().as_str());
    let mut expected = vec![contact.to_string(), requester_contact.to_string()];
    expected.sort();
    assert_eq!(
        collaborators(&app, &tenant, &token, &id(&first)).await,
        expected
    );
    let notes = rule_notes(&app, &tenant, &token, &id(&first)).await;
    assert!(
        notes.contains(
            &"the account manager of Managed by agent assigned the ticket to Test Agent".to_owned()
        ),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("the primary contacts of Managed by agent added")),
        "{notes:?}"
    );
    // The manager is alerted (the assignment alert, which covers the new-ticket alert).
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let mail = store::outbox::recent(&mut tx, 100).await.expect("outbox");
    tx.commit().await.expect("commit");
    assert!(
        mail.iter().any(|m| m.recipient == manager_email
            && (m.event == "ticket.assigned.alert" || m.event == "ticket.created.alert")),
        "the account manager got no alert"
    );

    // A primary contact opening a ticket is not put in copy of their own ticket.
    let own = ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "Mine", "message": "x", "requester_id": requester_contact}),
    )
    .await;
    assert_eq!(
        collaborators(&app, &tenant, &token, &id(&own)).await,
        vec![contact.to_string()]
    );

    // A team account manager; and a creator who names the assignee keeps it.
    let by_team_ticket = ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "Help", "message": "x", "requester_id": team_member}),
    )
    .await;
    assert_eq!(
        by_team_ticket["assignee_team"]["id"],
        team.to_string().as_str()
    );
    let (other_agent, _) = agent(&app, &tenant).await;
    let named_assignee = ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "Help", "message": "x", "requester_id": member, "assignee_agent_id": other_agent}),
    )
    .await;
    assert_eq!(
        named_assignee["assignee_agent"]["id"],
        other_agent.to_string().as_str()
    );
}

#[tokio::test]
async fn customer_data_fills_ticket_fields_on_creation_and_on_a_requester_change() {
    let app = spawn_app().await;
    let (tenant, token) = setup(&app, "Field Mapping").await;
    post(
        &app,
        &tenant,
        &token,
        "/api/v1/fields/organization",
        json!({"key": "level", "label": "Contract level", "field_type": "text"}),
    )
    .await;
    for key in ["customer_city", "contract"] {
        post(
            &app,
            &tenant,
            &token,
            "/api/v1/fields/ticket",
            json!({"key": key, "label": key, "field_type": "text"}),
        )
        .await;
    }
    let city = post(
        &app,
        &tenant,
        &token,
        "/api/v1/ticket-field-mappings",
        json!({"source_entity": "user", "source_field": "city", "target_key": "customer_city"}),
    )
    .await;
    post(
        &app,
        &tenant,
        &token,
        "/api/v1/ticket-field-mappings",
        json!({"source_entity": "organization", "source_field": "custom.level", "target_key": "contract"}),
    )
    .await;
    // Bad input: named fields, and one mapping per ticket field.
    let (status, body) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        "/api/v1/ticket-field-mappings",
        Some(
            json!({"source_entity": "user", "source_field": "shoe_size", "target_key": "nothing"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(named(&body), vec!["source_field", "target_key"]);
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        "/api/v1/ticket-field-mappings",
        Some(
            json!({"source_entity": "user", "source_field": "zip", "target_key": "customer_city"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let domain = unique_mail_domain();
    let berlin = user(&app, &tenant, &format!("b@{domain}")).await;
    let paris = user(&app, &tenant, &format!("p@{domain}")).await;
    sql(
        &tenant,
        "update end_users set city = 'Berlin' where id = $2",
        &[berlin],
    )
    .await;
    sql(
        &tenant,
        "update end_users set city = 'Paris' where id = $2",
        &[paris],
    )
    .await;
    let organization = Uuid::now_v7();
    sql(
        &tenant,
        "insert into organizations (tenant_id, id, name, custom) values ($1, $2, 'Gold Corp', '{\"level\": \"Gold\"}')",
        &[organization],
    )
    .await;
    sql(
        &tenant,
        "insert into organization_members (tenant_id, end_user_id, organization_id, is_primary) values ($1, $2, $3, true)",
        &[paris, organization],
    )
    .await;

    let created = ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "Hello", "message": "x", "requester_id": berlin}),
    )
    .await;
    assert_eq!(created["custom"], json!({"customer_city": "Berlin"}));
    let notes = rule_notes(&app, &tenant, &token, &id(&created)).await;
    assert_eq!(
        notes,
        vec!["the field mapping user.city → customer_city set customer_city to Berlin"]
    );

    let changed = patch(
        &app,
        &tenant,
        &token,
        &format!("/api/v1/tickets/{}", id(&created)),
        json!({"requester_id": paris}),
    )
    .await;
    assert_eq!(changed["requester"]["id"], paris.to_string().as_str());
    assert_eq!(
        changed["organization"]["id"],
        organization.to_string().as_str()
    );
    assert_eq!(
        changed["custom"],
        json!({"customer_city": "Paris", "contract": "Gold"})
    );
    let events = get(
        &app,
        &tenant,
        &token,
        &format!("/api/v1/tickets/{}/events", id(&created)),
    )
    .await;
    assert!(
        events["data"]
            .as_array()
            .expect("data")
            .iter()
            .any(|e| e["event"]["field"] == "requester_id"
                && e["event"]["to"] == paris.to_string().as_str()),
        "the requester change is in the history"
    );
    let (status, body) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        &format!("/api/v1/tickets/{}", id(&created)),
        Some(json!({"requester_id": Uuid::now_v7()})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(named(&body), vec!["requester_id"]);

    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::DELETE,
        &format!("/api/v1/ticket-field-mappings/{}", id(&city)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let list = get(&app, &tenant, &token, "/api/v1/ticket-field-mappings").await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn another_tenants_rules_are_not_found_anywhere() {
    let app = spawn_app().await;
    let (tenant, token) = setup(&app, "Rules Owner").await;
    let (other, other_token) = setup(&app, "Rules Stranger").await;
    post(
        &app,
        &tenant,
        &token,
        "/api/v1/fields/ticket",
        json!({"key": "region", "label": "Region", "field_type": "text"}),
    )
    .await;
    let filter = post(
        &app,
        &tenant,
        &token,
        "/api/v1/ticket-filters",
        json!({"name": "Mine", "conditions": [{"field": "subject", "operator": "contains", "value": "x"}],
               "actions": [{"type": "set_priority", "value": "high"}]}),
    )
    .await;
    let mapping = post(
        &app,
        &tenant,
        &token,
        "/api/v1/ticket-field-mappings",
        json!({"source_entity": "user", "source_field": "city", "target_key": "region"}),
    )
    .await;
    let own_ticket = ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "x", "message": "x", "requester_email": "a@example.com"}),
    )
    .await;
    let filter_path = format!("/api/v1/ticket-filters/{}", id(&filter));
    for (method, path, body) in [
        (Method::GET, filter_path.clone(), None),
        (
            Method::PATCH,
            filter_path.clone(),
            Some(json!({"enabled": false})),
        ),
        (Method::DELETE, filter_path.clone(), None),
        (
            Method::POST,
            format!("{filter_path}/test"),
            Some(json!({"ticket_id": id(&own_ticket)})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/ticket-field-mappings/{}", id(&mapping)),
            None,
        ),
    ] {
        let (status, answer) = call(&app, &other, &other_token, method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
    }
    let list = get(&app, &other, &other_token, "/api/v1/ticket-filters").await;
    assert_eq!(list["data"], json!([]));
    // The stranger's own rule cannot be tested against the owner's ticket.
    let theirs = post(
        &app,
        &other,
        &other_token,
        "/api/v1/ticket-filters",
        json!({"name": "Theirs", "conditions": [{"field": "subject", "operator": "contains", "value": "x"}],
               "actions": [{"type": "stop"}]}),
    )
    .await;
    let (status, body) = call(
        &app,
        &other,
        &other_token,
        Method::POST,
        &format!("/api/v1/ticket-filters/{}/test", id(&theirs)),
        Some(json!({"ticket_id": id(&own_ticket)})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(named(&body), vec!["ticket_id"]);
    // Nothing of the owner's changed.
    let shown = get(&app, &tenant, &token, &filter_path).await;
    assert_eq!(shown["enabled"], true);
}

async fn admin_visitor<'a>(app: &'a TestApp, tenant: &TestTenant) -> tenantdesk_tests::Visitor<'a> {
    let email = format!("{}@{}", Uuid::now_v7().simple(), unique_mail_domain());
    app.create_agent(&tenant.tenant, BuiltinRole::Admin, &email, PASSWORD)
        .await;
    let mut visitor = app.visitor(&tenant.host());
    visitor.sign_in_agent(&email, PASSWORD).await;
    visitor
}

#[tokio::test]
async fn admins_write_rules_in_plain_forms_and_test_them_against_a_ticket() {
    let app = spawn_app().await;
    let (tenant, token) = setup(&app, "Filter Pages").await;
    let mut admin = admin_visitor(&app, &tenant).await;
    let page = admin.get("/admin/ticket-filters").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("href=\"/admin/ticket-filters/new\""));
    let form = admin.get("/admin/ticket-filters/new").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.body.contains("name=\"condition_field\""),
        "rows without JavaScript"
    );

    // A bad regular expression: the form again, the message beside the row, values kept.
    let refused = admin
        .post_form(
            "/admin/ticket-filters/new",
            &[
                ("name", "Shouting"),
                ("position", ""),
                ("enabled", "on"),
                ("match", "all"),
                ("condition_field", "subject"),
                ("condition_operator", "matches"),
                ("condition_value", "(a{1000}){1000}"),
                ("condition_field", ""),
                ("condition_operator", "equals"),
                ("condition_value", ""),
                ("action_type", "set_priority"),
                ("action_target", "high"),
                ("action_field", ""),
                ("action_text", ""),
            ],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("too large a regular expression"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("value=\"Shouting\""),
        "the name is kept"
    );
    assert!(
        refused.body.contains("(a{1000}){1000}"),
        "the pattern is kept"
    );
    assert_eq!(
        count(&tenant, "select count(*) from ticket_filters").await,
        0
    );

    let created = admin
        .post_form(
            "/admin/ticket-filters/new",
            &[
                ("name", "Shouting"),
                ("enabled", "on"),
                ("match", "all"),
                ("condition_field", "subject"),
                ("condition_operator", "matches"),
                ("condition_value", "^[A-Z !]+$"),
                ("action_type", "set_priority"),
                ("action_target", "high"),
                ("action_field", ""),
                ("action_text", ""),
                ("action_type", "stop"),
                ("action_target", ""),
                ("action_field", ""),
                ("action_text", ""),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let location = created.location.expect("location");
    let rule_path = location.split('?').next().expect("path").to_owned();
    let shown = admin.get(&location).await;
    assert!(shown.body.contains("The rule is added."), "{}", shown.body);

    let loud = ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "HELP ME NOW", "message": "x", "requester_email": "a@example.com"}),
    )
    .await;
    assert_eq!(loud["priority"], "high", "the rule made in the page runs");
    let quiet = ticket(
        &app,
        &tenant,
        &token,
        json!({"subject": "a quiet question", "message": "x", "requester_email": "a@example.com"}),
    )
    .await;

    // The test tool, on both tickets; nothing changes.
    let tested = admin
        .post_form(
            &format!("{rule_path}/test"),
            &[("number", &quiet["number"].to_string())],
        )
        .await;
    assert_eq!(tested.status, StatusCode::OK, "{}", tested.body);
    assert!(
        tested.body.contains("The rule does not match this ticket."),
        "{}",
        tested.body
    );
    let tested = admin
        .post_form(
            &format!("{rule_path}/test"),
            &[("number", &format!("#{}", loud["number"]))],
        )
        .await;
    assert!(
        tested.body.contains("The rule matches this ticket."),
        "{}",
        tested.body
    );
    assert!(
        tested.body.contains("would stop processing further rules"),
        "{}",
        tested.body
    );
    let unknown = admin
        .post_form(&format!("{rule_path}/test"), &[("number", "99999")])
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown
            .body
            .contains("There is no ticket with this number.")
    );

    // Disable, move, delete.
    let toggled = admin.post_form(&format!("{rule_path}/toggle"), &[]).await;
    assert_eq!(toggled.status, StatusCode::SEE_OTHER);
    let list = admin.get("/admin/ticket-filters").await;
    assert!(list.body.contains("Disabled"), "{}", list.body);
    let moved = admin
        .post_form(&format!("{rule_path}/move"), &[("direction", "up")])
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER);
    let deleted = admin.post_form(&format!("{rule_path}/delete"), &[]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(
        count(&tenant, "select count(*) from ticket_filters").await,
        0
    );

    // Field mappings: a refused form keeps the choice; then added and deleted.
    post(
        &app,
        &tenant,
        &token,
        "/api/v1/fields/ticket",
        json!({"key": "customer_city", "label": "Customer city", "field_type": "text"}),
    )
    .await;
    let refused = admin
        .post_form(
            "/admin/field-mappings",
            &[("source", "user:city"), ("target_key", "")],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("value=\"user:city\" selected"),
        "{}",
        refused.body
    );
    let added = admin
        .post_form(
            "/admin/field-mappings",
            &[("source", "user:city"), ("target_key", "customer_city")],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let list = admin.get("/admin/field-mappings").await;
    assert!(list.body.contains("user city"), "{}", list.body);
}

#[tokio::test]
async fn another_tenants_rule_pages_are_not_found() {
    let app = spawn_app().await;
    let (tenant, token) = setup(&app, "Pages Owner").await;
    let (other, _) = setup(&app, "Pages Stranger").await;
    post(
        &app,
        &tenant,
        &token,
        "/api/v1/fields/ticket",
        json!({"key": "region", "label": "Region", "field_type": "text"}),
    )
    .await;
    let filter = post(
        &app,
        &tenant,
        &token,
        "/api/v1/ticket-filters",
        json!({"name": "Mine", "conditions": [{"field": "subject", "operator": "contains", "value": "x"}],
               "actions": [{"type": "set_priority", "value": "high"}]}),
    )
    .await;
    let mapping = post(
        &app,
        &tenant,
        &token,
        "/api/v1/ticket-field-mappings",
        json!({"source_entity": "user", "source_field": "city", "target_key": "region"}),
    )
    .await;
    let base = format!("/admin/ticket-filters/{}", id(&filter));
    let mut stranger = admin_visitor(&app, &other).await;
    assert_eq!(stranger.get(&base).await.status, StatusCode::NOT_FOUND);
    for path in [
        base.clone(),
        format!("{base}/test"),
        format!("{base}/toggle"),
        format!("{base}/move"),
        format!("{base}/delete"),
        format!("/admin/field-mappings/{}/delete", id(&mapping)),
    ] {
        let page = stranger
            .post_form(
                &path,
                &[("name", "Taken"), ("number", "1"), ("direction", "up")],
            )
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "POST {path}");
    }
    let list = stranger.get("/admin/ticket-filters").await;
    assert!(!list.body.contains("Mine"));
    let shown = get(
        &app,
        &tenant,
        &token,
        &format!("/api/v1/ticket-filters/{}", id(&filter)),
    )
    .await;
    assert_eq!(shown["version"], 1, "nothing of the owner's changed");
    assert_eq!(
        count(&tenant, "select count(*) from ticket_field_mappings").await,
        1
    );
}

#[tokio::test]
async fn the_openapi_document_describes_the_rule_endpoints() {
    let app = spawn_app().await;
    let (tenant, token) = setup(&app, "Rules Docs").await;
    let document = get(&app, &tenant, &token, "/api/v1/openapi.json").await;
    for (path, methods) in [
        ("/api/v1/ticket-filters", &["get", "post"][..]),
        (
            "/api/v1/ticket-filters/{id}",
            &["get", "patch", "delete"][..],
        ),
        ("/api/v1/ticket-filters/{id}/test", &["post"][..]),
        ("/api/v1/ticket-field-mappings", &["get", "post"][..]),
        ("/api/v1/ticket-field-mappings/{id}", &["delete"][..]),
    ] {
        for method in methods {
            assert!(
                document["paths"][path][method].is_object(),
                "{method} {path} is documented"
            );
        }
    }
    for schema in [
        "TicketFilterBody",
        "TicketFilterInput",
        "TestResult",
        "FieldMappingBody",
    ] {
        assert!(
            document["components"]["schemas"][schema]["example"].is_object(),
            "{schema} has an example"
        );
    }
}

/// Posts the portal's multipart new-ticket form as a browser does (Origin, CSRF, cookies).
async fn post_portal_ticket(
    app: &TestApp,
    visitor: &mut tenantdesk_tests::Visitor<'_>,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    visitor.get("/tickets/new").await;
    let boundary = format!("----rules{}", Uuid::now_v7().simple());
    let csrf = visitor.csrf();
    let mut body = String::new();
    for (name, value) in std::iter::once(("csrf", csrf.as_str())).chain(fields.iter().copied()) {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let cookies = visitor
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let response = app
        .http
        .post(app.url("/tickets/new"))
        .header("Host", &visitor.host)
        .header("Origin", format!("http://{}", visitor.host))
        .header("Cookie", cookies)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("POST multipart");
    let status = response.status();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn the_portal_shows_a_rejection_as_a_page_of_its_own() {
    let app = spawn_app().await;
    let (tenant, token) = setup(&app, "Portal Reject").await;
    app.set_registration_mode(&tenant, false, domain::RegistrationMethod::Public)
        .await;
    post(
        &app,
        &tenant,
        &token,
        "/api/v1/ticket-filters",
        json!({"name": "Spam",
               "conditions": [{"field": "source", "operator": "equals", "value": "portal"},
                              {"field": "message", "operator": "contains", "value": "casino"}],
               "actions": [{"type": "reject", "value": "We do not accept advertising here."}]}),
    )
    .await;
    let mut guest = app.visitor(&tenant.host());
    let email = format!("guest@{}", unique_mail_domain());
    let (status, page) = post_portal_ticket(
        &app,
        &mut guest,
        &[
            ("name", "Gail Guest"),
            ("email", &email),
            ("subject", "Great offer"),
            ("message", "Visit our casino"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(
        page.contains("We do not accept advertising here."),
        "{page}"
    );
    assert_eq!(count(&tenant, "select count(*) from tickets").await, 0);
    assert_eq!(count(&tenant, "select count(*) from end_users").await, 0);
}
