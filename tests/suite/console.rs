//! The platform console on the base domain: only operators reach it; creating, suspending and
//! resuming a tenant take effect at once and are recorded with who, when and why; the runtime
//! role reaches platform writes only through the platform_* functions.

use std::time::Duration;

use domain::{BuiltinRole, TenantId, TenantSlug, TenantStatus};
use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use sqlx::PgPool;
use tenantdesk_tests::{
    AppOptions, BASE_DOMAIN, TestApp, Visitor, browser, database, spawn_app_with,
};

const PASSWORD: &str = "lantern quarry pebble nimbus";

/// An hour-long tenant cache: only an invalidation explains a change seen at once.
fn long_cache() -> AppOptions {
    AppOptions {
        tenant_cache_ttl: Duration::from_secs(3600),
        ..AppOptions::default()
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

fn fresh_slug() -> String {
    tenantdesk_tests::random_slug().as_str().to_owned()
}

async fn signed_in_operator(app: &TestApp) -> (Visitor<'_>, store::operators::Operator) {
    let email = format!("{}@console.example", unique("op"));
    let operator = app.create_operator(&email, PASSWORD).await;
    let mut visitor = app.visitor(BASE_DOMAIN);
    visitor.get("/login").await;
    let page = visitor
        .post_form("/login", &[("email", &email), ("password", PASSWORD)])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    (visitor, operator)
}

async fn status_of(app: &TestApp, host: &str) -> StatusCode {
    app.get(host, "/").send().await.expect("GET /").status()
}

/// The tenant's queued mail, read as that tenant.
async fn outbox_of(app: &TestApp, tenant: TenantId) -> Vec<store::outbox::EmailSummary> {
    let mut tx = app.state.store.begin_tenant(tenant).await.expect("tx");
    let mail = store::outbox::recent(&mut tx, 50).await.expect("recent");
    tx.commit().await.expect("commit");
    mail
}

#[tokio::test]
async fn only_operators_reach_the_console() {
    let app = spawn_app_with(long_cache()).await;
    let mut anonymous = app.visitor(BASE_DOMAIN);
    for path in ["/console", "/console/tenants/new", "/console/audit"] {
        let page = anonymous.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            page.location
                .as_deref()
                .is_some_and(|l| l.starts_with("/login?next=")),
            "{path}: {:?}",
            page.location
        );
    }
    // Anonymous writes are refused too (and create nothing).
    anonymous.get("/login").await;
    let slug = fresh_slug();
    let refused = anonymous
        .post_form(
            "/console/tenants/new",
            &[
                ("slug", &slug),
                ("name", "Nobody's Tenant"),
                ("admin_name", "Eve"),
                ("admin_email", "eve@example.com"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::SEE_OTHER);
    let parsed = TenantSlug::parse(&slug).expect("slug");
    assert!(
        app.owner
            .tenant_by_slug(&parsed)
            .await
            .expect("read")
            .is_none()
    );

    // A tenant admin's session is nobody on the base domain.
    let tenant = app.create_tenant("Console Outsider").await;
    let admin_email = format!("{}@outsider.example", unique("admin"));
    app.create_agent(&tenant.tenant, BuiltinRole::Admin, &admin_email, PASSWORD)
        .await;
    let mut admin = app.visitor(&tenant.host());
    admin.sign_in_agent(&admin_email, PASSWORD).await;
    let mut admin_on_base = app.visitor(BASE_DOMAIN);
    admin_on_base.cookies = admin.cookies.clone();
    let page = admin_on_base.get("/console").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let suspend = admin_on_base
        .post_form(
            &format!("/console/tenants/{}/suspend", tenant.tenant.slug),
            &[("reason", "takeover")],
        )
        .await;
    assert_eq!(
        suspend.status,
        StatusCode::SEE_OTHER,
        "sent to the operators' sign-in"
    );
    assert_eq!(
        status_of(&app, &tenant.host()).await,
        StatusCode::OK,
        "a tenant admin cannot suspend anything"
    );

    // The operator sees the console.
    let (mut operator, _) = signed_in_operator(&app).await;
    let page = operator.get("/console").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Tenants"), "{}", page.body);
    assert!(operator.get("/").await.body.contains("href=\"/console\""));
}

#[tokio::test]
async fn an_operator_creates_a_tenant_that_resolves_at_once_with_its_admin_invited() {
    let app = spawn_app_with(long_cache()).await;
    let (mut operator, me) = signed_in_operator(&app).await;
    let slug = fresh_slug();
    let host = format!("{slug}.{BASE_DOMAIN}");
    // Cached as unknown for an hour, unless the creation drops the cache.
    assert_eq!(status_of(&app, &host).await, StatusCode::NOT_FOUND);

    let form = operator.get("/console/tenants/new").await;
    assert_eq!(form.status, StatusCode::OK);
    let admin_email = format!("{}@created.example", unique("first"));
    let page = operator
        .post_form(
            "/console/tenants/new",
            &[
                ("slug", &slug),
                ("name", "Created Through Console"),
                ("admin_name", "Dana First"),
                ("admin_email", &admin_email),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CREATED, "{}", page.body);
    assert!(
        page.body.contains("Created Through Console"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!("http://{slug}.{BASE_DOMAIN}")),
        "a link to the portal: {}",
        page.body
    );

    let portal = app.get(&host, "/").send().await.expect("portal");
    assert_eq!(portal.status(), StatusCode::OK);
    assert!(
        portal
            .text()
            .await
            .expect("body")
            .contains("Created Through Console")
    );

    let tenant = app
        .owner
        .tenant_by_slug(&TenantSlug::parse(&slug).expect("slug"))
        .await
        .expect("read")
        .expect("the tenant exists");
    assert_eq!(tenant.status, TenantStatus::Active);
    let mail = outbox_of(&app, tenant.id).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].event, "agent.invitation");
    assert_eq!(mail[0].recipient, admin_email);
    let mut tx = app.state.store.begin_tenant(tenant.id).await.expect("tx");
    let agents = store::agents::list(&mut tx).await.expect("agents");
    drop(tx);
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0].role.builtin, Some(BuiltinRole::Admin));

    // Listed, searchable, and recorded.
    let list = operator.get(&format!("/console?q={}", &slug[2..])).await;
    assert!(
        list.body.contains(&format!("id=\"tenant-{slug}\"")),
        "{}",
        list.body
    );
    let other = operator.get("/console?q=no-tenant-has-this-zzz").await;
    assert!(!other.body.contains(&format!("tenant-{slug}")));
    let audit = app
        .state
        .store
        .platform_audit_log(500)
        .await
        .expect("audit");
    let entry = audit
        .iter()
        .find(|e| e.tenant_slug == slug)
        .expect("the creation is recorded");
    assert_eq!(entry.action, store::platform::AuditAction::TenantCreated);
    assert_eq!(entry.operator_email, me.email);
}

