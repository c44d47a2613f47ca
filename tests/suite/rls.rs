//! Row-level security as the runtime role sees it, on raw connections: no tenant set means no
//! rows and no writes; one tenant set means only that tenant's rows; the setting ends with the
//! transaction even on the same pooled connection.

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tenantdesk_tests::{TestApp, database, spawn_app};
use uuid::Uuid;

async fn runtime_pool_of_one() -> PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .connect(&database().runtime_url)
        .await
        .expect("runtime connection")
}

async fn two_tenants(app: &TestApp) -> (Uuid, Uuid) {
    let a = app.create_tenant("Tenant A").await.tenant.id.as_uuid();
    let b = app.create_tenant("Tenant B").await.tenant.id.as_uuid();
    (a, b)
}

async fn begin_as(pool: &PgPool, tenant: Uuid) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("select set_config('app.tenant_id', $1, true)")
        .bind(tenant.to_string())
        .execute(&mut *tx)
        .await
        .expect("set tenant");
    tx
}

fn insert_token(
    tenant: Uuid,
) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query("insert into api_tokens (tenant_id, id, name, token_hash) values ($1, $2, $3, $4)")
        .bind(tenant)
        .bind(Uuid::now_v7())
        .bind(format!("token {}", Uuid::now_v7()))
        .bind(vec![7u8; 32])
}

fn is_rls_violation(error: &sqlx::Error) -> bool {
    error.as_database_error().and_then(|e| e.code()).as_deref() == Some("42501")
}

#[tokio::test]
async fn without_a_tenant_nothing_is_visible_and_nothing_can_be_written() {
    let app = spawn_app().await;
    let (a, _) = two_tenants(&app).await;
    let pool = runtime_pool_of_one().await;

    let visible: i64 = sqlx::query_scalar("select count(*) from tenant_settings")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(visible, 0, "no tenant set: no settings row may be visible");

    let error = insert_token(a)
        .execute(&pool)
        .await
        .expect_err("insert without tenant");
    assert!(
        is_rls_violation(&error),
        "expected an RLS violation, got {error}"
    );
}

#[tokio::test]
async fn with_tenant_a_set_tenant_b_is_invisible_and_untouchable() {
    let app = spawn_app().await;
    let (a, b) = two_tenants(&app).await;
    let pool = runtime_pool_of_one().await;

    let mut tx = begin_as(&pool, a).await;
    let seen: Vec<Uuid> = sqlx::query_scalar("select tenant_id from tenant_settings")
        .fetch_all(&mut *tx)
        .await
        .expect("select");
    assert_eq!(seen, vec![a], "tenant A sees exactly its own settings row");

    let updated =
        sqlx::query("update tenant_settings set display_name = 'hijacked' where tenant_id = $1")
            .bind(b)
            .execute(&mut *tx)
            .await
            .expect("update runs")
            .rows_affected();
    assert_eq!(updated, 0, "tenant A cannot update tenant B's row");

    let error = insert_token(b)
        .execute(&mut *tx)
        .await
        .expect_err("insert for B");
    assert!(
        is_rls_violation(&error),
        "expected an RLS violation, got {error}"
    );
    tx.rollback().await.expect("rollback");

    // Moving A's row to B is refused by the policy's WITH CHECK.
    let mut tx = begin_as(&pool, a).await;
    let error = sqlx::query("update tenant_settings set tenant_id = $1")
        .bind(b)
        .execute(&mut *tx)
        .await
        .expect_err("moving a row to another tenant");
    assert!(
        is_rls_violation(&error) || error.to_string().contains("violates"),
        "expected a refusal, got {error}"
    );
    tx.rollback().await.expect("rollback");

    let owner = PgPool::connect(&database().owner_url).await.expect("owner");
    let mut tx = begin_as(&owner, b).await;
    let name: String =
        sqlx::query_scalar("select display_name from tenant_settings where tenant_id = $1")
            .bind(b)
            .fetch_one(&mut *tx)
            .await
            .expect("read B as owner");
    assert_eq!(name, "Tenant B", "tenant B's row is unchanged");
}

#[tokio::test]
async fn the_tenant_setting_ends_with_the_transaction_on_the_same_connection() {
    let app = spawn_app().await;
    let (a, _) = two_tenants(&app).await;
    let pool = runtime_pool_of_one().await;

    let mut tx = begin_as(&pool, a).await;
    let inside: i64 = sqlx::query_scalar("select count(*) from tenant_settings")
        .fetch_one(&mut *tx)
        .await
        .expect("count inside");
    assert_eq!(inside, 1);
    tx.commit().await.expect("commit");

    // The pool has one connection, so this is the very connection that ran the transaction.
    let (setting, after): (Option<String>, i64) = sqlx::query_as(
        "select current_setting('app.tenant_id', true), (select count(*) from tenant_settings)",
    )
    .fetch_one(&pool)
    .await
    .expect("count after");
    assert_eq!(
        setting.as_deref().unwrap_or(""),
        "",
        "the setting is gone after commit"
    );
    assert_eq!(after, 0, "after commit, no tenant's rows are visible");
}
