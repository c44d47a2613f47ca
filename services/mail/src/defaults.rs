//! The templates shipped with Tenantdesk, used until a tenant saves an override.
//!
//! The HTML bodies below are written with plain tags; [`html`] wraps them in a simple layout and
//! inlines the styles mail clients need (most ignore `<style>` blocks), so the text stays
//! readable here and a tenant admin gets ordinary, self-contained HTML to edit.

use crate::event::Event;
use crate::render::TemplateSource;

pub(crate) fn template(event: Event) -> TemplateSource {
    let (subject, html_body, text_body) = match event {
        Event::UserInvitation => (
            "You're invited to {{ tenant.name }}",
            r#"<p>Hello {{ user.name }},</p>
<p>You have been invited to <strong>{{ tenant.name }}</strong>, where you can send us your questions and follow every request in one place.</p>
<p><a class="button" href="{{ invitation_url }}">Accept the invitation</a></p>
<p class="muted">You will sign in as {{ user.email }}. This link expires in {{ expires_in_hours }} hours. If you were not expecting an invitation, you can ignore this email.</p>
"#,
            "Hello {{ user.name }},

You have been invited to {{ tenant.name }}, where you can send us your questions and follow every request in one place.

Accept the invitation and choose your password here:
{{ invitation_url }}

You will sign in as {{ user.email }}. This link expires in {{ expires_in_hours }} hours. If you were not expecting an invitation, you can ignore this email.
",
        ),
        Event::UserRegistrationConfirm => (
            "Confirm your email address for {{ tenant.name }}",
            r#"<p>Hello {{ user.name }},</p>
<p>Thanks for signing up to <strong>{{ tenant.name }}</strong>. Please confirm that {{ user.email }} is your email address.</p>
<p><a class="button" href="{{ confirm_url }}">Confirm my email address</a></p>
<p class="muted">This link expires in {{ expires_in_hours }} hours. If you did not sign up, you can ignore this email.</p>
"#,
            "Hello {{ user.name }},

Thanks for signing up to {{ tenant.name }}. Please confirm that {{ user.email }} is your email address by opening this link:
{{ confirm_url }}

This link expires in {{ expires_in_hours }} hours. If you did not sign up, you can ignore this email.
",
        ),
        Event::UserPasswordReset => (
            "Reset your {{ tenant.name }} password",
            r#"<p>Hello {{ user.name }},</p>
<p>We received a request to reset the password for your {{ tenant.name }} account ({{ user.email }}).</p>
<p><a class="button" href="{{ reset_url }}">Choose a new password</a></p>
<p class="muted">This link expires in {{ expires_in_minutes }} minutes. If you did not ask for a new password, you can ignore this email: your password stays the same.</p>
"#,
            "Hello {{ user.name }},

We received a request to reset the password for your {{ tenant.name }} account ({{ user.email }}). Choose a new password here:
{{ reset_url }}

This link expires in {{ expires_in_minutes }} minutes. If you did not ask for a new password, you can ignore this email: your password stays the same.
",
        ),
        Event::UserPasswordChanged => (
            "Your {{ tenant.name }} password was changed",
            r#"<p>Hello {{ user.name }},</p>
<p>The password for your {{ tenant.name }} account ({{ user.email }}) was changed on {{ changed_at }}.</p>
<p>If you made this change, there is nothing else to do.</p>
<p class="muted">If you did not change your password, please reset it right away from the <a href="{{ tenant.portal_url }}">help desk portal</a>{% if tenant.support_email %} and let us know at <a href="mailto:{{ tenant.support_email }}">{{ tenant.support_email }}</a>{% endif %}.</p>
"#,
            "Hello {{ user.name }},

The password for your {{ tenant.name }} account ({{ user.email }}) was changed on {{ changed_at }}.

If you made this change, there is nothing else to do.

If you did not change your password, please reset it right away at {{ tenant.portal_url }}{% if tenant.support_email %} and let us know at {{ tenant.support_email }}{% endif %}.
",
        ),
        Event::AgentInvitation => (
            "Join the {{ tenant.name }} team",
            r#"<p>Hello {{ agent.name }},</p>
<p>You have been invited to join <strong>{{ tenant.name }}</strong> as an agent, to answer tickets with the rest of the team.</p>
<p><a class="button" href="{{ invitation_url }}">Accept the invitation</a></p>
<p class="muted">You will sign in as {{ agent.email }}. This link expires in {{ expires_in_hours }} hours. If you were not expecting an invitation, you can ignore this email.</p>
"#,
            "Hello {{ agent.name }},

You have been invited to join {{ tenant.name }} as an agent, to answer tickets with the rest of the team.

Accept the invitation and choose your password here:
{{ invitation_url }}

You will sign in as {{ agent.email }}. This link expires in {{ expires_in_hours }} hours. If you were not expecting an invitation, you can ignore this email.
",
        ),
        Event::AgentPasswordReset => (
            "Reset your {{ tenant.name }} agent password",
            r#"<p>Hello {{ agent.name }},</p>
<p>We received a request to reset the password for your agent account {{ agent.email }} at {{ tenant.name }}.</p>
<p><a class="button" href="{{ reset_url }}">Choose a new password</a></p>
<p class="muted">This link expires in {{ expires_in_minutes }} minutes. If you did not ask for a new password, you can ignore this email: your password stays the same.</p>
"#,
            "Hello {{ agent.name }},

We received a request to reset the password for your agent account {{ agent.email }} at {{ tenant.name }}. Choose a new password here:
{{ reset_url }}

This link expires in {{ expires_in_minutes }} minutes. If you did not ask for a new password, you can ignore this email: your password stays the same.
",
        ),
        Event::SupportEmailVerification => (
            "Confirm {{ tenant.support_email }} as the support address of {{ tenant.name }}",
            r#"<p>Hello,</p>
<p>Someone set <strong>{{ tenant.support_email }}</strong> as the support address of the {{ tenant.name }} help desk. Once you confirm, mail from the help desk will come from this address.</p>
<p><a class="button" href="{{ verify_url }}">Confirm this address</a></p>
<p class="muted">This link expires in {{ expires_in_hours }} hours. If this was not expected, ignore this email: nothing will be sent from this address.</p>
"#,
            "Hello,

Someone set {{ tenant.support_email }} as the support address of the {{ tenant.name }} help desk. Once you confirm, mail from the help desk will come from this address. Confirm here:
{{ verify_url }}

This link expires in {{ expires_in_hours }} hours. If this was not expected, ignore this email: nothing will be sent from this address.
",
        ),
        Event::TicketCreatedAutoresponse => (
            "[#{{ ticket.number }}] We received your request: {{ ticket.subject }}",
            r#"<p>Hello {{ recipient.name }},</p>
<p>Thanks for contacting {{ tenant.name }}. We have received your request and opened ticket <strong>#{{ ticket.number }}</strong>. One of our agents will get back to you as soon as possible.</p>
<p><a class="button" href="{{ access_url }}">View your ticket</a></p>
<p class="muted">Status: {{ ticket.status }}. To add details, simply reply to this email. Your message:</p>
<blockquote>{{ message.body_html | safe }}</blockquote>
"#,
            "Hello {{ recipient.name }},

Thanks for contacting {{ tenant.name }}. We have received your request and opened ticket #{{ ticket.number }}. One of our agents will get back to you as soon as possible.

View your ticket: {{ access_url }}
Status: {{ ticket.status }}

To add details, simply reply to this email. Your message:

{{ message.body_text }}
",
        ),
        Event::TicketCreatedAlert => (
            "[#{{ ticket.number }}] New ticket: {{ ticket.subject }}",
            r#"<p>Hello {{ recipient.name }},</p>
<p><strong>{{ message.author_name }}</strong> opened a new ticket, <strong>#{{ ticket.number }} {{ ticket.subject }}</strong>.</p>
<blockquote>{{ message.body_html | safe }}</blockquote>
<p><a class="button" href="{{ ticket.url }}">Open the ticket</a></p>
<p class="muted">Status: {{ ticket.status }}</p>
"#,
            "Hello {{ recipient.name }},

{{ message.author_name }} opened a new ticket, #{{ ticket.number }} {{ ticket.subject }}.

{{ message.body_text }}

Open the ticket: {{ ticket.url }}
Status: {{ ticket.status }}
",
        ),
        Event::TicketReplyToUser => (
            "[#{{ ticket.number }}] Re: {{ ticket.subject }}",
            r#"<p>Hello {{ recipient.name }},</p>
<p>{{ agent.name }} replied to your ticket <strong>#{{ ticket.number }} {{ ticket.subject }}</strong>:</p>
<blockquote>{{ message.body_html | safe }}</blockquote>
<p>To answer, simply reply to this email or open your ticket.</p>
<p><a class="button" href="{{ access_url }}">View your ticket</a></p>
<p class="muted">Status: {{ ticket.status }}</p>
"#,
            "Hello {{ recipient.name }},

{{ agent.name }} replied to your ticket #{{ ticket.number }} {{ ticket.subject }}:

{{ message.body_text }}

To answer, simply reply to this email or open your ticket: {{ access_url }}
Status: {{ ticket.status }}
",
        ),
        Event::TicketMessageAlert => (
            "[#{{ ticket.number }}] New message: {{ ticket.subject }}",
            r#"<p>Hello {{ recipient.name }},</p>
<p><strong>{{ message.author_name }}</strong> added a message to ticket <strong>#{{ ticket.number }} {{ ticket.subject }}</strong>.</p>
<blockquote>{{ message.body_html | safe }}</blockquote>
<p><a class="button" href="{{ ticket.url }}">Open the ticket</a></p>
<p class="muted">Status: {{ ticket.status }}</p>
"#,
            "Hello {{ recipient.name }},

{{ message.author_name }} added a message to ticket #{{ ticket.number }} {{ ticket.subject }}.

{{ message.body_text }}

Open the ticket: {{ ticket.url }}
Status: {{ ticket.status }}
",
        ),
        Event::TicketAssignedAlert => (
            "[#{{ ticket.number }}] Assigned to {{ assignee.name }}: {{ ticket.subject }}",
            r#"<p>Hello {{ recipient.name }},</p>
<p>Ticket <strong>#{{ ticket.number }} {{ ticket.subject }}</strong> is now assigned to <strong>{{ assignee.name }}</strong>{% if agent.name %} by {{ agent.name }}{% endif %}.</p>
<p><a class="button" href="{{ ticket.url }}">Open the ticket</a></p>
<p class="muted">Status: {{ ticket.status }}</p>
"#,
            "Hello {{ recipient.name }},

Ticket #{{ ticket.number }} {{ ticket.subject }} is now assigned to {{ assignee.name }}{% if agent.name %} by {{ agent.name }}{% endif %}.

Open the ticket: {{ ticket.url }}
Status: {{ ticket.status }}
",
        ),
        Event::TicketClosed => (
            "[#{{ ticket.number }}] Closed: {{ ticket.subject }}",
            r#"<p>Hello {{ recipient.name }},</p>
<p>Your ticket <strong>#{{ ticket.number }} {{ ticket.subject }}</strong> has been closed{% if agent.name %} by {{ agent.name }}{% endif %}. We hope we could help.</p>
<p>If something is still not right, simply reply to this email and we will pick it up again.</p>
<p><a class="button" href="{{ access_url }}">View your ticket</a></p>
"#,
            "Hello {{ recipient.name }},

Your ticket #{{ ticket.number }} {{ ticket.subject }} has been closed{% if agent.name %} by {{ agent.name }}{% endif %}. We hope we could help.

If something is still not right, simply reply to this email and we will pick it up again.

View your ticket: {{ access_url }}
",
        ),
        Event::TicketAccessLink => (
            "[#{{ ticket.number }}] Your link to {{ ticket.subject }}",
            r#"<p>Hello {{ recipient.name }},</p>
<p>Here is your link to ticket <strong>#{{ ticket.number }} {{ ticket.subject }}</strong>. It opens the ticket without a password, so please do not forward this email.</p>
<p><a class="button" href="{{ access_url }}">View your ticket</a></p>
<p class="muted">Status: {{ ticket.status }}. If you did not ask for this link, you can ignore this email.</p>
"#,
            "Hello {{ recipient.name }},

Here is your link to ticket #{{ ticket.number }} {{ ticket.subject }}. It opens the ticket without a password, so please do not forward this email.

{{ access_url }}

Status: {{ ticket.status }}. If you did not ask for this link, you can ignore this email.
",
        ),
    };
    TemplateSource {
        subject: subject.to_owned(),
        html: html(html_body),
        text: [text_body, TEXT_FOOTER].concat(),
    }
}

