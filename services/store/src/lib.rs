//! Tenantdesk's PostgreSQL access. This crate alone holds connection pools; everything a tenant
//! owns is read and written through a [`TenantTx`], a transaction that has already set
//! `app.tenant_id`, so row-level security scopes every statement to one tenant.

pub mod agents;
pub mod auth_tokens;
pub mod custom_fields;
pub mod customer_groups;
pub mod departments;
pub mod email_templates;
pub mod end_users;
mod error;
pub mod field_mappings;
pub mod guest_links;
pub mod help_topics;
pub mod keyset;
pub mod notification_mutes;
pub mod operators;
pub mod organizations;
pub mod outbox;
pub mod platform;
mod pool;
pub mod portal_settings;
pub mod portal_tickets;
pub mod savepoints;
pub mod search;
mod secret;
pub mod settings;
pub mod sign_in_providers;
pub mod sla_plans;
pub mod teams;
pub mod tenancy;
pub mod ticket_attachments;
pub mod ticket_filters;
pub mod ticket_settings;
pub mod ticket_statuses;
pub mod ticket_thread;
pub mod tickets;
pub mod tokens;
pub mod user_directory;

pub use error::StoreError;
pub use pool::{Owner, RoleProblem, Store, TenantTx};

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
