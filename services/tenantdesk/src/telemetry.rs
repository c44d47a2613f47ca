//! Logs, traces and metrics of the process.
//!
//! - Logs: a filter (`RUST_LOG`) and one formatting layer (human or JSON) on stderr.
//! - Traces: when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set,
//!   an OpenTelemetry layer joins the same registry and a batch processor sends spans over
//!   OTLP/HTTP with protobuf, from a thread of its own: exporting never blocks a request, a full
//!   queue drops spans, and a collector that does not answer is reported once (and again once
//!   it answers). The standard variables apply: OTEL_SERVICE_NAME (default `tenantdesk`),
//!   OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG,
//!   OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_BSP_*. Incoming W3C
//!   `traceparent` headers are honoured. Every SQL statement becomes a `db.statement` span
//!   ([`crate::statement_spans`]).
//! - Metrics: the process-wide Prometheus registry, served as text at `/metrics` on the
//!   separate listener `--metrics-listen`; this module holds the mail worker's series.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::{StatusCode, Uri, header};
use axum::response::IntoResponse;
use clap::ValueEnum;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use prometheus::{HistogramVec, IntCounter, IntCounterVec};
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum LogFormat {
    /// Readable lines for a terminal.
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// What [`init`] started; [`Telemetry::shutdown`] sends the spans still queued.
#[must_use = "call shutdown at exit, or queued spans are lost"]
pub struct Telemetry {
    traces: Option<Traces>,
}

struct Traces {
    provider: SdkTracerProvider,
    /// Drives the HTTP requests of the exporter; lives until the provider is shut down.
    runtime: tokio::runtime::Runtime,
}

impl Telemetry {
    /// Sends what is queued (waiting at most a few seconds for the collector) and stops.
    pub fn shutdown(self) {
        if let Some(traces) = self.traces {
            if let Err(error) = traces
                .provider
                .shutdown_with_timeout(Duration::from_secs(5))
            {
                tracing::warn!(%error, "traces still queued at exit were not all sent");
            }
            traces.runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

/// Logs go to stderr; `RUST_LOG` overrides the default level (info). With `export_traces` and
/// an OTLP endpoint in the environment, spans are exported too.
pub fn init(format: LogFormat, export_traces: bool) -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let output = match format {
        LogFormat::Human => fmt::layer().with_writer(std::io::stderr).boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let traces = if export_traces && otlp_endpoint().is_some() {
        match start_traces() {
            Ok(traces) => Some(traces),
            Err(error) => {
                // Logging is not up yet; this is the one message that goes straight to stderr.
                eprintln!("warning: traces are not exported: {error:#}");
                None
            }
        }
    } else {
        None
    };
    let otel = traces.as_ref().map(|traces| {
        tracing_opentelemetry::layer()
            .with_tracer(traces.provider.tracer("tenantdesk"))
            .with_threads(false)
            .with_location(false)
            .with_tracked_inactivity(false)
            .with_filter(span_filter())
    });
    // sqlx reports finished statements as DEBUG events of `sqlx::query`; only this layer
    // wants them, whatever RUST_LOG says.
    let statements = traces.as_ref().map(|traces| {
        crate::statement_spans::StatementSpans::new(traces.provider.tracer("tenantdesk"))
            .with_filter(Targets::new().with_target("sqlx::query", Level::DEBUG))
    });
    let _ = tracing_subscriber::registry()
        .with(output.with_filter(filter))
        .with(otel)
        .with(statements)
        .try_init();
    if traces.is_some() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        tracing::info!(
            endpoint = otlp_endpoint().as_deref().map(without_credentials),
            "exporting traces over OTLP/HTTP"
        );
    }
    Telemetry { traces }
}

/// What becomes a span or span event, independent of RUST_LOG: Tenantdesk's spans and events at
/// INFO and above, never the exporter's own machinery.
fn span_filter() -> Targets {
    Targets::new()
        .with_default(Level::INFO)
        .with_target("sqlx", Level::WARN)
        .with_target("tower_http", Level::WARN)
        .with_target("hyper", tracing::level_filters::LevelFilter::OFF)
        .with_target("opentelemetry", tracing::level_filters::LevelFilter::OFF)
        .with_target(
            "opentelemetry_sdk",
            tracing::level_filters::LevelFilter::OFF,
        )
        .with_target(
            "opentelemetry_otlp",
            tracing::level_filters::LevelFilter::OFF,
        )
        .with_target(
            "opentelemetry_http",
            tracing::level_filters::LevelFilter::OFF,
        )
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// The configured endpoint; none (or OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none): no export.
fn otlp_endpoint() -> Option<String> {
    if env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || env("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"))
    {
        return None;
    }
    env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| env("OTEL_EXPORTER_OTLP_ENDPOINT"))
}

/// scheme://host:port of an endpoint, for the log: no user, password, path or query.
fn without_credentials(endpoint: &str) -> String {
    match endpoint.parse::<Uri>() {
        Ok(uri) => format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("http"),
            uri.authority()
                .map_or("", |a| a.as_str().rsplit('@').next().unwrap_or_default())
        ),
        Err(_) => "(unparsable)".to_owned(),
    }
}

fn export_timeout() -> Duration {
    env("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
        .or_else(|| env("OTEL_EXPORTER_OTLP_TIMEOUT"))
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_secs(10), Duration::from_millis)
}

fn start_traces() -> anyhow::Result<Traces> {
    let protocol =
        env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"));
    if let Some(protocol) = protocol.filter(|p| p != "http/protobuf") {
        eprintln!(
            "warning: OTEL_EXPORTER_OTLP_PROTOCOL={protocol} is not supported; \
             traces go over http/protobuf (usually port 4318)"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("otlp-export")
        .enable_all()
        .build()?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
        .https_or_http()
        .enable_http1()
        .build();
    let client = ExportClient {
        hyper: std::sync::Arc::new(opentelemetry_http::hyper::HyperClient::new(
            connector,
            export_timeout(),
            None,
        )),
        runtime: runtime.handle().clone(),
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_http_client(client)
        .build()?;
    let mut resource = Resource::builder();
    let named = env("OTEL_SERVICE_NAME").is_some()
        || env("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|a| a.contains("service.name="));
    if !named {
        resource = resource.with_service_name("tenantdesk");
    }
    let provider = SdkTracerProvider::builder()
        .with_resource(resource.build())
        .with_batch_exporter(ReportingExporter {
            inner: exporter,
            failing: AtomicBool::new(false),
        })
        .build();
    Ok(Traces { provider, runtime })
}

/// Sends the exporter's requests with hyper on the export runtime: the batch processor calls
/// from a plain thread, where hyper alone would find no reactor.
#[derive(Debug)]
struct ExportClient {
    hyper: std::sync::Arc<
        opentelemetry_http::hyper::HyperClient<
            hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        >,
    >,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for ExportClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let hyper = std::sync::Arc::clone(&self.hyper);
        self.runtime
            .spawn(async move { hyper.send_bytes(request).await })
            .await?
    }
}

/// Says once that the collector does not take spans (and once when it does again), and counts
/// exported and dropped spans.
#[derive(Debug)]
struct ReportingExporter<E> {
    inner: E,
    failing: AtomicBool,
}

impl<E: SpanExporter> SpanExporter for ReportingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len() as u64;
        let result = self.inner.export(batch).await;
        match &result {
            Ok(()) => {
                TRACE_SPANS.with_label_values(&["exported"]).inc_by(spans);
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("the OTLP endpoint takes spans again");
                }
            }
            Err(error) => {
                TRACE_SPANS.with_label_values(&["dropped"]).inc_by(spans);
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        %error,
                        "cannot export traces: spans are dropped until the OTLP endpoint answers \
                         (this is said once)"
                    );
                }
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

static TRACE_SPANS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    prometheus::register_int_counter_vec!(
        "tenantdesk_trace_spans_total",
        "Spans handed to the OTLP endpoint, by result (exported, dropped).",
        &["result"]
    )
    .expect("the span counter registers once")
});

static MAIL_CLAIMED: LazyLock<IntCounter> = LazyLock::new(|| {
    prometheus::register_int_counter!(
        "tenantdesk_mail_claimed_total",
        "Outbox messages this process claimed for delivery."
    )
    .expect("the mail claim counter registers once")
});

static MAIL_DELIVERIES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    prometheus::register_int_counter_vec!(
        "tenantdesk_mail_deliveries_total",
        "Delivery attempts, by outcome: sent, retry (failed, tried again later), dead (gave up).",
        &["outcome"]
    )
    .expect("the mail delivery counter registers once")
});

