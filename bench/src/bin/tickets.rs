//! Tickets benchmark: 10,000 tenants and 10 million tickets, one tenant with a million tickets
//! and five million messages. Measures ticket creation through the API (the real web app served
//! in process), the big tenant's queue pages and queue counts, the ticket page and search, and
//! what row-level security costs: the same statements run as the runtime role with the tenant
//! set, and as a role that bypasses RLS with the explicit `tenant_id = $n` the policy would add.
//! Plans come from auto_explain (ANALYZE, BUFFERS) as the runtime role. Prints Markdown for
//! `docs/benchmarks.md` on stdout and progress on stderr.
//!
//! ```text
//! cargo run --release -p bench --bin tickets -- [--tenants N] [--tickets N] [--big-tickets N] ...
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench::database::{self, Database};
use bench::latency::{Latencies, ms};
use chrono::Utc;
use clap::Parser;
use domain::TenantId;
use sqlx::{PgPool, Postgres, QueryBuilder};
use store::search::CustomFilter;
use store::tickets::{AssigneeFilter, Matches, TicketQuery, TicketScope};
use store::{Owner, Store};
use tenantdesk::embedded_postgres::{Claim, EmbeddedPostgres, Options};
use uuid::Uuid;

#[derive(Parser, Debug)]
#[command(
    name = "tickets",
    about = "Measures tickets at 10 million: API creation, queues, counts, search, RLS cost"
)]
struct Args {
    /// Runtime-role URL of an existing, dedicated database (instead of a throwaway cluster).
    #[arg(long, env = "BENCH_DATABASE_URL", requires = "owner_url")]
    database_url: Option<String>,
    /// Owner-role URL of that database (a superuser: it seeds with INSERT ... SELECT, drops and
    /// rebuilds the ticket tables' secondary indexes and foreign keys around the load, runs the
    /// explicit-filter side of the RLS comparison, and turns auto_explain on for a moment).
    #[arg(long, env = "BENCH_OWNER_URL", requires = "database_url")]
    owner_url: Option<String>,
    /// Tenants in all, the big one included.
    #[arg(long, default_value_t = 10_000)]
    tenants: usize,
    /// Tickets in all, the big tenant's included.
    #[arg(long, default_value_t = 10_000_000)]
    tickets: u64,
    /// Tickets of the big tenant.
    #[arg(long, default_value_t = 1_000_000)]
    big_tickets: u64,
    /// Messages of the big tenant (each ticket has its first; the rest are replies spread
    /// over its tickets). Every ticket of the other tenants has its first message.
    #[arg(long, default_value_t = 5_000_000)]
    messages: u64,
    /// Timed reads per row of the read tables.
    #[arg(long, default_value_t = 50)]
    samples: usize,
    /// Untimed reads before each row (prepared statements, plan cache, buffer cache).
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Client concurrencies of the API creation runs.
    #[arg(long, value_delimiter = ',', default_value = "8,32")]
    concurrency: Vec<usize>,
    /// Timed ticket creations per concurrency and target (0 skips the creation runs).
    #[arg(long, default_value_t = 2_000)]
    creations: usize,
    /// Of every ten creations, how many name a requester address that is new (a guest user is
    /// created in the same transaction); the others name an existing end user's address.
    #[arg(long, default_value_t = 1)]
    new_requesters_per_ten: usize,
    /// Connections of the in-process web app's runtime pool.
    #[arg(long, default_value_t = 16)]
    pool_size: u32,
    /// Skip the plans (auto_explain) part.
    #[arg(long)]
    no_explain: bool,
    /// shared_buffers of the throwaway cluster (set with ALTER SYSTEM and a restart before
    /// seeding); the server's default (128MB) when not given.
    #[arg(long, conflicts_with = "database_url")]
    shared_buffers: Option<String>,
    /// Seconds to keep the throwaway cluster running after the results (its URLs go to
    /// stderr), for a look with psql.
    #[arg(long, default_value_t = 0)]
    hold_seconds: u64,
    /// Seed of the data generator (PostgreSQL's setseed; the same seed gives the same data).
    #[arg(long, default_value_t = 0.2026)]
    seed: f64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.tenants < 2
        || args.big_tickets < 1_000
        || args.tickets < args.big_tickets + (args.tenants as u64 - 1) * 10
        || args.messages < args.big_tickets
        || args.samples == 0
        || !(-1.0..=1.0).contains(&args.seed)
        || args.concurrency.contains(&0)
    {
        bail!(
            "need --tenants >= 2, --big-tickets >= 1000, --tickets >= --big-tickets + 10 per \
             other tenant, --messages >= --big-tickets, --samples > 0, --seed in [-1, 1], \
             positive --concurrency"
        );
    }
    let suffix = Uuid::new_v4().simple().to_string();
    let scratch = std::env::temp_dir().join(format!("tenantdesk-bench-{}", &suffix[..12]));
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let database = match (&args.database_url, &args.owner_url) {
        (Some(runtime), Some(owner)) => Database::external(owner.clone(), runtime.clone()),
        _ => {
            eprintln!(
                "starting a throwaway PostgreSQL cluster in {}",
                scratch.display()
            );
            Database::embedded(&scratch.join("db"), false)?
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    let database = match (&args.shared_buffers, database) {
        (Some(size), Database::Embedded { mut cluster, dir }) => {
            runtime.block_on(set_shared_buffers(&cluster.owner_url(), size))?;
            cluster.stop();
            drop(cluster);
            eprintln!("restarting the cluster with shared_buffers = {size}");
            let cluster =
                EmbeddedPostgres::start(&dir, Claim::Exclusive, Options { durable: false })
                    .context("restarting the throwaway PostgreSQL cluster")?;
            Database::Embedded { cluster, dir }
        }
        (_, database) => database,
    };
    let outcome = runtime.block_on(run(&args, &database, &scratch));
    drop(runtime);
    database.stop();
    if let Err(error) = std::fs::remove_dir_all(&scratch) {
        eprintln!("could not remove {}: {error}", scratch.display());
    }
    outcome
}

async fn run(args: &Args, database: &Database, scratch: &std::path::Path) -> anyhow::Result<()> {
    let owner = Owner::connect(&database.owner_url())
        .await
        .context("connecting as the owner")?;
    owner.migrate().await.context("migrating")?;
    let admin = database::owner_pool(&database.owner_url()).await?;
    let notices = Notices::default();
    install_subscriber(&notices)?;

    let mut out = String::new();
    writeln!(out, "- command: `{}`", command_line())?;
    writeln!(out, "- machine: {}", bench::machine::describe())?;
    writeln!(
        out,
        "- PostgreSQL: {} ({})",
        match database {
            Database::Embedded { .. } => "throwaway cluster from the machine's binaries",
            Database::External { .. } => "existing server",
        },
        database::describe_server(&admin).await?
    )?;

    let started = Instant::now();
    let plans = create_tenants(&owner, args).await?;
    let tenants_seconds = started.elapsed().as_secs_f64();
    let seeded = seed(&admin, args, &plans).await?;
    let big = &plans[0];
    writeln!(
        out,
        "- data: {} tenants, {} tickets; the big tenant: {} tickets, {} messages, {} end users, \
         {} agents in {} departments and {} teams; the other {} tenants: {} to {} tickets each \
         (one message each), {} to {} end users, {} agents; open or pending: {:.1}% of the big \
         tenant's tickets ({} tickets)",
        plans.len(),
        plans.iter().map(|p| p.tickets).sum::<u64>(),
        big.tickets,
        seeded.big_messages,
        big.users,
        big.agents,
        big.departments,
        big.teams,
        plans.len() - 1,
        plans[1..].iter().map(|p| p.tickets).min().unwrap_or(0),
        plans[1..].iter().map(|p| p.tickets).max().unwrap_or(0),
        plans[1..].iter().map(|p| p.users).min().unwrap_or(0),
        plans[1..].iter().map(|p| p.users).max().unwrap_or(0),
        plans.get(1).map_or(0, |p| p.agents),
        seeded.big_active as f64 * 100.0 / big.tickets as f64,
        seeded.big_active,
    )?;
    writeln!(
        out,
        "- seeding (INSERT ... SELECT from generate_series as the owner, secondary indexes and \
         foreign keys of the ticket tables dropped meanwhile): tenants {tenants_seconds:.0} s, \
         people and configuration {:.0} s, tickets {:.0} s, messages {:.0} s, indexes {:.0} s, \
         foreign keys (validated) {:.0} s, VACUUM ANALYZE {:.0} s",
        seeded.people_seconds,
        seeded.tickets_seconds,
        seeded.messages_seconds,
        seeded.index_seconds,
        seeded.foreign_key_seconds,
        seeded.analyze_seconds,
    )?;
    writeln!(out, "- sizes: {}", relation_sizes(&admin).await?)?;

    let runtime_store = Store::connect(&database.runtime_url(), 2)
        .await
        .context("connecting as the runtime role")?;
    let inputs = Inputs::sample(&admin, big, args.samples + args.warmup).await?;

    if args.creations > 0 {
        eprintln!("API creations");
        match time_creations(args, database, &owner, &admin, &plans, scratch).await {
            Ok(table) => out.push_str(&table),
            Err(error) => {
                eprintln!("creations not measured: {error:#}");
                writeln!(out, "\nCreations not measured: {error:#}")?;
            }
        }
    }

    eprintln!("counting what each search matches");
    let matches = inputs.count_matches(&admin).await?;
    let mut rows = Vec::new();
    for read in Read::ALL {
        eprintln!("timing: {}", read.label);
        rows.push(match time_read(&runtime_store, read, &inputs, args).await {
            Ok(latencies) => (read, Ok(latencies)),
            Err(error) => {
                eprintln!("{}: {error:#}", read.label);
                (read, Err(format!("{error:#}")))
            }
        });
    }
    out.push_str(&reads_table(&rows, &matches));

    eprintln!("RLS against an explicit tenant filter");
    let runtime_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&database.runtime_url())
        .await
        .context("a plain runtime-role pool")?;
    out.push_str(&compare_rls(&runtime_pool, &admin, &inputs, args).await?);

    if !args.no_explain {
        eprintln!("capturing plans with auto_explain");
        match capture_plans(database, &admin, &inputs, &notices).await {
            Ok(plans) => out.push_str(&plans),
            Err(error) => {
                eprintln!("plans not captured: {error:#}");
                writeln!(out, "\nPlans not captured: {error:#}")?;
            }
        }
    }
    println!("{out}");
    if args.hold_seconds > 0 {
        eprintln!(
            "holding the cluster for {} s: owner {} runtime {}",
            args.hold_seconds,
            database.owner_url(),
            database.runtime_url()
        );
        tokio::time::sleep(Duration::from_secs(args.hold_seconds)).await;
    }
    Ok(())
}

async fn set_shared_buffers(owner_url: &str, size: &str) -> anyhow::Result<()> {
    let admin = database::owner_pool(owner_url).await?;
    sqlx::query(&format!(
        "alter system set shared_buffers = '{}'",
        size.replace('\'', "")
    ))
    .execute(&admin)
    .await
    .context("alter system set shared_buffers")?;
    admin.close().await;
    Ok(())
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!(
        "cargo run --release -p bench --bin tickets -- {}",
        args.join(" ")
    )
    .trim_end()
    .trim_end_matches(" --")
    .to_owned()
}

// ---------------------------------------------------------------------------------------------
// Tenants and their shapes

/// One tenant's size and shape; ids inside it are derived from (tenant, kind, index), so the
/// generator never has to look them up.
#[derive(Clone, Debug)]
struct TenantPlan {
    tenant: TenantId,
    tickets: u64,
    users: u64,
    departments: u64,
    agents: u64,
    teams: u64,
}

/// The big tenant first, then the others: their tickets follow a long tail (weight
/// 1/sqrt(rank)), so a few small tenants have tens of thousands and most a few hundred.
async fn create_tenants(owner: &Owner, args: &Args) -> anyhow::Result<Vec<TenantPlan>> {
    eprintln!("creating {} tenants", args.tenants);
    let small = args.tenants - 1;
    let rest = args.tickets - args.big_tickets;
    let weights: Vec<f64> = (1..=small).map(|rank| 1.0 / (rank as f64).sqrt()).collect();
    let total: f64 = weights.iter().sum();
    let mut counts: Vec<u64> = weights
        .iter()
        .map(|w| ((rest as f64 * w / total).floor() as u64).max(10))
        .collect();
    // Whatever rounding left over (or took too much) goes to the largest small tenant.
    let assigned: u64 = counts.iter().sum();
    if let Some(first) = counts.first_mut() {
        *first = (*first + rest).saturating_sub(assigned).max(10);
    }

    // Tenants are created through the store (settings, default department, roles), four at a
    // time (joined in this task: sqlx's futures do not satisfy `tokio::spawn`'s bounds here).
    let worker = |first: usize| async move {
        let mut made = Vec::new();
        for index in (first..args.tenants).step_by(4) {
            let purpose = if index == 0 {
                "big".to_owned()
            } else {
                format!("t{index}")
            };
            made.push((index, database::create_tenant(owner, &purpose).await?));
            if index % 1_000 == 999 {
                eprintln!("  {} tenants", index + 1);
            }
        }
        anyhow::Ok(made)
    };
    let (a, b, c, d) = tokio::join!(worker(0), worker(1), worker(2), worker(3));
    let mut made: Vec<(usize, TenantId)> = [a?, b?, c?, d?].into_iter().flatten().collect();
    made.sort_by_key(|(index, _)| *index);
    let ids: Vec<TenantId> = made.into_iter().map(|(_, id)| id).collect();
    let mut plans = Vec::with_capacity(ids.len());
    for (index, tenant) in ids.into_iter().enumerate() {
        let tickets = if index == 0 {
            args.big_tickets
        } else {
            counts[index - 1]
        };
        let big = index == 0;
        plans.push(TenantPlan {
            tenant,
            tickets,
            // A requester pool: each end user opens five tickets on average, skewed.
            users: (tickets / 5).max(10),
            departments: if big { 12 } else { 3 },
            agents: if big { 240 } else { 6 },
            teams: if big { 12 } else { 1 },
        });
    }
    Ok(plans)
}

#[rustfmt::skip]
const DEPARTMENTS: &[&str] = &[
    "Technical Support", "Billing", "Sales", "Returns", "Shipping", "Accounts", "Onboarding",
    "Hardware", "Software", "Security", "Partners", "Escalations",
];

/// What people write in; the first are the most frequent (draws are skewed to the front).
#[rustfmt::skip]
const PHRASES: &[&str] = &[
    "cannot log in", "password reset", "invoice missing", "printer offline", "order not delivered",
    "refund request", "app crashes on start", "page loads slowly", "wrong charge on card",
    "account locked", "cannot upload file", "email not received", "update failed",
    "license expired", "two factor code", "change shipping address", "item arrived damaged",
    "cancel subscription", "export my data", "api returns error", "sync not working",
    "feature request", "billing question", "vpn keeps disconnecting", "screen flickers",
    "battery drains fast", "warranty claim", "access for new colleague", "report is empty",
    "integration broken", "duplicate charge", "cannot reset pin", "missing parts",
    "delivery delayed", "login loop", "certificate warning", "calendar not syncing",
    "notification spam", "price quote", "contract renewal",
];

#[rustfmt::skip]
const PRODUCTS: &[&str] = &[
    "Aurora", "Nimbus", "Vertex", "Quasar", "Helix", "Orbit", "Zephyr", "Cobalt", "Lumen",
    "Pulsar", "Summit", "Atlas", "Beacon", "Comet", "Delta", "Ember", "Falcon", "Granite",
    "Harbor", "Ion", "Jade", "Kepler", "Lyra", "Meridian", "Nova", "Onyx", "Prism", "Quill",
    "Raven", "Sierra",
];

#[rustfmt::skip]
const WORDS: &[&str] = &[
    "please", "help", "issue", "again", "today", "customer", "error", "screen", "since",
    "yesterday", "version", "update", "account", "order", "invoice", "payment", "printer",
    "network", "password", "email", "phone", "laptop", "office", "team", "colleague", "manager",
    "urgent", "still", "working", "broken", "message", "window", "button", "click", "page",
    "report", "file", "folder", "upload", "download", "install", "restart", "server", "client",
    "browser", "chrome", "firefox", "mobile", "tablet", "desktop", "monitor", "keyboard", "mouse",
    "cable", "router", "wifi", "connection", "timeout", "slow", "fast", "crash", "freeze",
    "login", "logout", "session", "token", "license", "subscription", "renewal", "contract",
    "price", "quote", "discount", "refund", "return", "shipping", "delivery", "package",
    "tracking", "address", "warehouse", "courier", "damaged", "missing", "replacement",
    "warranty", "repair", "battery", "charger", "display", "firmware", "driver", "settings",
    "profile", "permission", "access", "admin", "user", "group", "role", "calendar", "meeting",
    "schedule", "notification", "alert", "reminder", "backup", "restore", "database", "export",
    "import", "spreadsheet", "document", "signature", "scanner", "camera", "microphone",
    "headset", "speaker", "volume", "audio", "video", "stream", "quality", "resolution",
    "certificate", "security", "virus", "firewall", "vpn", "proxy", "domain", "dns", "hosting",
    "storage", "quota", "limit", "usage", "bill", "charge", "card", "bank", "transfer", "tax",
    "receipt", "statement", "balance", "credit", "debit", "currency", "euro", "dollar",
    "integration", "webhook", "endpoint", "request", "response", "status", "code", "log",
    "trace", "debug", "configuration", "template", "theme", "language", "translation", "font",
    "layout", "mobile", "offline", "online", "sync", "cloud", "local", "remote", "branch",
    "headquarters", "department", "invoice", "purchase", "supplier", "vendor", "partner",
    "onboarding", "training", "manual", "guide", "tutorial", "feedback", "survey", "complaint",
    "compliment", "escalation", "priority", "deadline", "weekend", "holiday", "morning",
    "evening", "afternoon", "tomorrow", "monday", "friday", "january", "december", "annual",
    "monthly", "weekly", "daily", "hourly", "minute", "second", "counter", "sensor", "gateway",
    "bluetooth", "pairing", "antenna", "signal", "coverage", "roaming", "sim", "carrier",
    "voicemail", "fax", "label", "barcode", "inventory", "stock", "catalog", "checkout", "cart",
    "coupon", "voucher", "gift", "loyalty", "points", "membership", "tier", "upgrade",
    "downgrade", "migration", "legacy", "deprecated", "beta", "preview", "rollout", "outage",
    "maintenance", "incident", "postmortem", "snapshot", "replica", "cluster", "kernel",
    "patch", "hotfix", "regression", "flaky", "intermittent", "sporadic", "reproducible",
    "workaround", "zanzibar", "quokka", "fjord", "xylophone", "marzipan",
];

// ---------------------------------------------------------------------------------------------
// Seeding: INSERT ... SELECT as the owner (a superuser: row-level security does not apply)

struct Seeded {
    big_messages: u64,
    big_active: i64,
    people_seconds: f64,
    tickets_seconds: f64,
    messages_seconds: f64,
    index_seconds: f64,
    foreign_key_seconds: f64,
    analyze_seconds: f64,
}

/// The ticket tables whose secondary indexes and foreign keys are dropped during the load and
/// rebuilt after it (far faster than maintaining them row by row; re-adding a foreign key
/// validates every row, so the data is checked against every constraint all the same).
const LOADED_TABLES: [&str; 3] = ["tickets", "ticket_entries", "ticket_collaborators"];

/// Session helpers: ids derived from (tenant, kind, index), UUIDv7-shaped ids from a time, and
/// a message body of words drawn from the word list (skewed to its front).
const HELPERS: &str = "
create function pg_temp.bid(tenant uuid, kind text, k bigint) returns uuid
language sql immutable as $$ select md5(tenant::text || kind || k)::uuid $$;

create function pg_temp.uuid7(at timestamptz) returns uuid
language sql volatile as $$
  select encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing
    substring(int8send(floor(extract(epoch from at) * 1000)::bigint) from 3) from 1 for 6),
    52, 1), 53, 1), 'hex')::uuid
