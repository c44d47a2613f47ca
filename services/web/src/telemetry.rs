//! The request span and the web layer's metrics.
//!
//! One `request` span per request, with its id, method, matched route, tenant and status. Field
//! names are dotted (`tenant.slug`) so the OpenTelemetry layer exports them as attributes. The
//! exported span is named after the route (`GET /agent/login`, or just `GET` when no route
//! matched); the `otel.*` fields make it a server span and flag 5xx as errors. It joins the caller's trace when the request carries a W3C `traceparent`.
//! Nothing personal or secret goes into a field: the route template, never the raw path.
//!
//! Metrics go to the process-wide Prometheus registry, scraped on the metrics listener. Labels
//! are small fixed sets (route templates, methods, status codes, outcome names); tenants are
//! never a label.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, Method, Response};
use axum::middleware::Next;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt;
use prometheus::{HistogramVec, IntCounterVec};
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

pub fn request_span(request: &Request<Body>) -> Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        otel.kind = "server",
        otel.status_code = Empty,
        request.id = %request_id,
        http.request.method = %request.method(),
        http.route = Empty,
        http.response.status_code = Empty,
        tenant.id = Empty,
        tenant.slug = Empty,
    );
    join_callers_trace(&span, request.headers());
    span
}

/// Makes `span` a child of the caller's span when the request carries trace context. Without an
/// exporter no propagator is installed and this finds nothing.
fn join_callers_trace(span: &Span, headers: &HeaderMap) {
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(headers))
    });
    if parent.span().span_context().is_remote() {
        let _ = span.set_parent(parent);
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// The trace id of `span`, when traces are exported (the OpenTelemetry layer is installed).
fn trace_id(span: &Span) -> Option<String> {
    let context = span.context();
    let otel_span = context.span();
    let span_context = otel_span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// The one log line per request: status and latency, with the request span's fields (request
/// id, method, route, tenant) around it and the trace id when traces are exported.
pub fn record_response<B>(response: &Response<B>, latency: Duration, span: &Span) {
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    let trace_id = trace_id(span);
    tracing::info!(
        latency_ms = latency.as_millis() as u64,
        status = status.as_u16(),
        trace_id = trace_id.as_deref(),
        "request finished"
    );
}

/// The route a response answered, left in its extensions for [`observe`].
#[derive(Clone)]
struct AnsweredRoute(MatchedPath);

/// Records the route template (`/api/v1/me`, never the raw path with ids) on the request span,
/// names the span after it, and leaves it on the response for the request metrics.
pub async fn record_route(
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> axum::response::Response {
    let Some(route) = matched else {
        return next.run(request).await;
    };
    let span = Span::current();
    span.record("http.route", route.as_str());
    span.context()
        .span()
        .update_name(format!("{} {}", request.method(), route.as_str()));
    let mut response = next.run(request).await;
    response.extensions_mut().insert(AnsweredRoute(route));
    response
}

/// Counts every request and observes its latency, by method, route template and status.
/// Requests no route answered (unknown hosts, unknown paths) share the route `unmatched`.
pub async fn observe(request: Request, next: Next) -> axum::response::Response {
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let answered = response.extensions().get::<AnsweredRoute>();
    if answered.is_none() {
        Span::current().context().span().update_name(method);
    }
    let route = answered.map_or("unmatched", |answered| answered.0.as_str());
    let status = response.status();
    let labels = [method, route, status.as_str()];
    HTTP_REQUESTS.with_label_values(&labels).inc();
    HTTP_SECONDS
        .with_label_values(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

static HTTP_REQUESTS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    prometheus::register_int_counter_vec!(
        "tenantdesk_http_requests_total",
        "HTTP requests answered, by method, route template and status.",
        &["method", "route", "status"]
    )
    .expect("the request counter registers once")
});

static HTTP_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    prometheus::register_histogram_vec!(
        "tenantdesk_http_request_duration_seconds",
        "Time to answer HTTP requests (until the response head), by method, route template and status.",
        &["method", "route", "status"],
        vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0
        ]
    )
    .expect("the request histogram registers once")
});

static SIGN_INS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    prometheus::register_int_counter_vec!(
        "tenantdesk_sign_ins_total",
        "Password sign-in attempts, by kind of account and result.",
        &["kind", "result"]
    )
    .expect("the sign-in counter registers once")
});

