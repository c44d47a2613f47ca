//! The web layer's errors: [`ApiError`] answers programs with RFC 9457 problem+json,
//! [`PageError`] answers people with an HTML page. A 5xx is logged once here and stays opaque.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::pages::{Brand, ErrorPage, render};

/// One field a request got wrong.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:tenantdesk:problem:unauthorized",
    "title": "Authentication required",
    "status": 401,
    "detail": "Send an API token of this tenant as `Authorization: Bearer <token>`."
}))]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request itself is malformed (a missing Host header, say).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// No credentials, or credentials this tenant does not know.
    #[error("authentication required")]
    Unauthorized,
    /// Authenticated, but the token's scope lacks the permission named here.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Nothing here, including anything of another tenant.
    #[error("not found")]
    NotFound,
    /// The tenant exists but is suspended.
    #[error("tenant suspended")]
    Suspended,
    /// The request body or parameters are wrong, field by field.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// A unique value is already taken.
    #[error("{field} is already taken")]
    Conflict { field: &'static str },
    /// A rule of the workspace forbids the change; the message says which.
    #[error("refused: {0}")]
    Refused(String),
    /// The caller's version of the object is out of date.
    #[error("stale: {0}")]
    Stale(String),
    /// A dependency (the database) is not ready; the caller may retry.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Our fault. Logged once where it is turned into a response, never shown.
    #[error(transparent)]
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl From<store::StoreError> for ApiError {
    fn from(error: store::StoreError) -> Self {
        match error {
            store::StoreError::Conflict { field } => Self::Conflict { field },
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl ApiError {
    pub fn problem(&self) -> Problem {
        let (slug, title, detail) = match self {
            Self::BadRequest(why) => ("bad-request", "Bad request", why.clone()),
            Self::Unauthorized => (
                "unauthorized",
                "Authentication required",
                "Send an API token of this tenant as `Authorization: Bearer <token>`.".to_owned(),
            ),
            Self::Forbidden(why) => ("forbidden", "Not allowed", why.clone()),
            Self::NotFound => (
                "not-found",
                "Not found",
                "There is nothing at this address.".to_owned(),
            ),
            Self::Suspended => (
                "tenant-suspended",
                "Help desk suspended",
                "This help desk is suspended and does not answer requests.".to_owned(),
            ),
            Self::Validation(_) => (
                "validation",
                "Invalid request",
                "Some fields are invalid; see `errors`.".to_owned(),
            ),
            Self::Conflict { field } => {
                ("conflict", "Conflict", format!("{field} is already taken."))
            }
            Self::Refused(why) => ("refused", "Refused", why.clone()),
            Self::Stale(why) => ("stale-version", "Version conflict", why.clone()),
            Self::Unavailable(why) => ("unavailable", "Service unavailable", why.clone()),
            Self::Internal(_) => (
                "internal",
                "Internal error",
                "Something went wrong on our side. It has been logged.".to_owned(),
            ),
        };
        Problem {
            kind: format!("urn:tenantdesk:problem:{slug}"),
            title: title.to_owned(),
            status: self.status().as_u16(),
            detail,
            errors: match self {
                Self::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Suspended => StatusCode::FORBIDDEN,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict { .. } | Self::Stale(_) | Self::Refused(_) => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(error) = &self {
            tracing::error!(error = %error, "request failed");
        }
        let mut response = (self.status(), Json(self.problem())).into_response();
        if matches!(self, Self::Unauthorized) {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// A page that could not be shown, answered with an error page a person can read.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Not signed in (or the session ended): go to the sign-in page, then come back.
    #[error("sign-in required")]
    SignInRequired { login: &'static str, next: String },
    /// Signed in, but not allowed; the message says why.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Too many attempts; try again after the duration.
    #[error("too many requests")]
    TooManyRequests(std::time::Duration),
    #[error("not found")]
    NotFound,
    #[error("suspended")]
    Suspended,
    #[error(transparent)]
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl From<store::StoreError> for PageError {
    fn from(error: store::StoreError) -> Self {
        Self::Internal(Box::new(error))
    }
}

impl From<askama::Error> for PageError {
    fn from(error: askama::Error) -> Self {
        Self::Internal(Box::new(error))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            Self::SignInRequired { login, next } => {
                let location = format!("{login}?next={}", urlencode(next));
                return axum::response::Redirect::to(&location).into_response();
            }
            Self::Forbidden(why) => (StatusCode::FORBIDDEN, "Not allowed", why.clone()),
            Self::TooManyRequests(wait) => {
                let seconds = wait.as_secs().max(1);
                let page = ErrorPage {
                    brand: Brand::platform(),
                    title: "Too many attempts",
                    message: &format!(
                        "Too many attempts. Please wait {} and try again.",
                        human_wait(seconds)
                    ),
                };
                let html = render(&page).map(|h| h.0).unwrap_or_default();
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, seconds.to_string())],
                    Html(html),
                )
                    .into_response();
            }
            Self::BadRequest(why) => (StatusCode::BAD_REQUEST, "Bad request", why.clone()),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is no help desk page at this address.".to_owned(),
            ),
            Self::Suspended => (
                StatusCode::FORBIDDEN,
                "Help desk unavailable",
                "This help desk is currently suspended. Please contact the company directly."
                    .to_owned(),
            ),
            Self::Internal(error) => {
                tracing::error!(error = %error, "page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Something went wrong on our side. Please try again in a moment.".to_owned(),
                )
            }
        };
        let page = ErrorPage {
            brand: Brand::platform(),
            title,
            message: &message,
        };
        match render(&page) {
            Ok(html) => (status, html).into_response(),
            Err(_) => (status, Html(title.to_owned())).into_response(),
        }
    }
}

fn urlencode(path: &str) -> String {
    serde_urlencoded::to_string([("", path)])
        .map(|s| s.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

fn human_wait(seconds: u64) -> String {
    if seconds < 90 {
        format!("{seconds} seconds")
    } else {
        format!("{} minutes", seconds.div_ceil(60))
    }
}
