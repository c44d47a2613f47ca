//! Traces and metrics of the real `tenantdesk serve`. The tracing subscriber is global to a
//! process and this suite is one process, so each test runs the binary as a child pointed at the
//! shared test database: traces go to an OTLP/HTTP receiver of the harness, metrics are scraped
//! from the child's metrics listener. The mail worker's metrics are read in process, because a
//! worker in a child would claim other tests' mail.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use domain::BuiltinRole;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tenantdesk_tests::otlp::{ReceivedSpan, Receiver};
use tenantdesk_tests::programs::scratch_dir;
use tenantdesk_tests::{
    MAIL_WORKERS, TestApp, database, spawn_app, tenantdesk_binary, unique_mail_domain,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// `tenantdesk serve` in a child process on free ports, with a metrics listener.
struct Server {
    child: Child,
    address: SocketAddr,
    metrics: SocketAddr,
    stderr: Arc<Mutex<String>>,
    http: reqwest::Client,
}

impl Server {
    /// Starts the server with `env` added to a clean environment, and waits until it listens.
    async fn start(env: &[(&str, &str)]) -> Self {
        let address: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let metrics: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let mut command = Command::new(tenantdesk_binary());
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("TENANTDESK_DATABASE_URL", &database().runtime_url)
            .env("TENANTDESK_BASE_URL", "http://localhost")
            .env("TENANTDESK_DATA_DIR", scratch_dir("telemetry"))
            // A worker here would claim the mail of tests running in the suite's process.
            .env("TENANTDESK_RUN_WORKER", "false")
            .env("TENANTDESK_METRICS_LISTEN", metrics.to_string())
            .envs(env.iter().copied())
            .args(["serve", "--listen", &address.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("starting tenantdesk serve");

        let stderr = Arc::new(Mutex::new(String::new()));
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let collected = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut text = collected.lock().unwrap_or_else(PoisonError::into_inner);
                text.push_str(&line);
                text.push('\n');
            }
        });
        // The server prints this line once both listeners are bound.
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let ready = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = stdout.next_line().await {
                if line.starts_with("Tenantdesk is serving") {
                    return true;
                }
            }
            false
        })
        .await;
        if ready != Ok(true) {
            let _ = child.start_kill();
            let _ = child.wait().await;
            panic!(
                "tenantdesk serve did not start:\n{}",
                stderr.lock().unwrap_or_else(PoisonError::into_inner)
            );
        }
        tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
        Self {
            child,
            address,
            metrics,
            stderr,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The text of `/metrics`.
    async fn scrape(&self) -> String {
        let response = self
            .http
            .get(format!("http://{}/metrics", self.metrics))
            .send()
            .await
            .expect("scraping /metrics");
        assert_eq!(response.status(), 200);
        assert!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/plain; version=0.0.4")),
            "the Prometheus text format"
        );
        response.text().await.expect("metrics body")
    }

    /// A view of this server that the harness's helpers (visitor, agents) work with.
    fn as_app(&self, app: &TestApp) -> TestApp {
        TestApp {
            address: self.address,
            http: self.http.clone(),
            owner: app.owner.clone(),
            state: app.state.clone(),
        }
    }

    fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops the server with SIGTERM (it sends its queued spans on the way out); returns stderr.
    async fn stop(mut self) -> String {
        let pid = nix::unistd::Pid::from_raw(
            i32::try_from(self.child.id().expect("running")).expect("pid fits"),
        );
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("serve stops after SIGTERM")
            .expect("exit status");
        assert!(status.success(), "serve exited with {status}");
        // The reader task may still hold the last lines; it ends at EOF, right after exit.
        for _ in 0..100 {
            if self.stderr().contains("stopped serving") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.stderr()
    }
}

/// The value of the series `name` whose labels include all of `labels`, summed (0 if absent).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(parse_sample)
        .filter(|(series, series_labels, _)| {
            series == name
                && labels
                    .iter()
                    .all(|(k, v)| series_labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, value)| value)
        .sum()
}

