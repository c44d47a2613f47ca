//! CSRF protection for every cookie-authenticated form: a random token in a host-only cookie
//! that each form repeats in a hidden field (double submit), plus an Origin check that the
//! request comes from this very host. API tokens are not ambient credentials and need neither.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{HOST, ORIGIN};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::PageError;

fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-tdk_csrf"
    } else {
        "tdk_csrf"
    }
}

/// The token forms of this request embed.
#[derive(Clone, Debug)]
pub struct CsrfToken(pub String);

/// Gives every page request a CSRF token, setting the cookie when the browser has none yet.
pub async fn ensure_cookie(
    axum::extract::State(state): axum::extract::State<AppState>,
    jar: CookieJar,
    mut request: Request,
    next: Next,
) -> Response {
    let name = cookie_name(state.config.secure_cookies());
    let existing = jar
        .get(name)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() >= 32);
    let token = existing.clone().unwrap_or_else(|| {
        let mut random = [0u8; 32];
        rand::rng().fill_bytes(&mut random);
        URL_SAFE_NO_PAD.encode(random)
    });
    request.extensions_mut().insert(CsrfToken(token.clone()));
    let mut response = next.run(request).await;
    if existing.is_none() {
        let cookie = Cookie::build((name, token))
            .path("/")
            .http_only(true)
            .secure(state.config.secure_cookies())
            .same_site(SameSite::Lax)
            .build();
        if let Ok(value) = cookie.to_string().parse() {
            response
                .headers_mut()
                .append(axum::http::header::SET_COOKIE, value);
        }
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, PageError> {
        parts
            .extensions
            .get::<CsrfToken>()
            .cloned()
            .ok_or(PageError::NotFound)
    }
}

#[derive(Deserialize)]
struct TokenField {
    #[serde(default)]
    csrf: String,
}

/// A form body that passed the CSRF checks.
pub struct CsrfForm<T>(pub T);

fn expired() -> PageError {
    PageError::Forbidden(
        "This form expired or was sent from another site. Go back, reload the page and try again."
            .into(),
    )
}

/// True when Origin names exactly the host the request came to.
fn same_origin(parts: &Parts) -> bool {
    let origin = parts.headers.get(ORIGIN).and_then(|v| v.to_str().ok());
    let host = parts.headers.get(HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(scheme, rest)| {
            matches!(scheme, "http" | "https") && rest.eq_ignore_ascii_case(host)
        }),
        _ => false,
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, PageError> {
        let (mut parts, body) = request.into_parts();
        if !same_origin(&parts) {
            return Err(expired());
        }
        let expected = CsrfToken::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| PageError::BadRequest("The form could not be read.".into()))?;
        let sent: TokenField = serde_urlencoded::from_bytes(&bytes).map_err(|_| expired())?;
        if sent.csrf.is_empty() || !constant_time_eq(sent.csrf.as_bytes(), expected.0.as_bytes()) {
            return Err(expired());
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(Self)
            .map_err(|error| PageError::BadRequest(format!("The form is incomplete: {error}")))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
