//! The test harness: real PostgreSQL, Redis and Chromium started for the test run, and
//! `spawn_app` to run Tenantdesk in process on a free port. A program the harness needs but
//! cannot find fails the test with the command that installs it.

pub mod browser;
pub mod ldap;
pub mod mailroom;
pub mod oidc;
pub mod otlp;
pub mod programs;
pub mod smtp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use domain::{HexColour, TenantName, TenantSlug};
use rand::Rng;
use store::tenancy::{NewTenant, Tenant};
use store::{Owner, Store};
use tenantdesk::embedded_postgres::{Claim, EmbeddedPostgres, Options};
use web::auth::passwords::Passwords;
use web::auth::rate_limit::RateLimiter;
use web::auth::sessions::Sessions;
use web::settings_cache::SettingsCache;
use web::tenancy::TenantResolver;
use web::{App, AppState, WebConfig};

/// Every test tenant lives under this base domain; Chromium resolves `*.localhost` itself.
pub const BASE_DOMAIN: &str = "localhost";

/// The platform's sending address in tests.
pub const MAIL_FROM: &str = "noreply@tenantdesk.test";

/// Connection URLs of the one migrated test database that all tests share.
pub struct TestDatabase {
    /// A role that owns the schema (the migrating role).
    pub owner_url: String,
    /// The runtime role `tenantdesk_app`.
    pub runtime_url: String,
    _cluster: Option<EmbeddedPostgres>,
}

static DATABASE: OnceLock<TestDatabase> = OnceLock::new();

/// The shared test database: TEST_DATABASE_URL (an owner URL) when set, otherwise a throwaway
/// cluster from the machine's PostgreSQL programs. Migrated once per test run.
pub fn database() -> &'static TestDatabase {
    DATABASE.get_or_init(|| {
        // Set up on a thread of its own: tests call this from inside their async runtime.
        std::thread::spawn(start_database)
            .join()
            .expect("test database set-up panicked")
    })
}

fn start_database() -> TestDatabase {
    let (owner_url, runtime_url, cluster) = match std::env::var("TEST_DATABASE_URL") {
        Ok(owner_url) => {
            let runtime_url = std::env::var("TEST_RUNTIME_DATABASE_URL")
                .unwrap_or_else(|_| with_user(&owner_url, "tenantdesk_app"));
            (owner_url, runtime_url, None)
        }
        Err(_) => {
            programs::require("initdb", "sudo apt-get install -y postgresql");
            let dir = programs::scratch_dir("pg");
            let cluster =
                EmbeddedPostgres::start(&dir, Claim::Exclusive, Options { durable: false })
                    .unwrap_or_else(|error| {
                        panic!("starting the test PostgreSQL cluster: {error}")
                    });
            (cluster.owner_url(), cluster.runtime_url(), Some(cluster))
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let owner = Owner::connect(&owner_url)
            .await
            .expect("connecting as the owner");
        owner.migrate().await.expect("migrating the test database");
    });
    TestDatabase {
        owner_url,
        runtime_url,
        _cluster: cluster,
    }
}

/// `postgres://owner@host/db` -> `postgres://{user}@host/db` (trust authentication).
fn with_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres URL");
    let after_user = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}@{after_user}")
}

/// The Redis URL: REDIS_URL when set, otherwise a private redis-server for this test run.
pub fn redis_url() -> &'static str {
    static REDIS: OnceLock<(String, Option<tenantdesk::kept_child::KeptChild>)> = OnceLock::new();
    &REDIS
        .get_or_init(|| match std::env::var("REDIS_URL") {
            Ok(url) => (url, None),
            Err(_) => {
                let (url, child) = programs::start_redis();
                (url, Some(child))
            }
        })
        .0
}

pub struct AppOptions {
    pub redis_url: Option<String>,
    /// Instances that share a channel hear each other's invalidations; give each test its own.
    pub redis_channel: String,
    pub tenant_cache_ttl: Duration,
    /// Where mail goes without SMTP (served at /mailbox on the base domain).
    pub mailbox_dir: Option<PathBuf>,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            redis_url: None,
            redis_channel: web::invalidation::DEFAULT_CHANNEL.to_owned(),
            tenant_cache_ttl: Duration::from_secs(30),
            mailbox_dir: None,
        }
    }
}

