//! Platform operators: global accounts of the base-domain console (not tenant data).

use chrono::{DateTime, Utc};
use domain::EmailAddress;
use uuid::Uuid;

use crate::{Owner, Result, Store, StoreError};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Operator {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub password_hash: String,
    pub sessions_valid_after: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, name, email, password_hash, sessions_valid_after, last_sign_in_at";

impl Store {
    pub async fn operator_by_email(&self, email: &str) -> Result<Option<Operator>> {
        Ok(sqlx::query_as(&format!(
            "select {COLUMNS} from operators where lower(email) = lower($1)"
        ))
        .bind(email.trim())
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn operator_by_id(&self, id: Uuid) -> Result<Option<Operator>> {
        Ok(
            sqlx::query_as(&format!("select {COLUMNS} from operators where id = $1"))
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Returns the database's clock, which dates the new session.
    pub async fn record_operator_sign_in(
        &self,
        id: Uuid,
        rehashed: Option<&str>,
    ) -> Result<DateTime<Utc>> {
        Ok(sqlx::query_scalar(
            "update operators set last_sign_in_at = clock_timestamp(), password_hash = coalesce($2, password_hash),
                    updated_at = now() where id = $1 returning last_sign_in_at",
        )
        .bind(id)
        .bind(rehashed)
        .fetch_one(self.pool())
        .await?)
    }
}

impl Owner {
    /// Creates an operator; the hash comes from the web layer's password hasher.
    pub async fn create_operator(
        &self,
        name: &str,
        email: &EmailAddress,
        password_hash: &str,
    ) -> Result<Operator> {
        sqlx::query_as(&format!(
            "insert into operators (id, name, email, password_hash) values ($1, $2, $3, $4) returning {COLUMNS}"
        ))
        .bind(Uuid::now_v7())
        .bind(name.trim())
        .bind(email.as_str())
        .bind(password_hash)
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::from_write)
    }
}
