//! The mail delivery worker: claims due messages of every tenant from the outbox, sends them
//! over SMTP (or into the local mailbox), and settles each claim as sent, to be retried with
//! backoff, or dead. Several workers may run side by side: a claim is exclusive, and a worker
//! that dies mid-send leaves its messages claimable again once their lease runs out.
//!
//! Each message is one `mail.send` span (a trace of its own: mail id, tenant id, transport,
//! attempt and outcome; never addresses or content) and counts in the `tenantdesk_mail_*`
//! metrics.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use domain::EmailAddress;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncFileTransport, AsyncTransport, Message, Tokio1Executor};
use rand::Rng;
use store::Store;
use store::outbox::ClaimedEmail;
use tokio::sync::watch;
use tracing::Instrument;
use tracing::field::Empty;

use crate::telemetry::MailOutcome;

/// How the worker paces itself.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Messages claimed at once.
    pub batch: i32,
    /// How long a claim is ours; a send must finish well within it.
    pub lease: Duration,
    /// Attempts before a message that keeps failing is dead.
    pub max_attempts: i32,
    /// First retry delay; it doubles per attempt, with jitter, up to `retry_cap`.
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// Pause when nothing is due.
    pub idle_poll: Duration,
    /// From address of mail whose tenant has no verified support address.
    pub platform_from: EmailAddress,
}

impl WorkerConfig {
    pub fn new(platform_from: EmailAddress, max_attempts: i32) -> Self {
        Self {
            batch: 20,
            lease: Duration::from_secs(120),
            max_attempts,
            retry_base: Duration::from_secs(30),
            retry_cap: Duration::from_secs(3600),
            idle_poll: Duration::from_secs(1),
            platform_from,
        }
    }
}

/// Where mail goes.
#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// No SMTP configured: `.eml` files in a directory, read with `tenantdesk mailbox`.
    Mailbox(AsyncFileTransport<Tokio1Executor>),
}

impl Transport {
    /// SMTP when a URL is given (`smtp://user:pass@host:587?tls=required`, `smtps://host`),
    /// otherwise the local mailbox directory.
    pub fn new(smtp_url: Option<&str>, mailbox_dir: &Path) -> anyhow::Result<Self> {
        match smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .context("TENANTDESK_SMTP_URL is not a valid SMTP URL (smtp://user:password@host:port?tls=required)")?
                    .timeout(Some(Duration::from_secs(30)))
                    .build();
                Ok(Self::Smtp(transport))
            }
            None => {
                std::fs::create_dir_all(mailbox_dir)
                    .with_context(|| format!("creating the mailbox {}", mailbox_dir.display()))?;
                Ok(Self::Mailbox(AsyncFileTransport::new(mailbox_dir)))
            }
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            Self::Smtp(_) => "SMTP",
            Self::Mailbox(_) => "the local mailbox",
        }
    }

    /// The transport's name in spans and metrics.
    fn label(&self) -> &'static str {
        match self {
            Self::Smtp(_) => "smtp",
            Self::Mailbox(_) => "mailbox",
        }
    }
}

/// The local mailbox directory of a data directory.
pub fn mailbox_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("mailbox")
}

/// Names the tenant on every message, for operators' filters.
#[derive(Clone)]
struct TenantHeader(String);

