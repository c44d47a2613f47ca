//! Cache invalidation across instances: what changed is published on one Redis channel, and
//! every instance subscribed drops the matching cache entries. Without Redis, each instance
//! only drops its own entries (and the others catch up within their TTL).

use std::time::Duration;

use domain::TenantId;
use futures_util::StreamExt;
use uuid::Uuid;

use crate::AppState;

/// The Redis channel instances listen on unless configured otherwise; deployments sharing one
/// Redis choose a channel each.
pub const DEFAULT_CHANNEL: &str = "tenantdesk:invalidate";

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalidation {
    /// Any tenant or its domains: drop every host resolution.
    Tenants,
    /// One tenant's workspace settings.
    Settings(TenantId),
}

impl Invalidation {
    fn encode(self) -> String {
        match self {
            Self::Tenants => "tenants".to_owned(),
            Self::Settings(tenant) => format!("settings:{tenant}"),
        }
    }

    fn decode(message: &str) -> Option<Self> {
        match message.split_once(':') {
            None if message == "tenants" => Some(Self::Tenants),
            Some(("settings", id)) => Uuid::parse_str(id)
                .ok()
                .map(|id| Self::Settings(TenantId::from_uuid(id))),
            _ => None,
        }
    }

    /// Applies the invalidation to this instance's caches.
    pub fn apply(self, state: &AppState) {
        match self {
            Self::Tenants => state.tenants.invalidate_all(),
            Self::Settings(tenant) => state.settings.invalidate(tenant),
        }
    }
}

/// Drops the entries here and tells the other instances (when Redis is configured).
pub async fn announce(state: &AppState, invalidation: Invalidation) {
    invalidation.apply(state);
    if let Some(redis) = &state.redis
        && let Err(error) = publish(redis, &state.config.invalidation_channel, invalidation).await
    {
        tracing::warn!(%error, "cannot announce a cache invalidation over redis");
    }
}

/// Publishes to every subscribed instance.
pub async fn publish(
    redis: &redis::Client,
    channel: &str,
    invalidation: Invalidation,
) -> redis::RedisResult<()> {
    let mut connection = redis.get_multiplexed_async_connection().await?;
    redis::cmd("PUBLISH")
        .arg(channel)
        .arg(invalidation.encode())
        .query_async::<i64>(&mut connection)
        .await?;
    Ok(())
}

/// Listens until the process ends, reconnecting after failures. After each (re)subscription
/// every cache is dropped, since messages may have been missed while disconnected.
pub async fn listen(redis: redis::Client, state: AppState) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match redis.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&state.config.invalidation_channel).await {
                Ok(()) => {
                    state.tenants.invalidate_all();
                    state.settings.invalidate_all();
                    backoff = Duration::from_millis(200);
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let payload: String = message.get_payload().unwrap_or_default();
                        match Invalidation::decode(&payload) {
                            Some(invalidation) => invalidation.apply(&state),
                            None => tracing::warn!(payload, "unknown invalidation message"),
                        }
                    }
                    tracing::warn!("redis subscription ended; reconnecting");
                }
                Err(error) => tracing::warn!(%error, "cannot subscribe to invalidations"),
            },
            Err(error) => tracing::warn!(%error, "cannot connect to redis for invalidations"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        for invalidation in [
            Invalidation::Tenants,
            Invalidation::Settings(TenantId::new()),
        ] {
            assert_eq!(
                Invalidation::decode(&invalidation.encode()),
                Some(invalidation)
            );
        }
        assert_eq!(Invalidation::decode("settings:nonsense"), None);
        assert_eq!(Invalidation::decode("other"), None);
    }
}
