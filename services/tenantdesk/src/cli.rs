//! The command line: `serve`, `migrate`, the platform operator's `tenant ...` commands,
//! `import`, and the sign-in commands `rotate-secret-key` and `reset-sign-in`.
//! Every option can also come from a `TENANTDESK_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use domain::{BaseUrl, EmailAddress, TenantName, TenantSlug, TenantStatus, TokenName};
use store::tenancy::NewTenant;

use crate::database::Database;
use crate::embedded_postgres::Claim;
use crate::mail_worker::{Transport, WorkerConfig, mailbox_dir};
use crate::telemetry::LogFormat;

#[derive(Parser, Debug)]
#[command(
    name = "tenantdesk",
    version,
    about = "Tenantdesk: one help desk service for many companies"
)]
pub struct Cli {
    /// PostgreSQL URL of the runtime role (tenantdesk_app). When neither this nor DATABASE_URL
    /// is set, Tenantdesk runs its own PostgreSQL cluster in --data-dir.
    #[arg(
        long,
        env = "TENANTDESK_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// PostgreSQL URL of the owner role, which runs migrations and the `tenant` commands.
    #[arg(
        long,
        env = "TENANTDESK_MIGRATION_URL",
        global = true,
        hide_env_values = true
    )]
    pub migration_url: Option<String>,

    /// The public address people reach Tenantdesk at. Its host is the base domain: the
    /// platform's own site, with every tenant at {slug}.{host}. https:// makes cookies Secure.
    #[arg(long, env = "TENANTDESK_BASE_URL", default_value = "http://localhost:8080", value_parser = parse_base_url, global = true)]
    pub base_url: BaseUrl,

    /// Where the embedded PostgreSQL cluster lives (used only without a database URL).
    #[arg(
        long,
        env = "TENANTDESK_DATA_DIR",
        default_value = ".tenantdesk",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Redis URL. When set, every instance drops its tenant cache as soon as a tenant changes.
    /// Falls back to REDIS_URL.
    #[arg(
        long,
        env = "TENANTDESK_REDIS_URL",
        global = true,
        hide_env_values = true
    )]
    pub redis_url: Option<String>,

    /// The Redis pub/sub channel for cache invalidations; deployments sharing a Redis pick one each.
    #[arg(long, env = "TENANTDESK_REDIS_CHANNEL", default_value = web::invalidation::DEFAULT_CHANNEL, global = true)]
    pub redis_channel: String,

    /// The platform's sending address: From of mail whose tenant has no verified support
    /// address, and the domain of every Message-ID.
    #[arg(long, env = "TENANTDESK_MAIL_FROM", default_value = "noreply@tenantdesk.localhost", value_parser = parse_email, global = true)]
    pub mail_from: EmailAddress,

    /// SMTP server for outgoing mail: smtp://user:password@host:587?tls=required, or smtps://...
    /// Falls back to SMTP_URL. Unset: mail goes to the local mailbox in --data-dir/mailbox.
    #[arg(
        long,
        env = "TENANTDESK_SMTP_URL",
        global = true,
        hide_env_values = true
    )]
    pub smtp_url: Option<String>,

    /// Delivery attempts before a message that keeps failing is marked dead.
    #[arg(
        long,
        env = "TENANTDESK_MAIL_MAX_ATTEMPTS",
        default_value_t = 8,
        global = true
    )]
    pub mail_max_attempts: i32,

    /// Address and port of a second listener that serves Prometheus metrics at /metrics
    /// (`serve` and `worker`). Unset: no metrics listener. Keep it off the public network.
    #[arg(long, env = "TENANTDESK_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<SocketAddr>,

    /// The largest CSV file an import accepts, in bytes (`serve` uploads and `import`).
    #[arg(long, env = "TENANTDESK_IMPORT_MAX_BYTES", default_value_t = web::imports::DEFAULT_MAX_BYTES, global = true)]
    pub import_max_bytes: u64,

    /// The most data rows one CSV import may have (`serve` uploads and `import`).
    #[arg(long, env = "TENANTDESK_IMPORT_MAX_ROWS", default_value_t = web::imports::DEFAULT_MAX_ROWS, global = true)]
    pub import_max_rows: u64,

    /// Where ticket attachments are kept: `s3://bucket/prefix` (S3-compatible storage, with the
    /// standard AWS_* variables for credentials, region and endpoint) or a directory; a
    /// relative directory is taken under the data directory.
    #[arg(
        long,
        env = "TENANTDESK_ATTACHMENTS_URL",
        default_value = "attachments",
        global = true
    )]
    pub attachments_url: String,

    /// Base64 of the 32-byte key that seals sign-in provider secrets (AES-256-GCM). Required
    /// with a database URL; the embedded default generates one in --data-dir/secret_key.
    #[arg(
        long,
        env = "TENANTDESK_SECRET_KEY",
        global = true,
        hide_env_values = true
    )]
    pub secret_key: Option<String>,

    /// Log lines as readable text (human) or one JSON object per line (json).
    #[arg(long, env = "TENANTDESK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web server (and, without a database URL, the embedded PostgreSQL).
    Serve(ServeArgs),
    /// Apply pending database migrations with the owner connection.
    Migrate,
    /// Deliver queued mail until stopped (`serve` runs one too unless --worker false).
    Worker,
    /// Read the local mailbox, where mail goes when no SMTP server is configured.
    Mailbox {
        #[command(subcommand)]
        command: MailboxCommand,
    },
    /// Create, list, suspend and resume tenants, and issue their API tokens.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Import end users or organizations of one tenant from a CSV file:
    /// `tenantdesk import users|orgs --tenant SLUG FILE [--dry-run] [--skip-bad-rows]`.
    Import(crate::import::ImportArgs),
    /// Re-encrypt every sign-in provider secret of every tenant from the old key to the new
    /// one, in one transaction: `tenantdesk rotate-secret-key --old-key OLD --new-key NEW`
    /// (the old key defaults to TENANTDESK_SECRET_KEY, the new one to standard input).
    RotateSecretKey(RotateSecretKeyArgs),
    /// Turn the built-in password sign-in back on for a tenant's agents and end users (the
    /// way out when nobody can sign in through the tenant's providers).
    ResetSignIn {
        #[arg(long, value_parser = parse_slug)]
        tenant: TenantSlug,
    },
    /// Manage platform operators, who sign in on the base domain.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum OperatorCommand {
    /// Create an operator; a generated password is printed once.
    Create {
        #[arg(long, value_parser = parse_email)]
        email: EmailAddress,
        /// The operator's name, up to 100 characters.
        #[arg(long, value_parser = parse_name)]
        name: TenantName,
    },
}