$$;

create function pg_temp.body(subject text, words text[], n bigint, codes bigint) returns text
language sql volatile as $$
  select 'Hello, about ' || subject || ': '
    || (select string_agg(words[1 + floor(cardinality(words) * random() ^ 2)::int], ' ')
          from generate_series(1, 8 + (n % 17)::int))
    || case when random() < 0.3 then '. Error code E' || floor(random() * codes)::bigint else '' end
    || '. Thanks'
$$;
";

async fn seed(admin: &PgPool, args: &Args, plans: &[TenantPlan]) -> anyhow::Result<Seeded> {
    let mut conn = admin.acquire().await.context("an owner connection")?;
    let conn = &mut *conn;
    for statement in [
        "set synchronous_commit = off",
        "set maintenance_work_mem = '1GB'",
        "set work_mem = '256MB'",
    ] {
        sqlx::query(statement).execute(&mut *conn).await?;
    }
    sqlx::query("select setseed($1)")
        .bind(args.seed)
        .execute(&mut *conn)
        .await?;
    sqlx::raw_sql(HELPERS)
        .execute(&mut *conn)
        .await
        .context("creating the session helpers")?;
    sqlx::query(
        "create temp table bench_plan (idx int primary key, tenant_id uuid not null,
           tickets bigint not null, users bigint not null, departments bigint not null,
           agents bigint not null, teams bigint not null)",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "insert into bench_plan
         select * from unnest($1::int[], $2::uuid[], $3::bigint[], $4::bigint[], $5::bigint[],
                              $6::bigint[], $7::bigint[])",
    )
    .bind((0..plans.len() as i32).collect::<Vec<_>>())
    .bind(plans.iter().map(|p| p.tenant.as_uuid()).collect::<Vec<_>>())
    .bind(plans.iter().map(|p| p.tickets as i64).collect::<Vec<_>>())
    .bind(plans.iter().map(|p| p.users as i64).collect::<Vec<_>>())
    .bind(
        plans
            .iter()
            .map(|p| p.departments as i64)
            .collect::<Vec<_>>(),
    )
    .bind(plans.iter().map(|p| p.agents as i64).collect::<Vec<_>>())
    .bind(plans.iter().map(|p| p.teams as i64).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await
    .context("filling bench_plan")?;

    eprintln!("seeding departments, agents, teams and end users");
    let started = Instant::now();
    let people: [(&str, &str); 6] = [
        (
            "departments",
            "insert into departments (tenant_id, id, name, description)
             select p.tenant_id, pg_temp.bid(p.tenant_id, 'd', k), ($1::text[])[k::int],
                    'Seeded by the tickets benchmark'
               from bench_plan p, generate_series(1, p.departments) k",
        ),
        (
            "agents",
            "insert into agents (tenant_id, id, name, email, role_id, status)
             select p.tenant_id, pg_temp.bid(p.tenant_id, 'a', k), 'Agent ' || k,
                    'agent' || k || '@staff.example',
                    (select r.id from roles r where r.tenant_id = p.tenant_id and r.builtin = 'agent'),
                    'active'
               from bench_plan p, generate_series(1, p.agents) k",
        ),
        (
            "department agents",
            // Agent k works in department (k-1) mod D + 1 and in a second one.
            "insert into department_agents (tenant_id, department_id, agent_id)
             select distinct p.tenant_id, pg_temp.bid(p.tenant_id, 'd', v.d), pg_temp.bid(p.tenant_id, 'a', k)
               from bench_plan p, generate_series(1, p.agents) k,
                    lateral (values ((k - 1) % p.departments + 1), ((k * 7 + 3) % p.departments + 1)) v(d)",
        ),
        (
            "teams",
            "insert into teams (tenant_id, id, name, lead_agent_id)
             select p.tenant_id, pg_temp.bid(p.tenant_id, 't', k), 'Team ' || k,
                    pg_temp.bid(p.tenant_id, 'a', k)
               from bench_plan p, generate_series(1, p.teams) k",
        ),
        (
            "team members",
            "insert into team_members (tenant_id, team_id, agent_id)
             select p.tenant_id, pg_temp.bid(p.tenant_id, 't', (k - 1) % p.teams + 1),
                    pg_temp.bid(p.tenant_id, 'a', k)
               from bench_plan p, generate_series(1, p.agents) k",
        ),
        (
            "end users",
            "insert into end_users (tenant_id, id, first_name, last_name, email, login, status,
                                    created_at, updated_at)
             select p.tenant_id, pg_temp.bid(p.tenant_id, 'u', k), n.first, n.last, n.email,
                    n.email, case when k % 3 = 0 then 'active' else 'guest' end, n.at, n.at
               from bench_plan p, generate_series(1, p.users) k,
                    lateral (select f.first, l.last,
                                    lower(f.first) || '.' || lower(l.last) || k || '@customer'
                                      || (k % 500) || '.example' as email,
                                    now() - interval '900 days' * r.r3 as at
                               from (select random() r1, random() r2, random() r3, k offset 0) r,
                                    lateral (select ($1::text[])[1 + floor(r.r1 * cardinality($1::text[]))::int] as first) f,
                                    lateral (select ($2::text[])[1 + floor(r.r2 * cardinality($2::text[]))::int] as last) l) n",
        ),
    ];
    for (what, statement) in people {
        let mut query = sqlx::query(statement);
        match what {
            "departments" => query = query.bind(DEPARTMENTS),
            "end users" => query = query.bind(FIRST_NAMES).bind(LAST_NAMES),
            _ => {}
        }
        query
            .execute(&mut *conn)
            .await
            .with_context(|| format!("seeding {what}"))?;
    }
    // The counters continue after the seeded numbers, as if the tickets had been created one
    // by one.
    sqlx::query(
        "insert into ticket_counters (tenant_id, next_number)
         select tenant_id, tickets + 1 from bench_plan
         on conflict (tenant_id) do update set next_number = excluded.next_number",
    )
    .execute(&mut *conn)
    .await
    .context("seeding ticket_counters")?;
    let people_seconds = started.elapsed().as_secs_f64();

    let dropped = drop_for_load(conn).await?;
    let loaded = load_tickets(conn, args, plans).await;
    // Put the indexes and foreign keys back whatever happened, so a failed run against an
    // existing server leaves its schema whole.
    let (index_seconds, foreign_key_seconds) = restore_after_load(conn, &dropped).await?;
    let (tickets_seconds, messages_seconds, big_messages) = loaded?;

    eprintln!("vacuum analyze");
    let started = Instant::now();
    for table in [
        "tickets",
        "ticket_entries",
        "ticket_collaborators",
        "ticket_counters",
        "end_users",
        "agents",
        "departments",
        "department_agents",
        "teams",
        "team_members",
        "tenants",
    ] {
        sqlx::query(&format!("vacuum analyze {table}"))
            .execute(&mut *conn)
            .await
            .with_context(|| format!("vacuum analyze {table}"))?;
    }
    let analyze_seconds = started.elapsed().as_secs_f64();
    // This pooled connection may later run the explicit side of the RLS comparison: give it
    // the server's settings back, as the runtime role's connections have them.
    sqlx::query("reset all")
        .execute(&mut *conn)
        .await
        .context("resetting the seeding settings")?;
    let big_active: i64 = sqlx::query_scalar(
        "select count(*) from tickets where tenant_id = $1 and state in ('open', 'pending')",
    )
    .bind(plans[0].tenant.as_uuid())
    .fetch_one(&mut *conn)
    .await?;
    Ok(Seeded {
        big_messages,
        big_active,
        people_seconds,
        tickets_seconds,
        messages_seconds,
        index_seconds,
        foreign_key_seconds,
        analyze_seconds,
    })
}

