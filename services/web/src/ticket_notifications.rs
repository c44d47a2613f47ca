//! Ticket notifications: who gets which mail when a ticket is created, assigned, answered or
//! closed, queued through [`mailer::queue`] in the transaction of the change itself, so a change
//! that rolls back sends nothing. Every mail to an end user about a ticket carries that
//! recipient's guest link ([`store::guest_links`]): a fresh secret of their one link on the
//! ticket, minted in the same transaction.
//!
//! The ticket workflow ([`crate::tickets`]) works on a bare `TenantTx` and is called from many
//! places, so the two platform values mail needs (the base URL for links and the platform's
//! sending address) are registered once when the application state is built
//! ([`register_origin`]) instead of being threaded through every caller.

use std::collections::HashSet;
use std::sync::OnceLock;

use domain::ticket::Source;
use domain::{BaseUrl, EmailAddress};
use serde_json::{Value, json};
use store::notification_mutes::{self as mutes, MuteKind, Recipient};
use store::ticket_thread::Entry;
use store::tickets::Ticket;
use store::{StoreError, TenantTx};
use uuid::Uuid;

use crate::WebConfig;
use crate::mailer::{self, Event, Mail, MailerError, Sender};

/// The platform values links and Message-IDs need.
struct Origin {
    base_url: BaseUrl,
    mail_from: EmailAddress,
}

static ORIGIN: OnceLock<Origin> = OnceLock::new();

/// Registers the platform's base URL and sending address for ticket mail. The first
/// registration in a process wins (one process serves one platform).
pub fn register_origin(config: &WebConfig) {
    let _ = ORIGIN.set(Origin {
        base_url: config.base_url.clone(),
        mail_from: config.mail_from.clone(),
    });
}

/// The link an end user follows from a ticket mail: their guest link, which opens this one
/// ticket on the portal whether or not they have an account or are signed in.
async fn requester_link(
    tx: &mut TenantTx,
    portal: &str,
    ticket: &Ticket,
    recipient: Uuid,
) -> Result<String, StoreError> {
    let minted = store::guest_links::mint(tx, ticket.id, recipient, None).await?;
    Ok(guest_url(portal, ticket.number, &minted.secret))
}

/// The portal address of a guest link secret of ticket `number`: the ticket's own address
/// with the secret after it, so people see which ticket a link opens.
pub fn guest_url(portal: &str, number: i64, secret: &str) -> String {
    format!("{portal}/tickets/{number}/guest/{secret}")
}

/// The link an agent follows from a ticket alert.
fn agent_link(portal: &str, ticket: &Ticket) -> String {
    format!("{portal}/agent/tickets/{}", ticket.number)
}

/// A new ticket: the assignment alert to its assignee (or team) when it was created assigned,
/// and the new-ticket alert to the department's agents and the organization's account manager
/// (when the organization asks for it). Nobody gets both, and the creating agent gets neither.
pub async fn ticket_created(
    tx: &mut TenantTx,
    ticket: &Ticket,
    first_message: &Entry,
    creator: Option<Uuid>,
) -> Result<(), StoreError> {
    let mut done: HashSet<Uuid> = creator.into_iter().collect();
    let assigned = assignees(
        tx,
        ticket.assignee_agent.as_ref().map(|a| a.id),
        ticket.assignee_team.as_ref().map(|t| t.id),
        MuteKind::Assigned,
    )
    .await?;
    let assigned = fresh(assigned, &mut done);
    let mut alerted =
        mutes::department_agents(tx, ticket.department.id, MuteKind::NewTicket).await?;
    if let Some(organization) = &ticket.organization {
        alerted
            .extend(mutes::account_manager_agents(tx, organization.id, MuteKind::NewTicket).await?);
    }
    let alerted = fresh(alerted, &mut done);
    let Some(mut outgoing) = Outgoing::new(tx).await? else {
        return Ok(());
    };
    if autoresponds(tx, ticket).await? {
        let requester = mutes::ticket_people(tx, ticket.id)
            .await?
            .into_iter()
            .find(|person| person.id == ticket.requester.id);
        if let Some(person) = requester {
            let context = json!({
                "recipient": {"name": person.name},
                "ticket": ticket_values(ticket),
                "access_url": requester_link(tx, &outgoing.portal, ticket, person.id).await?,
                "message": message_values(first_message),
            });
            outgoing
                .send(tx, Event::TicketCreatedAutoresponse, &person, context)
                .await?;
        }
    }
    for agent in &assigned {
        outgoing
            .agent_alert(tx, Event::TicketAssignedAlert, agent, ticket, None)
            .await?;
    }
    for agent in &alerted {
        outgoing
            .agent_alert(
                tx,
                Event::TicketCreatedAlert,
                agent,
                ticket,
                Some(first_message),
            )
            .await?;
    }
    Ok(())
}

