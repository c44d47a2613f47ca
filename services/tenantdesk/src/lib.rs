//! The `tenantdesk` program: command line, configuration, wiring of store and web, and the
//! embedded PostgreSQL launcher. Kept as a library too, so the test harness reuses the launcher.

pub mod cli;
mod database;
mod demo;
pub mod embedded_postgres;
pub mod import;
pub mod kept_child;
pub mod mail_worker;
mod serve;
mod statement_spans;
pub mod telemetry;

pub use cli::{Cli, run};
