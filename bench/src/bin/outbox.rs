//! Outbox benchmark: what a transactional enqueue adds to a business write, how fast an SMTP
//! sink takes mail on its own, and how many messages per second the delivery worker moves from
//! the outbox to that sink with one and with two workers. Prints Markdown for
//! `docs/benchmarks.md` on stdout and progress on stderr.
//!
//! ```text
//! cargo run --release -p bench --bin outbox -- [--durable] [--sink rust|python] ...
//! ```

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench::cpu;
use bench::database::{self, Database};
use bench::latency::{Latencies, ms};
use bench::smtp_sink::{PythonSink, RustSink, SinkTally};
use clap::Parser;
use domain::{EmailAddress, TenantId, TenantName};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use mail::Event;
use sqlx::PgPool;
use store::outbox::{self, NewEmail};
use store::settings::{self, SettingsChange};
use store::{Owner, Store};
use tenantdesk::mail_worker::{self, Transport, WorkerConfig};
use tokio::sync::{Barrier, watch};

/// The right-hand side of queued messages' Message-IDs.
const MESSAGE_DOMAIN: &str = "bench.tenantdesk.example";
/// The event whose shipped template and sample data make the benchmark's message.
const EVENT: Event = Event::TicketReplyToUser;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum SinkKind {
    /// A minimal SMTP responder in this process (own thread) that counts and discards.
    Rust,
    /// The test suite's aiosmtpd server (tests/smtp_sink.py), which writes a Maildir.
    Python,
}

