//! JSON request bodies whose rejections are problem documents, and the If-Match header.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use axum::http::header::IF_MATCH;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// Like `axum::Json`, but a malformed body is a 400 problem document.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::BadRequest(
                    "Send the body as JSON with `Content-Type: application/json`.".into(),
                ),
                other => ApiError::BadRequest(format!(
                    "The body is not valid JSON: {}",
                    other.body_text()
                )),
            }),
        }
    }
}

/// The version an `If-Match: "N"` header names, if any.
pub fn if_match_version(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|v| v.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::Validation(vec![FieldError {
                field: "If-Match".into(),
                message: "must be the ETag of the current version, such as \"3\"".into(),
            }])
        })
}

/// Collects field errors while parsing a JSON object field by field.
pub struct FieldParser<'a> {
    object: &'a serde_json::Map<String, serde_json::Value>,
    pub errors: Vec<FieldError>,
}

impl<'a> FieldParser<'a> {
    /// Refuses fields not in `known` up front, so a typo never passes silently.
    pub fn new(object: &'a serde_json::Map<String, serde_json::Value>, known: &[&str]) -> Self {
        let errors = object
            .keys()
            .filter(|key| !known.contains(&key.as_str()))
            .map(|key| FieldError {
                field: key.clone(),
                message: "is not a known field".into(),
            })
            .collect();
        Self { object, errors }
    }

    fn error(&mut self, field: &str, message: impl ToString) {
        self.errors.push(FieldError {
            field: field.to_owned(),
            message: message.to_string(),
        });
    }

    /// A string field parsed by `parse`; absent is `None`.
    pub fn string<T, E: ToString>(
        &mut self,
        field: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        match self.object.get(field)? {
            serde_json::Value::String(raw) => match parse(raw) {
                Ok(value) => Some(value),
                Err(error) => {
                    self.error(field, error);
                    None
                }
            },
            _ => {
                self.error(field, "must be a string");
                None
            }
        }
    }

    /// A nullable string field: absent is `None`, null is `Some(None)`; empty string clears too.
    pub fn nullable_string<T, E: ToString>(
        &mut self,
        field: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<Option<T>> {
        match self.object.get(field)? {
            serde_json::Value::Null => Some(None),
            serde_json::Value::String(raw) if raw.trim().is_empty() => Some(None),
            serde_json::Value::String(raw) => match parse(raw) {
                Ok(value) => Some(Some(value)),
                Err(error) => {
                    self.error(field, error);
                    None
                }
            },
            _ => {
                self.error(field, "must be a string or null");
                None
            }
        }
    }

    pub fn boolean(&mut self, field: &str) -> Option<bool> {
        match self.object.get(field)? {
            serde_json::Value::Bool(value) => Some(*value),
            _ => {
                self.error(field, "must be true or false");
                None
            }
        }
    }

    pub fn integer(&mut self, field: &str) -> Option<i64> {
        match self.object.get(field)? {
            serde_json::Value::Number(number) if number.is_i64() => number.as_i64(),
            _ => {
                self.error(field, "must be an integer");
                None
            }
        }
    }

    /// An integer field that must lie in `range`.
    pub fn integer_in<T: TryFrom<i64>>(
        &mut self,
        field: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Option<T> {
        let value = self.integer(field)?;
        match T::try_from(value).ok().filter(|_| range.contains(&value)) {
            Some(value) => Some(value),
            None => {
                self.error(
                    field,
                    format!("must be between {} and {}", range.start(), range.end()),
                );
                None
            }
        }
    }

    /// The parsed value, or every field error found.
    pub fn finish<T>(self, value: T) -> Result<T, ApiError> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}
