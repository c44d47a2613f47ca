//! Directory benchmark: one tenant with a million end users and 50,000 organizations beside
//! 999 small tenants; p50/p95 of the directory's reads (substring search, custom-field filter,
//! sorted list pages, the user page) through the `store` crate as the runtime role, their plans
//! as PostgreSQL executed them (auto_explain with ANALYZE and BUFFERS, nested statements
//! included), and the CSV import rate. Prints Markdown for `docs/benchmarks.md` on stdout and
//! progress on stderr.
//!
//! ```text
//! cargo run --release -p bench --bin directory -- [--users N] [--samples N] ...
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench::cpu;
use bench::database::{self, Database};
use bench::latency::{Latencies, ms};
use chrono::DateTime;
use clap::Parser;
use domain::TenantId;
use serde_json::Value;
use sqlx::PgPool;
use store::keyset::After;
use store::user_directory::{self, CustomFilter, UserQuery};
use store::{Owner, Store};
use tenantdesk::embedded_postgres::{Claim, EmbeddedPostgres, Options};
use uuid::Uuid;

#[derive(Parser, Debug)]
#[command(
    name = "directory",
    about = "Measures the end-user directory at a million users: search, filters, pages, import"
)]
struct Args {
    /// Runtime-role URL of an existing, dedicated database (instead of a throwaway cluster).
    #[arg(long, env = "BENCH_DATABASE_URL", requires = "owner_url")]
    database_url: Option<String>,
    /// Owner-role URL of that database (a superuser: it seeds with COPY and, for the plans,
    /// turns auto_explain on with ALTER SYSTEM for a moment).
    #[arg(long, env = "BENCH_OWNER_URL", requires = "database_url")]
    owner_url: Option<String>,
    /// End users of the big tenant.
    #[arg(long, default_value_t = 1_000_000)]
    users: usize,
    /// Organizations of the big tenant.
    #[arg(long, default_value_t = 50_000)]
    organizations: usize,
    /// Small tenants beside it.
    #[arg(long, default_value_t = 999)]
    small_tenants: usize,
    /// End users of each small tenant (each also gets a tenth as many organizations).
    #[arg(long, default_value_t = 100)]
    small_users: usize,
    /// Timed reads per row of the results table.
    #[arg(long, default_value_t = 50)]
    samples: usize,
    /// Untimed reads before each row (prepared statements, plan cache, buffer cache).
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Rows of the users CSV whose import is timed (0 skips the import).
    #[arg(long, default_value_t = 100_000)]
    import_rows: usize,
    /// The tenantdesk binary whose `import users` command is timed.
    #[arg(long, default_value = "target/release/tenantdesk")]
    tenantdesk: PathBuf,
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
    /// Seed of the data generator (the same seed gives the same people).
    #[arg(long, default_value_t = 20_261_122)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.samples == 0 || args.users < 1_000 || args.organizations < 100 {
        bail!("--samples must be positive, --users at least 1000, --organizations at least 100");
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

async fn run(args: &Args, database: &Database, scratch: &Path) -> anyhow::Result<()> {
    let owner = Owner::connect(&database.owner_url())
        .await
        .context("connecting as the owner")?;
    owner.migrate().await.context("migrating")?;
    let admin = database::owner_pool(&database.owner_url()).await?;
    let probe = Probe {
        postgres: database.postmaster_pid(),
    };

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

    let mut rng = Rng(args.seed);
    eprintln!("creating 1 + {} tenants", args.small_tenants);
    let started = Instant::now();
    let big = database::create_tenant(&owner, "big").await?;
    let mut small = Vec::with_capacity(args.small_tenants);
    for index in 0..args.small_tenants {
        small.push(database::create_tenant(&owner, &format!("small{index}")).await?);
    }
    let tenants_seconds = started.elapsed().as_secs_f64();

    let seeded = seed(&admin, args, big, &small, &mut rng).await?;
    writeln!(
        out,
        "- data: {} end users and {} organizations ({} domains, {} memberships) in one tenant; \
         {} small tenants with {} users and {} organizations each; {} end users in all",
        seeded.big_users,
        seeded.big_organizations,
        seeded.big_organizations,
        seeded.big_memberships,
        small.len(),
        args.small_users,
        small_organizations(args),
        seeded.all_users,
    )?;
    writeln!(
        out,
        "- seeding (COPY as the owner, then the GIN indexes built, then VACUUM ANALYZE): tenants \
         {tenants_seconds:.0} s, COPY {:.0} s, GIN indexes {:.0} s, VACUUM ANALYZE {:.0} s",
        seeded.copy_seconds, seeded.index_seconds, seeded.analyze_seconds
    )?;
    writeln!(out, "- sizes: {}", relation_sizes(&admin).await?)?;

    let inputs = Inputs::sample(&admin, big, &small, args.samples + args.warmup, &mut rng).await?;
    eprintln!("counting what each search term matches");
    let matches = inputs.count_matches(&admin, big).await?;

    let store = Store::connect(&database.runtime_url(), 1)
        .await
        .context("connecting as the runtime role")?;
    let mut rows = Vec::new();
    for read in Read::ALL {
        eprintln!("timing: {}", read.label());
        // A read the store cannot answer is reported in its row; the others still run.
        rows.push(
            time_read(&store, read, &inputs, args, &probe)
                .await
                .unwrap_or_else(|error| {
                    eprintln!("{}: {error:#}", read.label());
                    Timed {
                        read,
                        latencies: Latencies::new(Vec::new()),
                        shown: 0.0,
                        others: None,
                        failure: Some(format!("{error:#}")),
                    }
                }),
        );
    }
    drop(store);
    out.push_str(&results_table(&rows, &matches));

    if !args.no_explain {
        eprintln!("capturing plans with auto_explain");
        match capture_plans(database, &admin, &inputs).await {
            Ok(plans) => out.push_str(&plans),
            Err(error) => {
                eprintln!("plans not captured: {error:#}");
                writeln!(out, "\nPlans not captured: {error:#}")?;
            }
        }
    }

    if args.import_rows > 0 {
        eprintln!("import: {} rows", args.import_rows);
        let line = match time_import(args, database, &admin, &small, scratch, &mut rng).await {
            Ok(line) => line,
            Err(error) => {
                eprintln!("import not measured: {error:#}");
                format!("pending: {error:#}")
            }
        };
        writeln!(out, "\n#### Import\n\n{line}")?;
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
        "cargo run --release -p bench --bin directory -- {}",
        args.join(" ")
    )
    .trim_end()
    .trim_end_matches(" --")
    .to_owned()
}

fn small_organizations(args: &Args) -> usize {
    (args.small_users / 10).max(1)
}

// ---------------------------------------------------------------------------------------------
// CPU accounting: how busy the rest of the machine was while a row was timed

struct Probe {
    postgres: Option<u32>,
}

#[derive(Clone, Copy)]
struct CpuSample {
    process: Duration,
    postgres: Option<Duration>,
    machine: Option<Duration>,
}

impl Probe {
    fn sample(&self) -> CpuSample {
        CpuSample {
            process: cpu::this_process(),
            postgres: self.postgres.and_then(cpu::process_tree),
            machine: cpu::machine_busy(),
        }
    }

