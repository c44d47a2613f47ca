//! A real SMTP server for mail tests: aiosmtpd (Debian's python3-aiosmtpd) running
//! `tests/smtp_sink.py`, which stores what it accepts in a Maildir the test reads.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::sys::signal::Signal;
use tenantdesk::kept_child::KeptChild;

use crate::programs::{scratch_dir, wait_for};

const PYTHON: &str = "/usr/bin/python3";
const INSTALL: &str = "sudo apt-get install -y python3-aiosmtpd";

/// One SMTP server on its own port and Maildir. Stop and start it again to test an outage.
pub struct SmtpSink {
    pub port: u16,
    maildir: PathBuf,
    child: Option<KeptChild>,
}

/// A received message, parsed.
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub html: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn require_aiosmtpd() {
    let available = Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        available,
        "the mail tests need aiosmtpd for {PYTHON}. Install it with: {INSTALL}"
    );
}

impl SmtpSink {
    pub fn start() -> Self {
        require_aiosmtpd();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let mut sink = Self {
            port,
            maildir: scratch_dir("smtp").join("Maildir"),
            child: None,
        };
        sink.resume();
        sink
    }

    /// `smtp://127.0.0.1:PORT` (plain, no TLS: it is loopback).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Stops the server: connections are refused until [`SmtpSink::resume`].
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            child.stop(Signal::SIGTERM);
        }
    }

    pub fn resume(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp_sink.py");
        let mut command = Command::new(PYTHON);
        command
            .arg(script)
            .arg(self.port.to_string())
            .arg(&self.maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = KeptChild::spawn(command).expect("starting the SMTP sink");
        let port = self.port;
        wait_for("the SMTP sink", &child, || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        self.child = Some(child);
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<Received> {
        let mut found = Vec::new();
        for folder in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir.join(folder)) else {
                continue;
            };
            for entry in entries.flatten() {
                let Ok(raw) = std::fs::read(entry.path()) else {
                    continue;
                };
                let Ok(mail) = mailparse::parse_mail(&raw) else {
                    continue;
                };
                let headers = mail
                    .headers
                    .iter()
                    .map(|h| (h.get_key(), h.get_value()))
                    .collect();
                let part = |mime: &str| find_part(&mail, mime).unwrap_or_default();
                found.push(Received {
                    headers,
                    text: part("text/plain"),
                    html: part("text/html"),
                });
            }
        }
        found
    }

    /// Messages whose To header contains `needle`.
    pub fn messages_to(&self, needle: &str) -> Vec<Received> {
        self.messages()
            .into_iter()
            .filter(|m| m.header("To").is_some_and(|to| to.contains(needle)))
            .collect()
    }
}

fn find_part(mail: &mailparse::ParsedMail<'_>, mime: &str) -> Option<String> {
    if mail.subparts.is_empty() {
        return (mail.ctype.mimetype == mime)
            .then(|| mail.get_body().ok())
            .flatten();
    }
    mail.subparts.iter().find_map(|part| find_part(part, mime))
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}