struct Dropped {
    /// (name, definition) of secondary indexes.
    indexes: Vec<(String, String)>,
    /// (table, name, definition) of foreign keys.
    foreign_keys: Vec<(String, String, String)>,
}

async fn drop_for_load(conn: &mut sqlx::PgConnection) -> anyhow::Result<Dropped> {
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "select i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
           from pg_index i
          where i.indrelid = any($1::text[]::regclass[])
            and not exists (select from pg_constraint c where c.conindid = i.indexrelid)
          order by 1",
    )
    .bind(&LOADED_TABLES[..])
    .fetch_all(&mut *conn)
    .await
    .context("reading index definitions")?;
    let foreign_keys: Vec<(String, String, String)> = sqlx::query_as(
        "select conrelid::regclass::text, conname::text, pg_get_constraintdef(oid)
           from pg_constraint
          where contype = 'f' and conrelid = any($1::text[]::regclass[])
          order by 1, 2",
    )
    .bind(&LOADED_TABLES[..])
    .fetch_all(&mut *conn)
    .await
    .context("reading foreign key definitions")?;
    // Only the constraints among the loaded tables themselves are dropped in order: entries
    // and collaborators point at tickets, so their keys go first.
    for (table, name, _) in foreign_keys.iter().rev() {
        sqlx::query(&format!("alter table {table} drop constraint {name}"))
            .execute(&mut *conn)
            .await
            .with_context(|| format!("dropping {name}"))?;
    }
    for (name, _) in &indexes {
        sqlx::query(&format!("drop index {name}"))
            .execute(&mut *conn)
            .await
            .with_context(|| format!("dropping {name}"))?;
    }
    eprintln!(
        "dropped {} indexes and {} foreign keys of {LOADED_TABLES:?} for the load",
        indexes.len(),
        foreign_keys.len()
    );
    Ok(Dropped {
        indexes,
        foreign_keys,
    })
}

async fn restore_after_load(
    conn: &mut sqlx::PgConnection,
    dropped: &Dropped,
) -> anyhow::Result<(f64, f64)> {
    eprintln!("building {} indexes", dropped.indexes.len());
    let started = Instant::now();
    for (name, definition) in &dropped.indexes {
        sqlx::query(definition)
            .execute(&mut *conn)
            .await
            .with_context(|| format!("building {name}"))?;
    }
    let index_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "adding {} foreign keys (validating every row)",
        dropped.foreign_keys.len()
    );
    let started = Instant::now();
    for (table, name, definition) in &dropped.foreign_keys {
        sqlx::query(&format!(
            "alter table {table} add constraint {name} {definition}"
        ))
        .execute(&mut *conn)
        .await
        .with_context(|| format!("adding {name}"))?;
    }
    Ok((index_seconds, started.elapsed().as_secs_f64()))
}

/// The ticket insert of plan rows `$1..=$2` and ticket numbers `$3..=$4`. States follow age:
/// of the newest 3% (about three weeks), 80% are open or pending; of older tickets 1%. Most
/// tickets are assigned; a fifth also to a team. Departments, requesters and words are drawn
/// skewed, so some are far more frequent than others.
const INSERT_TICKETS: &str = "
insert into tickets (tenant_id, id, number, subject, state, priority, requester_id, department_id,
       assignee_agent_id, assignee_team_id, source, custom, first_response_due_at,
       resolution_due_at, first_responded_at, last_message_at, closed_at, closed_by_agent_id,
       created_at, updated_at)
