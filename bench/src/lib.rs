//! Shared parts of Tenantdesk's benchmarks: a database to measure against (a throwaway
//! embedded cluster or an existing server), CPU accounting from `/proc`, latency percentiles and
//! SMTP sinks. Each benchmark is a binary under `src/bin/` and prints Markdown for
//! `docs/benchmarks.md`.

pub mod cpu;
pub mod database;
pub mod latency;
pub mod machine;
pub mod smtp_sink;
