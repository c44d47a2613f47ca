//! Email templates: the catalogue of events with shipped defaults, and sandboxed rendering of tenant overrides.
//!
//! Every mail Tenantdesk sends belongs to one [`Event`]. An event documents the variables its
//! template may use ([`Event::variables`]), carries realistic sample data for previews
//! ([`Event::sample_context`]) and ships a default [`TemplateSource`]
//! ([`Event::default_template`]). A tenant admin may override the default; the override is
//! checked with [`validate`] when saved, shown with [`render_preview`], and turned into a mail
//! with [`render`] when sent.
//!
//! Templates are minijinja, sandboxed: no loader and no file access (`include`, `import`,
//! `extends` and `from` are refused), a fuel limit against runaway loops, a cap on output size,
//! the HTML part auto-escaped, and the subject forced onto one line.

mod defaults;
mod event;
mod render;

pub use event::{Event, Variable};
pub use render::{
    MAX_HTML_BYTES, MAX_OUTPUT_BYTES, MAX_SUBJECT_CHARS, MAX_TEXT_BYTES, Part, RenderedMail,
    TemplateProblem, TemplateSource, render, render_preview, validate,
};
