//! Sandboxed rendering and validation of template sources.
//!
//! Each part of a template is compiled on its own in a fresh minijinja [`Environment`] with no
//! loader (and without minijinja's `multi_template` feature, so `include`, `import`, `extends` and
//! `from` do not even parse), a fuel limit, a capped output buffer, and HTML auto-escaping for the
//! HTML part only.

use std::collections::HashSet;
use std::fmt;
use std::io;

use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};
use serde_json::Value;

use crate::event::Event;

/// Longest accepted subject template, in characters.
pub const MAX_SUBJECT_CHARS: usize = 500;
/// Largest accepted HTML template, in bytes.
pub const MAX_HTML_BYTES: usize = 100 * 1024;
/// Largest accepted text template, in bytes.
pub const MAX_TEXT_BYTES: usize = 100 * 1024;
/// Largest output one part may render to, in bytes.
pub const MAX_OUTPUT_BYTES: usize = 256 * 1024;

/// Instructions one part may execute before rendering stops.
const FUEL: u64 = 50_000;

/// Global functions a template may call; every other global (`debug` dumps the context) is
/// removed from the environment.
const ALLOWED_GLOBALS: &[&str] = &["range", "dict", "namespace"];

/// Statements that would reach other templates; the sandbox does not parse them.
const MULTI_TEMPLATE_STATEMENTS: &[&str] = &["include", "import", "extends", "from", "block"];

/// Statements minijinja knows but this sandbox leaves out (the crate features are off).
const UNSUPPORTED_STATEMENTS: &[&str] = &["macro", "call", "break", "continue"];

/// The three parts of one mail template, as a tenant admin edits them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TemplateSource {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// A rendered mail, ready to be put into an outbound message.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RenderedMail {
    /// One line, trimmed.
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// Why a template source was refused, per part.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[error("{part}: line {line}, column {column}: {reason}")]
pub struct TemplateProblem {
    pub part: Part,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters; 1 when the engine gives no position within the line.
    pub column: usize,
    pub reason: String,
}

/// One part of a mail template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    Subject,
    Html,
    Text,
}

impl Part {
    const ALL: [Part; 3] = [Part::Subject, Part::Html, Part::Text];

