//! Organizations (OTRS "customers"): the record through the API (create, read, change with
//! versions, validation per field), per-tenant uniqueness of name, code and email domains,
//! memberships with one primary organization per user, wildcard search, custom-field and
//! validity filters, keyset pages under concurrent inserts, another tenant's ids, and the
//! agent pages as a browser sends them.

use domain::BuiltinRole;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantdesk_tests::{Page, TestApp, TestTenant, Visitor, spawn_app};
use uuid::Uuid;

const PASSWORD: &str = "harbour lantern pebble quartz";

/// One API call: status, headers and the JSON body (null when not JSON).
async fn call(
    app: &TestApp,
    tenant: &TestTenant,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = app
        .http
        .request(method, app.url(path))
        .header("Host", tenant.host())
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

async fn get(app: &TestApp, tenant: &TestTenant, token: &str, path: &str) -> (StatusCode, Value) {
    let (status, _, body) = call(app, tenant, token, Method::GET, path, None).await;
    (status, body)
}

async fn create(app: &TestApp, tenant: &TestTenant, token: &str, body: Value) -> Value {
    let (status, _, organization) = call(
        app,
        tenant,
        token,
        Method::POST,
        "/api/v1/organizations",
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{organization}");
    organization
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

/// The fields a problem document names.
fn fields_of(problem: &Value) -> Vec<String> {
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

/// The names of a list answer, in order.
fn names(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|o| o["name"].as_str().expect("name").to_owned())
        .collect()
}

async fn end_user(app: &TestApp, tenant: &TestTenant, name: &str, email: &str) -> String {
    app.create_end_user(tenant, name, email, None)
        .await
        .id
        .to_string()
}

/// An agent of `tenant` with `role`, signed in on a browser of its own.
async fn signed_in<'a>(
    app: &'a TestApp,
    tenant: &TestTenant,
    role: BuiltinRole,
    email: &str,
) -> (store::agents::Agent, Visitor<'a>) {
    let agent = app
        .create_agent(&tenant.tenant, role, email, PASSWORD)
        .await;
    let mut visitor = app.visitor(&tenant.host());
    visitor.sign_in_agent(email, PASSWORD).await;
    (agent, visitor)
}

/// A link's target as the HTML carries it, with `&amp;` read back as `&`.
fn href_after(page: &Page, text: &str) -> Option<String> {
    let end = page.body.find(&format!("\" rel=\"next\">{text}"))?;
    let start = page.body[..end].rfind("href=\"")? + "href=\"".len();
    Some(page.body[start..end].replace("&amp;", "&"))
}

#[tokio::test]
async fn an_organization_is_created_read_and_changed_with_versions() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Orbit Supplies").await;
    let token = app.issue_token(&tenant.tenant, "directory").await;
    let manager = app
        .create_agent(
            &tenant.tenant,
            BuiltinRole::Agent,
            "manager@orbit.example",
            PASSWORD,
        )
        .await;
    let (status, headers, created) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        "/api/v1/organizations",
        Some(json!({
            "name": "  Acme Corp ", "customer_code": "ACME-001", "street": "1 Harbour Road",
            "zip": "10115", "city": "Berlin", "country": "de", "phone": "+49 30 1234567",
            "website": "https://acme.example", "comment": "Key account\nsince 2019",
            "domains": ["Acme.Example", "@mail.acme.example", "acme.example"],
            "ticket_sharing": "primary_contacts", "auto_collaborate_primary_contacts": true,
            "account_manager_agent_id": manager.id, "account_manager_team_id": null,
            "assign_to_account_manager": true, "alert_account_manager": true
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = id_of(&created);
    assert_eq!(
        headers["location"].to_str().expect("location"),
        format!("/api/v1/organizations/{id}")
    );
    assert_eq!(headers["etag"].to_str().expect("etag"), "\"1\"");
    assert_eq!(created["name"], "Acme Corp");
    assert_eq!(created["country"], "DE");
    assert_eq!(
        created["domains"],
        json!(["acme.example", "mail.acme.example"])
    );
    assert_eq!(created["validity"], "valid");
    assert_eq!(created["ticket_sharing"], "primary_contacts");
    assert_eq!(created["account_manager_agent_id"], json!(manager.id));
    assert_eq!(created["comment"], "Key account\nsince 2019");
    // An API token is no agent: nobody is recorded as creator.
    assert_eq!(created["created_by"], Value::Null);
    assert_eq!(created["version"], 1);

    let (status, shown) = get(
        &app,
        &tenant,
        &token,
        &format!("/api/v1/organizations/{id}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown, created);

    let path = format!("/api/v1/organizations/{id}");
    let (status, _, changed) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        &path,
        Some(
            json!({"version": 1, "validity": "invalid_temporarily", "phone": null,
                    "website": "", "domains": ["acme-corp.example"]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["version"], 2);
    assert_eq!(changed["validity"], "invalid_temporarily");
    assert_eq!(changed["phone"], Value::Null);
    assert_eq!(changed["website"], Value::Null);
    assert_eq!(changed["domains"], json!(["acme-corp.example"]));
    assert_eq!(changed["name"], "Acme Corp", "fields not sent stay");

    // Someone who read version 1 is refused, by body version and by If-Match alike.
    let (status, _, stale) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        &path,
        Some(json!({"version": 1, "city": "Hamburg"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{stale}");
    let response = app
        .http
        .patch(app.url(&path))
        .header("Host", tenant.host())
        .header("If-Match", "\"1\"")
        .bearer_auth(&token)
        .json(&json!({"city": "Hamburg"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let (_, now) = get(&app, &tenant, &token, &path).await;
    assert_eq!(now["city"], "Berlin", "a stale write changes nothing");
    assert_eq!(now["version"], 2);

    // There is no delete: validity replaces it.
    let (status, _, _) = call(&app, &tenant, &token, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn every_bad_field_is_named_and_nothing_is_written() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Field Check Ltd").await;
    let other = app.create_tenant("Other Agents Ltd").await;
    let token = app.issue_token(&tenant.tenant, "directory").await;
    let foreign_agent = app
        .create_agent(
            &other.tenant,
            BuiltinRole::Agent,
            "someone@other.example",
            PASSWORD,
        )
        .await;
    let cases: Vec<(&str, Value)> = vec![
        ("name", json!("")),
        ("name", json!("x".repeat(201))),
        ("name", json!("two\nlines")),
        ("customer_code", json!("c".repeat(101))),
        ("street", json!("s".repeat(201))),
        ("zip", json!("1".repeat(21))),
        ("city", json!("c".repeat(101))),
        ("country", json!("XX")),
        ("country", json!("Germany")),
        ("phone", json!("call me maybe")),
        ("website", json!("ftp://acme.example")),
        ("website", json!("acme.example")),
        (
            "website",
            json!(format!("https://acme.example/{}", "a".repeat(490))),
        ),
        ("comment", json!("c".repeat(2001))),
        ("validity", json!("deleted")),
        ("ticket_sharing", json!("everyone")),
        ("auto_collaborate_primary_contacts", json!("yes")),
        ("domains", json!(["not a domain"])),
        ("domains", json!("acme.example")),
        ("account_manager_agent_id", json!("not-an-id")),
        ("account_manager_agent_id", json!(foreign_agent.id)),
        ("account_manager_agent_id", json!(Uuid::now_v7())),
        ("account_manager_team_id", json!(Uuid::now_v7())),
        ("custom", json!({"no_such_field": "x"})),
        ("colour", json!("red")),
    ];
    for (field, value) in cases {
        let mut body = json!({"name": "Valid Name"});
        body[field] = value.clone();
        let (status, _, problem) = call(
            &app,
            &tenant,
            &token,
            Method::POST,
            "/api/v1/organizations",
            Some(body),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field} = {value}: {problem}"
        );
        assert_eq!(
            problem["type"], "urn:tenantdesk:problem:validation",
            "{problem}"
        );
        let named = fields_of(&problem);
        assert!(
            named
                .iter()
                .any(|f| f == field || f.starts_with(&format!("{field}."))),
            "{field} = {value} should be named, got {named:?}"
        );
    }
    let (status, _, problem) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        "/api/v1/organizations",
        Some(json!({"city": "Berlin"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields_of(&problem), ["name"]);
    let (_, list) = get(&app, &tenant, &token, "/api/v1/organizations").await;
    assert_eq!(names(&list), Vec::<String>::new(), "nothing was written");

    // The same rules hold for a change, and a refused change leaves the record as it was.
    let organization = create(&app, &tenant, &token, json!({"name": "Keeper"})).await;
    let path = format!("/api/v1/organizations/{}", id_of(&organization));
    let (status, _, problem) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        &path,
        Some(json!({"city": "Paris", "country": "ZZ", "name": null})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut named = fields_of(&problem);
    named.sort();
    assert_eq!(named, ["country", "name"]);
    let (_, unchanged) = get(&app, &tenant, &token, &path).await;
    assert_eq!(unchanged["city"], Value::Null);
    assert_eq!(unchanged["version"], 1);
}

#[tokio::test]
async fn names_codes_and_domains_are_unique_per_tenant_only() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Unique One").await;
    let second = app.create_tenant("Unique Two").await;
    let token = app.issue_token(&tenant.tenant, "directory").await;
    let second_token = app.issue_token(&second.tenant, "directory").await;
    let first = create(
        &app,
        &tenant,
        &token,
        json!({"name": "Acme Corp", "customer_code": "ACME", "domains": ["acme.example"]}),
    )
    .await;
    for (body, field) in [
        (json!({"name": "ACME corp"}), "name"),
        (
            json!({"name": "Acme 2", "customer_code": "acme"}),
            "customer_code",
        ),
        (
            json!({"name": "Acme 3", "domains": ["other.example", "ACME.example"]}),
            "domains",
        ),
    ] {
        let (status, _, problem) = call(
            &app,
            &tenant,
            &token,
            Method::POST,
            "/api/v1/organizations",
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}: {problem}");
        assert_eq!(problem["type"], "urn:tenantdesk:problem:conflict");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .starts_with(field),
            "{body} should name {field}: {problem}"
        );
    }
    // A domain taken through a change is refused just the same, and nothing of it is kept.
    let globex = create(&app, &tenant, &token, json!({"name": "Globex"})).await;
    let globex_path = format!("/api/v1/organizations/{}", id_of(&globex));
    let (status, _, problem) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        &globex_path,
        Some(json!({"domains": ["globex.example", "acme.example"], "city": "Springfield"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .starts_with("domains")
    );
    let (_, globex) = get(&app, &tenant, &token, &globex_path).await;
    assert_eq!(globex["domains"], json!([]));
    assert_eq!(globex["city"], Value::Null);
    // Subdomains are separate domains: listing one is no conflict.
    let (status, _, sub) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        &globex_path,
        Some(json!({"domains": ["eu.acme.example"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{sub}");
    // An organization may keep its own domains when it changes.
    let (status, _, kept) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        &format!("/api/v1/organizations/{}", id_of(&first)),
        Some(json!({"domains": ["acme.example", "acme.test"], "name": "acme corp"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{kept}");
    assert_eq!(kept["domains"], json!(["acme.example", "acme.test"]));

    // Another tenant is another world: the same name, code and domain are free there.
    create(
        &app,
        &second,
        &second_token,
        json!({"name": "Acme Corp", "customer_code": "ACME", "domains": ["acme.example"]}),
    )
    .await;
}

/// The user's memberships as `GET /users/{id}/organizations` lists them: (name, primary,
/// primary contact).
async fn memberships(
    app: &TestApp,
    tenant: &TestTenant,
    token: &str,
    user: &str,
) -> Vec<(String, bool, bool)> {
    let (status, list) = get(
        app,
        tenant,
        token,
        &format!("/api/v1/users/{user}/organizations"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m| {
            (
                m["name"].as_str().expect("name").to_owned(),
                m["primary"].as_bool().expect("primary"),
                m["primary_contact"].as_bool().expect("primary_contact"),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_member_has_exactly_one_primary_organization() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Members Inc").await;
    let token = app.issue_token(&tenant.tenant, "directory").await;
    let alpha = id_of(&create(&app, &tenant, &token, json!({"name": "Alpha"})).await);
    let beta = id_of(&create(&app, &tenant, &token, json!({"name": "Beta"})).await);
    let gamma = id_of(&create(&app, &tenant, &token, json!({"name": "Gamma"})).await);
    let robin = end_user(&app, &tenant, "Robin Baker", "robin@members.example").await;
    let put = |org: &str, body: Value| {
        let path = format!("/api/v1/organizations/{org}/members/{robin}");
        let (app, tenant, token) = (&app, &tenant, &token);
        async move { call(app, tenant, token, Method::PUT, &path, Some(body)).await }
    };

    // The first membership is primary even when not asked for.
    let (status, _, member) = put(&alpha, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{member}");
    assert_eq!(member["primary"], true);
    assert_eq!(member["primary_contact"], false);
    assert_eq!(member["email"], "robin@members.example");
    let (status, _, member) = put(&beta, json!({"primary_contact": true})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(member["primary"], false);
    assert_eq!(
        memberships(&app, &tenant, &token, &robin).await,
        [
            ("Alpha".to_owned(), true, false),
            ("Beta".to_owned(), false, true)
        ]
    );

    // Making Beta primary demotes Alpha; changing a flag again is a 200, not a new member.
    let (status, _, member) = put(&beta, json!({"primary": true})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(member["primary"], true);
    assert_eq!(member["primary_contact"], true, "flags not sent stay");
    let (_, _, _) = put(&gamma, json!({"primary": false})).await;
    assert_eq!(
        memberships(&app, &tenant, &token, &robin).await,
        [
            ("Beta".to_owned(), true, true),
            ("Alpha".to_owned(), false, false),
            ("Gamma".to_owned(), false, false)
        ]
    );

    // Giving up primary hands it to the oldest other membership.
    let (_, _, member) = put(&beta, json!({"primary": false})).await;
    assert_eq!(member["primary"], false);
    assert_eq!(
        memberships(&app, &tenant, &token, &robin).await[0].0,
        "Alpha"
    );

    // Removing the primary membership promotes the oldest remaining one.
    let remove = |org: &str| {
        let path = format!("/api/v1/organizations/{org}/members/{robin}");
        let (app, tenant, token) = (&app, &tenant, &token);
        async move {
            call(app, tenant, token, Method::DELETE, &path, None)
                .await
                .0
        }
    };
    assert_eq!(remove(&alpha).await, StatusCode::NO_CONTENT);
    assert_eq!(
        memberships(&app, &tenant, &token, &robin).await,
        [
            ("Beta".to_owned(), true, true),
            ("Gamma".to_owned(), false, false)
        ]
    );
    assert_eq!(remove(&alpha).await, StatusCode::NOT_FOUND, "already gone");
    assert_eq!(remove(&beta).await, StatusCode::NO_CONTENT);
    // The only membership left stays primary even when asked not to be.
    let (_, _, member) = put(&gamma, json!({"primary": false})).await;
    assert_eq!(member["primary"], true);
    assert_eq!(remove(&gamma).await, StatusCode::NO_CONTENT);
    assert!(memberships(&app, &tenant, &token, &robin).await.is_empty());

    // Bad flags are named.
    let (status, _, problem) = put(&alpha, json!({"primary": "yes", "owner": true})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut named = fields_of(&problem);
    named.sort();
    assert_eq!(named, ["owner", "primary"]);
}

#[tokio::test]
async fn members_are_listed_by_name_one_page_at_a_time() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Paged Members").await;
    let token = app.issue_token(&tenant.tenant, "directory").await;
    let org = id_of(&create(&app, &tenant, &token, json!({"name": "Big Co"})).await);
    for name in ["Dana", "ada", "Carl", "Bea", "Eve"] {
        let user = end_user(
            &app,
            &tenant,
            &format!("{name} Member"),
            &format!("{}@paged.example", name.to_lowercase()),
        )
        .await;
        let (status, _, _) = call(
            &app,
            &tenant,
            &token,
            Method::PUT,
            &format!("/api/v1/organizations/{org}/members/{user}"),
            Some(json!({"primary_contact": name == "Carl"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut path = format!("/api/v1/organizations/{org}/members?limit=2");
    loop {
        let (status, page) = get(&app, &tenant, &token, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page["data"].as_array().expect("data").len() <= 2);
        seen.extend(names(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/organizations/{org}/members?limit=2&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "ada Member",
            "Bea Member",
            "Carl Member",
            "Dana Member",
            "Eve Member"
        ]
    );
    let (status, problem) = get(
        &app,
        &tenant,
        &token,
        &format!("/api/v1/organizations/{org}/members?cursor=bogus"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields_of(&problem), ["cursor"]);
}

#[tokio::test]
async fn search_is_a_substring_with_star_wildcards_and_filters_narrow_it() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Search Co").await;
    let other = app.create_tenant("Search Rival").await;
    let token = app.issue_token(&tenant.tenant, "directory").await;
    let other_token = app.issue_token(&other.tenant, "directory").await;
    let (status, _, field) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        "/api/v1/fields/organization",
        Some(
            json!({"key": "tier", "label": "Tier", "field_type": "choice",
                    "options": ["Bronze", "Gold"]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{field}");
    for body in [
        json!({"name": "Acme Corp", "customer_code": "AC-100", "city": "Berlin", "custom": {"tier": "gold"}}),
        json!({"name": "Acme Trading", "phone": "+1 555 0100", "custom": {"tier": "Bronze"}}),
        json!({"name": "Globex", "city": "Acmeville", "validity": "invalid"}),
        json!({"name": "Initech 100% Ltd", "customer_code": "IN_1"}),
        json!({"name": "Initech 100 Ltd"}),
    ] {
        create(&app, &tenant, &token, body).await;
    }
    // The other tenant's Acme must never show up.
    create(
        &app,
        &other,
        &other_token,
        json!({"name": "Acme Elsewhere"}),
    )
    .await;
    let search = |query: &str| {
        let path = format!("/api/v1/organizations?{query}");
        let (app, tenant, token) = (&app, &tenant, &token);
        async move {
            let (status, list) = get(app, tenant, token, &path).await;
            assert_eq!(status, StatusCode::OK, "{path}: {list}");
            names(&list)
        }
    };
    assert_eq!(
        search("q=acme").await,
        ["Acme Corp", "Acme Trading", "Globex"],
        "name or city"
    );
    assert_eq!(search("q=ac*corp").await, ["Acme Corp"]);
    assert_eq!(search("q=ACME*TR").await, ["Acme Trading"]);
    assert_eq!(search("q=ac-1").await, ["Acme Corp"], "customer code");
    assert_eq!(search("q=555%200100").await, ["Acme Trading"], "phone");
    assert_eq!(
        search("q=100%25").await,
        ["Initech 100% Ltd"],
        "% is literal"
    );
    assert_eq!(search("q=in_1").await, ["Initech 100% Ltd"], "_ is literal");
    assert_eq!(search("q=zzz").await, Vec::<String>::new());
    assert_eq!(search("validity=invalid").await, ["Globex"]);
    assert_eq!(
        search("q=acme&validity=valid").await,
        ["Acme Corp", "Acme Trading"]
    );
    assert_eq!(search("custom.tier=Gold").await, ["Acme Corp"]);
    assert_eq!(search("custom.tier=bronze&q=acme").await, ["Acme Trading"]);
    assert_eq!(
        search("sort=-name&q=acme").await,
        ["Globex", "Acme Trading", "Acme Corp"]
    );
    for (query, field) in [
        ("custom.colour=red", "custom.colour"),
        ("custom.tier=Platinum", "custom.tier"),
        ("validity=gone", "validity"),
        ("sort=city", "sort"),
        ("limit=0", "limit"),
        ("cursor=nonsense", "cursor"),
        ("colour=red", "colour"),
    ] {
        let (status, problem) = get(
            &app,
            &tenant,
            &token,
            &format!("/api/v1/organizations?{query}"),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {problem}"
        );
        assert_eq!(fields_of(&problem), [field], "{query}");
    }
}

#[tokio::test]
async fn pages_stay_stable_while_organizations_are_added() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Keyset Co").await;
    let token = app.issue_token(&tenant.tenant, "directory").await;
    let originals: Vec<String> = (0..9)
        .map(|i| format!("Org {}", (b'B' + i) as char))
        .collect();
    for name in &originals {
        create(&app, &tenant, &token, json!({"name": name})).await;
    }
    for sort in ["name", "-name", "created"] {
        let mut seen: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut round = 0;
        loop {
            let mut path = format!("/api/v1/organizations?limit=2&sort={sort}");
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let (status, page) = get(&app, &tenant, &token, &path).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            seen.extend(names(&page));
            // Rows added before and after the reader's position while they page (a few
            // rounds only, or a reader of the newest-last order would never reach the end).
            round += 1;
            if round <= 3 {
                for name in [format!("Org A{sort}{round}"), format!("Org Z{sort}{round}")] {
                    create(&app, &tenant, &token, json!({"name": name})).await;
                }
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "{sort}: nothing twice: {seen:?}");
        for name in &originals {
            assert!(seen.contains(name), "{sort}: {name} was skipped: {seen:?}");
        }
        let positions: Vec<usize> = originals
            .iter()
            .map(|n| seen.iter().position(|s| s == n).expect("seen"))
            .collect();
        let mut ordered = positions.clone();
        if sort == "-name" {
            ordered.sort_by(|a, b| b.cmp(a));
        } else {
            ordered.sort();
        }
        assert_eq!(positions, ordered, "{sort}: in order");
    }
    // A cursor of one order is refused by another.
    let (_, page) = get(
        &app,
        &tenant,
        &token,
        "/api/v1/organizations?limit=1&sort=name",
    )
    .await;
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let (status, problem) = get(
        &app,
        &tenant,
        &token,
        &format!("/api/v1/organizations?sort=created&cursor={cursor}"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields_of(&problem), ["cursor"]);
}

#[tokio::test]
async fn custom_values_are_checked_against_the_definitions() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Custom Orgs").await;
    let token = app.issue_token(&tenant.tenant, "directory").await;
    for field in [
        json!({"key": "seats", "label": "Seats", "field_type": "number", "required": true}),
        json!({"key": "renewal", "label": "Renewal", "field_type": "date"}),
    ] {
        let (status, _, body) = call(
            &app,
            &tenant,
            &token,
            Method::POST,
            "/api/v1/fields/organization",
            Some(field),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, _, problem) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        "/api/v1/organizations",
        Some(json!({"name": "No Seats"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields_of(&problem), ["custom.seats"], "required");
    let (status, _, problem) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        "/api/v1/organizations",
        Some(json!({"name": "Bad Seats", "custom": {"seats": "many", "renewal": "soon"}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut named = fields_of(&problem);
    named.sort();
    assert_eq!(named, ["custom.renewal", "custom.seats"]);
    let org = create(
        &app,
        &tenant,
        &token,
        json!({"name": "Seated", "custom": {"seats": 40, "renewal": "2027-01-31"}}),
    )
    .await;
    assert_eq!(org["custom"], json!({"seats": 40, "renewal": "2027-01-31"}));
    // A change merges: values not sent stay, null clears an optional one.
    let (status, _, changed) = call(
        &app,
        &tenant,
        &token,
        Method::PATCH,
        &format!("/api/v1/organizations/{}", id_of(&org)),
        Some(json!({"custom": {"renewal": null}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["custom"], json!({"seats": 40}));
    let (_, list) = get(
        &app,
        &tenant,
        &token,
        "/api/v1/organizations?custom.seats=40",
    )
    .await;
    assert_eq!(names(&list), ["Seated"]);
}

#[tokio::test]
async fn reading_needs_users_read_and_writing_users_manage() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Scoped Co").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    let org = id_of(&create(&app, &tenant, &admin, json!({"name": "Scoped Org"})).await);
    let user = end_user(&app, &tenant, "Scoped User", "user@scoped.example").await;
    let scoped = |permissions: Value| {
        let (app, tenant, admin) = (&app, &tenant, &admin);
        async move {
            let (status, _, issued) = call(
                app,
                tenant,
                admin,
                Method::POST,
                "/api/v1/api-tokens",
                Some(json!({"name": format!("scoped {permissions}"), "permissions": permissions})),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{issued}");
            issued["secret"].as_str().expect("secret").to_owned()
        }
    };
    let reader = scoped(json!(["users.read"])).await;
    let nobody = scoped(json!(["workspace.settings"])).await;
    let reads = [
        "/api/v1/organizations".to_owned(),
        format!("/api/v1/organizations/{org}"),
        format!("/api/v1/organizations/{org}/members"),
        format!("/api/v1/users/{user}/organizations"),
    ];
    for path in &reads {
        assert_eq!(
            get(&app, &tenant, &reader, path).await.0,
            StatusCode::OK,
            "{path}"
        );
        assert_eq!(
            get(&app, &tenant, &nobody, path).await.0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let writes = [
        (
            Method::POST,
            "/api/v1/organizations".to_owned(),
            Some(json!({"name": "New"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/organizations/{org}"),
            Some(json!({"city": "Rome"})),
        ),
        (
            Method::PUT,
            format!("/api/v1/organizations/{org}/members/{user}"),
            Some(json!({})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/organizations/{org}/members/{user}"),
            None,
        ),
    ];
    for (method, path, body) in writes {
        let (status, _, problem) = call(&app, &tenant, &reader, method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("users.manage")
        );
    }
}

#[tokio::test]
async fn another_tenants_ids_are_404_on_every_endpoint_and_page() {
    let app = spawn_app().await;
    let home = app.create_tenant("Home Tenant").await;
    let away = app.create_tenant("Away Tenant").await;
    let token = app.issue_token(&home.tenant, "home").await;
    let away_token = app.issue_token(&away.tenant, "away").await;
    let own_org = id_of(&create(&app, &home, &token, json!({"name": "Home Org"})).await);
    let own_user = end_user(&app, &home, "Home User", "user@home.example").await;
    let their_org = id_of(&create(&app, &away, &away_token, json!({"name": "Away Org"})).await);
    let their_user = end_user(&app, &away, "Away User", "user@away.example").await;
    let (status, _, _) = call(
        &app,
        &away,
        &away_token,
        Method::PUT,
        &format!("/api/v1/organizations/{their_org}/members/{their_user}"),
        Some(json!({"primary_contact": true})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let unknown = Uuid::now_v7();

    for org in [their_org.clone(), unknown.to_string()] {
        let requests = [
            (Method::GET, format!("/api/v1/organizations/{org}"), None),
            (
                Method::PATCH,
                format!("/api/v1/organizations/{org}"),
                Some(json!({"name": "Taken Over"})),
            ),
            (
                Method::GET,
                format!("/api/v1/organizations/{org}/members"),
                None,
            ),
            (
                Method::PUT,
                format!("/api/v1/organizations/{org}/members/{own_user}"),
                Some(json!({})),
            ),
            (
                Method::DELETE,
                format!("/api/v1/organizations/{org}/members/{their_user}"),
                None,
            ),
        ];
        for (method, path, body) in requests {
            let (status, _, problem) = call(&app, &home, &token, method.clone(), &path, body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {problem}");
            assert_eq!(problem["detail"], "There is nothing at this address.");
        }
    }
    for user in [their_user.clone(), unknown.to_string()] {
        let requests = [
            (
                Method::GET,
                format!("/api/v1/users/{user}/organizations"),
                None,
            ),
            (
                Method::PUT,
                format!("/api/v1/organizations/{own_org}/members/{user}"),
                Some(json!({"primary": true})),
            ),
            (
                Method::DELETE,
                format!("/api/v1/organizations/{own_org}/members/{user}"),
                None,
            ),
        ];
        for (method, path, body) in requests {
            let (status, _, problem) = call(&app, &home, &token, method.clone(), &path, body).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {problem}");
        }
    }
    // Their organization is untouched and still has its member.
    let (_, theirs) = get(
        &app,
        &away,
        &away_token,
        &format!("/api/v1/organizations/{their_org}/members"),
    )
    .await;
    assert_eq!(names(&theirs), ["Away User"]);
    let (_, list) = get(&app, &home, &token, "/api/v1/organizations?q=away").await;
    assert_eq!(names(&list), Vec::<String>::new());

    // The pages answer the same 404 for their ids.
    let (_, mut visitor) = signed_in(&app, &home, BuiltinRole::Admin, "admin@home.example").await;
    for org in [
        their_org.clone(),
        unknown.to_string(),
        "not-an-id".to_owned(),
    ] {
        let page = visitor.get(&format!("/agent/organizations/{org}")).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{org}");
        assert!(!page.body.contains("Away Org"));
        for (path, fields) in [
            (
                format!("/agent/organizations/{org}"),
                vec![("name", "Taken Over"), ("version", "1")],
            ),
            (
                format!("/agent/organizations/{org}/members"),
                vec![("email", "user@home.example")],
            ),
            (
                format!("/agent/organizations/{org}/members/{their_user}"),
                vec![("action", "primary_contact")],
            ),
            (
                format!("/agent/organizations/{org}/members/{their_user}/remove"),
                vec![],
            ),
        ] {
            let page = visitor.post_form(&path, &fields).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "POST {path}");
        }
    }
    for user in [their_user.clone(), unknown.to_string()] {
        for (path, fields) in [
            (
                format!("/agent/organizations/{own_org}/members/{user}"),
                vec![("action", "primary")],
            ),
            (
                format!("/agent/organizations/{own_org}/members/{user}/remove"),
                vec![],
            ),
        ] {
            let page = visitor.post_form(&path, &fields).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "POST {path}");
        }
    }
    // Adding their user by email finds nobody here.
    let page = visitor
        .post_form(
            &format!("/agent/organizations/{own_org}/members"),
            &[("email", "user@away.example")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body
            .contains("No end user has the address user@away.example")
    );
    let (_, theirs) = get(
        &app,
        &away,
        &away_token,
        &format!("/api/v1/organizations/{their_org}"),
    )
    .await;
    assert_eq!(theirs["name"], "Away Org");
    assert_eq!(theirs["version"], 1);
}

#[tokio::test]
async fn an_agent_creates_finds_opens_and_edits_an_organization_in_the_pages() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Pages Co").await;
    let token = app.issue_token(&tenant.tenant, "pages").await;
    let (admin, mut visitor) =
        signed_in(&app, &tenant, BuiltinRole::Admin, "admin@pages.example").await;

    let home = visitor.get("/agent").await;
    assert!(
        home.body.contains("href=\"/agent/organizations\""),
        "the panel links here"
    );
    let form = visitor.get("/agent/organizations/new").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("name=\"csrf\""));

    // Bad input: the form again, values kept, a message beside each field.
    let page = visitor
        .post_form(
            "/agent/organizations/new",
            &[
                ("name", ""),
                ("country", "Narnia"),
                ("city", "Cair Paravel"),
                ("domains", "narnia.example\nnot a domain"),
                ("validity", "valid"),
                ("ticket_sharing", "none"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body
            .contains("id=\"org-name-error\">Enter the organization"),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"org-country-error\""));
    assert!(page.body.contains("value=\"Cair Paravel\""), "values kept");
    assert!(page.body.contains("id=\"org-domains-error\""));

    let page = visitor
        .post_form(
            "/agent/organizations/new",
            &[
                ("name", "Harbour Freight"),
                ("customer_code", "HF-1"),
                ("city", "Lisbon"),
                ("country", "pt"),
                ("domains", "harbour.example"),
                ("validity", "valid"),
                ("ticket_sharing", "all_members"),
                ("auto_collaborate_primary_contacts", "on"),
                ("account_manager_agent_id", &admin.id.to_string()),
                ("alert_account_manager", "on"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location.expect("location");
    assert!(location.ends_with("?done=created"), "{location}");
    let id = location
        .trim_start_matches("/agent/organizations/")
        .trim_end_matches("?done=created")
        .to_owned();
    let page = visitor.get(&location).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<h1>Harbour Freight</h1>"));
    assert!(page.body.contains("The organization is created."));
    assert!(page.body.contains("harbour.example"));
    assert!(page.body.contains("Every member sees every member"));
    assert!(
        page.body.contains("Test Agent"),
        "the account manager by name"
    );

    // The agent is recorded as creator; the API sees it all.
    let (_, created) = get(
        &app,
        &tenant,
        &token,
        &format!("/api/v1/organizations/{id}"),
    )
    .await;
    assert_eq!(created["created_by"], json!(admin.id));
    assert_eq!(created["country"], "PT");
    assert_eq!(created["ticket_sharing"], "all_members");
    assert_eq!(created["auto_collaborate_primary_contacts"], true);
    assert_eq!(created["alert_account_manager"], true);
    assert_eq!(created["assign_to_account_manager"], false);

    // A taken name comes back with its message, and a 409.
    let page = visitor
        .post_form(
            "/agent/organizations/new",
            &[
                ("name", "harbour freight"),
                ("validity", "valid"),
                ("ticket_sharing", "none"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(
        page.body
            .contains("Another organization is already called harbour freight")
    );
    let page = visitor
        .post_form(
            "/agent/organizations/new",
            &[
                ("name", "Other Freight"),
                ("domains", "HARBOUR.example"),
                ("validity", "valid"),
                ("ticket_sharing", "none"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(
        page.body
            .contains("harbour.example belongs to Harbour Freight"),
        "{}",
        page.body
    );

    // The list finds it, by search too.
    let list = visitor.get("/agent/organizations").await;
    assert!(list.body.contains(&format!(
        "href=\"/agent/organizations/{id}\">Harbour Freight"
    )));
    let list = visitor.get("/agent/organizations?q=harb*fr").await;
    assert!(list.body.contains("Harbour Freight"));
    let list = visitor.get("/agent/organizations?q=nothing-like-it").await;
    assert!(list.body.contains("No organization matches."));

    // Members: added by email, flags changed, removed.
    let user = end_user(&app, &tenant, "Sam Sailor", "sam@harbour.example").await;
    let page = visitor
        .post_form(
            &format!("/agent/organizations/{id}/members"),
            &[("email", "SAM@harbour.example"), ("primary_contact", "on")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = visitor.get(&format!("/agent/organizations/{id}")).await;
    assert!(page.body.contains("Sam Sailor"));
    assert!(
        page.body.contains("1 member, 1 of them a primary contact."),
        "{}",
        page.body
    );
    let page = visitor
        .post_form(
            &format!("/agent/organizations/{id}/members/{user}"),
            &[("action", "not_primary_contact")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(
        memberships(&app, &tenant, &token, &user).await,
        [("Harbour Freight".to_owned(), true, false)]
    );
    let page = visitor
        .post_form(
            &format!("/agent/organizations/{id}/members"),
            &[("email", "nobody@harbour.example")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("value=\"nobody@harbour.example\""));
    let page = visitor
        .post_form(
            &format!("/agent/organizations/{id}/members/{user}/remove"),
            &[],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(memberships(&app, &tenant, &token, &user).await.is_empty());

    // Editing: saved with the version shown; a stale form is refused and kept.
    let edit = [
        ("version", "1"),
        ("name", "Harbour Freight GmbH"),
        ("city", "Porto"),
        ("validity", "invalid"),
        ("ticket_sharing", "none"),
        ("domains", "harbour.example\nfreight.example"),
    ];
    let page = visitor
        .post_form(&format!("/agent/organizations/{id}"), &edit)
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let page = visitor
        .get(page.location.as_deref().expect("location"))
        .await;
    assert!(page.body.contains("Your changes are saved."));
    assert!(page.body.contains("Harbour Freight GmbH"));
    assert!(page.body.contains("freight.example"));
    let page = visitor
        .post_form(&format!("/agent/organizations/{id}"), &edit)
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("someone else changed this organization"));
    let (_, saved) = get(
        &app,
        &tenant,
        &token,
        &format!("/api/v1/organizations/{id}"),
    )
    .await;
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["validity"], "invalid");
    assert_eq!(saved["updated_by"], json!(admin.id));
    assert_eq!(
        saved["domains"],
        json!(["freight.example", "harbour.example"])
    );

    // The customer groups box: granted from here, back here with its notice.
    let (status, _, group) = call(
        &app,
        &tenant,
        &token,
        Method::POST,
        "/api/v1/groups",
        Some(json!({"name": "Billing"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let page = visitor.get(&format!("/agent/organizations/{id}")).await;
    assert!(
        page.body
            .contains("No group is granted to this organization.")
    );
    let page = visitor
        .post_form(
            &format!("/agent/organizations/{id}/groups"),
            &[
                ("group_id", group["id"].as_str().expect("id")),
                ("permission", "rw"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = visitor
        .get(page.location.as_deref().expect("location"))
        .await;
    assert!(
        page.body.contains("id=\"organization-notice\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"organization-groups\""));

    // The validity filter of the list.
    let list = visitor.get("/agent/organizations?validity=valid").await;
    assert!(!list.body.contains("Harbour Freight GmbH"));
    let list = visitor.get("/agent/organizations?validity=invalid").await;
    assert!(list.body.contains("Harbour Freight GmbH"));
}

#[tokio::test]
async fn the_list_pages_without_javascript_and_read_only_agents_cannot_change() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Many Orgs").await;
    let token = app.issue_token(&tenant.tenant, "many").await;
    for i in 0..53 {
        create(
            &app,
            &tenant,
            &token,
            json!({"name": format!("Org {i:02}")}),
        )
        .await;
    }
    let (_, mut visitor) =
        signed_in(&app, &tenant, BuiltinRole::Agent, "reader@many.example").await;
    let first = visitor.get("/agent/organizations").await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.body.contains("Org 00") && first.body.contains("Org 49"));
    assert!(!first.body.contains("Org 50"));
    assert!(
        !first.body.contains("New organization"),
        "no create for a reader"
    );
    let next = href_after(&first, "Next page").expect("a next page link");
    let second = visitor.get(&next).await;
    assert_eq!(second.status, StatusCode::OK);
    assert!(second.body.contains("Org 50") && second.body.contains("Org 52"));
    assert!(!second.body.contains("Org 49"));
    assert!(href_after(&second, "Next page").is_none());

    // The built-in Agent role reads the directory but does not change it.
    let (_, list) = get(&app, &tenant, &token, "/api/v1/organizations?q=org%2000").await;
    let id = list["data"][0]["id"].as_str().expect("id").to_owned();
    let page = visitor.get(&format!("/agent/organizations/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("Edit organization"));
    assert_eq!(
        visitor.get("/agent/organizations/new").await.status,
        StatusCode::FORBIDDEN
    );
    let page = visitor
        .post_form(
            &format!("/agent/organizations/{id}"),
            &[
                ("version", "1"),
                ("name", "Renamed"),
                ("validity", "valid"),
                ("ticket_sharing", "none"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}
