//! Keyset pagination for sorted lists: the position after the last row shown, carried between
//! requests as an opaque cursor, so a page stays stable while rows are inserted before it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

/// Where the next page starts: after the row whose sort value is `key` (as text; `None` when
/// the row's value was null) and whose id is `id`. The id breaks ties, so no row is skipped
/// or shown twice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct After {
    pub key: Option<String>,
    pub id: Uuid,
}

impl After {
    /// The opaque cursor handed to clients.
    pub fn encode(&self) -> String {
        let json = serde_json::json!([self.key, self.id]);
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    /// The position a cursor names; `None` for anything this module did not make.
    pub fn decode(cursor: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).ok()?;
        let (key, id): (Option<String>, Uuid) = serde_json::from_slice(&bytes).ok()?;
        Some(Self { key, id })
    }
}

/// One page of a sorted list and where the next one starts.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<After>,
}

impl<T> Page<T> {
    /// Cuts `rows` (fetched with `limit + 1`) to `limit`; when there were more, the next page
    /// starts after the last row kept, whose sort key and id `position` gives.
    pub fn from_rows(
        mut rows: Vec<T>,
        limit: usize,
        position: impl Fn(&T) -> (Option<String>, Uuid),
    ) -> Self {
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more {
            rows.last().map(|row| {
                let (key, id) = position(row);
                After { key, id }
            })
        } else {
            None
        };
        Self { items: rows, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let after = After {
            key: Some("lovelace, ada".into()),
            id: Uuid::now_v7(),
        };
        assert_eq!(After::decode(&after.encode()), Some(after));
        let null_key = After {
            key: None,
            id: Uuid::now_v7(),
        };
        assert_eq!(After::decode(&null_key.encode()), Some(null_key));
        assert_eq!(After::decode("not-a-cursor"), None);
        assert_eq!(After::decode(""), None);
    }

    #[test]
    fn a_page_names_its_successor_only_when_rows_remain() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let page = Page::from_rows(ids.clone(), 2, |id| (None, *id));
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next.map(|a| a.id), Some(ids[1]));
        let last = Page::from_rows(ids, 3, |id| (None, *id));
        assert!(last.next.is_none());
    }
}