impl AppOptions {
    /// Instances with Redis on a channel of their own and an hour-long cache, so that only
    /// an invalidation can explain a change seen at once.
    pub fn with_redis(channel: &str) -> Self {
        Self {
            redis_url: Some(redis_url().to_owned()),
            redis_channel: format!("tenantdesk-test:{channel}"),
            tenant_cache_ttl: Duration::from_secs(3600),
            mailbox_dir: None,
        }
    }
}

/// A running Tenantdesk on a free port, and what tests need to talk to it.
pub struct TestApp {
    pub address: SocketAddr,
    pub http: reqwest::Client,
    pub owner: Owner,
    pub state: AppState,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

pub async fn spawn_app_with(options: AppOptions) -> TestApp {
    let database = database();
    let store = Store::connect(&database.runtime_url, 8)
        .await
        .expect("runtime pool");
    store
        .check_runtime_role()
        .await
        .expect("the runtime role is safe");
    let owner = Owner::connect(&database.owner_url)
        .await
        .expect("owner pool");
    let redis = options
        .redis_url
        .as_deref()
        .map(|url| redis::Client::open(url).expect("redis url"));
    let state = AppState::new(App {
        store,
        tenants: TenantResolver::new(options.tenant_cache_ttl),
        settings: SettingsCache::new(options.tenant_cache_ttl),
        passwords: Passwords::new(2),
        sessions: Sessions::new(
            redis.clone(),
            Duration::from_secs(3600),
            Duration::from_secs(8 * 3600),
        ),
        limits: RateLimiter::new(redis.clone()),
        redis: redis.clone(),
        attachments: web::attachments::AttachmentStore::local(
            &std::env::temp_dir().join(format!("tenantdesk-attachments-{}", uuid::Uuid::now_v7())),
        )
        .expect("attachment directory"),
        config: WebConfig {
            base_url: domain::BaseUrl::parse(&format!("http://{BASE_DOMAIN}"))
                .expect("valid base URL"),
            invalidation_channel: options.redis_channel.clone(),
            mail_from: domain::EmailAddress::parse(MAIL_FROM).expect("valid address"),
            mailbox_dir: options.mailbox_dir.clone(),
            import_limits: web::imports::ImportLimits::default(),
            secret_key: web::sign_in::secrets::SecretKey::generate(),
        },
    });
    if let Some(client) = redis {
        tokio::spawn(web::invalidation::listen(client, state.clone()));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let address = listener.local_addr().expect("local address");
    let router = web::router(state.clone());
    tokio::spawn(async move { axum_serve(listener, router).await });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    TestApp {
        address,
        http,
        owner,
        state,
    }
}

async fn axum_serve(listener: tokio::net::TcpListener, router: axum::Router) {
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).await.expect("serving");
}

/// A tenant made for one test, with a random slug so tests never see each other's data.
pub struct TestTenant {
    pub tenant: Tenant,
    pub primary_colour: HexColour,
}

impl TestTenant {
    pub fn host(&self) -> String {
        format!("{}.{BASE_DOMAIN}", self.tenant.slug)
    }
}

pub fn random_slug() -> TenantSlug {
    let suffix: u32 = rand::rng().random();
    TenantSlug::parse(&format!("t{suffix:08x}")).expect("valid slug")
}

pub fn random_colour() -> HexColour {
    let value: u32 = rand::rng().random_range(0..0x00ff_ffff);
    HexColour::parse(&format!("#{value:06x}")).expect("valid colour")
}

impl TestApp {
    pub async fn create_tenant(&self, name: &str) -> TestTenant {
        let primary_colour = random_colour();
        let tenant = self
            .owner
            .create_tenant(&NewTenant {
                slug: random_slug(),
                name: TenantName::parse(name).expect("valid name"),
                primary_colour: Some(primary_colour),
                accent_colour: None,
            })
            .await
            .expect("creating a test tenant");
        TestTenant {
            tenant,
            primary_colour,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// A GET with the Host header set to `host`, the only thing that chooses a tenant.
    pub fn get(&self, host: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(self.url(path))
            .header(reqwest::header::HOST, host)
    }

    /// The URL a browser uses for `host` on this app's port.
    pub fn browser_url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.address.port())
    }