static RATE_LIMIT_HITS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    prometheus::register_int_counter_vec!(
        "tenantdesk_rate_limit_hits_total",
        "Requests refused with 429 by a rate limit, by limit and what it counts (account or address).",
        &["limit", "scope"]
    )
    .expect("the rate-limit counter registers once")
});

static CACHE_LOOKUPS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    prometheus::register_int_counter_vec!(
        "tenantdesk_cache_lookups_total",
        "In-process cache lookups, by cache (tenant resolution, settings) and result (hit, miss).",
        &["cache", "result"]
    )
    .expect("the cache counter registers once")
});

/// Whose sign-in.
#[derive(Clone, Copy, Debug)]
pub enum SignInKind {
    Agent,
    EndUser,
    Operator,
}

impl SignInKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::EndUser => "end_user",
            Self::Operator => "operator",
        }
    }
}

/// How a sign-in attempt ended.
#[derive(Clone, Copy, Debug)]
pub enum SignInResult {
    Success,
    /// Unknown account, wrong password or disabled account (not told apart, as on the page).
    Failure,
    /// Refused with 429 before the password was checked.
    RateLimited,
}

impl SignInResult {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::RateLimited => "rate_limited",
        }
    }
}

/// Counts one sign-in attempt.
pub fn sign_in(kind: SignInKind, result: SignInResult) {
    SIGN_INS
        .with_label_values(&[kind.as_str(), result.as_str()])
        .inc();
}

/// Counts one refusal by the rate limiter. `key` is the limiter's key (`signin:addr:...`); only
/// its leading words become labels, never the account or address in it.
pub fn rate_limit_hit(key: &str) {
    let mut words = key.split(':');
    let limit = words
        .next()
        .filter(|limit| matches!(*limit, "signin" | "reset" | "register"))
        .unwrap_or("other");
    let scope = if words.next() == Some("addr") {
        "address"
    } else {
        "account"
    };
    RATE_LIMIT_HITS.with_label_values(&[limit, scope]).inc();
}

/// The in-process caches whose hit ratio is measured.
#[derive(Clone, Copy, Debug)]
pub enum Cache {
    /// Host -> tenant resolution.
    Tenant,
    /// A tenant's workspace settings.
    Settings,
}

/// Counts one cache lookup.
pub fn cache_lookup(cache: Cache, hit: bool) {
    let cache = match cache {
        Cache::Tenant => "tenant",
        Cache::Settings => "settings",
    };
    let result = if hit { "hit" } else { "miss" };
    CACHE_LOOKUPS.with_label_values(&[cache, result]).inc();
}

/// Creates the series whose labels are known in advance, so that a scrape shows them (as
/// zeros) before their first event. Request series appear with their first request.
pub fn register_metrics() {
    LazyLock::force(&HTTP_REQUESTS);
    LazyLock::force(&HTTP_SECONDS);
    for kind in [SignInKind::Agent, SignInKind::Operator] {
        for result in [
            SignInResult::Success,
            SignInResult::Failure,
            SignInResult::RateLimited,
        ] {
            SIGN_INS.with_label_values(&[kind.as_str(), result.as_str()]);
        }
    }
    for limit in ["signin", "reset", "register"] {
        for scope in ["account", "address"] {
            RATE_LIMIT_HITS.with_label_values(&[limit, scope]);
        }
    }
    for cache in ["tenant", "settings"] {
        for result in ["hit", "miss"] {
            CACHE_LOOKUPS.with_label_values(&[cache, result]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(limit: &str, scope: &str) -> u64 {
        RATE_LIMIT_HITS.with_label_values(&[limit, scope]).get()
    }

    #[test]
    fn rate_limit_labels_never_carry_the_key() {
        let before = (hits("signin", "address"), hits("reset", "account"));
        rate_limit_hit("signin:addr:203.0.113.9");
        rate_limit_hit("reset:agent:someone@example.com");
        assert_eq!(hits("signin", "address"), before.0 + 1);
        assert_eq!(hits("reset", "account"), before.1 + 1);
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&prometheus::gather())
            .expect("encodes");
        assert!(!text.contains("203.0.113.9") && !text.contains("someone@example.com"));
    }
}
