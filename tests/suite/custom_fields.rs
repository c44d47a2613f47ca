//! Custom field definitions through the API and the admin page: defining, changing (key and
//! type fixed, stale versions refused), archiving and restoring, the limits, who may do what,
//! and another tenant's ids answering 404 everywhere. The validation of values per type is
//! unit-tested beside `domain::custom_fields`.

use domain::{BuiltinRole, Permission};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use tenantdesk_tests::{Page, TestApp, TestTenant, Visitor, database, spawn_app};
use uuid::Uuid;

const PASSWORD: &str = "lantern quartz meadow ripple";

struct Answer {
    status: StatusCode,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

async fn send(
    app: &TestApp,
    tenant: &TestTenant,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    if_match: Option<&str>,
) -> Answer {
    let mut request = app
        .http
        .request(method, app.url(path))
        .header("Host", tenant.host())
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(etag) = if_match {
        request = request.header("If-Match", etag);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    }
}

async fn get(app: &TestApp, tenant: &TestTenant, token: &str, path: &str) -> Answer {
    send(app, tenant, token, Method::GET, path, None, None).await
}

async fn post(app: &TestApp, tenant: &TestTenant, token: &str, path: &str, body: Value) -> Answer {
    send(app, tenant, token, Method::POST, path, Some(body), None).await
}

async fn patch(app: &TestApp, tenant: &TestTenant, token: &str, path: &str, body: Value) -> Answer {
    send(app, tenant, token, Method::PATCH, path, Some(body), None).await
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

/// A token of `tenant` holding exactly `permissions`, made through the API.
async fn scoped_token(
    app: &TestApp,
    tenant: &TestTenant,
    admin: &str,
    permissions: &[Permission],
) -> String {
    let keys: Vec<&str> = permissions.iter().map(|p| p.key()).collect();
    let name = format!("scoped {}", Uuid::now_v7());
    let issued = post(
        app,
        tenant,
        admin,
        "/api/v1/api-tokens",
        json!({"name": name, "permissions": keys}),
    )
    .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.body);
    issued.body["secret"].as_str().expect("secret").to_owned()
}

async fn create_tier(app: &TestApp, tenant: &TestTenant, token: &str) -> Value {
    let created = post(
        app,
        tenant,
        token,
        "/api/v1/fields/user",
        json!({"key": "contract_tier", "label": "Contract tier", "field_type": "choice",
               "options": ["Bronze", "Silver", "Gold"], "help_text": "The support plan.",
               "end_user_visible": true, "directory_column": true}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    created.body
}

/// Sets an end user's stored custom data directly, as the runtime role under RLS.
async fn store_custom(tenant: &TestTenant, user: Uuid, custom: Value) {
    let pool = PgPool::connect(&database().runtime_url)
        .await
        .expect("runtime connection");
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("select set_config('app.tenant_id', $1, true)")
        .bind(tenant.tenant.id.as_uuid().to_string())
        .execute(&mut *tx)
        .await
        .expect("set tenant");
    let updated = sqlx::query("update end_users set custom = $1::jsonb where id = $2")
        .bind(custom.to_string())
        .bind(user)
        .execute(&mut *tx)
        .await
        .expect("update custom");
    assert_eq!(updated.rows_affected(), 1);
    tx.commit().await.expect("commit");
    pool.close().await;
}

#[tokio::test]
async fn fields_are_defined_listed_and_changed_through_the_api() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Fields Api Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;

    let tier = create_tier(&app, &tenant, &admin).await;
    let id = tier["id"].as_str().expect("id").to_owned();
    assert_eq!(tier["entity"], "user");
    assert_eq!(tier["field_type"], "choice");
    assert_eq!(tier["options"], json!(["Bronze", "Silver", "Gold"]));
    assert_eq!(tier["end_user_visible"], true);
    assert_eq!(tier["end_user_editable"], false);
    assert_eq!(tier["archived"], false);
    assert_eq!(tier["version"], 1);
    assert_eq!(tier["position"], 0);

    let note = post(
        &app,
        &tenant,
        &admin,
        "/api/v1/fields/user",
        json!({"key": "note", "label": "Note", "field_type": "long_text", "end_user_editable": true}),
    )
    .await;
    assert_eq!(note.status, StatusCode::CREATED, "{}", note.body);
    assert_eq!(
        note.headers["location"].to_str().expect("location"),
        format!(
            "/api/v1/fields/user/{}",
            note.body["id"].as_str().expect("id")
        )
    );
    assert_eq!(
        note.body["position"], 1,
        "a field without position goes last"
    );
    assert_eq!(
        note.body["end_user_visible"], true,
        "editable implies visible"
    );

    let list = get(&app, &tenant, &admin, "/api/v1/fields/user").await;
    assert_eq!(list.status, StatusCode::OK);
    let keys: Vec<&str> = list.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|f| f["key"].as_str().expect("key"))
        .collect();
    assert_eq!(keys, ["contract_tier", "note"]);
    let organizations = get(&app, &tenant, &admin, "/api/v1/fields/organization").await;
    assert_eq!(
        organizations.body["data"],
        json!([]),
        "fields are per entity"
    );

    let shown = get(&app, &tenant, &admin, &format!("/api/v1/fields/user/{id}")).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.headers["etag"], "\"1\"");
    assert_eq!(shown.body["label"], "Contract tier");