#[derive(Args, Debug)]
pub struct RotateSecretKeyArgs {
    /// The key the secrets are sealed with now (base64). Unset: TENANTDESK_SECRET_KEY, or the
    /// embedded default's key file.
    #[arg(long)]
    pub old_key: Option<String>,
    /// The key to seal them with from now on (base64 of 32 bytes). Unset: read from the first
    /// line of standard input, which keeps it out of the process list.
    #[arg(long)]
    pub new_key: Option<String>,
    /// Only this tenant's secrets (a tenant restored from a backup sealed under another key).
    #[arg(long, value_parser = parse_slug)]
    pub tenant: Option<TenantSlug>,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "TENANTDESK_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Largest number of runtime database connections this instance opens.
    #[arg(long, env = "TENANTDESK_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: u32,

    /// Seconds a host-to-tenant resolution is cached (changes announced over Redis drop it sooner).
    #[arg(long, env = "TENANTDESK_TENANT_CACHE_TTL", default_value_t = 30)]
    pub tenant_cache_ttl: u64,

    /// Minutes of inactivity after which a session ends.
    #[arg(long, env = "TENANTDESK_SESSION_IDLE_MINUTES", default_value_t = 120)]
    pub session_idle_minutes: u64,

    /// Hours after sign-in after which a session ends, active or not.
    #[arg(long, env = "TENANTDESK_SESSION_MAX_HOURS", default_value_t = 12)]
    pub session_max_hours: u64,

