//! Failure counters with fixed windows: too many failed sign-ins (per account, per client
//! address) or reset requests answer 429 with Retry-After. In Redis when REDIS_URL is set, so
//! the limits hold across instances; in process otherwise. Every refusal is counted in
//! `tenantdesk_rate_limit_hits_total`; every Redis round trip is a `redis` span (the key, which
//! names an account or address, is never recorded).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use moka::sync::Cache;
use tracing::{Instrument, Span};

/// A limit: at most `max` events per `window`.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub max: u32,
    pub window: Duration,
}

struct Window {
    count: u32,
    ends: Instant,
}

enum Backend {
    InProcess(Cache<String, Arc<Mutex<Window>>>),
    Redis(redis::Client),
}

pub struct RateLimiter {
    backend: Backend,
}

/// The caller must wait this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RateLimiter {
    pub fn new(redis: Option<redis::Client>) -> Self {
        let backend = match redis {
            Some(client) => Backend::Redis(client),
            None => Backend::InProcess(
                Cache::builder()
                    .max_capacity(1_000_000)
                    .time_to_live(Duration::from_secs(24 * 3600))
                    .build(),
            ),
        };
        Self { backend }
    }

    /// Refuses when `key` already saw `limit.max` events in its current window.
    /// A Redis failure lets the request through (logged): limits must not take sign-in down.
    pub async fn check(&self, key: &str, limit: Limit) -> Result<(), RetryAfter> {
        let (count, remaining) = match &self.backend {
            Backend::InProcess(cache) => match cache.get(key) {
                Some(window) => {
                    let window = window.lock().unwrap_or_else(PoisonError::into_inner);
                    (
                        window.count,
                        window.ends.saturating_duration_since(Instant::now()),
                    )
                }
                None => (0, Duration::ZERO),
            },
            Backend::Redis(client) => match redis_peek(client, key).await {
                Ok(found) => found,
                Err(error) => {
                    tracing::warn!(%error, "rate limit check failed; allowing");
                    (0, Duration::ZERO)
                }
            },
        };
        if count >= limit.max && !remaining.is_zero() {
            crate::telemetry::rate_limit_hit(key);
            Err(RetryAfter(remaining))
        } else {
            Ok(())
        }
    }

    /// Counts one event for `key`.
    pub async fn record(&self, key: &str, limit: Limit) {
        match &self.backend {
            Backend::InProcess(cache) => {
                let now = Instant::now();
                let window = cache.get_with(key.to_owned(), || {
                    Arc::new(Mutex::new(Window {
                        count: 0,
                        ends: now + limit.window,
                    }))
                });
                let mut window = window.lock().unwrap_or_else(PoisonError::into_inner);
                if window.ends <= now {
                    *window = Window {
                        count: 0,
                        ends: now + limit.window,
                    };
                }
                window.count += 1;
            }
            Backend::Redis(client) => {
                if let Err(error) = redis_record(client, key, limit.window).await {
                    tracing::warn!(%error, "rate limit record failed");
                }
            }
        }
    }

    /// Forgets `key` (a successful sign-in clears the account's failures).
    pub async fn clear(&self, key: &str) {
        match &self.backend {
            Backend::InProcess(cache) => cache.invalidate(key),
            Backend::Redis(client) => {
                let deleted = async {
                    if let Ok(mut connection) = client.get_multiplexed_async_connection().await {
                        let _ = redis::cmd("DEL")
                            .arg(redis_key(key))
                            .query_async::<()>(&mut connection)
                            .await;
                    }
                };
                deleted.instrument(redis_span("DEL")).await;
            }
        }
    }
}

fn redis_key(key: &str) -> String {
    format!("tdk:limit:{key}")
}

/// A client span for one Redis round trip: the commands, never the key.
fn redis_span(operation: &'static str) -> Span {
    tracing::info_span!(
        "redis",
        otel.name = operation,
        otel.kind = "client",
        db.system = "redis",
        db.operation = operation,
    )
}

async fn redis_peek(client: &redis::Client, key: &str) -> redis::RedisResult<(u32, Duration)> {
    let peek = async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::pipe()
            .cmd("GET")
            .arg(redis_key(key))
            .cmd("PTTL")
            .arg(redis_key(key))
            .query_async::<(Option<u32>, i64)>(&mut connection)
            .await
    };
    let (count, ttl_ms) = peek.instrument(redis_span("GET PTTL")).await?;
    Ok((
        count.unwrap_or(0),
        Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0)),
    ))
}

async fn redis_record(
    client: &redis::Client,
    key: &str,
    window: Duration,
) -> redis::RedisResult<()> {
    let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
    let record = async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::pipe()
            .cmd("INCR")
            .arg(redis_key(key))
            .ignore()
            .cmd("PEXPIRE")
            .arg(redis_key(key))
            .arg(window_ms)
            .arg("NX")
            .ignore()
            .query_async::<()>(&mut connection)
            .await
    };
    record.instrument(redis_span("INCR PEXPIRE")).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_after_the_limit_and_recovers_after_the_window() {
        let limiter = RateLimiter::new(None);
        let limit = Limit {
            max: 2,
            window: Duration::from_millis(200),
        };
        assert!(limiter.check("k", limit).await.is_ok());
        limiter.record("k", limit).await;
        limiter.record("k", limit).await;
        let refused = limiter.check("k", limit).await.expect_err("over the limit");
        assert!(refused.0 <= Duration::from_millis(200));
        assert!(
            limiter.check("other", limit).await.is_ok(),
            "keys are independent"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(limiter.check("k", limit).await.is_ok(), "the window passed");
        limiter.record("k", limit).await;
        limiter.clear("k").await;
        assert!(limiter.check("k", limit).await.is_ok());
    }
}
