//! The catalogue of events that send mail: keys, descriptions, documented variables and sample
//! data.

use serde_json::{Value, json};

use crate::defaults;
use crate::render::TemplateSource;

/// One event that sends mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Event {
    UserInvitation,
    UserRegistrationConfirm,
    UserPasswordReset,
    UserPasswordChanged,
    AgentInvitation,
    AgentPasswordReset,
    TicketCreatedAutoresponse,
    TicketCreatedAlert,
    TicketReplyToUser,
    TicketMessageAlert,
    TicketAssignedAlert,
    TicketClosed,
    TicketAccessLink,
    SupportEmailVerification,
}

/// One variable a template may use, by its dotted path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Variable {
    /// Dotted path as written in a template, e.g. `user.name`.
    pub path: &'static str,
    /// What the value is, for the tenant admin editing the template.
    pub description: &'static str,
}

const fn var(path: &'static str, description: &'static str) -> Variable {
    Variable { path, description }
}

const TENANT_NAME: Variable = var("tenant.name", "The help desk's display name.");
const TENANT_PORTAL_URL: Variable = var(
    "tenant.portal_url",
    "Address of the help desk's customer portal.",
);
const TENANT_SUPPORT_EMAIL: Variable = var(
    "tenant.support_email",
    "The help desk's support email address; may be empty.",
);

const USER_NAME: Variable = var("user.name", "The person's name.");
const USER_EMAIL: Variable = var("user.email", "The person's email address.");
const AGENT_SELF_NAME: Variable = var("agent.name", "The agent's name.");
const AGENT_SELF_EMAIL: Variable = var("agent.email", "The agent's email address.");
const INVITATION_URL: Variable = var(
    "invitation_url",
    "Link that accepts the invitation and lets them choose a password.",
);
const EXPIRES_IN_HOURS: Variable = var("expires_in_hours", "Hours until the link expires.");
const RESET_URL: Variable = var(
    "reset_url",
    "Link that opens the form to choose a new password.",
);
const EXPIRES_IN_MINUTES: Variable = var("expires_in_minutes", "Minutes until the link expires.");

const RECIPIENT_NAME: Variable = var("recipient.name", "Name of the person receiving this mail.");
const TICKET_NUMBER: Variable = var("ticket.number", "The ticket's number, e.g. 1042.");
const TICKET_SUBJECT: Variable = var("ticket.subject", "The ticket's subject.");
const TICKET_STATUS: Variable = var("ticket.status", "The ticket's current status, e.g. Open.");
const TICKET_URL: Variable = var(
    "ticket.url",
    "Link that opens the ticket in the agent workspace.",
);
const ACCESS_URL: Variable = var(
    "access_url",
    "Link that opens the ticket on the portal without signing in.",
);
const MESSAGE_BODY_TEXT: Variable = var("message.body_text", "The message as plain text.");
const MESSAGE_BODY_HTML: Variable = var(
    "message.body_html",
    "The message as sanitised HTML; print it with |safe in the HTML part.",
);
const MESSAGE_AUTHOR_NAME: Variable = var("message.author_name", "Who wrote the message.");

