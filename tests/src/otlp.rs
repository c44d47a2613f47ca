//! An OTLP/HTTP receiver for trace tests: a small server on a free port that takes
//! `POST /v1/traces` with a protobuf `ExportTraceServiceRequest`, the way an OpenTelemetry
//! collector does, and keeps every span it was sent.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use tokio::sync::Notify;

/// One span as the receiver got it, with ids in lowercase hex and values as text.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub name: String,
    pub kind: SpanKind,
    pub attributes: BTreeMap<String, String>,
    /// Each event's name and attributes (log events inside the span).
    pub events: Vec<(String, BTreeMap<String, String>)>,
    /// The resource's attributes (`service.name`, ...).
    pub resource: BTreeMap<String, String>,
}

impl ReceivedSpan {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    /// Every text this span carries: attribute and event values, names and resource.
    pub fn all_text(&self) -> String {
        let mut text = format!("{} ", self.name);
        for (key, value) in self.attributes.iter().chain(self.resource.iter()) {
            text.push_str(&format!("{key}={value} "));
        }
        for (name, attributes) in &self.events {
            text.push_str(name);
            for (key, value) in attributes {
                text.push_str(&format!(" {key}={value}"));
            }
            text.push(' ');
        }
        text
    }
}

#[derive(Default)]
struct Received {
    spans: Mutex<Vec<ReceivedSpan>>,
    requests: Mutex<usize>,
    arrived: Notify,
}

/// The receiver; it stops when dropped.
pub struct Receiver {
    pub address: SocketAddr,
    received: Arc<Received>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Receiver {
    pub async fn start() -> Self {
        let received = Arc::new(Received::default());
        let app = axum::Router::new()
            .route("/v1/traces", axum::routing::post(take_traces))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the OTLP receiver");
        let address = listener.local_addr().expect("receiver address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("OTLP receiver");
        });
        Self {
            address,
            received,
            server,
        }
    }

    /// The value for OTEL_EXPORTER_OTLP_ENDPOINT (the exporter adds `/v1/traces`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.received
            .spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many export requests arrived.
    pub fn requests(&self) -> usize {
        *self
            .received
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits (up to 30 s) until the spans received so far satisfy `done`, and returns them.
    pub async fn wait_for(
        &self,
        what: &str,
        mut done: impl FnMut(&[ReceivedSpan]) -> bool,
    ) -> Vec<ReceivedSpan> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let arrived = self.received.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let spans = self.spans();
            if done(&spans) {
                return spans;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!(
                    "the receiver never got {what}; it got {} span(s): {:#?}",
                    spans.len(),
                    spans
                        .iter()
                        .map(|s| (&s.name, &s.trace_id, &s.attributes))
                        .collect::<Vec<_>>()
                );
            }
        }
    }
}

async fn take_traces(State(received): State<Arc<Received>>, body: Bytes) -> impl IntoResponse {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, "not an ExportTraceServiceRequest").into_response();
    };
    let mut spans = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = resource_spans
            .resource
            .map(|r| text_map(&r.attributes))
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                spans.push(ReceivedSpan {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    kind: SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified),
                    name: span.name,
                    attributes: text_map(&span.attributes),
                    events: span
                        .events
                        .into_iter()
                        .map(|event| (event.name, text_map(&event.attributes)))
                        .collect(),
                    resource: resource.clone(),
                });
            }
        }
    }
    received
        .spans
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .extend(spans);
    *received
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner) += 1;
    received.arrived.notify_waiters();
    // An empty ExportTraceServiceResponse: everything accepted.
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        Bytes::new(),
    )
        .into_response()
}

fn text_map(attributes: &[KeyValue]) -> BTreeMap<String, String> {
    attributes
        .iter()
        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
        .collect()
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
