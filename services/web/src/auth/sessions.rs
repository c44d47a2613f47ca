//! Sessions: an opaque random token in a host-only cookie, the session itself in Redis (when
//! REDIS_URL is set, so every instance sees it) or in process. Only the token's SHA-256 is a
//! key. Idle timeout by TTL refreshed on use; absolute timeout from the creation time.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use moka::sync::Cache;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The three kinds of people who sign in, each with a cookie of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    Agent,
    EndUser,
    Operator,
}

impl PrincipalKind {
    /// Under HTTPS the `__Host-` prefix makes browsers refuse the cookie for any other host.
    pub fn cookie_name(self, secure: bool) -> &'static str {
        match (self, secure) {
            (Self::Agent, false) => "tdk_agent",
            (Self::Agent, true) => "__Host-tdk_agent",
            (Self::EndUser, false) => "tdk_user",
            (Self::EndUser, true) => "__Host-tdk_user",
            (Self::Operator, false) => "tdk_operator",
            (Self::Operator, true) => "__Host-tdk_operator",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub kind: PrincipalKind,
    /// The tenant the session belongs to; `None` for operators (the base domain).
    pub tenant_id: Option<Uuid>,
    pub principal_id: Uuid,
    pub created_at: DateTime<Utc>,
}

enum Backend {
    InProcess(Cache<String, Session>),
    Redis(redis::Client),
}

pub struct Sessions {
    backend: Backend,
    idle: Duration,
    absolute: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("the session store failed: {0}")]
pub struct SessionError(String);

impl From<redis::RedisError> for SessionError {
    fn from(error: redis::RedisError) -> Self {
        Self(error.to_string())
    }
}

fn key(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    format!(
        "tdk:session:{}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

impl Sessions {
    pub fn new(redis: Option<redis::Client>, idle: Duration, absolute: Duration) -> Self {
        let backend = match redis {
            Some(client) => Backend::Redis(client),
            None => Backend::InProcess(
                Cache::builder()
                    .max_capacity(1_000_000)
                    .time_to_idle(idle)
                    .build(),
            ),
        };
        Self {
            backend,
            idle,
            absolute,
        }
    }

    /// Stores the session under a fresh token and returns the token for the cookie.
    pub async fn create(&self, session: Session) -> Result<String, SessionError> {
        let mut random = [0u8; 32];
        rand::rng().fill_bytes(&mut random);
        let token = URL_SAFE_NO_PAD.encode(random);
        match &self.backend {
            Backend::InProcess(cache) => cache.insert(key(&token), session),
            Backend::Redis(client) => {
                let value =
                    serde_json::to_string(&session).map_err(|e| SessionError(e.to_string()))?;
                let mut connection = client.get_multiplexed_async_connection().await?;
                redis::cmd("SET")
                    .arg(key(&token))
                    .arg(value)
                    .arg("EX")
                    .arg(self.idle.as_secs().max(1))
                    .query_async::<()>(&mut connection)
                    .await?;
            }
        }
        Ok(token)
    }

    /// The live session of `token`, its idle timer restarted; `None` when unknown or expired.
    pub async fn find(&self, token: &str) -> Result<Option<Session>, SessionError> {
        let session = match &self.backend {
            Backend::InProcess(cache) => cache.get(&key(token)),
            Backend::Redis(client) => {
                let mut connection = client.get_multiplexed_async_connection().await?;
                let value: Option<String> = redis::cmd("GETEX")
                    .arg(key(token))
                    .arg("EX")
                    .arg(self.idle.as_secs().max(1))
                    .query_async(&mut connection)
                    .await?;
                value.and_then(|v| serde_json::from_str(&v).ok())
            }
        };
        let absolute = chrono::Duration::from_std(self.absolute).unwrap_or(chrono::Duration::MAX);
        Ok(session.filter(|s| s.created_at + absolute > Utc::now()))
    }

    pub async fn end(&self, token: &str) -> Result<(), SessionError> {
        match &self.backend {
            Backend::InProcess(cache) => cache.invalidate(&key(token)),
            Backend::Redis(client) => {
                let mut connection = client.get_multiplexed_async_connection().await?;
                redis::cmd("DEL")
                    .arg(key(token))
                    .query_async::<()>(&mut connection)
                    .await?;
            }
        }
        Ok(())
    }
}

/// The session token and live session of `kind` in these cookies, if any.
pub async fn session_of_jar(
    jar: &axum_extra::extract::CookieJar,
    state: &crate::AppState,
    kind: PrincipalKind,
) -> Result<Option<(String, Session)>, crate::error::PageError> {
    let Some(token) = jar
        .get(kind.cookie_name(state.config.secure_cookies()))
        .map(|c| c.value().to_owned())
    else {
        return Ok(None);
    };
    let session = state
        .sessions
        .find(&token)
        .await
        .map_err(|e| crate::error::PageError::Internal(Box::new(e)))?;
    Ok(session.filter(|s| s.kind == kind).map(|s| (token, s)))
}