impl SinkKind {
    fn describe(self) -> &'static str {
        match self {
            Self::Rust => {
                "bench's own SMTP responder (tokio, one thread of this process, counts and \
                 discards; no TLS, no PIPELINING)"
            }
            Self::Python => {
                "tests/smtp_sink.py (aiosmtpd on CPython, one Maildir file per message; no TLS)"
            }
        }
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "outbox",
    about = "Measures the transactional outbox: enqueue cost and delivery throughput"
)]
struct Args {
    /// Runtime-role URL of an existing, dedicated database (instead of a throwaway cluster).
    #[arg(long, env = "BENCH_DATABASE_URL", requires = "owner_url")]
    database_url: Option<String>,
    /// Owner-role URL of that database (migrates it and creates the benchmark's tenants).
    #[arg(long, env = "BENCH_OWNER_URL", requires = "database_url")]
    owner_url: Option<String>,
    /// Run the throwaway cluster with fsync, synchronous_commit and full_page_writes on.
    #[arg(long, conflicts_with = "database_url")]
    durable: bool,
    /// Timed business writes per cell of the enqueue table (0 skips that part).
    #[arg(long, default_value_t = 4000)]
    writes: usize,
    /// Untimed writes each client does first (connections, prepared statements, caches).
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Concurrent clients of the enqueue part, one tenant each.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 8])]
    clients: Vec<usize>,
    /// Messages per delivery run to the local mailbox and per sink-ceiling run with
    /// TCP_NODELAY (0 skips the delivery part).
    #[arg(long, default_value_t = 5000)]
    messages: usize,
    /// Messages per run through lettre's pooled SMTP transport, the worker's own path, which
    /// stalls about 40 ms per message (see docs/benchmarks.md), hence fewer.
    #[arg(long, default_value_t = 400)]
    smtp_messages: usize,
    /// Worker counts of the delivery runs (and connection counts of the sink ceiling).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2])]
    workers: Vec<usize>,
    /// Messages a worker claims at once (the worker's default is 20).
    #[arg(long, default_value_t = 20)]
    batch: i32,
    /// The SMTP server mail is delivered to.
    #[arg(long, value_enum, default_value_t = SinkKind::Rust)]
    sink: SinkKind,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.clients.contains(&0) || args.workers.contains(&0) {
        bail!("--clients and --workers take positive numbers");
    }
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let scratch = std::env::temp_dir().join(format!("tenantdesk-bench-{}", &suffix[..12]));
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let database = match (&args.database_url, &args.owner_url) {
        (Some(runtime), Some(owner)) => Database::external(owner.clone(), runtime.clone()),
        _ => {
            eprintln!(
                "starting a throwaway PostgreSQL cluster in {}",
                scratch.display()
            );
            Database::embedded(&scratch.join("db"), args.durable)?
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
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
    let email = sample_email()?;
    let postgres_pid = database.postmaster_pid();

    let mut out = String::new();
    out.push_str(&format!("- command: `{}`\n", command_line()));
    out.push_str(&format!("- machine: {}\n", bench::machine::describe()));
    out.push_str(&format!(
        "- PostgreSQL: {} ({})\n",
        match database {
            Database::Embedded { .. } => "throwaway cluster from the machine's binaries",
            Database::External { .. } => "existing server",
        },
        database::describe_server(&admin).await?
    ));
    out.push_str(&format!(
        "- message: `{}` shipped template with sample data, {} bytes HTML + {} bytes text\n",
        EVENT.key(),
        email.html_body.len(),
        email.text_body.len()
    ));

    if args.messages > 0 {
        out.push_str(&format!("- SMTP sink: {}\n", args.sink.describe()));
    }

    if args.writes > 0 {
        let probe = Probe {
            postgres: postgres_pid,
            sink: SinkCpu::None,
        };
        let cells = write_phase(args, database, &owner, &admin, &email, &probe).await?;
        out.push_str(&write_table(&cells));
    }

    if args.messages > 0 {
        let sink = match args.sink {
            SinkKind::Rust => Sink::Rust(RustSink::start()?),
            SinkKind::Python => Sink::Python(PythonSink::start(scratch)?),
        };
        let probe = Probe {
            postgres: postgres_pid,
            sink: sink.cpu_source(),
        };
        let mut ceilings = Vec::new();
        for client in [SmtpClient::Pooled, SmtpClient::NoDelay] {
            let messages = match client {
                SmtpClient::Pooled => args.smtp_messages,
                SmtpClient::NoDelay => args.messages,
            };
            if messages == 0 {
                continue;
            }
            for &connections in &args.workers {
                eprintln!(
                    "sink ceiling: {messages} messages, {connections} connection(s), {}",
                    client.label()
                );
                ceilings.push(
                    sink_ceiling(&sink, client, connections, messages, &email, &probe).await?,
                );
            }
        }
        out.push_str(&ceiling_table(&ceilings));

        let mut runs = Vec::new();
        for destination in [Destination::Mailbox, Destination::Smtp] {
            let messages = match destination {
                Destination::Mailbox => args.messages,
                Destination::Smtp => args.smtp_messages,
            };
            if messages == 0 {
                continue;
            }
            for &workers in &args.workers {
                eprintln!(
                    "delivery: {messages} messages, {workers} worker(s), to {}",
                    destination.label()
                );
                let run = DeliveryRun {
                    args,
                    database,
                    owner: &owner,
                    admin: &admin,
                    email: &email,
                    sink: &sink,
                    scratch,
                };
                let probe = Probe {
                    postgres: postgres_pid,
                    sink: match destination {
                        Destination::Mailbox => SinkCpu::None,
                        Destination::Smtp => sink.cpu_source(),
                    },
                };
                runs.push(run.measure(destination, workers, messages, &probe).await?);
            }
        }
        out.push_str(&delivery_table(&runs));
    }
    println!("{out}");
    Ok(())
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!(
        "cargo run --release -p bench --bin outbox -- {}",
        args.join(" ")
    )
    .trim_end()
    .trim_end_matches(" --")
    .to_owned()
}

/// A realistic notification: the shipped "reply to the requester" template rendered with its
/// sample data, as the web layer would queue it.
fn sample_email() -> anyhow::Result<NewEmail> {
    let rendered = mail::render_preview(EVENT, &EVENT.default_template())
        .map_err(|problem| anyhow::anyhow!("rendering the sample mail: {problem}"))?;
    Ok(NewEmail {
        event: EVENT.key().to_owned(),
        recipient: EmailAddress::parse("customer@bench.example").context("the recipient")?,
        from_name: "Bench Corp Support".to_owned(),
        from_address: None,
        reply_to: Some(EmailAddress::parse("help@bench.example").context("the reply-to")?),
        subject: rendered.subject,
        html_body: rendered.html,
        text_body: rendered.text,
    })
}

// ---------------------------------------------------------------------------------------------
// CPU accounting

enum SinkCpu {
    None,
    Thread(i32),
    Process(u32),
}

struct Probe {
    postgres: Option<u32>,
    sink: SinkCpu,
}

#[derive(Clone, Copy)]
struct CpuSample {
    process: Duration,
    sink: Option<Duration>,
    postgres: Option<Duration>,
    machine: Option<Duration>,
}

/// CPU used over an interval: by the benchmark process (the sink thread excluded), by the sink,
/// by PostgreSQL, and by every other process on the machine (other people's builds and tests
/// disturb a measurement; this says by how much).
#[derive(Clone, Copy)]
struct CpuUse {
    bench: Duration,
    sink: Option<Duration>,
    postgres: Option<Duration>,
    others: Option<Duration>,
}

impl Probe {
    fn sample(&self) -> CpuSample {
        CpuSample {
            process: cpu::this_process(),
            sink: match self.sink {
                SinkCpu::None => None,
                SinkCpu::Thread(tid) => Some(cpu::this_thread_of(tid)),
                SinkCpu::Process(pid) => cpu::process(pid),
            },
            postgres: self.postgres.and_then(cpu::process_tree),
            machine: cpu::machine_busy(),
        }
    }

    fn since(&self, before: CpuSample) -> CpuUse {
        let after = self.sample();
        let delta = |a: Option<Duration>, b: Option<Duration>| Some(a?.saturating_sub(b?));
        let sink = delta(after.sink, before.sink);
        let process = after.process.saturating_sub(before.process);
        let postgres = delta(after.postgres, before.postgres);
        let (bench, sink_process) = match (&self.sink, sink) {
            (SinkCpu::Thread(_), Some(sink)) => (process.saturating_sub(sink), Duration::ZERO),
            (SinkCpu::Process(_), Some(sink)) => (process, sink),
            _ => (process, Duration::ZERO),
        };
        // Unknown when the server is elsewhere or not ours to measure.
        let others = postgres.and_then(|postgres| {
            let machine = delta(after.machine, before.machine)?;
            Some(machine.saturating_sub(process + sink_process + postgres))
        });
        CpuUse {
            bench,
            sink,
            postgres,
            others,
        }
    }
}

/// Microseconds of CPU per operation.
fn per_op(cpu: Option<Duration>, operations: usize) -> String {
    match cpu {
        Some(cpu) if operations > 0 => {
            format!("{:.0}", cpu.as_secs_f64() * 1e6 / operations as f64)
        }
        _ => "n/a".to_owned(),
    }
}

/// How many cores our processes kept busy on average.
fn cores_busy(cpu: &CpuUse, seconds: f64) -> String {
    let total = cpu.bench + cpu.sink.unwrap_or_default() + cpu.postgres.unwrap_or_default();
    let partial = if cpu.postgres.is_none() {
        " (no PostgreSQL)"
    } else {
        ""
    };
    format!("{:.2}{partial}", total.as_secs_f64() / seconds)
}

/// How many cores the rest of the machine kept busy on average.
fn other_cores(cpu: &CpuUse, seconds: f64) -> String {
    cpu.others.map_or_else(
        || "n/a".to_owned(),
        |others| format!("{:.2}", others.as_secs_f64() / seconds),
    )
}

// ---------------------------------------------------------------------------------------------
// Part 1: what an enqueue adds to a write

struct WriteCell {
    clients: usize,
    with_mail: bool,
    seconds: f64,
    latencies: Latencies,
    cpu: CpuUse,
    wal_bytes: Option<f64>,
}

async fn write_phase(
    args: &Args,
    database: &Database,
    owner: &Owner,
    admin: &PgPool,
    email: &NewEmail,
    probe: &Probe,
) -> anyhow::Result<Vec<WriteCell>> {
    let most = args.clients.iter().copied().max().unwrap_or(1);
    let store = Store::connect(&database.runtime_url(), u32::try_from(most)?)
        .await
        .context("connecting as the runtime role")?;
    let mut tenants = Vec::with_capacity(most);
    for index in 0..most {
        tenants.push(database::create_tenant(owner, &format!("write{index}")).await?);
    }
    let names = Arc::new([
        TenantName::parse("Bench Corp").context("a tenant name")?,
        TenantName::parse("Bench Corp Support").context("a tenant name")?,
    ]);
    let mut cells = Vec::new();
    for &clients in &args.clients {
        for with_mail in [false, true] {
            eprintln!(
                "writes: {} transactions, {clients} client(s), {}",
                args.writes,
                if with_mail {
                    "with enqueue"
                } else {
                    "without enqueue"
                }
            );
            let mail = with_mail.then(|| email.clone());
            cells.push(
                write_cell(
                    &store,
                    &tenants[..clients],
                    args,
                    mail,
                    &names,
                    admin,
                    probe,
                )
                .await?,
            );
        }
    }
    // The queued mail of this part must not reach the delivery part's workers. The tenant is
    // named in the query too: a superuser owner (the embedded default) bypasses row-level
    // security.
    for &tenant in &tenants {
        let mut tx = database::begin_tenant(admin, tenant).await?;
        sqlx::query("delete from outbound_emails where tenant_id = $1")
            .bind(tenant.as_uuid())
            .execute(&mut *tx)
            .await
            .context("removing the write part's mail")?;
        tx.commit().await.context("committing the cleanup")?;
    }
    sqlx::query("vacuum analyze outbound_emails")
        .execute(admin)
        .await
        .context("vacuuming the outbox")?;
    Ok(cells)
}

/// One small business write (the workspace's display name), with or without a queued mail.
async fn business_write(
    store: &Store,
    tenant: TenantId,
    name: &TenantName,
    mail: Option<&NewEmail>,
) -> anyhow::Result<()> {
    let mut tx = store.begin_tenant(tenant).await?;
    let change = SettingsChange {
        display_name: Some(name.clone()),
        ..SettingsChange::default()
    };
    settings::update(&mut tx, &change, None).await?;
    if let Some(mail) = mail {
        outbox::enqueue(&mut tx, mail, MESSAGE_DOMAIN).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn write_cell(
    store: &Store,
    tenants: &[TenantId],
    args: &Args,
    mail: Option<NewEmail>,
    names: &Arc<[TenantName; 2]>,
    admin: &PgPool,
    probe: &Probe,
) -> anyhow::Result<WriteCell> {
    let clients = tenants.len();
    let per_client = args.writes.div_ceil(clients);
    let warmup = args.warmup;
    let ready = Arc::new(Barrier::new(clients + 1));
    let go = Arc::new(Barrier::new(clients + 1));
    let mut tasks = Vec::with_capacity(clients);
    for &tenant in tenants {
        let (store, mail, names) = (store.clone(), mail.clone(), Arc::clone(names));
        let (ready, go) = (Arc::clone(&ready), Arc::clone(&go));
        tasks.push(tokio::spawn(async move {
            let mut warmed = Ok(());
            for i in 0..warmup {
                warmed = business_write(&store, tenant, &names[i % 2], mail.as_ref()).await;
                if warmed.is_err() {
                    break;
                }
            }
            // Reach both barriers even after a failure, so the others are not left waiting.
            ready.wait().await;
            go.wait().await;
            warmed.context("warming up")?;
            let mut samples = Vec::with_capacity(per_client);
            for i in 0..per_client {
                let started = Instant::now();
                business_write(&store, tenant, &names[i % 2], mail.as_ref()).await?;
                samples.push(started.elapsed());
            }
            anyhow::Ok(samples)
        }));
    }
    ready.wait().await;
    let wal_before = database::wal_position(admin).await;
    let cpu_before = probe.sample();
    go.wait().await;
    let started = Instant::now();
    let mut samples = Vec::with_capacity(per_client * clients);
    for task in tasks {
        samples.extend(task.await.context("a client task panicked")??);
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = probe.since(cpu_before);
    let wal_after = database::wal_position(admin).await;
    let latencies = Latencies::new(samples);
    let wal_bytes = wal_before
        .zip(wal_after)
        .map(|(before, after)| (after - before) / latencies.len() as f64);
    Ok(WriteCell {
        clients,
        with_mail: mail.is_some(),
        seconds,
        latencies,
        cpu,
        wal_bytes,
    })
}

fn write_table(cells: &[WriteCell]) -> String {
    let mut table = String::from(
        "\n#### Enqueue cost: a settings update, without and with an outbox insert in its transaction\n\n\
         | clients | transaction | transactions | tx/s | p50 ms | p99 ms | PostgreSQL CPU µs/tx | client CPU µs/tx | WAL bytes/tx | other processes, cores |\n\
         |---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for cell in cells {
        let count = cell.latencies.len();
        table.push_str(&format!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} |\n",
            cell.clients,
            if cell.with_mail {
                "update + enqueue"
            } else {
                "update"
            },
            count,
            count as f64 / cell.seconds,
            ms(cell.latencies.percentile(50.0)),
            ms(cell.latencies.percentile(99.0)),
            per_op(cell.cpu.postgres, count),
            per_op(Some(cell.cpu.bench), count),
            cell.wal_bytes
                .map_or_else(|| "n/a".to_owned(), |bytes| format!("{bytes:.0}")),
            other_cores(&cell.cpu, cell.seconds),
        ));
    }
    table
}
// ---------------------------------------------------------------------------------------------
// Part 2: the SMTP leg on its own, and delivery from the outbox

enum Sink {
    Rust(RustSink),
    Python(PythonSink),
}

impl Sink {
    fn url(&self) -> String {
        match self {
            Self::Rust(sink) => sink.url(),
            Self::Python(sink) => sink.url(),
        }
    }

    fn port(&self) -> u16 {
        match self {
            Self::Rust(sink) => sink.port(),
            Self::Python(sink) => sink.port(),
        }
    }

    fn cpu_source(&self) -> SinkCpu {
        match self {
            Self::Rust(sink) => SinkCpu::Thread(sink.tid()),
            Self::Python(sink) => sink.pid().map_or(SinkCpu::None, SinkCpu::Process),
        }
    }

    /// What the sink saw since the last call; only the Rust sink counts.
    fn take_counts(&self) -> Option<SinkTally> {
        match self {
            Self::Rust(sink) => Some(sink.counts().take()),
            Self::Python(_) => None,
        }
    }
}

/// How the ceiling runs talk SMTP.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SmtpClient {
    /// lettre's pooled `AsyncSmtpTransport`, exactly what the worker's `Transport::Smtp` is.
    Pooled,
    /// One lettre connection per task over a socket with TCP_NODELAY, the same commands
    /// (NOOP, MAIL, RCPT, DATA) per message.
    NoDelay,
}

impl SmtpClient {
    fn label(self) -> &'static str {
        match self {
            Self::Pooled => "lettre pooled transport (the worker's)",
            Self::NoDelay => "lettre connection with TCP_NODELAY",
        }
    }
}