/// `name{a="x",b="y"} 3` -> (name, labels, value).
fn parse_sample(line: &str) -> Option<(String, BTreeMap<String, String>, f64)> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = value.parse().ok()?;
    let Some((name, rest)) = series.split_once('{') else {
        return Some((series.to_owned(), BTreeMap::new(), value));
    };
    let mut labels = BTreeMap::new();
    let mut rest = rest.strip_suffix('}')?;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => value.push(chars.next()?.1),
                '"' => break i,
                c => value.push(c),
            }
        };
        labels.insert(key.to_owned(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    Some((name.to_owned(), labels, value))
}

#[test]
fn the_sample_parser_reads_labels_with_braces_and_escapes() {
    let text = "# HELP x y\nx_total{route=\"/a/{id}\",status=\"200\"} 3\nx_total{route=\"/b\",status=\"200\"} 4\ny 1.5\nz{v=\"q\\\"uote\"} 2\n";
    assert_eq!(sample(text, "x_total", &[("route", "/a/{id}")]), 3.0);
    assert_eq!(sample(text, "x_total", &[("status", "200")]), 7.0);
    assert_eq!(sample(text, "y", &[]), 1.5);
    assert_eq!(sample(text, "z", &[("v", "q\"uote")]), 2.0);
    assert_eq!(sample(text, "missing", &[]), 0.0);
}

#[tokio::test]
async fn a_request_joins_the_callers_trace_with_its_tenant_and_a_database_span() {
    let receiver = Receiver::start().await;
    let app = spawn_app().await;
    let tenant = app.create_tenant("Traced Corp").await;
    let server = Server::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint()),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
    ])
    .await;

    let trace_id = random_hex(16);
    let callers_span = random_hex(8);
    let response = server
        .http
        .get(server.url("/"))
        .header("Host", tenant.host())
        .header("traceparent", format!("00-{trace_id}-{callers_span}-01"))
        .send()
        .await
        .expect("GET /");
    assert_eq!(response.status(), 200);

    let in_trace = |spans: &[ReceivedSpan]| -> Vec<ReceivedSpan> {
        spans
            .iter()
            .filter(|s| s.trace_id == trace_id)
            .cloned()
            .collect()
    };
    let spans = receiver
        .wait_for("the request span and its database span", |spans| {
            let spans = in_trace(spans);
            spans.iter().any(|request| {
                request.kind == SpanKind::Server
                    && spans
                        .iter()
                        .any(|s| s.parent_span_id == request.span_id && s.name == "db.transaction")
            })
        })
        .await;
    let spans = in_trace(&spans);
    let request = spans
        .iter()
        .find(|s| s.kind == SpanKind::Server)
        .expect("the request span");
    assert_eq!(request.name, "GET /");
    assert_eq!(
        request.parent_span_id, callers_span,
        "the request span is a child of the caller's span"
    );
    assert_eq!(request.attribute("http.route"), Some("/"));
    assert_eq!(request.attribute("http.request.method"), Some("GET"));
    assert_eq!(request.attribute("http.response.status_code"), Some("200"));
    assert_eq!(
        request.attribute("tenant.slug"),
        Some(tenant.tenant.slug.as_str())
    );
    let tenant_id = tenant.tenant.id.to_string();
    assert_eq!(request.attribute("tenant.id"), Some(tenant_id.as_str()));
    assert_eq!(
        request.resource.get("service.name").map(String::as_str),
        Some("tenantdesk")
    );

    let database = spans
        .iter()
        .find(|s| s.parent_span_id == request.span_id && s.name == "db.transaction")
        .expect("a database span under the request");
    assert_eq!(database.kind, SpanKind::Client);
    assert_eq!(database.attribute("db.system"), Some("postgresql"));
    assert_eq!(database.attribute("tenant.id"), Some(tenant_id.as_str()));
    assert_eq!(database.attribute("db.outcome"), Some("commit"));
    let statements: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.parent_span_id == database.span_id && s.name == "db.statement")
        .collect();
    assert!(
        !statements.is_empty(),
        "the transaction's statements are spans of their own"
    );
    for statement in statements {
        assert_eq!(statement.kind, SpanKind::Client);
        assert!(
            statement
                .attribute("db.operation.name")
                .is_some_and(|op| !op.is_empty()),
            "{:?}",
            statement.attributes
        );
        assert!(statement.attribute("db.query.summary").is_some());
    }

    let stderr = server.stop().await;
    let line = stderr
        .lines()
        .find(|line| {
            line.contains("request finished") && line.contains(tenant.tenant.slug.as_str())
        })
        .unwrap_or_else(|| panic!("the request's log line:\n{stderr}"));
    assert!(
        line.contains(&trace_id),
        "the request's log line names its trace: {line}"
    );
}

