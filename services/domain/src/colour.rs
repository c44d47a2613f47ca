//! Brand colours as `#rrggbb`, the only form the portal's CSS variables accept.

use std::fmt;

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct HexColour {
    red: u8,
    green: u8,
    blue: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a colour must be written as #rrggbb, for example #1f6feb")]
pub struct InvalidColour;

impl HexColour {
    pub fn parse(raw: &str) -> Result<Self, InvalidColour> {
        let hex = raw.trim().strip_prefix('#').ok_or(InvalidColour)?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(InvalidColour);
        }
        let channel =
            |at: usize| u8::from_str_radix(&hex[at..at + 2], 16).map_err(|_| InvalidColour);
        Ok(Self {
            red: channel(0)?,
            green: channel(2)?,
            blue: channel(4)?,
        })
    }

    /// WCAG 2 contrast ratio of white text on this colour (1.0 to 21.0).
    pub fn contrast_with_white(self) -> f64 {
        fn linear(channel: u8) -> f64 {
            let c = f64::from(channel) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        }
        let luminance =
            0.2126 * linear(self.red) + 0.7152 * linear(self.green) + 0.0722 * linear(self.blue);
        1.05 / (luminance + 0.05)
    }
}

impl fmt::Display for HexColour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.red, self.green, self.blue)
    }
}

impl From<HexColour> for String {
    fn from(colour: HexColour) -> Self {
        colour.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises_to_lowercase() {
        assert_eq!(
            HexColour::parse("#1F6FEB").map(|c| c.to_string()),
            Ok("#1f6feb".into())
        );
    }

    #[test]
    fn rejects_other_notations() {
        for bad in [
            "1f6feb",
            "#fff",
            "#1f6febaa",
            "red",
            "#gggggg",
            "",
            "#12345é",
        ] {
            assert_eq!(HexColour::parse(bad), Err(InvalidColour), "{bad}");
        }
    }

    #[test]
    fn contrast_matches_wcag_extremes() {
        let black = HexColour::parse("#000000").expect("valid");
        let white = HexColour::parse("#ffffff").expect("valid");
        assert!((black.contrast_with_white() - 21.0).abs() < 0.01);
        assert!((white.contrast_with_white() - 1.0).abs() < 0.01);
    }
}