    /// Cores the other processes of the machine kept busy since `before`; `None` when the
    /// server is not ours to measure.
    fn others_since(&self, before: CpuSample, seconds: f64) -> Option<f64> {
        let after = self.sample();
        let postgres = after.postgres?.saturating_sub(before.postgres?);
        let machine = after.machine?.saturating_sub(before.machine?);
        let ours = after.process.saturating_sub(before.process) + postgres;
        Some(machine.saturating_sub(ours).as_secs_f64() / seconds)
    }
}

// ---------------------------------------------------------------------------------------------
// Data: a small deterministic generator and realistic-looking people and companies

/// SplitMix64: fast, deterministic, good enough to spread names.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn digits(&mut self, count: usize) -> String {
        (0..count)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "Ada", "Alan", "Alice", "Amelia", "Anna", "Anton", "Ben", "Bernd", "Bianca", "Carla", "Carlos",
    "Charlotte", "Chen", "Chiara", "Clara", "Daniel", "David", "Diana", "Elena", "Elias", "Emil",
    "Emma", "Erik", "Eva", "Fatima", "Felix", "Finn", "Frida", "Gabriel", "Grace", "Hanna",
    "Hannes", "Hugo", "Ida", "Ines", "Isabel", "Ivan", "Jakob", "James", "Jana", "Jonas", "Julia",
    "Karin", "Karl", "Kenji", "Lara", "Lea", "Leon", "Lina", "Linus", "Lisa", "Lucas", "Luis",
    "Maja", "Marco", "Maria", "Marie", "Marta", "Mateo", "Max", "Mia", "Milan", "Mila", "Nadia",
    "Nina", "Noah", "Nora", "Olga", "Oliver", "Omar", "Oscar", "Paul", "Paula", "Pedro", "Peter",
    "Priya", "Rafael", "Rosa", "Ruben", "Sara", "Simon", "Sofia", "Stefan", "Tara", "Theo",
    "Thomas", "Tobias", "Valentina", "Victor", "Wei", "Yusuf", "Zoe",
];

#[rustfmt::skip]
const LAST_NAMES: &[&str] = &[
    "Abbott", "Adams", "Alvarez", "Andersen", "Bauer", "Becker", "Berg", "Bianchi", "Brandt",
    "Braun", "Brooks", "Carter", "Castillo", "Chen", "Clarke", "Costa", "Dahl", "Diaz", "Dubois",
    "Eriksen", "Evans", "Fischer", "Fontaine", "Ford", "Fuchs", "Garcia", "Gomez", "Graham",
    "Gruber", "Hansen", "Hartmann", "Hoffmann", "Horvath", "Huber", "Ito", "Jansen", "Jensen",
    "Johansson", "Kaiser", "Keller", "Kim", "Klein", "Koch", "Kowalski", "Kraus", "Kuhn", "Lang",
    "Larsen", "Lehmann", "Lopez", "Lorenz", "Martin", "Meier", "Meyer", "Moreau", "Morris", "Nagy",
    "Neumann", "Nielsen", "Novak", "Olsen", "Ortiz", "Park", "Peters", "Petrov", "Popescu",
    "Quinn", "Ramos", "Reyes", "Richter", "Rossi", "Russo", "Santos", "Sato", "Schmid", "Schmidt",
    "Schneider", "Scholz", "Schulz", "Schwarz", "Silva", "Simon", "Sorensen", "Suzuki", "Svensson",
    "Tanaka", "Thompson", "Torres", "Vogel", "Wagner", "Walker", "Weber", "Werner", "Wolf",
    "Wright", "Yamamoto", "Young", "Zimmermann",
];

#[rustfmt::skip]
const TITLES: &[&str] = &["Dr.", "Prof.", "Mr.", "Ms.", "Mx."];