    let changed = patch(
        &app,
        &tenant,
        &admin,
        &format!("/api/v1/fields/user/{id}"),
        json!({"version": 1, "label": "Support plan", "options": ["Bronze", "Silver", "Gold", "Platinum"],
               "required": true, "position": 5, "help_text": ""}),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["label"], "Support plan");
    assert_eq!(
        changed.body["key"], "contract_tier",
        "relabelling keeps the key"
    );
    assert_eq!(changed.body["options"][3], "Platinum");
    assert_eq!(changed.body["required"], true);
    assert_eq!(changed.body["position"], 5);
    assert_eq!(changed.body["help_text"], "");
    assert_eq!(changed.body["version"], 2);
    assert_eq!(changed.headers["etag"], "\"2\"");

    let list = get(&app, &tenant, &admin, "/api/v1/fields/user").await;
    assert_eq!(
        list.body["data"][1]["key"], "contract_tier",
        "the list follows positions"
    );

    let hidden = patch(
        &app,
        &tenant,
        &admin,
        &format!(
            "/api/v1/fields/user/{}",
            note.body["id"].as_str().expect("id")
        ),
        json!({"end_user_visible": false}),
    )
    .await;
    assert_eq!(hidden.status, StatusCode::OK, "{}", hidden.body);
    assert_eq!(
        hidden.body["end_user_editable"], false,
        "hiding a field also makes it read-only"
    );
}

#[tokio::test]
async fn removing_an_option_in_use_is_allowed_and_deletes_nothing() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Options Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    let tier = create_tier(&app, &tenant, &admin).await;
    let id = tier["id"].as_str().expect("id");
    let user = app
        .create_end_user(&tenant, "Ada Lovelace", "ada@options.example", None)
        .await;
    store_custom(&tenant, user.id, json!({"contract_tier": "Silver"})).await;

    let changed = patch(
        &app,
        &tenant,
        &admin,
        &format!("/api/v1/fields/user/{id}"),
        json!({"options": ["Bronze", "Gold"]}),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["options"], json!(["Bronze", "Gold"]));
    let warnings = changed.body["warnings"].as_array().expect("warnings");
    assert!(
        warnings.iter().any(|w| {
            let w = w.as_str().unwrap_or_default();
            w.contains("\"Silver\"") && w.contains("1 record") && w.contains("nothing is deleted")
        }),
        "{warnings:?}"
    );

    let unused = patch(
        &app,
        &tenant,
        &admin,
        &format!("/api/v1/fields/user/{id}"),
        json!({"options": ["Gold"]}),
    )
    .await;
    assert_eq!(unused.status, StatusCode::OK);
    assert!(
        unused.body.get("warnings").is_none(),
        "no record held Bronze: {}",
        unused.body
    );

    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let definition = store::custom_fields::by_id(
        &mut tx,
        domain::custom_fields::FieldEntity::User,
        Uuid::parse_str(id).expect("uuid"),
    )
    .await
    .expect("read")
    .expect("the field");
    let held = store::custom_fields::records_with_option(&mut tx, &definition, "Silver")
        .await
        .expect("count");
    tx.commit().await.expect("commit");
    assert_eq!(held, 1, "the stored value is still there");
}

