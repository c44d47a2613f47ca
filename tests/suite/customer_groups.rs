//! Customer groups: defining them through the API and the admin page, granting them to end
//! users and organizations (API and the agent's form handlers), the effective permission with
//! its sources, who may do what, and another tenant's groups, users and organizations.
//!
//! Organizations and memberships are written with SQL as the runtime role inside the tenant
//! (row-level security applies), since the organization API is not what is tested here.

use domain::BuiltinRole;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use store::customer_groups::{self, GroupPermission};
use tenantdesk_tests::{Page, TestApp, TestTenant, Visitor, spawn_app};
use uuid::Uuid;

const PASSWORD: &str = "lantern meadow quartz ferry";

/// A token of `tenant` holding exactly `permissions`, made through the API.
async fn token_with(
    app: &TestApp,
    tenant: &TestTenant,
    admin: &str,
    permissions: &[&str],
) -> String {
    let (status, issued) = app
        .api(
            tenant,
            admin,
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({"name": format!("scoped {}", Uuid::now_v7()), "permissions": permissions})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    issued["secret"].as_str().expect("secret").to_owned()
}

async fn create_group(
    app: &TestApp,
    tenant: &TestTenant,
    token: &str,
    name: &str,
    default: Option<&str>,
) -> String {
    let (status, group) = app
        .api(
            tenant,
            token,
            Method::POST,
            "/api/v1/groups",
            Some(json!({"name": name, "default_permission": default})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    group["id"].as_str().expect("id").to_owned()
}

/// Runs `sql` (with `$1` the tenant id, `$2`.. `binds`) as the runtime role in the tenant.
async fn tenant_sql(tenant: &TestTenant, sql: &str, binds: &[Uuid]) {
    let pool = sqlx::PgPool::connect(&tenantdesk_tests::database().runtime_url)
        .await
        .expect("runtime pool");
    let mut tx = pool.begin().await.expect("tx");
    sqlx::query("select set_config('app.tenant_id', $1, true)")
        .bind(tenant.tenant.id.as_uuid().to_string())
        .execute(&mut *tx)
        .await
        .expect("set tenant");
    let mut query = sqlx::query(sql).bind(tenant.tenant.id.as_uuid());
    for bind in binds {
        query = query.bind(*bind);
    }
    query.execute(&mut *tx).await.expect("tenant sql");
    tx.commit().await.expect("commit");
    pool.close().await;
}

async fn create_organization(tenant: &TestTenant, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    tenant_sql(
        tenant,
        &format!("insert into organizations (tenant_id, id, name) values ($1, $2, '{name}')"),
        &[id],
    )
    .await;
    id
}

async fn add_member(tenant: &TestTenant, organization: Uuid, user: Uuid) {
    tenant_sql(
        tenant,
        "insert into organization_members (tenant_id, end_user_id, organization_id) values ($1, $2, $3)",
        &[user, organization],
    )
    .await;
}

async fn end_user(app: &TestApp, tenant: &TestTenant, name: &str, email: &str) -> Uuid {
    app.create_end_user(tenant, name, email, None).await.id
}

fn field_names(problem: &Value) -> Vec<String> {
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

/// The sources of one group in a `GET /users/{id}/groups` answer, as (source, organization
/// name, permission).
fn sources(effective: &Value, group: &str) -> (String, Vec<(String, String, String)>) {
    let entry = effective["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|g| g["group_id"] == group)
        .unwrap_or_else(|| panic!("group {group} not in {effective}"));
    let sources = entry["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| {
            (
                s["source"].as_str().expect("source").to_owned(),
                s["organization"]["name"].as_str().unwrap_or("").to_owned(),
                s["permission"].as_str().expect("permission").to_owned(),
            )
        })
        .collect();
    (
        entry["permission"].as_str().expect("permission").to_owned(),
        sources,
    )
}

fn triple(source: &str, organization: &str, permission: &str) -> (String, String, String) {
    (source.into(), organization.into(), permission.into())
}

async fn user_has(
    app: &TestApp,
    tenant: &TestTenant,
    user: Uuid,
    group: &str,
    needed: GroupPermission,
) -> bool {
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    let has = customer_groups::user_has(&mut tx, user, group.parse().expect("uuid"), needed)
        .await
        .expect("user_has");
    tx.commit().await.expect("commit");
    has
}

#[tokio::test]
async fn groups_are_created_read_changed_and_deleted_through_the_api() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Groups Api Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;

    let response = app
        .http
        .post(app.url("/api/v1/groups"))
        .header("Host", tenant.host())
        .bearer_auth(&admin)
        .json(&json!({"name": " Billing ", "description": "Invoices", "default_permission": "ro"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert_eq!(response.headers()["etag"], "\"1\"");
    let created: Value = response.json().await.expect("json");
    assert_eq!(created["name"], "Billing", "trimmed");
    assert_eq!(created["default_permission"], "ro");
    assert_eq!(created["version"], 1);
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(location, format!("/api/v1/groups/{id}"));

    let (status, problem) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            "/api/v1/groups",
            Some(json!({"name": "BILLING"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "names are unique regardless of case"
    );
    assert!(
        problem["detail"].as_str().expect("detail").contains("name"),
        "{problem}"
    );

    let (status, problem) = app.api(&tenant, &admin, Method::POST, "/api/v1/groups",
        Some(json!({"name": "", "description": "x".repeat(501), "default_permission": "admin", "colour": "red"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = field_names(&problem);
    for field in ["name", "description", "default_permission", "colour"] {
        assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
    }
    let (status, problem) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            "/api/v1/groups",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_names(&problem), vec!["name"]);

    create_group(&app, &tenant, &admin, "Accounts", None).await;
    let (status, list) = app
        .api(&tenant, &admin, Method::GET, "/api/v1/groups", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|g| g["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, vec!["Billing", "Accounts"], "oldest first");
    let (status, page) = app
        .api(&tenant, &admin, Method::GET, "/api/v1/groups?limit=1", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["data"].as_array().expect("data").len(), 1);
    assert!(page["next_cursor"].is_string());

    let path = format!("/api/v1/groups/{id}");
    let (status, changed) = app
        .api(
            &tenant,
            &admin,
            Method::PATCH,
            &path,
            Some(json!({"version": 1, "name": "Billing and payments", "default_permission": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["name"], "Billing and payments");
    assert_eq!(changed["default_permission"], Value::Null);
    assert_eq!(changed["description"], "Invoices", "untouched");
    assert_eq!(changed["version"], 2);

    let (status, problem) = app
        .api(
            &tenant,
            &admin,
            Method::PATCH,
            &path,
            Some(json!({"version": 1, "description": "late"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "a stale version");
    assert!(
        problem["detail"].as_str().expect("detail").contains('2'),
        "{problem}"
    );
    let response = app
        .http
        .patch(app.url(&path))
        .header("Host", tenant.host())
        .header("If-Match", "\"2\"")
        .bearer_auth(&admin)
        .json(&json!({"default_permission": "rw"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"3\"");
    let (status, _) = app
        .api(
            &tenant,
            &admin,
            Method::PATCH,
            &path,
            Some(json!({"name": "accounts"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "renaming onto another group's name"
    );

    let (status, shown) = app.api(&tenant, &admin, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["default_permission"], "rw");

    let user = end_user(&app, &tenant, "Ada Lovelace", "ada@groups-api.example").await;
    let (status, _) = app
        .api(
            &tenant,
            &admin,
            Method::PUT,
            &format!("/api/v1/users/{user}/groups/{id}"),
            Some(json!({"permission": "ro"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.api(&tenant, &admin, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.api(&tenant, &admin, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.api(&tenant, &admin, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, effective) = app
        .api(
            &tenant,
            &admin,
            Method::GET,
            &format!("/api/v1/users/{user}/groups"),
            None,
        )
        .await;
    assert_eq!(
        effective["data"],
        json!([]),
        "the grant went with the group"
    );

    let (_, document) = app
        .api(&tenant, &admin, Method::GET, "/api/v1/openapi.json", None)
        .await;
    for path in [
        "/api/v1/groups",
        "/api/v1/groups/{id}",
        "/api/v1/users/{id}/groups",
        "/api/v1/users/{id}/groups/{group_id}",
        "/api/v1/organizations/{id}/groups",
        "/api/v1/organizations/{id}/groups/{group_id}",
    ] {
        assert!(document["paths"][path].is_object(), "{path} is documented");
    }
}

#[tokio::test]
async fn the_effective_permission_is_the_union_of_direct_organization_and_default_grants() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Effective Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    let billing = create_group(&app, &tenant, &admin, "Billing", Some("ro")).await;
    let support = create_group(&app, &tenant, &admin, "Support", None).await;
    let archive = create_group(&app, &tenant, &admin, "Archive", None).await;

    let ada = end_user(&app, &tenant, "Ada Lovelace", "ada@effective.example").await;
    let grace = end_user(&app, &tenant, "Grace Hopper", "grace@effective.example").await;
    let nobody = end_user(&app, &tenant, "No Body", "nobody@effective.example").await;
    let acme = create_organization(&tenant, "Acme").await;
    let zenith = create_organization(&tenant, "Zenith").await;
    add_member(&tenant, acme, ada).await;
    add_member(&tenant, acme, grace).await;
    add_member(&tenant, zenith, grace).await;

    let put = |path: String, permission: &'static str| {
        let (app, tenant, admin) = (&app, &tenant, &admin);
        async move {
            app.api(
                tenant,
                admin,
                Method::PUT,
                &path,
                Some(json!({"permission": permission})),
            )
            .await
        }
    };
    // Ada: direct ro, through Acme rw, default ro -> rw with three sources.
    let (status, answer) = put(format!("/api/v1/users/{ada}/groups/{billing}"), "ro").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["permission"], "ro",
        "before Acme's grant: direct ro and default ro"
    );
    let (status, answer) = put(
        format!("/api/v1/organizations/{acme}/groups/{billing}"),
        "rw",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer,
        json!({"group_id": billing, "group_name": "Billing", "permission": "rw"})
    );
    // Grace: through Acme ro and Zenith rw on Support.
    put(
        format!("/api/v1/organizations/{acme}/groups/{support}"),
        "ro",
    )
    .await;
    put(
        format!("/api/v1/organizations/{zenith}/groups/{support}"),
        "rw",
    )
    .await;
    // A changed grant replaces the old one.
    put(format!("/api/v1/users/{grace}/groups/{archive}"), "rw").await;
    let (status, answer) = put(format!("/api/v1/users/{grace}/groups/{archive}"), "ro").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["permission"], "ro");
    assert_eq!(answer["sources"].as_array().expect("sources").len(), 1);

    let (status, effective) = app
        .api(
            &tenant,
            &admin,
            Method::GET,
            &format!("/api/v1/users/{ada}/groups"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = effective["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|g| g["group_name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        vec!["Billing", "Support"],
        "by name; Archive is not Ada's"
    );
    assert_eq!(
        sources(&effective, &billing),
        (
            "rw".into(),
            vec![
                triple("direct", "", "ro"),
                triple("organization", "Acme", "rw"),
                triple("default", "", "ro")
            ]
        )
    );
    let entry = &effective["data"][0]["sources"][1]["organization"];
    assert_eq!(entry["id"], acme.to_string());
    assert!(user_has(&app, &tenant, ada, &billing, GroupPermission::Rw).await);

    let (_, effective) = app
        .api(
            &tenant,
            &admin,
            Method::GET,
            &format!("/api/v1/users/{grace}/groups"),
            None,
        )
        .await;
    assert_eq!(
        sources(&effective, &support),
        (
            "rw".into(),
            vec![
                triple("organization", "Acme", "ro"),
                triple("organization", "Zenith", "rw")
            ]
        )
    );
    assert_eq!(
        sources(&effective, &billing),
        (
            "rw".into(),
            vec![
                triple("organization", "Acme", "rw"),
                triple("default", "", "ro")
            ]
        )
    );
    assert_eq!(
        sources(&effective, &archive),
        ("ro".into(), vec![triple("direct", "", "ro")])
    );

    // Revoking Zenith's grant leaves Acme's.
    let (status, _) = app
        .api(
            &tenant,
            &admin,
            Method::DELETE,
            &format!("/api/v1/organizations/{zenith}/groups/{support}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, effective) = app
        .api(
            &tenant,
            &admin,
            Method::GET,
            &format!("/api/v1/users/{grace}/groups"),
            None,
        )
        .await;
    assert_eq!(
        sources(&effective, &support),
        ("ro".into(), vec![triple("organization", "Acme", "ro")])
    );
    assert!(user_has(&app, &tenant, grace, &support, GroupPermission::Ro).await);
    assert!(!user_has(&app, &tenant, grace, &support, GroupPermission::Rw).await);

    // Revoking Ada's own grant leaves Acme's and the default.
    let (status, _) = app
        .api(
            &tenant,
            &admin,
            Method::DELETE,
            &format!("/api/v1/users/{ada}/groups/{billing}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .api(
            &tenant,
            &admin,
            Method::DELETE,
            &format!("/api/v1/users/{ada}/groups/{billing}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing left to revoke");
    let (_, effective) = app
        .api(
            &tenant,
            &admin,
            Method::GET,
            &format!("/api/v1/users/{ada}/groups"),
            None,
        )
        .await;
    assert_eq!(
        sources(&effective, &billing),
        (
            "rw".into(),
            vec![
                triple("organization", "Acme", "rw"),
                triple("default", "", "ro")
            ]
        )
    );

    // Somebody in no organization holds the defaults only.
    let (_, effective) = app
        .api(
            &tenant,
            &admin,
            Method::GET,
            &format!("/api/v1/users/{nobody}/groups"),
            None,
        )
        .await;
    assert_eq!(effective["data"].as_array().expect("data").len(), 1);
    assert_eq!(
        sources(&effective, &billing),
        ("ro".into(), vec![triple("default", "", "ro")])
    );
    assert!(user_has(&app, &tenant, nobody, &billing, GroupPermission::Ro).await);
    assert!(!user_has(&app, &tenant, nobody, &billing, GroupPermission::Rw).await);
    assert!(!user_has(&app, &tenant, nobody, &support, GroupPermission::Ro).await);

    let (status, grants) = app
        .api(
            &tenant,
            &admin,
            Method::GET,
            &format!("/api/v1/organizations/{acme}/groups"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        grants,
        json!({"data": [
            {"group_id": billing, "group_name": "Billing", "permission": "rw"},
            {"group_id": support, "group_name": "Support", "permission": "ro"},
        ]})
    );

    let (status, problem) = put(format!("/api/v1/users/{ada}/groups/{billing}"), "write").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_names(&problem), vec!["permission"]);
    let (status, problem) = app
        .api(
            &tenant,
            &admin,
            Method::PUT,
            &format!("/api/v1/organizations/{acme}/groups/{billing}"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_names(&problem), vec!["permission"]);
}

#[tokio::test]
async fn reading_granting_and_defining_groups_each_need_their_permission() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Group Scope Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    let group = create_group(&app, &tenant, &admin, "Billing", None).await;
    let user = end_user(&app, &tenant, "Ada Lovelace", "ada@group-scope.example").await;
    let org = create_organization(&tenant, "Acme").await;
    let reader = token_with(&app, &tenant, &admin, &["users.read"]).await;
    let manager = token_with(&app, &tenant, &admin, &["users.read", "users.manage"]).await;
    let configurer = token_with(&app, &tenant, &admin, &["directory.configure"]).await;

    let grant = json!({"permission": "ro"});
    let cases: Vec<(Method, String, Option<Value>, &str)> = vec![
        (Method::GET, "/api/v1/groups".into(), None, "users.read"),
        (
            Method::GET,
            format!("/api/v1/groups/{group}"),
            None,
            "users.read",
        ),
        (
            Method::GET,
            format!("/api/v1/users/{user}/groups"),
            None,
            "users.read",
        ),
        (
            Method::GET,
            format!("/api/v1/organizations/{org}/groups"),
            None,
            "users.read",
        ),
        (
            Method::POST,
            "/api/v1/groups".into(),
            Some(json!({"name": "New"})),
            "directory.configure",
        ),
        (
            Method::PATCH,
            format!("/api/v1/groups/{group}"),
            Some(json!({"description": "d"})),
            "directory.configure",
        ),
        (
            Method::PUT,
            format!("/api/v1/users/{user}/groups/{group}"),
            Some(grant.clone()),
            "users.manage",
        ),
        (
            Method::PUT,
            format!("/api/v1/organizations/{org}/groups/{group}"),
            Some(grant.clone()),
            "users.manage",
        ),
        (
            Method::DELETE,
            format!("/api/v1/users/{user}/groups/{group}"),
            None,
            "users.manage",
        ),
        (
            Method::DELETE,
            format!("/api/v1/organizations/{org}/groups/{group}"),
            None,
            "users.manage",
        ),
    ];
    for (token, holds) in [
        (&reader, &["users.read"][..]),
        (&manager, &["users.read", "users.manage"][..]),
        (&configurer, &["directory.configure"][..]),
    ] {
        for (method, path, body, needs) in &cases {
            let (status, problem) = app
                .api(&tenant, token, method.clone(), path, body.clone())
                .await;
            if holds.contains(needs) {
                assert!(
                    status.is_success(),
                    "{holds:?} on {method} {path}: {status} {problem}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{holds:?} on {method} {path}"
                );
                assert!(
                    problem["detail"].as_str().expect("detail").contains(needs),
                    "{problem}"
                );
            }
        }
    }
    let (status, _) = app
        .api(
            &tenant,
            &manager,
            Method::DELETE,
            &format!("/api/v1/groups/{group}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .api(
            &tenant,
            &configurer,
            Method::DELETE,
            &format!("/api/v1/groups/{group}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let response = app
        .get(&tenant.host(), "/api/v1/groups")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn another_tenants_groups_users_and_organizations_are_not_found_on_every_endpoint() {
    let app = spawn_app().await;
    let ours = app.create_tenant("Our Groups Corp").await;
    let theirs = app.create_tenant("Their Groups Corp").await;
    let token = app.issue_token(&ours.tenant, "ours").await;
    let their_token = app.issue_token(&theirs.tenant, "theirs").await;

    let our_group = create_group(&app, &ours, &token, "Billing", None).await;
    let our_user = end_user(&app, &ours, "Ada Lovelace", "ada@our-groups.example").await;
    let our_org = create_organization(&ours, "Acme").await;
    let their_group = create_group(&app, &theirs, &their_token, "Billing", Some("rw")).await;
    let their_user = end_user(&app, &theirs, "Ada Lovelace", "ada@our-groups.example").await;
    let their_org = create_organization(&theirs, "Acme").await;
    add_member(&theirs, their_org, their_user).await;
    for path in [
        format!("/api/v1/users/{their_user}/groups/{their_group}"),
        format!("/api/v1/organizations/{their_org}/groups/{their_group}"),
    ] {
        let (status, _) = app
            .api(
                &theirs,
                &their_token,
                Method::PUT,
                &path,
                Some(json!({"permission": "rw"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }

    let grant = Some(json!({"permission": "rw"}));
    let patch = Some(json!({"name": "Mine now"}));
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/api/v1/groups/{their_group}"), None),
        (
            Method::PATCH,
            format!("/api/v1/groups/{their_group}"),
            patch,
        ),
        (
            Method::DELETE,
            format!("/api/v1/groups/{their_group}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/users/{their_user}/groups"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/organizations/{their_org}/groups"),
            None,
        ),
        // Their group with our user or organization, our group with theirs, and theirs alone.
        (
            Method::PUT,
            format!("/api/v1/users/{our_user}/groups/{their_group}"),
            grant.clone(),
        ),
        (
            Method::PUT,
            format!("/api/v1/users/{their_user}/groups/{our_group}"),
            grant.clone(),
        ),
        (
            Method::PUT,
            format!("/api/v1/users/{their_user}/groups/{their_group}"),
            grant.clone(),
        ),
        (
            Method::PUT,
            format!("/api/v1/organizations/{our_org}/groups/{their_group}"),
            grant.clone(),
        ),
        (
            Method::PUT,
            format!("/api/v1/organizations/{their_org}/groups/{our_group}"),
            grant.clone(),
        ),
        (
            Method::PUT,
            format!("/api/v1/organizations/{their_org}/groups/{their_group}"),
            grant.clone(),
        ),
        (
            Method::DELETE,
            format!("/api/v1/users/{their_user}/groups/{their_group}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/organizations/{their_org}/groups/{their_group}"),
            None,
        ),
    ];
    let unknown = Uuid::now_v7();
    for (method, path, body) in cases {
        let (status, problem) = app
            .api(&ours, &token, method.clone(), &path, body.clone())
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        // Exactly the answer for an id that never existed.
        let unknown_path = path
            .replace(&their_group, &unknown.to_string())
            .replace(&their_user.to_string(), &unknown.to_string())
            .replace(&their_org.to_string(), &unknown.to_string());
        let (unknown_status, unknown_problem) = app
            .api(&ours, &token, method.clone(), &unknown_path, body)
            .await;
        assert_eq!(
            (status, &problem),
            (unknown_status, &unknown_problem),
            "{method} {path}"
        );
    }
    let (_, list) = app
        .api(&ours, &token, Method::GET, "/api/v1/groups", None)
        .await;
    assert_eq!(
        list["data"].as_array().expect("data").len(),
        1,
        "only our group"
    );

    // Nothing of theirs changed, and nothing of ours leaked into it.
    let (_, group) = app
        .api(
            &theirs,
            &their_token,
            Method::GET,
            &format!("/api/v1/groups/{their_group}"),
            None,
        )
        .await;
    assert_eq!(group["name"], "Billing");
    assert_eq!(group["version"], 1);
    let (_, effective) = app
        .api(
            &theirs,
            &their_token,
            Method::GET,
            &format!("/api/v1/users/{their_user}/groups"),
            None,
        )
        .await;
    assert_eq!(
        sources(&effective, &their_group),
        (
            "rw".into(),
            vec![
                triple("direct", "", "rw"),
                triple("organization", "Acme", "rw"),
                triple("default", "", "rw")
            ]
        )
    );
    let (_, effective) = app
        .api(
            &ours,
            &token,
            Method::GET,
            &format!("/api/v1/users/{our_user}/groups"),
            None,
        )
        .await;
    assert_eq!(effective["data"], json!([]));
    assert!(!user_has(&app, &ours, their_user, &their_group, GroupPermission::Ro).await);
}

/// An agent of `tenant` with `role`, signed in on a browser of its own.
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

fn location_param(page: &Page, key: &str) -> String {
    let location = page.location.as_deref().expect("a redirect");
    let url = reqwest::Url::parse(&format!("http://redirect.test{location}")).expect("a path");
    url.query_pairs()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no {key} in {location}"))
        .1
        .into_owned()
}

#[tokio::test]
async fn admins_define_groups_on_the_admin_page() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Group Page Corp").await;
    let other = app.create_tenant("Other Group Page Corp").await;
    let other_token = app.issue_token(&other.tenant, "other").await;
    let their_group = create_group(&app, &other, &other_token, "Theirs", None).await;

    let mut anonymous = app.visitor(&tenant.host());
    let page = anonymous.get("/admin/groups").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let mut manager = signed_in(
        &app,
        &tenant,
        BuiltinRole::Manager,
        "manager@group-page.example",
    )
    .await;
    let page = manager.get("/admin/groups").await;
    assert_eq!(
        page.status,
        StatusCode::FORBIDDEN,
        "managers do not configure the directory"
    );
    let page = manager
        .post_form("/admin/groups", &[("name", "Sneaky")])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    let mut admin = signed_in(
        &app,
        &tenant,
        BuiltinRole::Admin,
        "admin@group-page.example",
    )
    .await;
    let page = admin.get("/admin/groups").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("No groups yet."));
    assert!(
        page.body
            .contains("href=\"/admin/groups\" aria-current=\"page\""),
        "in the admin navigation"
    );

    let page = admin
        .post_form(
            "/admin/groups",
            &[
                ("name", "Billing"),
                ("description", "Invoices"),
                ("default_permission", "ro"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let id = location_param(&page, "created");
    let page = admin.get(page.location.as_deref().expect("location")).await;
    assert!(
        page.body.contains("The group Billing is created."),
        "{}",
        page.body
    );
    assert!(page.body.contains("Invoices"));
    assert!(
        page.body.contains("read only (<code>ro</code>)"),
        "the default is shown: {}",
        page.body
    );

    let page = admin
        .post_form(
            "/admin/groups",
            &[("name", "billing"), ("description", "again")],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("A group with this name already exists."));
    assert!(page.body.contains("value=\"billing\""), "the entry is kept");
    let page = admin
        .post_form(
            "/admin/groups",
            &[("name", "  "), ("default_permission", "all")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("Enter a name for the group."));
    assert!(page.body.contains("Choose one of the options listed."));

    let edit = format!("/admin/groups/{id}");
    let page = admin.get(&edit).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("name=\"version\" value=\"1\""),
        "{}",
        page.body
    );
    let page = admin
        .post_form(
            &edit,
            &[
                ("name", "Billing and payments"),
                ("description", "Invoices"),
                ("default_permission", ""),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(location_param(&page, "saved"), id);
    let page = admin.get(page.location.as_deref().expect("location")).await;
    assert!(
        page.body
            .contains("The group Billing and payments is saved.")
    );

    // A form opened at version 1 is stale now: nothing saved, the current group shown.
    let page = admin
        .post_form(
            &edit,
            &[
                ("name", "Late edit"),
                ("description", "Invoices"),
                ("default_permission", ""),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(
        page.body
            .contains("Someone else saved this group meanwhile")
    );
    assert!(page.body.contains("value=\"Billing and payments\""));
    assert!(
        page.body
            .contains("You entered: <span class=\"yours-value\">Late edit</span>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("name=\"version\" value=\"2\""));

    let page = admin
        .post_form(&edit, &[("name", ""), ("version", "2")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("Nothing was saved."));

    // Another tenant's group is not found, whatever the action.
    let theirs = format!("/admin/groups/{their_group}");
    assert_eq!(admin.get(&theirs).await.status, StatusCode::NOT_FOUND);
    let page = admin
        .post_form(&theirs, &[("name", "Mine"), ("version", "1")])
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = admin.post_form(&format!("{theirs}/delete"), &[]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(
        admin.get("/admin/groups/not-an-id").await.status,
        StatusCode::NOT_FOUND
    );
    let (status, group) = app
        .api(
            &other,
            &other_token,
            Method::GET,
            &format!("/api/v1/groups/{their_group}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "theirs is still there");
    assert_eq!(group["name"], "Theirs");

    // Without the CSRF token nothing is deleted.
    let page = admin
        .post_raw(
            &format!("{edit}/delete"),
            &[],
            Some(&format!("http://{}", tenant.host())),
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = admin.post_form(&format!("{edit}/delete"), &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let page = admin.get(page.location.as_deref().expect("location")).await;
    assert!(
        page.body
            .contains("The group Billing and payments is deleted"),
        "{}",
        page.body
    );
    assert_eq!(admin.get(&edit).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn agents_grant_and_revoke_groups_from_user_and_organization_pages() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Grant Form Corp").await;
    let other = app.create_tenant("Other Grant Form Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    let other_token = app.issue_token(&other.tenant, "other").await;
    let group = create_group(&app, &tenant, &admin, "Billing", None).await;
    let user = end_user(&app, &tenant, "Ada Lovelace", "ada@grant-form.example").await;
    let org = create_organization(&tenant, "Acme").await;
    add_member(&tenant, org, user).await;
    let their_group = create_group(&app, &other, &other_token, "Theirs", None).await;
    let their_user = end_user(&app, &other, "Eve", "eve@grant-form.example").await;
    let their_org = create_organization(&other, "Evil").await;

    let mut agent = signed_in(
        &app,
        &tenant,
        BuiltinRole::Agent,
        "agent@grant-form.example",
    )
    .await;
    let page = agent
        .post_form(
            &format!("/agent/users/{user}/groups"),
            &[("group_id", &group), ("permission", "rw")],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::FORBIDDEN,
        "agents only read the directory"
    );

    let mut manager = signed_in(
        &app,
        &tenant,
        BuiltinRole::Manager,
        "manager@grant-form.example",
    )
    .await;
    let page = manager
        .post_form(
            &format!("/agent/users/{user}/groups"),
            &[("group_id", &group), ("permission", "ro")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(
        page.location
            .as_deref()
            .expect("location")
            .starts_with(&format!("/agent/users/{user}?notice="))
    );
    assert_eq!(
        location_param(&page, "notice"),
        "Ada Lovelace now has read only on Billing."
    );
    let page = manager
        .post_form(
            &format!("/agent/organizations/{org}/groups"),
            &[("group_id", &group), ("permission", "rw")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(
        page.location
            .as_deref()
            .expect("location")
            .starts_with(&format!("/agent/organizations/{org}?notice="))
    );
    assert!(location_param(&page, "notice").contains("Acme now has read and write on Billing"));

    let (_, effective) = app
        .api(
            &tenant,
            &admin,
            Method::GET,
            &format!("/api/v1/users/{user}/groups"),
            None,
        )
        .await;
    assert_eq!(
        sources(&effective, &group),
        (
            "rw".into(),
            vec![
                triple("direct", "", "ro"),
                triple("organization", "Acme", "rw")
            ]
        )
    );

    let page = manager
        .post_form(
            &format!("/agent/users/{user}/groups"),
            &[("group_id", ""), ("permission", "rw")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(location_param(&page, "notice").starts_with("Nothing was granted"));

    let page = manager
        .post_form(&format!("/agent/users/{user}/groups/{group}/revoke"), &[])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(location_param(&page, "notice").contains("own grant on Billing is revoked"));
    let page = manager
        .post_form(&format!("/agent/users/{user}/groups/{group}/revoke"), &[])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "a second click");
    assert!(location_param(&page, "notice").contains("had no grant"));
    let page = manager
        .post_form(
            &format!("/agent/organizations/{org}/groups/{group}/revoke"),
            &[],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let (_, effective) = app
        .api(
            &tenant,
            &admin,
            Method::GET,
            &format!("/api/v1/users/{user}/groups"),
            None,
        )
        .await;
    assert_eq!(effective["data"], json!([]));

    // Without the CSRF token (a post from another site) nothing is granted.
    let page = manager
        .post_raw(
            &format!("/agent/users/{user}/groups"),
            &[("group_id", &group), ("permission", "rw")],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    // Another tenant's users, organizations and groups are not found.
    for (path, fields) in [
        (
            format!("/agent/users/{their_user}/groups"),
            vec![("group_id", group.as_str()), ("permission", "rw")],
        ),
        (
            format!("/agent/users/{user}/groups"),
            vec![("group_id", their_group.as_str()), ("permission", "rw")],
        ),
        (
            format!("/agent/organizations/{their_org}/groups"),
            vec![("group_id", group.as_str()), ("permission", "rw")],
        ),
        (
            format!("/agent/organizations/{org}/groups"),
            vec![("group_id", their_group.as_str()), ("permission", "rw")],
        ),
        (
            format!("/agent/users/{their_user}/groups/{group}/revoke"),
            vec![],
        ),
        (
            format!("/agent/users/{user}/groups/{their_group}/revoke"),
            vec![],
        ),
        (
            format!("/agent/organizations/{their_org}/groups/{group}/revoke"),
            vec![],
        ),
        (
            format!("/agent/organizations/{org}/groups/{their_group}/revoke"),
            vec![],
        ),
    ] {
        let page = manager.post_form(&path, &fields).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path} {fields:?}");
    }
    let (_, effective) = app
        .api(
            &tenant,
            &admin,
            Method::GET,
            &format!("/api/v1/users/{user}/groups"),
            None,
        )
        .await;
    assert_eq!(effective["data"], json!([]));
    let (_, grants) = app
        .api(
            &other,
            &other_token,
            Method::GET,
            &format!("/api/v1/organizations/{their_org}/groups"),
            None,
        )
        .await;
    assert_eq!(grants["data"], json!([]));
}