/// City, zip prefix, country, dialling code.
const CITIES: &[(&str, &str, &str, &str)] = &[
    ("Berlin", "10", "DE", "+49 30"),
    ("Hamburg", "20", "DE", "+49 40"),
    ("Munich", "80", "DE", "+49 89"),
    ("Cologne", "50", "DE", "+49 221"),
    ("Vienna", "10", "AT", "+43 1"),
    ("Zurich", "80", "CH", "+41 44"),
    ("Paris", "75", "FR", "+33 1"),
    ("Lyon", "69", "FR", "+33 4"),
    ("Madrid", "28", "ES", "+34 91"),
    ("Lisbon", "11", "PT", "+351 21"),
    ("Rome", "00", "IT", "+39 06"),
    ("Milan", "20", "IT", "+39 02"),
    ("Amsterdam", "10", "NL", "+31 20"),
    ("Brussels", "10", "BE", "+32 2"),
    ("Copenhagen", "12", "DK", "+45 3"),
    ("Stockholm", "11", "SE", "+46 8"),
    ("Oslo", "01", "NO", "+47 2"),
    ("Warsaw", "00", "PL", "+48 22"),
    ("Prague", "11", "CZ", "+420 2"),
    ("Budapest", "10", "HU", "+36 1"),
    ("London", "EC", "GB", "+44 20"),
    ("Manchester", "M1", "GB", "+44 161"),
    ("Dublin", "D0", "IE", "+353 1"),
    ("New York", "10", "US", "+1 212"),
    ("Chicago", "60", "US", "+1 312"),
    ("Austin", "78", "US", "+1 512"),
    ("Toronto", "M5", "CA", "+1 416"),
    ("Sydney", "20", "AU", "+61 2"),
    ("Tokyo", "10", "JP", "+81 3"),
    ("Singapore", "01", "SG", "+65 6"),
];

#[rustfmt::skip]
const STREETS: &[&str] = &[
    "Main Street", "Hauptstrasse", "Rue de la Paix", "Calle Mayor", "Via Roma", "Kerkstraat",
    "High Street", "Bahnhofstrasse", "Market Square", "Park Avenue", "Lindenweg", "Harbour Road",
    "Station Road", "Mill Lane", "Church Street", "Oak Avenue",
];

#[rustfmt::skip]
const FREEMAIL: &[&str] = &[
    "gmail.com", "outlook.com", "yahoo.com", "gmx.de", "web.de", "icloud.com", "proton.me",
    "orange.fr",
];

#[rustfmt::skip]
const ORG_FIRST: &[&str] = &[
    "Alder", "Amber", "Apex", "Arrow", "Aspen", "Atlas", "Azure", "Beacon", "Birch", "Blue",
    "Bright", "Brook", "Cedar", "Clear", "Cobalt", "Copper", "Coral", "Crest", "Crystal", "Delta",
    "Eagle", "Echo", "Elm", "Ember", "Falcon", "Fern", "Forge", "Fox", "Golden", "Granite",
    "Green", "Harbor", "Hawk", "Helix", "Horizon", "Iron", "Ivy", "Jade", "Juniper", "Lake",
    "Linden", "Lumen", "Maple", "Meadow", "Nimbus", "North", "Oak", "Onyx", "Orbit", "Pine",
    "Polar", "Quartz", "Raven", "Ridge", "River", "Silver", "Slate", "Summit", "Swift", "Vertex",
];

#[rustfmt::skip]
const ORG_SECOND: &[&str] = &[
    "Analytics", "Apparel", "Architects", "Audio", "Aviation", "Bakery", "Bank", "Bikes",
    "Biotech", "Books", "Brewing", "Builders", "Capital", "Care", "Chemicals", "Cloud", "Coffee",
    "Consulting", "Dental", "Design", "Devices", "Digital", "Dynamics", "Electric", "Energy",
    "Engineering", "Farms", "Fashion", "Finance", "Fitness", "Foods", "Freight", "Furniture",
    "Games", "Garden", "Glass", "Health", "Homes", "Hotels", "Imaging", "Industries", "Insurance",
    "Labs", "Law", "Leisure", "Lighting", "Logistics", "Machines", "Marine", "Media", "Medical",
    "Metals", "Mobility", "Motors", "Music", "Networks", "Optics", "Outdoor", "Packaging", "Paper",
    "Pharma", "Plastics", "Power", "Print", "Properties", "Robotics", "Security", "Semiconductors",
    "Software", "Solar", "Sports", "Steel", "Studios", "Systems", "Telecom", "Textiles", "Tools",
    "Travel", "Ventures", "Water",
];

#[rustfmt::skip]
const ORG_SUFFIX: &[&str] = &[
    "GmbH", "AG", "Ltd", "Inc", "LLC", "SA", "SARL", "BV", "AB", "Oy", "SpA", "Group",
];

/// The name of organization `index` (unique while index < all combinations).
fn organization_name(index: usize) -> String {
    let first = ORG_FIRST[index % ORG_FIRST.len()];
    let second = ORG_SECOND[(index / ORG_FIRST.len()) % ORG_SECOND.len()];
    let rest = index / (ORG_FIRST.len() * ORG_SECOND.len());
    let suffix = ORG_SUFFIX[rest % ORG_SUFFIX.len()];
    let round = rest / ORG_SUFFIX.len();
    if round == 0 {
        format!("{first} {second} {suffix}")
    } else {
        format!("{first} {second} {suffix} {}", round + 1)
    }
}

fn domain_of(name: &str) -> String {
    let slug: String = name
        .to_ascii_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-");
    format!("{slug}.example")
}

fn phone(rng: &mut Rng, prefix: &str) -> String {
    format!("{prefix} {}", rng.digits(7))
}

/// A `timestamptz` in the last three years.
fn past_timestamp(rng: &mut Rng) -> String {
    let now = 1_795_000_000_i64;
    let seconds = now - rng.below(3 * 365 * 86_400) as i64;
    DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M:%S+00")
        .to_string()
}

/// Appends a field of COPY's text format (tab-separated, `\N` for null).
fn field(line: &mut String, value: Option<&str>) {
    if !line.is_empty() && !line.ends_with('\n') {
        line.push('\t');
    }
    match value {
        None => line.push_str("\\N"),
        Some(text) => {
            for c in text.chars() {
                match c {
                    '\\' => line.push_str("\\\\"),
                    '\t' => line.push_str("\\t"),
                    '\n' => line.push_str("\\n"),
                    '\r' => line.push_str("\\r"),
                    _ => line.push(c),
                }
            }
        }
    }
}

/// A COPY in progress, sent in chunks of about a megabyte.
struct Copy<'c> {
    copy: sqlx::postgres::PgCopyIn<&'c mut sqlx::PgConnection>,
    buffer: String,
}