select p.tenant_id, pg_temp.uuid7(x.created), n, x.subject, x.state, x.priority,
       pg_temp.bid(p.tenant_id, 'u', x.requester), pg_temp.bid(p.tenant_id, 'd', x.dept),
       x.agent, x.team, x.source, x.custom,
       case when x.sla then x.created + interval '1 day' end,
       case when x.sla then x.created + interval '3 days' end,
       case when x.state <> 'open' then x.created + interval '2 hours' end,
       x.updated,
       case when x.state = 'closed' then x.updated end,
       case when x.state = 'closed' then x.agent end,
       x.created, x.updated
  from bench_plan p
 cross join lateral generate_series($3::bigint, least($4::bigint, p.tickets)) n
 cross join lateral (select random() r1, random() r2, random() r3, random() r4, random() r5,
                            random() r6, random() r7, random() r8, random() r9, random() r10,
                            random() r11, random() r12, n::float8 / p.tickets as f offset 0) r
 cross join lateral (
   select c.created, s.state,
          least(case when s.state in ('open', 'pending')
                     then c.created + (now() - c.created) * r.r4
                     else c.created + interval '10 days' * r.r4 ^ 2 + interval '5 minutes' end,
                now()) as updated,
          (array['low', 'normal', 'normal', 'normal', 'normal', 'normal', 'normal', 'high', 'high', 'urgent'])[1 + floor(r.r5 * 10)::int] as priority,
          least(p.users, 1 + floor(p.users * r.r9 ^ 2)::bigint) as requester,
          d.dept,
          case when (s.state in ('open', 'pending') and r.r6 < 0.7) or (s.state not in ('open', 'pending') and r.r6 < 0.95)
               then pg_temp.bid(p.tenant_id, 'a', d.dept + p.departments * floor(r.r7 * ((p.agents - d.dept) / p.departments + 1))::bigint) end as agent,
          case when r.r8 < 0.2 then pg_temp.bid(p.tenant_id, 't', least(p.teams, 1 + floor(r.r8 / 0.2 * p.teams)::bigint)) end as team,
          (array['email', 'email', 'email', 'email', 'api', 'api', 'api', 'portal', 'portal', 'agent'])[1 + (n % 10)::int] as source,
          initcap(($5::text[])[1 + floor(cardinality($5::text[]) * r.r10 ^ 2)::int]) || ' - '
            || ($6::text[])[1 + floor(cardinality($6::text[]) * r.r12 ^ 1.5)::int]
            || case when r.r11 < 0.3 then ' ' || ($7::text[])[1 + floor(cardinality($7::text[]) * r.r3)::int] else '' end as subject,
          case when r.r11 < 0.3 then jsonb_build_object('order_number', 'A-' || n, 'product', ($6::text[])[1 + floor(cardinality($6::text[]) * r.r12 ^ 1.5)::int])
               when r.r11 < 0.6 then jsonb_build_object('product', ($6::text[])[1 + floor(cardinality($6::text[]) * r.r12 ^ 1.5)::int])
               else '{}'::jsonb end as custom,
          n % 5 < 3 as sla
     from (select now() - interval '730 days' * (1 - r.f) - interval '1 hour' * r.r1 as created) c,
          (select case when r.f > 0.97
                       then case when r.r2 < 0.55 then 'open' when r.r2 < 0.80 then 'pending'
                                 when r.r2 < 0.90 then 'resolved' else 'closed' end
                       else case when r.r2 < 0.007 then 'open' when r.r2 < 0.010 then 'pending'
                                 when r.r2 < 0.015 then 'resolved' else 'closed' end
                  end as state) s,
          (select 1 + floor(p.departments * r.r3 ^ 1.5)::bigint as dept) d
 ) x
 where p.idx between $1 and $2";

/// Every ticket's first message, from its requester, for plan rows `$1..=$2`.
const INSERT_FIRST_MESSAGES: &str = "
insert into ticket_entries (tenant_id, id, ticket_id, kind, author_end_user_id, body_html,
                            body_text, created_at, updated_at)
select t.tenant_id, pg_temp.uuid7(t.created_at), t.id, 'message', t.requester_id,
       '<p>' || b.body || '</p>', b.body, t.created_at, t.created_at
  from bench_plan p
  join tickets t on t.tenant_id = p.tenant_id
 cross join lateral (select pg_temp.body(t.subject, $3::text[], t.number, $4) as body) b
 where p.idx between $1 and $2";

/// Replies `$3..=$4` of the big tenant's extra messages, each on a random ticket, between its
/// creation and its last update, from the requester or an agent.
const INSERT_REPLIES: &str = "
insert into ticket_entries (tenant_id, id, ticket_id, kind, author_agent_id, author_end_user_id,
                            body_html, body_text, created_at, updated_at)
select t.tenant_id, pg_temp.uuid7(y.at), t.id, 'message',
       case when y.by_agent then coalesce(t.assignee_agent_id, pg_temp.bid(t.tenant_id, 'a', 1 + t.number % p.agents)) end,
       case when not y.by_agent then t.requester_id end,
       '<p>' || y.body || '</p>', y.body, y.at, y.at
  from bench_plan p
  join (select g, 1 + floor(random() * $2::bigint)::bigint as number, random() as r1, random() as r2
          from generate_series($3::bigint, $4::bigint) g offset 0) x on true
  join tickets t on t.tenant_id = p.tenant_id and t.number = x.number
 cross join lateral (select t.created_at + (t.updated_at - t.created_at) * x.r1 as at,
                            x.r2 < 0.5 as by_agent,
                            pg_temp.body(t.subject, $5::text[], x.g, $6) as body) y
 where p.idx = $1";

async fn load_tickets(
    conn: &mut sqlx::PgConnection,
    args: &Args,
    plans: &[TenantPlan],
) -> anyhow::Result<(f64, f64, u64)> {
    // Error codes: a space ten times the messages, so a code is found in one or two tickets.
    let codes = (args.tickets + args.messages) as i64 * 10;
    let started = Instant::now();
    // The big tenant in slices of numbers, the others in groups of about a million tickets.
    let big = &plans[0];
    let slice = 250_000u64;
    let mut first = 1;
    while first <= big.tickets {
        eprintln!("  big tenant tickets {first}..");
        insert_tickets(conn, 0, 0, first, first + slice - 1).await?;
        first += slice;
    }
    let groups = small_groups(plans);
    for (lo, hi) in &groups {
        eprintln!("  tickets of tenants {lo}..={hi} of {}", plans.len() - 1);
        insert_tickets(conn, *lo, *hi, 1, i64::MAX as u64).await?;
    }
    let tickets_seconds = started.elapsed().as_secs_f64();

    eprintln!("seeding first messages");
    let started = Instant::now();
    for (lo, hi) in std::iter::once((0, 0)).chain(groups.iter().copied()) {
        eprintln!("  first messages of tenants {lo}..={hi}");
        sqlx::query(INSERT_FIRST_MESSAGES)
            .bind(lo as i32)
            .bind(hi as i32)
            .bind(WORDS)
            .bind(codes)
            .execute(&mut *conn)
            .await
            .context("seeding first messages")?;
    }
    let replies = args.messages - big.tickets;
    let mut first = 1u64;
    while first <= replies {
        let last = (first + slice - 1).min(replies);
        eprintln!("  big tenant replies {first}..={last} of {replies}");
        sqlx::query(INSERT_REPLIES)
            .bind(0i32)
            .bind(big.tickets as i64)
            .bind(first as i64)
            .bind(last as i64)
            .bind(WORDS)
            .bind(codes)
            .execute(&mut *conn)
            .await
            .context("seeding replies")?;
        first = last + 1;
    }
    eprintln!("seeding collaborators");
    // One end user in copy on one ticket in twenty.
    sqlx::query(
        "insert into ticket_collaborators (tenant_id, ticket_id, end_user_id, created_at, updated_at)
         select t.tenant_id, t.id, pg_temp.bid(t.tenant_id, 'u', 1 + (t.number * 7919) % p.users),
                t.created_at, t.created_at
           from tickets t join bench_plan p on p.tenant_id = t.tenant_id
          where t.number % 20 = 7
         on conflict do nothing",
    )
    .execute(&mut *conn)
    .await
    .context("seeding collaborators")?;
    Ok((
        tickets_seconds,
        started.elapsed().as_secs_f64(),
        args.messages,
    ))
}

async fn insert_tickets(
    conn: &mut sqlx::PgConnection,
    lo: usize,
    hi: usize,
    first: u64,
    last: u64,
) -> anyhow::Result<()> {
    sqlx::query(INSERT_TICKETS)
        .bind(lo as i32)
        .bind(hi as i32)
        .bind(first as i64)
        .bind(last as i64)
        .bind(PHRASES)
        .bind(PRODUCTS)
        .bind(WORDS)
        .execute(&mut *conn)
        .await
        .context("seeding tickets")?;
    Ok(())
}

/// Consecutive plan rows after the big tenant with about a million tickets each.
fn small_groups(plans: &[TenantPlan]) -> Vec<(usize, usize)> {
    let mut groups = Vec::new();
    let mut start = 1;
    let mut sum = 0;
    for (index, plan) in plans.iter().enumerate().skip(1) {
        sum += plan.tickets;
        if sum >= 1_000_000 || index == plans.len() - 1 {
            groups.push((start, index));
            start = index + 1;
            sum = 0;
        }
    }
    groups
}

async fn relation_sizes(admin: &PgPool) -> anyhow::Result<String> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select relname::text, pg_total_relation_size(oid) from pg_class
          where relname in ('tickets', 'ticket_entries', 'ticket_collaborators', 'end_users')
         union all
         select 'ticket_entries_body_search_idx', pg_relation_size('ticket_entries_body_search_idx')
         union all
         select 'tickets_subject_search_idx', pg_relation_size('tickets_subject_search_idx')
         union all
         select 'database', pg_database_size(current_database())
          order by 2 desc",
    )
    .fetch_all(admin)
    .await
    .context("reading relation sizes")?;
    Ok(rows
        .iter()
        .map(|(name, bytes)| {
            let label = if name == "database" || name.ends_with("_idx") {
                name.clone()
            } else {
                format!("{name} (with indexes and TOAST)")
            };
            format!("{label} {:.0} MB", *bytes as f64 / 1e6)
        })
        .collect::<Vec<_>>()
        .join(", "))
}

#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "Ada", "Alan", "Alice", "Amelia", "Anna", "Anton", "Ben", "Bernd", "Bianca", "Carla", "Carlos",
    "Charlotte", "Chen", "Chiara", "Clara", "Daniel", "David", "Diana", "Elena", "Elias", "Emil",
    "Emma", "Erik", "Eva", "Fatima", "Felix", "Finn", "Frida", "Gabriel", "Grace", "Hanna",
    "Hugo", "Ida", "Ines", "Isabel", "Ivan", "Jakob", "James", "Jana", "Jonas", "Julia", "Karin",
    "Kenji", "Lara", "Lea", "Leon", "Lina", "Lisa", "Lucas", "Luis", "Maja", "Marco", "Maria",
    "Marta", "Mateo", "Max", "Mia", "Milan", "Nadia", "Nina", "Noah", "Nora", "Olga", "Oliver",
    "Omar", "Oscar", "Paul", "Paula", "Pedro", "Peter", "Priya", "Rafael", "Rosa", "Sara", "Simon",
    "Sofia", "Stefan", "Tara", "Theo", "Thomas", "Valentina", "Victor", "Wei", "Yusuf", "Zoe",
];

