//! A private PostgreSQL cluster run from the machine's own server programs, for the embedded
//! default and the test harness. It listens only on a unix socket inside its data directory,
//! runs as an unprivileged user when we are root (initdb and postgres refuse root), and stops
//! with us: explicitly on [`EmbeddedPostgres::stop`] or drop, and by the kernel's parent-death
//! signal if we die first.

use std::fs::{self, File};
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::{User, geteuid};

use crate::kept_child::KeptChild;

/// The superuser initdb creates; it owns the schema and runs migrations.
pub const OWNER_ROLE: &str = "tenantdesk";
/// The application database inside the cluster.
pub const DATABASE: &str = "tenantdesk";

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "PostgreSQL server programs (initdb, postgres) were not found on PATH, via `pg_config --bindir`, \
         or in /usr/lib/postgresql/*/bin. Install them with `sudo apt-get install -y postgresql`, \
         or set TENANTDESK_DATABASE_URL to use an existing server."
    )]
    BinariesMissing,
    #[error(
        "the data directory {0} is in use by another `tenantdesk serve`; stop it first or choose another --data-dir"
    )]
    InUse(PathBuf),
    #[error("the socket path {0} is too long for a unix socket; choose a shorter --data-dir")]
    SocketPathTooLong(PathBuf),
    #[error(
        "running as root, but neither the `postgres` nor the `nobody` user exists to run PostgreSQL as"
    )]
    NoUnprivilegedUser,
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("PostgreSQL did not become ready within {0:?}; its log is {1}")]
    NotReady(Duration, PathBuf),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EmbeddedError {
    let context = context.into();
    move |source| EmbeddedError::Io { context, source }
}

/// How the caller wants the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// `serve`: run the cluster and hold the data directory; another holder is an error.
    Exclusive,
    /// A one-off command: use the running cluster of a `serve`, or run one until done.
    Shared,
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Throwaway clusters (tests) skip fsync; a person's data directory keeps it.
    pub durable: bool,
}

pub struct EmbeddedPostgres {
    socket_dir: PathBuf,
    server: Option<KeptChild>,
    _lock: Option<File>,
}