impl<'c> Copy<'c> {
    async fn start(conn: &'c mut sqlx::PgConnection, statement: &str) -> anyhow::Result<Self> {
        let copy = conn
            .copy_in_raw(statement)
            .await
            .with_context(|| format!("starting {statement}"))?;
        Ok(Self {
            copy,
            buffer: String::with_capacity(1 << 21),
        })
    }

    /// Ends the current row; sends the buffer when it is full.
    async fn end_row(&mut self) -> anyhow::Result<()> {
        self.buffer.push('\n');
        if self.buffer.len() >= 1 << 20 {
            self.copy
                .send(std::mem::take(&mut self.buffer).into_bytes())
                .await?;
            self.buffer.reserve(1 << 21);
        }
        Ok(())
    }

    async fn finish(mut self) -> anyhow::Result<u64> {
        if !self.buffer.is_empty() {
            self.copy
                .send(std::mem::take(&mut self.buffer).into_bytes())
                .await?;
        }
        Ok(self.copy.finish().await?)
    }
}

struct Seeded {
    big_users: usize,
    big_organizations: usize,
    big_memberships: usize,
    all_users: usize,
    copy_seconds: f64,
    index_seconds: f64,
    analyze_seconds: f64,
}

/// One tenant's people and companies, as COPY rows.
struct TenantPlan {
    tenant: TenantId,
    users: usize,
    organizations: usize,
    /// Where a member's organization is drawn from: index = organizations * u^skew, so a few
    /// organizations are large and most are small.
    skew: f64,
}

/// The GIN indexes dropped while COPY runs and built afterwards (far faster than inserting
/// into them row by row); the btree indexes and constraints stay in place.
const GIN_INDEXES: [&str; 4] = [
    "end_users_search_key_idx",
    "end_users_custom_idx",
    "organizations_search_key_idx",
    "organizations_custom_idx",
];

