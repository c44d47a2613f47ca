//! Tenantdesk's HTTP layer: tenant resolution from Host, the pages people use, the JSON API
//! under `/api/v1`, and the wiring of them all in [`router`].

pub mod agents;
pub mod api;
mod assets;
pub mod attachments;
pub mod auth;
pub mod directory;
mod error;
mod health;
pub mod imports;
pub mod invalidation;
pub mod mailbox;
pub mod mailer;
mod pages;
pub mod portal;
mod router;
pub mod settings_cache;
pub mod sign_in;
mod state;
pub mod telemetry;
pub mod tenancy;
pub mod ticket_notifications;
pub mod ticket_rules;
pub mod tickets;
pub mod users;
pub mod workspace;

pub use router::router;
pub use state::{App, AppState, WebConfig};
