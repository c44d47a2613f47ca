//! The portal's ticket workflow: what an end user (signed in) or a guest (by name and email,
//! or by guest link) may do with tickets, and the checks behind it. The registration mode
//! (osTicket's table) says who may open a ticket at all; help topics and customer groups say
//! where; the portal settings say whether an end user may close or reopen. Pages only offer
//! what these functions allow, and these functions refuse everything else anyway.

use chrono::{Duration, Utc};
use domain::EmailAddress;
use domain::RegistrationMethod;
use domain::custom_fields::{FieldEntity, parse_text_value};
use domain::ticket::{BodyFormat, MessageBody, Source, TicketState};
use serde_json::Map;
use store::TenantTx;
use store::customer_groups::GroupPermission;
use store::help_topics::HelpTopic;
use store::portal_settings::PortalSettings;
use store::ticket_thread::{Entry, EntryKind};
use store::tickets::{Ticket, TicketScope};
use uuid::Uuid;

use crate::attachments::{self, AttachError, Staged, Upload};
use crate::pages::account::RegistrationMode;
use crate::tickets::{
    self, NewTicketInput, RequesterInput, TicketActor, TicketChanges, TicketError,
};

/// The refusal for a mode that takes no new tickets through the portal.
pub const NO_NEW_TICKETS: &str = "This help desk does not accept new requests through the portal.";
/// The refusal for a guest where signing in is required.
pub const SIGN_IN_TO_OPEN: &str = "Sign in to open a request.";
/// The refusal for an end user the directory marks invalid (or erased).
pub const CONTACT_HELP_DESK: &str =
    "Your account cannot open requests at the moment. Please contact the help desk.";

/// The portal takes new tickets in this mode at all (not: required and disabled).
pub fn accepts_tickets(mode: RegistrationMode) -> bool {
    !(mode.required && mode.method == RegistrationMethod::Disabled)
}

/// Visitors without an account may open tickets in this mode (registration not required).
pub fn guests_may_open(mode: RegistrationMode) -> bool {
    !mode.required
}

/// Who opens a ticket.
#[derive(Clone, Debug)]
pub enum Opener {
    /// A visitor without signing in: the name and email typed into the form, unparsed.
    Guest { name: String, email: String },
    /// A signed-in end user.
    User(Uuid),
}

/// A ticket as the portal's form sends it.
#[derive(Clone, Debug, Default)]
pub struct OpenForm {
    pub help_topic_id: String,
    pub subject: String,
    pub message: String,
    /// Custom field values by key (`custom.<key>` in the form), as typed.
    pub custom: Vec<(String, String)>,
}

/// The topics the visitor may open tickets under: public topics offered to everyone or
/// granted to them (see [`store::help_topics::topics_for_user`]), whose department's customer
/// group they may write to (a visitor without an account: only by the group's default).
pub async fn offered_topics(
    tx: &mut TenantTx,
    user: Option<Uuid>,
) -> Result<Vec<HelpTopic>, store::StoreError> {
    let mut offered = Vec::new();
    for topic in store::help_topics::topics_for_user(tx, user).await? {
        let permission =
            store::portal_tickets::department_permission(tx, user, topic.department_id).await?;
        if permission == Some(GroupPermission::Rw) {
            offered.push(topic);
        }
    }
    Ok(offered)
}

/// The custom fields of a topic an end user fills in: active ticket fields the topic asks for
/// that end users may edit, in the topic's order.
pub async fn topic_fields(
    tx: &mut TenantTx,
    topic: &HelpTopic,
) -> Result<Vec<domain::custom_fields::FieldDefinition>, store::StoreError> {
    let active = store::custom_fields::active(tx, FieldEntity::Ticket).await?;
    Ok(topic
        .field_ids
        .iter()
        .filter_map(|id| active.iter().find(|f| f.id == *id))
        .filter(|f| f.end_user_editable)
        .cloned()
        .collect())
}

