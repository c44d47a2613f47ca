//! Tenantdesk's PostgreSQL access. This crate alone holds connection pools; everything a tenant
//! owns is read and written through a [`TenantTx`], a transaction that has already set
//! `app.tenant_id`, so row-level security scopes every statement to one tenant.

pub mod agents;
pub mod auth_tokens;
pub mod email_templates;
pub mod end_users;
mod error;
pub mod operators;
pub mod outbox;
pub mod platform;
mod pool;
mod secret;
pub mod settings;
pub mod tenancy;
pub mod tokens;

pub use error::StoreError;
pub use pool::{Owner, RoleProblem, Store, TenantTx};

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
