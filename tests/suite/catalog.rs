//! Invariants of the schema itself, checked in the catalog so that a future migration that
//! breaks one fails here at once (GUIDE.md section 3).

use sqlx::PgPool;
use tenantdesk_tests::database;

/// Tables that carry tenant_id but are read before a tenant is known. Keep this list short.
const PLATFORM_TABLES_WITH_TENANT_ID: &[&str] = &[
    // Custom domains are looked up by host to find the tenant in the first place.
    "tenant_domains",
    // The operators' audit trail names the tenant acted on; only the platform_* SECURITY
    // DEFINER functions read or write it (tests in console.rs).
    "platform_audit",
    // Usage totals and days for the console, written only by SECURITY DEFINER triggers and
    // read only through platform_* functions; the runtime role has no privilege on them.
    "tenant_usage",
    "tenant_usage_daily",
    "tenant_usage_deltas",
];

/// Every tenant table's `tenant_isolation` clause (GUIDE.md section 3), as PostgreSQL prints it
/// back. The sub-select matters: without it plans follow the tenant's size, and a generic plan
/// made for a big tenant seq-scans the whole table for everyone (docs/architecture.md).
const TENANT_ISOLATION: &str = "(tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS \"nullif\"))";

/// Policies for one named role beside tenant_isolation: the narrow cross-tenant paths of
/// GUIDE.md section 3, each with a test of what the role can and cannot do.
const ROLE_POLICIES: &[(&str, &str, &str)] = &[
    // The mail delivery worker claims due mail of every tenant (tests in outbox.rs).
    ("outbound_emails", "mail_delivery", "{tenantdesk_mailer}"),
    // The ticket search functions read the search columns with their own tenant filter.
    ("tickets", "ticket_search", "{tenantdesk_ticket_search}"),
    (
        "ticket_entries",
        "ticket_search",
        "{tenantdesk_ticket_search}",
    ),
    // The directory's search functions read these with an explicit tenant filter of their own
    // (tests below and in user_directory.rs).
    ("end_users", "directory_search", "{tenantdesk_directory}"),
    (
        "organizations",
        "directory_search",
        "{tenantdesk_directory}",
    ),
    (
        "organization_members",
        "directory_search",
        "{tenantdesk_directory}",
    ),
];

/// name, roles, command, USING, WITH CHECK
type PolicyRow = (String, String, String, Option<String>, Option<String>);

async fn owner_pool() -> PgPool {
    PgPool::connect(&database().owner_url)
        .await
        .expect("owner connection")
}

async fn tenant_tables(pool: &PgPool) -> Vec<String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_class c
           join pg_namespace n on n.oid = c.relnamespace
           join pg_attribute a on a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped
          where n.nspname = 'public' and c.relkind in ('r', 'p')
          order by 1",
    )
    .fetch_all(pool)
    .await
    .expect("listing tables");
    tables
        .into_iter()
        .filter(|t| !PLATFORM_TABLES_WITH_TENANT_ID.contains(&t.as_str()))
        .collect()
}

#[tokio::test]
async fn every_tenant_table_forces_rls_with_the_tenant_policy() {
    let pool = owner_pool().await;
    let tables = tenant_tables(&pool).await;
    assert!(
        tables.contains(&"tenant_settings".to_owned()),
        "found tenant tables: {tables:?}"
    );
    for table in tables {
        let (enabled, forced): (bool, bool) = sqlx::query_as(
            "select relrowsecurity, relforcerowsecurity from pg_class
              where relname = $1 and relnamespace = 'public'::regnamespace",
        )
        .bind(&table)
        .fetch_one(&pool)
        .await
        .expect("reading RLS flags");
        assert!(
            enabled && forced,
            "{table}: row-level security must be enabled and forced"
        );
        let policies: Vec<PolicyRow> = sqlx::query_as(
            "select policyname::text, roles::text, cmd::text, qual, with_check from pg_policies
              where schemaname = 'public' and tablename = $1",
        )
        .bind(&table)
        .fetch_all(&pool)
        .await
        .expect("reading policies");
        let (for_everyone, for_roles): (Vec<_>, Vec<_>) = policies
            .into_iter()
            .partition(|(_, roles, ..)| roles == "{public}");
        for (name, roles, ..) in &for_roles {
            assert!(
                ROLE_POLICIES.contains(&(table.as_str(), name.as_str(), roles.as_str())),
                "{table}: policy {name} for {roles} is not on the allow-list of narrow paths"
            );
        }
        assert_eq!(
            for_everyone.len(),
            1,
            "{table}: exactly one policy for everyone, found {for_everyone:?}"
        );
        let (name, _, command, using, check) = &for_everyone[0];

        assert_eq!(name, "tenant_isolation", "{table}");
        assert_eq!(command, "ALL", "{table}: the policy covers every command");
        for clause in [using, check] {
            assert_eq!(
                clause.as_deref(),
                Some(TENANT_ISOLATION),
                "{table}: the policy must compare tenant_id with the sub-select of app.tenant_id"
            );
        }
    }
}