const SUPPORT_EMAIL_VERIFICATION: &[Variable] = &[
    TENANT_NAME,
    TENANT_PORTAL_URL,
    TENANT_SUPPORT_EMAIL,
    var("verify_url", "Link that confirms the support address."),
    EXPIRES_IN_HOURS,
];
const USER_INVITATION: &[Variable] = &[
    TENANT_NAME,
    TENANT_PORTAL_URL,
    TENANT_SUPPORT_EMAIL,
    USER_NAME,
    USER_EMAIL,
    INVITATION_URL,
    EXPIRES_IN_HOURS,
];
const USER_REGISTRATION_CONFIRM: &[Variable] = &[
    TENANT_NAME,
    TENANT_PORTAL_URL,
    TENANT_SUPPORT_EMAIL,
    USER_NAME,
    USER_EMAIL,
    var("confirm_url", "Link that confirms the email address."),
    EXPIRES_IN_HOURS,
];
const USER_PASSWORD_RESET: &[Variable] = &[
    TENANT_NAME,
    TENANT_PORTAL_URL,
    TENANT_SUPPORT_EMAIL,
    USER_NAME,
    USER_EMAIL,
    RESET_URL,
    EXPIRES_IN_MINUTES,
];
const USER_PASSWORD_CHANGED: &[Variable] = &[
    TENANT_NAME,
    TENANT_PORTAL_URL,
    TENANT_SUPPORT_EMAIL,
    USER_NAME,
    USER_EMAIL,
    var(
        "changed_at",
        "When the password was changed, already formatted, e.g. 14 Mar 2025, 09:26 UTC.",
    ),
];
const AGENT_INVITATION: &[Variable] = &[
    TENANT_NAME,
    TENANT_PORTAL_URL,
    TENANT_SUPPORT_EMAIL,
    AGENT_SELF_NAME,
    AGENT_SELF_EMAIL,
    INVITATION_URL,
    EXPIRES_IN_HOURS,
];
const AGENT_PASSWORD_RESET: &[Variable] = &[
    TENANT_NAME,
    TENANT_PORTAL_URL,
    TENANT_SUPPORT_EMAIL,
    AGENT_SELF_NAME,
    AGENT_SELF_EMAIL,
    RESET_URL,
    EXPIRES_IN_MINUTES,
];
const TICKET_CREATED_AUTORESPONSE: &[Variable] = &[
    TENANT_NAME,
    TENANT_PORTAL_URL,
    TENANT_SUPPORT_EMAIL,
    RECIPIENT_NAME,
    TICKET_NUMBER,
    TICKET_SUBJECT,
    TICKET_STATUS,
    ACCESS_URL,
    MESSAGE_BODY_TEXT,
    MESSAGE_BODY_HTML,
];
const TICKET_CREATED_ALERT: &[Variable] = &[
    TENANT_NAME,
    TENANT_PORTAL_URL,
    TENANT_SUPPORT_EMAIL,
    RECIPIENT_NAME,
    TICKET_NUMBER,
    TICKET_SUBJECT,
    TICKET_STATUS,
    TICKET_URL,
    MESSAGE_AUTHOR_NAME,
    MESSAGE_BODY_TEXT,
    MESSAGE_BODY_HTML,
];
const TICKET_REPLY_TO_USER: &[Variable] = &[
    TENANT_NAME,
    TENANT_PORTAL_URL,
    TENANT_SUPPORT_EMAIL,
    RECIPIENT_NAME,
    TICKET_NUMBER,
    TICKET_SUBJECT,
    TICKET_STATUS,
    ACCESS_URL,
    var("agent.name", "The agent who replied."),
    MESSAGE_BODY_TEXT,
    MESSAGE_BODY_HTML,
];
const TICKET_MESSAGE_ALERT: &[Variable] = &[
    TENANT_NAME,
    TENANT_PORTAL_URL,
    TENANT_SUPPORT_EMAIL,
    RECIPIENT_NAME,
    TICKET_NUMBER,
    TICKET_SUBJECT,
    TICKET_STATUS,
    TICKET_URL,
    MESSAGE_AUTHOR_NAME,
    MESSAGE_BODY_TEXT,
    MESSAGE_BODY_HTML,
];
const TICKET_ASSIGNED_ALERT: &[Variable] = &[
    TENANT_NAME,
    TENANT_PORTAL_URL,
    TENANT_SUPPORT_EMAIL,
    RECIPIENT_NAME,
    TICKET_NUMBER,
    TICKET_SUBJECT,
    TICKET_STATUS,
    TICKET_URL,
    var("assignee.name", "The agent the ticket is now assigned to."),
    var(
        "agent.name",
        "The agent who made the assignment; empty when it was automatic.",
    ),
];
const TICKET_CLOSED: &[Variable] = &[
    TENANT_NAME,
    TENANT_PORTAL_URL,
    TENANT_SUPPORT_EMAIL,
    RECIPIENT_NAME,
    TICKET_NUMBER,
    TICKET_SUBJECT,
    TICKET_STATUS,
    ACCESS_URL,
    var(
        "agent.name",
        "The agent who closed the ticket; empty when it was closed automatically.",
    ),
];
const TICKET_ACCESS_LINK: &[Variable] = &[
    TENANT_NAME,
    TENANT_PORTAL_URL,
    TENANT_SUPPORT_EMAIL,
    RECIPIENT_NAME,
    TICKET_NUMBER,
    TICKET_SUBJECT,
    TICKET_STATUS,
    ACCESS_URL,
];