/// Opens a ticket from the portal, with its files, in the caller's transaction (the caller
/// keeps `staged` after the commit). Refused ([`TicketError::Refused`]) when the mode does not
/// let this visitor open tickets or the requester is not valid; field errors otherwise.
pub async fn open(
    tx: &mut TenantTx,
    staged: &mut Staged,
    mode: RegistrationMode,
    opener: &Opener,
    form: &OpenForm,
    files: &[Upload],
) -> Result<Ticket, AttachError> {
    if !accepts_tickets(mode) {
        return Err(TicketError::Refused(NO_NEW_TICKETS.into()).into());
    }
    let mut errors: Vec<(String, String)> = Vec::new();
    // The requester: the signed-in user, or the guest's directory record (made when new).
    let requester = match opener {
        Opener::User(id) => Some(*id),
        Opener::Guest { name, email } => {
            if !guests_may_open(mode) {
                return Err(TicketError::Refused(SIGN_IN_TO_OPEN.into()).into());
            }
            let name = name.trim();
            if name.is_empty() {
                errors.push(("name".into(), "is required".into()));
            } else if name.chars().count() > 200 {
                errors.push(("name".into(), "is longer than 200 characters".into()));
            }
            match EmailAddress::parse(email.trim()) {
                Ok(email) => match store::end_users::by_email(tx, email.as_str()).await? {
                    Some(user) => Some(user.id),
                    None if errors.is_empty() => {
                        let user = store::end_users::create(
                            tx,
                            &store::end_users::NewEndUser {
                                name,
                                email: &email,
                                status: store::end_users::EndUserStatus::Guest,
                                password_hash: None,
                            },
                        )
                        .await?;
                        Some(user.id)
                    }
                    None => None,
                },
                Err(_) => {
                    errors.push(("email".into(), "is not a valid email address".into()));
                    None
                }
            }
        }
    };
    if let Some(id) = requester
        && let Some(record) = store::user_directory::by_id(tx, id).await?
        && (record.erased_at.is_some() || record.validity != domain::Validity::Valid)
    {
        return Err(TicketError::Refused(CONTACT_HELP_DESK.into()).into());
    }

    let offered = offered_topics(tx, requester).await?;
    let topic = match form.help_topic_id.trim() {
        "" if offered.is_empty() => None,
        "" => {
            errors.push(("help_topic_id".into(), "is required: choose a topic".into()));
            None
        }
        raw => {
            let chosen = Uuid::parse_str(raw)
                .ok()
                .and_then(|id| offered.iter().find(|t| t.id == id));
            if chosen.is_none() {
                errors.push((
                    "help_topic_id".into(),
                    "is not a topic you may open requests under".into(),
                ));
            }
            chosen.cloned()
        }
    };
    // Without a topic the ticket goes to the default department, whose group must allow it.
    if topic.is_none() && offered.is_empty() {
        let department = store::ticket_settings::load(tx)
            .await?
            .default_department_id;
        if let Some(department) = department
            && store::portal_tickets::department_permission(tx, requester, department).await?
                != Some(GroupPermission::Rw)
        {
            return Err(TicketError::Refused(
                "You may not open requests at this help desk. Please contact the help desk.".into(),
            )
            .into());
        }
    }
    let mut custom = Map::new();
    if let Some(topic) = &topic {
        for field in topic_fields(tx, topic).await? {
            let name = format!("custom.{}", field.key);
            let raw = form
                .custom
                .iter()
                .find(|(n, _)| *n == name || *n == field.key)
                .map(|(_, v)| v.trim())
                .unwrap_or_default();
            if raw.is_empty() {
                continue;
            }
            match parse_text_value(&field, raw) {
                Ok(value) => {
                    custom.insert(field.key.clone(), value);
                }
                Err(message) => errors.push((name, message)),
            }
        }
    }
    let Some(requester) = requester else {
        return Err(TicketError::Invalid(errors).into());
    };
    let input = NewTicketInput {
        subject: form.subject.clone(),
        message: form.message.clone(),
        format: BodyFormat::Text,
        requester: Some(RequesterInput::Id(requester)),
        department_id: None,
        help_topic_id: topic.as_ref().map(|t| t.id),
        priority: None,
        assignee_agent_id: None,
        assignee_team_id: None,
        collaborators: Vec::new(),
        custom,
        source: Source::Portal,
        idempotency_key: None,
        errors,
    };
    let (ticket, _) =
        attachments::create(tx, staged, TicketActor::EndUser(requester), &input, files).await?;
    Ok(ticket)
}

/// How someone reached a ticket on the portal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A signed-in end user under the portal's access rule.
    User(Uuid),
    /// A guest link: its recipient, on its ticket only.
    Guest { end_user_id: Uuid, ticket_id: Uuid },
}

impl Access {
    pub fn end_user(self) -> Uuid {
        match self {
            Self::User(id)
            | Self::Guest {
                end_user_id: id, ..
            } => id,
        }
    }
}

/// What the visitor may do on a ticket they see.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Allowed {
    pub reply: bool,
    pub close: bool,
    pub reopen: bool,
}