/// Builds the message as the worker does (multipart alternative, Message-ID, Date).
fn lettre_message(email: &NewEmail, from: &Mailbox) -> anyhow::Result<Message> {
    let to: Mailbox = email.recipient.as_str().parse().context("the recipient")?;
    let id = uuid::Uuid::now_v7();
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(email.subject.clone())
        .message_id(Some(format!("<{id}@{MESSAGE_DOMAIN}>")))
        .date_now()
        .multipart(MultiPart::alternative_plain_html(
            email.text_body.clone(),
            email.html_body.clone(),
        ))
        .context("building the message")
}

/// Sends `count` messages over one pooled transport shared by the caller's tasks.
async fn send_pooled(
    transport: AsyncSmtpTransport<Tokio1Executor>,
    email: NewEmail,
    from: Mailbox,
    count: usize,
) -> anyhow::Result<()> {
    for _ in 0..count {
        let message = lettre_message(&email, &from)?;
        transport
            .send(message)
            .await
            .context("sending to the sink")?;
    }
    Ok(())
}

/// Sends `count` messages over one connection of our own with Nagle's algorithm off.
async fn send_nodelay(
    port: u16,
    email: NewEmail,
    from: Mailbox,
    count: usize,
) -> anyhow::Result<()> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .context("connecting to the sink")?;
    stream.set_nodelay(true).context("setting TCP_NODELAY")?;
    let mut connection =
        AsyncSmtpConnection::connect_with_transport(Box::new(stream), &ClientId::default())
            .await
            .context("greeting the sink")?;
    for _ in 0..count {
        let message = lettre_message(&email, &from)?;
        // The pool checks a connection with NOOP before each use; so do we.
        if !connection.test_connected().await {
            bail!("the sink dropped the connection");
        }
        connection
            .send(message.envelope(), &message.formatted())
            .await
            .context("sending to the sink")?;
    }
    connection.quit().await.context("saying goodbye")?;
    Ok(())
}