async fn seed(
    admin: &PgPool,
    args: &Args,
    big: TenantId,
    small: &[TenantId],
    rng: &mut Rng,
) -> anyhow::Result<Seeded> {
    let mut plans = vec![TenantPlan {
        tenant: big,
        users: args.users,
        organizations: args.organizations,
        skew: 2.0,
    }];
    plans.extend(small.iter().map(|&tenant| TenantPlan {
        tenant,
        users: args.small_users,
        organizations: small_organizations(args),
        skew: 1.5,
    }));

    let mut conn = admin.acquire().await.context("an owner connection")?;
    let definitions: Vec<(String, String)> = sqlx::query_as(
        "select indexname::text, indexdef from pg_indexes where indexname = any($1) order by 1",
    )
    .bind(&GIN_INDEXES[..])
    .fetch_all(&mut *conn)
    .await
    .context("reading the GIN index definitions")?;
    if definitions.len() != GIN_INDEXES.len() {
        bail!("expected the GIN indexes {GIN_INDEXES:?}, found {definitions:?}");
    }
    for (name, _) in &definitions {
        sqlx::query(&format!("drop index {name}"))
            .execute(&mut *conn)
            .await
            .with_context(|| format!("dropping {name}"))?;
    }

    let started = Instant::now();
    // Organizations and their domains first (members point at them).
    let mut organization_ids: Vec<Vec<Uuid>> = Vec::with_capacity(plans.len());
    {
        let mut copy = Copy::start(
            &mut conn,
            "copy organizations (tenant_id, id, name, customer_code, street, zip, city, country, \
             phone, website, validity, custom, ticket_sharing, created_at, updated_at) from stdin",
        )
        .await?;
        for plan in &plans {
            let tenant = plan.tenant.as_uuid().to_string();
            let mut ids = Vec::with_capacity(plan.organizations);
            for index in 0..plan.organizations {
                let id = Uuid::now_v7();
                ids.push(id);
                let name = organization_name(index);
                let (city, zip, country, dial) = *rng.pick(CITIES);
                let created = past_timestamp(rng);
                let b = &mut copy.buffer;
                field(b, Some(&tenant));
                field(b, Some(&id.to_string()));
                field(b, Some(&name));
                field(b, Some(&format!("C{index:06}")));
                field(
                    b,
                    Some(&format!("{} {}", rng.pick(STREETS), 1 + rng.below(200))),
                );
                field(b, Some(&format!("{zip}{}", rng.digits(3))));
                field(b, Some(city));
                field(b, Some(country));
                field(b, Some(&phone(rng, dial)));
                field(b, Some(&format!("https://www.{}", domain_of(&name))));
                field(b, Some(if rng.chance(0.03) { "invalid" } else { "valid" }));
                field(
                    b,
                    Some(match rng.below(10) {
                        0 => r#"{"segment": "enterprise"}"#,
                        1 | 2 => r#"{"segment": "smb"}"#,
                        _ => "{}",
                    }),
                );
                field(
                    b,
                    Some(match rng.below(10) {
                        0 => "all_members",
                        1 | 2 => "primary_contacts",
                        _ => "none",
                    }),
                );
                field(b, Some(&created));
                field(b, Some(&created));
                copy.end_row().await?;
            }
            organization_ids.push(ids);
        }
        copy.finish().await.context("copying organizations")?;
    }
    {
        let mut copy = Copy::start(
            &mut conn,
            "copy organization_domains (tenant_id, domain, organization_id) from stdin",
        )
        .await?;
        for (plan, ids) in plans.iter().zip(&organization_ids) {
            let tenant = plan.tenant.as_uuid().to_string();
            for (index, id) in ids.iter().enumerate() {
                field(&mut copy.buffer, Some(&tenant));
                field(
                    &mut copy.buffer,
                    Some(&domain_of(&organization_name(index))),
                );
                field(&mut copy.buffer, Some(&id.to_string()));
                copy.end_row().await?;
            }
        }
        copy.finish()
            .await
            .context("copying organization domains")?;
    }

    // End users; memberships are remembered and copied after them.
    let mut memberships: Vec<(usize, Uuid, usize, bool, bool)> = Vec::new();
    let mut all_users = 0;
    {
        let mut copy = Copy::start(
            &mut conn,
            "copy end_users (tenant_id, id, title, first_name, last_name, email, login, phone, \
             mobile, street, zip, city, country, comment, validity, custom, status, created_at, \
             updated_at) from stdin",
        )
        .await?;
        for (tenant_index, plan) in plans.iter().enumerate() {
            if tenant_index == 0 {
                eprintln!("copying {} end users of the big tenant", plan.users);
            } else if tenant_index == 1 {
                eprintln!("copying the small tenants");
            }
            let tenant = plan.tenant.as_uuid().to_string();
            for index in 0..plan.users {
                let id = Uuid::now_v7();
                let first = *rng.pick(FIRST_NAMES);
                let last = *rng.pick(LAST_NAMES);
                // Most people belong to a company and write from its domain.
                let organization = rng.chance(0.85).then(|| {
                    ((plan.organizations as f64) * rng.unit().powf(plan.skew)) as usize
                        % plan.organizations
                });
                let domain = match organization {
                    Some(org) => domain_of(&organization_name(org)),
                    None => (*rng.pick(FREEMAIL)).to_owned(),
                };
                let email = format!(
                    "{}.{}{}@{domain}",
                    first.to_ascii_lowercase(),
                    last.to_ascii_lowercase(),
                    index
                );
                if let Some(org) = organization {
                    memberships.push((tenant_index, id, org, true, rng.chance(0.03)));
                    if rng.chance(0.05) {
                        let other = rng.below(plan.organizations);
                        if other != org {
                            memberships.push((tenant_index, id, other, false, false));
                        }
                    }
                }
                let (city, zip, country, dial) = *rng.pick(CITIES);
                let mut custom = serde_json::Map::new();
                let tier = rng.unit();
                if tier < 0.01 {
                    custom.insert("tier".into(), "gold".into());
                } else if tier < 0.10 {
                    custom.insert("tier".into(), "silver".into());
                }
                if rng.chance(0.3) {
                    custom.insert("crm_id".into(), format!("CRM-{index:07}").into());
                }
                let created = past_timestamp(rng);
                let b = &mut copy.buffer;
                field(b, Some(&tenant));
                field(b, Some(&id.to_string()));
                field(b, rng.chance(0.1).then(|| *rng.pick(TITLES)));
                field(b, Some(first));
                field(b, Some(last));
                field(b, Some(&email));
                field(b, Some(&email));
                field(b, Some(&phone(rng, dial)));
                let mobile = rng.chance(0.4).then(|| phone(rng, dial));
                field(b, mobile.as_deref());
                field(
                    b,
                    Some(&format!("{} {}", rng.pick(STREETS), 1 + rng.below(200))),
                );
                field(b, Some(&format!("{zip}{}", rng.digits(3))));
                field(b, Some(city));
                field(b, Some(country));
                let comment = rng
                    .chance(0.05)
                    .then_some("Prefers to be contacted by phone.");
                field(b, comment);
                let validity = match rng.below(100) {
                    0 | 1 => "invalid",
                    2 => "invalid_temporarily",
                    _ => "valid",
                };
                field(b, Some(validity));
                field(b, Some(&Value::Object(custom).to_string()));
                field(b, Some(if rng.chance(0.6) { "active" } else { "guest" }));
                field(b, Some(&created));
                field(b, Some(&created));
                copy.end_row().await?;
                all_users += 1;
            }
        }
        copy.finish().await.context("copying end users")?;
    }
    let big_memberships = memberships.iter().filter(|m| m.0 == 0).count();
    {
        eprintln!("copying {} memberships", memberships.len());
        let mut copy = Copy::start(
            &mut conn,
            "copy organization_members (tenant_id, end_user_id, organization_id, is_primary, \
             primary_contact) from stdin",
        )
        .await?;
        for (tenant_index, user, org, primary, contact) in &memberships {
            let b = &mut copy.buffer;
            field(b, Some(&plans[*tenant_index].tenant.as_uuid().to_string()));
            field(b, Some(&user.to_string()));
            field(b, Some(&organization_ids[*tenant_index][*org].to_string()));
            field(b, Some(if *primary { "t" } else { "f" }));
            field(b, Some(if *contact { "t" } else { "f" }));
            copy.end_row().await?;
        }
        copy.finish().await.context("copying memberships")?;
    }
    let copy_seconds = started.elapsed().as_secs_f64();

    eprintln!("building the GIN indexes");
    let started = Instant::now();
    sqlx::query("set maintenance_work_mem = '1GB'")
        .execute(&mut *conn)
        .await?;
    for (name, definition) in &definitions {
        sqlx::query(definition)
            .execute(&mut *conn)
            .await
            .with_context(|| format!("building {name}"))?;
    }
    sqlx::query("reset maintenance_work_mem")
        .execute(&mut *conn)
        .await?;
    let index_seconds = started.elapsed().as_secs_f64();

    eprintln!("vacuum analyze");
    let started = Instant::now();
    for table in [
        "end_users",
        "organizations",
        "organization_domains",
        "organization_members",
        "tenants",
    ] {
        sqlx::query(&format!("vacuum analyze {table}"))
            .execute(&mut *conn)
            .await
            .with_context(|| format!("vacuum analyze {table}"))?;
    }
    let analyze_seconds = started.elapsed().as_secs_f64();

    Ok(Seeded {
        big_users: args.users,
        big_organizations: args.organizations,
        big_memberships,
        all_users,
        copy_seconds,
        index_seconds,
        analyze_seconds,
    })
}

