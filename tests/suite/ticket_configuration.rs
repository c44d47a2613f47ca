//! Ticket configuration through the API and the admin pages: departments and their agents,
//! teams, the business hours calendar and SLA plans (due times), help topics (nesting, grants,
//! who may use which), statuses, ticket settings (numbers only rise), the default department
//! of a new tenant on both creation paths, permissions, and another tenant's ids answering
//! 404 everywhere. The business-hours arithmetic itself is unit-tested in
//! `domain::business_hours`.

use domain::{BuiltinRole, Permission};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantdesk_tests::{TestApp, TestTenant, spawn_app, tenant_sql};
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

/// The fields a 422 names.
fn named(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {body}"))
        .iter()
        .map(|e| e["field"].as_str().expect("field").to_owned())
        .collect()
}

fn id(body: &Value) -> String {
    body["id"].as_str().expect("id").to_owned()
}

async fn setup(app: &TestApp, name: &str) -> (TestTenant, String) {
    let tenant = app.create_tenant(name).await;
    let token = app.issue_token(&tenant.tenant, "config").await;
    (tenant, token)
}

async fn agent(app: &TestApp, tenant: &TestTenant, role: BuiltinRole) -> Uuid {
    let email = format!("agent-{}@example.com", Uuid::now_v7().simple());
    app.create_agent(&tenant.tenant, role, &email, PASSWORD)
        .await
        .id
}

/// A token of `tenant` holding exactly `permissions`.
async fn scoped_token(
    app: &TestApp,
    tenant: &TestTenant,
    admin: &str,
    permissions: &[Permission],
) -> String {
    let keys: Vec<&str> = permissions.iter().map(|p| p.key()).collect();
    let issued = post(
        app,
        tenant,
        admin,
        "/api/v1/api-tokens",
        json!({"name": format!("scoped {}", Uuid::now_v7()), "permissions": keys}),
    )
    .await;
    issued["secret"].as_str().expect("secret").to_owned()
}

/// Due times as text (the tests crate has no chrono).
fn rfc<T: ToString>(due: (Option<T>, Option<T>)) -> (Option<String>, Option<String>) {
    (due.0.map(|t| t.to_string()), due.1.map(|t| t.to_string()))
}