/// An assignment changed: the newly assigned agent, or the newly assigned team's members, get
/// the assignment alert, except the agent who assigned (assigning to oneself sends nothing).
pub async fn ticket_assigned(
    tx: &mut TenantTx,
    ticket: &Ticket,
    new_agent: Option<Uuid>,
    new_team: Option<Uuid>,
    assigner: Option<Uuid>,
) -> Result<(), StoreError> {
    let mut done: HashSet<Uuid> = assigner.into_iter().collect();
    let recipients = assignees(tx, new_agent, new_team, MuteKind::Assigned).await?;
    let recipients = fresh(recipients, &mut done);
    if recipients.is_empty() {
        return Ok(());
    }
    let Some(mut outgoing) = Outgoing::new(tx).await? else {
        return Ok(());
    };
    for agent in &recipients {
        outgoing
            .agent_alert(tx, Event::TicketAssignedAlert, agent, ticket, None)
            .await?;
    }
    Ok(())
}

/// An end user (the requester or a collaborator) wrote `entry`: the assignee, else the assigned
/// team's members, else the department's agents get the message alert, unless they muted it.
pub async fn user_replied(
    tx: &mut TenantTx,
    ticket: &Ticket,
    entry: &Entry,
) -> Result<(), StoreError> {
    let agent = ticket.assignee_agent.as_ref().map(|a| a.id);
    let team = ticket.assignee_team.as_ref().map(|t| t.id);
    let recipients = if agent.is_some() {
        assignees(tx, agent, None, MuteKind::UserReply).await?
    } else if team.is_some() {
        assignees(tx, None, team, MuteKind::UserReply).await?
    } else {
        mutes::department_agents(tx, ticket.department.id, MuteKind::UserReply).await?
    };
    let recipients = fresh(recipients, &mut HashSet::new());
    if recipients.is_empty() {
        return Ok(());
    }
    let Some(mut outgoing) = Outgoing::new(tx).await? else {
        return Ok(());
    };
    for agent in &recipients {
        outgoing
            .agent_alert(tx, Event::TicketMessageAlert, agent, ticket, Some(entry))
            .await?;
    }
    Ok(())
}

/// The help desk answered: the requester and the collaborators who may get mail (valid, not
/// erased) receive the reply.
pub async fn agent_replied(
    tx: &mut TenantTx,
    ticket: &Ticket,
    entry: &Entry,
) -> Result<(), StoreError> {
    let people = mutes::ticket_people(tx, ticket.id).await?;
    if people.is_empty() {
        return Ok(());
    }
    let Some(mut outgoing) = Outgoing::new(tx).await? else {
        return Ok(());
    };
    let agent_name = entry.author_agent.as_ref().map_or_else(
        || outgoing.settings.display_name.clone(),
        |a| a.name.clone(),
    );
    for person in &people {
        let context = json!({
            "recipient": {"name": person.name},
            "ticket": ticket_values(ticket),
            "access_url": requester_link(tx, &outgoing.portal, ticket, person.id).await?,
            "agent": {"name": agent_name},
            "message": message_values(entry),
        });
        outgoing
            .send(tx, Event::TicketReplyToUser, person, context)
            .await?;
    }
    Ok(())
}

/// The help desk closed the ticket: the requester and collaborators who may get mail are told.
pub async fn ticket_closed(tx: &mut TenantTx, ticket: &Ticket) -> Result<(), StoreError> {
    let people = mutes::ticket_people(tx, ticket.id).await?;
    if people.is_empty() {
        return Ok(());
    }
    let Some(mut outgoing) = Outgoing::new(tx).await? else {
        return Ok(());
    };
    for person in &people {
        let context = json!({
            "recipient": {"name": person.name},
            "ticket": ticket_values(ticket),
            "access_url": requester_link(tx, &outgoing.portal, ticket, person.id).await?,
        });
        outgoing
            .send(tx, Event::TicketClosed, person, context)
            .await?;
    }
    Ok(())
}

/// The portal's ticket-number-and-email form matched: `recipient` (the requester or one in
/// copy) gets the `ticket.access_link` mail with a guest link to the ticket. Nothing is sent
/// to someone who may not get mail (invalid or erased).
pub async fn access_link(
    tx: &mut TenantTx,
    ticket: &Ticket,
    recipient: Uuid,
) -> Result<(), StoreError> {
    let Some(person) = mutes::ticket_people(tx, ticket.id)
        .await?
        .into_iter()
        .find(|person| person.id == recipient)
    else {
        return Ok(());
    };
    let Some(mut outgoing) = Outgoing::new(tx).await? else {
        return Ok(());
    };
    let context = json!({
        "recipient": {"name": person.name},
        "ticket": ticket_values(ticket),
        "access_url": requester_link(tx, &outgoing.portal, ticket, person.id).await?,
    });
    outgoing
        .send(tx, Event::TicketAccessLink, &person, context)
        .await
}

/// Whether a new ticket gets the autoresponse: only tickets end users opened themselves (the
/// portal, later inbound mail), when the workspace sends it and the ticket's topic does not
/// turn it off. Agents and API clients that open a ticket for someone send their own word.
async fn autoresponds(tx: &mut TenantTx, ticket: &Ticket) -> Result<bool, StoreError> {
    if !matches!(ticket.source, Source::Portal | Source::Email) {
        return Ok(false);
    }
    if !store::portal_settings::load(tx).await?.autoresponse {
        return Ok(false);
    }
    match &ticket.help_topic {
        Some(topic) => Ok(store::help_topics::by_id(tx, topic.id)
            .await?
            .is_none_or(|topic| topic.autoresponse)),
        None => Ok(true),
    }
}