#[tokio::test]
async fn every_key_and_unique_index_of_a_tenant_table_leads_with_tenant_id() {
    let pool = owner_pool().await;
    for table in tenant_tables(&pool).await {
        let indexes: Vec<(String, Option<String>)> = sqlx::query_as(
            "select i.indexrelid::regclass::text,
                    (select a.attname::text from pg_attribute a
                      where a.attrelid = i.indrelid and a.attnum = i.indkey[0])
               from pg_index i
              where i.indrelid = ('public.' || $1)::regclass and (i.indisunique or i.indisprimary)",
        )
        .bind(&table)
        .fetch_all(&pool)
        .await
        .expect("reading indexes");
        assert!(!indexes.is_empty(), "{table} has no primary key");
        for (index, first_column) in indexes {
            assert_eq!(
                first_column.as_deref(),
                Some("tenant_id"),
                "{table}: unique index {index} must start with tenant_id"
            );
        }
    }
}

#[tokio::test]
async fn foreign_keys_between_tenant_tables_include_tenant_id() {
    let pool = owner_pool().await;
    let tenant_tables = tenant_tables(&pool).await;
    let foreign_keys: Vec<(String, String, String, Vec<String>)> = sqlx::query_as(
        "select c.conname::text, c.conrelid::regclass::text, c.confrelid::regclass::text,
                array(select a.attname::text from unnest(c.conkey) k
                        join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k)
           from pg_constraint c
          where c.contype = 'f' and c.connamespace = 'public'::regnamespace",
    )
    .fetch_all(&pool)
    .await
    .expect("reading foreign keys");
    for (name, from, to, columns) in foreign_keys {
        if !tenant_tables.contains(&from) {
            continue;
        }
        assert!(
            columns.contains(&"tenant_id".to_owned()),
            "{from}: foreign key {name} to {to} must include tenant_id, has {columns:?}"
        );
        if to == "tenants" {
            assert_eq!(
                columns,
                ["tenant_id"],
                "{from}: {name} must reference tenants by tenant_id"
            );
        }
    }
}

#[tokio::test]
async fn the_runtime_role_cannot_bypass_rls_and_owns_nothing() {
    let pool = owner_pool().await;
    let (superuser, bypass, can_create_roles, owned): (bool, bool, bool, i64) = sqlx::query_as(
        "select rolsuper, rolbypassrls, rolcreaterole,
                (select count(*) from pg_class c where c.relowner = r.oid)
           from pg_roles r where rolname = 'tenantdesk_app'",
    )
    .fetch_one(&pool)
    .await
    .expect("the runtime role exists");
    assert!(!superuser, "tenantdesk_app must not be a superuser");
    assert!(!bypass, "tenantdesk_app must not have BYPASSRLS");
    assert!(!can_create_roles, "tenantdesk_app must not create roles");
    assert_eq!(owned, 0, "tenantdesk_app must own no relation");
}

#[tokio::test]
async fn the_mailer_role_reads_outbound_mail_and_nothing_else() {
    let pool = owner_pool().await;
    let mut connection = pool.acquire().await.expect("connection");
    let (can_login, members): (bool, i64) = sqlx::query_as(
        "select rolcanlogin, (select count(*) from pg_auth_members m where m.roleid = r.oid)
           from pg_roles r where rolname = 'tenantdesk_mailer'",
    )
    .fetch_one(&mut *connection)
    .await
    .expect("the mailer role exists");
    assert!(!can_login, "nobody logs in as the mailer");
    assert_eq!(members, 0, "no role may switch to the mailer");

    sqlx::query("set role tenantdesk_mailer")
        .execute(&mut *connection)
        .await
        .expect("set role");
    for table in [
        "tenants",
        "tenant_domains",
        "tenant_settings",
        "api_tokens",
        "email_templates",
    ] {
        let error = sqlx::query(&format!("select 1 from {table} limit 1"))
            .execute(&mut *connection)
            .await
            .expect_err(table);
        assert!(
            error.to_string().contains("permission denied"),
            "{table}: {error}"
        );
    }
    let error = sqlx::query("delete from outbound_emails")
        .execute(&mut *connection)
        .await
        .expect_err("delete");
    assert!(error.to_string().contains("permission denied"), "{error}");
    let error = sqlx::query(
        "insert into outbound_emails (tenant_id, id, event, recipient, from_name, subject, html_body, text_body, message_id)
         values (gen_random_uuid(), gen_random_uuid(), 'x.y', 'a@b.c', 'x', 'x', 'x', 'x', 'x')",
    )
    .execute(&mut *connection)
    .await
    .expect_err("insert");
    assert!(error.to_string().contains("permission denied"), "{error}");
    sqlx::query("select count(*) from outbound_emails")
        .execute(&mut *connection)
        .await
        .expect("reads outbound mail");
    sqlx::query("reset role")
        .execute(&mut *connection)
        .await
        .expect("reset role");
}

