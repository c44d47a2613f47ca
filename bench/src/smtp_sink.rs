//! SMTP servers that accept every message and keep nothing, for delivery benchmarks.
//!
//! [`RustSink`] is a minimal SMTP responder on its own thread and single-threaded tokio
//! runtime: one reply per command, no PIPELINING, no TLS, messages counted and discarded. It
//! is cheap enough that the worker and the database, not the sink, decide the measured rate,
//! and its thread's CPU time is reported on its own. [`PythonSink`] runs the test suite's
//! aiosmtpd server (`tests/smtp_sink.py`, which writes a Maildir file per message), for
//! comparison with a real, but slower, SMTP implementation.

use std::net::TcpListener as StdListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::Signal;
use tenantdesk::kept_child::KeptChild;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the Rust sink has seen since the last [`SinkCounts::take`].
#[derive(Default)]
pub struct SinkCounts {
    connections: AtomicU64,
    commands: AtomicU64,
    messages: AtomicU64,
    bytes: AtomicU64,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SinkTally {
    pub connections: u64,
    /// SMTP commands, the message content not counted.
    pub commands: u64,
    pub messages: u64,
    pub bytes: u64,
}

impl SinkCounts {
    /// Reads and resets the counters.
    pub fn take(&self) -> SinkTally {
        SinkTally {
            connections: self.connections.swap(0, Ordering::Relaxed),
            commands: self.commands.swap(0, Ordering::Relaxed),
            messages: self.messages.swap(0, Ordering::Relaxed),
            bytes: self.bytes.swap(0, Ordering::Relaxed),
        }
    }
}

pub struct RustSink {
    port: u16,
    counts: Arc<SinkCounts>,
    tid: i32,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RustSink {
    pub fn start() -> anyhow::Result<Self> {
        let listener = StdListener::bind("127.0.0.1:0").context("binding the SMTP sink")?;
        listener
            .set_nonblocking(true)
            .context("making the SMTP sink's socket non-blocking")?;
        let port = listener.local_addr().context("the sink's address")?.port();
        let counts = Arc::new(SinkCounts::default());
        let tid = Arc::new(AtomicI32::new(0));
        let (stop, stopped) = watch::channel(false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .context("building the SMTP sink's runtime")?;
        let thread = std::thread::Builder::new()
            .name("smtp-sink".into())
            .spawn({
                let counts = Arc::clone(&counts);
                let tid = Arc::clone(&tid);
                move || {
                    tid.store(nix::unistd::gettid().as_raw(), Ordering::SeqCst);
                    runtime.block_on(accept_loop(listener, counts, stopped));
                }
            })
            .context("starting the SMTP sink's thread")?;
        let started = Instant::now();
        while tid.load(Ordering::SeqCst) == 0 {
            if started.elapsed() > Duration::from_secs(5) {
                bail!("the SMTP sink's thread did not start");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(Self {
            port,
            counts,
            tid: tid.load(Ordering::SeqCst),
            stop,
            thread: Some(thread),
        })
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn counts(&self) -> &SinkCounts {
        &self.counts
    }

    /// The sink thread's id, for its CPU time.
    pub fn tid(&self) -> i32 {
        self.tid
    }
}

impl Drop for RustSink {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(
    listener: StdListener,
    counts: Arc<SinkCounts>,
    mut stopped: watch::Receiver<bool>,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("the SMTP sink cannot listen: {error}");
            return;
        }
    };
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    counts.connections.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(serve(stream, Arc::clone(&counts)));
                }
                Err(error) => eprintln!("the SMTP sink could not accept: {error}"),
            },
            _ = stopped.changed() => return,
        }
    }
}

/// One SMTP session: greet, answer each command, swallow message content up to the lone dot.
async fn serve(stream: TcpStream, counts: Arc<SinkCounts>) {
    if let Err(error) = session(stream, &counts).await {
        eprintln!("SMTP sink session ended: {error}");
    }
}

async fn session(stream: TcpStream, counts: &SinkCounts) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    writer.write_all(b"220 bench-sink ESMTP\r\n").await?;
    let mut line = Vec::with_capacity(1024);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        counts.commands.fetch_add(1, Ordering::Relaxed);
        let verb = line
            .get(..4)
            .map(<[u8]>::to_ascii_uppercase)
            .unwrap_or_default();
        let reply: &[u8] = match verb.as_slice() {
            b"EHLO" => b"250-bench-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 52428800\r\n",
            b"HELO" => b"250 bench-sink\r\n",
            b"MAIL" | b"RCPT" | b"RSET" | b"NOOP" => b"250 2.0.0 OK\r\n",
            b"DATA" => {
                writer
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut bytes = 0u64;
                loop {
                    line.clear();
                    let read = reader.read_until(b'\n', &mut line).await?;
                    if read == 0 {
                        return Ok(());
                    }
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    bytes += read as u64;
                }
                counts.messages.fetch_add(1, Ordering::Relaxed);
                counts.bytes.fetch_add(bytes, Ordering::Relaxed);
                b"250 2.0.0 Accepted and discarded\r\n"
            }
            b"QUIT" => {
                writer.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 Command not recognised\r\n",
        };
        writer.write_all(reply).await?;
    }
}

/// The test suite's aiosmtpd server (Debian's python3-aiosmtpd), writing a Maildir.
pub struct PythonSink {
    port: u16,
    child: Option<KeptChild>,
}

const PYTHON: &str = "/usr/bin/python3";

impl PythonSink {
    /// Starts `tests/smtp_sink.py` with its Maildir under `dir`.
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        let available = Command::new(PYTHON)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !available {
            bail!(
                "the Python sink needs aiosmtpd for {PYTHON}; install it with: sudo apt-get install -y python3-aiosmtpd"
            );
        }
        let port = StdListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .context("choosing a port for the Python sink")?
            .port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("tests")
            .join("smtp_sink.py");
        let mut command = Command::new(PYTHON);
        command
            .arg(&script)
            .arg(port.to_string())
            .arg(dir.join("Maildir"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child =
            KeptChild::spawn(command).with_context(|| format!("starting {}", script.display()))?;
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if child.has_exited() {
                bail!("the Python sink exited at start");
            }
            if started.elapsed() > Duration::from_secs(20) {
                bail!("the Python sink did not listen within 20 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self {
            port,
            child: Some(child),
        })
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(KeptChild::pid)
    }
}

impl Drop for PythonSink {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            child.stop(Signal::SIGTERM);
        }
    }
}
