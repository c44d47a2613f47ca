//! Composing tenant mail: template choice (override or shipped default), rendering, From/Reply-To,
//! and queuing in the caller's transaction.
//!
//! Every mail Tenantdesk sends goes through [`queue`]: the business write and its mail commit
//! together or not at all (GUIDE.md section 6). A tenant's stored override never blocks a mail:
//! when it fails to render, the shipped default is sent instead and a warning is logged.

use domain::{EmailAddress, Locale};
use serde_json::{Map, Value};
use store::TenantTx;
use store::email_templates::TemplateOverride;
use store::outbox::NewEmail;
use store::settings::WorkspaceSettings;
use store::tenancy::Tenant;
use uuid::Uuid;

/// The events that send mail, re-exported so callers need not depend on the `mail` crate.
pub use mail::{Event, TemplateSource};

use crate::WebConfig;
use crate::error::ApiError;

/// Who sends: the tenant as its settings describe it, on this platform.
#[derive(Clone, Copy)]
pub struct Sender<'a> {
    /// The sending tenant's settings: display name, support address, default locale.
    pub settings: &'a WorkspaceSettings,
    /// The platform's sending address (`WebConfig::mail_from`): From while the tenant has no
    /// verified support address, and the domain of every Message-ID.
    pub platform_from: &'a EmailAddress,
    /// The tenant's portal address, offered to templates as `tenant.portal_url`; see
    /// [`portal_url`].
    pub portal_url: &'a str,
}

/// One mail to queue.
pub struct Mail<'a> {
    pub event: Event,
    /// The recipient's locale; `None` uses the tenant's default locale.
    pub locale: Option<&'a Locale>,
    pub recipient: &'a EmailAddress,
    /// Values for the event's variables ([`Event::variables`]) as a JSON object. The `tenant`
    /// object (`name`, `portal_url`, `support_email`) is filled in here from the [`Sender`]; any
    /// value the caller gave for those three is replaced.
    pub context: Value,
}

/// Why a mail was not queued.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    /// The database refused (the caller's transaction is then unusable anyway).
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// Even the shipped template did not render with this context (its output was too large,
    /// say). A bug or a pathological context; never the tenant's template.
    #[error("the shipped {event} template did not render: {problem}")]
    Default {
        event: &'static str,
        problem: mail::TemplateProblem,
    },
}