struct CeilingRun {
    client: SmtpClient,
    connections: usize,
    messages: usize,
    seconds: f64,
    cpu: CpuUse,
    tally: Option<SinkTally>,
}

/// Sends straight from lettre to the sink, with no database: what the SMTP leg alone carries.
async fn sink_ceiling(
    sink: &Sink,
    client: SmtpClient,
    connections: usize,
    messages: usize,
    email: &NewEmail,
    probe: &Probe,
) -> anyhow::Result<CeilingRun> {
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&sink.url())
        .context("the sink's URL")?
        .build();
    let from: Mailbox = "Bench <noreply@bench.example>"
        .parse()
        .context("the sender")?;
    let per_connection = messages.div_ceil(connections);
    sink.take_counts();
    let cpu_before = probe.sample();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (email, from) = (email.clone(), from.clone());
        tasks.push(match client {
            SmtpClient::Pooled => {
                tokio::spawn(send_pooled(transport.clone(), email, from, per_connection))
            }
            SmtpClient::NoDelay => {
                tokio::spawn(send_nodelay(sink.port(), email, from, per_connection))
            }
        });
    }
    for task in tasks {
        task.await.context("a sending task panicked")??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = probe.since(cpu_before);
    Ok(CeilingRun {
        client,
        connections,
        messages: per_connection * connections,
        seconds,
        cpu,
        tally: sink.take_counts(),
    })
}