#[tokio::test]
async fn a_taken_or_invalid_slug_creates_nothing_and_names_the_field() {
    let app = spawn_app_with(long_cache()).await;
    let (mut operator, _) = signed_in_operator(&app).await;
    let existing = app.create_tenant("Already Here").await;
    let admin_email = format!("{}@dup.example", unique("dup"));
    let page = operator
        .post_form(
            "/console/tenants/new",
            &[
                ("slug", existing.tenant.slug.as_str()),
                ("name", "Second Try"),
                ("admin_name", "Dup Admin"),
                ("admin_email", &admin_email),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT, "{}", page.body);
    assert!(
        page.body.contains("id=\"tenant-slug-error\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("already taken"));
    assert!(
        page.body.contains("value=\"Second Try\""),
        "values are kept"
    );
    assert!(page.body.contains(&format!("value=\"{admin_email}\"")));
    // Nothing of the failed attempt exists: the tenant keeps its name, no invitation was queued.
    let still = app
        .owner
        .tenant_by_slug(&existing.tenant.slug)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(still.name.as_str(), "Already Here");
    assert!(outbox_of(&app, existing.tenant.id).await.is_empty());

    let page = operator
        .post_form(
            "/console/tenants/new",
            &[
                ("slug", "-bad slug-"),
                ("name", ""),
                ("admin_name", "Someone"),
                ("admin_email", "not-an-address"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in [
        "tenant-slug-error",
        "tenant-name-error",
        "admin-email-error",
    ] {
        assert!(page.body.contains(&format!("id=\"{field}\"")), "{field}");
    }
    assert!(!page.body.contains("id=\"admin-name-error\""));
    assert!(page.body.contains("value=\"Someone\""));
    assert!(page.body.contains("value=\"-bad slug-\""));
}

#[tokio::test]
async fn suspending_with_a_reason_closes_the_portal_at_once_and_is_audited() {
    let app = spawn_app_with(long_cache()).await;
    let (mut operator, me) = signed_in_operator(&app).await;
    let tenant = app.create_tenant("Suspend Me Corp").await;
    let host = tenant.host();
    let slug = tenant.tenant.slug.as_str().to_owned();
    assert_eq!(
        status_of(&app, &host).await,
        StatusCode::OK,
        "cached as active"
    );

    let list = operator.get(&format!("/console?q={slug}")).await;
    assert!(
        list.body
            .contains(&format!("/console/tenants/{slug}/suspend")),
        "{}",
        list.body
    );

    // A reason is required.
    let page = operator
        .post_form(
            &format!("/console/tenants/{slug}/suspend"),
            &[("reason", "  ")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("Give a reason"), "{}", page.body);
    assert_eq!(status_of(&app, &host).await, StatusCode::OK);

    let page = operator
        .post_form(
            &format!("/console/tenants/{slug}/suspend"),
            &[("reason", "Invoice 42 unpaid for 90 days")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(status_of(&app, &host).await, StatusCode::FORBIDDEN);
    let notice = operator
        .get(page.location.as_deref().expect("location"))
        .await;
    assert!(notice.body.contains("is suspended"), "{}", notice.body);
    assert!(notice.body.contains("tenant-status-suspended"));

    let audit = operator.get("/console/audit").await;
    assert_eq!(audit.status, StatusCode::OK);
    assert!(
        audit.body.contains("Invoice 42 unpaid for 90 days"),
        "{}",
        audit.body
    );
    assert!(audit.body.contains(&me.email));
    assert!(audit.body.contains("suspended"));
    let entries = app
        .state
        .store
        .platform_audit_log(500)
        .await
        .expect("audit");
    let entry = entries
        .iter()
        .find(|e| e.tenant_slug == slug)
        .expect("recorded");
    assert_eq!(entry.action, store::platform::AuditAction::TenantSuspended);
    assert_eq!(entry.operator_name, me.name);
    assert_eq!(
        entry.reason.as_deref(),
        Some("Invoice 42 unpaid for 90 days")
    );

    let page = operator
        .post_form(
            &format!("/console/tenants/{slug}/resume"),
            &[("reason", "Paid in full")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(status_of(&app, &host).await, StatusCode::OK);
    let entries = app
        .state
        .store
        .platform_audit_log(500)
        .await
        .expect("audit");
    assert_eq!(
        entries
            .iter()
            .find(|e| e.tenant_slug == slug)
            .map(|e| (&e.action, e.reason.as_deref())),
        Some((
            &store::platform::AuditAction::TenantResumed,
            Some("Paid in full")
        )),
        "the newest entry first"
    );

    let missing = operator
        .post_form(
            "/console/tenants/no-such-tenant-x/suspend",
            &[("reason", "x")],
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_console_lists_counts_and_pages_by_slug() {
    let app = spawn_app_with(long_cache()).await;
    let (mut operator, _) = signed_in_operator(&app).await;
    let tenant = app.create_tenant("Counted Corp").await;
    app.create_agent(
        &tenant.tenant,
        BuiltinRole::Agent,
        "one@counted.example",
        PASSWORD,
    )
    .await;
    let rows = app
        .state
        .store
        .tenant_overview(tenant.tenant.slug.as_str(), 10, None)
        .await
        .expect("overview");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].agents, 1);
    assert_eq!(rows[0].end_users, 0);
    // Search matches the name too, case-insensitively.
    let by_name = app
        .state
        .store
        .tenant_overview("COUNTED corp", 500, None)
        .await
        .expect("overview");
    assert!(by_name.iter().any(|t| t.id == tenant.tenant.id));

    // Keyset: a page of one, then the next after it, never repeats.
    let first = app
        .state
        .store
        .tenant_overview("", 1, None)
        .await
        .expect("page");
    let second = app
        .state
        .store
        .tenant_overview("", 1, Some(&first[0].slug))
        .await
        .expect("page");
    assert!(second.is_empty() || second[0].slug != first[0].slug);
    let page = operator.get("/console").await;
    assert_eq!(page.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// The database: the runtime role's only way to platform writes is the platform_* functions.
// ---------------------------------------------------------------------------------------------

async fn runtime_pool() -> PgPool {
    PgPool::connect(&database().runtime_url)
        .await
        .expect("runtime connection")
}

#[tokio::test]
async fn the_runtime_role_changes_tenants_and_the_audit_only_through_the_functions() {
    let app = spawn_app_with(long_cache()).await;
    let tenant = app.create_tenant("Catalog Console").await;
    let pool = runtime_pool().await;

    for statement in [
        "select * from platform_audit limit 1".to_owned(),
        "insert into platform_audit (id, operator_id, action, tenant_id) values
           (gen_random_uuid(), gen_random_uuid(), 'tenant_created', gen_random_uuid())"
            .to_owned(),
        "delete from platform_audit".to_owned(),
        format!(
            "update tenants set status = 'suspended' where id = '{}'",
            tenant.tenant.id
        ),
        "insert into tenants (id, slug, name) values (gen_random_uuid(), 'sneaky-tenant', 'x')"
            .to_owned(),
        "delete from tenants where false".to_owned(),
    ] {
        let error = sqlx::query(&statement)
            .execute(&pool)
            .await
            .expect_err(&statement);
        assert!(
            error.to_string().contains("permission denied"),
            "{statement}: {error}"
        );
    }
    assert_eq!(status_of(&app, &tenant.host()).await, StatusCode::OK);

    // Every platform_* function: SECURITY DEFINER, a fixed search_path, not executable by
    // PUBLIC, executable by the runtime role, owned by the migrating role (not the runtime one).
    let owner = PgPool::connect(&database().owner_url).await.expect("owner");
    let functions: Vec<(String, bool, Vec<String>, bool, bool, String)> = sqlx::query_as(
        "select p.proname::text, p.prosecdef, coalesce(p.proconfig, '{}'),
                has_function_privilege('tenantdesk_app', p.oid, 'execute'),
                exists (select from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                         where a.grantee = 0 and a.privilege_type = 'EXECUTE'),
                pg_get_userbyid(p.proowner)::text
           from pg_proc p where p.pronamespace = 'public'::regnamespace and p.proname like 'platform\\_%'
          order by 1",
    )
    .fetch_all(&owner)
    .await
    .expect("functions");
    let names: Vec<&str> = functions.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "platform_audit_log",
            "platform_create_tenant",
            "platform_roll_up_usage",
            "platform_set_tenant_status",
            "platform_tenant_overview",
            "platform_tenant_usage"
        ]
    );
    for (name, definer, config, runtime_may, public_may, owner_name) in &functions {
        assert!(definer, "{name} is SECURITY DEFINER");
        assert!(
            config.iter().any(|c| c == "search_path=pg_catalog, public"),
            "{name}: fixed search_path, got {config:?}"
        );
        assert!(runtime_may, "{name}: the runtime role may execute it");
        assert!(!public_may, "{name}: PUBLIC may not execute it");
        assert_ne!(owner_name, "tenantdesk_app", "{name}");
    }

    // The status function changes only the status, only to a known one, always with its audit row.
    let operator = app
        .create_operator(&format!("{}@catalog.example", unique("op")), PASSWORD)
        .await;
    let error = sqlx::query("select platform_set_tenant_status($1, 'deleted', $2, 'why')")
        .bind(tenant.tenant.slug.as_str())
        .bind(operator.id)
        .execute(&pool)
        .await
        .expect_err("an unknown status");
    assert!(
        error.to_string().contains("unknown tenant status"),
        "{error}"
    );
    let error = sqlx::query("select platform_set_tenant_status($1, 'suspended', $2, '  ')")
        .bind(tenant.tenant.slug.as_str())
        .bind(operator.id)
        .execute(&pool)
        .await
        .expect_err("no reason");
    assert!(
        error.to_string().contains("platform_audit_reason_required"),
        "{error}"
    );
    let error =
        sqlx::query("select platform_set_tenant_status($1, 'suspended', gen_random_uuid(), 'x')")
            .bind(tenant.tenant.slug.as_str())
            .execute(&pool)
            .await
            .expect_err("no such operator");
    assert!(error.to_string().contains("foreign key"), "{error}");
    let unchanged = app
        .owner
        .tenant_by_slug(&tenant.tenant.slug)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        unchanged.status,
        TenantStatus::Active,
        "refused calls change nothing"
    );
    let missing: bool = sqlx::query_scalar(
        "select platform_set_tenant_status('no-such-slug-q', 'suspended', $1, 'x')",
    )
    .bind(operator.id)
    .fetch_one(&pool)
    .await
    .expect("no such tenant");
    assert!(!missing);

    // Creating cannot take over an existing tenant, nor leave the caller's tenant setting behind.
    let mut connection = pool.acquire().await.expect("connection");
    sqlx::query("begin")
        .execute(&mut *connection)
        .await
        .expect("begin");
    let error = sqlx::query("select platform_create_tenant(gen_random_uuid(), $1, 'Takeover', $2)")
        .bind(tenant.tenant.slug.as_str())
        .bind(operator.id)
        .execute(&mut *connection)
        .await
        .expect_err("a taken slug");
    assert!(error.to_string().contains("tenants_slug_key"), "{error}");
    sqlx::query("rollback")
        .execute(&mut *connection)
        .await
        .expect("rollback");
    let slug = fresh_slug();
    sqlx::query("begin")
        .execute(&mut *connection)
        .await
        .expect("begin");
    sqlx::query("select platform_create_tenant(gen_random_uuid(), $1, 'Setting Check', $2)")
        .bind(&slug)
        .bind(operator.id)
        .execute(&mut *connection)
        .await
        .expect("create");
    let setting: String =
        sqlx::query_scalar("select coalesce(current_setting('app.tenant_id', true), '')")
            .fetch_one(&mut *connection)
            .await
            .expect("setting");
    assert_eq!(
        setting, "",
        "the function restores the caller's tenant setting"
    );
    let visible: i64 = sqlx::query_scalar("select count(*) from tenant_settings")
        .fetch_one(&mut *connection)
        .await
        .expect("count");
    assert_eq!(visible, 0, "and the caller sees no tenant's rows after it");
    sqlx::query("rollback")
        .execute(&mut *connection)
        .await
        .expect("rollback");
}

// ---------------------------------------------------------------------------------------------
// Chromium
// ---------------------------------------------------------------------------------------------

async fn fill(client: &Client, id: &str, value: &str) {
    let field = client.find(Locator::Id(id)).await.expect(id);
    field.clear().await.expect("clear");
    field.send_keys(value).await.expect("type");
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .expect(css)
        .click()
        .await
        .expect("click");
}

#[tokio::test]
async fn in_chromium_an_operator_creates_suspends_and_resumes_a_tenant() {
    let app = spawn_app_with(long_cache()).await;
    let email = format!("{}@browser-console.example", unique("op"));
    app.create_operator(&email, PASSWORD).await;
    let slug = fresh_slug();
    let host = format!("{slug}.{BASE_DOMAIN}");
    let client = browser::open().await;

    client
        .goto(&app.browser_url(BASE_DOMAIN, "/login?next=/console"))
        .await
        .expect("open the sign-in page");
    fill(&client, "email", &email).await;
    fill(&client, "password", PASSWORD).await;
    click(&client, "form[action='/login'] button[type=submit]").await;
    client
        .wait()
        .for_element(Locator::Css(
            ".console-table, a[href='/console/tenants/new']",
        ))
        .await
        .expect("the console");

    client
        .goto(&app.browser_url(BASE_DOMAIN, "/console/tenants/new"))
        .await
        .expect("the new tenant form");
    fill(&client, "tenant-slug", &slug).await;
    fill(&client, "tenant-name", "Chromium Created Co").await;
    fill(&client, "admin-name", "Robin Browser").await;
    fill(&client, "admin-email", "robin@chromium-created.example").await;
    click(
        &client,
        "form[action='/console/tenants/new'] button[type=submit]",
    )
    .await;
    let notice = client
        .wait()
        .for_element(Locator::Id("created-notice"))
        .await
        .expect("the created notice")
        .text()
        .await
        .expect("text");
    assert!(notice.contains("Chromium Created Co"), "{notice}");
    assert_eq!(status_of(&app, &host).await, StatusCode::OK);

    client
        .goto(&app.browser_url(BASE_DOMAIN, &format!("/console?q={slug}")))
        .await
        .expect("the list");
    fill(&client, &format!("reason-{slug}"), "Chromium says stop").await;
    click(&client, &format!("#tenant-{slug} button[type=submit]")).await;
    client
        .wait()
        .for_element(Locator::Css(&format!(
            "#tenant-{slug} .tenant-status-suspended"
        )))
        .await
        .expect("shown as suspended");
    assert_eq!(status_of(&app, &host).await, StatusCode::FORBIDDEN);

    client
        .goto(&app.browser_url(BASE_DOMAIN, &format!("/console?q={slug}")))
        .await
        .expect("the list");
    fill(&client, &format!("reason-{slug}"), "Chromium says go").await;
    click(&client, &format!("#tenant-{slug} button[type=submit]")).await;
    client
        .wait()
        .for_element(Locator::Css(&format!(
            "#tenant-{slug} .tenant-status-active"
        )))
        .await
        .expect("shown as active");
    assert_eq!(status_of(&app, &host).await, StatusCode::OK);

    client
        .goto(&app.browser_url(BASE_DOMAIN, "/console/audit"))
        .await
        .expect("the audit log");
    let audit = client
        .find(Locator::Css("main"))
        .await
        .expect("main")
        .text()
        .await
        .expect("text");
    client.close().await.expect("close the browser");
    assert!(
        audit.contains("Chromium says stop") && audit.contains("Chromium says go"),
        "{audit}"
    );
}

#[tokio::test]
async fn usage_per_tenant_and_day_comes_from_counters_kept_by_the_database() {
    let app = spawn_app_with(long_cache()).await;
    let (mut operator, _) = signed_in_operator(&app).await;
    let tenant = app.create_tenant("Usage Corp").await;
    let other = app.create_tenant("Quiet Corp").await;
    let token = app.issue_token(&tenant.tenant, "usage").await;
    for n in 0..3 {
        let (status, body) = app
            .api(
                &tenant,
                &token,
                reqwest::Method::POST,
                "/api/v1/tickets",
                Some(
                    serde_json::json!({"subject": format!("Usage {n}"), "message": "m",
                    "requester_email": format!("usage{n}@example.com")}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // Two messages the worker marks sent (the owner, in the tenant, as mail_mark_sent does).
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tx");
    for to in ["a@usage.example", "b@usage.example"] {
        store::outbox::enqueue(
            &mut tx,
            &store::outbox::NewEmail {
                event: "user.invitation".into(),
                recipient: domain::EmailAddress::parse(to).expect("email"),
                from_name: "Usage Corp".into(),
                from_address: None,
                reply_to: None,
                subject: "Hello".into(),
                html_body: "<p>Hi</p>".into(),
                text_body: "Hi".into(),
            },
            "tenantdesk.test",
        )
        .await
        .expect("enqueue");
    }
    tx.commit().await.expect("commit");
    let owner = PgPool::connect(&database().owner_url).await.expect("owner");
    let mut tx = owner.begin().await.expect("tx");
    sqlx::query("select set_config('app.tenant_id', $1, true)")
        .bind(tenant.tenant.id.to_string())
        .execute(&mut *tx)
        .await
        .expect("tenant");
    let sent = sqlx::query("update outbound_emails set status = 'sent' where tenant_id = $1::uuid")
        .bind(tenant.tenant.id.to_string())
        .execute(&mut *tx)
        .await
        .expect("mark sent");
    tx.commit().await.expect("commit");
    assert_eq!(sent.rows_affected(), 2);

    let rows = app
        .state
        .store
        .tenant_overview(tenant.tenant.slug.as_str(), 10, None)
        .await
        .expect("overview");
    assert_eq!(rows[0].tickets, 3, "deltas not folded yet count");
    // Folded into the totals (by this call or a worker's meanwhile), the figures stay.
    app.state.store.roll_up_usage().await.expect("roll up");
    let rows = app
        .state
        .store
        .tenant_overview(tenant.tenant.slug.as_str(), 10, None)
        .await
        .expect("overview");
    assert_eq!(rows[0].tickets, 3);
    assert_eq!(rows[0].end_users, 3, "the three requesters");
    assert_eq!(rows[0].mail_last_30_days, 2);
    assert!(rows[0].last_activity.is_some());
    let page = operator
        .get(&format!(
            "/console/tenants/{}/usage?days=7",
            tenant.tenant.slug
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let row = page
        .body
        .split(&format!("id=\"day-{today}\""))
        .nth(1)
        .and_then(|rest| rest.split("</tr>").next())
        .expect("a row for today");
    let cells: Vec<&str> = row
        .split("<td class=\"number\">")
        .skip(1)
        .map(|cell| cell.split('<').next().unwrap_or_default())
        .collect();
    assert_eq!(cells, vec!["3", "2", "0 B"]);
    assert_eq!(page.body.matches("<tr id=\"day-").count(), 7);
    // The quiet tenant's days are all zero; an unknown tenant and a bad range are refused.
    let quiet = operator
        .get(&format!("/console/tenants/{}/usage", other.tenant.slug))
        .await;
    assert_eq!(quiet.status, StatusCode::OK);
    assert!(!quiet.body.contains("<td class=\"number\">3</td>"));
    let unknown = operator
        .get("/console/tenants/no-such-tenant-here/usage")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let bad = operator
        .get(&format!(
            "/console/tenants/{}/usage?days=0",
            tenant.tenant.slug
        ))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // Not for anyone but operators.
    let mut anonymous = app.visitor(BASE_DOMAIN);
    let page = anonymous
        .get(&format!("/console/tenants/{}/usage", tenant.tenant.slug))
        .await;
    assert_ne!(page.status, StatusCode::OK);
    assert!(!page.body.contains("Tickets created"));
}