#[rustfmt::skip]
const LAST_NAMES: &[&str] = &[
    "Abbott", "Adams", "Alvarez", "Andersen", "Bauer", "Becker", "Berg", "Bianchi", "Brandt",
    "Braun", "Brooks", "Carter", "Castillo", "Chen", "Clarke", "Costa", "Dahl", "Diaz", "Dubois",
    "Eriksen", "Evans", "Fischer", "Fontaine", "Ford", "Fuchs", "Garcia", "Gomez", "Graham",
    "Gruber", "Hansen", "Hartmann", "Hoffmann", "Horvath", "Huber", "Ito", "Jansen", "Jensen",
    "Kaiser", "Keller", "Kim", "Klein", "Koch", "Kowalski", "Kraus", "Lang", "Larsen", "Lehmann",
    "Lopez", "Lorenz", "Martin", "Meier", "Meyer", "Moreau", "Morris", "Nagy", "Neumann",
    "Nielsen", "Novak", "Olsen", "Ortiz", "Park", "Peters", "Petrov", "Popescu", "Quinn", "Ramos",
    "Reyes", "Richter", "Rossi", "Russo", "Santos", "Sato", "Schmid", "Schmidt", "Schneider",
    "Silva", "Sorensen", "Suzuki", "Svensson", "Tanaka", "Torres", "Vogel", "Wagner", "Walker",
    "Weber", "Werner", "Wolf", "Wright", "Young", "Zimmermann",
];

// ---------------------------------------------------------------------------------------------
// What the reads ask for

/// Inputs drawn from the seeded big tenant.
struct Inputs {
    tenant: TenantId,
    /// Agent 1: works in departments 1 and 11 and in team 1 (the "Agent" scope and "me").
    me: Uuid,
    /// Department 1, the busiest.
    department: Uuid,
    tickets: Vec<Uuid>,
    /// Error codes found in one message or two.
    rare_words: Vec<String>,
    /// The local part of requesters' addresses.
    requester_terms: Vec<String>,
    order_numbers: Vec<String>,
}

