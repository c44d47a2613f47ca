//! Headless Chromium driven through chromedriver (WebDriver), one driver per test run.

use std::process::{Command, Stdio};
use std::sync::OnceLock;

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tenantdesk::kept_child::KeptChild;

use crate::programs::{require, scratch_dir, wait_for};

const INSTALL: &str = "sudo apt-get install -y chromium chromium-driver";

fn driver_url() -> &'static str {
    static DRIVER: OnceLock<(String, KeptChild)> = OnceLock::new();
    &DRIVER
        .get_or_init(|| {
            require("chromium", INSTALL);
            let driver = require("chromedriver", INSTALL);
            let port = free_port();
            let mut command = Command::new(driver);
            command
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            let child = KeptChild::spawn(command).expect("starting chromedriver");
            wait_for("chromedriver", &child, || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
            (format!("http://127.0.0.1:{port}"), child)
        })
        .0
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("local address").port()
}

/// A new headless Chromium session with a profile of its own.
pub async fn open() -> Client {
    let profile = scratch_dir("chromium");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": require("chromium", INSTALL),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
            ]
        }),
    );
    // chromedriver listens on loopback over plain HTTP: no TLS stack needed.
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(driver_url())
        .await
        .expect("opening a Chromium session")
}