/// A ticket row written directly (the tickets engineer's API is not this test's subject).
async fn insert_ticket(app: &TestApp, tenant: &TestTenant, department: &str, status: Option<&str>) {
    let email = format!("req-{}@example.com", Uuid::now_v7().simple());
    let user = app
        .create_end_user(tenant, "Requester", &email, None)
        .await
        .id;
    let mut tx = tenant_sql(tenant).await;
    let tenant_id = tenant.tenant.id.as_uuid();
    let number: i64 = sqlx::query_scalar("select coalesce(max(number), 0) + 1 from tickets")
        .fetch_one(&mut *tx)
        .await
        .expect("number");
    sqlx::query(
        "insert into tickets (tenant_id, id, number, subject, requester_id, department_id, source, status_id)
         values ($1, $2, $3, 'Printer on fire', $4, $5::uuid, 'agent', $6::uuid)",
    )
    .bind(tenant_id)
    .bind(Uuid::now_v7())
    .bind(number)
    .bind(user)
    .bind(department)
    .bind(status)
    .execute(&mut *tx)
    .await
    .expect("ticket");
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn every_new_tenant_has_a_default_support_department() {
    let app = spawn_app().await;
    // Through the owner's create_tenant (the CLI and the test harness).
    let (tenant, token) = setup(&app, "Default Dept").await;
    let (status, list) = call(
        &app,
        &tenant,
        &token,
        Method::GET,
        "/api/v1/departments",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let data = list["data"].as_array().expect("data");
    assert_eq!(data.len(), 1, "{list}");
    assert_eq!(data[0]["name"], "Support");
    assert_eq!(data[0]["is_default"], true);
    let (_, settings) = call(
        &app,
        &tenant,
        &token,
        Method::GET,
        "/api/v1/ticket-settings",
        None,
    )
    .await;
    assert_eq!(settings["default_department_id"], data[0]["id"]);
    assert_eq!(settings["next_ticket_number"], 1);
    // The default department cannot be deleted.
    let path = format!("/api/v1/departments/{}", id(&data[0]));
    let (status, problem) = call(&app, &tenant, &token, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .expect("as set up")
            .contains("default")
    );

    // Through the platform console's SQL function.
    let operator = app
        .create_operator(
            &format!("op-{}@example.com", Uuid::now_v7().simple()),
            PASSWORD,
        )
        .await;
    let slug = tenantdesk_tests::random_slug();
    let created = app
        .state
        .store
        .create_tenant(
            &slug,
            &domain::TenantName::parse("Console Made").expect("as set up"),
            operator.id,
        )
        .await
        .expect("console create");
    let console = TestTenant {
        tenant: created,
        primary_colour: tenantdesk_tests::random_colour(),
    };
    let console_token = app.issue_token(&console.tenant, "console").await;
    let (_, list) = call(
        &app,
        &console,
        &console_token,
        Method::GET,
        "/api/v1/departments",
        None,
    )
    .await;
    assert_eq!(
        list["data"].as_array().expect("as set up").len(),
        1,
        "{list}"
    );
    assert_eq!(list["data"][0]["name"], "Support");
    assert_eq!(list["data"][0]["is_default"], true);
    let mut tx = app
        .state
        .store
        .begin_tenant(console.tenant.id)
        .await
        .expect("as set up");
    let default = store::departments::default_department(&mut tx)
        .await
        .expect("as set up");
    tx.commit().await.expect("as set up");
    assert_eq!(default.id.to_string(), id(&list["data"][0]));
}

#[tokio::test]
async fn departments_are_created_changed_and_deleted_with_conflicts_and_field_errors() {
    let app = spawn_app().await;
    let (tenant, token) = setup(&app, "Departments").await;
    let manager = agent(&app, &tenant, BuiltinRole::Agent).await;
    let group = post(
        &app,
        &tenant,
        &token,
        "/api/v1/groups",
        json!({"name": "VIP"}),
    )
    .await;
    let billing = post(
        &app,
        &tenant,
        &token,
        "/api/v1/departments",
        json!({"name": "Billing", "description": "Invoices", "email_alias": "Billing@Acme.example",
               "default_priority": "high", "manager_agent_id": manager, "customer_group_id": group["id"]}),
    )
    .await;
    assert_eq!(billing["default_priority"], "high");
    assert_eq!(billing["manager_agent_id"], json!(manager));
    assert_eq!(billing["is_default"], false);
    assert_eq!(billing["version"], 1);

    // Names and aliases are unique ignoring case: 409 naming the field.
    for (body, field) in [
        (json!({"name": "BILLING"}), "name"),
        (
            json!({"name": "Other", "email_alias": "billing@acme.example"}),
            "email_alias",
        ),
    ] {
        let (status, problem) = call(
            &app,
            &tenant,
            &token,
            Method::POST,
            "/api/v1/departments",
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        assert!(
            problem["detail"]
                .as_str()
                .expect("as set up")
                .contains(field),
            "{problem}"
        );
    }
    // Bad fields: 422 naming each.
    for (body, field) in [
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (
            json!({"name": "X", "default_priority": "asap"}),
            "default_priority",
        ),
        (
            json!({"name": "X", "email_alias": "not an address"}),
            "email_alias",
        ),
        (
            json!({"name": "X", "manager_agent_id": Uuid::now_v7()}),
            "manager_agent_id",
        ),
        (
            json!({"name": "X", "customer_group_id": Uuid::now_v7()}),
            "customer_group_id",
        ),
        (json!({"name": "X", "colour": "red"}), "colour"),
    ] {
        let (status, problem) = call(
            &app,
            &tenant,
            &token,
            Method::POST,
            "/api/v1/departments",
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(named(&problem), vec![field.to_owned()]);
    }

    let path = format!("/api/v1/departments/{}", id(&billing));
    let (status, changed) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        &path,
        Some(json!({"version": 1, "email_alias": null, "default_priority": "urgent"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["email_alias"], Value::Null);
    assert_eq!(changed["version"], 2);
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        &path,
        Some(json!({"version": 1, "name": "Stale"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Member agents.
    let member_path = format!("{path}/agents/{manager}");
    let (status, with_agent) = call(&app, &tenant, &token, Method::PUT, &member_path, None).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(with_agent["agent_ids"], json!([manager]));
    let (status, _) = call(&app, &tenant, &token, Method::PUT, &member_path, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::PUT,
        &format!("{path}/agents/{}", Uuid::now_v7()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("as set up");
    let mine = store::departments::departments_of_agent(&mut tx, manager)
        .await
        .expect("as set up");
    tx.commit().await.expect("as set up");
    assert_eq!(
        mine,
        vec![Uuid::parse_str(&id(&billing)).expect("as set up")]
    );
    let (status, _) = call(&app, &tenant, &token, Method::DELETE, &member_path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, &tenant, &token, Method::DELETE, &member_path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // In use by a help topic, then by a ticket: 409; free again: deleted.
    let topic = post(
        &app,
        &tenant,
        &token,
        "/api/v1/help-topics",
        json!({"name": "Invoices", "department_id": billing["id"]}),
    )
    .await;
    let (status, problem) = call(&app, &tenant, &token, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let topic_path = format!("/api/v1/help-topics/{}", id(&topic));
    let (status, _) = call(&app, &tenant, &token, Method::DELETE, &topic_path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    insert_ticket(&app, &tenant, &id(&billing), None).await;
    let (status, _) = call(&app, &tenant, &token, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let spare = post(
        &app,
        &tenant,
        &token,
        "/api/v1/departments",
        json!({"name": "Spare"}),
    )
    .await;
    let spare_path = format!("/api/v1/departments/{}", id(&spare));
    let (status, _) = call(&app, &tenant, &token, Method::DELETE, &spare_path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, &tenant, &token, Method::GET, &spare_path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn teams_have_members_and_can_manage_organizations() {
    let app = spawn_app().await;
    let (tenant, token) = setup(&app, "Teams").await;
    let lead = agent(&app, &tenant, BuiltinRole::Agent).await;
    let team = post(
        &app,
        &tenant,
        &token,
        "/api/v1/teams",
        json!({"name": "Second level", "lead_agent_id": lead}),
    )
    .await;
    assert_eq!(team["lead_agent_id"], json!(lead));
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        "/api/v1/teams",
        Some(json!({"name": "second LEVEL"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, problem) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        "/api/v1/teams",
        Some(json!({"name": "Third", "lead_agent_id": Uuid::now_v7()})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(named(&problem), vec!["lead_agent_id"]);

    let path = format!("/api/v1/teams/{}", id(&team));
    let (status, with_member) = call(
        &app,
        &tenant,
        &token,
        Method::PUT,
        &format!("{path}/members/{lead}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(with_member["member_ids"], json!([lead]));
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("as set up");
    let teams = store::teams::teams_of_agent(&mut tx, lead)
        .await
        .expect("as set up");
    tx.commit().await.expect("as set up");
    assert_eq!(teams, vec![Uuid::parse_str(&id(&team)).expect("as set up")]);

    // The organization account manager may now be a team of this tenant, and only that.
    let organization = post(
        &app,
        &tenant,
        &token,
        "/api/v1/organizations",
        json!({"name": "Acme", "account_manager_team_id": team["id"]}),
    )
    .await;
    assert_eq!(organization["account_manager_team_id"], team["id"]);
    let (status, problem) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        &format!("/api/v1/organizations/{}", id(&organization)),
        Some(json!({"account_manager_team_id": Uuid::now_v7()})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(named(&problem), vec!["account_manager_team_id"]);
    // A team that manages an organization stays.
    let (status, _) = call(&app, &tenant, &token, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, cleared) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        &format!("/api/v1/organizations/{}", id(&organization)),
        Some(json!({"account_manager_team_id": null})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cleared["account_manager_team_id"], Value::Null);

    let (status, renamed) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        &path,
        Some(json!({"name": "Escalations", "lead_agent_id": null})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(renamed["name"], "Escalations");
    assert_eq!(renamed["lead_agent_id"], Value::Null);
    let (status, _) = call(&app, &tenant, &token, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn business_hours_and_sla_plans_give_due_times() {
    let app = spawn_app().await;
    let (tenant, token) = setup(&app, "SLA").await;
    // No calendar yet: 24/7 in UTC.
    let (status, calendar) = call(
        &app,
        &tenant,
        &token,
        Method::GET,
        "/api/v1/business-hours",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        calendar,
        json!({"timezone": "UTC", "hours": [], "holidays": [], "version": 0})
    );

    let body = json!({
        "timezone": "Europe/Berlin",
        "hours": (1..=5).map(|d| json!({"weekday": d, "opens": "09:00", "closes": "17:00"})).collect::<Vec<_>>(),
        "holidays": [{"day": "2026-12-24", "name": "Christmas Eve"}, {"day": "2026-12-25", "name": "Christmas Day"}]
    });
    let (status, saved) = call(
        &app,
        &tenant,
        &token,
        Method::PUT,
        "/api/v1/business-hours",
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["timezone"], "Europe/Berlin");
    assert_eq!(saved["hours"].as_array().expect("as set up").len(), 5);
    assert_eq!(
        saved["hours"][0],
        json!({"weekday": 1, "opens": "09:00", "closes": "17:00"})
    );
    assert_eq!(
        saved["holidays"][1],
        json!({"day": "2026-12-25", "name": "Christmas Day"})
    );
    assert_eq!(saved["version"], 1);
    // A stale version is refused; a bad calendar names the field with its index.
    let mut stale = body.clone();
    stale["version"] = json!(0);
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::PUT,
        "/api/v1/business-hours",
        Some(stale),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, problem) = call(
        &app,
        &tenant,
        &token,
        Method::PUT,
        "/api/v1/business-hours",
        Some(json!({"timezone": "Mars/Olympus", "hours": [
            {"weekday": 8, "opens": "09:00", "closes": "17:00"},
            {"weekday": 1, "opens": "17:00", "closes": "09:00"},
            {"weekday": 2, "opens": "9am", "closes": "24:00"}],
            "holidays": [{"day": "Christmas"}]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields = named(&problem);
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "holidays[0].day",
            "hours[0].weekday",
            "hours[1].closes",
            "hours[2].opens",
            "timezone"
        ]
    );

    let plan = post(
        &app,
        &tenant,
        &token,
        "/api/v1/sla-plans",
        json!({"name": "Gold", "first_response_hours": 2, "resolution_hours": 16}),
    )
    .await;
    assert_eq!(plan["business_hours_only"], true);
    assert_eq!(plan["pause_while_pending"], true);
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        "/api/v1/sla-plans",
        Some(json!({"name": "gold"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    for (body, field) in [
        (
            json!({"name": "X", "first_response_hours": 0}),
            "first_response_hours",
        ),
        (
            json!({"name": "X", "resolution_hours": "8"}),
            "resolution_hours",
        ),
        (
            json!({"name": "X", "business_hours_only": "yes"}),
            "business_hours_only",
        ),
    ] {
        let (status, problem) = call(
            &app,
            &tenant,
            &token,
            Method::POST,
            "/api/v1/sla-plans",
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(named(&problem), vec![field]);
    }

    // Due times, as the tickets engineer computes them: Wednesday 23 December 16:00 Berlin.
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("as set up");
    let calendar = store::sla_plans::calendar(&mut tx)
        .await
        .expect("as set up");
    let stored = store::sla_plans::by_id(&mut tx, Uuid::parse_str(&id(&plan)).expect("as set up"))
        .await
        .expect("as set up")
        .expect("as set up");
    tx.commit().await.expect("as set up");
    // The tests crate has no chrono; PostgreSQL hands out the instant.
    let mut sql = tenant_sql(&tenant).await;
    let from = sqlx::query_scalar("select '2026-12-23T15:00:00Z'::timestamptz")
        .fetch_one(&mut *sql)
        .await
        .expect("as set up");
    sql.commit().await.expect("as set up");
    let (first, resolution) = rfc(store::sla_plans::due_times(&stored, &calendar, from));
    // One hour on Wednesday, none on the holidays or the weekend, then from Monday 28th at
    // 09:00 (08:00 UTC): first response at 10:00; resolution after Monday's eight hours and
    // seven on Tuesday, at 16:00 (15:00 UTC).
    assert_eq!(first.as_deref(), Some("2026-12-28 09:00:00 UTC"));
    assert_eq!(resolution.as_deref(), Some("2026-12-29 15:00:00 UTC"));

    let path = format!("/api/v1/sla-plans/{}", id(&plan));
    let (status, around) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        &path,
        Some(json!({"business_hours_only": false, "first_response_hours": null})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(around["first_response_hours"], Value::Null);
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("as set up");
    let stored = store::sla_plans::by_id(&mut tx, Uuid::parse_str(&id(&plan)).expect("as set up"))
        .await
        .expect("as set up")
        .expect("as set up");
    tx.commit().await.expect("as set up");
    let (first, resolution) = rfc(store::sla_plans::due_times(&stored, &calendar, from));
    assert_eq!(first, None);
    assert_eq!(resolution.as_deref(), Some("2026-12-24 07:00:00 UTC"));

    // In use by a topic: 409; then deleted.
    let (_, departments) = call(
        &app,
        &tenant,
        &token,
        Method::GET,
        "/api/v1/departments",
        None,
    )
    .await;
    let topic = post(
        &app,
        &tenant,
        &token,
        "/api/v1/help-topics",
        json!({"name": "Outage", "department_id": departments["data"][0]["id"], "sla_plan_id": plan["id"]}),
    )
    .await;
    let (status, _) = call(&app, &tenant, &token, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    call(
        &app,
        &tenant,
        &token,
        Method::DELETE,
        &format!("/api/v1/help-topics/{}", id(&topic)),
        None,
    )
    .await;
    let (status, _) = call(&app, &tenant, &token, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn help_topics_nest_without_cycles_and_are_offered_to_whom_they_are_granted() {
    let app = spawn_app().await;
    let (tenant, token) = setup(&app, "Topics").await;
    let (_, departments) = call(
        &app,
        &tenant,
        &token,
        Method::GET,
        "/api/v1/departments",
        None,
    )
    .await;
    let support = departments["data"][0]["id"].clone();
    let helper = agent(&app, &tenant, BuiltinRole::Agent).await;
    let team = post(
        &app,
        &tenant,
        &token,
        "/api/v1/teams",
        json!({"name": "Desk"}),
    )
    .await;
    let field = post(
        &app,
        &tenant,
        &token,
        "/api/v1/fields/ticket",
        json!({"key": "serial", "label": "Serial number", "field_type": "text"}),
    )
    .await;
    let user_field = post(
        &app,
        &tenant,
        &token,
        "/api/v1/fields/user",
        json!({"key": "shoe", "label": "Shoe size", "field_type": "text"}),
    )
    .await;

    let general = post(
        &app,
        &tenant,
        &token,
        "/api/v1/help-topics",
        json!({"name": "General", "department_id": support, "position": 1}),
    )
    .await;
    assert_eq!(general["for_everyone"], true);
    assert_eq!(general["public"], true);
    let hardware = post(
        &app,
        &tenant,
        &token,
        "/api/v1/help-topics",
        json!({"name": "Hardware", "department_id": support, "parent_id": general["id"],
               "auto_assign_team_id": team["id"], "field_ids": [field["id"]], "default_priority": "high",
               "for_everyone": false}),
    )
    .await;
    assert_eq!(hardware["field_ids"], json!([field["id"]]));
    let printers = post(
        &app,
        &tenant,
        &token,
        "/api/v1/help-topics",
        json!({"name": "Printers", "department_id": support, "parent_id": hardware["id"], "for_everyone": false}),
    )
    .await;
    let internal = post(
        &app,
        &tenant,
        &token,
        "/api/v1/help-topics",
        json!({"name": "Internal", "department_id": support, "public": false}),
    )
    .await;

    // Cycles: the topic itself, or a descendant, as parent.
    for parent in [&general, &printers] {
        let (status, problem) = call(
            &app,
            &tenant,
            &token,
            Method::PATCH,
            &format!("/api/v1/help-topics/{}", id(&general)),
            Some(json!({"parent_id": parent["id"]})),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(named(&problem), vec!["parent_id"]);
    }
    // Bad references and both assignees.
    for (body, field_name) in [
        (
            json!({"name": "X", "department_id": Uuid::now_v7()}),
            "department_id",
        ),
        (
            json!({"name": "X", "department_id": support, "sla_plan_id": Uuid::now_v7()}),
            "sla_plan_id",
        ),
        (
            json!({"name": "X", "department_id": support, "parent_id": Uuid::now_v7()}),
            "parent_id",
        ),
        (
            json!({"name": "X", "department_id": support, "field_ids": [user_field["id"]]}),
            "field_ids",
        ),
        (
            json!({"name": "X", "department_id": support, "auto_assign_agent_id": helper, "auto_assign_team_id": team["id"]}),
            "auto_assign_team_id",
        ),
        (json!({"name": "X"}), "department_id"),
    ] {
        let (status, problem) = call(
            &app,
            &tenant,
            &token,
            Method::POST,
            "/api/v1/help-topics",
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(named(&problem), vec![field_name]);
    }
    let (status, problem) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        &format!("/api/v1/help-topics/{}", id(&hardware)),
        Some(json!({"auto_assign_agent_id": helper})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(named(&problem), vec!["auto_assign_agent_id"]);
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        "/api/v1/help-topics",
        Some(json!({"name": "GENERAL", "department_id": support})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // A parent with sub-topics stays.
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::DELETE,
        &format!("/api/v1/help-topics/{}", id(&hardware)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Who may use what.
    let direct = app
        .create_end_user(
            &tenant,
            "Direct",
            &format!("d-{}@example.com", Uuid::now_v7().simple()),
            None,
        )
        .await;
    let member = app
        .create_end_user(
            &tenant,
            "Member",
            &format!("m-{}@example.com", Uuid::now_v7().simple()),
            None,
        )
        .await;
    let grouped = app
        .create_end_user(
            &tenant,
            "Grouped",
            &format!("g-{}@example.com", Uuid::now_v7().simple()),
            None,
        )
        .await;
    let nobody = app
        .create_end_user(
            &tenant,
            "Nobody",
            &format!("n-{}@example.com", Uuid::now_v7().simple()),
            None,
        )
        .await;
    let organization = post(
        &app,
        &tenant,
        &token,
        "/api/v1/organizations",
        json!({"name": "Acme"}),
    )
    .await;
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::PUT,
        &format!(
            "/api/v1/organizations/{}/members/{}",
            id(&organization),
            member.id
        ),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let group = post(
        &app,
        &tenant,
        &token,
        "/api/v1/groups",
        json!({"name": "Printer owners"}),
    )
    .await;
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::PUT,
        &format!("/api/v1/users/{}/groups/{}", grouped.id, id(&group)),
        Some(json!({"permission": "ro"})),
    )
    .await;
    assert!(status.is_success());
    let grants = format!("/api/v1/help-topics/{}/grants", id(&hardware));
    let (status, granted) = call(
        &app,
        &tenant,
        &token,
        Method::PUT,
        &grants,
        Some(json!({"end_user_id": direct.id})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{granted}");
    assert_eq!(
        granted["grants"],
        json!([{"kind": "end_user", "id": direct.id}])
    );
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::PUT,
        &grants,
        Some(json!({"end_user_id": direct.id})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::PUT,
        &grants,
        Some(json!({"organization_id": organization["id"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let printers_grants = format!("/api/v1/help-topics/{}/grants", id(&printers));
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::PUT,
        &printers_grants,
        Some(json!({"customer_group_id": group["id"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    for body in [
        json!({}),
        json!({"end_user_id": direct.id, "organization_id": organization["id"]}),
    ] {
        let (status, problem) = call(&app, &tenant, &token, Method::PUT, &grants, Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    }
    let (status, problem) = call(
        &app,
        &tenant,
        &token,
        Method::PUT,
        &grants,
        Some(json!({"end_user_id": Uuid::now_v7()})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(named(&problem), vec!["end_user_id"]);

    let names = |topics: Vec<store::help_topics::HelpTopic>| {
        topics.into_iter().map(|t| t.name).collect::<Vec<_>>()
    };
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("as set up");
    let anonymous = names(
        store::help_topics::topics_for_user(&mut tx, None)
            .await
            .expect("as set up"),
    );
    let for_direct = names(
        store::help_topics::topics_for_user(&mut tx, Some(direct.id))
            .await
            .expect("as set up"),
    );
    let for_member = names(
        store::help_topics::topics_for_user(&mut tx, Some(member.id))
            .await
            .expect("as set up"),
    );
    let for_grouped = names(
        store::help_topics::topics_for_user(&mut tx, Some(grouped.id))
            .await
            .expect("as set up"),
    );
    let for_nobody = names(
        store::help_topics::topics_for_user(&mut tx, Some(nobody.id))
            .await
            .expect("as set up"),
    );
    tx.commit().await.expect("as set up");
    assert_eq!(anonymous, vec!["General"]);
    assert_eq!(for_nobody, vec!["General"]);
    assert_eq!(for_direct, vec!["Hardware", "General"]);
    assert_eq!(for_member, vec!["Hardware", "General"]);
    assert_eq!(for_grouped, vec!["Printers", "General"]);
    assert!(
        !for_direct.contains(&"Internal".to_owned()),
        "{}",
        id(&internal)
    );
    // The same through the API.
    let (status, available) = call(
        &app,
        &tenant,
        &token,
        Method::GET,
        &format!("/api/v1/help-topics?available_to={}", member.id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let listed: Vec<&str> = available["data"]
        .as_array()
        .expect("as set up")
        .iter()
        .map(|t| t["name"].as_str().expect("as set up"))
        .collect();
    assert_eq!(listed, vec!["Hardware", "General"]);

    // Revoking the organization's grant takes the topic away from its member.
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::DELETE,
        &grants,
        Some(json!({"organization_id": organization["id"]})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("as set up");
    let for_member = names(
        store::help_topics::topics_for_user(&mut tx, Some(member.id))
            .await
            .expect("as set up"),
    );
    tx.commit().await.expect("as set up");
    assert_eq!(for_member, vec!["General"]);
}

#[tokio::test]
async fn statuses_live_within_the_four_states() {
    let app = spawn_app().await;
    let (tenant, token) = setup(&app, "Statuses").await;
    let (status, list) = call(&app, &tenant, &token, Method::GET, "/api/v1/statuses", None).await;
    assert_eq!(status, StatusCode::OK);
    let states: Vec<&str> = list["data"]
        .as_array()
        .expect("as set up")
        .iter()
        .map(|s| s["state"].as_str().expect("as set up"))
        .collect();
    assert_eq!(states, vec!["open", "pending", "resolved", "closed"]);
    assert!(
        list["data"]
            .as_array()
            .expect("as set up")
            .iter()
            .all(|s| s["builtin"] == true && s["id"].is_null())
    );

    let waiting = post(
        &app,
        &tenant,
        &token,
        "/api/v1/statuses",
        json!({"name": "Waiting for parts", "state": "pending", "position": 5}),
    )
    .await;
    assert_eq!(waiting["state"], "pending");
    let (_, list) = call(&app, &tenant, &token, Method::GET, "/api/v1/statuses", None).await;
    assert_eq!(list["data"].as_array().expect("as set up").len(), 5);
    assert_eq!(list["data"][4]["name"], "Waiting for parts");
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        "/api/v1/statuses",
        Some(json!({"name": "waiting FOR parts", "state": "open"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    for (body, field) in [
        (json!({"name": "X", "state": "sleeping"}), "state"),
        (json!({"name": "X"}), "state"),
        (json!({"name": "", "state": "open"}), "name"),
        (
            json!({"name": "X", "state": "open", "position": -1}),
            "position",
        ),
    ] {
        let (status, problem) = call(
            &app,
            &tenant,
            &token,
            Method::POST,
            "/api/v1/statuses",
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(named(&problem), vec![field]);
    }
    let path = format!("/api/v1/statuses/{}", id(&waiting));
    let (status, renamed) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        &path,
        Some(json!({"name": "Waiting for supplier", "version": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(renamed["version"], 2);

    // While a ticket has it: no state change, no delete.
    let (_, departments) = call(
        &app,
        &tenant,
        &token,
        Method::GET,
        "/api/v1/departments",
        None,
    )
    .await;
    insert_ticket(
        &app,
        &tenant,
        &id(&departments["data"][0]),
        Some(&id(&waiting)),
    )
    .await;
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        &path,
        Some(json!({"state": "open"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = call(&app, &tenant, &token, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let free = post(
        &app,
        &tenant,
        &token,
        "/api/v1/statuses",
        json!({"name": "Parked", "state": "open"}),
    )
    .await;
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::DELETE,
        &format!("/api/v1/statuses/{}", id(&free)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn ticket_numbers_can_only_be_raised() {
    let app = spawn_app().await;
    let (tenant, token) = setup(&app, "Numbers").await;
    let (status, saved) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        "/api/v1/ticket-settings",
        Some(json!({"next_ticket_number": 5000, "attachment_max_bytes": 2048,
                    "attachment_allowed_types": ["image/*", "Application/PDF"], "reply_to_closed_allowed": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["next_ticket_number"], 5000);
    assert_eq!(saved["attachment_max_bytes"], 2048);
    assert_eq!(
        saved["attachment_allowed_types"],
        json!(["application/pdf", "image/*"])
    );
    assert_eq!(saved["reply_to_closed_allowed"], false);
    let mut tx = tenant_sql(&tenant).await;
    let next: i64 = sqlx::query_scalar("select next_number from ticket_counters")
        .fetch_one(&mut *tx)
        .await
        .expect("as set up");
    tx.commit().await.expect("as set up");
    assert_eq!(next, 5000);

    let (status, problem) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        "/api/v1/ticket-settings",
        Some(json!({"next_ticket_number": 4999})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(named(&problem), vec!["next_ticket_number"]);
    for (body, field) in [
        (json!({"next_ticket_number": 0}), "next_ticket_number"),
        (json!({"attachment_max_bytes": 10}), "attachment_max_bytes"),
        (
            json!({"attachment_allowed_types": ["exe"]}),
            "attachment_allowed_types",
        ),
        (
            json!({"default_department_id": Uuid::now_v7()}),
            "default_department_id",
        ),
    ] {
        let (status, problem) = call(
            &app,
            &tenant,
            &token,
            Method::PATCH,
            "/api/v1/ticket-settings",
            Some(body),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(named(&problem), vec![field]);
    }
    // A new default department; the old one may then go.
    let (_, departments) = call(
        &app,
        &tenant,
        &token,
        Method::GET,
        "/api/v1/departments",
        None,
    )
    .await;
    let old = id(&departments["data"][0]);
    let sales = post(
        &app,
        &tenant,
        &token,
        "/api/v1/departments",
        json!({"name": "Sales"}),
    )
    .await;
    let (status, saved) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        "/api/v1/ticket-settings",
        Some(json!({"default_department_id": sales["id"], "next_ticket_number": 5000})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(saved["default_department_id"], sales["id"]);
    let (status, _) = call(
        &app,
        &tenant,
        &token,
        Method::DELETE,
        &format!("/api/v1/departments/{old}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn reads_need_users_read_and_writes_need_helpdesk_configure() {
    let app = spawn_app().await;
    let (tenant, admin) = setup(&app, "Scopes").await;
    let reader = scoped_token(&app, &tenant, &admin, &[Permission::UsersRead]).await;
    let nothing = scoped_token(&app, &tenant, &admin, &[Permission::WorkspaceSettings]).await;
    for path in [
        "/api/v1/departments",
        "/api/v1/teams",
        "/api/v1/sla-plans",
        "/api/v1/business-hours",
        "/api/v1/help-topics",
        "/api/v1/statuses",
        "/api/v1/ticket-settings",
    ] {
        let (status, _) = call(&app, &tenant, &reader, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let (status, _) = call(&app, &tenant, &nothing, Method::GET, path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    for (method, path, body) in [
        (Method::POST, "/api/v1/departments", json!({"name": "X"})),
        (Method::POST, "/api/v1/teams", json!({"name": "X"})),
        (Method::POST, "/api/v1/sla-plans", json!({"name": "X"})),
        (
            Method::PUT,
            "/api/v1/business-hours",
            json!({"timezone": "UTC", "hours": [], "holidays": []}),
        ),
        (
            Method::POST,
            "/api/v1/statuses",
            json!({"name": "X", "state": "open"}),
        ),
        (
            Method::PATCH,
            "/api/v1/ticket-settings",
            json!({"reply_to_closed_allowed": false}),
        ),
    ] {
        let (status, problem) = call(&app, &tenant, &reader, method, path, Some(body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            problem["detail"]
                .as_str()
                .expect("as set up")
                .contains("helpdesk.configure")
        );
    }
    // Admins hold it; Managers and Agents do not.
    assert!(
        BuiltinRole::Admin
            .permissions()
            .contains(&Permission::HelpdeskConfigure)
    );
    assert!(
        !BuiltinRole::Manager
            .permissions()
            .contains(&Permission::HelpdeskConfigure)
    );
    assert!(
        !BuiltinRole::Agent
            .permissions()
            .contains(&Permission::HelpdeskConfigure)
    );
}

#[tokio::test]
async fn another_tenants_ids_answer_404_or_422_everywhere() {
    let app = spawn_app().await;
    let (home, token) = setup(&app, "Home").await;
    let (other, other_token) = setup(&app, "Other").await;
    let other_agent = agent(&app, &other, BuiltinRole::Agent).await;
    let (_, departments) = call(
        &app,
        &other,
        &other_token,
        Method::GET,
        "/api/v1/departments",
        None,
    )
    .await;
    let dept = id(&departments["data"][0]);
    let team = id(&post(
        &app,
        &other,
        &other_token,
        "/api/v1/teams",
        json!({"name": "T"}),
    )
    .await);
    let plan = id(&post(
        &app,
        &other,
        &other_token,
        "/api/v1/sla-plans",
        json!({"name": "P"}),
    )
    .await);
    let topic = id(&post(
        &app,
        &other,
        &other_token,
        "/api/v1/help-topics",
        json!({"name": "H", "department_id": dept}),
    )
    .await);
    let status_id = id(&post(
        &app,
        &other,
        &other_token,
        "/api/v1/statuses",
        json!({"name": "S", "state": "open"}),
    )
    .await);
    let group = id(&post(
        &app,
        &other,
        &other_token,
        "/api/v1/groups",
        json!({"name": "G"}),
    )
    .await);
    let field = id(&post(
        &app,
        &other,
        &other_token,
        "/api/v1/fields/ticket",
        json!({"key": "serial", "label": "Serial", "field_type": "text"}),
    )
    .await);

    let (_, mine) = call(
        &app,
        &home,
        &token,
        Method::GET,
        "/api/v1/departments",
        None,
    )
    .await;
    let my_dept = id(&mine["data"][0]);
    let my_team = id(&post(
        &app,
        &home,
        &token,
        "/api/v1/teams",
        json!({"name": "Mine"}),
    )
    .await);
    let my_topic = id(&post(
        &app,
        &home,
        &token,
        "/api/v1/help-topics",
        json!({"name": "Mine", "department_id": my_dept}),
    )
    .await);
    let my_agent = agent(&app, &home, BuiltinRole::Agent).await;

    // Path ids of the other tenant: 404, for every method.
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/departments/{dept}"), None),
        (
            Method::PATCH,
            format!("/api/v1/departments/{dept}"),
            Some(json!({"name": "Mine now"})),
        ),
        (Method::DELETE, format!("/api/v1/departments/{dept}"), None),
        (
            Method::PUT,
            format!("/api/v1/departments/{dept}/agents/{my_agent}"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/departments/{my_dept}/agents/{other_agent}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/departments/{dept}/agents/{other_agent}"),
            None,
        ),
        (Method::GET, format!("/api/v1/teams/{team}"), None),
        (
            Method::PATCH,
            format!("/api/v1/teams/{team}"),
            Some(json!({"name": "Mine now"})),
        ),
        (Method::DELETE, format!("/api/v1/teams/{team}"), None),
        (
            Method::PUT,
            format!("/api/v1/teams/{team}/members/{my_agent}"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/teams/{my_team}/members/{other_agent}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/teams/{team}/members/{other_agent}"),
            None,
        ),
        (Method::GET, format!("/api/v1/sla-plans/{plan}"), None),
        (
            Method::PATCH,
            format!("/api/v1/sla-plans/{plan}"),
            Some(json!({"name": "Mine now"})),
        ),
        (Method::DELETE, format!("/api/v1/sla-plans/{plan}"), None),
        (Method::GET, format!("/api/v1/help-topics/{topic}"), None),
        (
            Method::PATCH,
            format!("/api/v1/help-topics/{topic}"),
            Some(json!({"name": "Mine now"})),
        ),
        (Method::DELETE, format!("/api/v1/help-topics/{topic}"), None),
        (
            Method::PUT,
            format!("/api/v1/help-topics/{topic}/grants"),
            Some(json!({"customer_group_id": group})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/help-topics/{topic}/grants"),
            Some(json!({"customer_group_id": group})),
        ),
        (Method::GET, format!("/api/v1/statuses/{status_id}"), None),
        (
            Method::PATCH,
            format!("/api/v1/statuses/{status_id}"),
            Some(json!({"name": "Mine now"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/statuses/{status_id}"),
            None,
        ),
    ] {
        let (status, body) = call(&app, &home, &token, method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    // Body references to the other tenant's records: 422 naming the field.
    for (method, path, body, field_name) in [
        (
            Method::POST,
            "/api/v1/departments".to_owned(),
            json!({"name": "X", "manager_agent_id": other_agent}),
            "manager_agent_id",
        ),
        (
            Method::POST,
            "/api/v1/departments".to_owned(),
            json!({"name": "X", "customer_group_id": group}),
            "customer_group_id",
        ),
        (
            Method::POST,
            "/api/v1/teams".to_owned(),
            json!({"name": "X", "lead_agent_id": other_agent}),
            "lead_agent_id",
        ),
        (
            Method::POST,
            "/api/v1/help-topics".to_owned(),
            json!({"name": "X", "department_id": dept}),
            "department_id",
        ),
        (
            Method::PATCH,
            format!("/api/v1/help-topics/{my_topic}"),
            json!({"parent_id": topic}),
            "parent_id",
        ),
        (
            Method::PATCH,
            format!("/api/v1/help-topics/{my_topic}"),
            json!({"sla_plan_id": plan}),
            "sla_plan_id",
        ),
        (
            Method::PATCH,
            format!("/api/v1/help-topics/{my_topic}"),
            json!({"auto_assign_team_id": team}),
            "auto_assign_team_id",
        ),
        (
            Method::PATCH,
            format!("/api/v1/help-topics/{my_topic}"),
            json!({"auto_assign_agent_id": other_agent}),
            "auto_assign_agent_id",
        ),
        (
            Method::PATCH,
            format!("/api/v1/help-topics/{my_topic}"),
            json!({"field_ids": [field]}),
            "field_ids",
        ),
        (
            Method::PUT,
            format!("/api/v1/help-topics/{my_topic}/grants"),
            json!({"customer_group_id": group}),
            "customer_group_id",
        ),
        (
            Method::PATCH,
            "/api/v1/ticket-settings".to_owned(),
            json!({"default_department_id": dept}),
            "default_department_id",
        ),
        (
            Method::POST,
            "/api/v1/organizations".to_owned(),
            json!({"name": "X", "account_manager_team_id": team}),
            "account_manager_team_id",
        ),
    ] {
        let (status, problem) = call(&app, &home, &token, method.clone(), &path, Some(body)).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {path}: {problem}"
        );
        assert_eq!(named(&problem), vec![field_name], "{path}");
    }
    // Topics available to another tenant's end user: 404, like an unknown user.
    let their_user = app
        .create_end_user(
            &other,
            "Theirs",
            &format!("t-{}@example.com", Uuid::now_v7().simple()),
            None,
        )
        .await;
    let (status, _) = call(
        &app,
        &home,
        &token,
        Method::GET,
        &format!("/api/v1/help-topics?available_to={}", their_user.id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nothing of the other tenant shows in lists, and its data is untouched.
    let (_, teams) = call(&app, &home, &token, Method::GET, "/api/v1/teams", None).await;
    assert_eq!(teams["data"].as_array().expect("as set up").len(), 1);
    let (status, still) = call(
        &app,
        &other,
        &other_token,
        Method::GET,
        &format!("/api/v1/departments/{dept}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(still["name"], "Support");
}

#[tokio::test]
async fn admin_pages_add_edit_and_refuse_like_the_api() {
    let app = spawn_app().await;
    let (tenant, token) = setup(&app, "Admin Pages").await;
    let (other, other_token) = setup(&app, "Elsewhere").await;
    let admin_email = format!("admin-{}@example.com", Uuid::now_v7().simple());
    let admin = app
        .create_agent(&tenant.tenant, BuiltinRole::Admin, &admin_email, PASSWORD)
        .await;
    let mut visitor = app.visitor(&tenant.host());
    visitor.sign_in_agent(&admin_email, PASSWORD).await;

    let home = visitor.get("/agent").await;
    assert!(
        home.body.contains("/admin/departments"),
        "the panel links the pages"
    );
    let page = visitor.get("/admin/departments").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Support"));

    // A missing name and a taken one are shown beside the field; nothing is saved.
    let page = visitor
        .post_form(
            "/admin/departments",
            &[("name", ""), ("default_priority", "normal")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("f-name-error"), "{}", page.body);
    let page = visitor
        .post_form(
            "/admin/departments",
            &[("name", "support"), ("default_priority", "normal")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("Another record already has this name"));

    let admin_id = admin.id.to_string();
    let page = visitor
        .post_form(
            "/admin/departments",
            &[
                ("name", "Billing"),
                ("email_alias", "billing@acme.example"),
                ("default_priority", "high"),
                ("manager_agent_id", &admin_id),
                ("agent_ids", &admin_id),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(
        page.location.as_deref(),
        Some("/admin/departments?done=created")
    );
    let page = visitor.get("/admin/departments?done=created").await;
    assert!(page.body.contains("The department is added."));
    let (_, list) = call(
        &app,
        &tenant,
        &token,
        Method::GET,
        "/api/v1/departments",
        None,
    )
    .await;
    let billing = list["data"]
        .as_array()
        .expect("as set up")
        .iter()
        .find(|d| d["name"] == "Billing")
        .expect("created")
        .clone();
    assert_eq!(billing["agent_ids"], json!([admin.id]));
    assert_eq!(billing["default_priority"], "high");

    // Editing with a stale version is refused; with the current one it saves.
    let path = format!("/admin/departments/{}", id(&billing));
    let page = visitor.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("billing@acme.example"));
    let page = visitor
        .post_form(
            &path,
            &[
                ("version", "99"),
                ("name", "Billing"),
                ("default_priority", "low"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("form-alert"));
    let page = visitor
        .post_form(
            &path,
            &[
                ("version", "1"),
                ("name", "Accounts"),
                ("default_priority", "low"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let (_, saved) = call(
        &app,
        &tenant,
        &token,
        Method::GET,
        &format!("/api/v1/departments/{}", id(&billing)),
        None,
    )
    .await;
    assert_eq!(saved["name"], "Accounts");
    assert_eq!(saved["agent_ids"], json!([]), "unticked agents leave");

    // Business hours: a line that is not a span is named by its number.
    let page = visitor
        .post_form(
            "/admin/business-hours",
            &[
                ("timezone", "Europe/Berlin"),
                ("hours", "Monday 09:00-17:00\nTuesday nine to five"),
                ("holidays", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("Line 2"), "{}", page.body);
    let page = visitor
        .post_form(
            "/admin/business-hours",
            &[
                ("timezone", "Europe/Berlin"),
                ("hours", "Monday 09:00-17:00\nfri 09:00-13:00"),
                ("holidays", "2026-12-25 Christmas Day"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let (_, calendar) = call(
        &app,
        &tenant,
        &token,
        Method::GET,
        "/api/v1/business-hours",
        None,
    )
    .await;
    assert_eq!(
        calendar["hours"][1],
        json!({"weekday": 5, "opens": "09:00", "closes": "13:00"})
    );
    assert_eq!(calendar["holidays"][0]["name"], "Christmas Day");

    // Ticket settings: the number only rises.
    let page = visitor
        .post_form(
            "/admin/ticket-settings",
            &[
                ("next_ticket_number", "100"),
                ("default_department_id", &id(&billing)),
                ("attachment_max_bytes", "4096"),
                ("attachment_allowed_types", "image/png"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = visitor
        .post_form(
            "/admin/ticket-settings",
            &[
                ("next_ticket_number", "50"),
                ("default_department_id", &id(&billing)),
                ("attachment_max_bytes", "4096"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("f-next_ticket_number-error"));
    let (_, settings) = call(
        &app,
        &tenant,
        &token,
        Method::GET,
        "/api/v1/ticket-settings",
        None,
    )
    .await;
    assert_eq!(settings["next_ticket_number"], 100);
    assert_eq!(
        settings["reply_to_closed_allowed"], false,
        "an unticked box is false"
    );

    // The default department's delete button explains why it stays.
    let page = visitor.post_form(&format!("{path}/delete"), &[]).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("Not deleted."));

    // Another tenant's records answer 404, for reading and for writing.
    let (_, theirs) = call(
        &app,
        &other,
        &other_token,
        Method::GET,
        "/api/v1/departments",
        None,
    )
    .await;
    let theirs = id(&theirs["data"][0]);
    for (resource, their_id) in [("departments", theirs.clone())] {
        let page = visitor.get(&format!("/admin/{resource}/{their_id}")).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        let page = visitor
            .post_form(
                &format!("/admin/{resource}/{their_id}"),
                &[("name", "Mine"), ("default_priority", "low")],
            )
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        let page = visitor
            .post_form(&format!("/admin/{resource}/{their_id}/delete"), &[])
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
    }
    let their_team = id(&post(
        &app,
        &other,
        &other_token,
        "/api/v1/teams",
        json!({"name": "Theirs"}),
    )
    .await);
    let their_plan = id(&post(
        &app,
        &other,
        &other_token,
        "/api/v1/sla-plans",
        json!({"name": "Theirs"}),
    )
    .await);
    let their_topic = id(&post(
        &app,
        &other,
        &other_token,
        "/api/v1/help-topics",
        json!({"name": "Theirs", "department_id": theirs}),
    )
    .await);
    let their_status = id(&post(
        &app,
        &other,
        &other_token,
        "/api/v1/statuses",
        json!({"name": "Theirs", "state": "open"}),
    )
    .await);
    for path in [
        format!("/admin/teams/{their_team}"),
        format!("/admin/sla-plans/{their_plan}"),
        format!("/admin/help-topics/{their_topic}"),
        format!("/admin/statuses/{their_status}"),
    ] {
        assert_eq!(
            visitor.get(&path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
        assert_eq!(
            visitor
                .post_form(&format!("{path}/delete"), &[])
                .await
                .status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    // Other lists and forms render.
    for path in [
        "/admin/teams",
        "/admin/sla-plans",
        "/admin/help-topics",
        "/admin/statuses",
        "/admin/business-hours",
        "/admin/ticket-settings",
    ] {
        assert_eq!(visitor.get(path).await.status, StatusCode::OK, "{path}");
    }

    // An Agent may not configure the help desk.
    let agent_email = format!("agent-{}@example.com", Uuid::now_v7().simple());
    app.create_agent(&tenant.tenant, BuiltinRole::Agent, &agent_email, PASSWORD)
        .await;
    let mut plain = app.visitor(&tenant.host());
    plain.sign_in_agent(&agent_email, PASSWORD).await;
    assert_eq!(
        plain.get("/admin/departments").await.status,
        StatusCode::FORBIDDEN
    );
    let page = plain.post_form("/admin/teams", &[("name", "Sneaky")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}