async fn relation_sizes(admin: &PgPool) -> anyhow::Result<String> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select relname::text, pg_relation_size(oid) from pg_class
          where relname in ('end_users', 'organization_members', 'organizations',
                            'end_users_search_key_idx', 'end_users_custom_idx',
                            'end_users_name_order_idx', 'end_users_pkey')
          order by pg_relation_size(oid) desc",
    )
    .fetch_all(admin)
    .await
    .context("reading relation sizes")?;
    Ok(rows
        .iter()
        .map(|(name, bytes)| format!("{name} {:.0} MB", *bytes as f64 / 1e6))
        .collect::<Vec<_>>()
        .join(", "))
}

// ---------------------------------------------------------------------------------------------
// What the reads ask for

/// Inputs drawn from the seeded data: real names, addresses and positions.
struct Inputs {
    big: TenantId,
    /// Random users of the big tenant: id, lower(name) (a cursor position), email, phone,
    /// last name, crm id.
    users: Vec<SampleUser>,
    /// First two words of random organization names ("Bright Logistics").
    organization_terms: Vec<String>,
    /// A small tenant and a last name to look for there.
    small_searches: Vec<(TenantId, String)>,
}

struct SampleUser {
    id: Uuid,
    name_key: String,
    email: String,
    phone: String,
    last_name: String,
    crm_id: Option<String>,
}

impl Inputs {
    async fn sample(
        admin: &PgPool,
        big: TenantId,
        small: &[TenantId],
        count: usize,
        rng: &mut Rng,
    ) -> anyhow::Result<Self> {
        let mut tx = database::begin_tenant(admin, big).await?;
        let rows: Vec<(Uuid, String, String, String, String, Option<String>)> = sqlx::query_as(
            "select id, lower(name), email, phone, last_name, custom ->> 'crm_id'
               from end_users where tenant_id = $1 order by random() limit $2",
        )
        .bind(big.as_uuid())
        .bind(i64::try_from(count * 2)?)
        .fetch_all(&mut *tx)
        .await
        .context("sampling users")?;
        let organization_terms: Vec<String> = sqlx::query_scalar(
            "select split_part(name, ' ', 1) || ' ' || split_part(name, ' ', 2)
               from organizations where tenant_id = $1 order by random() limit $2",
        )
        .bind(big.as_uuid())
        .bind(i64::try_from(count)?)
        .fetch_all(&mut *tx)
        .await
        .context("sampling organizations")?;
        tx.commit().await?;
        let users = rows
            .into_iter()
            .map(
                |(id, name_key, email, phone, last_name, crm_id)| SampleUser {
                    id,
                    name_key,
                    email,
                    phone,
                    last_name,
                    crm_id,
                },
            )
            .collect();
        let small_searches = if small.is_empty() {
            Vec::new()
        } else {
            (0..count)
                .map(|_| {
                    (
                        *rng.pick(small),
                        (*rng.pick(LAST_NAMES)).to_ascii_lowercase(),
                    )
                })
                .collect()
        };
        Ok(Self {
            big,
            users,
            organization_terms,
            small_searches,
        })
    }

    fn user(&self, index: usize) -> &SampleUser {
        &self.users[index % self.users.len()]
    }

    /// The search term of a substring-search read, as an agent would type it.
    fn search_term(&self, read: Read, index: usize) -> String {
        let user = self.user(index);
        match read {
            // The local part of an address: one person.
            Read::SearchEmail => user.email.split('@').next().unwrap_or_default().to_owned(),
            // A surname, lower case: one in a hundred of everyone, a few thousand people.
            Read::SearchSurname => user.last_name.to_ascii_lowercase(),
            // The last seven digits of a phone number.
            Read::SearchPhone => {
                let digits = user.phone.rsplit(' ').next().unwrap_or_default();
                digits.to_owned()
            }
            // The first two words of a company's name: its members and those of its namesakes.
            Read::SearchOrganization => {
                self.organization_terms[index % self.organization_terms.len()].clone()
            }
            Read::SearchSmallTenant => self.small_searches[index % self.small_searches.len()]
                .1
                .clone(),
            _ => String::new(),
        }
    }

    /// How many people each search read's terms match (the whole set the list sorts before
    /// cutting a page), over the first 50 terms.
    async fn count_matches(
        &self,
        admin: &PgPool,
        big: TenantId,
    ) -> anyhow::Result<BTreeMap<&'static str, f64>> {
        let mut counts = BTreeMap::new();
        for read in Read::ALL {
            let terms = 50.min(self.users.len());
            let mut total = 0i64;
            let mut counted = 0;
            for index in 0..terms {
                let (tenant, pattern, custom) = match read {
                    Read::SearchEmail
                    | Read::SearchSurname
                    | Read::SearchPhone
                    | Read::SearchOrganization => (
                        big,
                        Some(store::search::like_pattern(&self.search_term(read, index))),
                        None,
                    ),
                    Read::SearchSmallTenant if !self.small_searches.is_empty() => (
                        self.small_searches[index % self.small_searches.len()].0,
                        Some(store::search::like_pattern(&self.search_term(read, index))),
                        None,
                    ),
                    Read::CustomTier => (big, None, Some(serde_json::json!({"tier": "gold"}))),
                    Read::CustomCrmId => match &self.user(index).crm_id {
                        Some(crm) => (big, None, Some(serde_json::json!({ "crm_id": crm }))),
                        None => continue,
                    },
                    _ => break,
                };
                let mut tx = database::begin_tenant(admin, tenant).await?;
                let count: i64 = match (pattern, custom) {
                    (Some(pattern), _) => {
                        sqlx::query_scalar(
                            "select count(*) from directory.end_user_ids_matching($1)",
                        )
                        .bind(pattern)
                        .fetch_one(&mut *tx)
                        .await?
                    }
                    (None, Some(custom)) => {
                        sqlx::query_scalar(
                            "select count(*) from directory.end_user_ids_with_custom($1)",
                        )
                        .bind(custom)
                        .fetch_one(&mut *tx)
                        .await?
                    }
                    _ => 0,
                };
                tx.commit().await?;
                total += count;
                counted += 1;
            }
            if counted > 0 {
                counts.insert(read.label(), total as f64 / f64::from(counted));
            }
        }
        Ok(counts)
    }
}

