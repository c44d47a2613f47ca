//! Search terms and custom-field filters: what a person types, turned into the ILIKE pattern
//! the `directory` schema's functions take, and the conditions on custom (jsonb) values that the
//! directory and ticket lists share.

use serde_json::Value;
use sqlx::{Postgres, QueryBuilder};

/// A case-insensitive substring pattern for `term`, with `*` as a wildcard as in OTRS:
/// `%`, `_` and `\` match themselves, `*` matches any run of characters, and the whole term
/// may appear anywhere ("ada*lace" finds "Ada Lovelace" and "Grenada Place").
pub fn like_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.trim().chars() {
        match c {
            '%' | '_' | '\\' => {
                pattern.push('\\');
                pattern.push(c);
            }
            '*' => pattern.push('%'),
            _ => pattern.push(c),
        }
    }
    pattern.push('%');
    pattern
}

/// One custom-field condition of the directory list.
#[derive(Clone, Debug, PartialEq)]
pub enum CustomFilter {
    /// The stored value contains this JSON value (jsonb `@>`): equal for scalars; for a
    /// multi-choice field pass a one-element array to find records holding that option.
    Equals {
        key: String,
        value: Value,
    },
    /// A number, decimal or date at least / at most this (dates as "YYYY-MM-DD").
    AtLeast {
        key: String,
        value: RangeValue,
    },
    AtMost {
        key: String,
        value: RangeValue,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum RangeValue {
    Number(f64),
    Date(String),
}

/// Appends ` and ...` for the range filters among `filters` (equality runs in the search
/// functions) on the jsonb column `column`, for example `u.custom`. Numbers stored as text
/// compare as numbers; dates compare as their ISO text.
pub fn push_custom_ranges(
    sql: &mut QueryBuilder<'_, Postgres>,
    column: &str,
    filters: &[CustomFilter],
) {
    for filter in filters {
        let (key, value, operator) = match filter {
            CustomFilter::Equals { .. } => continue,
            CustomFilter::AtLeast { key, value } => (key, value, ">="),
            CustomFilter::AtMost { key, value } => (key, value, "<="),
        };
        match value {
            RangeValue::Number(number) => {
                sql.push(format!(" and (case when jsonb_typeof({column} -> "))
                    .push_bind(key.clone())
                    .push(format!(") = 'number' then ({column} ->> "))
                    .push_bind(key.clone())
                    .push(format!(")::numeric when jsonb_typeof({column} -> "))
                    .push_bind(key.clone())
                    .push(format!(") = 'string' and {column} ->> "))
                    .push_bind(key.clone())
                    .push(format!(" ~ '^-?[0-9]+(\\.[0-9]+)?$' then ({column} ->> "))
                    .push_bind(key.clone())
                    .push(format!(")::numeric end) {operator} "))
                    .push_bind(*number)
                    .push("::numeric");
            }
            RangeValue::Date(date) => {
                sql.push(format!(" and ({column} ->> "))
                    .push_bind(key.clone())
                    .push(format!(") {operator} "))
                    .push_bind(date.clone());
            }
        }
    }
}

/// The equality filters among `filters` as one jsonb object for `@>`, if there are any.
pub fn custom_equalities(filters: &[CustomFilter]) -> Option<Value> {
    let equal: serde_json::Map<String, Value> = filters
        .iter()
        .filter_map(|filter| match filter {
            CustomFilter::Equals { key, value } => Some((key.clone(), value.clone())),
            _ => None,
        })
        .collect();
    (!equal.is_empty()).then_some(Value::Object(equal))
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn stars_are_wildcards_and_like_characters_are_literal() {
        assert_eq!(like_pattern("ada"), "%ada%");
        assert_eq!(like_pattern(" ada*lace "), "%ada%lace%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(like_pattern("*"), "%%%");
    }
}