    /// Run a mail delivery worker inside this server (false when workers run separately).
    #[arg(long, env = "TENANTDESK_RUN_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub worker: bool,
}

#[derive(Subcommand, Debug)]
pub enum MailboxCommand {
    /// List the messages, newest first.
    List,
    /// Print one message (headers and plain text) by its id or a unique prefix of it.
    Show { id: String },
}

/// What every command shares besides the database.
pub struct Wiring {
    pub base_url: BaseUrl,
    pub redis: Option<redis::Client>,
    pub redis_channel: String,
    pub mail_from: EmailAddress,
    pub smtp_url: Option<String>,
    pub mail_max_attempts: i32,
    pub data_dir: PathBuf,
    pub embedded: bool,
    /// Where `/metrics` is served, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    pub import_limits: web::imports::ImportLimits,
    /// `TENANTDESK_ATTACHMENTS_URL`.
    pub attachments_url: String,
    /// `TENANTDESK_SECRET_KEY`, as given (see [`crate::serve::secret_key`]).
    pub secret_key: Option<String>,
}

impl Wiring {
    pub fn mail_transport(&self) -> anyhow::Result<Transport> {
        Transport::new(self.smtp_url.as_deref(), &mailbox_dir(&self.data_dir))
    }

    /// The attachment store: S3, or a directory (a relative one under the data directory).
    pub fn attachments(&self) -> anyhow::Result<web::attachments::AttachmentStore> {
        let url = self.attachments_url.as_str();
        let store = if url.contains("://") {
            web::attachments::AttachmentStore::from_url(url)
        } else {
            web::attachments::AttachmentStore::local(&self.data_dir.join(url))
        };
        store.map_err(anyhow::Error::msg)
    }

    pub fn worker_config(&self) -> WorkerConfig {
        WorkerConfig::new(self.mail_from.clone(), self.mail_max_attempts)
    }
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant with its portal at {slug}.{base domain}.
    Create {
        /// DNS label: lowercase letters, digits and inner hyphens, 3 to 63 characters.
        #[arg(long, value_parser = parse_slug)]
        slug: TenantSlug,
        /// The name people see, up to 100 characters.
        #[arg(long, value_parser = parse_name)]
        name: TenantName,
        /// The first Admin's address: they get an invitation mail with a link to set a password.
        #[arg(long, value_parser = parse_email)]
        admin_email: Option<EmailAddress>,
        /// The first Admin's name.
        #[arg(long, value_parser = parse_name, default_value = "Administrator")]
        admin_name: TenantName,
    },
    /// List every tenant.
    List,
    /// Refuse every request to a tenant's portal and API until it is resumed.
    Suspend {
        #[arg(value_parser = parse_slug)]
        slug: TenantSlug,
    },
    /// Serve a suspended tenant again.
    Resume {
        #[arg(value_parser = parse_slug)]
        slug: TenantSlug,
    },
    /// Issue API tokens for a tenant.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an admin API token; it is printed once and stored only as a hash.
    Create {
        #[arg(value_parser = parse_slug)]
        slug: TenantSlug,
        /// What the token is for, such as "CRM sync".
        #[arg(long, value_parser = parse_token_name)]
        name: TokenName,
    },
}

fn parse_slug(raw: &str) -> Result<TenantSlug, String> {
    TenantSlug::parse(raw).map_err(|error| error.to_string())
}

fn parse_name(raw: &str) -> Result<TenantName, String> {
    TenantName::parse(raw).map_err(|error| error.to_string())
}

fn parse_token_name(raw: &str) -> Result<TokenName, String> {
    TokenName::parse(raw).map_err(|error| error.to_string())
}