    fn as_str(self) -> &'static str {
        match self {
            Part::Subject => "subject",
            Part::Html => "html",
            Part::Text => "text",
        }
    }

    fn of(self, source: &TemplateSource) -> &str {
        match self {
            Part::Subject => &source.subject,
            Part::Html => &source.html,
            Part::Text => &source.text,
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How undefined values behave while rendering.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Preview and validation: any undefined value is an error.
    Strict,
    /// Real sending: a missing value renders empty, so one gap never blocks a mail.
    Lenient,
}

/// Checks a template source before it is saved: sizes, syntax, variables the event does not
/// offer, and a strict render of every part with the event's sample data. Returns every problem
/// found, ordered by part, line and column.
pub fn validate(event: Event, source: &TemplateSource) -> Result<(), Vec<TemplateProblem>> {
    let env = environment(Mode::Strict);
    let context = event.sample_context();
    let mut problems = Vec::new();
    for part in Part::ALL {
        let text = part.of(source);
        if let Some(problem) = size_problem(part, text) {
            problems.push(problem);
            continue;
        }
        let template = match env.template_from_named_str(part.as_str(), text) {
            Ok(template) => template,
            Err(err) => {
                problems.push(problem_from_error(part, text, &err));
                continue;
            }
        };
        let unknown = unknown_variables(event, &template.undeclared_variables(true));
        if !unknown.is_empty() {
            problems.extend(unknown.into_iter().map(|path| {
                let (line, column) = locate_variable(text, &path);
                TemplateProblem {
                    part,
                    line,
                    column,
                    reason: format!(
                        "unknown variable `{path}`: {} mails do not offer it",
                        event.key()
                    ),
                }
            }));
            continue;
        }
        match render_part(&env, part, text, &context) {
            Ok(rendered) if part == Part::Subject && rendered.is_empty() => {
                problems.push(TemplateProblem {
                    part,
                    line: 1,
                    column: 1,
                    reason: "the subject renders empty with the sample data".to_owned(),
                });
            }
            Ok(_) => {}
            Err(problem) => problems.push(problem),
        }
    }
    problems.sort_by_key(|p| (p.part as u8, p.line, p.column));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Renders a mail for sending. Undefined values render empty (and `null` renders empty too),
/// so a missing value never blocks a mail; syntax errors, running out of fuel and oversized
/// output still fail. The event does not change how the source renders; it is part of the
/// signature so callers say what they send, like [`validate`] and [`render_preview`].
pub fn render(
    _event: Event,
    source: &TemplateSource,
    context: &Value,
) -> Result<RenderedMail, TemplateProblem> {
    render_all(Mode::Lenient, source, context)
}

/// Renders a template with the event's sample data, strictly: any undefined value, unknown
/// filter, test or function is an error.
pub fn render_preview(
    event: Event,
    source: &TemplateSource,
) -> Result<RenderedMail, TemplateProblem> {
    render_all(Mode::Strict, source, &event.sample_context())
}

fn render_all(
    mode: Mode,
    source: &TemplateSource,
    context: &Value,
) -> Result<RenderedMail, TemplateProblem> {
    let env = environment(mode);
    Ok(RenderedMail {
        subject: render_part(&env, Part::Subject, &source.subject, context)?,
        html: render_part(&env, Part::Html, &source.html, context)?,
        text: render_part(&env, Part::Text, &source.text, context)?,
    })
}

/// The sandbox. No loader is ever set, so nothing outside the given source can be reached.
fn environment<'source>(mode: Mode) -> Environment<'source> {
    let mut env = Environment::new();
    env.set_debug(false);
    env.set_fuel(Some(FUEL));
    env.set_undefined_behavior(match mode {
        Mode::Strict => UndefinedBehavior::Strict,
        Mode::Lenient => UndefinedBehavior::Chainable,
    });
    env.set_auto_escape_callback(|name| {
        if name == Part::Html.as_str() {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    // `null` (an optional value that is absent) prints as nothing rather than "none".
    env.set_formatter(|out, state, value| {
        if value.is_none() {
            Ok(())
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    let unwanted: Vec<String> = env
        .globals()
        .map(|(name, _)| name.to_owned())
        .filter(|name| !ALLOWED_GLOBALS.contains(&name.as_str()))
        .collect();
    for name in unwanted {
        env.remove_global(&name);
    }
    env
}

fn render_part<'source>(
    env: &Environment<'source>,
    part: Part,
    source: &'source str,
    context: &Value,
) -> Result<String, TemplateProblem> {
    let template = env
        .template_from_named_str(part.as_str(), source)
        .map_err(|err| problem_from_error(part, source, &err))?;
    let mut out = CappedBuffer::default();
    if let Err(err) = template.render_captured_to(context, &mut out) {
        if out.overflowed {
            return Err(TemplateProblem {
                part,
                line: err.line().unwrap_or(1),
                column: 1,
                reason: format!(
                    "the rendered {part} is larger than {} KiB",
                    MAX_OUTPUT_BYTES / 1024
                ),
            });
        }
        return Err(problem_from_error(part, source, &err));
    }
    let rendered = String::from_utf8(out.bytes).map_err(|_| TemplateProblem {
        part,
        line: 1,
        column: 1,
        reason: "the rendered output is not valid UTF-8".to_owned(),
    })?;
    Ok(match part {
        Part::Subject => one_line(&rendered),
        Part::Html | Part::Text => rendered,
    })
}

/// Collapses every run of whitespace and control characters (newlines included) into one space
/// and trims, so a subject can never break out of its header.
fn one_line(subject: &str) -> String {
    subject
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn size_problem(part: Part, source: &str) -> Option<TemplateProblem> {
    let reason = match part {
        Part::Subject if source.trim().is_empty() => "the subject is empty".to_owned(),
        Part::Subject if source.chars().count() > MAX_SUBJECT_CHARS => format!(
            "the subject is longer than {MAX_SUBJECT_CHARS} characters ({})",
            source.chars().count()
        ),
        Part::Html if source.len() > MAX_HTML_BYTES => format!(
            "the HTML part is larger than {} KiB ({} bytes)",
            MAX_HTML_BYTES / 1024,
            source.len()
        ),
        Part::Text if source.len() > MAX_TEXT_BYTES => format!(
            "the text part is larger than {} KiB ({} bytes)",
            MAX_TEXT_BYTES / 1024,
            source.len()
        ),
        _ => return None,
    };
    Some(TemplateProblem {
        part,
        line: 1,
        column: 1,
        reason,
    })
}

/// Variable paths used by a template that the event does not offer, sorted. A path is fine when
/// it is declared, is an object holding declared paths (`user` for `user.name`), or names an
/// allowed global function.
fn unknown_variables(event: Event, used: &HashSet<String>) -> Vec<String> {
    let declared = event.variables();
    let mut unknown: Vec<String> = used
        .iter()
        .filter(|path| {
            let root = path.split('.').next().unwrap_or(path);
            let known = ALLOWED_GLOBALS.contains(&root)
                || declared
                    .iter()
                    .any(|var| var.path == path.as_str() || is_below(path, var.path));
            !known
        })
        .cloned()
        .collect();
    unknown.sort();
    unknown
}

/// Whether `path` is strictly below `ancestor`: `user.name` is below `user`.
fn is_below(ancestor: &str, path: &str) -> bool {
    path.strip_prefix(ancestor)
        .is_some_and(|rest| rest.starts_with('.'))
}

fn problem_from_error(part: Part, source: &str, err: &Error) -> TemplateProblem {
    let position = err
        .range()
        .and_then(|range| line_and_column(source, range.start))
        .filter(|(line, _)| err.line().is_none_or(|l| l == *line));
    let (line, column) = position.unwrap_or((err.line().unwrap_or(1), 1));
    let snippet = err
        .range()
        .and_then(|range| source.get(range))
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= 80 && !s.contains('\n'));
    let detail = err.detail();
    let reason = match err.kind() {
        ErrorKind::OutOfFuel => {
            "the template ran out of fuel: it does too much work (a loop that is too long?)"
                .to_owned()
        }
        ErrorKind::SyntaxError => match detail.and_then(unknown_statement) {
            Some(statement) if MULTI_TEMPLATE_STATEMENTS.contains(&statement) => format!(
                "`{{% {statement} %}}` is not allowed: mail templates cannot include, import or \
                 extend other templates"
            ),
            Some(statement) if UNSUPPORTED_STATEMENTS.contains(&statement) => {
                format!("`{{% {statement} %}}` is not supported in mail templates")
            }
            _ => with_detail(err.kind(), detail),
        },
        ErrorKind::UndefinedError => match snippet {
            Some(snippet) => format!("undefined value in `{snippet}`"),
            None => with_detail(err.kind(), detail),
        },
        kind => {
            let reason = with_detail(kind, detail);
            match snippet {
                Some(snippet) if !reason.contains(snippet) => format!("{reason} (in `{snippet}`)"),
                _ => reason,
            }
        }
    };
    TemplateProblem {
        part,
        line,
        column,
        reason,
    }
}

fn with_detail(kind: ErrorKind, detail: Option<&str>) -> String {
    match detail {
        Some(detail) => format!("{kind}: {detail}"),
        None => kind.to_string(),
    }
}

/// The statement named by an "unknown statement X" syntax error.
fn unknown_statement(detail: &str) -> Option<&str> {
    detail.strip_prefix("unknown statement ").map(str::trim)
}

/// 1-based line and column (in characters) of a byte offset.
fn line_and_column(source: &str, offset: usize) -> Option<(usize, usize)> {
    let before = source.get(..offset)?;
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    Some((line, column))
}

/// Where a variable path first appears inside a `{{ }}` or `{% %}` tag; (1, 1) when it cannot
/// be found as written (e.g. split over spaces).
fn locate_variable(source: &str, path: &str) -> (usize, usize) {
    let root = path.split('.').next().unwrap_or(path);
    [path, root]
        .into_iter()
        .find_map(|needle| {
            source
                .match_indices(needle)
                .map(|(start, _)| start)
                .find(|&start| {
                    is_whole_name(source, start, needle.len()) && is_inside_tag(source, start)
                })
        })
        .and_then(|offset| line_and_column(source, offset))
        .unwrap_or((1, 1))
}

fn is_whole_name(source: &str, start: usize, len: usize) -> bool {
    let name_char = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
    let before_ok = source[..start]
        .chars()
        .next_back()
        .is_none_or(|c| !name_char(c));
    let after_ok = source[start + len..]
        .chars()
        .next()
        .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
    before_ok && after_ok
}

fn is_inside_tag(source: &str, offset: usize) -> bool {
    let before = &source[..offset];
    let open = [before.rfind("{{"), before.rfind("{%")]
        .into_iter()
        .flatten()
        .max();
    let close = [before.rfind("}}"), before.rfind("%}")]
        .into_iter()
        .flatten()
        .max();
    match (open, close) {
        (Some(open), Some(close)) => open > close,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Output sink that refuses to grow past [`MAX_OUTPUT_BYTES`].
#[derive(Default)]
struct CappedBuffer {
    bytes: Vec<u8>,
    overflowed: bool,
}

impl io::Write for CappedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_OUTPUT_BYTES {
            self.overflowed = true;
            return Err(io::Error::other("rendered output too large"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use serde_json::json;

    use super::*;

    fn source(subject: &str, html: &str, text: &str) -> TemplateSource {
        TemplateSource {
            subject: subject.to_owned(),
            html: html.to_owned(),
            text: text.to_owned(),
        }
    }

    fn html_only(html: &str) -> TemplateSource {
        source("Hello", html, "Hello")
    }

    fn problems(event: Event, source: &TemplateSource) -> Vec<TemplateProblem> {
        match validate(event, source) {
            Ok(()) => panic!("expected {source:?} to be refused"),
            Err(problems) => problems,
        }
    }

    #[test]
    fn every_default_template_validates_and_renders_its_sample() {
        for event in Event::ALL {
            let template = event.default_template();
            assert_eq!(validate(event, &template), Ok(()), "{}", event.key());
            let mail =
                render_preview(event, &template).unwrap_or_else(|p| panic!("{}: {p}", event.key()));
            assert!(!mail.subject.is_empty(), "{}", event.key());
            assert!(!mail.subject.contains('\n'), "{}", event.key());
            assert!(mail.html.contains("Acme Support"), "{}", event.key());
            assert!(mail.text.contains("Acme Support"), "{}", event.key());
            assert!(!mail.text.contains("{{"), "{}", event.key());
            let lenient = render(event, &template, &event.sample_context())
                .unwrap_or_else(|p| panic!("{}: {p}", event.key()));
            assert_eq!(lenient, mail, "{}", event.key());
        }
    }

    #[test]
    fn default_templates_render_without_optional_values() {
        for event in Event::ALL {
            let mut context = event.sample_context();
            context["tenant"]["support_email"] = Value::Null;
            if context.get("agent").is_some() {
                context["agent"]["name"] = Value::Null;
            }
            let mail = render(event, &event.default_template(), &context)
                .unwrap_or_else(|p| panic!("{}: {p}", event.key()));
            assert!(
                !mail.text.contains("none"),
                "{}: {}",
                event.key(),
                mail.text
            );
            assert!(!mail.html.contains("help@acme.example"), "{}", event.key());
        }
    }

    #[test]
    fn sample_context_covers_every_declared_variable() {
        let env = environment(Mode::Strict);
        for event in Event::ALL {
            let context = event.sample_context();
            for variable in event.variables() {
                let tmpl = format!("{{{{ {} }}}}", variable.path);
                let rendered = render_part(&env, Part::Text, &tmpl, &context)
                    .unwrap_or_else(|p| panic!("{} {}: {p}", event.key(), variable.path));
                assert!(
                    !rendered.is_empty(),
                    "{}: {} is empty",
                    event.key(),
                    variable.path
                );
                let alone = source("x", "", &tmpl);
                assert_eq!(validate(event, &alone), Ok(()), "{}", variable.path);
            }
        }
    }

    #[test]
    fn syntax_error_reports_line_and_column() {
        let found = problems(
            Event::UserInvitation,
            &source("Hi", "<p>ok</p>", "Hello\n{{ user.name "),
        );
        assert_eq!(found.len(), 1, "{found:?}");
        let problem = &found[0];
        assert_eq!(problem.part, Part::Text);
        assert_eq!(problem.line, 2, "{problem}");
        assert!(problem.column > 1, "{problem}");
        assert!(problem.reason.contains("syntax error"), "{problem}");

        let found = problems(
            Event::UserInvitation,
            &source(
                "Hi",
                "<p>\n  {% if user.name %}\n  {{ user.name }</p>",
                "ok",
            ),
        );
        assert_eq!(found[0].part, Part::Html);
        assert_eq!(found[0].line, 3, "{}", found[0]);
        assert!(found[0].to_string().starts_with("html: line 3, column "));
    }

    #[test]
    fn unknown_variable_is_refused_by_name() {
        let found = problems(
            Event::UserInvitation,
            &source("Hi {{ user.name }}", "<p>\n{{ user.password }}</p>", "ok"),
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].part, Part::Html);
        assert_eq!((found[0].line, found[0].column), (2, 4));
        assert!(found[0].reason.contains("`user.password`"), "{}", found[0]);

        let found = problems(Event::UserInvitation, &source("{{ ticket }}", "", ""));
        assert!(found[0].reason.contains("`ticket`"), "{}", found[0]);
        // A variable offered by another event is still unknown here.
        let found = problems(Event::TicketClosed, &source("x", "", "{{ ticket.url }}"));
        assert!(found[0].reason.contains("`ticket.url`"), "{}", found[0]);
    }

    #[test]
    fn variables_the_template_defines_are_allowed() {
        let template = source(
            "{% set who = user.name | upper %}Hi {{ who }}",
            "{% for i in range(3) %}{{ loop.index }}{{ i }}{% endfor %}{{ user }}",
            "{% with n = expires_in_hours %}{{ n }}{% endwith %}",
        );
        assert_eq!(validate(Event::UserInvitation, &template), Ok(()));
    }

    #[test]
    fn unknown_filter_test_and_function_are_refused() {
        let found = problems(
            Event::UserInvitation,
            &html_only("<p>ok</p>\n<p>{{ user.name | shout }}</p>"),
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].line, 2);
        assert!(found[0].reason.contains("unknown filter"), "{}", found[0]);

        let found = problems(
            Event::UserInvitation,
            &html_only("{% if user.name is shouting %}x{% endif %}"),
        );
        assert!(found[0].reason.contains("unknown test"), "{}", found[0]);

        let found = problems(Event::UserInvitation, &html_only("{{ launch() }}"));
        assert!(found[0].reason.contains("`launch`"), "{}", found[0]);
        let found = problems(Event::UserInvitation, &html_only("{{ debug() }}"));
        assert!(found[0].reason.contains("`debug`"), "{}", found[0]);
        let found = problems(Event::UserInvitation, &html_only("{{ user.name.first }}"));
        assert!(
            found[0].reason.contains("`user.name.first`"),
            "{}",
            found[0]
        );
        let found = problems(
            Event::UserInvitation,
            &html_only("{% macro m() %}{% endmacro %}"),
        );
        assert!(found[0].reason.contains("not supported"), "{}", found[0]);
    }

    #[test]
    fn fuel_bomb_stops_quickly() {
        let bomb =
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
        let started = Instant::now();
        let found = problems(Event::UserInvitation, &html_only(bomb));
        assert!(found[0].reason.contains("fuel"), "{}", found[0]);
        let problem = render(Event::UserInvitation, &html_only(bomb), &json!({}))
            .expect_err("the bomb must not render");
        assert!(problem.reason.contains("fuel"), "{problem}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn output_is_capped() {
        let big = "{{ 'x' * 300000 }}";
        let problem = render(Event::UserInvitation, &html_only(big), &json!({}))
            .expect_err("oversized output must not render");
        assert_eq!(problem.part, Part::Html);
        assert!(problem.reason.contains("256 KiB"), "{problem}");
    }

    #[test]
    fn html_part_is_escaped_but_text_and_subject_are_not() {
        let context = json!({ "user": { "name": "<script>alert(1)</script>" } });
        let template = source(
            "Hi {{ user.name }}",
            "<p>{{ user.name }}</p>",
            "Hi {{ user.name }}",
        );
        let mail = render(Event::UserInvitation, &template, &context).expect("renders");
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(mail.html.contains("&lt;script&gt;"), "{}", mail.html);
        assert_eq!(mail.text, "Hi <script>alert(1)</script>");
        assert_eq!(mail.subject, "Hi <script>alert(1)</script>");
    }

    #[test]
    fn safe_keeps_sanitised_message_markup() {
        let template = html_only("<div>{{ message.body_html | safe }}</div>");
        let mail = render_preview(Event::TicketReplyToUser, &template).expect("renders");
        assert!(mail.html.contains("<p>Hi Dana,</p>"), "{}", mail.html);
    }

    #[test]
    fn subject_newlines_are_collapsed() {
        let context = json!({ "user": { "name": "Dana\r\nBcc: victim@example.com\n" } });
        let template = source("Welcome,\n  {{ user.name }}\t!\n", "", "");
        let mail = render(Event::UserInvitation, &template, &context).expect("renders");
        assert_eq!(mail.subject, "Welcome, Dana Bcc: victim@example.com !");
    }

    #[test]
    fn include_import_and_extends_are_refused() {
        for (statement, tag) in [
            ("include", "{% include 'secrets.html' %}"),
            ("import", "{% import 'macros.html' as m %}"),
            ("extends", "{% extends 'base.html' %}"),
            ("from", "{% from 'macros.html' import x %}"),
        ] {
            let found = problems(Event::UserInvitation, &html_only(&format!("<p>\n{tag}")));
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(found[0].line, 2, "{}", found[0]);
            assert!(
                found[0]
                    .reason
                    .contains(&format!("`{{% {statement} %}}` is not allowed")),
                "{}",
                found[0]
            );
            let rendered = render(Event::UserInvitation, &html_only(tag), &json!({}));
            assert!(rendered.is_err(), "{tag}");
        }
    }

    #[test]
    fn size_limits_and_empty_subject_are_refused() {
        let found = problems(Event::UserInvitation, &source("  ", "", ""));
        assert!(found[0].reason.contains("subject is empty"), "{}", found[0]);

        let found = problems(Event::UserInvitation, &source(&"a".repeat(501), "", ""));
        assert!(found[0].reason.contains("500 characters"), "{}", found[0]);
        let ok = source(&"é".repeat(500), "", "");
        assert_eq!(validate(Event::UserInvitation, &ok), Ok(()));

        let found = problems(
            Event::UserInvitation,
            &source(
                "Hi",
                &"a".repeat(MAX_HTML_BYTES + 1),
                &"b".repeat(MAX_TEXT_BYTES + 1),
            ),
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!((found[0].part, found[1].part), (Part::Html, Part::Text));

        let found = problems(Event::UserInvitation, &source("{{ '' }}", "", ""));
        assert!(found[0].reason.contains("renders empty"), "{}", found[0]);
    }

    #[test]
    fn strict_preview_and_lenient_sending() {
        let template = source("Hi {{ user.name }}", "<p>{{ user.name }}</p>", "x");
        let problem = render_preview(Event::UserInvitation, &html_only("{{ user.nickname }}"))
            .expect_err("undefined in strict mode");
        assert!(problem.reason.contains("undefined"), "{problem}");

        let mail = render(Event::UserInvitation, &template, &json!({})).expect("lenient");
        assert_eq!(mail.subject, "Hi");
        assert_eq!(mail.html, "<p></p>");
    }

    #[test]
    fn problems_are_reported_for_every_part() {
        let found = problems(
            Event::UserInvitation,
            &source("{{ nope }}", "{{ user.name | nope }}", "{% if %}"),
        );
        let parts: Vec<_> = found.iter().map(|p| p.part).collect();
        assert_eq!(parts, [Part::Subject, Part::Html, Part::Text]);
    }

    #[test]
    fn problem_display_and_serialization() {
        let problem = TemplateProblem {
            part: Part::Html,
            line: 3,
            column: 7,
            reason: "unknown variable `x`".to_owned(),
        };
        assert_eq!(
            problem.to_string(),
            "html: line 3, column 7: unknown variable `x`"
        );
        let json = serde_json::to_value(&problem).expect("serializes");
        assert_eq!(json["part"], "html");
    }
}
