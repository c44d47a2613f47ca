//! The end-user directory: the customer record through the API (create, read, change with
//! versions, validation per field, per-tenant uniqueness), organization membership by email
//! domain on every creation path, wildcard search, filters, keyset pages under concurrent
//! inserts, erasure, invalid users kept from signing in, cross-tenant ids, and the agent pages
//! (HTTP and Chromium).

use domain::{BuiltinRole, RegistrationMethod};
use fantoccini::Locator;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tenantdesk_tests::{TestApp, TestTenant, browser, spawn_app, tenant_sql, unique_mail_domain};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";

async fn create_user(app: &TestApp, tenant: &TestTenant, token: &str, body: Value) -> Value {
    let (status, user) = app
        .api(tenant, token, Method::POST, "/api/v1/users", Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    user
}

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

/// An organization with `domains`, made through the tenant's store as the app would.
async fn organization(app: &TestApp, tenant: &TestTenant, name: &str, domains: &[&str]) -> Uuid {
    let _ = app;
    let mut tx = tenant_sql(tenant).await;
    let id = Uuid::now_v7();
    sqlx::query("insert into organizations (tenant_id, id, name) values ($1, $2, $3)")
        .bind(tenant.tenant.id.as_uuid())
        .bind(id)
        .bind(name)
        .execute(&mut *tx)
        .await
        .expect("organization");
    for domain in domains {
        sqlx::query(
            "insert into organization_domains (tenant_id, domain, organization_id) values ($1, $2, $3)",
        )
        .bind(tenant.tenant.id.as_uuid())
        .bind(domain)
        .bind(id)
        .execute(&mut *tx)
        .await
        .expect("domain");
    }
    tx.commit().await.expect("commit");
    id
}

#[tokio::test]
async fn a_user_is_created_read_and_changed_with_versions() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Directory Crud").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;

    let response = app
        .http
        .post(app.url("/api/v1/users"))
        .header("Host", tenant.host())
        .bearer_auth(&token)
        .json(&json!({
            "title": "Dr.", "first_name": "Ada", "last_name": "Lovelace",
            "email": "Ada@Example.com", "phone": "+44 20 7946 0000", "mobile": "07700 900000",
            "street": "12 St James's Square", "zip": "SW1Y 4JH", "city": "London",
            "country": "gb", "comment": "Prefers mail."
        }))
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_owned();
    let user: Value = response.json().await.expect("json");
    assert_eq!(
        location,
        format!("/api/v1/users/{}", user["id"].as_str().expect("id"))
    );
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["country"], "GB", "country codes are stored upper case");
    assert_eq!(
        user["login"], "Ada@Example.com",
        "the login derives from the email"
    );
    assert_eq!(user["validity"], "valid");
    assert_eq!(user["account_status"], "guest", "no password is set");
    assert_eq!(user["version"], 1);

    let (status, read) = app.api(&tenant, &token, Method::GET, &location, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["comment"], "Prefers mail.");

    let (status, changed) = app
        .api(
            &tenant,
            &token,
            Method::PATCH,
            &location,
            Some(json!({"version": 1, "city": "Marylebone", "fax": null, "login": "ada.l"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["city"], "Marylebone");
    assert_eq!(
        changed["street"], "12 St James's Square",
        "untouched fields stay"
    );
    assert_eq!(changed["login"], "ada.l");
    assert_eq!(changed["version"], 2);

    let (status, stale) = app
        .api(
            &tenant,
            &token,
            Method::PATCH,
            &location,
            Some(json!({"version": 1, "city": "Elsewhere"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{stale}");
    let (_, now) = app.api(&tenant, &token, Method::GET, &location, None).await;
    assert_eq!(now["city"], "Marylebone", "a stale change writes nothing");
}

#[tokio::test]
async fn every_bad_field_is_named_and_nothing_is_written() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Directory Validation").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;

    let (status, problem) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/users",
            Some(json!({
                "first_name": "", "email": "not-an-address", "country": "XX",
                "phone": "call me", "comment": "x".repeat(2001), "validity": "gone",
                "login": "a b", "nickname": "Bob"
            })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let fields = errors_of(&problem);
    for field in [
        "first_name",
        "last_name",
        "email",
        "country",
        "phone",
        "comment",
        "validity",
        "nickname",
    ] {
        assert!(fields.contains(&field.to_owned()), "{field} in {problem}");
    }
    let (_, list) = app
        .api(&tenant, &token, Method::GET, "/api/v1/users", None)
        .await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn emails_and_logins_are_unique_per_tenant_only() {
    let app = spawn_app().await;
    let acme = app.create_tenant("Unique Acme").await;
    let globex = app.create_tenant("Unique Globex").await;
    let acme_token = app.issue_token(&acme.tenant, "admin").await;
    let globex_token = app.issue_token(&globex.tenant, "admin").await;
    let person = json!({"first_name": "Sam", "last_name": "Same", "email": "sam@same.example", "login": "sam"});
    create_user(&app, &acme, &acme_token, person.clone()).await;
    create_user(&app, &globex, &globex_token, person).await;

    let (status, problem) = app
        .api(
            &acme,
            &acme_token,
            Method::POST,
            "/api/v1/users",
            Some(json!({"first_name": "Other", "last_name": "Sam", "email": "SAM@same.example"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("email"),
        "{problem}"
    );
    let (status, problem) = app
        .api(
            &acme,
            &acme_token,
            Method::POST,
            "/api/v1/users",
            Some(json!({"first_name": "Other", "last_name": "Sam", "email": "other@same.example", "login": "SAM"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("login"),
        "{problem}"
    );
}

#[tokio::test]
async fn an_email_domain_makes_new_users_members_on_every_path() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Domain Rule").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let domain = unique_mail_domain();
    let org = organization(&app, &tenant, "Domain Holder", &[&domain]).await;

    // Through the API.
    let api_user = create_user(
        &app,
        &tenant,
        &token,
        json!({"first_name": "Api", "last_name": "Person", "email": format!("api@{}", domain.to_uppercase())}),
    )
    .await;
    assert_eq!(api_user["primary_organization"]["id"], org.to_string());
    // A subdomain is not the domain.
    let sub = create_user(
        &app,
        &tenant,
        &token,
        json!({"first_name": "Sub", "last_name": "Person", "email": format!("x@mail.{domain}")}),
    )
    .await;
    assert_eq!(sub["primary_organization"], Value::Null);
    // Through an invitation.
    let (status, invited) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/user-invitations",
            Some(json!({"name": "Invited Person", "email": format!("invited@{domain}")})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invited}");
    // Through self-registration.
    app.set_registration_mode(&tenant, false, RegistrationMethod::Public)
        .await;
    let mut visitor = app.visitor(&tenant.host());
    visitor.get("/register").await;
    let page = visitor
        .post_form(
            "/register",
            &[
                ("name", "Self Registered"),
                ("email", &format!("self@{domain}")),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert!(
        page.status.is_success() || page.status.is_redirection(),
        "{}",
        page.body
    );

    let (_, members) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            &format!("/api/v1/users?organization={org}&sort=email"),
            None,
        )
        .await;
    let emails: Vec<String> = members["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|u| u["email"].as_str().unwrap_or_default().to_lowercase())
        .collect();
    assert_eq!(
        emails,
        vec![
            format!("api@{domain}"),
            format!("invited@{domain}"),
            format!("self@{domain}"),
        ]
    );
}

async fn names(app: &TestApp, tenant: &TestTenant, token: &str, query: &str) -> Vec<String> {
    let (status, page) = app
        .api(
            tenant,
            token,
            Method::GET,
            &format!("/api/v1/users?{query}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|u| u["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn search_is_a_substring_with_star_wildcards_over_people_and_organizations() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Search Corp").await;
    let other = app.create_tenant("Search Other").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let other_token = app.issue_token(&other.tenant, "admin").await;
    let domain = unique_mail_domain();
    organization(
        &app,
        &tenant,
        "Analytical Engines Ltd",
        &[&format!("engines.{domain}")],
    )
    .await;
    for (first, last, email, phone) in [
        (
            "Ada",
            "Lovelace",
            format!("ada@engines.{domain}"),
            "+44 1111",
        ),
        ("Adam", "Smith", format!("adam@{domain}"), "+44 2222"),
        ("Grace", "Hopper", format!("grace@{domain}"), "+1 555 0100"),
        (
            "Percent",
            "Sign",
            format!("p100%off@{domain}"),
            "+1 555 0199",
        ),
    ] {
        create_user(
            &app,
            &tenant,
            &token,
            json!({"first_name": first, "last_name": last, "email": email, "phone": phone}),
        )
        .await;
    }
    create_user(
        &app,
        &other,
        &other_token,
        json!({"first_name": "Ada", "last_name": "Elsewhere", "email": format!("ada@{domain}")}),
    )
    .await;

    assert_eq!(
        names(&app, &tenant, &token, "q=ADA").await,
        ["Ada Lovelace", "Adam Smith"]
    );
    assert_eq!(
        names(&app, &tenant, &token, "q=ada*lace").await,
        ["Ada Lovelace"]
    );
    assert_eq!(
        names(&app, &tenant, &token, "q=hop").await,
        ["Grace Hopper"]
    );
    assert_eq!(
        names(&app, &tenant, &token, "q=555%200100").await,
        ["Grace Hopper"]
    );
    assert_eq!(
        names(&app, &tenant, &token, "q=analytical").await,
        ["Ada Lovelace"],
        "organization names match their members"
    );
    assert_eq!(
        names(&app, &tenant, &token, "q=engines").await,
        ["Ada Lovelace"],
        "a match on both her address and her organization shows her once"
    );
    assert_eq!(
        names(&app, &tenant, &token, "q=100%25off").await,
        ["Percent Sign"],
        "% is a literal character"
    );
    assert_eq!(
        names(&app, &tenant, &token, "q=a_a").await,
        Vec::<String>::new(),
        "_ is literal"
    );
    assert_eq!(
        names(&app, &other, &other_token, "q=ada").await,
        ["Ada Elsewhere"],
        "another tenant's people never show"
    );
}

#[tokio::test]
async fn pages_are_stable_while_users_are_added() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Keyset Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let domain = unique_mail_domain();
    let mut expected = Vec::new();
    for i in 0..25 {
        let first = format!("M{i:02}");
        create_user(
            &app,
            &tenant,
            &token,
            json!({"first_name": first, "last_name": "Person", "email": format!("m{i}@{domain}")}),
        )
        .await;
        expected.push(format!("{first} Person"));
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut inserted = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/users?limit=10&cursor={c}"),
            None => "/api/v1/users?limit=10".to_owned(),
        };
        let (status, page) = app.api(&tenant, &token, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for user in page["data"].as_array().expect("data") {
            seen.push(user["name"].as_str().unwrap_or_default().to_owned());
        }
        // Someone adds people sorting before and after the page just read.
        for name in ["A Early", "Z Late"] {
            inserted += 1;
            let (first, last) = name.split_once(' ').unwrap_or_default();
            create_user(
                &app,
                &tenant,
                &token,
                json!({"first_name": format!("{first}{inserted}"), "last_name": last, "email": format!("new{inserted}@{domain}")}),
            )
            .await;
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let originals: Vec<&String> = seen.iter().filter(|n| n.starts_with('M')).collect();
    assert_eq!(
        originals,
        expected.iter().collect::<Vec<_>>(),
        "no one skipped or repeated"
    );
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "nobody shown twice: {seen:?}");

    // The same through a search, where the page is cut from the search's own rows, both ways.
    let mut reversed = expected.clone();
    reversed.reverse();
    for (sort, want) in [("name", expected.clone()), ("-name", reversed)] {
        let mut found = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/users?q=person&limit=7&sort={sort}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (status, page) = app.api(&tenant, &token, Method::GET, &path, None).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            for user in page["data"].as_array().expect("data") {
                found.push(user["name"].as_str().unwrap_or_default().to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(found, want, "search pages sorted by {sort}");
    }

    let (status, problem) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            "/api/v1/users?cursor=forged&sort=height",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields = errors_of(&problem);
    assert!(
        fields.contains(&"cursor".to_owned()) && fields.contains(&"sort".to_owned()),
        "{problem}"
    );
}

#[tokio::test]
async fn validity_and_group_filters_and_invalid_users_cannot_sign_in() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Validity Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    let domain = unique_mail_domain();
    let active = app
        .create_end_user(
            &tenant,
            "Val Active",
            &format!("val@{domain}"),
            Some(PASSWORD),
        )
        .await;
    create_user(
        &app,
        &tenant,
        &token,
        json!({"first_name": "Other", "last_name": "Person", "email": format!("other@{domain}")}),
    )
    .await;
    let (status, changed) = app
        .api(
            &tenant,
            &token,
            Method::PATCH,
            &format!("/api/v1/users/{}", active.id),
            Some(json!({"validity": "invalid_temporarily"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        names(&app, &tenant, &token, "validity=invalid_temporarily").await,
        ["Val Active"]
    );
    assert_eq!(
        names(&app, &tenant, &token, "validity=valid").await,
        ["Other Person"]
    );

    // Signing in: the right password meets a refusal that says to contact the help desk; a
    // wrong one gets the usual answer, so nobody learns more than the password holder.
    let mut visitor = app.visitor(&tenant.host());
    visitor.get("/login").await;
    let page = visitor
        .post_form(
            "/login",
            &[
                ("email", &format!("val@{domain}")),
                ("password", PASSWORD),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("contact the help desk"), "{}", page.body);
    let page = visitor
        .post_form(
            "/login",
            &[
                ("email", &format!("val@{domain}")),
                ("password", "wrong horse battery staple"),
                ("next", "/"),
            ],
        )
        .await;
    assert!(!page.body.contains("contact the help desk"));

    // Group filter: a default permission reaches everyone; rw only through a grant.
    let mut tx = tenant_sql(&tenant).await;
    let group = Uuid::now_v7();
    sqlx::query("insert into customer_groups (tenant_id, id, name, default_permission) values ($1, $2, 'Support', 'ro')")
        .bind(tenant.tenant.id.as_uuid())
        .bind(group)
        .execute(&mut *tx)
        .await
        .expect("group");
    sqlx::query("insert into customer_group_user_grants (tenant_id, group_id, end_user_id, permission) values ($1, $2, $3, 'rw')")
        .bind(tenant.tenant.id.as_uuid())
        .bind(group)
        .bind(active.id)
        .execute(&mut *tx)
        .await
        .expect("grant");
    tx.commit().await.expect("commit");
    assert_eq!(
        names(&app, &tenant, &token, &format!("group={group}"))
            .await
            .len(),
        2
    );
    assert_eq!(
        names(
            &app,
            &tenant,
            &token,
            &format!("group={group}&group_permission=rw")
        )
        .await,
        ["Val Active"]
    );
}

#[tokio::test]
async fn custom_fields_are_validated_filtered_and_ranged() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Custom Corp").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    for field in [
        json!({"key": "tier", "label": "Tier", "field_type": "choice", "options": ["gold", "silver"]}),
        json!({"key": "seats", "label": "Seats", "field_type": "number"}),
        json!({"key": "since", "label": "Customer since", "field_type": "date"}),
    ] {
        let (status, body) = app
            .api(
                &tenant,
                &token,
                Method::POST,
                "/api/v1/fields/user",
                Some(field),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let domain = unique_mail_domain();
    for (name, tier, seats, since) in [
        ("Gold Big", "gold", 500, "2020-01-15"),
        ("Gold Small", "gold", 5, "2024-06-01"),
        ("Silver Mid", "silver", 50, "2022-03-03"),
    ] {
        let (first, last) = name.split_once(' ').unwrap_or_default();
        create_user(
            &app,
            &tenant,
            &token,
            json!({"first_name": first, "last_name": last, "email": format!("{first}.{last}@{domain}"),
                   "custom": {"tier": tier, "seats": seats, "since": since}}),
        )
        .await;
    }
    let (status, problem) = app
        .api(
            &tenant,
            &token,
            Method::POST,
            "/api/v1/users",
            Some(
                json!({"first_name": "Bad", "last_name": "Custom", "email": format!("bad@{domain}"),
                        "custom": {"tier": "bronze", "seats": "many", "unknown": 1}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let fields = errors_of(&problem);
    for field in ["custom.tier", "custom.seats", "custom.unknown"] {
        assert!(fields.contains(&field.to_owned()), "{field} in {problem}");
    }

    assert_eq!(
        names(&app, &tenant, &token, "q=silv").await,
        ["Silver Mid"],
        "custom values are searched too"
    );
    assert_eq!(
        names(&app, &tenant, &token, "custom.tier=gold").await,
        ["Gold Big", "Gold Small"]
    );
    assert_eq!(
        names(
            &app,
            &tenant,
            &token,
            "custom.seats.min=10&custom.seats.max=500"
        )
        .await,
        ["Gold Big", "Silver Mid"]
    );
    assert_eq!(
        names(
            &app,
            &tenant,
            &token,
            "custom.since.min=2022-01-01&custom.tier=gold"
        )
        .await,
        ["Gold Small"]
    );
    let (status, problem) = app
        .api(
            &tenant,
            &token,
            Method::GET,
            "/api/v1/users?custom.nope=1&custom.tier.min=3",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(errors_of(&problem).len(), 2, "{problem}");
}

#[tokio::test]
async fn erasing_leaves_a_tombstone_recorded_with_who_and_when() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Erase Corp").await;
    let admin = app.issue_token(&tenant.tenant, "admin").await;
    let domain = unique_mail_domain();
    let org = organization(&app, &tenant, "Erase Org", &[&domain]).await;
    let person = app
        .create_end_user(
            &tenant,
            "Eve Erasable",
            &format!("eve@{domain}"),
            Some(PASSWORD),
        )
        .await;
    let path = format!("/api/v1/users/{}", person.id);

    // A manager's token may manage users but not erase them.
    let (_, issued) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({"name": "manager", "permissions": ["users.read", "users.manage"]})),
        )
        .await;
    let manager = issued["secret"].as_str().expect("secret").to_owned();
    let (status, _) = app
        .api(
            &tenant,
            &manager,
            Method::POST,
            &format!("{path}/erase"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, erased) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            &format!("{path}/erase"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    assert_eq!(erased["name"], "Erased user");
    assert_eq!(erased["erased"], true);
    assert_eq!(erased["phone"], Value::Null);
    assert_eq!(erased["primary_organization"], Value::Null);
    assert!(!erased.to_string().contains("eve@"), "{erased}");
    assert_eq!(
        names(&app, &tenant, &admin, &format!("organization={org}"))
            .await
            .len(),
        0
    );

    let (status, _) = app
        .api(
            &tenant,
            &admin,
            Method::POST,
            &format!("{path}/erase"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "erased once");
    let (status, _) = app
        .api(
            &tenant,
            &admin,
            Method::PATCH,
            &path,
            Some(json!({"first_name": "Back"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a tombstone cannot be changed"
    );

    // The person cannot sign in any more, and the address is free for someone new.
    let mut visitor = app.visitor(&tenant.host());
    visitor.get("/login").await;
    let page = visitor
        .post_form(
            "/login",
            &[
                ("email", &format!("eve@{domain}")),
                ("password", PASSWORD),
                ("next", "/"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "no session");
    create_user(
        &app,
        &tenant,
        &admin,
        json!({"first_name": "Eve", "last_name": "New", "email": format!("eve@{domain}")}),
    )
    .await;

    // The record keeps who erased it and when.
    let mut tx = tenant_sql(&tenant).await;
    let (at, by_token): (Option<String>, Option<Uuid>) =
        sqlx::query_as("select erased_at::text, erased_by_token from end_users where id = $1")
            .bind(person.id)
            .fetch_one(&mut *tx)
            .await
            .expect("row");
    tx.commit().await.expect("commit");
    assert!(at.is_some() && by_token.is_some());
}

#[tokio::test]
async fn another_tenants_users_are_404_on_every_endpoint() {
    let app = spawn_app().await;
    let acme = app.create_tenant("Cross Acme").await;
    let globex = app.create_tenant("Cross Globex").await;
    let acme_token = app.issue_token(&acme.tenant, "admin").await;
    let globex_token = app.issue_token(&globex.tenant, "admin").await;
    let theirs = create_user(
        &app,
        &globex,
        &globex_token,
        json!({"first_name": "Their", "last_name": "User", "email": "their@cross.example"}),
    )
    .await;
    let path = format!("/api/v1/users/{}", theirs["id"].as_str().expect("id"));
    for (method, path, body) in [
        (Method::GET, path.clone(), None),
        (Method::PATCH, path.clone(), Some(json!({"city": "Taken"}))),
        (Method::POST, format!("{path}/erase"), None),
    ] {
        let (status, problem) = app
            .api(&acme, &acme_token, method.clone(), &path, body)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {problem}");
        assert!(!problem.to_string().contains("their@"), "{problem}");
    }
    // Filtering by another tenant's organization finds nobody.
    let their_org = organization(&app, &globex, "Their Org", &[]).await;
    assert!(
        names(
            &app,
            &acme,
            &acme_token,
            &format!("organization={their_org}")
        )
        .await
        .is_empty()
    );
    // Globex's token on Acme's host is nobody.
    let (status, _) = app
        .api(&acme, &globex_token, Method::GET, "/api/v1/users", None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, theirs_now) = app
        .api(&globex, &globex_token, Method::GET, &path, None)
        .await;
    assert_eq!(theirs_now["city"], Value::Null, "nothing changed there");
}

#[tokio::test]
async fn agents_manage_users_through_the_pages_and_only_with_the_permission() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Pages Corp").await;
    let other = app.create_tenant("Pages Other").await;
    let domain = unique_mail_domain();
    app.create_agent(
        &tenant.tenant,
        BuiltinRole::Manager,
        &format!("manager@{domain}"),
        PASSWORD,
    )
    .await;
    app.create_agent(
        &tenant.tenant,
        BuiltinRole::Agent,
        &format!("agent@{domain}"),
        PASSWORD,
    )
    .await;
    let theirs = app
        .create_end_user(&other, "Not Yours", &format!("their@{domain}"), None)
        .await;

    let mut manager = app.visitor(&tenant.host());
    manager
        .sign_in_agent(&format!("manager@{domain}"), PASSWORD)
        .await;
    manager.get("/agent/users/new").await;
    let page = manager
        .post_form(
            "/agent/users/new",
            &[
                ("first_name", "Paula"),
                ("last_name", ""),
                ("email", "nope"),
                ("country", "ZZ"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Nothing was saved"));
    assert!(page.body.contains("id=\"last_name-error\""));
    assert!(page.body.contains("id=\"email-error\""));
    assert!(page.body.contains("id=\"country-error\""));
    assert!(
        page.body.contains("value=\"Paula\""),
        "typed values are kept"
    );

    let page = manager
        .post_form(
            "/agent/users/new",
            &[
                ("first_name", "Paula"),
                ("last_name", "Page"),
                ("email", &format!("paula@{domain}")),
                ("validity", "valid"),
                ("send_invitation", "on"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location.clone().expect("location");
    let shown = manager.get(&location).await;
    assert!(shown.body.contains("Paula Page"));
    assert!(shown.body.contains("invitation"), "{}", shown.body);
    assert!(
        !shown.body.contains("Erase this person"),
        "managers do not erase"
    );

    let found = manager.get("/agent/users?q=paul").await;
    assert!(found.body.contains("Paula Page"));
    let none = manager.get("/agent/users?q=nobody-here").await;
    assert!(none.body.contains("No end user matches"));
    assert!(
        !manager
            .get("/agent/users?q=not")
            .await
            .body
            .contains("Not Yours")
    );

    // Another tenant's user is a 404 page, for reading and for changing.
    let page = manager.get(&format!("/agent/users/{}", theirs.id)).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = manager
        .post_form(
            &format!("/agent/users/{}/edit", theirs.id),
            &[("city", "Taken")],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    // An agent reads the directory but cannot create users.
    let mut agent = app.visitor(&tenant.host());
    agent
        .sign_in_agent(&format!("agent@{domain}"), PASSWORD)
        .await;
    assert_eq!(agent.get("/agent/users").await.status, StatusCode::OK);
    assert_eq!(
        agent.get("/agent/users/new").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn in_chromium_an_agent_searches_the_directory_and_opens_a_user() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Browser Directory").await;
    let domain = unique_mail_domain();
    app.create_agent(
        &tenant.tenant,
        BuiltinRole::Agent,
        &format!("agent@{domain}"),
        PASSWORD,
    )
    .await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    for (first, last) in [("Marie", "Curie"), ("Pierre", "Curie"), ("Lise", "Meitner")] {
        create_user(
            &app,
            &tenant,
            &token,
            json!({"first_name": first, "last_name": last, "email": format!("{}@{domain}", first.to_lowercase()), "city": "Paris"}),
        )
        .await;
    }
    let client = browser::open().await;
    client
        .goto(&app.browser_url(&tenant.host(), "/agent/login"))
        .await
        .expect("open sign-in");
    client
        .find(Locator::Id("email"))
        .await
        .expect("email")
        .send_keys(&format!("agent@{domain}"))
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
    client
        .find(Locator::LinkText("End-user directory"))
        .await
        .expect("directory link")
        .click()
        .await
        .expect("open the directory");
    client
        .wait()
        .for_element(Locator::Id("q"))
        .await
        .expect("search box")
        .send_keys("cur*e")
        .await
        .expect("type the search");
    client
        .find(Locator::Css("form.directory-search button[type=submit]"))
        .await
        .expect("search button")
        .click()
        .await
        .expect("search");
    // The unfiltered list has the same table: wait for the search's own page first.
    for _ in 0..100 {
        let url = client.current_url().await.expect("url");
        if url.query().is_some_and(|q| q.contains("q=cur")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let table = client
        .wait()
        .for_element(Locator::Id("directory"))
        .await
        .expect("results");
    let text = table.text().await.expect("text");
    assert!(
        text.contains("Marie Curie") && text.contains("Pierre Curie"),
        "{text}"
    );
    assert!(!text.contains("Lise Meitner"), "{text}");
    client
        .find(Locator::LinkText("Marie Curie"))
        .await
        .expect("the user's link")
        .click()
        .await
        .expect("open the user");
    let heading = client
        .wait()
        .for_element(Locator::Id("user-name"))
        .await
        .expect("user page");
    assert_eq!(heading.text().await.expect("name"), "Marie Curie");
    let body = client
        .find(Locator::Css("dl.details"))
        .await
        .expect("details")
        .text()
        .await
        .expect("text");
    assert!(
        body.contains("Paris") && body.contains(&format!("marie@{domain}")),
        "{body}"
    );
    client.close().await.expect("close");
}

#[tokio::test]
async fn a_term_matching_thousands_pages_in_order_without_gaps() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Dense Search").await;
    let token = app.issue_token(&tenant.tenant, "admin").await;
    // 2,500 people share the term, 100 others do not: every page of a broad search comes out
    // in order, and nobody is skipped or shown twice.
    let mut tx = tenant_sql(&tenant).await;
    sqlx::query(
        "insert into end_users (tenant_id, id, first_name, last_name, email, login)
         select $1, gen_random_uuid(), 'Dense' || i, case when i <= 2500 then 'Crowd' else 'Alone' end,
                'dense' || i || '@dense.example', 'dense' || i || '@dense.example'
           from generate_series(1, 2600) i",
    )
    .bind(tenant.tenant.id.as_uuid())
    .execute(&mut *tx)
    .await
    .expect("people");
    tx.commit().await.expect("commit");

    for sort in ["name", "-email"] {
        let mut names = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/v1/users?q=crowd&limit=200&sort={sort}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (status, page) = app.api(&tenant, &token, Method::GET, &path, None).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            for user in page["data"].as_array().expect("data") {
                let key = if sort == "name" { "name" } else { "email" };
                names.push(user[key].as_str().unwrap_or_default().to_lowercase());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(names.len(), 2500, "every match once ({sort})");
        let mut expected = names.clone();
        expected.sort();
        if sort.starts_with('-') {
            expected.reverse();
        }
        expected.dedup();
        assert_eq!(names, expected, "in order, no repeats ({sort})");
    }
}
