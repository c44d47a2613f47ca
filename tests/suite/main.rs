//! The black-box test suite, one binary: catalog invariants, row-level security as the runtime
//! role, HTTP behaviour of the spawned server, the CLI and embedded default, and the browser.

mod accounts;
mod admin;
mod admin_identity;
mod agent_auth;
mod agent_tickets;
mod api;
mod attachments;
mod browser;
mod catalog;
mod chart;
mod cli;
mod console;
mod custom_fields;
mod customer_groups;
mod email_templates;
mod identity_api;
mod identity_gaps;
mod imports;
mod organizations;
mod outbox;
mod platform;
mod rls;
mod sessions;
mod settings;
mod sites;
mod telemetry;
mod ticket_configuration;
mod ticket_notifications;
mod tickets;
mod user_directory;