/// The reads the issue names, each exactly as the application issues it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Read {
    SearchEmail,
    SearchSurname,
    SearchPhone,
    SearchOrganization,
    SearchSmallTenant,
    CustomTier,
    CustomCrmId,
    ListFirst,
    ListAfter,
    UserPage,
}

impl Read {
    const ALL: [Read; 10] = [
        Self::SearchEmail,
        Self::SearchSurname,
        Self::SearchPhone,
        Self::SearchOrganization,
        Self::SearchSmallTenant,
        Self::CustomTier,
        Self::CustomCrmId,
        Self::ListFirst,
        Self::ListAfter,
        Self::UserPage,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::SearchEmail => "substring search: part of an email address",
            Self::SearchSurname => "substring search: a surname",
            Self::SearchPhone => "substring search: 7 digits of a phone number",
            Self::SearchOrganization => "substring search: two words of a company name",
            Self::SearchSmallTenant => "substring search: a surname, in a small tenant",
            Self::CustomTier => "custom-field filter: tier = gold (1% of users)",
            Self::CustomCrmId => "custom-field filter: crm_id = one value",
            Self::ListFirst => "sorted list (by name), first page",
            Self::ListAfter => "sorted list (by name), a later page (cursor)",
            Self::UserPage => "user page (by_id)",
        }
    }

    /// The store call of this read's `index`-th sample: the tenant and the query (or, for the
    /// user page, the id).
    fn request(self, inputs: &Inputs, index: usize) -> (TenantId, Request) {
        let user = inputs.user(index);
        let search = |term: String| UserQuery {
            search: Some(term),
            ..UserQuery::default()
        };
        let custom = |key: &str, value: Value| UserQuery {
            custom: vec![CustomFilter::Equals {
                key: key.to_owned(),
                value,
            }],
            ..UserQuery::default()
        };
        let big = inputs.big;
        match self {
            Self::SearchEmail
            | Self::SearchSurname
            | Self::SearchPhone
            | Self::SearchOrganization => {
                (big, Request::List(search(inputs.search_term(self, index))))
            }
            Self::SearchSmallTenant => (
                inputs.small_searches[index % inputs.small_searches.len()].0,
                Request::List(search(inputs.search_term(self, index))),
            ),
            Self::CustomTier => (big, Request::List(custom("tier", "gold".into()))),
            Self::CustomCrmId => {
                // Users without a CRM id borrow the next one that has it.
                let crm = (0..inputs.users.len())
                    .find_map(|step| inputs.user(index + step).crm_id.clone())
                    .unwrap_or_default();
                (big, Request::List(custom("crm_id", crm.into())))
            }
            Self::ListFirst => (big, Request::List(UserQuery::default())),
            Self::ListAfter => (
                big,
                Request::List(UserQuery {
                    after: Some(After {
                        key: Some(user.name_key.clone()),
                        id: user.id,
                    }),
                    ..UserQuery::default()
                }),
            ),
            Self::UserPage => (big, Request::ById(user.id)),
        }
    }
}

enum Request {
    List(UserQuery),
    ById(Uuid),
}

/// Runs one read in its own tenant transaction, as a request does; the number of people
/// shown.
async fn perform(store: &Store, tenant: TenantId, request: &Request) -> anyhow::Result<usize> {
    let mut tx = store.begin_tenant(tenant).await?;
    let shown = match request {
        Request::List(query) => user_directory::list(&mut tx, query).await?.items.len(),
        Request::ById(id) => usize::from(user_directory::by_id(&mut tx, *id).await?.is_some()),
    };
    tx.commit().await?;
    Ok(shown)
}

struct Timed {
    read: Read,
    latencies: Latencies,
    shown: f64,
    others: Option<f64>,
    failure: Option<String>,
}

