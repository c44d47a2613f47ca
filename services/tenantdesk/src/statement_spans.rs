//! One `db.statement` span per SQL statement, for exported traces. sqlx reports every finished
//! statement as a `sqlx::query` event (its first words as `summary`, its duration as
//! `elapsed_secs`); this layer turns each such event into a client span that ends now, began
//! `elapsed_secs` ago, and sits under the span the statement ran in (the `db.transaction` of a
//! tenant transaction). The span carries the statement's summary (SQL keywords and names:
//! values are always bound parameters, never in the text) and never the parameters.

use std::time::{Duration, SystemTime};

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, SpanKind, Tracer as _};
use opentelemetry_sdk::trace::SdkTracer;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// The layer; give it the tracer the OpenTelemetry layer exports with.
pub struct StatementSpans {
    tracer: SdkTracer,
}

impl StatementSpans {
    pub fn new(tracer: SdkTracer) -> Self {
        Self { tracer }
    }
}

#[derive(Default)]
struct Statement {
    summary: Option<String>,
    elapsed_secs: Option<f64>,
}

impl Visit for Statement {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed_secs = Some(value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "summary" {
            self.summary = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" && self.summary.is_none() {
            self.summary = Some(format!("{value:?}").trim_matches('"').to_owned());
        }
    }
}

/// The statement's first keyword, upper case: `SELECT`, `INSERT`, `BEGIN;` becomes `BEGIN`.
fn operation(summary: &str) -> String {
    summary
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_end_matches(';')
        .to_ascii_uppercase()
}

impl<S: Subscriber> Layer<S> for StatementSpans {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let mut statement = Statement::default();
        event.record(&mut statement);
        let (Some(summary), Some(elapsed)) = (statement.summary, statement.elapsed_secs) else {
            return;
        };
        let end = SystemTime::now();
        let start = end
            .checked_sub(Duration::from_secs_f64(elapsed.max(0.0)))
            .unwrap_or(end);
        let parent = tracing::Span::current().context();
        let mut span = self
            .tracer
            .span_builder("db.statement")
            .with_kind(SpanKind::Client)
            .with_start_time(start)
            .with_attributes([
                KeyValue::new("db.system", "postgresql"),
                KeyValue::new("db.operation.name", operation(&summary)),
                KeyValue::new("db.query.summary", summary),
            ])
            .start_with_context(&self.tracer, &parent);
        span.end_with_timestamp(end);
    }
}

#[cfg(test)]
mod tests {
    use super::operation;

    #[test]
    fn the_operation_is_the_first_keyword() {
        assert_eq!(operation("select id, name from …"), "SELECT");
        assert_eq!(
            operation("BEGIN; SELECT set_config('app.tenant_id', …"),
            "BEGIN"
        );
        assert_eq!(operation(""), "");
    }
}