/// The assigned agent and the team's members who did not mute `kind`.
async fn assignees(
    tx: &mut TenantTx,
    agent: Option<Uuid>,
    team: Option<Uuid>,
    kind: MuteKind,
) -> Result<Vec<Recipient>, StoreError> {
    let mut recipients = Vec::new();
    if let Some(agent) = agent {
        recipients.extend(mutes::agent(tx, agent, kind).await?);
    }
    if let Some(team) = team {
        recipients.extend(mutes::team_members(tx, team, kind).await?);
    }
    Ok(recipients)
}

/// `recipients` without those in `done` nor duplicates; adds them to `done`.
fn fresh(recipients: Vec<Recipient>, done: &mut HashSet<Uuid>) -> Vec<Recipient> {
    recipients
        .into_iter()
        .filter(|recipient| done.insert(recipient.id))
        .collect()
}

fn ticket_values(ticket: &Ticket) -> Value {
    let status = ticket.status.as_ref().map_or_else(
        || capitalised(ticket.state.as_str()),
        |status| status.name.clone(),
    );
    json!({
        "number": ticket.number,
        "subject": ticket.subject,
        "status": status,
    })
}

fn message_values(entry: &Entry) -> Value {
    let author = entry
        .author_agent
        .as_ref()
        .or(entry.author_end_user.as_ref())
        .map(|named| named.name.clone());
    json!({
        "author_name": author,
        "body_text": entry.body_text,
        "body_html": entry.body_html,
    })
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// The tenant's sending context, loaded once per notification.
struct Outgoing {
    origin: &'static Origin,
    settings: store::settings::WorkspaceSettings,
    portal: String,
}

impl Outgoing {
    /// `None` (logged) when no origin was registered: a wiring bug that must not fail tickets.
    async fn new(tx: &mut TenantTx) -> Result<Option<Self>, StoreError> {
        let Some(origin) = ORIGIN.get() else {
            tracing::error!("ticket mail skipped: ticket_notifications::register_origin never ran");
            return Ok(None);
        };
        let settings = store::settings::load(tx).await?;
        let slug = mutes::tenant_slug(tx).await?;
        let portal = origin.base_url.tenant_origin(&slug);
        Ok(Some(Self {
            origin,
            settings,
            portal,
        }))
    }

    async fn agent_alert(
        &mut self,
        tx: &mut TenantTx,
        event: Event,
        agent: &Recipient,
        ticket: &Ticket,
        entry: Option<&Entry>,
    ) -> Result<(), StoreError> {
        let mut context = json!({
            "recipient": {"name": agent.name},
            "ticket": ticket_values(ticket),
        });
        context["ticket"]["url"] = json!(agent_link(&self.portal, ticket));
        if let Some(entry) = entry {
            context["message"] = message_values(entry);
        }
        self.send(tx, event, agent, context).await
    }

    /// Queues one mail. A recipient whose stored address no longer parses is skipped; so is a
    /// mail even the shipped template cannot render (logged): neither may undo the change.
    async fn send(
        &mut self,
        tx: &mut TenantTx,
        event: Event,
        recipient: &Recipient,
        context: Value,
    ) -> Result<(), StoreError> {
        let Ok(address) = EmailAddress::parse(&recipient.email) else {
            tracing::warn!(
                mail.event = event.key(),
                "a ticket mail recipient has no usable address"
            );
            return Ok(());
        };
        let sender = Sender {
            settings: &self.settings,
            platform_from: &self.origin.mail_from,
            portal_url: &self.portal,
        };
        let mail = Mail {
            event,
            locale: None,
            recipient: &address,
            context,
        };
        match mailer::queue(tx, &sender, mail).await {
            Ok(_) => Ok(()),
            Err(MailerError::Store(error)) => Err(error),
            Err(error) => {
                tracing::error!(mail.event = event.key(), %error, "a ticket mail was not queued");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipient(id: u128) -> Recipient {
        Recipient {
            id: Uuid::from_u128(id),
            name: format!("Agent {id}"),
            email: format!("a{id}@example.com"),
        }
    }

    #[test]
    fn nobody_is_notified_twice_nor_the_actor() {
        let mut done: HashSet<Uuid> = [Uuid::from_u128(1)].into_iter().collect();
        let first = fresh(vec![recipient(1), recipient(2), recipient(2)], &mut done);
        assert_eq!(first, vec![recipient(2)]);
        let second = fresh(vec![recipient(2), recipient(3)], &mut done);
        assert_eq!(second, vec![recipient(3)]);
    }

    #[test]
    fn states_read_as_words() {
        assert_eq!(capitalised("open"), "Open");
        assert_eq!(capitalised(""), "");
    }
}
