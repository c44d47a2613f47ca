//! A real OpenID provider for the sign-in tests: the `oidc-provider` npm package run with node
//! (`tests/oidc/provider.js`), one per test with the clients that test needs, and a driver that
//! fills in its login and consent pages like a person with a cookie jar.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use nix::sys::signal::Signal;
use serde_json::{Value, json};
use tenantdesk::kept_child::KeptChild;

use crate::programs::{require, scratch_dir, wait_for};

const INSTALL: &str = "sudo apt-get install -y nodejs npm";

/// One client registered at the provider.
#[derive(Clone, Debug)]
pub struct OidcClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Test-only misbehaviour: the ID token names this audience instead of the client.
    pub id_token_audience: Option<String>,
    /// Test-only misbehaviour: the ID token carries this nonce instead of the flow's.
    pub id_token_nonce: Option<String>,
}

impl OidcClient {
    /// A client with a random id and secret (long enough for HS256) and these redirect URIs.
    pub fn new(name: &str, redirect_uris: Vec<String>) -> Self {
        let suffix: u64 = rand::random();
        let secret: [u64; 4] = rand::random();
        Self {
            client_id: format!("{name}-{suffix:016x}"),
            client_secret: secret.iter().map(|part| format!("{part:016x}")).collect(),
            redirect_uris,
            post_logout_redirect_uris: Vec::new(),
            id_token_audience: None,
            id_token_nonce: None,
        }
    }

    fn to_json(&self) -> Value {
        let mut value = json!({
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": self.redirect_uris,
            "post_logout_redirect_uris": self.post_logout_redirect_uris,
        });
        if let Some(aud) = &self.id_token_audience {
            value["id_token_audience"] = json!(aud);
        }
        if let Some(nonce) = &self.id_token_nonce {
            value["id_token_nonce"] = json!(nonce);
        }
        value
    }
}

/// A running oidc-provider at `issuer` (http://127.0.0.1:<port>); stopped when dropped.
pub struct OidcProvider {
    pub issuer: String,
    child: Option<KeptChild>,
}

fn provider_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc")
}

/// oidc-provider 9 and jose 6 need Node.js 20 or later (the Web Crypto global, ES modules);
/// Debian 12 and Ubuntu 24.04 ship 18, so an older node fails here with what to do.
fn require_node_20(node: &std::path::Path) {
    let version = Command::new(node)
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 20,
        "the OpenID Connect tests need Node.js 20 or later, found {version:?}: install a newer \
         nodejs (Debian 13 and Ubuntu 24.10 ship one; on Debian 12 use the NodeSource packages)"
    );
}

/// Installs the pinned packages (package-lock.json) once, when node_modules is missing.
fn ensure_node_modules() {
    static INSTALLED: Mutex<bool> = Mutex::new(false);
    let mut installed = INSTALLED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = provider_dir();
    if *installed || dir.join("node_modules/oidc-provider").is_dir() {
        *installed = true;
        return;
    }
    let npm = require("npm", INSTALL);
    let status = Command::new(npm)
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()
        .expect("running npm ci in tests/oidc");
    assert!(status.success(), "npm ci in tests/oidc failed");
    *installed = true;
}

impl OidcProvider {
    /// Starts a provider that knows `clients` and the accounts of provider.js (alice, bob with
    /// an unverified email, carol of elsewhere.test, dave), and waits for its "ready" line.
    pub fn start(clients: &[OidcClient]) -> Self {
        Self::start_on(free_port(), clients)
    }

    /// As [`Self::start`], on `port` (from [`free_port`]), for tests that need the issuer URL
    /// (in a provider row) before they know the clients' redirect URIs.
    pub fn start_on(port: u16, clients: &[OidcClient]) -> Self {
        let node = require("node", INSTALL);
        require_node_20(&node);
        ensure_node_modules();
        let log = scratch_dir("oidc").join("provider.log");
        let stdout = std::fs::File::create(&log).expect("the provider's log");
        let clients = Value::Array(clients.iter().map(OidcClient::to_json).collect());
        let mut command = Command::new(node);
        command
            .arg(provider_dir().join("provider.js"))
            .arg(port.to_string())
            .arg(clients.to_string())
            .current_dir(provider_dir())
            .stdout(stdout)
            .stderr(Stdio::null());
        let child = KeptChild::spawn(command).expect("starting node provider.js");
        wait_for("oidc-provider", &child, || {
            std::fs::read_to_string(&log).is_ok_and(|text| text.lines().any(|l| l == "ready"))
        });
        Self {
            issuer: issuer_on(port),
            child: Some(child),
        }
    }