impl Event {
    /// Every event, in catalogue order.
    pub const ALL: [Event; 14] = [
        Event::UserInvitation,
        Event::UserRegistrationConfirm,
        Event::UserPasswordReset,
        Event::UserPasswordChanged,
        Event::AgentInvitation,
        Event::AgentPasswordReset,
        Event::TicketCreatedAutoresponse,
        Event::TicketCreatedAlert,
        Event::TicketReplyToUser,
        Event::TicketMessageAlert,
        Event::TicketAssignedAlert,
        Event::TicketClosed,
        Event::TicketAccessLink,
        Event::SupportEmailVerification,
    ];

    /// The stable key stored with a tenant's override and used in URLs.
    pub fn key(self) -> &'static str {
        match self {
            Event::UserInvitation => "user.invitation",
            Event::UserRegistrationConfirm => "user.registration_confirm",
            Event::UserPasswordReset => "user.password_reset",
            Event::UserPasswordChanged => "user.password_changed",
            Event::AgentInvitation => "agent.invitation",
            Event::AgentPasswordReset => "agent.password_reset",
            Event::TicketCreatedAutoresponse => "ticket.created.autoresponse",
            Event::TicketCreatedAlert => "ticket.created.alert",
            Event::TicketReplyToUser => "ticket.reply.to_user",
            Event::TicketMessageAlert => "ticket.message.alert",
            Event::TicketAssignedAlert => "ticket.assigned.alert",
            Event::TicketClosed => "ticket.closed",
            Event::TicketAccessLink => "ticket.access_link",
            Event::SupportEmailVerification => "workspace.support_email_verification",
        }
    }

    /// The event with this [`key`](Event::key), if any.
    pub fn parse(key: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|event| event.key() == key)
    }

    /// One sentence: who receives this mail and when.
    pub fn description(self) -> &'static str {
        match self {
            Event::UserInvitation => {
                "Sent to a customer when an agent or admin invites them to the help desk portal."
            }
            Event::UserRegistrationConfirm => {
                "Sent to a customer who signed up on the portal, to confirm their email address."
            }
            Event::UserPasswordReset => {
                "Sent to a customer who asked to reset a forgotten portal password."
            }
            Event::UserPasswordChanged => {
                "Sent to a customer after their portal password changed, so they can act if it was not them."
            }
            Event::AgentInvitation => {
                "Sent to a new agent when an admin invites them to join the help desk team."
            }
            Event::AgentPasswordReset => {
                "Sent to an agent who asked to reset a forgotten password."
            }
            Event::TicketCreatedAutoresponse => {
                "Sent to the requester when their new ticket is received, with a link to follow it."
            }
            Event::TicketCreatedAlert => "Sent to agents when a new ticket arrives.",
            Event::TicketReplyToUser => {
                "Sent to the requester when an agent replies to their ticket."
            }
            Event::TicketMessageAlert => {
                "Sent to the agents following a ticket when the requester adds a message."
            }
            Event::TicketAssignedAlert => "Sent to an agent when a ticket is assigned to them.",
            Event::TicketClosed => "Sent to the requester when their ticket is closed.",
            Event::TicketAccessLink => {
                "Sent to a requester who asked for a link to view their ticket without signing in."
            }
            Event::SupportEmailVerification => {
                "Sent to a new support address, so that mail can come from it once its owner confirms."
            }
        }
    }

    /// The variables a template for this event may use, the common `tenant.*` ones first.
    pub fn variables(self) -> &'static [Variable] {
        match self {
            Event::UserInvitation => USER_INVITATION,
            Event::UserRegistrationConfirm => USER_REGISTRATION_CONFIRM,
            Event::UserPasswordReset => USER_PASSWORD_RESET,
            Event::UserPasswordChanged => USER_PASSWORD_CHANGED,
            Event::AgentInvitation => AGENT_INVITATION,
            Event::AgentPasswordReset => AGENT_PASSWORD_RESET,
            Event::TicketCreatedAutoresponse => TICKET_CREATED_AUTORESPONSE,
            Event::TicketCreatedAlert => TICKET_CREATED_ALERT,
            Event::TicketReplyToUser => TICKET_REPLY_TO_USER,
            Event::TicketMessageAlert => TICKET_MESSAGE_ALERT,
            Event::TicketAssignedAlert => TICKET_ASSIGNED_ALERT,
            Event::TicketClosed => TICKET_CLOSED,
            Event::TicketAccessLink => TICKET_ACCESS_LINK,
            Event::SupportEmailVerification => SUPPORT_EMAIL_VERIFICATION,
        }
    }

    /// Realistic sample data with a value for every declared variable, used for previews and
    /// validation.
    pub fn sample_context(self) -> Value {
        let tenant = json!({
            "name": "Acme Support",
            "portal_url": "https://support.acme.example",
            "support_email": "help@acme.example",
        });
        let customer = json!({ "name": "Dana Whitfield", "email": "dana.whitfield@example.com" });
        let agent = json!({ "name": "Sam Ortega", "email": "sam.ortega@acme.example" });
        let ticket = |status: &str| {
            json!({
                "number": 1042,
                "subject": "Cannot download my March invoice",
                "status": status,
                "url": "https://support.acme.example/agent/tickets/1042",
            })
        };
        let access_url = "https://support.acme.example/tickets/1042?key=q7Vd2mXe9LkP4tRw";
        let customer_message = json!({
            "author_name": "Dana Whitfield",
            "body_text": "Hello,\n\nWhen I click \"Download PDF\" on my March invoice, nothing happens. \
                          The February one downloads fine.\n\nThanks,\nDana",
            "body_html": "<p>Hello,</p><p>When I click <strong>Download PDF</strong> on my March \
                          invoice, nothing happens. The February one downloads fine.</p>\
                          <p>Thanks,<br>Dana</p>",
        });
        let agent_message = json!({
            "author_name": "Sam Ortega",
            "body_text": "Hi Dana,\n\nThanks for letting us know. We fixed the March invoice; \
                          the download works again. Could you give it another try?\n\nBest,\nSam",
            "body_html": "<p>Hi Dana,</p><p>Thanks for letting us know. We fixed the March \
                          invoice; the download works again. Could you give it another try?</p>\
                          <p>Best,<br>Sam</p>",
        });
        match self {
            Event::UserInvitation => json!({
                "tenant": tenant,
                "user": customer,
                "invitation_url": "https://support.acme.example/invitations/Jx83kQpLw2",
                "expires_in_hours": 72,
            }),
            Event::UserRegistrationConfirm => json!({
                "tenant": tenant,
                "user": customer,
                "confirm_url": "https://support.acme.example/confirm/Rb5tHn8cYs",
                "expires_in_hours": 24,
            }),
            Event::UserPasswordReset => json!({
                "tenant": tenant,
                "user": customer,
                "reset_url": "https://support.acme.example/password/reset/Mz4wQe7Tn1",
                "expires_in_minutes": 60,
            }),
            Event::UserPasswordChanged => json!({
                "tenant": tenant,
                "user": customer,
                "changed_at": "14 Mar 2025, 09:26 UTC",
            }),
            Event::AgentInvitation => json!({
                "tenant": tenant,
                "agent": agent,
                "invitation_url": "https://support.acme.example/agent/invitations/Pk2sVb9Rx4",
                "expires_in_hours": 72,
            }),
            Event::AgentPasswordReset => json!({
                "tenant": tenant,
                "agent": agent,
                "reset_url": "https://support.acme.example/agent/password/reset/Hd6yLc3Wq8",
                "expires_in_minutes": 60,
            }),
            Event::TicketCreatedAutoresponse => json!({
                "tenant": tenant,
                "recipient": { "name": "Dana Whitfield" },
                "ticket": ticket("Open"),
                "access_url": access_url,
                "message": customer_message,
            }),
            Event::TicketCreatedAlert => json!({
                "tenant": tenant,
                "recipient": { "name": "Sam Ortega" },
                "ticket": ticket("Open"),
                "message": customer_message,
            }),
            Event::TicketReplyToUser => json!({
                "tenant": tenant,
                "recipient": { "name": "Dana Whitfield" },
                "ticket": ticket("Pending"),
                "access_url": access_url,
                "agent": { "name": "Sam Ortega" },
                "message": agent_message,
            }),
            Event::TicketMessageAlert => json!({
                "tenant": tenant,
                "recipient": { "name": "Sam Ortega" },
                "ticket": ticket("Open"),
                "message": customer_message,
            }),
            Event::TicketAssignedAlert => json!({
                "tenant": tenant,
                "recipient": { "name": "Sam Ortega" },
                "ticket": ticket("Open"),
                "assignee": { "name": "Sam Ortega" },
                "agent": { "name": "Priya Natarajan" },
            }),
            Event::TicketClosed => json!({
                "tenant": tenant,
                "recipient": { "name": "Dana Whitfield" },
                "ticket": ticket("Closed"),
                "access_url": access_url,
                "agent": { "name": "Sam Ortega" },
            }),
            Event::TicketAccessLink => json!({
                "tenant": tenant,
                "recipient": { "name": "Dana Whitfield" },
                "ticket": ticket("Open"),
                "access_url": access_url,
            }),
            Event::SupportEmailVerification => json!({
                "tenant": tenant,
                "verify_url": "https://support.acme.example/support-email/verify/Wq3nB7xZk2",
                "expires_in_hours": 24,
            }),
        }
    }

    /// The template shipped with Tenantdesk, used until a tenant saves an override.
    pub fn default_template(self) -> TemplateSource {
        defaults::template(self)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn parse_round_trips_every_key() {
        for event in Event::ALL {
            assert_eq!(Event::parse(event.key()), Some(event), "{}", event.key());
        }
        let keys: HashSet<_> = Event::ALL.iter().map(|event| event.key()).collect();
        assert_eq!(keys.len(), Event::ALL.len(), "keys are unique");
    }

    #[test]
    fn parse_refuses_unknown_keys() {
        assert_eq!(Event::parse(""), None);
        assert_eq!(Event::parse("user"), None);
        assert_eq!(Event::parse("User.Invitation"), None);
        assert_eq!(Event::parse("ticket.created"), None);
    }

    #[test]
    fn every_event_offers_the_tenant_variables_and_no_duplicates() {
        for event in Event::ALL {
            let paths: Vec<_> = event.variables().iter().map(|v| v.path).collect();
            for common in ["tenant.name", "tenant.portal_url", "tenant.support_email"] {
                assert!(paths.contains(&common), "{} lacks {common}", event.key());
            }
            let unique: HashSet<_> = paths.iter().collect();
            assert_eq!(
                unique.len(),
                paths.len(),
                "{} repeats a variable",
                event.key()
            );
            assert!(!event.description().is_empty());
        }
    }

    #[test]
    fn end_user_ticket_mails_use_the_guest_link_and_agent_mails_the_workspace_link() {
        let has = |event: Event, path: &str| event.variables().iter().any(|v| v.path == path);
        for event in [
            Event::TicketCreatedAutoresponse,
            Event::TicketReplyToUser,
            Event::TicketClosed,
            Event::TicketAccessLink,
        ] {
            assert!(
                has(event, "access_url") && !has(event, "ticket.url"),
                "{}",
                event.key()
            );
        }
        for event in [
            Event::TicketCreatedAlert,
            Event::TicketMessageAlert,
            Event::TicketAssignedAlert,
        ] {
            assert!(
                has(event, "ticket.url") && !has(event, "access_url"),
                "{}",
                event.key()
            );
        }
    }
}
