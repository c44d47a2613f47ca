//! Values of a tenant's workspace settings: locale, time zone, logo URL, welcome text and the
//! registration mode.

use std::fmt;

use serde::Serialize;

/// A language tag such as `en`, `de`, `pt-BR` or `zh-Hant-TW`, case-normalised.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Locale(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a language tag such as en, de or pt-BR")]
pub struct InvalidLocale;

impl Locale {
    pub fn parse(raw: &str) -> Result<Self, InvalidLocale> {
        let mut parts = raw.trim().split(['-', '_']);
        let language = parts
            .next()
            .filter(|l| (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphabetic()));
        let mut tag = language.ok_or(InvalidLocale)?.to_ascii_lowercase();
        let mut rest: Vec<&str> = parts.collect();
        if let Some(script) = rest
            .first()
            .filter(|s| s.len() == 4 && s.chars().all(|c| c.is_ascii_alphabetic()))
        {
            tag.push('-');
            tag.push_str(&script[..1].to_ascii_uppercase());
            tag.push_str(&script[1..].to_ascii_lowercase());
            rest.remove(0);
        }
        if let Some(region) = rest.first() {
            let alpha = region.len() == 2 && region.chars().all(|c| c.is_ascii_alphabetic());
            let numeric = region.len() == 3 && region.chars().all(|c| c.is_ascii_digit());
            if !(alpha || numeric) {
                return Err(InvalidLocale);
            }
            tag.push('-');
            tag.push_str(&region.to_ascii_uppercase());
            rest.remove(0);
        }
        if !rest.is_empty() {
            return Err(InvalidLocale);
        }
        Ok(Self(tag))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `pt-BR` -> `pt`; `None` for a bare language.
    pub fn language_only(&self) -> Option<Locale> {
        self.0
            .split_once('-')
            .map(|(language, _)| Locale(language.to_owned()))
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// An IANA time zone name known to the tz database, such as `Europe/Berlin`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TimeZoneName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an IANA time zone name such as Europe/Berlin or UTC")]
pub struct InvalidTimeZone;

impl TimeZoneName {
    pub fn parse(raw: &str) -> Result<Self, InvalidTimeZone> {
        let zone: chrono_tz::Tz = raw.trim().parse().map_err(|_| InvalidTimeZone)?;
        Ok(Self(zone.name().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An absolute http(s) URL of at most 2,048 characters (a logo, say).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct WebUrl(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an http:// or https:// URL of at most 2048 characters")]
pub struct InvalidWebUrl;

impl WebUrl {
    pub fn parse(raw: &str) -> Result<Self, InvalidWebUrl> {
        let trimmed = raw.trim();
        if trimmed.len() > 2048 {
            return Err(InvalidWebUrl);
        }
        let url = url::Url::parse(trimmed).map_err(|_| InvalidWebUrl)?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(InvalidWebUrl);
        }
        Ok(Self(url.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The portal's welcome text: plain text or a small Markdown subset, at most 5,000 characters.
/// Rendered with raw HTML shown as text and only http, https and mailto links.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct WelcomeText(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be at most {max} characters", max = WelcomeText::MAX_CHARS)]
pub struct InvalidWelcomeText;

impl WelcomeText {
    pub const MAX_CHARS: usize = 5000;

    pub fn parse(raw: &str) -> Result<Self, InvalidWelcomeText> {
        let text = raw.trim();
        if text.chars().count() > Self::MAX_CHARS {
            return Err(InvalidWelcomeText);
        }
        Ok(Self(text.replace("\r\n", "\n")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Safe HTML: raw HTML in the source is escaped; links other than http(s)/mailto lose
    /// their target; images are shown as their alt text.
    pub fn to_html(&self) -> String {
        use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};
        let safe_link = |url: &CowStr<'_>| {
            let lower = url.trim().to_ascii_lowercase();
            lower.starts_with("http://")
                || lower.starts_with("https://")
                || lower.starts_with("mailto:")
        };
        let events =
            Parser::new_ext(&self.0, Options::ENABLE_STRIKETHROUGH).filter_map(
                |event| match event {
                    Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
                    Event::Start(Tag::Link {
                        link_type,
                        dest_url,
                        title,
                        id,
                    }) => {
                        let dest_url = if safe_link(&dest_url) {
                            dest_url
                        } else {
                            CowStr::Borrowed("#")
                        };
                        Some(Event::Start(Tag::Link {
                            link_type,
                            dest_url,
                            title,
                            id,
                        }))
                    }
                    // Dropping an image's tags leaves its alt text as plain text.
                    Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
                    other => Some(other),
                },
            );
        let mut html = String::new();
        pulldown_cmark::html::push_html(&mut html, events);
        html
    }
}

/// Who may register (osTicket's registration method).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMethod {
    /// Anyone may register.
    Public,
    /// Only agents create accounts, by invitation.
    Private,
    /// Nobody registers.
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of public, private, disabled")]
pub struct InvalidRegistrationMethod;

impl RegistrationMethod {
    pub fn parse(raw: &str) -> Result<Self, InvalidRegistrationMethod> {
        match raw {
            "public" => Ok(Self::Public),
            "private" => Ok(Self::Private),
            "disabled" => Ok(Self::Disabled),
            _ => Err(InvalidRegistrationMethod),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
            Self::Disabled => "disabled",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_are_normalised() {
        assert_eq!(Locale::parse("en").map(|l| l.0), Ok("en".into()));
        assert_eq!(Locale::parse("pt_br").map(|l| l.0), Ok("pt-BR".into()));
        assert_eq!(
            Locale::parse("zh-hant-tw").map(|l| l.0),
            Ok("zh-Hant-TW".into())
        );
        assert_eq!(Locale::parse("es-419").map(|l| l.0), Ok("es-419".into()));
        for bad in ["", "e", "english", "en-", "en-USA", "de-DE-x", "1n"] {
            assert_eq!(Locale::parse(bad), Err(InvalidLocale), "{bad}");
        }
        assert_eq!(
            Locale::parse("pt-BR")
                .ok()
                .and_then(|l| l.language_only())
                .map(|l| l.0),
            Some("pt".into())
        );
    }

    #[test]
    fn time_zones_come_from_the_tz_database() {
        assert_eq!(
            TimeZoneName::parse("Europe/Berlin").map(|t| t.0),
            Ok("Europe/Berlin".into())
        );
        assert!(TimeZoneName::parse("UTC").is_ok());
        assert_eq!(TimeZoneName::parse("Mars/Olympus"), Err(InvalidTimeZone));
        assert_eq!(TimeZoneName::parse(""), Err(InvalidTimeZone));
    }

    #[test]
    fn web_urls_are_http_or_https_only() {
        assert!(WebUrl::parse("https://cdn.example.com/logo.png").is_ok());
        for bad in [
            "javascript:alert(1)",
            "ftp://example.com/x",
            "data:image/png;base64,AAA",
            "/logo.png",
            "https://",
        ] {
            assert_eq!(WebUrl::parse(bad), Err(InvalidWebUrl), "{bad}");
        }
        assert!(WebUrl::parse(&format!("https://example.com/{}", "a".repeat(2048))).is_err());
    }

    #[test]
    fn welcome_text_renders_markdown_without_raw_html_or_script_links() {
        let text = WelcomeText::parse(
            "**Hi** <script>alert(1)</script> [x](javascript:alert(1)) [ok](https://example.com)",
        )
        .expect("valid");
        let html = text.to_html();
        assert!(html.contains("<strong>Hi</strong>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains(r#"href="https://example.com""#), "{html}");
        assert!(WelcomeText::parse(&"x".repeat(5001)).is_err());
    }

    #[test]
    fn registration_methods_round_trip() {
        for method in [
            RegistrationMethod::Public,
            RegistrationMethod::Private,
            RegistrationMethod::Disabled,
        ] {
            assert_eq!(RegistrationMethod::parse(method.as_str()), Ok(method));
        }
        assert!(RegistrationMethod::parse("open").is_err());
    }
}