    pub async fn issue_token(&self, tenant: &Tenant, name: &str) -> String {
        let mut tx = self.owner.begin_tenant(tenant.id).await.expect("tenant tx");
        let issued = store::tokens::create_api_token(
            &mut tx,
            &domain::TokenName::parse(name).expect("name"),
        )
        .await
        .expect("issuing a token");
        tx.commit().await.expect("commit");
        issued.secret
    }
}

/// The `tenantdesk` binary of this build (the test command builds it before the tests run).
pub fn tenantdesk_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let target_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let binary = target_dir.join("tenantdesk");
    assert!(
        binary.is_file(),
        "{} is missing: build it first with `cargo build -p tenantdesk` (tests/run.sh does)",
        binary.display()
    );
    binary
}

/// Pub/sub reaches only subscribers present at publish time: wait until `count` instances
/// listen on the invalidation channel (bounded, never a fixed sleep).
pub async fn wait_for_subscribers(options: &AppOptions, count: i64) {
    let client =
        redis::Client::open(options.redis_url.as_deref().expect("redis")).expect("redis url");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    for _ in 0..500 {
        let (_, subscribers): (String, i64) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(&options.redis_channel)
            .query_async(&mut connection)
            .await
            .expect("PUBSUB NUMSUB");
        if subscribers >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the instances never subscribed to invalidations");
}

/// Mail workers claim due mail of every tenant, so tests that run one take turns: each test's
/// messages then reach that test's SMTP server. Tests tell their messages apart by recipient.
pub static MAIL_WORKERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A recipient domain no other test uses.
pub fn unique_mail_domain() -> String {
    let suffix: u64 = rand::random();
    format!("m{suffix:016x}.example")
}

impl TestApp {
    /// An active agent of `tenant` with `role` and `password`.
    pub async fn create_agent(
        &self,
        tenant: &Tenant,
        role: domain::BuiltinRole,
        email: &str,
        password: &str,
    ) -> store::agents::Agent {
        let hash = self.state.passwords.hash(password).await.expect("hash");
        let mut tx = self
            .state
            .store
            .begin_tenant(tenant.id)
            .await
            .expect("tenant tx");
        let role = store::agents::builtin_role(&mut tx, role)
            .await
            .expect("role");
        let email = domain::EmailAddress::parse(email).expect("valid email");
        let agent = store::agents::create(
            &mut tx,
            &store::agents::NewAgent {
                name: "Test Agent",
                email: &email,
                role_id: role.id,
                password_hash: Some(hash),
            },
        )
        .await
        .expect("creating an agent");
        tx.commit().await.expect("commit");
        agent
    }

    /// A person's view of one host: cookies kept, forms sent with Origin and CSRF token.
    pub fn visitor(&self, host: &str) -> Visitor<'_> {
        Visitor {
            app: self,
            host: host.to_owned(),
            cookies: std::collections::BTreeMap::new(),
        }
    }
}

/// A browser-like HTTP client for one host: keeps cookies, and sends forms the way a browser
/// does (Origin header, the page's CSRF token).
pub struct Visitor<'a> {
    app: &'a TestApp,
    pub host: String,
    pub cookies: std::collections::BTreeMap<String, String>,
}

/// A page as the visitor got it.
pub struct Page {
    pub status: reqwest::StatusCode,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Visitor<'_> {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, response: reqwest::Response) -> Page {
        for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            let pair = value.split(';').next().unwrap_or_default();
            if let Some((name, content)) = pair.split_once('=') {
                let removed =
                    value.to_ascii_lowercase().contains("max-age=0") || content.is_empty();
                if removed {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), content.to_owned());
                }
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let location = headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.text().await.unwrap_or_default();
        Page {
            status,
            location,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .app
            .get(&self.host, path)
            .header(reqwest::header::COOKIE, self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.finish(response).await
    }

    /// The CSRF token forms carry (from the cookie, which the first page view sets).
    pub fn csrf(&self) -> String {
        self.cookies.get("tdk_csrf").cloned().unwrap_or_default()
    }

    /// Posts a form as a browser would: with this host as Origin and the CSRF token added.
    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        if self.csrf().is_empty() {
            self.get("/agent/login").await;
        }
        let csrf = self.csrf();
        let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post_raw(path, &form, Some(&format!("http://{}", self.host)))
            .await
    }

    /// Posts exactly these fields with this Origin (None: no Origin header).
    pub async fn post_raw(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Page {
        let mut request = self
            .app
            .http
            .post(self.app.url(path))
            .header(reqwest::header::HOST, &self.host)
            .header(reqwest::header::COOKIE, self.cookie_header())
            .form(fields);
        if let Some(origin) = origin {
            request = request.header(reqwest::header::ORIGIN, origin);
        }
        let response = request.send().await.expect("POST");
        self.finish(response).await
    }

    /// Signs in at /agent/login and checks that it worked.
    pub async fn sign_in_agent(&mut self, email: &str, password: &str) {
        self.get("/agent/login").await;
        let page = self
            .post_form(
                "/agent/login",
                &[("email", email), ("password", password), ("next", "/agent")],
            )
            .await;
        assert_eq!(
            page.status,
            reqwest::StatusCode::SEE_OTHER,
            "sign-in failed: {}",
            page.body
        );
    }
}

