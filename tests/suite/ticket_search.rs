//! Ticket search: full text over subjects, messages and notes (words, phrases, exclusions,
//! prefixes), the requester's name or email, custom ticket fields (equality and ranges), each
//! combined with the queue filters and within one tenant only; and the agent queue's search box.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use store::search::CustomFilter;
use store::tickets::{self, Matches, TicketQuery, TicketScope, TicketSort};
use tenantdesk_tests::{TestApp, TestTenant, database, spawn_app};

async fn create(app: &TestApp, tenant: &TestTenant, token: &str, body: Value) -> i64 {
    let (status, ticket) = app
        .api(tenant, token, Method::POST, "/api/v1/tickets", Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ticket}");
    ticket["number"].as_i64().expect("number")
}

/// The numbers of the tickets a search finds, in ticket number order.
async fn found(app: &TestApp, tenant: &TestTenant, token: &str, query: &str) -> Vec<i64> {
    let path = format!("/api/v1/tickets?sort=number&{query}");
    let (status, page) = app.api(tenant, token, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|t| t["number"].as_i64().expect("number"))
        .collect()
}

const PASSWORD: &str = "correct horse battery staple";

fn q(text: &str) -> String {
    serde_urlencoded::to_string([("q", text)]).expect("query")
}

#[tokio::test]
async fn full_text_finds_words_in_subjects_messages_and_notes_of_this_tenant_only() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Search Desk").await;
    let other = app.create_tenant("Other Search Desk").await;
    let token = app.issue_token(&tenant.tenant, "search").await;
    let other_token = app.issue_token(&other.tenant, "search").await;

    let printer = create(
        &app,
        &tenant,
        &token,
        json!({
        "subject": "Printer jams on the second floor", "message": "The paper tray is stuck.",
        "requester_email": "ada.lovelace@example.com"}),
    )
    .await;
    let toner = create(
        &app,
        &tenant,
        &token,
        json!({
        "subject": "Toner low", "message": "The printer on floor three needs toner.",
        "requester_email": "grace.hopper@example.com", "priority": "high"}),
    )
    .await;
    let vpn = create(
        &app,
        &tenant,
        &token,
        json!({
        "subject": "VPN drops", "message": "Every hour the tunnel resets.",
        "requester_email": "ada.lovelace@example.com"}),
    )
    .await;
    // A later message and an internal note are searched too.
    let (_, page) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            &format!("/api/v1/tickets?number={vpn}"),
            None,
        )
        .await;
    let vpn_id = page["data"][0]["id"].as_str().expect("id").to_owned();
    let (status, _) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            &format!("/api/v1/tickets/{vpn_id}/messages"),
            Some(json!({"body": "Firmware Kestrel-9 fixed it for others."})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            &format!("/api/v1/tickets/{vpn_id}/notes"),
            Some(json!({"body": "Escalated to the Wombat team."})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // The other tenant has a ticket with the same words.
    create(
        &app,
        &other,
        &other_token,
        json!({
        "subject": "Printer jams", "message": "Kestrel wombat toner",
        "requester_email": "ada.lovelace@example.com"}),
    )
    .await;

    assert_eq!(
        found(&app, &tenant, &token, &q("printer")).await,
        vec![printer, toner]
    );
    assert_eq!(
        found(&app, &tenant, &token, &q("PRINTER toner")).await,
        vec![toner]
    );
    assert_eq!(
        found(&app, &tenant, &token, &q("printer -toner")).await,
        vec![printer]
    );
    assert_eq!(
        found(&app, &tenant, &token, &q("\"second floor\"")).await,
        vec![printer]
    );
    assert_eq!(
        found(&app, &tenant, &token, &q("\"floor second\"")).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        found(&app, &tenant, &token, &q("tunnel or tray")).await,
        vec![printer, vpn]
    );
    assert_eq!(
        found(&app, &tenant, &token, &q("kestrel")).await,
        vec![vpn],
        "later messages"
    );
    assert_eq!(
        found(&app, &tenant, &token, &q("wombat")).await,
        vec![vpn],
        "notes"
    );
    assert_eq!(
        found(&app, &tenant, &token, &q("prin*")).await,
        vec![printer, toner]
    );
    assert_eq!(
        found(&app, &tenant, &token, &q("jam")).await,
        Vec::<i64>::new(),
        "whole words"
    );
    assert_eq!(
        found(&app, &tenant, &token, &q("jam*")).await,
        vec![printer]
    );
    // Combined with the other filters.
    assert_eq!(
        found(
            &app,
            &tenant,
            &token,
            &format!("{}&priority=high", q("printer"))
        )
        .await,
        vec![toner]
    );
    // Punctuation only: no word to look for, so nothing is found.
    assert_eq!(found(&app, &tenant, &token, &q("'*")).await.len(), 0);
    // The requester by part of their name or email.
    assert_eq!(
        found(&app, &tenant, &token, "requester_q=lovelace").await,
        vec![printer, vpn]
    );
    assert_eq!(
        found(&app, &tenant, &token, "requester_q=grace*example").await,
        vec![toner]
    );
    // The other tenant finds only its own.
    assert_eq!(
        found(&app, &other, &other_token, &q("kestrel")).await.len(),
        1
    );
    assert_eq!(
        found(&app, &other, &other_token, &q("tunnel")).await,
        Vec::<i64>::new()
    );

    // Past `Matches::FEW` matches the list tests each row instead of taking the ids; both
    // forms find the same tickets (in this tenant only).
    for text in [
        "printer",
        "PRINTER toner",
        "printer -toner",
        "\"second floor\"",
        "tunnel or tray",
        "kestrel",
        "wombat",
        "prin*",
        "jam",
    ] {
        assert_eq!(
            listed(&app, &tenant, text, false).await,
            listed(&app, &tenant, text, true).await,
            "{text}"
        );
    }
    // The lookup answers null past its cap, so a common word never collects every match.
    for (cap, expected) in [(1, None), (2, Some(2)), (5, Some(2))] {
        let found = capped_lookup(
            &tenant,
            "select ticket_search.ticket_ids_matching_up_to('printer', $1)",
            cap,
        )
        .await;
        assert_eq!(found, expected, "cap {cap}");
    }
}

/// How many ids a capped search function (`call`, with the cap as `$1`) answers as the runtime
/// role in `tenant`; None when it answers null (more match than the cap).
async fn capped_lookup(tenant: &TestTenant, call: &str, cap: i32) -> Option<usize> {
    let pool = PgPool::connect(&database().runtime_url)
        .await
        .expect("runtime connection");
    let mut tx = pool.begin().await.expect("tx");
    sqlx::query("select set_config('app.tenant_id', $1, true)")
        .bind(tenant.tenant.id.as_uuid().to_string())
        .execute(&mut *tx)
        .await
        .expect("set tenant");
    let ids: Option<Vec<uuid::Uuid>> = sqlx::query_scalar(call)
        .bind(cap)
        .fetch_one(&mut *tx)
        .await
        .expect("lookup");
    tx.rollback().await.expect("rollback");
    ids.map(|ids| ids.len())
}

/// Ticket numbers a text search lists (by number), with each row tested (`each_row`) or with
/// the ids the search function found.
async fn listed(app: &TestApp, tenant: &TestTenant, text: &str, each_row: bool) -> Vec<i64> {
    let query = TicketQuery {
        text: Some(text.to_owned()),
        ..TicketQuery::default()
    };
    listed_by(app, tenant, query, each_row).await
}

/// Ticket numbers `query` lists, in number order, with each row tested (`each_row`) or with
/// the ids the search functions found.
async fn listed_by(
    app: &TestApp,
    tenant: &TestTenant,
    query: TicketQuery,
    each_row: bool,
) -> Vec<i64> {
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let query = TicketQuery {
        sort: TicketSort::Number,
        descending: false,
        ..query
    };
    let page = if each_row {
        tickets::list_matching(&mut tx, TicketScope::All, &query, None, &Matches::default()).await
    } else {
        tickets::list_in_queue(&mut tx, TicketScope::All, &query, None).await
    }
    .expect("list");
    tx.commit().await.expect("commit");
    page.items.iter().map(|t| t.number).collect()
}

#[tokio::test]
async fn custom_ticket_fields_filter_by_equality_and_range() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Custom Search").await;
    let token = app.issue_token(&tenant.tenant, "search").await;
    for field in [
        json!({"key": "serial", "label": "Serial", "field_type": "text"}),
        json!({"key": "seats", "label": "Seats", "field_type": "number"}),
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
    }
    let small = create(
        &app,
        &tenant,
        &token,
        json!({"subject": "Small", "message": "m",
        "requester_email": "a@example.com", "custom": {"serial": "SN-1", "seats": 5}}),
    )
    .await;
    let big = create(
        &app,
        &tenant,
        &token,
        json!({"subject": "Big", "message": "m",
        "requester_email": "a@example.com", "custom": {"serial": "SN-2", "seats": 500}}),
    )
    .await;
    create(
        &app,
        &tenant,
        &token,
        json!({"subject": "None", "message": "m",
        "requester_email": "a@example.com"}),
    )
    .await;

    assert_eq!(
        found(&app, &tenant, &token, "custom.serial=SN-2").await,
        vec![big]
    );
    assert_eq!(
        found(&app, &tenant, &token, "custom.seats=5").await,
        vec![small]
    );
    assert_eq!(
        found(&app, &tenant, &token, "custom.seats.min=10").await,
        vec![big]
    );
    assert_eq!(
        found(&app, &tenant, &token, "custom.seats.max=10").await,
        vec![small]
    );

    // Past `Matches::FEW` tickets with a value the list tests each row; both forms list the
    // same tickets, and never the other tenant's ticket with the same value.
    let other = app.create_tenant("Custom Search Other").await;
    let other_token = app.issue_token(&other.tenant, "search").await;
    let (status, body) = app
        .api(
            &other,
            &other_token,
            Method::POST,
            "/api/v1/fields/ticket",
            Some(json!({"key": "serial", "label": "Serial", "field_type": "text"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    create(
        &app,
        &other,
        &other_token,
        json!({"subject": "Theirs", "message": "m",
        "requester_email": "a@example.com", "custom": {"serial": "SN-2"}}),
    )
    .await;
    for (custom, expected) in [
        (json!({"serial": "SN-2"}), vec![big]),
        (json!({"seats": 5}), vec![small]),
        (json!({"serial": "SN-1", "seats": 5}), vec![small]),
        (json!({"serial": "SN-1", "seats": 500}), vec![]),
        (json!({"serial": "SN-9"}), vec![]),
    ] {
        let query = TicketQuery {
            custom: custom
                .as_object()
                .expect("object")
                .iter()
                .map(|(key, value)| CustomFilter::Equals {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
            ..TicketQuery::default()
        };
        assert_eq!(
            listed_by(&app, &tenant, query.clone(), false).await,
            expected,
            "{custom}"
        );
        assert_eq!(
            listed_by(&app, &tenant, query, true).await,
            expected,
            "{custom}"
        );
    }
    // The lookup answers null past its cap, so a common value never collects every match.
    for (cap, expected) in [(0, None), (1, Some(1)), (5, Some(1))] {
        let found = capped_lookup(
            &tenant,
            "select ticket_search.ticket_ids_with_custom_up_to('{\"serial\": \"SN-2\"}', $1)",
            cap,
        )
        .await;
        assert_eq!(found, expected, "cap {cap}");
    }

    let (status, problem) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            "/api/v1/tickets?custom.colour=red&custom.seats.min=many",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(fields, vec!["custom.colour", "custom.seats.min"]);
}

#[tokio::test]
async fn the_agent_queue_searches_with_its_search_box() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Queue Search").await;
    let token = app.issue_token(&tenant.tenant, "search").await;
    create(
        &app,
        &tenant,
        &token,
        json!({"subject": "Projector flickers", "message": "Room 4",
        "requester_email": "a@example.com"}),
    )
    .await;
    create(
        &app,
        &tenant,
        &token,
        json!({"subject": "Chair broken", "message": "Room 5",
        "requester_email": "a@example.com"}),
    )
    .await;
    let email = format!("{}@example.com", uuid::Uuid::now_v7().simple());
    app.create_agent(&tenant.tenant, domain::BuiltinRole::Admin, &email, PASSWORD)
        .await;
    let mut visitor = app.visitor(&tenant.host());
    visitor.sign_in_agent(&email, PASSWORD).await;
    let page = visitor.get("/agent/tickets?queue=open&q=projector").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Projector flickers"), "{}", page.body);
    assert!(!page.body.contains("Chair broken"), "{}", page.body);
    assert!(
        page.body.contains("value=\"projector\""),
        "the search box keeps the term"
    );
}