#[tokio::test]
async fn bad_definitions_are_refused_naming_each_field() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Bad Fields Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;

    let refused = post(
        &app,
        &tenant,
        &admin,
        "/api/v1/fields/user",
        json!({"key": "Tier-1", "label": "", "field_type": "colour", "position": -1,
               "end_user_visible": false, "end_user_editable": true, "archived": true}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.headers["content-type"], "application/problem+json");
    let fields = named(&refused.body);
    for field in [
        "key",
        "label",
        "field_type",
        "position",
        "end_user_editable",
        "archived",
    ] {
        assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
    }

    for (body, field) in [
        (
            json!({"key": "tier", "label": "Tier", "field_type": "choice"}),
            "options",
        ),
        (
            json!({"key": "tier", "label": "Tier", "field_type": "text", "options": ["a"]}),
            "options",
        ),
        (
            json!({"key": "tier", "label": "Tier", "field_type": "choice", "options": ["a", "A"]}),
            "options",
        ),
        (
            json!({"key": "tier", "label": "Tier", "field_type": "choice", "options": "a,b"}),
            "options",
        ),
        (
            json!({"key": "tier", "label": "x".repeat(101), "field_type": "text"}),
            "label",
        ),
        (
            json!({"key": "tier", "label": "Tier", "field_type": "text", "help_text": "h".repeat(501)}),
            "help_text",
        ),
        (json!({"label": "Tier", "field_type": "text"}), "key"),
    ] {
        let refused = post(&app, &tenant, &admin, "/api/v1/fields/user", body.clone()).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(named(&refused.body), [field], "{body}");
    }
    let too_many: Vec<String> = (0..101).map(|i| format!("Option {i}")).collect();
    let refused = post(
        &app,
        &tenant,
        &admin,
        "/api/v1/fields/user",
        json!({"key": "tier", "label": "Tier", "field_type": "multi_choice", "options": too_many}),
    )
    .await;
    assert_eq!(named(&refused.body), ["options"]);

    create_tier(&app, &tenant, &admin).await;
    let duplicate = post(
        &app,
        &tenant,
        &admin,
        "/api/v1/fields/user",
        json!({"key": "contract_tier", "label": "Another", "field_type": "text"}),
    )
    .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT, "{}", duplicate.body);
    assert!(
        duplicate.body["detail"]
            .as_str()
            .expect("detail")
            .starts_with("key "),
        "{}",
        duplicate.body
    );
    let elsewhere = post(
        &app,
        &tenant,
        &admin,
        "/api/v1/fields/organization",
        json!({"key": "contract_tier", "label": "Tier", "field_type": "text"}),
    )
    .await;
    assert_eq!(
        elsewhere.status,
        StatusCode::CREATED,
        "another entity may use the key"
    );
    let other = app.create_tenant("Other Fields Corp").await;
    let other_admin = app.issue_token(&other.tenant, "admin").await;
    create_tier(&app, &other, &other_admin).await;
}