fn ceiling_table(runs: &[CeilingRun]) -> String {
    let mut table = String::from(
        "\n#### The SMTP leg alone: lettre straight to the sink, no database\n\n\
         | client | connections | messages | seconds | messages/s | ms/msg per connection | sender CPU µs/msg | sink CPU µs/msg | SMTP commands/msg | other processes, cores |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for run in runs {
        table.push_str(&format!(
            "| {} | {} | {} | {:.2} | {:.0} | {:.2} | {} | {} | {} | {} |\n",
            run.client.label(),
            run.connections,
            run.messages,
            run.seconds,
            run.messages as f64 / run.seconds,
            run.seconds * 1000.0 * run.connections as f64 / run.messages as f64,
            per_op(Some(run.cpu.bench), run.messages),
            per_op(run.cpu.sink, run.messages),
            commands_per_message(run.tally),
            other_cores(&run.cpu, run.seconds),
        ));
    }
    table
}

fn commands_per_message(tally: Option<SinkTally>) -> String {
    match tally {
        Some(tally) if tally.messages > 0 => {
            format!("{:.2}", tally.commands as f64 / tally.messages as f64)
        }
        _ => "n/a".to_owned(),
    }
}

/// Where the workers deliver.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Destination {
    /// The local mailbox (`.eml` files), the embedded default: the worker without SMTP.
    Mailbox,
    /// The SMTP sink through the worker's lettre transport.
    Smtp,
}