fn parse_email(raw: &str) -> Result<EmailAddress, String> {
    EmailAddress::parse(raw).map_err(|error| error.to_string())
}

fn parse_base_url(raw: &str) -> Result<BaseUrl, String> {
    BaseUrl::parse(raw).map_err(|error| error.to_string())
}

/// Runs one command to its end.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Mailbox { command } = &cli.command {
        let dir = mailbox_dir(&cli.data_dir);
        let printed = match command {
            MailboxCommand::List => web::mailbox::print_list(&dir),
            MailboxCommand::Show { id } => web::mailbox::print_message(&dir, id),
        };
        return Ok(printed?);
    }
    if cli.mail_max_attempts < 1 {
        anyhow::bail!("--mail-max-attempts must be at least 1");
    }
    let database_url = cli
        .database_url
        .or_else(|| std::env::var("DATABASE_URL").ok());
    let redis_url = cli.redis_url.or_else(|| std::env::var("REDIS_URL").ok());
    let wiring = Wiring {
        base_url: cli.base_url,
        redis: redis_url
            .as_deref()
            .map(redis::Client::open)
            .transpose()
            .context("TENANTDESK_REDIS_URL is not a valid Redis URL")?,
        redis_channel: cli.redis_channel,
        mail_from: cli.mail_from,
        smtp_url: cli.smtp_url.or_else(|| std::env::var("SMTP_URL").ok()),
        mail_max_attempts: cli.mail_max_attempts,
        data_dir: cli.data_dir,
        embedded: database_url.is_none(),
        metrics_listen: cli.metrics_listen,
        import_limits: web::imports::ImportLimits {
            max_bytes: cli.import_max_bytes,
            max_rows: cli.import_max_rows,
        },
        attachments_url: cli.attachments_url,
        secret_key: cli.secret_key,
    };
    let claim = match cli.command {
        Command::Serve(_) => Claim::Exclusive,
        _ => Claim::Shared,
    };
    let database = Database::open(
        database_url.as_deref(),
        cli.migration_url.as_deref(),
        &wiring.data_dir,
        claim,
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => crate::serve::serve(args, &database, &wiring).await,
            Command::Worker => crate::serve::worker(&database, &wiring).await,
            Command::Migrate => {
                database
                    .owner()
                    .await?
                    .migrate()
                    .await
                    .context("migrating")?;
                println!("migrations are current");
                Ok(())
            }
            Command::Operator { command: OperatorCommand::Create { email, name } } => {
                let owner = database.owner().await?;
                if wiring.embedded {
                    owner.migrate().await.context("migrating")?;
                }
                let password = crate::demo::random_password();
                let hash = web::auth::passwords::Passwords::new(1).hash(&password).await?;
                let operator = owner.create_operator(name.as_str(), &email, &hash).await?;
                println!("{password}");
                eprintln!(
                    "operator {} <{}> created; the password above is shown once. Sign in at the base domain's /login.",
                    operator.name, operator.email
                );
                Ok(())
            }
            Command::Tenant { command } => {
                if wiring.embedded {
                    database
                        .owner()
                        .await?
                        .migrate()
                        .await
                        .context("migrating")?;
                }
                tenant_command(command, &wiring, &database).await
            }
            Command::Import(args) => {
                let owner = database.owner().await?;
                if wiring.embedded {
                    owner.migrate().await.context("migrating")?;
                }
                crate::import::run(args, &owner, wiring.import_limits).await
            }
            Command::RotateSecretKey(args) => {
                let owner = database.owner().await?;
                if wiring.embedded {
                    owner.migrate().await.context("migrating")?;
                }
                crate::serve::rotate_secret_key(args, &owner, &wiring).await
            }
            Command::ResetSignIn { tenant } => {
                let owner = database.owner().await?;
                if wiring.embedded {
                    owner.migrate().await.context("migrating")?;
                }
                let found = owner
                    .tenant_by_slug(&tenant)
                    .await?
                    .with_context(|| format!("no tenant has the slug {tenant}"))?;
                owner.reset_sign_in(found.id).await?;
                announce_change(
                    wiring
                        .redis
                        .as_ref()
                        .map(|r| (r, wiring.redis_channel.as_str())),
                )
                .await;
                println!(
                    "password sign-in is on again for the agents and end users of {tenant}"
                );
                Ok(())
            }
            Command::Mailbox { .. } => unreachable!("handled before the database opens"),
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    database.stop();
    result
}

