//! The ticket's own values: its state and the transitions between states, priority, source,
//! subject, and message bodies (HTML sanitised to an allow-list, plus a text version).

use std::collections::HashSet;
use std::fmt;

/// Where a ticket stands. Queues and SLA clocks work on the state; tenants name finer
/// statuses within a state ("Waiting for parts" within pending).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TicketState {
    Open,
    /// Waiting on the customer (or a third party); a pausing SLA plan stops its clock.
    Pending,
    /// Answered; the customer may still come back.
    Resolved,
    /// Done. Only an explicit reopen (to `open`) brings it back.
    Closed,
}

/// A state change that the lifecycle does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransitionRefused(pub &'static str);

impl TicketState {
    pub const ALL: [TicketState; 4] = [Self::Open, Self::Pending, Self::Resolved, Self::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw.trim())
    }

    /// Open and pending tickets are active: they count for queues and can be overdue.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Open | Self::Pending)
    }

    /// Whether a ticket may go from `self` to `to`. Open, pending and resolved move freely
    /// among themselves and to closed; a closed ticket only reopens (to open), so a closed
    /// ticket never becomes pending or resolved without passing through open.
    pub fn check_transition(self, to: Self) -> Result<(), TransitionRefused> {
        match (self, to) {
            (Self::Closed, Self::Open) => Ok(()),
            (Self::Closed, Self::Closed) => Ok(()),
            (Self::Closed, _) => Err(TransitionRefused(
                "a closed ticket can only be reopened (state open)",
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for TicketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Self::Low, Self::Normal, Self::High, Self::Urgent];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw.trim())
    }

    /// 1 (low) to 4 (urgent): the order a priority sort uses.
    pub fn rank(self) -> i16 {
        match self {
            Self::Low => 1,
            Self::Normal => 2,
            Self::High => 3,
            Self::Urgent => 4,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a ticket came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    Portal,
    /// An agent opened it for someone (a phone ticket).
    Agent,
    Api,
    Email,
}

impl Source {
    pub const ALL: [Source; 4] = [Self::Portal, Self::Agent, Self::Api, Self::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Portal => "portal",
            Self::Agent => "agent",
            Self::Api => "api",
            Self::Email => "email",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw.trim())
    }
}

/// A ticket's subject: one line of 1 to 255 characters; line breaks and tabs become spaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketSubject(String);

impl TicketSubject {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let one_line: String = raw
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let subject = one_line.split_whitespace().collect::<Vec<_>>().join(" ");
        if subject.is_empty() {
            return Err("is required");
        }
        if subject.chars().count() > Self::MAX_CHARS {
            return Err("must be at most 255 characters");
        }
        Ok(Self(subject))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a message body was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    Html,
    Text,
}

impl BodyFormat {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "html" => Some(Self::Html),
            "text" => Some(Self::Text),
            _ => None,
        }
    }
}

/// A message or note body as stored: HTML that passed the allow-list (no scripts, no event
/// handler attributes, no `javascript:` links, no styles) and its plain-text version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageBody {
    html: String,
    text: String,
}

impl MessageBody {
    /// The text version's limit; the HTML may be twice as long (markup).
    pub const MAX_TEXT_CHARS: usize = 100_000;
    pub const MAX_HTML_CHARS: usize = 200_000;