    /// Changes claims of an account at the provider (e.g. a new email address).
    pub async fn change_account(&self, login: &str, changes: Value) {
        let response = reqwest::Client::new()
            .put(format!("{}/test/accounts/{login}", self.issuer))
            .json(&changes)
            .send()
            .await
            .expect("changing an account at the provider");
        assert_eq!(response.status(), reqwest::StatusCode::NO_CONTENT);
    }

    /// A person's browser at the provider: a cookie jar, redirects followed by hand.
    pub fn browser(&self) -> ProviderBrowser {
        ProviderBrowser {
            issuer: self.issuer.clone(),
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
        }
    }
}

/// A port nothing listens on now, for [`OidcProvider::start_on`].
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("local address")
        .port()
}

/// The issuer URL a provider started on `port` has.
pub fn issuer_on(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            child.stop(Signal::SIGTERM);
        }
    }
}

/// Where the provider sent the browser back to the relying party.
#[derive(Debug)]
pub struct Returned {
    /// The full URL (the relying party's redirect URI with code, state, iss or error).
    pub url: String,
}

impl Returned {
    /// The path and query, to send to the app on its real port with the tenant's Host.
    pub fn path_and_query(&self) -> String {
        let url = reqwest::Url::parse(&self.url).expect("a URL");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub fn param(&self, name: &str) -> Option<String> {
        let url = reqwest::Url::parse(&self.url).expect("a URL");
        url.query_pairs()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// What to do at the provider's consent page.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    Give,
    /// Cancel at the login page (the provider answers `access_denied`).
    Refuse,
}

pub struct ProviderBrowser {
    issuer: String,
    pub http: reqwest::Client,
}

fn form_action(body: &str) -> Option<String> {
    let start = body.find("action=\"")? + "action=\"".len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].replace("&amp;", "&"))
}

fn link_href(body: &str, text: &str) -> Option<String> {
    let at = body.find(text)?;
    let before = &body[..at];
    let start = before.rfind("href=\"")? + "href=\"".len();
    let end = before[start..].find('"')? + start;
    Some(before[start..end].replace("&amp;", "&"))
}

impl ProviderBrowser {
    fn absolute(&self, location: &str) -> String {
        if location.starts_with('/') {
            format!("{}{location}", self.issuer)
        } else {
            location.to_owned()
        }
    }

    /// Follows `authorize_url` through the provider's login (as `login`, any password) and
    /// consent pages until the provider sends the browser elsewhere; returns that address.
    pub async fn sign_in(&self, authorize_url: &str, login: &str, consent: Consent) -> Returned {
        let mut next = authorize_url.to_owned();
        for _ in 0..20 {
            if !next.starts_with(&self.issuer) {
                return Returned { url: next };
            }
            let response = self.http.get(&next).send().await.expect("GET at provider");
            if let Some(location) = response.headers().get("location") {
                next = self.absolute(location.to_str().expect("location"));
                continue;
            }
            let body = response.text().await.expect("provider page");
            let form: Vec<(&str, &str)> = if body.contains("name=\"login\"") {
                if consent == Consent::Refuse {
                    let abort = link_href(&body, "Cancel")
                        .or_else(|| link_href(&body, "cancel"))
                        .unwrap_or_else(|| panic!("no cancel link in:\n{body}"));
                    next = self.absolute(&abort);
                    continue;
                }
                vec![("prompt", "login"), ("login", login), ("password", "any")]
            } else if body.contains("value=\"consent\"") {
                vec![("prompt", "consent")]
            } else {
                panic!("an unexpected page at the provider ({next}):\n{body}");
            };
            let action = form_action(&body).expect("the form's action");
            let response = self
                .http
                .post(self.absolute(&action))
                .form(&form)
                .send()
                .await
                .expect("POST at provider");
            let location = response
                .headers()
                .get("location")
                .unwrap_or_else(|| panic!("no redirect after the form at {action}"))
                .to_str()
                .expect("location")
                .to_owned();
            next = self.absolute(&location);
        }
        panic!("the provider kept redirecting");
    }
}