#[tokio::test]
async fn the_directory_role_only_reads_the_searched_tables() {
    let pool = owner_pool().await;
    let (can_login, members, bypass): (bool, i64, bool) = sqlx::query_as(
        "select rolcanlogin, (select count(*) from pg_auth_members m where m.roleid = r.oid), rolbypassrls
           from pg_roles r where rolname = 'tenantdesk_directory'",
    )
    .fetch_one(&pool)
    .await
    .expect("the directory role exists");
    assert!(!can_login, "nobody logs in as the directory role");
    assert_eq!(members, 0, "no role may switch to the directory role");
    assert!(!bypass);
    let policies: Vec<(String, String)> = sqlx::query_as(
        "select tablename::text, cmd::text from pg_policies where policyname = 'directory_search'",
    )
    .fetch_all(&pool)
    .await
    .expect("policies");
    assert!(
        policies.iter().all(|(_, cmd)| cmd == "SELECT"),
        "the directory role's policies only read: {policies:?}"
    );

    let mut connection = pool.acquire().await.expect("connection");
    sqlx::query("set role tenantdesk_directory")
        .execute(&mut *connection)
        .await
        .expect("set role");
    for statement in [
        "select 1 from tenant_settings limit 1",
        "select 1 from agents limit 1",
        "select 1 from auth_tokens limit 1",
        "update end_users set city = city",
        "delete from organizations",
        "insert into organization_members (tenant_id, end_user_id, organization_id) values (gen_random_uuid(), gen_random_uuid(), gen_random_uuid())",
    ] {
        let error = sqlx::query(statement)
            .execute(&mut *connection)
            .await
            .expect_err(statement);
        assert!(
            error.to_string().contains("permission denied"),
            "{statement}: {error}"
        );
    }
    sqlx::query("reset role")
        .execute(&mut *connection)
        .await
        .expect("reset role");
}

#[tokio::test]
async fn the_search_functions_fail_closed_without_a_tenant() {
    let pool = PgPool::connect(&database().runtime_url)
        .await
        .expect("runtime connection");
    for call in [
        "select count(*) from directory.end_user_ids_matching('%a%')",
        "select count(*) from directory.end_user_ids_with_custom('{}')",
        "select count(*) from directory.organization_ids_matching('%a%')",
        "select count(*) from directory.organization_ids_with_custom('{}')",
        "select count(*) from ticket_search.ticket_ids_matching('printer')",
        "select ticket_search.ticket_ids_matching_up_to('printer', 10)",
        "select count(*) from ticket_search.ticket_ids_with_custom('{}')",
        "select ticket_search.ticket_ids_with_custom_up_to('{}', 10)",
    ] {
        let error = sqlx::query(call).execute(&pool).await.expect_err(call);
        assert!(
            error.to_string().contains("app.tenant_id is not set"),
            "{call}: {error}"
        );
    }
}

#[tokio::test]
async fn the_ticket_search_role_only_reads_the_search_columns() {
    let pool = owner_pool().await;
    let (can_login, members, bypass): (bool, i64, bool) = sqlx::query_as(
        "select rolcanlogin, (select count(*) from pg_auth_members m where m.roleid = r.oid), rolbypassrls
           from pg_roles r where rolname = 'tenantdesk_ticket_search'",
    )
    .fetch_one(&pool)
    .await
    .expect("the ticket search role exists");
    assert!(!can_login, "nobody logs in as the ticket search role");
    assert_eq!(members, 0, "no role may switch to the ticket search role");
    assert!(!bypass);
    let commands: Vec<String> =
        sqlx::query_scalar("select cmd::text from pg_policies where policyname = 'ticket_search'")
            .fetch_all(&pool)
            .await
            .expect("policies");
    assert_eq!(commands, vec!["SELECT", "SELECT"]);

    let mut connection = pool.acquire().await.expect("connection");
    sqlx::query("set role tenantdesk_ticket_search")
        .execute(&mut *connection)
        .await
        .expect("set role");
    for statement in [
        "select subject from tickets limit 1",
        "select body_text from ticket_entries limit 1",
        "select 1 from end_users limit 1",
        "update tickets set custom = custom",
        "delete from ticket_entries",
    ] {
        let error = sqlx::query(statement)
            .execute(&mut *connection)
            .await
            .expect_err(statement);
        assert!(
            error.to_string().contains("permission denied"),
            "{statement}: {error}"
        );
    }
    sqlx::query("select id, subject_vector from tickets limit 1")
        .execute(&mut *connection)
        .await
        .expect("reads the search columns");
    sqlx::query("reset role")
        .execute(&mut *connection)
        .await
        .expect("reset role");
}