impl Destination {
    fn label(self) -> &'static str {
        match self {
            Self::Mailbox => "local mailbox",
            Self::Smtp => "SMTP sink",
        }
    }
}

struct Delivered {
    destination: Destination,
    workers: usize,
    messages: usize,
    seconds: f64,
    cpu: CpuUse,
    tally: Option<SinkTally>,
}

/// What every delivery run shares.
struct DeliveryRun<'a> {
    args: &'a Args,
    database: &'a Database,
    owner: &'a Owner,
    admin: &'a PgPool,
    email: &'a NewEmail,
    sink: &'a Sink,
    scratch: &'a Path,
}

impl DeliveryRun<'_> {
    /// Queues `messages` for a fresh tenant, starts `workers` workers (each with its own pool
    /// and transport, like separate processes) and times them from just before they start to
    /// the last message marked sent.
    async fn measure(
        &self,
        destination: Destination,
        workers: usize,
        messages: usize,
        probe: &Probe,
    ) -> anyhow::Result<Delivered> {
        let purpose = match destination {
            Destination::Mailbox => format!("mailbox{workers}"),
            Destination::Smtp => format!("smtp{workers}"),
        };
        let tenant = database::create_tenant(self.owner, &purpose).await?;
        let store = Store::connect(&self.database.runtime_url(), 2)
            .await
            .context("connecting as the runtime role")?;
        let mut left = messages;
        while left > 0 {
            let chunk = left.min(500);
            let mut tx = store.begin_tenant(tenant).await?;
            for _ in 0..chunk {
                outbox::enqueue(&mut tx, self.email, MESSAGE_DOMAIN).await?;
            }
            tx.commit().await?;
            left -= chunk;
        }
        sqlx::query("vacuum analyze outbound_emails")
            .execute(self.admin)
            .await
            .context("vacuuming the outbox")?;

        // Pools and transports exist before the clock starts, as a running worker has them.
        let mailbox = self.scratch.join(format!("mailbox-{purpose}"));
        let smtp_url = self.sink.url();
        let smtp = match destination {
            Destination::Mailbox => None,
            Destination::Smtp => Some(smtp_url.as_str()),
        };
        let mut prepared = Vec::with_capacity(workers);
        for _ in 0..workers {
            let store = Store::connect(&self.database.runtime_url(), 2)
                .await
                .context("connecting a worker")?;
            prepared.push((store, Transport::new(smtp, &mailbox)?));
        }
        let config = WorkerConfig {
            batch: self.args.batch,
            ..WorkerConfig::new(
                EmailAddress::parse("noreply@bench.example").context("the platform sender")?,
                5,
            )
        };
        let (stop, stopped) = watch::channel(false);
        self.sink.take_counts();
        let cpu_before = probe.sample();
        let started_at: f64 =
            sqlx::query_scalar("select extract(epoch from clock_timestamp())::float8")
                .fetch_one(self.admin)
                .await
                .context("reading the server's clock")?;
        let started = Instant::now();
        let tasks: Vec<_> = prepared
            .into_iter()
            .map(|(store, transport)| {
                tokio::spawn(mail_worker::run(
                    store,
                    transport,
                    config.clone(),
                    stopped.clone(),
                ))
            })
            .collect();

        let mut progress_seen = (0, Instant::now());
        let outcome = loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let (sent, failed, last_sent_at) = match delivery_progress(self.admin, tenant).await {
                Ok(progress) => progress,
                Err(error) => break Err(error),
            };
            if failed > 0 {
                break Err(anyhow::anyhow!(
                    "{failed} message(s) failed; see last_error in outbound_emails"
                ));
            }
            if usize::try_from(sent).unwrap_or(0) >= messages {
                break Ok(last_sent_at);
            }
            if sent > progress_seen.0 {
                progress_seen = (sent, Instant::now());
            } else if progress_seen.1.elapsed() > Duration::from_secs(30) {
                break Err(anyhow::anyhow!(
                    "delivery stalled at {sent} of {messages} messages"
                ));
            }
        };
        let wall = started.elapsed().as_secs_f64();
        let cpu = probe.since(cpu_before);
        let _ = stop.send(true);
        for task in tasks {
            task.await.context("a worker panicked")?;
        }
        // From the server's clock just before the workers started to the last message's
        // sent_at, on the same clock; the 100 ms polling does not count.
        let seconds = outcome?.map_or(wall, |last| last - started_at);
        Ok(Delivered {
            destination,
            workers,
            messages,
            seconds,
            cpu,
            tally: match destination {
                Destination::Mailbox => None,
                Destination::Smtp => self.sink.take_counts(),
            },
        })
    }
}