#[tokio::test]
async fn key_and_type_are_fixed_and_stale_versions_conflict() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Versions Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    let tier = create_tier(&app, &tenant, &admin).await;
    let path = format!("/api/v1/fields/user/{}", tier["id"].as_str().expect("id"));

    let refused = patch(
        &app,
        &tenant,
        &admin,
        &path,
        json!({"key": "plan", "field_type": "text", "label": "Plan"}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(named(&refused.body), ["key", "field_type"]);
    let refused = patch(
        &app,
        &tenant,
        &admin,
        &path,
        json!({"end_user_visible": false, "end_user_editable": true}),
    )
    .await;
    assert_eq!(named(&refused.body), ["end_user_editable"]);
    let refused = patch(&app, &tenant, &admin, &path, json!({"options": []})).await;
    assert_eq!(
        named(&refused.body),
        ["options"],
        "a choice keeps at least one option"
    );
    let unchanged = get(&app, &tenant, &admin, &path).await;
    assert_eq!(unchanged.body["label"], "Contract tier");
    assert_eq!(unchanged.body["version"], 1, "refusals write nothing");

    let first = patch(
        &app,
        &tenant,
        &admin,
        &path,
        json!({"version": 1, "label": "Plan"}),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK);
    let stale = patch(
        &app,
        &tenant,
        &admin,
        &path,
        json!({"version": 1, "label": "Tier"}),
    )
    .await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert_eq!(stale.body["type"], "urn:tenantdesk:problem:stale-version");
    let stale = send(
        &app,
        &tenant,
        &admin,
        Method::PATCH,
        &path,
        Some(json!({"label": "Tier"})),
        Some("\"1\""),
    )
    .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    let current = send(
        &app,
        &tenant,
        &admin,
        Method::PATCH,
        &path,
        Some(json!({"label": "Tier"})),
        Some("\"2\""),
    )
    .await;
    assert_eq!(current.status, StatusCode::OK, "{}", current.body);
    assert_eq!(current.body["label"], "Tier");
    assert_eq!(current.body["field_type"], "choice");
}

#[tokio::test]
async fn archiving_hides_a_field_and_restoring_brings_it_back() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Archive Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    let tier = create_tier(&app, &tenant, &admin).await;
    let id = tier["id"].as_str().expect("id");
    let path = format!("/api/v1/fields/user/{id}");
    let user = app
        .create_end_user(&tenant, "Grace Hopper", "grace@archive.example", None)
        .await;
    store_custom(&tenant, user.id, json!({"contract_tier": "Gold"})).await;

    let archived = patch(&app, &tenant, &admin, &path, json!({"archived": true})).await;
    assert_eq!(archived.status, StatusCode::OK, "{}", archived.body);
    assert_eq!(archived.body["archived"], true);
    assert!(
        archived.body["warnings"][0]
            .as_str()
            .expect("a warning")
            .contains("nothing is deleted")
    );
    let active = get(&app, &tenant, &admin, "/api/v1/fields/user?archived=false").await;
    assert_eq!(active.body["data"], json!([]));
    let all = get(&app, &tenant, &admin, "/api/v1/fields/user").await;
    assert_eq!(all.body["data"][0]["archived"], true);
    let only = get(&app, &tenant, &admin, "/api/v1/fields/user?archived=true").await;
    assert_eq!(only.body["data"][0]["id"], id);
    let bad = get(&app, &tenant, &admin, "/api/v1/fields/user?archived=maybe").await;
    assert_eq!(named(&bad.body), ["archived"]);

    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let definitions =
        store::custom_fields::list(&mut tx, domain::custom_fields::FieldEntity::User, true)
            .await
            .expect("definitions");
    let active_only =
        store::custom_fields::active(&mut tx, domain::custom_fields::FieldEntity::User)
            .await
            .expect("active");
    tx.commit().await.expect("commit");
    assert!(active_only.is_empty());
    let stored = json!({"contract_tier": "Gold"});
    let stored = stored.as_object().expect("object");
    assert!(
        domain::custom_fields::visible_values(&definitions, stored).is_empty(),
        "an archived field's value is hidden"
    );
    let refused = domain::custom_fields::apply_custom_values(
        &definitions,
        stored,
        json!({"contract_tier": "Bronze"})
            .as_object()
            .expect("object"),
    )
    .expect_err("an archived field takes no values");
    assert_eq!(refused[0].field, "custom.contract_tier");

    let restored = patch(&app, &tenant, &admin, &path, json!({"archived": false})).await;
    assert_eq!(restored.status, StatusCode::OK);
    assert_eq!(restored.body["archived"], false);
    assert_eq!(
        restored.body["options"],
        json!(["Bronze", "Silver", "Gold"])
    );
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let definitions =
        store::custom_fields::active(&mut tx, domain::custom_fields::FieldEntity::User)
            .await
            .expect("active");
    tx.commit().await.expect("commit");
    assert_eq!(
        domain::custom_fields::visible_values(&definitions, stored),
        *stored,
        "restoring shows the value again"
    );
}