static MAIL_SEND_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    prometheus::register_histogram_vec!(
        "tenantdesk_mail_send_duration_seconds",
        "Handing one message to the transport (smtp, mailbox), successful or not.",
        &["transport"],
        vec![
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0
        ]
    )
    .expect("the mail send histogram registers once")
});

static MAIL_DEPTH: LazyLock<prometheus::IntGaugeVec> = LazyLock::new(|| {
    prometheus::register_int_gauge_vec!(
        "tenantdesk_outbox_messages",
        "Messages in the outbox by status (unsettled ones), all tenants, as the worker last saw",
        &["status"]
    )
    .expect("the outbox depth gauge registers once")
});

static MAIL_OLDEST: LazyLock<prometheus::GaugeVec> = LazyLock::new(|| {
    prometheus::register_gauge_vec!(
        "tenantdesk_outbox_oldest_age_seconds",
        "Age of the oldest message in each unsettled outbox status (0 when there is none)",
        &["status"]
    )
    .expect("the outbox age gauge registers once")
});

/// The statuses the outbox depth gauges report.
pub const OUTBOX_STATUSES: [&str; 4] = ["queued", "sending", "failed", "dead"];

/// Sets the outbox depth gauges from one `mail_depth()` reading; absent statuses are zero.
pub fn outbox_depth(rows: &[(String, i64, f64)]) {
    for status in OUTBOX_STATUSES {
        let (count, oldest) = rows
            .iter()
            .find(|(s, ..)| s == status)
            .map_or((0, 0.0), |(_, count, oldest)| (*count, *oldest));
        MAIL_DEPTH.with_label_values(&[status]).set(count);
        MAIL_OLDEST.with_label_values(&[status]).set(oldest);
    }
}