/// Sent and failed counts of the tenant's mail, and when the last one was sent. The tenant is
/// named in the query: a superuser owner bypasses row-level security.
async fn delivery_progress(
    admin: &PgPool,
    tenant: TenantId,
) -> anyhow::Result<(i64, i64, Option<f64>)> {
    let mut tx = database::begin_tenant(admin, tenant).await?;
    let progress = sqlx::query_as(
        "select count(*) filter (where status = 'sent'),
                count(*) filter (where status in ('failed', 'dead')),
                extract(epoch from max(sent_at))::float8
           from outbound_emails where tenant_id = $1",
    )
    .bind(tenant.as_uuid())
    .fetch_one(&mut *tx)
    .await
    .context("reading delivery progress")?;
    tx.commit().await.context("ending the progress query")?;
    Ok(progress)
}

fn delivery_table(runs: &[Delivered]) -> String {
    let mut table = String::from(
        "\n#### Delivery: outbox -> mail worker -> local mailbox or SMTP sink\n\n\
         | to | workers | messages | seconds | messages/s | PostgreSQL CPU µs/msg | worker CPU µs/msg | sink CPU µs/msg | our cores busy | SMTP connections | SMTP commands/msg | other processes, cores |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for run in runs {
        table.push_str(&format!(
            "| {} | {} | {} | {:.2} | {:.0} | {} | {} | {} | {} | {} | {} | {} |\n",
            run.destination.label(),
            run.workers,
            run.messages,
            run.seconds,
            run.messages as f64 / run.seconds,
            per_op(run.cpu.postgres, run.messages),
            per_op(Some(run.cpu.bench), run.messages),
            per_op(run.cpu.sink, run.messages),
            cores_busy(&run.cpu, run.seconds),
            run.tally
                .map_or_else(|| "n/a".to_owned(), |tally| tally.connections.to_string()),
            commands_per_message(run.tally),
            other_cores(&run.cpu, run.seconds),
        ));
    }
    table
}