#[tokio::test]
async fn lists_page_and_an_entity_holds_at_most_100_fields() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Limits Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    for i in 0..100 {
        let created = post(
            &app,
            &tenant,
            &admin,
            "/api/v1/fields/organization",
            json!({"key": format!("f{i:03}"), "label": format!("Field {i:03}"), "field_type": "number"}),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }
    let refused = post(
        &app,
        &tenant,
        &admin,
        "/api/v1/fields/organization",
        json!({"key": "one_more", "label": "One more", "field_type": "text"}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(
        refused.body["detail"]
            .as_str()
            .expect("detail")
            .contains("100")
    );

    let first = get(
        &app,
        &tenant,
        &admin,
        "/api/v1/fields/organization?limit=60",
    )
    .await;
    assert_eq!(first.body["data"].as_array().expect("data").len(), 60);
    let cursor = first.body["next_cursor"].as_str().expect("a next page");
    let second = get(
        &app,
        &tenant,
        &admin,
        &format!("/api/v1/fields/organization?limit=60&cursor={cursor}"),
    )
    .await;
    let rest = second.body["data"].as_array().expect("data");
    assert_eq!(rest.len(), 40);
    assert_eq!(rest[0]["key"], "f060");
    assert_eq!(second.body["next_cursor"], Value::Null);
    let default = get(&app, &tenant, &admin, "/api/v1/fields/organization").await;
    assert_eq!(default.body["data"].as_array().expect("data").len(), 50);
    let bad = get(
        &app,
        &tenant,
        &admin,
        "/api/v1/fields/organization?cursor=nonsense",
    )
    .await;
    assert_eq!(named(&bad.body), ["cursor"]);
}

#[tokio::test]
async fn reading_needs_users_read_and_writing_needs_directory_configure() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Scopes Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    let tier = create_tier(&app, &tenant, &admin).await;
    let path = format!("/api/v1/fields/user/{}", tier["id"].as_str().expect("id"));
    let reader = scoped_token(&app, &tenant, &admin, &[Permission::UsersRead]).await;
    let nobody = scoped_token(&app, &tenant, &admin, &[Permission::TicketsAll]).await;

    assert_eq!(
        get(&app, &tenant, &reader, "/api/v1/fields/user")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        get(&app, &tenant, &reader, &path).await.status,
        StatusCode::OK
    );
    for answer in [
        post(
            &app,
            &tenant,
            &reader,
            "/api/v1/fields/user",
            json!({"key": "x", "label": "X", "field_type": "text"}),
        )
        .await,
        patch(&app, &tenant, &reader, &path, json!({"label": "X"})).await,
    ] {
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert!(
            answer.body["detail"]
                .as_str()
                .expect("detail")
                .contains("directory.configure")
        );
    }
    for path in ["/api/v1/fields/user", path.as_str()] {
        let answer = get(&app, &tenant, &nobody, path).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert!(
            answer.body["detail"]
                .as_str()
                .expect("detail")
                .contains("users.read")
        );
    }
    let anonymous = app
        .get(&tenant.host(), "/api/v1/fields/user")
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let unchanged = get(&app, &tenant, &admin, &path).await;
    assert_eq!(unchanged.body["label"], "Contract tier");
}

#[tokio::test]
async fn unknown_entities_and_ids_are_not_found() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Unknown Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    let tier = create_tier(&app, &tenant, &admin).await;
    let id = tier["id"].as_str().expect("id");
    for path in [
        "/api/v1/fields/users".to_owned(),
        format!("/api/v1/fields/users/{id}"),
        format!("/api/v1/fields/organization/{id}"),
        format!("/api/v1/fields/user/{}", Uuid::now_v7()),
        "/api/v1/fields/user/not-a-uuid".to_owned(),
    ] {
        let answer = get(&app, &tenant, &admin, &path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        if path.matches('/').count() == 5 {
            let answer = patch(&app, &tenant, &admin, &path, json!({"label": "X"})).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "PATCH {path}");
        }
    }
    let answer = post(
        &app,
        &tenant,
        &admin,
        "/api/v1/fields/customer",
        json!({"key": "x", "label": "X", "field_type": "text"}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_tenants_fields_answer_404_on_every_endpoint() {
    let app = spawn_app().await;
    let ours = app.create_tenant("Our Fields Corp").await;
    let theirs = app.create_tenant("Their Fields Corp").await;
    let our_token = app.issue_token(&ours.tenant, "admin").await;
    let their_token = app.issue_token(&theirs.tenant, "admin").await;
    let their_field = create_tier(&app, &theirs, &their_token).await;
    let their_id = their_field["id"].as_str().expect("id");
    let path = format!("/api/v1/fields/user/{their_id}");

    let ours_list = get(&app, &ours, &our_token, "/api/v1/fields/user").await;
    assert_eq!(
        ours_list.body["data"],
        json!([]),
        "their fields are not ours"
    );
    let shown = get(&app, &ours, &our_token, &path).await;
    assert_eq!(shown.status, StatusCode::NOT_FOUND);
    let unknown = get(
        &app,
        &ours,
        &our_token,
        &format!("/api/v1/fields/user/{}", Uuid::now_v7()),
    )
    .await;
    assert_eq!(shown.body, unknown.body, "exactly like an unknown id");
    let changed = patch(
        &app,
        &ours,
        &our_token,
        &path,
        json!({"label": "Hijacked", "archived": true}),
    )
    .await;
    assert_eq!(changed.status, StatusCode::NOT_FOUND);
    let cursor = get(
        &app,
        &ours,
        &our_token,
        &format!("/api/v1/fields/user?cursor={their_id}"),
    )
    .await;
    assert_eq!(
        cursor.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "their id is no cursor here"
    );
    let created = create_tier(&app, &ours, &our_token).await;
    assert_ne!(created["id"], their_field["id"]);
    let their_token_on_our_host = get(&app, &ours, &their_token, "/api/v1/fields/user").await;
    assert_eq!(their_token_on_our_host.status, StatusCode::UNAUTHORIZED);

    let theirs_now = get(&app, &theirs, &their_token, &path).await;
    assert_eq!(theirs_now.body["label"], "Contract tier");
    assert_eq!(theirs_now.body["archived"], false);
    assert_eq!(theirs_now.body["version"], 1);
}

// ---------------------------------------------------------------------------------------------
// The admin page
// ---------------------------------------------------------------------------------------------

async fn signed_in<'a>(
    app: &'a TestApp,
    tenant: &TestTenant,
    role: BuiltinRole,
    email: &str,
) -> Visitor<'a> {
    app.create_agent(&tenant.tenant, role, email, PASSWORD)
        .await;
    let mut visitor = app.visitor(&tenant.host());
    visitor.sign_in_agent(email, PASSWORD).await;
    visitor
}

fn redirected_to(page: &Page, prefix: &str) -> String {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location.clone().expect("a location");
    assert!(location.starts_with(prefix), "{location}");
    location
}

/// The `field=` id of a redirect after a change.
fn field_id(location: &str) -> String {
    location
        .split(['?', '&', '#'])
        .find_map(|part| part.strip_prefix("field="))
        .unwrap_or_else(|| panic!("no field in {location}"))
        .to_owned()
}

async fn fields_of(
    app: &TestApp,
    tenant: &TestTenant,
) -> Vec<domain::custom_fields::FieldDefinition> {
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let fields =
        store::custom_fields::list(&mut tx, domain::custom_fields::FieldEntity::User, true)
            .await
            .expect("fields");
    tx.commit().await.expect("commit");
    fields
}

#[tokio::test]
async fn an_admin_adds_edits_archives_and_restores_fields_with_forms() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Fields Page Corp").await;
    let mut admin = signed_in(
        &app,
        &tenant,
        BuiltinRole::Admin,
        "admin@fields-page.example",
    )
    .await;

    let page = admin.get("/admin/fields").await;
    assert_eq!(page.status, StatusCode::OK);
    for heading in ["End users", "Organizations", "Tickets"] {
        assert!(page.body.contains(heading), "{heading}");
    }
    assert!(
        page.body
            .contains("href=\"/admin/fields\" aria-current=\"page\"")
    );

    let refused = admin
        .post_form(
            "/admin/fields/user",
            &[
                ("key", "Tier!"),
                ("label", ""),
                ("field_type", "choice"),
                ("options", "\n"),
                ("help_text", "Kept as typed"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("The field was not added."));
    assert!(refused.body.contains("Enter a label."));
    assert!(refused.body.contains("Must list at least one option."));
    assert!(
        refused.body.contains("value=\"Tier!\""),
        "entered values are kept"
    );
    assert!(refused.body.contains("Kept as typed"));
    assert!(fields_of(&app, &tenant).await.is_empty());

    let created = admin
        .post_form(
            "/admin/fields/user",
            &[
                ("key", "contract_tier"),
                ("label", "Contract tier"),
                ("field_type", "choice"),
                ("options", "Bronze\r\nSilver\r\nGold\r\n"),
                ("end_user_editable", "on"),
                ("directory_column", "on"),
            ],
        )
        .await;
    let location = redirected_to(&created, "/admin/fields?done=created");
    let id = field_id(&location);
    let page = admin.get(&location).await;
    assert!(
        page.body
            .contains("The field Contract tier is added to end users."),
        "{}",
        page.body
    );
    assert!(page.body.contains("<code>contract_tier</code>"));
    assert!(page.body.contains("See and edit"));
    let stored = fields_of(&app, &tenant).await;
    assert_eq!(stored[0].options, ["Bronze", "Silver", "Gold"]);
    assert!(stored[0].end_user_visible && stored[0].directory_column);

    let duplicate = admin
        .post_form(
            "/admin/fields/user",
            &[
                ("key", "contract_tier"),
                ("label", "Again"),
                ("field_type", "text"),
            ],
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert!(
        duplicate
            .body
            .contains("A field with this key already exists")
    );

    let edit_path = format!("/admin/fields/user/{id}");
    let edit = admin.get(&edit_path).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.body.contains("name=\"version\" value=\"1\""));
    assert!(
        !edit.body.contains("name=\"key\""),
        "the key is not editable"
    );
    let saved = admin
        .post_form(
            &edit_path,
            &[
                ("version", "1"),
                ("label", "Support plan"),
                ("options", "Bronze\nGold\nPlatinum"),
                ("help_text", "What they pay for"),
                ("position", "3"),
                ("end_user_visible", "on"),
                ("required", "on"),
            ],
        )
        .await;
    let location = redirected_to(&saved, "/admin/fields?done=saved");
    let page = admin.get(&location).await;
    assert!(page.body.contains("The field Support plan is saved."));
    let stored = fields_of(&app, &tenant).await;
    assert_eq!(stored[0].key, "contract_tier");
    assert_eq!(stored[0].options, ["Bronze", "Gold", "Platinum"]);
    assert!(stored[0].required && stored[0].end_user_visible && !stored[0].end_user_editable);
    assert!(!stored[0].directory_column, "an unchecked box clears");
    assert_eq!(stored[0].position, 3);
    assert_eq!(stored[0].version, 2);

    let stale = admin
        .post_form(
            &edit_path,
            &[
                ("version", "1"),
                ("label", "Late edit"),
                ("options", "Bronze"),
                ("position", "3"),
            ],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.body.contains("Someone else saved this field"));
    assert!(stale.body.contains("value=\"Late edit\""));
    assert!(stale.body.contains("name=\"version\" value=\"2\""));
    assert_eq!(fields_of(&app, &tenant).await[0].label, "Support plan");

    let invalid = admin
        .post_form(
            &edit_path,
            &[("version", "2"), ("label", ""), ("options", "A\na")],
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(invalid.body.contains("Nothing was saved."));
    assert!(invalid.body.contains("Enter a label."));
    assert!(invalid.body.contains("only once"));

    let archived = admin.post_form(&format!("{edit_path}/archive"), &[]).await;
    let location = redirected_to(&archived, "/admin/fields?done=archived");
    let page = admin.get(&location).await;
    assert!(
        page.body
            .contains("is archived: its values are hidden, not deleted")
    );
    assert!(page.body.contains(&format!("{edit_path}/restore")));
    assert!(fields_of(&app, &tenant).await[0].archived);

    let restored = admin.post_form(&format!("{edit_path}/restore"), &[]).await;
    let location = redirected_to(&restored, "/admin/fields?done=restored");
    let page = admin.get(&location).await;
    assert!(page.body.contains("The field Support plan is restored"));
    let stored = fields_of(&app, &tenant).await;
    assert!(!stored[0].archived);
    assert_eq!(stored[0].options, ["Bronze", "Gold", "Platinum"]);
}

#[tokio::test]
async fn only_agents_who_configure_the_directory_open_the_fields_page() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Fields Roles Corp").await;

    let mut anonymous = app.visitor(&tenant.host());
    let page = anonymous.get("/admin/fields").await;
    redirected_to(&page, "/agent/login");
    let page = anonymous
        .post_form(
            "/admin/fields/user",
            &[("key", "x"), ("label", "X"), ("field_type", "text")],
        )
        .await;
    redirected_to(&page, "/agent/login");

    for (role, email) in [
        (BuiltinRole::Manager, "manager@fields-roles.example"),
        (BuiltinRole::Agent, "agent@fields-roles.example"),
    ] {
        let mut visitor = signed_in(&app, &tenant, role, email).await;
        let page = visitor.get("/admin/fields").await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{role:?}");
        assert!(
            page.body
                .contains(Permission::DirectoryConfigure.description()),
            "{}",
            page.body
        );
        let page = visitor
            .post_form(
                "/admin/fields/user",
                &[("key", "x"), ("label", "X"), ("field_type", "text")],
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{role:?}");
    }
    assert!(fields_of(&app, &tenant).await.is_empty());
    let mut admin = signed_in(
        &app,
        &tenant,
        BuiltinRole::Admin,
        "admin@fields-roles.example",
    )
    .await;
    assert_eq!(admin.get("/admin/fields").await.status, StatusCode::OK);
}

#[tokio::test]
async fn another_tenants_fields_are_not_found_on_the_admin_pages() {
    let app = spawn_app().await;
    let ours = app.create_tenant("Our Page Corp").await;
    let theirs = app.create_tenant("Their Page Corp").await;
    let their_token = app.issue_token(&theirs.tenant, "admin").await;
    let their_field = create_tier(&app, &theirs, &their_token).await;
    let their_id = their_field["id"].as_str().expect("id");
    let mut admin = signed_in(&app, &ours, BuiltinRole::Admin, "admin@our-page.example").await;

    let page = admin.get("/admin/fields").await;
    assert!(!page.body.contains(their_id), "their field is not listed");
    let path = format!("/admin/fields/user/{their_id}");
    let unknown = admin
        .get(&format!("/admin/fields/user/{}", Uuid::now_v7()))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let page = admin.get(&path).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(page.body, unknown.body, "exactly like an unknown id");
    let page = admin
        .post_form(
            &path,
            &[("version", "1"), ("label", "Hijacked"), ("options", "A")],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    for action in ["archive", "restore"] {
        let page = admin.post_form(&format!("{path}/{action}"), &[]).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{action}");
    }
    let page = admin.get(&format!("/admin/fields/users/{their_id}")).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = admin
        .post_form(
            "/admin/fields/customers",
            &[("key", "x"), ("label", "X"), ("field_type", "text")],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    let theirs_now = get(
        &app,
        &theirs,
        &their_token,
        &format!("/api/v1/fields/user/{their_id}"),
    )
    .await;
    assert_eq!(theirs_now.body["label"], "Contract tier");
    assert_eq!(theirs_now.body["archived"], false);
    assert_eq!(theirs_now.body["version"], 1);
}

#[tokio::test]
async fn the_openapi_document_describes_the_field_endpoints() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Fields Doc Corp").await;
    let doc: Value = app
        .get(&tenant.host(), "/api/v1/openapi.json")
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    for (path, methods) in [
        ("/api/v1/fields/{entity}", ["get", "post"]),
        ("/api/v1/fields/{entity}/{id}", ["get", "patch"]),
    ] {
        for method in methods {
            let operation = &doc["paths"][path][method];
            assert!(operation.is_object(), "{method} {path} is documented");
            assert!(
                operation["responses"]["404"].is_object(),
                "{method} {path} documents its 404"
            );
        }
    }
    assert!(
        doc["paths"]["/api/v1/fields/{entity}"]["post"]["requestBody"]["content"]["application/json"]
            ["example"]["key"]
            .is_string(),
        "creating has an example"
    );
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["FieldBody"]["example"]["field_type"], "choice");
    assert!(schemas["FieldPatch"]["example"].is_object());
}
