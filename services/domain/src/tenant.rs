//! Tenant identity: the id, the subdomain slug, the display name and the lifecycle status.

use std::fmt;

use serde::Serialize;
use uuid::Uuid;

/// A tenant's row id (UUIDv7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TenantId(Uuid);

impl TenantId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for TenantId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Labels that would collide with the platform's own hosts or confuse people.
const RESERVED_SLUGS: &[&str] = &[
    "admin",
    "api",
    "app",
    "assets",
    "auth",
    "billing",
    "blog",
    "cdn",
    "console",
    "dashboard",
    "dev",
    "docs",
    "ftp",
    "help",
    "imap",
    "localhost",
    "login",
    "mail",
    "mx",
    "ns1",
    "ns2",
    "platform",
    "pop",
    "portal",
    "root",
    "smtp",
    "staging",
    "static",
    "status",
    "support",
    "system",
    "tenantdesk",
    "test",
    "webmail",
    "www",
];

/// The DNS label a tenant's portal lives under: `{slug}.{base domain}`.
///
/// Lowercase letters, digits and inner hyphens, 3 to 63 characters, not reserved.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TenantSlug(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSlug {
    #[error("the slug must be 3 to 63 characters long")]
    Length,
    #[error("the slug may contain only lowercase letters, digits and hyphens")]
    Characters,
    #[error("the slug must not start or end with a hyphen")]
    EdgeHyphen,
    #[error("the slug \"{0}\" is reserved")]
    Reserved(String),
}

impl TenantSlug {
    pub fn parse(raw: &str) -> Result<Self, InvalidSlug> {
        if !(3..=63).contains(&raw.len()) {
            return Err(InvalidSlug::Length);
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(InvalidSlug::Characters);
        }
        if raw.starts_with('-') || raw.ends_with('-') {
            return Err(InvalidSlug::EdgeHyphen);
        }
        if RESERVED_SLUGS.contains(&raw) {
            return Err(InvalidSlug::Reserved(raw.to_owned()));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A bounded, single-line, human-readable name, trimmed.
fn parse_display_text(raw: &str, max_chars: usize) -> Result<String, TextProblem> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(TextProblem::Empty);
    }
    if trimmed.chars().count() > max_chars {
        return Err(TextProblem::TooLong(max_chars));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(TextProblem::ControlCharacters);
    }
    Ok(trimmed.to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextProblem {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {0} characters")]
    TooLong(usize),
    #[error("must be a single line without control characters")]
    ControlCharacters,
}

/// A tenant's name as people see it ("Acme Corp"): 1 to 100 characters, one line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TenantName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the name {0}")]
pub struct InvalidTenantName(#[from] pub TextProblem);

impl TenantName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, InvalidTenantName> {
        Ok(Self(parse_display_text(raw, Self::MAX_CHARS)?))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// The name of an API token, shown in lists so an admin knows which integration it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TokenName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the token name {0}")]
pub struct InvalidTokenName(#[from] pub TextProblem);

impl TokenName {
    pub const MAX_CHARS: usize = 80;

    pub fn parse(raw: &str) -> Result<Self, InvalidTokenName> {
        Ok(Self(parse_display_text(raw, Self::MAX_CHARS)?))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether a tenant's portal and API answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    /// Reads the value of the `tenants.status` column, which a CHECK constraint keeps to these two.
    pub fn from_db(raw: &str) -> Option<Self> {
        match raw {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_accepts_dns_labels() {
        for ok in ["acme", "globex", "a-b", "abc123", "123", &"a".repeat(63)] {
            assert!(TenantSlug::parse(ok).is_ok(), "{ok} should parse");
        }
    }

    #[test]
    fn slug_rejects_what_is_not_a_label() {
        assert_eq!(TenantSlug::parse("ab"), Err(InvalidSlug::Length));
        assert_eq!(TenantSlug::parse(&"a".repeat(64)), Err(InvalidSlug::Length));
        assert_eq!(TenantSlug::parse("Acme"), Err(InvalidSlug::Characters));
        assert_eq!(TenantSlug::parse("ac_me"), Err(InvalidSlug::Characters));
        assert_eq!(TenantSlug::parse("ac.me"), Err(InvalidSlug::Characters));
        assert_eq!(TenantSlug::parse("acmé"), Err(InvalidSlug::Characters));
        assert_eq!(TenantSlug::parse("-acme"), Err(InvalidSlug::EdgeHyphen));
        assert_eq!(TenantSlug::parse("acme-"), Err(InvalidSlug::EdgeHyphen));
    }

    #[test]
    fn slug_rejects_reserved_words() {
        for reserved in ["www", "api", "admin", "app", "mail", "static", "status"] {
            assert_eq!(
                TenantSlug::parse(reserved),
                Err(InvalidSlug::Reserved(reserved.into()))
            );
        }
    }

    #[test]
    fn name_is_trimmed_and_bounded() {
        assert_eq!(
            TenantName::parse("  Acme Corp ").map(|n| n.0),
            Ok("Acme Corp".into())
        );
        assert!(TenantName::parse("   ").is_err());
        assert!(TenantName::parse(&"x".repeat(101)).is_err());
        assert!(TenantName::parse(&"é".repeat(100)).is_ok());
        assert!(TenantName::parse("two\nlines").is_err());
    }

    #[test]
    fn status_round_trips_through_the_column() {
        for status in [TenantStatus::Active, TenantStatus::Suspended] {
            assert_eq!(TenantStatus::from_db(status.as_str()), Some(status));
        }
        assert_eq!(TenantStatus::from_db("deleted"), None);
    }
}