#[tokio::test]
async fn spans_of_sign_ins_carry_no_personal_data_or_secrets() {
    let receiver = Receiver::start().await;
    let app = spawn_app().await;
    let tenant = app.create_tenant("Private Corp").await;
    let email = format!("agent@{}", unique_mail_domain());
    let password = "violet-ostrich-carries-42-lanterns";
    app.create_agent(&tenant.tenant, BuiltinRole::Agent, &email, password)
        .await;
    let server = Server::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint()),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
    ])
    .await;
    let child = server.as_app(&app);
    let mut visitor = child.visitor(&tenant.host());

    let wrong = visitor
        .post_form(
            "/agent/login",
            &[
                ("email", &email),
                ("password", "not-the-password"),
                ("next", "/agent"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 200, "a failed sign-in shows the form again");
    visitor.sign_in_agent(&email, password).await;
    let home = visitor.get("/agent").await;
    assert_eq!(home.status, 200, "signed in");

    let spans = receiver
        .wait_for("two sign-ins and the agent's home", |spans| {
            spans
                .iter()
                .filter(|s| s.name == "POST /agent/login")
                .count()
                >= 2
                && spans.iter().any(|s| s.name == "GET /agent")
        })
        .await;
    let secrets: Vec<String> = [email.clone(), password.to_owned()]
        .into_iter()
        .chain(visitor.cookies.values().cloned())
        .filter(|s| s.len() >= 8)
        .collect();
    assert!(
        secrets.len() >= 3,
        "the session and CSRF cookies are checked too"
    );
    for span in &spans {
        let text = span.all_text();
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "span {} carries personal data or a secret: {text}",
                span.name
            );
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn a_dead_collector_neither_fails_requests_nor_floods_the_log() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Offline Collector").await;
    let closed = free_port();
    let server = Server::start(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            &format!("http://127.0.0.1:{closed}"),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "20"),
    ])
    .await;

    let dropped = |text: &str| {
        sample(
            text,
            "tenantdesk_trace_spans_total",
            &[("result", "dropped")],
        )
    };
    let mut first_drop = None;
    for round in 0..300 {
        let response = server
            .http
            .get(server.url("/"))
            .header("Host", tenant.host())
            .send()
            .await
            .expect("GET /");
        assert_eq!(response.status(), 200, "round {round}");
        let now = dropped(&server.scrape().await);
        match first_drop {
            None if now > 0.0 => first_drop = Some(now),
            Some(first) if now > first => break,
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
        assert!(round < 299, "no export was attempted and failed twice");
    }
    assert_eq!(
        sample(
            &server.scrape().await,
            "tenantdesk_trace_spans_total",
            &[("result", "exported")]
        ),
        0.0
    );

    let stderr = server.stop().await;
    let warnings = stderr
        .lines()
        .filter(|line| line.contains("cannot export traces"))
        .count();
    assert_eq!(
        warnings, 1,
        "a dead collector is reported exactly once:\n{stderr}"
    );
}