impl Inputs {
    async fn sample(admin: &PgPool, big: &TenantPlan, count: usize) -> anyhow::Result<Self> {
        eprintln!("sampling inputs");
        let tenant = big.tenant.as_uuid();
        let count = i64::try_from(count)?;
        let (me, department): (Uuid, Uuid) = sqlx::query_as(
            "select md5($1::text || 'a' || 1)::uuid, md5($1::text || 'd' || 1)::uuid",
        )
        .bind(tenant)
        .fetch_one(admin)
        .await?;
        let tickets: Vec<Uuid> = sqlx::query_scalar(
            "select id from tickets where tenant_id = $1 and number = any(
               select 1 + floor(random() * $2::bigint)::bigint from generate_series(1, $3::bigint))",
        )
        .bind(tenant)
        .bind(big.tickets as i64)
        .bind(count * 2)
        .fetch_all(admin)
        .await
        .context("sampling tickets")?;
        let rare_words: Vec<String> = sqlx::query_scalar(
            "select substring(body_text from 'E[0-9]+') from ticket_entries
              where tenant_id = $1 and body_text like '%Error code E%'
                and ticket_id = any($2)",
        )
        .bind(tenant)
        .bind(&tickets)
        .fetch_all(admin)
        .await
        .context("sampling error codes")?;
        let requester_terms: Vec<String> = sqlx::query_scalar(
            "select split_part(email, '@', 1) from end_users
              where tenant_id = $1 and id = any(
                select md5($1::text || 'u' || (1 + floor(random() * $2::bigint)::bigint))::uuid
                  from generate_series(1, $3::bigint))",
        )
        .bind(tenant)
        .bind(big.users as i64)
        .bind(count)
        .fetch_all(admin)
        .await
        .context("sampling requesters")?;
        let order_numbers: Vec<String> = sqlx::query_scalar(
            "select custom ->> 'order_number' from tickets
              where tenant_id = $1 and id = any($2) and custom ? 'order_number'",
        )
        .bind(tenant)
        .bind(&tickets)
        .fetch_all(admin)
        .await
        .context("sampling order numbers")?;
        if tickets.is_empty()
            || rare_words.is_empty()
            || requester_terms.is_empty()
            || order_numbers.is_empty()
        {
            bail!("the big tenant is too small to draw inputs from");
        }
        Ok(Self {
            tenant: big.tenant,
            me,
            department,
            tickets,
            rare_words,
            requester_terms,
            order_numbers,
        })
    }

    fn pick(items: &[String], index: usize) -> &str {
        &items[index % items.len()]
    }

    /// How many tickets each search read's terms match (the set the list pages through),
    /// over the first 5 terms.
    async fn count_matches(&self, admin: &PgPool) -> anyhow::Result<BTreeMap<&'static str, f64>> {
        let mut counts = BTreeMap::new();
        for read in Read::ALL {
            if !matches!(read.kind, Kind::Search(_)) {
                continue;
            }
            let mut total = 0i64;
            for index in 0..5 {
                let Request::List(query) = read.request(self, index) else {
                    continue;
                };
                let mut tx = database::begin_tenant(admin, self.tenant).await?;
                // Every match, however many (the list itself stops at `Matches::FEW`).
                let mut matches = Matches::default();
                if let Some(text) = query.text_to_search() {
                    matches.text = sqlx::query_scalar(
                        "select ticket_search.ticket_ids_matching_up_to($1, 100000000)",
                    )
                    .bind(text)
                    .fetch_one(&mut *tx)
                    .await?;
                }
                if let Some(equal) = store::search::custom_equalities(&query.custom) {
                    matches.custom = sqlx::query_scalar(
                        "select ticket_search.ticket_ids_with_custom_up_to($1, 100000000)",
                    )
                    .bind(sqlx::types::Json(equal))
                    .fetch_one(&mut *tx)
                    .await?;
                }
                let mut sql =
                    QueryBuilder::new("select count(*) from tickets t where t.tenant_id = ");
                sql.push_bind(self.tenant.as_uuid());
                query.push_filters(&mut sql, &matches);
                let count: i64 = sql.build_query_scalar().fetch_one(&mut *tx).await?;
                tx.commit().await?;
                total += count;
            }
            counts.insert(read.label, total as f64 / 5.0);
        }
        Ok(counts)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Queue {
    AllOpen,
    Mine,
    Department,
    Unassigned,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Search {
    RareWord,
    CommonWord,
    Phrase,
    Requester,
    CustomOrderNumber,
    CustomProduct,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Queue(Queue),
    Counts,
    TicketPage,
    Search(Search),
}

/// The reads the issue names, each exactly as the application issues it.
#[derive(Clone, Copy, Debug)]
struct Read {
    label: &'static str,
    kind: Kind,
    /// The Admin scope (`TicketScope::All`) or the Agent scope of agent 1.
    agent: bool,
}

impl Read {
    #[rustfmt::skip]
    const ALL: [Read; 17] = [
        Read { label: "queue page \"all open\", Admin", kind: Kind::Queue(Queue::AllOpen), agent: false },
        Read { label: "queue page \"all open\", Agent", kind: Kind::Queue(Queue::AllOpen), agent: true },
        Read { label: "queue page \"my tickets\", Admin", kind: Kind::Queue(Queue::Mine), agent: false },
        Read { label: "queue page \"my tickets\", Agent", kind: Kind::Queue(Queue::Mine), agent: true },
        Read { label: "queue page: a department, Admin", kind: Kind::Queue(Queue::Department), agent: false },
        Read { label: "queue page: a department, Agent", kind: Kind::Queue(Queue::Department), agent: true },
        Read { label: "queue page \"unassigned\", Admin", kind: Kind::Queue(Queue::Unassigned), agent: false },
        Read { label: "queue page \"unassigned\", Agent", kind: Kind::Queue(Queue::Unassigned), agent: true },
        Read { label: "queue counts, Admin", kind: Kind::Counts, agent: false },
        Read { label: "queue counts, Agent", kind: Kind::Counts, agent: true },
        Read { label: "ticket page (by_id + thread + collaborators)", kind: Kind::TicketPage, agent: false },
        Read { label: "search: a rare word (an error code)", kind: Kind::Search(Search::RareWord), agent: false },
        Read { label: "search: a common word", kind: Kind::Search(Search::CommonWord), agent: false },
        Read { label: "search: a phrase", kind: Kind::Search(Search::Phrase), agent: false },
        Read { label: "search: requester text (email local part)", kind: Kind::Search(Search::Requester), agent: false },
        Read { label: "search: custom field order_number = one value", kind: Kind::Search(Search::CustomOrderNumber), agent: false },
        Read { label: "search: custom field product = a frequent value", kind: Kind::Search(Search::CustomProduct), agent: false },
    ];

    fn scope(self, inputs: &Inputs) -> TicketScope {
        if self.agent {
            TicketScope::Agent(inputs.me)
        } else {
            TicketScope::All
        }
    }

    fn request(self, inputs: &Inputs, index: usize) -> Request {
        let active = vec![
            domain::ticket::TicketState::Open,
            domain::ticket::TicketState::Pending,
        ];
        let queue = |query: TicketQuery| Request::List(Box::new(query));
        match self.kind {
            Kind::Queue(which) => queue(TicketQuery {
                states: active,
                department: (which == Queue::Department).then_some(inputs.department),
                assignee: match which {
                    Queue::Mine => Some(AssigneeFilter::Agent(inputs.me)),
                    Queue::Unassigned => Some(AssigneeFilter::Nobody),
                    _ => None,
                },
                ..TicketQuery::default()
            }),
            Kind::Counts => Request::Counts,
            Kind::TicketPage => Request::Page(inputs.tickets[index % inputs.tickets.len()]),
            Kind::Search(search) => {
                let mut query = TicketQuery::default();
                match search {
                    Search::RareWord => {
                        query.text = Some(Inputs::pick(&inputs.rare_words, index).to_owned());
                    }
                    // Ranks 4 to 13 of the word list: each in a large share of the tickets.
                    Search::CommonWord => query.text = Some(WORDS[3 + index % 10].to_owned()),
                    Search::Phrase => {
                        query.text = Some(format!("\"{}\"", PHRASES[5 + index % 10]));
                    }
                    Search::Requester => {
                        query.requester_text =
                            Some(Inputs::pick(&inputs.requester_terms, index).to_owned());
                    }
                    Search::CustomOrderNumber => {
                        query.custom = vec![CustomFilter::Equals {
                            key: "order_number".to_owned(),
                            value: Inputs::pick(&inputs.order_numbers, index).into(),
                        }];
                    }
                    Search::CustomProduct => {
                        query.custom = vec![CustomFilter::Equals {
                            key: "product".to_owned(),
                            value: PRODUCTS[index % 5].into(),
                        }];
                    }
                }
                Request::List(Box::new(query))
            }
        }
    }
}

enum Request {
    List(Box<TicketQuery>),
    Counts,
    Page(Uuid),
}

/// Runs one read through the store in its own tenant transaction, as a request does.
async fn perform(store: &Store, read: Read, inputs: &Inputs, index: usize) -> anyhow::Result<()> {
    let scope = read.scope(inputs);
    let mut tx = store.begin_tenant(inputs.tenant).await?;
    match read.request(inputs, index) {
        Request::List(query) => {
            store::tickets::list_in_queue(&mut tx, scope, &query, None).await?;
        }
        Request::Counts => {
            let since = Utc::now() - chrono::Duration::days(store::tickets::RECENTLY_CLOSED_DAYS);
            store::tickets::queue_counts(&mut tx, scope, inputs.me, since).await?;
        }
        Request::Page(id) => {
            store::tickets::by_id(&mut tx, scope, id)
                .await?
                .context("a sampled ticket is missing")?;
            store::ticket_thread::thread(&mut tx, id).await?;
            store::tickets::collaborators(&mut tx, id).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

async fn time_read(
    store: &Store,
    read: Read,
    inputs: &Inputs,
    args: &Args,
) -> anyhow::Result<Latencies> {
    // Warm-up inputs come after the timed ones, so no timed read repeats one.
    for index in args.samples..args.samples + args.warmup {
        perform(store, read, inputs, index).await?;
    }
    let mut samples = Vec::with_capacity(args.samples);
    for index in 0..args.samples {
        let clock = Instant::now();
        perform(store, read, inputs, index)
            .await
            .with_context(|| format!("{} #{index}", read.label))?;
        samples.push(clock.elapsed());
    }
    Ok(Latencies::new(samples))
}

fn reads_table(
    rows: &[(Read, Result<Latencies, String>)],
    matches: &BTreeMap<&'static str, f64>,
) -> String {
    let mut table = String::from(
        "\n#### Reads of the big tenant: one tenant transaction each (BEGIN + set_config, the \
         store calls, COMMIT), one client, as the runtime role\n\n\
         | read | samples | tickets matched (mean) | p50 ms | p95 ms | p99 ms |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for (read, outcome) in rows {
        match outcome {
            Err(failure) => {
                let _ = writeln!(
                    table,
                    "| {} | failed: {} | | | | |",
                    read.label,
                    failure.replace('|', "\\|").replace('\n', " ")
                );
            }
            Ok(latencies) => {
                let _ = writeln!(
                    table,
                    "| {} | {} | {} | {} | **{}** | {} |",
                    read.label,
                    latencies.len(),
                    matches
                        .get(read.label)
                        .map_or_else(String::new, |mean| format!("{mean:.0}")),
                    ms(latencies.percentile(50.0)),
                    ms(latencies.percentile(95.0)),
                    ms(latencies.percentile(99.0)),
                );
            }
        }
    }
    table
}

// ---------------------------------------------------------------------------------------------
// RLS against an explicit tenant filter: the same statements, two ways

/// The store's ticket select list and joins (`store::tickets` SELECT), so the explicit
/// variant can add each table's tenant condition where the policy would apply it.
const TICKET_COLUMNS: &str = "select t.id, t.number, t.subject, t.state, t.status_id, st.name as status_name,
       t.priority, t.requester_id, r.name as requester_name, r.email as requester_email,
       t.organization_id, o.name as organization_name, t.department_id, d.name as department_name,
       t.help_topic_id, h.name as help_topic_name, t.assignee_agent_id, a.name as assignee_agent_name,
       t.assignee_team_id, tm.name as assignee_team_name, t.sla_plan_id, sp.name as sla_plan_name,
       t.source, t.custom, t.first_response_due_at, t.resolution_due_at, t.first_responded_at,
       t.sla_paused_since, t.last_message_at, t.closed_at, t.closed_by_agent_id,
       t.closed_by_end_user_id, t.created_by_agent_id, t.version, t.created_at, t.updated_at";

/// (join, table and alias, condition, alias) of the ticket select.
const TICKET_JOINS: [(&str, &str, &str, &str); 8] = [
    ("join", "end_users r", "r.id = t.requester_id", "r"),
    ("join", "departments d", "d.id = t.department_id", "d"),
    (
        "left join",
        "organizations o",
        "o.id = t.organization_id",
        "o",
    ),
    ("left join", "help_topics h", "h.id = t.help_topic_id", "h"),
    ("left join", "agents a", "a.id = t.assignee_agent_id", "a"),
    ("left join", "teams tm", "tm.id = t.assignee_team_id", "tm"),
    ("left join", "sla_plans sp", "sp.id = t.sla_plan_id", "sp"),
    (
        "left join",
        "ticket_statuses st",
        "st.id = t.status_id",
        "st",
    ),
];

type Sql = QueryBuilder<'static, Postgres>;

/// ` and {alias}.tenant_id = $n` when the tenant is explicit.
fn tenant_condition(sql: &mut Sql, alias: &str, tenant: Option<Uuid>) {
    if let Some(tenant) = tenant {
        sql.push(format!(" and {alias}.tenant_id = "))
            .push_bind(tenant);
    }
}

fn ticket_select(tenant: Option<Uuid>) -> Sql {
    let mut sql = QueryBuilder::new(format!("{TICKET_COLUMNS}\n  from tickets t"));
    ticket_joins(&mut sql, tenant);
    sql.push("\n where true");
    tenant_condition(&mut sql, "t", tenant);
    sql
}

/// The names of the ticket select, joined to the ticket `t`.
fn ticket_joins(sql: &mut Sql, tenant: Option<Uuid>) {
    for (join, table, on, alias) in TICKET_JOINS {
        sql.push(format!("\n  {join} {table} on {on}"));
        tenant_condition(sql, alias, tenant);
    }
}

/// The access rule: the store's own [`TicketScope::push_condition`] under RLS; written out
/// with tenant conditions in its subqueries otherwise.
fn scope_condition(sql: &mut Sql, scope: TicketScope, tenant: Option<Uuid>) {
    match (scope, tenant) {
        (_, None) | (TicketScope::All, _) => scope.push_condition(sql),
        (TicketScope::Agent(agent), Some(_)) => {
            sql.push(
                " and (t.department_id in (select da.department_id from department_agents da where da.agent_id = ",
            )
            .push_bind(agent);
            tenant_condition(sql, "da", tenant);
            sql.push(") or t.assignee_agent_id = ")
                .push_bind(agent)
                .push(" or t.assignee_team_id in (select tmm.team_id from team_members tmm where tmm.agent_id = ")
                .push_bind(agent);
            tenant_condition(sql, "tmm", tenant);
            sql.push("))");
        }
    }
}

/// The list filters: the store's own [`TicketQuery::push_filters`] under RLS. Written out
/// otherwise, with the search functions' statements inlined (they read the tenant from
/// `app.tenant_id`, which a bypassing session without set_config does not have).
fn filters(sql: &mut Sql, query: &TicketQuery, tenant: Option<Uuid>, matches: &Matches) {
    let Some(tenant) = tenant else {
        query.push_filters(sql, matches);
        return;
    };
    if !query.states.is_empty() {
        let states: Vec<String> = query
            .states
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        sql.push(format!(" and t.state in ({})", states.join(", ")));
    }
    if let Some(department) = query.department {
        sql.push(" and t.department_id = ").push_bind(department);
    }
    match query.assignee {
        Some(AssigneeFilter::Agent(agent)) => {
            sql.push(" and t.assignee_agent_id = ").push_bind(agent);
        }
        Some(AssigneeFilter::Nobody) => {
            sql.push(" and t.assignee_agent_id is null");
        }
        None => {}
    }
    // The search functions themselves (`Matches::find`) run alike on both sides: they are
    // SECURITY DEFINER with their own explicit tenant condition, not under the policy.
    if let Some(text) = query.text_to_search() {
        match &matches.text {
            Some(ids) => {
                sql.push(" and t.id = any(")
                    .push_bind(ids.clone())
                    .push(")");
            }
            None => {
                sql.push(" and (t.subject_vector @@ (select ticket_search.parse_query(")
                    .push_bind(text.to_owned())
                    .push(")) or exists (select from ticket_entries e where e.tenant_id = ")
                    .push_bind(tenant)
                    .push(
                        " and e.ticket_id = t.id and e.kind in ('message', 'note')
                           and e.body_vector @@ (select ticket_search.parse_query(",
                    )
                    .push_bind(text.to_owned())
                    .push(")) offset 0))");
            }
        }
    }
    if let Some(text) = query.requester_text.as_deref() {
        let pattern = store::search::like_pattern(text);
        sql.push(" and t.requester_id = any(array(select u.id from end_users u where u.tenant_id = ")
            .push_bind(tenant)
            .push(" and u.search_key like lower(")
            .push_bind(pattern.clone())
            .push(") union all select u.id from end_users u where u.tenant_id = ")
            .push_bind(tenant)
            .push(" and not coalesce(u.search_key like lower(")
            .push_bind(pattern.clone())
            .push(
                "), false) and u.id in (select m.end_user_id from organizations o
                   join organization_members m on m.tenant_id = o.tenant_id and m.organization_id = o.id
                  where o.tenant_id = ",
            )
            .push_bind(tenant)
            .push(" and o.search_key like lower(")
            .push_bind(pattern)
            .push("))))");
    }
    if let Some(equal) = store::search::custom_equalities(&query.custom) {
        match &matches.custom {
            Some(ids) => {
                sql.push(" and t.id = any(")
                    .push_bind(ids.clone())
                    .push(")");
            }
            None => {
                sql.push(" and t.custom @> ")
                    .push_bind(sqlx::types::Json(equal));
            }
        }
    }
}

/// The statements a read runs: exactly the store's under RLS (`tenant` None), or the same
/// with each table's `tenant_id = $n` written out (`tenant` Some).
fn statements(
    read: Read,
    inputs: &Inputs,
    index: usize,
    tenant: Option<Uuid>,
    matches: &Matches,
) -> Vec<Sql> {
    let scope = read.scope(inputs);
    match read.request(inputs, index) {
        Request::List(query) => {
            // As `store::tickets::list_matching`: the page's ids from the tickets table
            // alone, those rows by primary key, then their names.
            let mut sql =
                QueryBuilder::new("with t as materialized (select t.* from tickets t where true");
            tenant_condition(&mut sql, "t", tenant);
            sql.push(" and t.id = any(array(select t.id from tickets t where true");
            tenant_condition(&mut sql, "t", tenant);
            scope_condition(&mut sql, scope, tenant);
            filters(&mut sql, &query, tenant, matches);
            sql.push(" order by t.updated_at desc, t.id desc limit ")
                .push_bind((query.limit + 1) as i64)
                .push(format!("))) {TICKET_COLUMNS}\n  from t"));
            ticket_joins(&mut sql, tenant);
            sql.push(" order by t.updated_at desc, t.id desc");
            vec![sql]
        }
        Request::Counts => {
            let agent = inputs.me;
            let since = Utc::now() - chrono::Duration::days(store::tickets::RECENTLY_CLOSED_DAYS);
            let mut sql = QueryBuilder::new(
                "select t.department_id,
                        count(*) filter (where t.state in ('open', 'pending') and t.assignee_agent_id = ",
            );
            sql.push_bind(agent).push(
                ") as mine,
                        count(*) filter (where t.state in ('open', 'pending') and t.assignee_team_id in
                            (select q.team_id from team_members q where q.agent_id = ",
            );
            sql.push_bind(agent);
            tenant_condition(&mut sql, "q", tenant);
            sql.push(
                ")) as my_teams,
                        count(*) filter (where t.state in ('open', 'pending') and t.assignee_agent_id is null) as unassigned,
                        count(*) filter (where t.state in ('open', 'pending')) as open,
                        count(*) filter (where t.state in ('open', 'pending') and t.resolution_due_at < now()) as overdue,
                        count(*) filter (where t.state = 'closed') as recently_closed
                   from tickets t
                  where (t.state in ('open', 'pending')
                         or (t.state = 'closed' and t.updated_at >= ",
            )
            .push_bind(since)
            .push(" and t.closed_at >= ")
            .push_bind(since)
            .push("))");
            tenant_condition(&mut sql, "t", tenant);
            scope_condition(&mut sql, scope, tenant);
            sql.push(" group by t.department_id");
            vec![sql]
        }
        Request::Page(id) => {
            let mut ticket = ticket_select(tenant);
            ticket.push(" and t.id = ").push_bind(id);
            scope_condition(&mut ticket, scope, tenant);
            let mut thread = QueryBuilder::new(
                "select e.id, e.ticket_id, e.kind, e.author_agent_id, a.name as author_agent_name,
                        e.author_end_user_id, u.name as author_end_user_name, e.body_html, e.body_text,
                        e.event, e.created_at
                   from ticket_entries e
                   left join agents a on a.id = e.author_agent_id",
            );
            tenant_condition(&mut thread, "a", tenant);
            thread.push(" left join end_users u on u.id = e.author_end_user_id");
            tenant_condition(&mut thread, "u", tenant);
            thread.push(" where e.ticket_id = ").push_bind(id);
            tenant_condition(&mut thread, "e", tenant);
            thread.push(" order by e.created_at, e.id");
            let mut collaborators = QueryBuilder::new(
                "select u.id, u.name, u.email, c.created_at
                   from ticket_collaborators c join end_users u on u.id = c.end_user_id",
            );
            tenant_condition(&mut collaborators, "u", tenant);
            collaborators.push(" where c.ticket_id = ").push_bind(id);
            tenant_condition(&mut collaborators, "c", tenant);
            collaborators.push(" order by c.created_at, u.id");
            vec![ticket, thread, collaborators]
        }
    }
}

/// Runs a read's statements, with the search functions' lookups first when it searches (as
/// `store::tickets::list_in_queue` does); the time they took (not counting BEGIN,
/// set_config and COMMIT).
async fn run_statements(
    conn: &mut sqlx::PgConnection,
    read: Read,
    inputs: &Inputs,
    index: usize,
    tenant: Option<Uuid>,
) -> anyhow::Result<Duration> {
    let clock = Instant::now();
    let matches = match read.request(inputs, index) {
        Request::List(query) => Matches::find(&mut *conn, &query).await?,
        _ => Matches::default(),
    };
    for mut sql in statements(read, inputs, index, tenant, &matches) {
        sql.build().fetch_all(&mut *conn).await?;
    }
    Ok(clock.elapsed())
}

/// The search functions read the tenant from `app.tenant_id` even for a bypassing role;
/// set once for the session, outside the timed statements.
async fn set_search_tenant(conn: &mut sqlx::PgConnection, tenant: Uuid) -> anyhow::Result<()> {
    sqlx::query("select set_config('app.tenant_id', $1, false)")
        .bind(tenant.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// [`run_statements`] as the runtime role in a tenant transaction; the outer error is the
/// transaction's own.
async fn run_rls(
    runtime: &PgPool,
    read: Read,
    inputs: &Inputs,
    index: usize,
) -> anyhow::Result<anyhow::Result<Duration>> {
    let mut tx = database::begin_tenant(runtime, inputs.tenant).await?;
    let timed = run_statements(&mut tx, read, inputs, index, None).await;
    tx.commit().await?;
    Ok(timed)
}

async fn compare_rls(
    runtime: &PgPool,
    admin: &PgPool,
    inputs: &Inputs,
    args: &Args,
) -> anyhow::Result<String> {
    let (role, bypasses): (String, bool) = sqlx::query_as(
        "select rolname::text, rolsuper or rolbypassrls from pg_roles where rolname = current_user",
    )
    .fetch_one(admin)
    .await?;
    if !bypasses {
        bail!("the owner role {role} neither is a superuser nor has BYPASSRLS");
    }
    let tenant = inputs.tenant.as_uuid();
    let mut bypass = admin.acquire().await?;
    set_search_tenant(&mut bypass, tenant).await?;
    let mut out = format!(
        "\n#### What row-level security costs: the same statements (a) as the runtime role with \
         the tenant set (RLS; statements as the store builds them) and (b) as `{role}` (bypasses \
         RLS) with each table's `tenant_id = $n` written out and no set_config; statement time \
         only, interleaved (the sides take turns going first), one client, {} samples each\n\n\
         | read | (a) RLS p50 ms | (b) explicit p50 ms | (a) RLS p95 ms | (b) explicit p95 ms | p50 ratio | p95 ratio |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
        args.samples
    );
    for read in Read::ALL {
        eprintln!("  RLS vs explicit: {}", read.label);
        let mut rls = Vec::with_capacity(args.samples);
        let mut explicit = Vec::with_capacity(args.samples);
        let mut failure = None;
        for index in (args.samples..args.samples + args.warmup).chain(0..args.samples) {
            let timed = index < args.samples;
            // Each sample reads other rows, and whichever side goes first pays for bringing
            // them into shared buffers: the sides take turns going first.
            let (a, b) = if index % 2 == 0 {
                let a = run_rls(runtime, read, inputs, index).await?;
                let b = run_statements(&mut bypass, read, inputs, index, Some(tenant)).await;
                (a, b)
            } else {
                let b = run_statements(&mut bypass, read, inputs, index, Some(tenant)).await;
                let a = run_rls(runtime, read, inputs, index).await?;
                (a, b)
            };
            match (a, b) {
                (Ok(a), Ok(b)) => {
                    if timed {
                        rls.push(a);
                        explicit.push(b);
                    }
                }
                (Err(error), _) | (_, Err(error)) => {
                    failure = Some(format!("{error:#}"));
                    break;
                }
            }
        }
        if let Some(failure) = failure {
            eprintln!("{}: {failure}", read.label);
            let _ = writeln!(
                out,
                "| {} | failed: {} | | | | | |",
                read.label,
                failure.replace('|', "\\|").replace('\n', " ")
            );
            continue;
        }
        let (rls, explicit) = (Latencies::new(rls), Latencies::new(explicit));
        let ratio = |p: f64| {
            let b = explicit.percentile(p).as_secs_f64();
            if b > 0.0 {
                let r = rls.percentile(p).as_secs_f64() / b;
                if r > 1.10 {
                    format!("**{r:.2}**")
                } else {
                    format!("{r:.2}")
                }
            } else {
                "n/a".to_owned()
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            read.label,
            ms(rls.percentile(50.0)),
            ms(explicit.percentile(50.0)),
            ms(rls.percentile(95.0)),
            ms(explicit.percentile(95.0)),
            ratio(50.0),
            ratio(95.0),
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Creations through the API: the real web app in process, an API token per tenant

/// A tenant the creations go to: its Host header, token and some requesters' addresses.
struct Target {
    host: String,
    token: String,
    emails: Vec<String>,
}

async fn time_creations(
    args: &Args,
    database: &Database,
    owner: &Owner,
    admin: &PgPool,
    plans: &[TenantPlan],
    scratch: &std::path::Path,
) -> anyhow::Result<String> {
    use web::auth::passwords::Passwords;
    use web::auth::rate_limit::RateLimiter;
    use web::auth::sessions::Sessions;
    use web::settings_cache::SettingsCache;
    use web::tenancy::TenantResolver;
    use web::{App, AppState, WebConfig};

    let store = Store::connect(&database.runtime_url(), args.pool_size)
        .await
        .context("the app's runtime pool")?;
    store
        .check_runtime_role()
        .await
        .map_err(|problem| anyhow::anyhow!("the runtime role is not safe: {problem:?}"))?;
    let state = AppState::new(App {
        store,
        tenants: TenantResolver::new(Duration::from_secs(300)),
        settings: SettingsCache::new(Duration::from_secs(300)),
        passwords: Passwords::new(2),
        sessions: Sessions::new(
            None,
            Duration::from_secs(3600),
            Duration::from_secs(8 * 3600),
        ),
        limits: RateLimiter::new(None),
        redis: None,
        attachments: web::attachments::AttachmentStore::local(&scratch.join("attachments"))
            .map_err(|e| anyhow::anyhow!(e))?,
        config: WebConfig {
            base_url: domain::BaseUrl::parse("http://localhost")
                .map_err(|e| anyhow::anyhow!("{e:?}"))?,
            invalidation_channel: web::invalidation::DEFAULT_CHANNEL.to_owned(),
            mail_from: domain::EmailAddress::parse("noreply@tenantdesk.test")
                .map_err(|e| anyhow::anyhow!("{e:?}"))?,
            mailbox_dir: None,
            import_limits: web::imports::ImportLimits::default(),
            secret_key: web::sign_in::secrets::SecretKey::generate(),
        },
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let router = web::router(state);
    tokio::spawn(async move {
        let app = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        if let Err(error) = axum::serve(listener, app).await {
            eprintln!("the web app stopped: {error}");
        }
    });

    // The big tenant, and up to 100 of the others (creations rotate over them).
    let mut big = Vec::new();
    let mut small = Vec::new();
    for (index, plan) in plans.iter().enumerate().take(101) {
        let slug: String = sqlx::query_scalar("select slug from tenants where id = $1")
            .bind(plan.tenant.as_uuid())
            .fetch_one(admin)
            .await?;
        let mut tx = owner.begin_tenant(plan.tenant).await?;
        let issued = store::tokens::create_api_token(
            &mut tx,
            &domain::TokenName::parse("bench").map_err(|e| anyhow::anyhow!("{e:?}"))?,
        )
        .await?;
        tx.commit().await?;
        let emails: Vec<String> = sqlx::query_scalar(
            "select email from end_users where tenant_id = $1 order by random() limit 500",
        )
        .bind(plan.tenant.as_uuid())
        .fetch_all(admin)
        .await?;
        let target = Target {
            host: format!("{slug}.localhost"),
            token: issued.secret,
            emails,
        };
        if index == 0 {
            big.push(target);
        } else {
            small.push(target);
        }
    }
    let big = Arc::new(big);
    let small = Arc::new(small);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let url = format!("http://{address}/api/v1/tickets");

    let mut table = format!(
        "\n#### Ticket creation through the API (`POST /api/v1/tickets` with an API token, the web \
         app in process on 127.0.0.1, runtime pool of {} connections; requester by email, {} \
         request(s) in ten with a new address; {} timed requests per row after {} untimed)\n\n\
         | into | concurrency | created | errors | tickets/s | p50 ms | p99 ms |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
        args.pool_size,
        args.new_requesters_per_ten,
        args.creations,
        args.creations / 10
    );
    let mut run_number = 0usize;
    for &concurrency in &args.concurrency {
        for (label, targets) in [
            ("the big tenant", big.clone()),
            ("100 other tenants, in turn", small.clone()),
        ] {
            if targets.is_empty() {
                continue;
            }
            run_number += 1;
            eprintln!("  {concurrency} clients into {label}");
            // Untimed first (connections, prepared statements), then timed.
            for (count, timed) in [(args.creations / 10, false), (args.creations, true)] {
                let next = Arc::new(AtomicUsize::new(0));
                let started = Instant::now();
                let mut workers = tokio::task::JoinSet::new();
                for _ in 0..concurrency {
                    let next = next.clone();
                    let targets = targets.clone();
                    let http = http.clone();
                    let url = url.clone();
                    let new_per_ten = args.new_requesters_per_ten;
                    workers.spawn(async move {
                        let mut latencies = Vec::new();
                        let mut errors = Vec::new();
                        loop {
                            let index = next.fetch_add(1, Ordering::Relaxed);
                            if index >= count {
                                return (latencies, errors);
                            }
                            let target = &targets[index % targets.len()];
                            let body = creation_body(target, run_number, timed, index, new_per_ten);
                            let clock = Instant::now();
                            let outcome = http
                                .post(&url)
                                .header(reqwest::header::HOST, &target.host)
                                .bearer_auth(&target.token)
                                .json(&body)
                                .send()
                                .await;
                            match outcome {
                                Ok(response)
                                    if response.status() == reqwest::StatusCode::CREATED =>
                                {
                                    let _ = response.bytes().await;
                                    latencies.push(clock.elapsed());
                                }
                                Ok(response) => {
                                    let status = response.status();
                                    let text = response.text().await.unwrap_or_default();
                                    errors.push(format!("{status}: {text}"));
                                }
                                Err(error) => errors.push(error.to_string()),
                            }
                        }
                    });
                }
                let mut latencies = Vec::new();
                let mut errors = Vec::new();
                while let Some(joined) = workers.join_next().await {
                    let (l, e) = joined.context("a client task")?;
                    latencies.extend(l);
                    errors.extend(e);
                }
                let seconds = started.elapsed().as_secs_f64();
                if let Some(first) = errors.first() {
                    eprintln!("    {} errors, the first: {first}", errors.len());
                }
                if !timed {
                    continue;
                }
                let created = latencies.len();
                let latencies = Latencies::new(latencies);
                let _ = writeln!(
                    table,
                    "| {label} | {concurrency} | {created} | {} | **{:.0}** | {} | {} |",
                    errors.len(),
                    created as f64 / seconds,
                    ms(latencies.percentile(50.0)),
                    ms(latencies.percentile(99.0)),
                );
            }
        }
    }
    Ok(table)
}

fn creation_body(
    target: &Target,
    run: usize,
    timed: bool,
    index: usize,
    new_per_ten: usize,
) -> serde_json::Value {
    let phrase = PHRASES[index % PHRASES.len()];
    let product = PRODUCTS[(index / 7) % PRODUCTS.len()];
    let words: Vec<&str> = (0..30)
        .map(|k| WORDS[(index * 31 + k * 17) % WORDS.len()])
        .collect();
    let email = if index % 10 < new_per_ten || target.emails.is_empty() {
        format!(
            "new{run}{}{index}@newcomer.example",
            if timed { "t" } else { "w" }
        )
    } else {
        target.emails[index % target.emails.len()].clone()
    };
    serde_json::json!({
        "subject": format!("{phrase} - {product}"),
        "message": format!("Hello, {phrase} with our {product}. {}. Thanks", words.join(" ")),
        "requester_email": email,
        "requester_name": "Bench Requester",
    })
}

// ---------------------------------------------------------------------------------------------
// Plans: auto_explain on a fresh connection of the runtime role

/// PostgreSQL's LOG messages to the client (auto_explain's plans), which sqlx hands to
/// `tracing` as events of the target `sqlx::postgres::notice`.
#[derive(Clone, Default)]
struct Notices(Arc<Mutex<Vec<String>>>);

impl Notices {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

struct MessageVisitor<'a>(&'a mut String);

impl tracing::field::Visit for MessageVisitor<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Notices {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut message = String::new();
        event.record(&mut MessageVisitor(&mut message));
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message);
    }
}

/// The settings that make every new session of the server log the plan of each statement it
/// runs, nested ones included, as EXPLAIN (ANALYZE, BUFFERS) prints it.
const AUTO_EXPLAIN: [(&str, &str); 5] = [
    ("session_preload_libraries", "'auto_explain'"),
    ("auto_explain.log_min_duration", "0"),
    ("auto_explain.log_analyze", "on"),
    ("auto_explain.log_buffers", "on"),
    ("auto_explain.log_nested_statements", "on"),
];

/// Which reads get their plan shown (indexes into [`Read::ALL`]): the main queue page and the
/// queue counts, for an Admin and an Agent.
const EXPLAINED: [usize; 4] = [0, 1, 8, 9];

/// Collects the server's notices (auto_explain's plans) and prints the web app's errors (a
/// failed request's cause) to stderr.
fn install_subscriber(notices: &Notices) -> anyhow::Result<()> {
    use tracing_subscriber::layer::SubscriberExt;

    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::Layer::with_filter(
            notices.clone(),
            tracing_subscriber::filter::Targets::new()
                .with_target("sqlx::postgres::notice", tracing::Level::TRACE),
        ))
        .with(tracing_subscriber::Layer::with_filter(
            tracing_subscriber::fmt::layer().with_writer(std::io::stderr),
            tracing_subscriber::filter::Targets::new().with_target("web", tracing::Level::ERROR),
        ));
    tracing::subscriber::set_global_default(subscriber).context("installing the subscriber")
}

async fn capture_plans(
    database: &Database,
    admin: &PgPool,
    inputs: &Inputs,
    notices: &Notices,
) -> anyhow::Result<String> {
    // ALTER SYSTEM checks auto_explain's settings only in a session that has loaded it.
    let mut conn = admin.acquire().await.context("an owner connection")?;
    sqlx::query("load 'auto_explain'")
        .execute(&mut *conn)
        .await
        .context("loading auto_explain")?;
    for (setting, value) in AUTO_EXPLAIN {
        sqlx::query(&format!("alter system set {setting} = {value}"))
            .execute(&mut *conn)
            .await
            .with_context(|| format!("alter system set {setting}"))?;
    }
    sqlx::query("select pg_reload_conf()")
        .execute(&mut *conn)
        .await?;
    // The postmaster rereads its configuration asynchronously; new sessions inherit it.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let outcome = explain_reads(database, inputs, notices).await;

    for (setting, _) in AUTO_EXPLAIN {
        sqlx::query(&format!("alter system reset {setting}"))
            .execute(&mut *conn)
            .await
            .with_context(|| format!("alter system reset {setting}"))?;
    }
    sqlx::query("select pg_reload_conf()")
        .execute(&mut *conn)
        .await?;
    outcome
}

async fn explain_reads(
    database: &Database,
    inputs: &Inputs,
    notices: &Notices,
) -> anyhow::Result<String> {
    let runtime_url = database.runtime_url();
    let separator = if runtime_url.contains('?') { '&' } else { '?' };
    let url = format!("{runtime_url}{separator}options=-c%20client_min_messages%3Dlog");
    let store = Store::connect(&url, 1)
        .await
        .context("connecting as the runtime role with client_min_messages=log")?;
    let mut out = String::from(
        "\n#### Plans, as executed by the runtime role in a tenant transaction \
         (auto_explain: ANALYZE, BUFFERS, nested statements)\n",
    );
    let owner_url = database.owner_url();
    let separator = if owner_url.contains('?') { '&' } else { '?' };
    let bypass = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&format!(
            "{owner_url}{separator}options=-c%20client_min_messages%3Dlog"
        ))
        .await
        .context("connecting as the owner with client_min_messages=log")?;
    for read in EXPLAINED.map(|index| Read::ALL[index]) {
        // As the timed runs did: the same connection runs the statement several times first,
        // so a cached generic plan shows if PostgreSQL switches to one.
        let mut failed = None;
        for index in 0..9 {
            if index == 8 {
                notices.take();
            }
            if let Err(error) = perform(&store, read, inputs, 1_000 + index).await {
                failed = Some(error);
                break;
            }
        }
        if let Some(error) = failed {
            let _ = writeln!(out, "\n{}: failed: {error:#}", read.label);
            continue;
        }
        let plans: Vec<String> = notices
            .take()
            .into_iter()
            .filter(|plan| plan.contains("tickets"))
            .collect();
        if plans.is_empty() {
            bail!(
                "no plan arrived for {}; is auto_explain installed?",
                read.label
            );
        }
        let _ = write!(out, "\n{}:\n\n```text\n", read.label);
        for plan in plans {
            out.push_str(plan.trim_end());
            out.push_str("\n\n");
        }
        out.truncate(out.trim_end().len());
        out.push_str("\n```\n");

        // The same read as the explicit-filter side of the comparison ran it.
        let mut conn = bypass.acquire().await?;
        set_search_tenant(&mut conn, inputs.tenant.as_uuid()).await?;
        for index in 0..9 {
            if index == 8 {
                notices.take();
            }
            run_statements(
                &mut conn,
                read,
                inputs,
                1_000 + index,
                Some(inputs.tenant.as_uuid()),
            )
            .await?;
        }
        let plans: Vec<String> = notices
            .take()
            .into_iter()
            .filter(|plan| plan.contains("tickets"))
            .collect();
        let _ = write!(
            out,
            "\n{}, explicit `tenant_id = $n` by the bypassing role:\n\n```text\n",
            read.label
        );
        for plan in plans {
            out.push_str(plan.trim_end());
            out.push_str("\n\n");
        }
        out.truncate(out.trim_end().len());
        out.push_str("\n```\n");
    }
    Ok(out)
}