impl EmbeddedPostgres {
    /// Starts (creating if needed) the cluster under `data_dir`.
    pub fn start(data_dir: &Path, claim: Claim, options: Options) -> Result<Self, EmbeddedError> {
        fs::create_dir_all(data_dir).map_err(io(format!("creating {}", data_dir.display())))?;
        let data_dir = data_dir
            .canonicalize()
            .map_err(io(format!("resolving {}", data_dir.display())))?;
        let pgdata = data_dir.join("postgres");
        let socket_dir = data_dir.join("run");
        if socket_dir.join(".s.PGSQL.5432").as_os_str().len() > 100 {
            return Err(EmbeddedError::SocketPathTooLong(socket_dir));
        }

        let lock_path = data_dir.join("tenantdesk.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(format!("opening {}", lock_path.display())))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return match claim {
                    Claim::Exclusive => Err(EmbeddedError::InUse(data_dir)),
                    Claim::Shared => Ok(Self {
                        socket_dir,
                        server: None,
                        _lock: None,
                    }),
                };
            }
            Err(fs::TryLockError::Error(error)) => {
                return Err(io(format!("locking {}", lock_path.display()))(error));
            }
        }

        let bin_dir = find_bin_dir().ok_or(EmbeddedError::BinariesMissing)?;
        let run_as = unprivileged_user()?;
        let created = !pgdata.join("PG_VERSION").exists();
        for dir in [&pgdata, &socket_dir] {
            fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(io(format!("setting permissions of {}", dir.display())))?;
            if let Some(user) = &run_as {
                chown(dir, Some(user.uid.as_raw()), Some(user.gid.as_raw())).map_err(io(
                    format!("handing {} to user {}", dir.display(), user.name),
                ))?;
            }
        }
        if created {
            let mut initdb = Command::new(bin_dir.join("initdb"));
            initdb
                .arg("--pgdata")
                .arg(&pgdata)
                .args([
                    "--username",
                    OWNER_ROLE,
                    "--auth",
                    "trust",
                    "--encoding",
                    "UTF8",
                ])
                .args(["--locale", "C", "--no-instructions"]);
            if !options.durable {
                initdb.arg("--no-sync");
            }
            run_to_end(as_user(&mut initdb, run_as.as_ref()), "initdb")?;
        }

        let log_path = data_dir.join("postgres.log");
        let log =
            File::create(&log_path).map_err(io(format!("creating {}", log_path.display())))?;
        if let Some(user) = &run_as {
            chown(&log_path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                .map_err(io("handing the log to the postgres user"))?;
        }
        let mut postgres = Command::new(bin_dir.join("postgres"));
        postgres
            .arg("-D")
            .arg(&pgdata)
            .arg("-k")
            .arg(&socket_dir)
            .args([
                "-c",
                "listen_addresses=",
                "-c",
                "unix_socket_permissions=0700",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io("duplicating the log handle"))?)
            .stderr(log)
            // Its own process group: a Ctrl-C meant for us must not stop the database under us.
            .process_group(0);
        if !options.durable {
            postgres.args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        }
        as_user(&mut postgres, run_as.as_ref());
        let server = KeptChild::spawn(postgres).map_err(io("starting postgres"))?;
        let mut cluster = Self {
            socket_dir,
            server: Some(server),
            _lock: Some(lock),
        };
        cluster.wait_until_ready(&log_path)?;
        if created {
            cluster.create_database()?;
        }
        Ok(cluster)
    }

    pub fn owner_url(&self) -> String {
        self.url(OWNER_ROLE, DATABASE)
    }

    pub fn runtime_url(&self) -> String {
        self.url("tenantdesk_app", DATABASE)
    }

    /// A URL for any role and database of this cluster.
    pub fn url(&self, role: &str, database: &str) -> String {
        format!(
            "postgres://{role}@localhost/{database}?host={}",
            self.socket_dir.display()
        )
    }

    /// Fast shutdown; returns once the server has exited. A no-op for a cluster we only use.
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop(Signal::SIGINT);
        }
    }

    fn psql(&self, database: &str, sql: &str) -> Result<String, EmbeddedError> {
        let bin_dir = find_bin_dir().ok_or(EmbeddedError::BinariesMissing)?;
        let output = Command::new(bin_dir.join("psql"))
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.socket_dir)
            .args(["-U", OWNER_ROLE, "-d", database, "-c", sql])
            .output()
            .map_err(io("running psql"))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        } else {
            Err(EmbeddedError::Command {
                what: "psql".into(),
                detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            })
        }
    }

    /// Polls with a cheap query until the server accepts connections or gives up.
    fn wait_until_ready(&mut self, log_path: &Path) -> Result<(), EmbeddedError> {
        let limit = Duration::from_secs(60);
        let started = Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            if self.server.as_ref().is_some_and(KeptChild::has_exited) {
                let log = fs::read_to_string(log_path).unwrap_or_default();
                self.server = None;
                return Err(EmbeddedError::Command {
                    what: "postgres".into(),
                    detail: format!("exited at start:\n{}", log.trim()),
                });
            }
            if self.psql("postgres", "select 1").is_ok() {
                return Ok(());
            }
            if started.elapsed() > limit {
                self.stop();
                return Err(EmbeddedError::NotReady(limit, log_path.to_owned()));
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    fn create_database(&self) -> Result<(), EmbeddedError> {
        self.psql("postgres", &format!("create database {DATABASE}"))?;
        Ok(())
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

fn as_user<'a>(command: &'a mut Command, user: Option<&User>) -> &'a mut Command {
    if let Some(user) = user {
        command
            .uid(user.uid.as_raw())
            .gid(user.gid.as_raw())
            .env("HOME", "/tmp");
    }
    command
}

fn run_to_end(command: &mut Command, what: &str) -> Result<(), EmbeddedError> {
    let output = command.output().map_err(io(format!("running {what}")))?;
    if output.status.success() {
        return Ok(());
    }
    let mut detail = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    if detail.contains("Permission denied") {
        detail.push_str(
            "\n(the data directory and every directory above it must be reachable by the user \
             PostgreSQL runs as; choose a --data-dir such as /var/tmp/tenantdesk)",
        );
    }
    Err(EmbeddedError::Command {
        what: what.into(),
        detail,
    })
}

/// When we are root, the user PostgreSQL runs as instead.
fn unprivileged_user() -> Result<Option<User>, EmbeddedError> {
    if !geteuid().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Ok(Some(user)) = User::from_name(name) {
            return Ok(Some(user));
        }
    }
    Err(EmbeddedError::NoUnprivilegedUser)
}

/// PATH first, then `pg_config --bindir`, then Debian's and Ubuntu's versioned directories.
/// A `postgres` on PATH is often a link; its real directory holds initdb and psql beside it.
pub fn find_bin_dir() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .find(|dir| has_both(dir))
        .and_then(|dir| dir.join("postgres").canonicalize().ok())
        .and_then(|postgres| postgres.parent().map(Path::to_path_buf));
    if on_path.is_some() {
        return on_path;
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
        .filter(|dir| has_both(dir));
    if from_pg_config.is_some() {
        return from_pg_config;
    }
    let mut versioned: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_both(dir))
        .collect();
    versioned.sort();
    versioned.pop().map(|(_, dir)| dir)
}