impl From<MailerError> for ApiError {
    fn from(error: MailerError) -> Self {
        match error {
            MailerError::Store(error) => error.into(),
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

/// The template that applies to an event in a locale.
#[derive(Clone, Debug)]
pub struct EffectiveTemplate {
    pub source: TemplateSource,
    /// The tenant's override in use, or `None` when the shipped default applies.
    pub stored: Option<TemplateOverride>,
}

/// The template for `event` in `locale`: the tenant's override for that locale, else for its bare
/// language, else for the tenant's default locale, else the shipped default.
pub async fn effective_template(
    tx: &mut TenantTx,
    event: Event,
    locale: &Locale,
    tenant_default: &Locale,
) -> store::Result<EffectiveTemplate> {
    let stored = store::email_templates::resolve(tx, event.key(), locale, tenant_default).await?;
    let source = match &stored {
        Some(stored) => TemplateSource {
            subject: stored.subject.clone(),
            html: stored.html.clone(),
            text: stored.text.clone(),
        },
        None => event.default_template(),
    };
    Ok(EffectiveTemplate { source, stored })
}

/// The address of a tenant's portal on this platform, for `tenant.portal_url`.
pub fn portal_url(config: &WebConfig, tenant: &Tenant) -> String {
    config.base_url.tenant_origin(tenant.slug.as_str())
}

/// Renders `mail` with the tenant's effective template (falling back to the shipped default when
/// the override does not render) and queues it in `tx`: it is sent only if `tx` commits.
/// Returns the id of the `outbound_emails` row.
pub async fn queue(
    tx: &mut TenantTx,
    sender: &Sender<'_>,
    mail: Mail<'_>,
) -> Result<Uuid, MailerError> {
    let Mail {
        event,
        locale,
        recipient,
        context,
    } = mail;
    let tenant_default = &sender.settings.locale;
    let locale = locale.unwrap_or(tenant_default);
    let effective = effective_template(tx, event, locale, tenant_default).await?;
    let context = with_tenant(context, sender);

    let rendered = match (
        &effective.stored,
        render_usable(event, &effective.source, &context),
    ) {
        (_, Ok(rendered)) => rendered,
        (Some(stored), Err(problem)) => {
            tracing::warn!(
                tenant.id = %tx.tenant_id().as_uuid(),
                mail.event = event.key(),
                mail.locale = %stored.locale,
                template.part = %problem.part,
                template.line = problem.line,
                template.column = problem.column,
                "the tenant's email template did not render; sending the shipped default instead"
            );
            render_usable(event, &event.default_template(), &context).map_err(|problem| {
                MailerError::Default {
                    event: event.key(),
                    problem,
                }
            })?
        }
        (None, Err(problem)) => {
            return Err(MailerError::Default {
                event: event.key(),
                problem,
            });
        }
    };

    let (from_address, reply_to) = sender_addresses(
        sender.settings.support_email.as_ref(),
        sender.settings.support_email_verified,
    );
    let email = NewEmail {
        event: event.key().to_owned(),
        recipient: recipient.clone(),
        from_name: sender.settings.display_name.clone(),
        from_address,
        reply_to,
        subject: rendered.subject,
        html_body: rendered.html,
        text_body: rendered.text,
    };
    Ok(store::outbox::enqueue(tx, &email, &sender.platform_from.domain()).await?)
}

/// Renders for sending; a subject that renders empty counts as a failure, since no mail should
/// go out without one.
fn render_usable(
    event: Event,
    source: &TemplateSource,
    context: &Value,
) -> Result<mail::RenderedMail, mail::TemplateProblem> {
    let rendered = mail::render(event, source, context)?;
    if rendered.subject.is_empty() {
        return Err(mail::TemplateProblem {
            part: mail::Part::Subject,
            line: 1,
            column: 1,
            reason: "the subject rendered empty".to_owned(),
        });
    }
    Ok(rendered)
}

/// `context` with its `tenant` object set from the sender. A context that is not an object is
/// replaced by one holding only `tenant`.
fn with_tenant(context: Value, sender: &Sender<'_>) -> Value {
    let mut root = match context {
        Value::Object(root) => root,
        _ => Map::new(),
    };
    let tenant = root
        .entry("tenant")
        .or_insert_with(|| Value::Object(Map::new()));
    if !tenant.is_object() {
        *tenant = Value::Object(Map::new());
    }
    if let Value::Object(tenant) = tenant {
        tenant.insert(
            "name".to_owned(),
            Value::String(sender.settings.display_name.clone()),
        );
        tenant.insert(
            "portal_url".to_owned(),
            Value::String(sender.portal_url.to_owned()),
        );
        tenant.insert(
            "support_email".to_owned(),
            sender
                .settings
                .support_email
                .as_ref()
                .map_or(Value::Null, |email| {
                    Value::String(email.as_str().to_owned())
                }),
        );
    }
    Value::Object(root)
}

/// (From address, Reply-To): mail comes from the support address only once it is verified (else
/// from the platform's address, `None`); replies always go to the support address when there is
/// one.
fn sender_addresses(
    support_email: Option<&EmailAddress>,
    verified: bool,
) -> (Option<EmailAddress>, Option<EmailAddress>) {
    let from = support_email.filter(|_| verified).cloned();
    (from, support_email.cloned())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use domain::{HexColour, RegistrationMethod, TimeZoneName, WelcomeText};
    use serde_json::json;

    use super::*;

    fn address(raw: &str) -> EmailAddress {
        EmailAddress::parse(raw).expect("valid address")
    }

    fn workspace(support_email: Option<&str>, verified: bool) -> WorkspaceSettings {
        WorkspaceSettings {
            display_name: "Acme Corp".to_owned(),
            primary_colour: HexColour::parse("#1d4ed8").expect("colour"),
            accent_colour: HexColour::parse("#1e3a8a").expect("colour"),
            logo_url: None,
            welcome_text: WelcomeText::parse("").expect("text"),
            support_email: support_email.map(address),
            support_email_verified: verified,
            locale: Locale::parse("en").expect("locale"),
            timezone: TimeZoneName::parse("UTC").expect("zone"),
            registration_required: false,
            registration_method: RegistrationMethod::parse("public").expect("method"),
            password_min_length: 10,
            version: 1,
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn from_is_the_support_address_only_once_verified() {
        let support = address("help@acme.example");
        assert_eq!(
            sender_addresses(Some(&support), false),
            (None, Some(support.clone()))
        );
        assert_eq!(
            sender_addresses(Some(&support), true),
            (Some(support.clone()), Some(support))
        );
        assert_eq!(sender_addresses(None, true), (None, None));
    }

    #[test]
    fn tenant_values_are_merged_into_the_context() {
        let settings = workspace(Some("help@acme.example"), false);
        let platform = address("noreply@platform.example");
        let sender = Sender {
            settings: &settings,
            platform_from: &platform,
            portal_url: "http://acme.localhost",
        };
        let context = with_tenant(
            json!({
                "user": {"name": "Dana"},
                "tenant": {"name": "Spoofed", "extra": 1},
            }),
            &sender,
        );
        assert_eq!(
            context,
            json!({
                "user": {"name": "Dana"},
                "tenant": {
                    "name": "Acme Corp",
                    "portal_url": "http://acme.localhost",
                    "support_email": "help@acme.example",
                    "extra": 1,
                },
            })
        );

        let without = workspace(None, false);
        let sender = Sender {
            settings: &without,
            ..sender
        };
        let context = with_tenant(json!(null), &sender);
        assert_eq!(context["tenant"]["support_email"], Value::Null);
        assert_eq!(context["tenant"]["name"], "Acme Corp");
    }

    #[test]
    fn an_empty_subject_is_not_usable() {
        let source = TemplateSource {
            subject: "{{ ticket.subject }}".to_owned(),
            html: "<p>x</p>".to_owned(),
            text: "x".to_owned(),
        };
        let problem =
            render_usable(Event::TicketClosed, &source, &json!({})).expect_err("empty subject");
        assert_eq!(problem.part, mail::Part::Subject);
        assert!(
            render_usable(
                Event::TicketClosed,
                &source,
                &json!({"ticket": {"subject": "Hi"}})
            )
            .is_ok()
        );
    }
}
