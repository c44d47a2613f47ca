//! Values of the customer directory shared by end users and organizations: validity, ISO
//! country codes, phone numbers, and bounded free text.

use serde::Serialize;

/// Whether a directory record is in use (OTRS "valid"). Invalid users cannot sign in or open
/// tickets; nothing is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Validity {
    Valid,
    Invalid,
    InvalidTemporarily,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be valid, invalid or invalid_temporarily")]
pub struct InvalidValidity;

impl Validity {
    pub const ALL: [Validity; 3] = [Self::Valid, Self::Invalid, Self::InvalidTemporarily];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Invalid => "invalid",
            Self::InvalidTemporarily => "invalid_temporarily",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Valid => "Valid",
            Self::Invalid => "Invalid",
            Self::InvalidTemporarily => "Invalid temporarily",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValidity> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == raw.trim())
            .ok_or(InvalidValidity)
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case ("DE", "US").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct CountryCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an ISO 3166-1 alpha-2 country code such as DE or US")]
pub struct InvalidCountry;

impl CountryCode {
    pub fn parse(raw: &str) -> Result<Self, InvalidCountry> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() == 2 && ISO_3166_ALPHA_2.split(' ').any(|known| known == code) {
            Ok(Self(code))
        } else {
            Err(InvalidCountry)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Every officially assigned ISO 3166-1 alpha-2 code.
const ISO_3166_ALPHA_2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG \
BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY \
CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ \
GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP \
KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU \
MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA \
RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK \
TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// A phone or fax number as people write it: digits with spaces, `()./-`, an optional leading
/// `+`; 3 to 40 characters with at least three digits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a phone number: digits, spaces and ()./- with an optional leading +")]
pub struct InvalidPhoneNumber;

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, InvalidPhoneNumber> {
        let number = raw.trim();
        let body = number.strip_prefix('+').unwrap_or(number);
        let allowed = body
            .chars()
            .all(|c| c.is_ascii_digit() || " ()./-".contains(c));
        let digits = body.chars().filter(char::is_ascii_digit).count();
        if allowed && digits >= 3 && (3..=40).contains(&number.chars().count()) {
            Ok(Self(number.to_owned()))
        } else {
            Err(InvalidPhoneNumber)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free text of at most `max` characters, trimmed; the error says the limit.
pub fn bounded_text(raw: &str, max: usize) -> Result<String, String> {
    let text = raw.trim();
    if text.chars().count() > max {
        Err(format!("must be at most {max} characters"))
    } else {
        Ok(text.to_owned())
    }
}

/// Free text of 1 to `max` characters, trimmed.
pub fn required_text(raw: &str, max: usize) -> Result<String, String> {
    let text = bounded_text(raw, max)?;
    if text.is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes_are_known_iso_codes() {
        assert_eq!(CountryCode::parse(" de ").map(|c| c.0), Ok("DE".into()));
        assert!(CountryCode::parse("XX").is_err());
        assert!(CountryCode::parse("DEU").is_err());
        assert!(CountryCode::parse("").is_err());
    }

    #[test]
    fn phone_numbers_take_the_usual_punctuation() {
        assert!(PhoneNumber::parse("+49 (30) 1234-567").is_ok());
        assert!(PhoneNumber::parse("030/123.45").is_ok());
        assert!(PhoneNumber::parse("call me").is_err());
        assert!(PhoneNumber::parse("++49").is_err());
        assert!(PhoneNumber::parse("12").is_err());
    }

    #[test]
    fn validity_round_trips() {
        for v in Validity::ALL {
            assert_eq!(Validity::parse(v.as_str()), Ok(v));
        }
        assert!(Validity::parse("deleted").is_err());
    }

    #[test]
    fn text_limits_name_themselves() {
        assert_eq!(bounded_text("  a  ", 3), Ok("a".into()));
        assert_eq!(
            bounded_text("abcd", 3),
            Err("must be at most 3 characters".into())
        );
        assert!(required_text("   ", 3).is_err());
    }
}