const HTML_HEAD: &str = r#"<!DOCTYPE html>
<html>
<body style="margin:0;padding:0;background-color:#f4f5f7;">
<div style="max-width:600px;margin:0 auto;padding:24px;font-family:Helvetica,Arial,sans-serif;font-size:15px;line-height:1.5;color:#1f2933;">
<div style="background-color:#ffffff;border:1px solid #e4e7eb;border-radius:6px;padding:24px;">
"#;

const HTML_FOOT: &str = r#"</div>
<p style="margin:16px 0 0;font-size:12px;color:#7b8794;text-align:center;">{{ tenant.name }} &middot; <a href="{{ tenant.portal_url }}" style="color:#7b8794;">{{ tenant.portal_url }}</a>{% if tenant.support_email %} &middot; <a href="mailto:{{ tenant.support_email }}" style="color:#7b8794;">{{ tenant.support_email }}</a>{% endif %}</p>
</div>
</body>
</html>
"#;

const TEXT_FOOTER: &str = "
-- 
{{ tenant.name }}
{{ tenant.portal_url }}
{% if tenant.support_email %}
{{ tenant.support_email }}
{% endif %}
";

/// Inline styles for the few tags the bodies use, most specific first.
const STYLES: &[(&str, &str)] = &[
    (
        r#"<a class="button" "#,
        r#"<a style="display:inline-block;padding:10px 18px;background-color:#2563eb;color:#ffffff;text-decoration:none;border-radius:4px;font-weight:bold;" "#,
    ),
    (
        r#"<p class="muted">"#,
        r#"<p style="margin:0 0 16px;font-size:13px;color:#616e7c;">"#,
    ),
    ("<p>", r#"<p style="margin:0 0 16px;">"#),
    (
        "<blockquote>",
        r#"<blockquote style="margin:0 0 16px;padding:12px 16px;border-left:3px solid #cbd2d9;background-color:#f9fafb;">"#,
    ),
    ("<a href=", r#"<a style="color:#2563eb;" href="#),
];

fn html(body: &str) -> String {
    let body = STYLES
        .iter()
        .fold(body.to_owned(), |body, (plain, styled)| {
            body.replace(plain, styled)
        });
    [HTML_HEAD, &body, HTML_FOOT].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_bodies_are_fully_styled() {
        for event in Event::ALL {
            let html = template(event).html;
            assert!(!html.contains("class="), "{}", event.key());
            assert!(!html.contains("<p>"), "{}", event.key());
        }
    }

    #[test]
    fn message_html_is_marked_safe_wherever_it_is_used() {
        for event in Event::ALL {
            let source = template(event);
            if source.html.contains("message.body_html") {
                assert!(
                    source.html.contains("message.body_html | safe"),
                    "{}",
                    event.key()
                );
            }
            assert!(!source.text.contains("body_html"), "{}", event.key());
        }
    }

    #[test]
    fn defaults_use_the_variables_their_event_offers() {
        for event in Event::ALL {
            let source = template(event);
            let all = [source.subject.as_str(), &source.html, &source.text].concat();
            for variable in event.variables() {
                // "Closed" would only repeat what the closed mail already says.
                if event == Event::TicketClosed && variable.path == "ticket.status" {
                    continue;
                }
                assert!(
                    all.contains(variable.path),
                    "{} does not use {}",
                    event.key(),
                    variable.path
                );
            }
        }
    }
}