async fn time_read(
    store: &Store,
    read: Read,
    inputs: &Inputs,
    args: &Args,
    probe: &Probe,
) -> anyhow::Result<Timed> {
    if read == Read::SearchSmallTenant && inputs.small_searches.is_empty() {
        return Ok(Timed {
            read,
            latencies: Latencies::new(Vec::new()),
            shown: 0.0,
            others: None,
            failure: None,
        });
    }
    // Warm-up inputs come after the timed ones, so no timed read repeats one.
    for index in args.samples..args.samples + args.warmup {
        let (tenant, request) = read.request(inputs, index);
        perform(store, tenant, &request).await?;
    }
    let mut samples = Vec::with_capacity(args.samples);
    let mut shown = 0;
    let before = probe.sample();
    let started = Instant::now();
    for index in 0..args.samples {
        let (tenant, request) = read.request(inputs, index);
        let clock = Instant::now();
        shown += perform(store, tenant, &request)
            .await
            .with_context(|| format!("{} #{index}", read.label()))?;
        samples.push(clock.elapsed());
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(Timed {
        read,
        latencies: Latencies::new(samples),
        shown: shown as f64 / args.samples as f64,
        others: probe.others_since(before, seconds),
        failure: None,
    })
}

fn results_table(rows: &[Timed], matches: &BTreeMap<&'static str, f64>) -> String {
    let mut table = String::from(
        "\n#### Reads: one tenant transaction each (BEGIN + set_config, the store call, COMMIT), \
         one client, as the runtime role\n\n\
         | read | samples | people matched (mean) | shown (mean) | p50 ms | p95 ms | p99 ms | max ms | other processes, cores |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        if let Some(failure) = &row.failure {
            let _ = writeln!(
                table,
                "| {} | failed: {} | | | | | | | |",
                row.read.label(),
                failure.replace('|', "\\|").replace('\n', " ")
            );
            continue;
        }
        if row.latencies.is_empty() {
            continue;
        }
        let _ = writeln!(
            table,
            "| {} | {} | {} | {:.1} | {} | {} | {} | {} | {} |",
            row.read.label(),
            row.latencies.len(),
            matches
                .get(row.read.label())
                .map_or_else(|| "".to_owned(), |mean| format!("{mean:.0}")),
            row.shown,
            ms(row.latencies.percentile(50.0)),
            ms(row.latencies.percentile(95.0)),
            ms(row.latencies.percentile(99.0)),
            ms(row.latencies.percentile(100.0)),
            row.others
                .map_or_else(|| "n/a".to_owned(), |cores| format!("{cores:.2}")),
        );
    }
    table
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

/// Which reads get their plan shown.
const EXPLAINED: [Read; 6] = [
    Read::SearchSurname,
    Read::SearchEmail,
    Read::CustomTier,
    Read::ListFirst,
    Read::ListAfter,
    Read::UserPage,
];

async fn capture_plans(
    database: &Database,
    admin: &PgPool,
    inputs: &Inputs,
) -> anyhow::Result<String> {
    use tracing_subscriber::layer::SubscriberExt;

    let notices = Notices::default();
    let subscriber = tracing_subscriber::registry().with(tracing_subscriber::Layer::with_filter(
        notices.clone(),
        tracing_subscriber::filter::Targets::new()
            .with_target("sqlx::postgres::notice", tracing::Level::TRACE),
    ));
    tracing::subscriber::set_global_default(subscriber)
        .context("installing the notice collector")?;

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

    let outcome = explain_reads(database, inputs, &notices).await;

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
    for read in EXPLAINED {
        // As the timed runs did: the same connection runs the statement several times first,
        // so a cached generic plan shows if PostgreSQL switches to one.
        let mut failed = None;
        for index in 0..9 {
            if index == 8 {
                notices.take();
            }
            let (tenant, request) = read.request(inputs, 1_000 + index);
            if let Err(error) = perform(&store, tenant, &request).await {
                failed = Some(error);
                break;
            }
        }
        if let Some(error) = failed {
            let _ = writeln!(out, "\n{}: failed: {error:#}", read.label());
            continue;
        }
        let plans: Vec<String> = notices
            .take()
            .into_iter()
            .filter(|plan| plan.contains("end_users"))
            .collect();
        if plans.is_empty() {
            bail!(
                "no plan arrived for {}; is auto_explain installed?",
                read.label()
            );
        }
        let _ = write!(out, "\n{}:\n\n```text\n", read.label());
        for plan in plans {
            out.push_str(plan.trim_end());
            out.push_str("\n\n");
        }
        out.truncate(out.trim_end().len());
        out.push_str("\n```\n");
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Import: the `tenantdesk import users` command on a generated CSV

async fn time_import(
    args: &Args,
    database: &Database,
    admin: &PgPool,
    small: &[TenantId],
    scratch: &Path,
    rng: &mut Rng,
) -> anyhow::Result<String> {
    let binary = &args.tenantdesk;
    if !binary.exists() {
        bail!(
            "{} does not exist (build it with `cargo build --release -p tenantdesk`)",
            binary.display()
        );
    }
    let help = tokio::process::Command::new(binary)
        .args(["import", "users", "--help"])
        .output()
        .await
        .context("running tenantdesk import users --help")?;
    if !help.status.success() {
        bail!("this tenantdesk has no `import users` command yet");
    }
    // A fresh small tenant so every row is created.
    let tenant = match small.first() {
        Some(tenant) => *tenant,
        None => bail!("the import needs at least one small tenant (--small-tenants)"),
    };
    let slug: String = sqlx::query_scalar("select slug from tenants where id = $1")
        .bind(tenant.as_uuid())
        .fetch_one(admin)
        .await?;
    let path = scratch.join("users.csv");
    let mut csv =
        String::from("first_name,last_name,email,phone,mobile,street,zip,city,country,validity\n");
    for index in 0..args.import_rows {
        let first = *rng.pick(FIRST_NAMES);
        let last = *rng.pick(LAST_NAMES);
        let (city, zip, country, dial) = *rng.pick(CITIES);
        let mobile = if rng.chance(0.4) {
            phone(rng, dial)
        } else {
            String::new()
        };
        let _ = writeln!(
            csv,
            "{first},{last},{}.{}.import{index}@{},{},{mobile},{} {},{zip}{},{city},{country},valid",
            first.to_ascii_lowercase(),
            last.to_ascii_lowercase(),
            rng.pick(FREEMAIL),
            phone(rng, dial),
            rng.pick(STREETS),
            1 + rng.below(200),
            rng.digits(3),
        );
    }
    std::fs::write(&path, csv).with_context(|| format!("writing {}", path.display()))?;
    let bytes = std::fs::metadata(&path)?.len();

    let before: i64 = sqlx::query_scalar("select count(*) from end_users where tenant_id = $1")
        .bind(tenant.as_uuid())
        .fetch_one(admin)
        .await?;
    let started = Instant::now();
    let output = tokio::process::Command::new(binary)
        .args(["import", "users", "--tenant", &slug])
        .arg(&path)
        .env("TENANTDESK_DATABASE_URL", database.runtime_url())
        .env("TENANTDESK_MIGRATION_URL", database.owner_url())
        .output()
        .await
        .context("running tenantdesk import users")?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!(
            "tenantdesk import users failed: {}{}",
            String::from_utf8_lossy(&output.stdout).trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let after: i64 = sqlx::query_scalar("select count(*) from end_users where tenant_id = $1")
        .bind(tenant.as_uuid())
        .fetch_one(admin)
        .await?;
    let created = after - before;
    Ok(format!(
        "`tenantdesk import users --tenant {slug} users.csv` ({} rows, {:.1} MB, into a \
         small tenant of {before} users beside the big one): {created} users created in {seconds:.1} s, \
         **{:.0} rows/s** (the whole command: start, connect, parse, validate, write, commit). \
         Its summary: {}",
        args.import_rows,
        bytes as f64 / 1e6,
        created as f64 / seconds,
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .replace('\n', " / ")
    ))
}