/// What `access` may do on `ticket`: reply while it is not closed (and, signed in, with `rw`
/// on its department's group); close when the workspace lets end users close; reopen within
/// the reopen window. A guest link acts for its recipient on its ticket.
pub async fn allowed(
    tx: &mut TenantTx,
    access: Access,
    ticket: &Ticket,
    settings: &PortalSettings,
) -> Result<Allowed, store::StoreError> {
    let writes = match access {
        Access::User(user) => store::portal_tickets::writable(tx, user, ticket.id).await?,
        Access::Guest { ticket_id, .. } => ticket_id == ticket.id,
    };
    if !writes {
        return Ok(Allowed::default());
    }
    let closed = ticket.state == TicketState::Closed;
    let reopen = closed
        && settings.reopen_days > 0
        && ticket
            .closed_at
            .is_some_and(|at| at + Duration::days(i64::from(settings.reopen_days)) > Utc::now());
    Ok(Allowed {
        reply: !closed,
        close: !closed && settings.users_may_close,
        reopen,
    })
}

/// The ticket `access` reaches by number: the signed-in user's under the access rule, or the
/// guest link's own ticket (only when the number is that ticket's).
pub async fn ticket(
    tx: &mut TenantTx,
    access: Access,
    number: i64,
) -> Result<Option<Ticket>, store::StoreError> {
    let id = match access {
        Access::User(user) => store::portal_tickets::visible_by_number(tx, user, number).await?,
        Access::Guest { ticket_id, .. } => Some(ticket_id),
    };
    let Some(id) = id else {
        return Ok(None);
    };
    Ok(store::tickets::by_id(tx, TicketScope::All, id)
        .await?
        .filter(|t| t.number == number))
}

/// The public thread: messages only, never internal notes nor the record of changes.
pub async fn public_thread(
    tx: &mut TenantTx,
    ticket_id: Uuid,
) -> Result<Vec<Entry>, store::StoreError> {
    Ok(store::ticket_thread::thread(tx, ticket_id)
        .await?
        .into_iter()
        .filter(|e| e.kind == EntryKind::Message)
        .collect())
}

/// The attachments of the public thread's messages, by entry.
pub async fn public_attachments(
    tx: &mut TenantTx,
    ticket_id: Uuid,
) -> Result<Vec<store::ticket_attachments::Attachment>, store::StoreError> {
    let messages: Vec<Uuid> = public_thread(tx, ticket_id)
        .await?
        .iter()
        .map(|e| e.id)
        .collect();
    Ok(store::ticket_attachments::for_ticket(tx, ticket_id)
        .await?
        .into_iter()
        .filter(|a| messages.contains(&a.entry_id))
        .collect())
}

/// An end user's message with files on a ticket `access` reaches.
pub async fn reply(
    tx: &mut TenantTx,
    staged: &mut Staged,
    access: Access,
    ticket: &Ticket,
    message: &str,
    files: &[Upload],
) -> Result<(), AttachError> {
    let settings = store::portal_settings::load(tx).await?;
    if !allowed(tx, access, ticket, &settings).await?.reply {
        return Err(
            TicketError::Refused(if ticket.state == TicketState::Closed {
                "This request is closed; reopen it (or open a new one) to write again.".into()
            } else {
                "You may read this request but not write to it.".into()
            })
            .into(),
        );
    }
    let body = MessageBody::parse(message, BodyFormat::Text)
        .map_err(|m| TicketError::Invalid(vec![("message".into(), m.into())]))?;
    attachments::reply(
        tx,
        staged,
        TicketScope::All,
        TicketActor::EndUser(access.end_user()),
        ticket.id,
        &body,
        files,
    )
    .await?;
    Ok(())
}

/// Closes (`Closed`) or reopens (`Open`) a ticket for an end user, when [`allowed`] says so.
pub async fn set_state(
    tx: &mut TenantTx,
    access: Access,
    ticket: &Ticket,
    to: TicketState,
) -> Result<Ticket, TicketError> {
    let settings = store::portal_settings::load(tx).await?;
    let allowed = allowed(tx, access, ticket, &settings).await?;
    let permitted = match to {
        TicketState::Closed => allowed.close,
        TicketState::Open => allowed.reopen,
        _ => false,
    };
    if !permitted {
        return Err(TicketError::Refused(match to {
            TicketState::Closed => "You may not close this request.".into(),
            _ => "This request can no longer be reopened; open a new one instead.".into(),
        }));
    }
    tickets::change(
        tx,
        TicketScope::All,
        TicketActor::EndUser(access.end_user()),
        ticket.id,
        None,
        &TicketChanges {
            state: Some(to),
            ..TicketChanges::default()
        },
    )
    .await
}