    /// Parses a body written as `format`. An empty body (nothing readable left once
    /// sanitised) is refused, as is one over the limits.
    pub fn parse(raw: &str, format: BodyFormat) -> Result<Self, &'static str> {
        match format {
            BodyFormat::Html => Self::from_html(raw),
            BodyFormat::Text => Self::from_text(raw),
        }
    }

    /// Sanitises HTML; whatever the allow-list does not name goes, with the content of
    /// `script` and `style` elements.
    pub fn from_html(raw: &str) -> Result<Self, &'static str> {
        if raw.chars().count() > Self::MAX_HTML_CHARS {
            return Err("must be at most 200000 characters");
        }
        let html = ammonia::Builder::default()
            .link_rel(Some("noopener noreferrer nofollow"))
            .clean(raw)
            .to_string();
        let text = html_to_text(&html);
        Self::checked(html.trim().to_owned(), text)
    }

    /// Plain text: escaped, paragraphs on blank lines, line breaks kept.
    pub fn from_text(raw: &str) -> Result<Self, &'static str> {
        let text = raw.replace("\r\n", "\n").trim().to_owned();
        let html = text
            .split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|paragraph| format!("<p>{}</p>", escape(paragraph).replace('\n', "<br>")))
            .collect::<Vec<_>>()
            .join("");
        Self::checked(html, text)
    }

    fn checked(html: String, text: String) -> Result<Self, &'static str> {
        if text.trim().is_empty() {
            return Err("is required (nothing readable is left once sanitised)");
        }
        if text.chars().count() > Self::MAX_TEXT_CHARS
            || html.chars().count() > Self::MAX_HTML_CHARS
        {
            return Err("is too long (at most 100000 characters of text)");
        }
        Ok(Self { html, text })
    }

    pub fn html(&self) -> &str {
        &self.html
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The readable text of sanitised HTML: block ends become line breaks, tags go, entities
/// are decoded. Works on ammonia's output, whose tags are normalised (lower case, no stray
/// `<`), so plain text replacement is reliable here.
fn html_to_text(html: &str) -> String {
    let mut spaced = html.to_owned();
    for tag in ["<br>", "<br/>", "<br />"] {
        spaced = spaced.replace(tag, "\n<br>");
    }
    for end in [
        "</p>",
        "</div>",
        "</li>",
        "</tr>",
        "</h1>",
        "</h2>",
        "</h3>",
        "</h4>",
        "</h5>",
        "</h6>",
        "</blockquote>",
        "</pre>",
        "</table>",
        "</ul>",
        "</ol>",
    ] {
        spaced = spaced.replace(end, &format!("{end}\n"));
    }
    let stripped = ammonia::Builder::empty()
        .clean_content_tags(HashSet::from(["script", "style"]))
        .clean(&spaced)
        .to_string();
    let decoded = stripped
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let lines: Vec<&str> = decoded.lines().map(str::trim_end).collect();
    let mut text = String::new();
    let mut blank = 0;
    for line in lines {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        text.push_str(line);
        text.push('\n');
    }
    text.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_event_handlers_are_stripped() {
        let body = MessageBody::from_html(
            "<p onclick=\"steal()\">Hello <b>there</b></p><script>alert(1)</script>\
             <img src=\"x\" onerror=\"alert(2)\"><a href=\"javascript:alert(3)\">link</a>",
        )
        .expect("body");
        let html = body.html();
        assert!(!html.contains("script"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("onclick"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("<b>there</b>"), "{html}");
        assert_eq!(body.text(), "Hello there\nlink");
    }

    #[test]
    fn text_is_escaped_into_paragraphs() {
        let body = MessageBody::from_text("Hi <team> & co,\nline two\n\nBye").expect("body");
        assert_eq!(
            body.html(),
            "<p>Hi &lt;team&gt; &amp; co,<br>line two</p><p>Bye</p>"
        );
        assert_eq!(body.text(), "Hi <team> & co,\nline two\n\nBye");
    }

    #[test]
    fn empty_bodies_are_refused() {
        assert!(MessageBody::from_html("<script>only()</script>").is_err());
        assert!(MessageBody::from_text("  \n ").is_err());
    }

    #[test]
    fn closed_tickets_only_reopen() {
        assert!(
            TicketState::Closed
                .check_transition(TicketState::Open)
                .is_ok()
        );
        assert!(
            TicketState::Closed
                .check_transition(TicketState::Pending)
                .is_err()
        );
        assert!(
            TicketState::Open
                .check_transition(TicketState::Closed)
                .is_ok()
        );
        assert!(
            TicketState::Resolved
                .check_transition(TicketState::Pending)
                .is_ok()
        );
    }

    #[test]
    fn subjects_are_one_trimmed_line() {
        assert_eq!(
            TicketSubject::parse("  Printer\n on fire ")
                .expect("subject")
                .as_str(),
            "Printer on fire"
        );
        assert!(TicketSubject::parse(" \t").is_err());
        assert!(TicketSubject::parse(&"x".repeat(256)).is_err());
    }

    #[test]
    fn names_round_trip() {
        for state in TicketState::ALL {
            assert_eq!(TicketState::parse(state.as_str()), Some(state));
        }
        for priority in Priority::ALL {
            assert_eq!(Priority::parse(priority.as_str()), Some(priority));
        }
        for source in Source::ALL {
            assert_eq!(Source::parse(source.as_str()), Some(source));
        }
        assert!(Priority::Urgent > Priority::Low);
    }
}