#[tokio::test]
async fn metrics_exist_and_move_with_requests_and_sign_ins() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("Measured Corp").await;
    let email = format!("agent@{}", unique_mail_domain());
    let password = "amber-walrus-reads-17-maps";
    app.create_agent(&tenant.tenant, BuiltinRole::Agent, &email, password)
        .await;
    let server = Server::start(&[]).await;
    let before = server.scrape().await;
    for series in [
        "tenantdesk_sign_ins_total",
        "tenantdesk_rate_limit_hits_total",
        "tenantdesk_cache_lookups_total",
        "tenantdesk_db_pool_connections",
        "tenantdesk_db_pool_max_connections",
        "tenantdesk_db_transaction_duration_seconds_count",
        "tenantdesk_db_begin_duration_seconds_count",
        "tenantdesk_mail_deliveries_total",
        "tenantdesk_mail_claimed_total",
        "tenantdesk_outbox_messages",
        "tenantdesk_outbox_oldest_age_seconds",
    ] {
        assert!(
            before.contains(&format!("\n{series}")),
            "{series} is scraped before first use:\n{before}"
        );
    }

    let child = server.as_app(&app);
    let mut visitor = child.visitor(&tenant.host());
    visitor.sign_in_agent(&email, password).await;
    let stranger = format!("nobody@{}", unique_mail_domain());
    let mut refused = None;
    for _ in 0..11 {
        let page = visitor
            .post_form(
                "/agent/login",
                &[("email", &stranger), ("password", "wrong"), ("next", "/")],
            )
            .await;
        if page.status == 429 {
            refused = Some(page);
        }
    }
    assert!(refused.is_some(), "the eleventh failure is refused");
    let unknown = server
        .http
        .get(server.url("/"))
        .header("Host", "no-such-tenant.localhost")
        .send()
        .await
        .expect("GET");
    assert_eq!(unknown.status(), 404);
    let after = server.scrape().await;

    let moved = |name: &str, labels: &[(&str, &str)]| {
        sample(&after, name, labels) - sample(&before, name, labels)
    };
    let sign_ins = "tenantdesk_sign_ins_total";
    assert_eq!(
        moved(sign_ins, &[("kind", "agent"), ("result", "success")]),
        1.0
    );
    assert_eq!(
        moved(sign_ins, &[("kind", "agent"), ("result", "failure")]),
        10.0
    );
    assert_eq!(
        moved(sign_ins, &[("kind", "agent"), ("result", "rate_limited")]),
        1.0
    );
    assert_eq!(
        moved(
            "tenantdesk_rate_limit_hits_total",
            &[("limit", "signin"), ("scope", "account")]
        ),
        1.0
    );
    let requests = "tenantdesk_http_requests_total";
    let login = [("method", "POST"), ("route", "/agent/login")];
    assert_eq!(
        moved(requests, &[login[0], login[1], ("status", "303")]),
        1.0
    );
    assert_eq!(
        moved(requests, &[login[0], login[1], ("status", "200")]),
        10.0
    );
    assert_eq!(
        moved(requests, &[login[0], login[1], ("status", "429")]),
        1.0
    );
    assert_eq!(
        moved(
            "tenantdesk_http_request_duration_seconds_count",
            &[login[0], login[1]]
        ),
        12.0
    );
    assert_eq!(
        moved(requests, &[("route", "unmatched"), ("status", "404")]),
        1.0
    );
    assert!(
        moved(
            "tenantdesk_cache_lookups_total",
            &[("cache", "tenant"), ("result", "hit")]
        ) >= 1.0
    );
    assert!(
        moved(
            "tenantdesk_cache_lookups_total",
            &[("cache", "tenant"), ("result", "miss")]
        ) >= 2.0
    );
    assert!(
        moved(
            "tenantdesk_cache_lookups_total",
            &[("cache", "settings"), ("result", "miss")]
        ) >= 1.0
    );
    assert!(
        moved(
            "tenantdesk_cache_lookups_total",
            &[("cache", "settings"), ("result", "hit")]
        ) >= 1.0
    );
    assert!(
        moved(
            "tenantdesk_db_transaction_duration_seconds_count",
            &[("outcome", "commit")]
        ) >= 12.0,
        "every sign-in commits a transaction"
    );
    assert!(moved("tenantdesk_db_begin_duration_seconds_count", &[]) >= 12.0);
    assert!(
        sample(&after, "tenantdesk_db_pool_connections", &[]) >= 1.0,
        "the pool holds connections"
    );
    assert_eq!(
        sample(&after, "tenantdesk_db_pool_max_connections", &[]),
        16.0
    );
    for private in [
        tenant.tenant.slug.as_str(),
        &tenant.tenant.id.to_string(),
        &email,
        &stranger,
    ] {
        assert!(
            !after.contains(private),
            "{private} must not be a metric label"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn mail_deliveries_move_the_mail_metrics() {
    let _turn = MAIL_WORKERS.lock().await;
    let app = spawn_app().await;
    let tenant = app.create_tenant("Counted Mail").await;
    let before = tenantdesk::telemetry::metrics_text();
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tenant tx");
    store::outbox::enqueue(
        &mut tx,
        &store::outbox::NewEmail {
            event: "user.password_reset".into(),
            recipient: domain::EmailAddress::parse(&format!("someone@{}", unique_mail_domain()))
                .expect("valid"),
            from_name: "Counted Mail".into(),
            from_address: None,
            reply_to: None,
            subject: "counted".into(),
            html_body: "<p>counted</p>".into(),
            text_body: "counted".into(),
        },
        "tenantdesk.test",
    )
    .await
    .expect("enqueue");
    tx.commit().await.expect("commit");

    let transport = tenantdesk::mail_worker::Transport::new(None, &scratch_dir("mail-metrics"))
        .expect("mailbox");
    let config = tenantdesk::mail_worker::WorkerConfig::new(
        domain::EmailAddress::parse(tenantdesk_tests::MAIL_FROM).expect("valid"),
        3,
    );
    let mut delivered = 0;
    for _ in 0..100 {
        let claimed = tenantdesk::mail_worker::deliver_batch(&app.state.store, &transport, &config)
            .await
            .expect("batch");
        if claimed == 0 {
            break;
        }
        delivered += claimed;
    }
    assert!(delivered >= 1, "our message was due");
    let after = tenantdesk::telemetry::metrics_text();
    let moved = |name: &str, labels: &[(&str, &str)]| {
        sample(&after, name, labels) - sample(&before, name, labels)
    };
    assert!(moved("tenantdesk_mail_claimed_total", &[]) >= 1.0);
    assert!(moved("tenantdesk_mail_deliveries_total", &[("outcome", "sent")]) >= 1.0);
    assert!(
        moved(
            "tenantdesk_mail_send_duration_seconds_count",
            &[("transport", "mailbox")]
        ) >= 1.0
    );
}

#[tokio::test]
async fn the_worker_reports_outbox_depth_and_the_oldest_age() {
    let _turn = MAIL_WORKERS.lock().await;
    let app = spawn_app().await;
    let tenant = app.create_tenant("Deep Mail").await;
    let mut tx = app
        .state
        .store
        .begin_tenant(tenant.tenant.id)
        .await
        .expect("tenant tx");
    store::outbox::enqueue(
        &mut tx,
        &store::outbox::NewEmail {
            event: "user.password_reset".into(),
            recipient: domain::EmailAddress::parse(&format!("deep@{}", unique_mail_domain()))
                .expect("valid"),
            from_name: "Deep Mail".into(),
            from_address: None,
            reply_to: None,
            subject: "waiting".into(),
            html_body: "<p>waiting</p>".into(),
            text_body: "waiting".into(),
        },
        "tenantdesk.test",
    )
    .await
    .expect("enqueue");
    tx.commit().await.expect("commit");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    let transport =
        tenantdesk::mail_worker::Transport::new(None, &scratch_dir("mail-depth")).expect("mailbox");
    let config = tenantdesk::mail_worker::WorkerConfig::new(
        domain::EmailAddress::parse(tenantdesk_tests::MAIL_FROM).expect("valid"),
        3,
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(tenantdesk::mail_worker::run(
        app.state.store.clone(),
        transport,
        config,
        stopped,
    ));
    // The worker reads the depth before its first batch: our message is queued then.
    let mut seen = (0.0, 0.0);
    for _ in 0..100 {
        let text = tenantdesk::telemetry::metrics_text();
        seen = (
            sample(&text, "tenantdesk_outbox_messages", &[("status", "queued")]),
            sample(
                &text,
                "tenantdesk_outbox_oldest_age_seconds",
                &[("status", "queued")],
            ),
        );
        if seen.0 >= 1.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.send(true).expect("stop");
    worker.await.expect("worker ends");
    assert!(seen.0 >= 1.0, "queued messages counted: {seen:?}");
    assert!(
        seen.1 >= 1.0,
        "the oldest queued message is at least a second old: {seen:?}"
    );
}
