//! List pagination shared by the API: `?limit=` (default 50, at most 200) and an opaque
//! `?cursor=` for keyset pagination; the body is `{"data": [...], "next_cursor": ...}`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::{ApiError, FieldError};

#[derive(Deserialize, IntoParams)]
pub struct PageQuery {
    /// How many items (1 to 200, default 50).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl PageQuery {
    /// One page of `items`, which must be sorted by their id (UUIDv7: creation order).
    pub fn page<T, U>(
        &self,
        items: Vec<T>,
        id: impl Fn(&T) -> Uuid,
        view: impl Fn(T) -> U,
    ) -> Result<Page<U>, ApiError> {
        let limit = match self.limit {
            None => 50,
            Some(limit @ 1..=200) => limit as usize,
            Some(_) => return Err(invalid("limit", "must be between 1 and 200")),
        };
        let after = match &self.cursor {
            None => None,
            Some(raw) => Some(
                Uuid::parse_str(raw)
                    .map_err(|_| invalid("cursor", "is not a cursor this API gave out"))?,
            ),
        };
        let mut rest: Vec<T> = items
            .into_iter()
            .filter(|item| after.is_none_or(|after| id(item) > after))
            .collect();
        let more = rest.len() > limit;
        rest.truncate(limit);
        let next_cursor = if more {
            rest.last().map(|item| id(item).to_string())
        } else {
            None
        };
        Ok(Page {
            data: rest.into_iter().map(view).collect(),
            next_cursor,
        })
    }
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::Validation(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

/// A sorted list's query: `?limit=` (1 to 200, default 50), `?cursor=` (a `next_cursor`
/// given out for the same sort) and `?sort=field` or `?sort=-field` among `sorts`.
pub struct SortedPage<S> {
    pub limit: usize,
    pub after: Option<store::keyset::After>,
    pub sort: S,
    pub descending: bool,
}

impl<S: Copy> SortedPage<S> {
    /// Parses the raw parameters; `sorts` names each field that may be sorted on, the first
    /// being the default.
    pub fn parse(
        limit: Option<u32>,
        cursor: Option<&str>,
        sort: Option<&str>,
        sorts: &[(&str, S)],
    ) -> Result<Self, ApiError> {
        let limit = match limit {
            None => 50,
            Some(limit @ 1..=200) => limit as usize,
            Some(_) => return Err(invalid("limit", "must be between 1 and 200")),
        };
        let after = match cursor.filter(|c| !c.is_empty()) {
            None => None,
            Some(raw) => Some(
                store::keyset::After::decode(raw)
                    .ok_or_else(|| invalid("cursor", "is not a cursor this API gave out"))?,
            ),
        };
        let raw = sort.unwrap_or("").trim();
        let (descending, field) = match raw.strip_prefix('-') {
            Some(field) => (true, field),
            None => (false, raw),
        };
        let sort = if field.is_empty() {
            sorts[0].1
        } else {
            let known: Vec<&str> = sorts.iter().map(|(name, _)| *name).collect();
            sorts
                .iter()
                .find(|(name, _)| *name == field)
                .map(|(_, sort)| *sort)
                .ok_or_else(|| {
                    invalid(
                        "sort",
                        &format!("must be one of {} (prefix - to reverse)", known.join(", ")),
                    )
                })?
        };
        Ok(Self {
            limit,
            after,
            sort,
            descending,
        })
    }
}
