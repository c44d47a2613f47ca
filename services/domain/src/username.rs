//! A username an end user may sign in with besides their email.

use std::fmt;

use serde::Serialize;

/// 3 to 64 characters: letters, digits, dots, hyphens and underscores, starting with a letter
/// or digit. Never contains `@`, so it can never be mistaken for someone's email address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Username(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be 3 to 64 letters, digits, dots, hyphens or underscores, starting with a letter or digit"
)]
pub struct InvalidUsername;

impl Username {
    pub fn parse(raw: &str) -> Result<Self, InvalidUsername> {
        let name = raw.trim();
        let valid = (3..=64).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(InvalidUsername)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_usual_usernames() {
        for ok in ["robin", "robin.c", "r_2-d2", "R2D2", &"a".repeat(64)] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_addresses_and_odd_characters() {
        for bad in [
            "ro",
            "robin@example.com",
            ".robin",
            "rob in",
            "robín",
            &"a".repeat(65),
            "",
        ] {
            assert_eq!(Username::parse(bad), Err(InvalidUsername), "{bad:?}");
        }
    }
}