static MAIL_WORKER_ERRORS: LazyLock<IntCounter> = LazyLock::new(|| {
    prometheus::register_int_counter!(
        "tenantdesk_mail_worker_errors_total",
        "Worker cycles that failed (claiming from the database failed)."
    )
    .expect("the worker error counter registers once")
});

/// How one delivery attempt ended, for `tenantdesk_mail_deliveries_total`.
#[derive(Clone, Copy, Debug)]
pub enum MailOutcome {
    Sent,
    Retry,
    Dead,
}

impl MailOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Retry => "retry",
            Self::Dead => "dead",
        }
    }
}

pub fn mail_claimed(count: usize) {
    MAIL_CLAIMED.inc_by(count as u64);
}

pub fn mail_delivered(outcome: MailOutcome) {
    MAIL_DELIVERIES.with_label_values(&[outcome.as_str()]).inc();
}

pub fn mail_send_time(transport: &'static str, elapsed: Duration) {
    MAIL_SEND_SECONDS
        .with_label_values(&[transport])
        .observe(elapsed.as_secs_f64());
}

pub fn mail_worker_error() {
    MAIL_WORKER_ERRORS.inc();
}

/// Creates the series with known labels, so a scrape shows them as zeros before first use.
pub fn register_metrics() {
    web::telemetry::register_metrics();
    LazyLock::force(&MAIL_CLAIMED);
    LazyLock::force(&MAIL_WORKER_ERRORS);
    LazyLock::force(&MAIL_SEND_SECONDS);
    for outcome in [MailOutcome::Sent, MailOutcome::Retry, MailOutcome::Dead] {
        MAIL_DELIVERIES.with_label_values(&[outcome.as_str()]);
    }
    for result in ["exported", "dropped"] {
        TRACE_SPANS.with_label_values(&[result]);
    }
    outbox_depth(&[]);
}

/// Every series of this process in the Prometheus text format.
pub fn metrics_text() -> String {
    prometheus::TextEncoder::new()
        .encode_to_string(&prometheus::gather())
        .unwrap_or_else(|error| format!("# cannot encode the metrics: {error}\n"))
}

/// Serves `GET /metrics` on `listener` until the task is dropped; the pool gauges of `store`
/// are sampled at each scrape.
pub async fn serve_metrics(listener: tokio::net::TcpListener, store: store::Store) {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let store = store.clone();
            async move {
                store.record_pool_metrics();
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
                    metrics_text(),
                )
                    .into_response()
            }
        }),
    );
    if let Err(error) = axum::serve(listener, app).await {
        tracing::error!(%error, "the metrics listener stopped");
    }
}
