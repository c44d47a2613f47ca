//! Email addresses as people type them, checked by the `email_address` crate (RFC 5321/5322).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// A syntactically valid email address, trimmed, at most 254 characters, with a dotted domain.
/// Case is kept as typed; uniqueness checks compare lowercase.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an email address such as help@example.com")]
pub struct InvalidEmail;

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let trimmed = raw.trim();
        if trimmed.len() > 254 || trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidEmail);
        }
        let parsed = email_address::EmailAddress::from_str(trimmed).map_err(|_| InvalidEmail)?;
        // Mail to a dotless host or an address literal is not something a help desk sends.
        let domain = parsed.domain();
        if !domain.contains('.') || domain.starts_with('[') || domain.ends_with('.') {
            return Err(InvalidEmail);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the last `@`, lowercase.
    pub fn domain(&self) -> String {
        self.0
            .rsplit_once('@')
            .map(|(_, domain)| domain.to_ascii_lowercase())
            .unwrap_or_default()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses() {
        for ok in [
            "help@example.com",
            " Jane.Doe+tickets@Sub.Example.co.uk ",
            "a@b.io",
        ] {
            assert!(EmailAddress::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            EmailAddress::parse("Jo@Example.COM").map(|e| e.domain()),
            Ok("example.com".into())
        );
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a b@example.com",
            "a@example.com\r\nBcc: x@y.z",
            "a@[127.0.0.1]",
        ] {
            assert_eq!(EmailAddress::parse(bad), Err(InvalidEmail), "{bad:?}");
        }
        assert!(EmailAddress::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }
}