async fn tenant_command(
    command: TenantCommand,
    wiring: &Wiring,
    database: &Database,
) -> anyhow::Result<()> {
    let owner = database.owner().await?;
    let redis = wiring
        .redis
        .as_ref()
        .map(|r| (r, wiring.redis_channel.as_str()));
    match command {
        TenantCommand::Create {
            slug,
            name,
            admin_email,
            admin_name,
        } => {
            let new = NewTenant {
                slug,
                name,
                primary_colour: None,
                accent_colour: None,
            };
            let (tenant, mut tx) = owner.begin_new_tenant(&new).await?;
            if let Some(email) = &admin_email {
                let role = store::agents::builtin_role(&mut tx, domain::BuiltinRole::Admin).await?;
                web::agents::invite(
                    &mut tx,
                    &tenant,
                    &wiring.base_url,
                    &wiring.mail_from,
                    admin_name.as_str(),
                    email,
                    &role,
                )
                .await
                .context("inviting the first admin")?;
            }
            tx.commit().await?;
            announce_change(redis).await;
            println!(
                "created tenant {} ({}) with id {}",
                tenant.slug, tenant.name, tenant.id
            );
            if let Some(email) = admin_email {
                println!("invited {email} as Admin: the invitation mail is queued");
            }
        }
        TenantCommand::List => {
            println!("{:<24} {:<10} {:<26} NAME", "SLUG", "STATUS", "CREATED");
            for tenant in owner.list_tenants().await? {
                println!(
                    "{:<24} {:<10} {:<26} {}",
                    tenant.slug,
                    tenant.status.as_str(),
                    tenant.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
                    tenant.name
                );
            }
        }
        TenantCommand::Suspend { slug } => {
            set_status(&owner, redis, &slug, TenantStatus::Suspended).await?
        }
        TenantCommand::Resume { slug } => {
            set_status(&owner, redis, &slug, TenantStatus::Active).await?
        }
        TenantCommand::Token {
            command: TokenCommand::Create { slug, name },
        } => {
            let tenant = owner
                .tenant_by_slug(&slug)
                .await?
                .with_context(|| format!("no tenant has the slug {slug}"))?;
            let mut tx = owner.begin_tenant(tenant.id).await?;
            let issued = store::tokens::create_api_token(&mut tx, &name).await?;
            tx.commit().await?;
            println!("{}", issued.secret);
            eprintln!(
                "API token \"{}\" ({}) for {slug}: shown once above, stored only as a hash. \
                 Send it as `Authorization: Bearer <token>` to {slug}'s host.",
                issued.token.name, issued.token.id
            );
        }
    }
    Ok(())
}

async fn set_status(
    owner: &store::Owner,
    redis: Option<(&redis::Client, &str)>,
    slug: &TenantSlug,
    status: TenantStatus,
) -> anyhow::Result<()> {
    owner
        .set_tenant_status(slug, status)
        .await?
        .with_context(|| format!("no tenant has the slug {slug}"))?;
    announce_change(redis).await;
    println!("tenant {slug} is now {}", status.as_str());
    Ok(())
}

/// Tells running servers to drop cached resolutions. Without Redis they notice within the TTL.
async fn announce_change(redis: Option<(&redis::Client, &str)>) {
    if let Some((redis, channel)) = redis
        && let Err(error) =
            web::invalidation::publish(redis, channel, web::invalidation::Invalidation::Tenants)
                .await
    {
        eprintln!(
            "warning: the change is saved, but telling running servers over Redis failed: {error}"
        );
    }
}