impl TestApp {
    /// A platform operator with `password`.
    pub async fn create_operator(&self, email: &str, password: &str) -> store::operators::Operator {
        let hash = self.state.passwords.hash(password).await.expect("hash");
        let email = domain::EmailAddress::parse(email).expect("valid email");
        self.owner
            .create_operator("Test Operator", &email, &hash)
            .await
            .expect("creating an operator")
    }
}

impl TestApp {
    /// Sets the tenant's registration mode as an admin saving the settings would.
    pub async fn set_registration_mode(
        &self,
        tenant: &TestTenant,
        required: bool,
        method: domain::RegistrationMethod,
    ) {
        let mut tx = self
            .state
            .store
            .begin_tenant(tenant.tenant.id)
            .await
            .expect("tx");
        let change = store::settings::SettingsChange {
            registration_required: Some(required),
            registration_method: Some(method),
            ..Default::default()
        };
        store::settings::update(&mut tx, &change, None)
            .await
            .expect("update settings");
        tx.commit().await.expect("commit");
        self.state.settings.invalidate(tenant.tenant.id);
    }

    /// An end user: active with `password`, or a guest without one.
    pub async fn create_end_user(
        &self,
        tenant: &TestTenant,
        name: &str,
        email: &str,
        password: Option<&str>,
    ) -> store::end_users::EndUser {
        let hash = match password {
            Some(password) => Some(self.state.passwords.hash(password).await.expect("hash")),
            None => None,
        };
        let email = domain::EmailAddress::parse(email).expect("email");
        let status = if hash.is_some() {
            store::end_users::EndUserStatus::Active
        } else {
            store::end_users::EndUserStatus::Guest
        };
        let mut tx = self
            .state
            .store
            .begin_tenant(tenant.tenant.id)
            .await
            .expect("tx");
        let new = store::end_users::NewEndUser {
            name,
            email: &email,
            status,
            password_hash: hash,
        };
        let user = store::end_users::create(&mut tx, &new)
            .await
            .expect("end user");
        tx.commit().await.expect("commit");
        user
    }
}

/// The path of the link to `host` starting with `prefix` in a mail's text.
pub fn link_path(text: &str, host: &str, prefix: &str) -> String {
    let start = format!("http://{host}{prefix}");
    let link = text
        .split_whitespace()
        .find(|word| word.starts_with(&start))
        .unwrap_or_else(|| panic!("no link starting with {start} in:\n{text}"));
    link["http://".len() + host.len()..].to_owned()
}

impl TestApp {
    /// One API call on `tenant`'s host with `token`: the status and the JSON body (null when
    /// the body is not JSON).
    pub async fn api(
        &self,
        tenant: &TestTenant,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .header("Host", tenant.host())
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }
}

/// A transaction as the runtime role with `tenant` set, for tests that need rows no endpoint
/// writes yet (or read columns no endpoint shows). Row-level security binds it like the app.
pub async fn tenant_sql(tenant: &TestTenant) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let pool = sqlx::PgPool::connect(&database().runtime_url)
        .await
        .expect("runtime connection");
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("select set_config('app.tenant_id', $1, true)")
        .bind(tenant.tenant.id.as_uuid().to_string())
        .execute(&mut *tx)
        .await
        .expect("set the tenant");
    tx
}