impl Header for TenantHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Tenantdesk-Tenant")
    }

    fn parse(value: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(value.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// Why one delivery failed.
enum Failure {
    /// Retrying cannot help (a refused recipient, an unparsable address).
    Permanent(String),
    /// Worth another try later (the server is down, a 4xx answer).
    Transient(String),
}

fn build_message(email: &ClaimedEmail, platform_from: &EmailAddress) -> Result<Message, Failure> {
    let address = |raw: &str| {
        raw.parse()
            .map_err(|e| Failure::Permanent(format!("invalid address {raw}: {e}")))
    };
    let from_address = email
        .from_address
        .as_deref()
        .unwrap_or(platform_from.as_str());
    let mut builder = Message::builder()
        .from(Mailbox::new(
            Some(email.from_name.clone()),
            address(from_address)?,
        ))
        .to(Mailbox::new(None, address(&email.recipient)?))
        .subject(email.subject.clone())
        .message_id(Some(email.message_id.clone()))
        .date_now()
        .header(TenantHeader(email.tenant_id.to_string()));
    if let Some(reply_to) = &email.reply_to {
        builder = builder.reply_to(Mailbox::new(
            Some(email.from_name.clone()),
            address(reply_to)?,
        ));
    }
    builder
        .multipart(MultiPart::alternative_plain_html(
            email.text_body.clone(),
            email.html_body.clone(),
        ))
        .map_err(|e| Failure::Permanent(format!("cannot build the message: {e}")))
}

async fn send(transport: &Transport, message: Message) -> Result<(), Failure> {
    match transport {
        Transport::Smtp(smtp) => smtp.send(message).await.map(drop).map_err(|error| {
            if error.is_permanent() {
                Failure::Permanent(format!("the SMTP server refused the message: {error}"))
            } else {
                Failure::Transient(format!("SMTP delivery failed: {error}"))
            }
        }),
        Transport::Mailbox(mailbox) => {
            mailbox.send(message).await.map(drop).map_err(|error| {
                Failure::Transient(format!("cannot write to the mailbox: {error}"))
            })
        }
    }
}

/// The delay before attempt `attempts + 1`: exponential, capped, with ±50% jitter so that
/// messages failing together do not retry together.
fn retry_delay(config: &WorkerConfig, attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let delay = config
        .retry_base
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(config.retry_cap);
    delay.mul_f64(rand::rng().random_range(0.5..1.5))
}

/// Claims one batch and settles every message of it; returns how many were claimed.
pub async fn deliver_batch(
    store: &Store,
    transport: &Transport,
    config: &WorkerConfig,
) -> anyhow::Result<usize> {
    let lease = i32::try_from(config.lease.as_secs()).unwrap_or(i32::MAX);
    let claimed = store
        .claim_emails(config.batch, lease)
        .await
        .context("claiming mail")?;
    crate::telemetry::mail_claimed(claimed.len());
    for email in &claimed {
        let span = tracing::info_span!(
            parent: None,
            "mail.send",
            otel.kind = "client",
            otel.status_code = Empty,
            mail.id = %email.id,
            tenant.id = %email.tenant_id,
            mail.transport = transport.label(),
            mail.attempt = email.attempts,
            mail.outcome = Empty,
        );
        deliver_one(store, transport, config, email)
            .instrument(span)
            .await;
    }
    Ok(claimed.len())
}

/// Sends one claimed message and settles its claim.
async fn deliver_one(
    store: &Store,
    transport: &Transport,
    config: &WorkerConfig,
    email: &ClaimedEmail,
) {
    let outcome = match build_message(email, &config.platform_from) {
        Ok(message) => {
            let started = Instant::now();
            let sent = send(transport, message).await;
            crate::telemetry::mail_send_time(transport.label(), started.elapsed());
            sent
        }
        Err(failure) => Err(failure),
    };
    let delivered = match &outcome {
        Ok(()) => MailOutcome::Sent,
        Err(Failure::Transient(_)) if email.attempts < config.max_attempts => MailOutcome::Retry,
        Err(_) => MailOutcome::Dead,
    };
    crate::telemetry::mail_delivered(delivered);
    let span = tracing::Span::current();
    span.record("mail.outcome", delivered.as_str());
    if !matches!(delivered, MailOutcome::Sent) {
        span.record("otel.status_code", "ERROR");
    }
    let settled = match outcome {
        Ok(()) => store.mark_sent(email).await,
        Err(Failure::Permanent(reason)) => {
            tracing::warn!(mail.id = %email.id, tenant.id = %email.tenant_id, %reason, "mail is dead");
            store.mark_failed(email, &reason, None).await
        }
        Err(Failure::Transient(reason)) if email.attempts >= config.max_attempts => {
            let reason = format!("{reason} (gave up after {} attempts)", email.attempts);
            tracing::warn!(mail.id = %email.id, tenant.id = %email.tenant_id, %reason, "mail is dead");
            store.mark_failed(email, &reason, None).await
        }
        Err(Failure::Transient(reason)) => {
            let delay = retry_delay(config, email.attempts);
            let retry_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
            tracing::info!(mail.id = %email.id, attempts = email.attempts, %reason, "mail will be retried");
            store.mark_failed(email, &reason, Some(retry_at)).await
        }
    };
    match settled {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(mail.id = %email.id, "lost the claim before settling; another worker owns the message now")
        }
        Err(error) => {
            tracing::error!(mail.id = %email.id, %error, "cannot settle a claimed message; it is retried after its lease")
        }
    }
}

/// How often the worker refreshes the outbox depth gauges and folds the usage counters.
const DEPTH_EVERY: Duration = Duration::from_secs(10);

/// Delivers until `shutdown` turns true, finishing the batch in hand first.
pub async fn run(
    store: Store,
    transport: Transport,
    config: WorkerConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    tracing::info!(transport = transport.describe(), "mail worker started");
    let mut depth_read: Option<std::time::Instant> = None;
    while !*shutdown.borrow() {
        if depth_read.is_none_or(|at| at.elapsed() >= DEPTH_EVERY) {
            depth_read = Some(std::time::Instant::now());
            match store.mail_depth().await {
                Ok(rows) => crate::telemetry::outbox_depth(&rows),
                Err(error) => tracing::warn!(%error, "cannot read the outbox depth"),
            }
            // The console's usage figures (migration 18): the triggers only append deltas.
            if let Err(error) = store.roll_up_usage().await {
                tracing::warn!(%error, "cannot fold the usage counters");
            }
        }
        let pause = match deliver_batch(&store, &transport, &config).await {
            Ok(0) => config.idle_poll,
            Ok(_) => Duration::ZERO,
            Err(error) => {
                crate::telemetry::mail_worker_error();
                tracing::error!(error = format!("{error:#}"), "mail worker cycle failed");
                config.idle_poll.max(Duration::from_secs(1))
            }
        };
        if !pause.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
    tracing::info!("mail worker stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_grow_and_stay_capped() {
        let config = WorkerConfig::new(EmailAddress::parse("a@b.example").expect("valid"), 5);
        let first = retry_delay(&config, 1);
        assert!(
            first >= Duration::from_secs(15) && first <= Duration::from_secs(45),
            "{first:?}"
        );
        let fourth = retry_delay(&config, 4);
        assert!(
            fourth >= Duration::from_secs(120) && fourth <= Duration::from_secs(360),
            "{fourth:?}"
        );
        assert!(retry_delay(&config, 40) <= Duration::from_secs(5400));
    }
}
