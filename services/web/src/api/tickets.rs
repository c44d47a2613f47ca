//! `/api/v1/tickets`: create (idempotent with `Idempotency-Key`), list with filters and keyset
//! pages, read, change with versions, replies, internal notes, the thread with its events, and
//! collaborators. Tokens carry permissions, not departments: every endpoint here needs
//! `tickets.all`, and a token sees every ticket of its tenant.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::custom_fields::FieldEntity;
use domain::ticket::{BodyFormat, MessageBody, Priority, Source, TicketState};
use domain::{EmailAddress, Permission};
use serde::Serialize;
use serde_json::{Map, Value};
use store::ticket_thread::Entry;
use store::tickets::{Named, Ticket, TicketScope};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::json::{ApiJson, if_match_version};
use crate::api::page::Page;
use crate::attachments::AttachError;
use crate::error::{ApiError, FieldError, Problem};
use crate::tickets::{
    self, NewTicketInput, RequesterInput, TicketActor, TicketChanges, TicketError,
};

#[derive(Serialize, ToSchema)]
pub struct RefBody {
    pub id: Uuid,
    pub name: String,
}

impl From<Named> for RefBody {
    fn from(named: Named) -> Self {
        Self {
            id: named.id,
            name: named.name,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RequesterBody {
    pub id: Uuid,
    pub name: String,
    pub email: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d70", "number": 1042, "subject": "Printer on fire",
    "state": "open", "status": null, "priority": "high",
    "requester": {"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d50", "name": "Robin Customer", "email": "robin@example.com"},
    "organization": {"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d60", "name": "Example GmbH"},
    "department": {"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d80", "name": "Support"},
    "help_topic": null, "assignee_agent": null, "assignee_team": null,
    "sla_plan": {"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d90", "name": "Standard"},
    "source": "api", "custom": {"order_number": "A-1001"},
    "first_response_due_at": "2026-11-22T12:00:00Z", "resolution_due_at": "2026-11-24T08:00:00Z",
    "first_responded_at": null, "overdue": false, "sla_paused_since": null,
    "last_message_at": "2026-11-22T08:00:00Z", "closed_at": null, "closed_by_agent_id": null,
    "created_by_agent_id": null, "created_at": "2026-11-22T08:00:00Z",
    "updated_at": "2026-11-22T08:00:00Z", "version": 1
}))]
pub struct TicketBody {
    pub id: Uuid,
    /// The tenant's own sequential number, shown to people as "#1042".
    pub number: i64,
    pub subject: String,
    /// `open`, `pending`, `resolved` or `closed`.
    pub state: &'static str,
    /// The tenant-defined status within the state, if any.
    pub status: Option<RefBody>,
    /// `low`, `normal`, `high` or `urgent`.
    pub priority: &'static str,
    pub requester: RequesterBody,
    /// The requester's primary organization when the ticket was opened.
    pub organization: Option<RefBody>,
    pub department: RefBody,
    pub help_topic: Option<RefBody>,
    pub assignee_agent: Option<RefBody>,
    pub assignee_team: Option<RefBody>,
    pub sla_plan: Option<RefBody>,
    /// `portal`, `agent`, `api` or `email`.
    pub source: &'static str,
    /// Values of the active custom ticket fields, by key.
    #[schema(value_type = Object)]
    pub custom: Map<String, Value>,
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub first_responded_at: Option<DateTime<Utc>>,
    /// Open or pending with the resolution due time passed.
    pub overdue: bool,
    /// While pending under a pausing SLA plan: since when the clock stands still.
    pub sla_paused_since: Option<DateTime<Utc>>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by_agent_id: Option<Uuid>,
    pub created_by_agent_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Send it back (or as `If-Match`) when changing the ticket; a stale one gets 409.
    pub version: i64,
}

impl TicketBody {
    fn new(ticket: Ticket, fields: &[domain::custom_fields::FieldDefinition]) -> Self {
        let overdue = ticket.overdue(Utc::now());
        Self {
            id: ticket.id,
            number: ticket.number,
            subject: ticket.subject,
            state: ticket.state.as_str(),
            status: ticket.status.map(RefBody::from),
            priority: ticket.priority.as_str(),
            requester: RequesterBody {
                id: ticket.requester.id,
                name: ticket.requester.name,
                email: ticket.requester.email,
            },
            organization: ticket.organization.map(RefBody::from),
            department: ticket.department.into(),
            help_topic: ticket.help_topic.map(RefBody::from),
            assignee_agent: ticket.assignee_agent.map(RefBody::from),
            assignee_team: ticket.assignee_team.map(RefBody::from),
            sla_plan: ticket.sla_plan.map(RefBody::from),
            source: ticket.source.as_str(),
            custom: domain::custom_fields::visible_values(fields, &ticket.custom),
            first_response_due_at: ticket.first_response_due_at,
            resolution_due_at: ticket.resolution_due_at,
            first_responded_at: ticket.first_responded_at,
            overdue,
            sla_paused_since: ticket.sla_paused_since,
            last_message_at: ticket.last_message_at,
            closed_at: ticket.closed_at,
            closed_by_agent_id: ticket.closed_by_agent_id,
            created_by_agent_id: ticket.created_by_agent_id,
            created_at: ticket.created_at,
            updated_at: ticket.updated_at,
            version: ticket.version,
        }
    }
}

/// Who wrote a thread entry.
#[derive(Serialize, ToSchema)]
pub struct EntryAuthor {
    /// `agent`, `end_user`, `api_token` (an event by a token) or `system`.
    pub kind: &'static str,
    pub id: Option<Uuid>,
    pub name: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1da0", "kind": "event",
    "author": {"kind": "agent", "id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1db0", "name": "Sam Agent"},
    "body_html": null, "body_text": null,
    "event": {"field": "state", "from": "open", "to": "pending"},
    "created_at": "2026-11-22T09:00:00Z"
}))]
pub struct EntryBody {
    pub id: Uuid,
    /// `message`, `note` (internal) or `event`.
    pub kind: &'static str,
    pub author: EntryAuthor,
    /// Sanitised HTML (messages and notes).
    pub body_html: Option<String>,
    pub body_text: Option<String>,
    /// Events: `{"field", "from", "to"}`, plus `api_token_id` when a token made the change.
    #[schema(value_type = Option<Object>)]
    pub event: Option<Value>,
    pub created_at: DateTime<Utc>,
    /// Files that came with a message or note (in replies to a POST; see `/attachments`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::api::attachments::AttachmentBody>,
}

impl From<Entry> for EntryBody {
    fn from(entry: Entry) -> Self {
        let token = entry
            .event
            .as_ref()
            .and_then(|e| e.get("api_token_id"))
            .and_then(Value::as_str)
            .and_then(|id| Uuid::parse_str(id).ok());
        let author = match (&entry.author_agent, &entry.author_end_user, token) {
            (Some(agent), _, _) => EntryAuthor {
                kind: "agent",
                id: Some(agent.id),
                name: Some(agent.name.clone()),
            },
            (None, Some(user), _) => EntryAuthor {
                kind: "end_user",
                id: Some(user.id),
                name: Some(user.name.clone()),
            },
            (None, None, Some(token)) => EntryAuthor {
                kind: "api_token",
                id: Some(token),
                name: None,
            },
            (None, None, None) => EntryAuthor {
                kind: "system",
                id: None,
                name: None,
            },
        };
        Self {
            id: entry.id,
            kind: entry.kind.as_str(),
            author,
            body_html: entry.body_html,
            body_text: entry.body_text,
            event: entry.event,
            created_at: entry.created_at,
            attachments: Vec::new(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EntryList {
    pub data: Vec<EntryBody>,
}

#[derive(Serialize, ToSchema)]
pub struct CollaboratorBody {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub added_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct CollaboratorList {
    pub data: Vec<CollaboratorBody>,
}

impl From<TicketError> for ApiError {
    fn from(error: TicketError) -> Self {
        match error {
            TicketError::Invalid(errors) => Self::Validation(
                errors
                    .into_iter()
                    .map(|(field, message)| FieldError { field, message })
                    .collect(),
            ),
            TicketError::NotFound => Self::NotFound,
            TicketError::Stale => Self::Stale(
                "The ticket was changed since you read it; read it again and retry.".into(),
            ),
            TicketError::Refused(message) => Self::Refused(message),
            TicketError::Rejected(message) => Self::Validation(vec![FieldError {
                field: "ticket".into(),
                message,
            }]),
            TicketError::Store(error) => error.into(),
        }
    }
}

fn field_error(field: &str, message: &str) -> ApiError {
    ApiError::Validation(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

fn caller_scope(caller: &ApiCaller) -> Result<TicketScope, ApiError> {
    caller.require(Permission::TicketsAll)?;
    Ok(TicketScope::All)
}

fn with_etag(status: StatusCode, body: TicketBody) -> Response {
    let etag = format!("\"{}\"", body.version);
    (status, [(header::ETAG, etag)], Json(body)).into_response()
}

fn object(body: &Value) -> Result<&Map<String, Value>, ApiError> {
    body.as_object()
        .ok_or_else(|| ApiError::BadRequest("The body must be a JSON object.".into()))
}

/// Reads fields of a JSON object, collecting every problem as (field, message).
struct Reader<'a> {
    object: &'a Map<String, Value>,
    errors: Vec<(String, String)>,
}

impl<'a> Reader<'a> {
    fn new(object: &'a Map<String, Value>, known: &[&str]) -> Self {
        let errors = object
            .keys()
            .filter(|key| !known.contains(&key.as_str()))
            .map(|key| (key.clone(), "is not a known field".to_owned()))
            .collect();
        Self { object, errors }
    }

    fn error(&mut self, field: &str, message: &str) {
        self.errors.push((field.into(), message.into()));
    }

    fn string(&mut self, field: &str) -> Option<String> {
        match self.object.get(field)? {
            Value::String(text) => Some(text.clone()),
            _ => {
                self.error(field, "must be a string");
                None
            }
        }
    }

    fn parsed<T>(
        &mut self,
        field: &str,
        parse: impl Fn(&str) -> Option<T>,
        what: &str,
    ) -> Option<T> {
        let raw = self.string(field)?;
        let parsed = parse(&raw);
        if parsed.is_none() {
            self.error(field, what);
        }
        parsed
    }

    fn id(&mut self, field: &str) -> Option<Uuid> {
        self.parsed(
            field,
            |raw| Uuid::parse_str(raw.trim()).ok(),
            "must be an id",
        )
    }

    /// Absent: `None`; null: `Some(None)`; an id: `Some(Some(id))`.
    fn nullable_id(&mut self, field: &str) -> Option<Option<Uuid>> {
        match self.object.get(field)? {
            Value::Null => Some(None),
            _ => self.id(field).map(Some),
        }
    }
}

fn body_format(reader: &mut Reader<'_>, field: &str) -> BodyFormat {
    reader
        .parsed(field, BodyFormat::parse, "must be html or text")
        .unwrap_or(BodyFormat::Text)
}

/// The request of a create, parsed as far as it can be without the database.
/// The text fields of a create (in JSON, or as multipart parts beside `files`).
const CREATE_TEXT_FIELDS: [&str; 11] = [
    "subject",
    "message",
    "format",
    "requester_id",
    "requester_email",
    "requester_name",
    "department_id",
    "help_topic_id",
    "priority",
    "assignee_agent_id",
    "assignee_team_id",
];
/// The fields of a create that are JSON values (multipart parts carry them as JSON text).
const CREATE_JSON_FIELDS: [&str; 2] = ["collaborators", "custom"];

fn new_ticket_input(
    body: &Value,
    idempotency_key: Option<String>,
) -> Result<NewTicketInput, ApiError> {
    let object = object(body)?;
    let known: Vec<&str> = CREATE_TEXT_FIELDS
        .iter()
        .chain(CREATE_JSON_FIELDS.iter())
        .copied()
        .collect();
    let mut reader = Reader::new(object, &known);
    let subject = reader.string("subject").unwrap_or_default();
    let message = reader.string("message").unwrap_or_default();
    if !object.contains_key("message") {
        reader.error("message", "is required");
    }
    let format = body_format(&mut reader, "format");
    let requester = match (
        reader.id("requester_id"),
        object.contains_key("requester_email"),
    ) {
        (Some(id), false) => Some(RequesterInput::Id(id)),
        (None, true) => reader
            .parsed(
                "requester_email",
                |raw| EmailAddress::parse(raw).ok(),
                "must be an email address",
            )
            .map(|email| RequesterInput::Email {
                email,
                name: reader.string("requester_name"),
            }),
        (Some(_), true) => {
            reader.error(
                "requester",
                "give requester_id or requester_email, not both",
            );
            None
        }
        (None, false) => None,
    };
    let department_id = reader.id("department_id");
    let help_topic_id = reader.id("help_topic_id");
    let priority = reader.parsed(
        "priority",
        Priority::parse,
        "must be low, normal, high or urgent",
    );
    let assignee_agent_id = reader.id("assignee_agent_id");
    let assignee_team_id = reader.id("assignee_team_id");
    let collaborators = match object.get("collaborators") {
        None => Vec::new(),
        Some(Value::Array(items)) => {
            let ids: Vec<Option<Uuid>> = items
                .iter()
                .map(|v| v.as_str().and_then(|s| Uuid::parse_str(s).ok()))
                .collect();
            if ids.iter().any(Option::is_none) {
                reader.error("collaborators", "must be a list of user ids");
            }
            ids.into_iter().flatten().collect()
        }
        Some(_) => {
            reader.error("collaborators", "must be a list of user ids");
            Vec::new()
        }
    };
    let custom = match object.get("custom") {
        None => Map::new(),
        Some(Value::Object(values)) => values.clone(),
        Some(_) => {
            reader.error("custom", "must be an object");
            Map::new()
        }
    };
    Ok(NewTicketInput {
        subject,
        message,
        format,
        requester,
        department_id,
        help_topic_id,
        priority,
        assignee_agent_id,
        assignee_team_id,
        collaborators,
        custom,
        source: Source::Api,
        idempotency_key,
        errors: reader.errors,
    })
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|key| (1..=200).contains(&key.chars().count()))
        .map(|key| Some(key.to_owned()))
        .ok_or_else(|| field_error("Idempotency-Key", "must be 1 to 200 visible characters"))
}

/// Creates a ticket for a requester: `requester_id` (a directory user) or `requester_email`
/// (with `requester_name`; a guest user is created when the address is new, joining the
/// organization that lists its domain). `message` is text, or HTML with `"format": "html"`
/// (sanitised: scripts and event handlers are removed). A `help_topic_id` brings its
/// department, default priority, SLA plan and auto-assignment; without a department the
/// workspace's default department takes it. Source `api`.
///
/// Files for the first message: send `multipart/form-data` with the same fields as parts
/// (`custom` and `collaborators` as JSON text) and any number of `files` parts; the ticket and
/// its files are written together or not at all (`files[i]` names a refused file).
///
/// Send an `Idempotency-Key` header to make retries safe: the same key again answers 200 with
/// the ticket the first request created, not a second ticket; the same key with another
/// subject or message answers 422 naming `Idempotency-Key`.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", security(("api_token" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key answers the same ticket")),
    request_body(content(
        (inline(Object) = "application/json", example = json!({
            "subject": "Printer on fire", "message": "<p>It is <b>really</b> burning.</p>", "format": "html",
            "requester_email": "robin@example.com", "requester_name": "Robin Customer",
            "priority": "high", "custom": {"order_number": "A-1001"}})),
        (inline(Object) = "multipart/form-data", example = json!({
            "subject": "Printer on fire", "message": "Photo attached.",
            "requester_email": "robin@example.com", "custom": "{\"order_number\": \"A-1001\"}",
            "files": "(file)"})))),
    responses((status = 201, description = "The new ticket", body = TicketBody),
        (status = 200, description = "The ticket an earlier request with the same Idempotency-Key created", body = TicketBody),
        (status = 403, description = "The token lacks tickets.all", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named (unknown department, topic, agent, team or user included)", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    caller_scope(&caller)?;
    let key = idempotency_key(request.headers())?;
    let (body, files) = crate::api::attachments::form_request(
        &state,
        caller.tenant.id,
        request,
        &CREATE_TEXT_FIELDS,
        &CREATE_JSON_FIELDS,
    )
    .await?;
    let input = new_ticket_input(&body, key.clone())?;
    let actor = TicketActor::ApiToken {
        token: caller.token.id,
        agent: None,
    };
    if let Some(response) = replay(&state, &caller, key.as_deref(), &input).await? {
        return Ok(response);
    }
    // Two attempts: a concurrent request may create the same new requester (or the ticket of
    // the same key) first; its transaction committed, so a second attempt sees what it made.
    let mut attempt = 0;
    let (created, fields) = loop {
        attempt += 1;
        let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
        let mut staged = state.attachments.stage();
        match crate::attachments::create(&mut tx, &mut staged, actor, &input, &files).await {
            Ok((ticket, _)) => {
                let fields = store::custom_fields::active(&mut tx, FieldEntity::Ticket).await?;
                if let Err(error) = tx.commit().await {
                    staged.discard().await;
                    return Err(error.into());
                }
                staged.keep();
                break (ticket, fields);
            }
            Err(AttachError::Ticket(TicketError::Store(store::StoreError::Conflict { field }))) => {
                drop(tx);
                staged.discard().await;
                if let Some(response) = replay(&state, &caller, key.as_deref(), &input).await? {
                    return Ok(response);
                }
                if attempt >= 2 {
                    return Err(ApiError::Conflict { field });
                }
            }
            Err(error) => {
                drop(tx);
                staged.discard().await;
                return Err(error.into());
            }
        }
    };
    let location = format!("/api/v1/tickets/{}", created.id);
    let mut response = with_etag(StatusCode::CREATED, TicketBody::new(created, &fields));
    if let Ok(value) = location.parse() {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// The earlier answer to a create with this idempotency key, if there was one.
async fn replay(
    state: &AppState,
    caller: &ApiCaller,
    key: Option<&str>,
    input: &NewTicketInput,
) -> Result<Option<Response>, ApiError> {
    let Some(key) = key else {
        return Ok(None);
    };
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let Some(id) = store::tickets::by_idempotency_key(&mut tx, key).await? else {
        return Ok(None);
    };
    let ticket = store::tickets::by_id(&mut tx, TicketScope::All, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let first_message = store::ticket_thread::thread(&mut tx, id)
        .await?
        .into_iter()
        .find(|e| e.kind == store::ticket_thread::EntryKind::Message)
        .and_then(|e| e.body_text);
    let fields = store::custom_fields::active(&mut tx, FieldEntity::Ticket).await?;
    tx.commit().await?;
    let same_subject = domain::ticket::TicketSubject::parse(&input.subject)
        .is_ok_and(|s| s.as_str() == ticket.subject);
    let same_message = MessageBody::parse(&input.message, input.format)
        .is_ok_and(|b| Some(b.text()) == first_message.as_deref());
    if !(same_subject && same_message) {
        return Err(field_error(
            "Idempotency-Key",
            "was already used for a ticket with another subject or message",
        ));
    }
    Ok(Some(with_etag(
        StatusCode::OK,
        TicketBody::new(ticket, &fields),
    )))
}

/// Tickets, filtered, sorted and paged.
///
/// Filters: `state` (one or more, comma-separated), `department`, `assignee` (an agent id or
/// `none`), `team`, `requester`, `organization`, `priority`, `overdue=true` (open or pending
/// past the resolution due time), `created_from`/`created_to`, `updated_from`/`updated_to`
/// (RFC 3339 or YYYY-MM-DD; `_to` is exclusive, a date meaning through that day), `number`.
/// `sort`: `updated` (default, newest first), `created`, `number`, `priority`, `due`; `-`
/// in front reverses (without `sort` the list is `-updated`).
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", security(("api_token" = [])),
    params(
        ("state" = Option<String>, Query, description = "open, pending, resolved, closed; comma-separated for several"),
        ("department" = Option<Uuid>, Query, description = "Tickets of this department"),
        ("assignee" = Option<String>, Query, description = "An agent id, or none"),
        ("team" = Option<Uuid>, Query, description = "Tickets assigned to this team"),
        ("requester" = Option<Uuid>, Query, description = "Tickets of this end user"),
        ("organization" = Option<Uuid>, Query, description = "Tickets of this organization"),
        ("priority" = Option<String>, Query, description = "low, normal, high or urgent"),
        ("overdue" = Option<bool>, Query, description = "Only open or pending tickets past their resolution due time"),
        ("created_from" = Option<String>, Query, description = "Created at or after (RFC 3339 or YYYY-MM-DD)"),
        ("created_to" = Option<String>, Query, description = "Created before (a date: through that day)"),
        ("updated_from" = Option<String>, Query, description = "Changed at or after"),
        ("updated_to" = Option<String>, Query, description = "Changed before"),
        ("number" = Option<i64>, Query, description = "The ticket with this number"),
        ("q" = Option<String>, Query, description = "Full text over subjects, messages and notes: words, \"phrases\", -excluded, or; `print*` matches prefixes", example = "printer -toner"),
        ("requester_q" = Option<String>, Query, description = "Part of the requester's name, email, login or phone; `*` is a wildcard"),
        ("custom.{key}" = Option<String>, Query, description = "A custom ticket field equals this; `custom.{key}.min` / `.max` bound number, decimal and date fields"),
        ("sort" = Option<String>, Query, description = "updated, created, number, priority, due; prefix - to reverse"),
        ("limit" = Option<u32>, Query, description = "1 to 200, default 50"),
        ("cursor" = Option<String>, Query, description = "The next_cursor of the previous page"),
    ),
    responses((status = 200, description = "One page of tickets", body = inline(Page<TicketBody>)),
        (status = 403, description = "The token lacks tickets.all", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad filter, sort or cursor", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<TicketBody>>, ApiError> {
    let scope = caller_scope(&caller)?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
            .map_err(|_| ApiError::BadRequest("The query string is malformed.".into()))?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let fields = store::custom_fields::active(&mut tx, FieldEntity::Ticket).await?;
    let query = tickets::ticket_query(&pairs, None, &fields)?;
    let page = store::tickets::list(&mut tx, scope, &query).await?;
    tx.commit().await?;
    Ok(Json(Page {
        data: page
            .items
            .into_iter()
            .map(|t| TicketBody::new(t, &fields))
            .collect(),
        next_cursor: page.next.map(|after| after.encode()),
    }))
}

/// One ticket.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The ticket")),
    responses((status = 200, description = "The ticket; the ETag is its version", body = TicketBody),
        (status = 404, description = "No such ticket in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let scope = caller_scope(&caller)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let ticket = store::tickets::by_id(&mut tx, scope, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let fields = store::custom_fields::active(&mut tx, FieldEntity::Ticket).await?;
    tx.commit().await?;
    Ok(with_etag(StatusCode::OK, TicketBody::new(ticket, &fields)))
}

/// Changes a ticket: only the fields sent. `state` moves freely among open, pending and
/// resolved and to closed; a closed ticket only reopens (`"state": "open"`), anything else is
/// 422. `status_id` (a tenant status) implies its state. `department_id` transfers the ticket;
/// `assignee_agent_id` / `assignee_team_id` assign (null unassigns). `custom` merges key by
/// key. Every changed field is recorded as an event in the thread. Send the `version` read
/// (in the body or as `If-Match`); a stale one gets 409.
#[utoipa::path(patch, path = "/api/v1/tickets/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The ticket")),
    request_body(content = inline(Object), example = json!({"version": 3, "state": "pending", "priority": "urgent",
        "assignee_agent_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1db0"})),
    responses((status = 200, description = "The changed ticket", body = TicketBody),
        (status = 404, description = "No such ticket in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A stale version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields or a transition that is not allowed, each named", body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let scope = caller_scope(&caller)?;
    let object = object(&body)?;
    let mut reader = Reader::new(
        object,
        &[
            "version",
            "subject",
            "state",
            "status_id",
            "priority",
            "department_id",
            "assignee_agent_id",
            "assignee_team_id",
            "custom",
            "requester_id",
        ],
    );
    let version = match object.get("version") {
        None => if_match_version(&headers)?,
        Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
        Some(_) => {
            reader.error("version", "must be the integer version you read");
            None
        }
    };
    let changes = TicketChanges {
        subject: reader.string("subject"),
        state: reader.parsed(
            "state",
            TicketState::parse,
            "must be open, pending, resolved or closed",
        ),
        status_id: reader.nullable_id("status_id"),
        priority: reader.parsed(
            "priority",
            Priority::parse,
            "must be low, normal, high or urgent",
        ),
        department_id: reader.id("department_id"),
        assignee_agent_id: reader.nullable_id("assignee_agent_id"),
        assignee_team_id: reader.nullable_id("assignee_team_id"),
        requester_id: reader.id("requester_id"),
        custom: match object.get("custom") {
            None => None,
            Some(Value::Object(values)) => Some(values.clone()),
            Some(_) => {
                reader.error("custom", "must be an object");
                None
            }
        },
        errors: Vec::new(),
    };
    let changes = TicketChanges {
        errors: reader.errors,
        ..changes
    };
    let actor = TicketActor::ApiToken {
        token: caller.token.id,
        agent: None,
    };
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let ticket = tickets::change(&mut tx, scope, actor, id, version, &changes).await?;
    let fields = store::custom_fields::active(&mut tx, FieldEntity::Ticket).await?;
    tx.commit().await?;
    Ok(with_etag(StatusCode::OK, TicketBody::new(ticket, &fields)))
}

/// A reply or note body: `body`, `format` (`text` default, or `html`), and `agent_id` to
/// write on behalf of an agent of the workspace.
async fn entry_input(
    state: &AppState,
    caller: &ApiCaller,
    body: &Value,
) -> Result<(MessageBody, TicketActor), ApiError> {
    let object = object(body)?;
    let mut reader = Reader::new(object, &["body", "format", "agent_id"]);
    let raw = reader.string("body");
    if raw.is_none() && !object.contains_key("body") {
        reader.error("body", "is required");
    }
    let format = body_format(&mut reader, "format");
    let agent = reader.id("agent_id");
    let parsed = raw.map(|raw| MessageBody::parse(&raw, format));
    if let Some(Err(message)) = &parsed {
        reader.error("body", message);
    }
    if let Some(agent) = agent {
        let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
        let known = store::tickets::agent_assignable(&mut tx, agent).await?;
        tx.commit().await?;
        if !known {
            reader.error("agent_id", "is not an active agent of this workspace");
        }
    }
    match parsed {
        Some(Ok(body)) if reader.errors.is_empty() => Ok((
            body,
            TicketActor::ApiToken {
                token: caller.token.id,
                agent,
            },
        )),
        _ => Err(TicketError::Invalid(reader.errors).into()),
    }
}

/// Replies to the requester (a message in the thread). The first reply sets
/// `first_responded_at`. A closed ticket takes no reply when the workspace's ticket settings
/// say so (409). `agent_id` names the agent the reply is from (the token otherwise).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/messages", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The ticket")),
    request_body(content(
        (inline(Object) = "application/json", example = json!({"body": "<p>We are on it.</p>", "format": "html",
            "agent_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1db0"})),
        (inline(Object) = "multipart/form-data", example = json!({"body": "Invoice attached.", "files": "(file)"})))),
    responses((status = 201, description = "The message as stored (sanitised)", body = EntryBody),
        (status = 404, description = "No such ticket in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The ticket is closed and replies to closed tickets are off", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An empty body, an unknown agent, or a file too large or of a refused type (`files[i]`)", body = Problem, content_type = "application/problem+json")))]
pub async fn reply(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
    request: axum::extract::Request,
) -> Result<(StatusCode, Json<EntryBody>), ApiError> {
    let scope = caller_scope(&caller)?;
    let (body, files) =
        crate::api::attachments::entry_request(&state, caller.tenant.id, request).await?;
    let (message, actor) = entry_input(&state, &caller, &body).await?;
    let mut staged = state.attachments.stage();
    let written = async {
        let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
        let (_, entry, attachments) =
            crate::attachments::reply(&mut tx, &mut staged, scope, actor, id, &message, &files)
                .await?;
        tx.commit().await?;
        Ok::<_, ApiError>((entry, attachments))
    }
    .await;
    match written {
        Ok((entry, attachments)) => {
            staged.keep();
            let mut body = EntryBody::from(entry);
            body.attachments = attachments.into_iter().map(Into::into).collect();
            Ok((StatusCode::CREATED, Json(body)))
        }
        Err(error) => {
            staged.discard().await;
            Err(error)
        }
    }
}

/// Adds an internal note: agents see it, end users never do.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/notes", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The ticket")),
    request_body(content(
        (inline(Object) = "application/json", example = json!({"body": "Customer called; waiting for the serial number."})),
        (inline(Object) = "multipart/form-data", example = json!({"body": "Photo of the label.", "files": "(file)"})))),
    responses((status = 201, description = "The note as stored", body = EntryBody),
        (status = 404, description = "No such ticket in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An empty body, an unknown agent, or a file too large or of a refused type (`files[i]`)", body = Problem, content_type = "application/problem+json")))]
pub async fn note(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
    request: axum::extract::Request,
) -> Result<(StatusCode, Json<EntryBody>), ApiError> {
    let scope = caller_scope(&caller)?;
    let (body, files) =
        crate::api::attachments::entry_request(&state, caller.tenant.id, request).await?;
    let (message, actor) = entry_input(&state, &caller, &body).await?;
    let mut staged = state.attachments.stage();
    let written = async {
        let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
        let (_, entry, attachments) =
            crate::attachments::note(&mut tx, &mut staged, scope, actor, id, &message, &files)
                .await?;
        tx.commit().await?;
        Ok::<_, ApiError>((entry, attachments))
    }
    .await;
    match written {
        Ok((entry, attachments)) => {
            staged.keep();
            let mut body = EntryBody::from(entry);
            body.attachments = attachments.into_iter().map(Into::into).collect();
            Ok((StatusCode::CREATED, Json(body)))
        }
        Err(error) => {
            staged.discard().await;
            Err(error)
        }
    }
}

/// The whole thread in order: messages, internal notes and events (field, from, to), each
/// with its author.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/events", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The ticket")),
    responses((status = 200, description = "The thread, oldest first", body = EntryList),
        (status = 404, description = "No such ticket in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn events(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<EntryList>, ApiError> {
    let scope = caller_scope(&caller)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    store::tickets::by_id(&mut tx, scope, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let thread = store::ticket_thread::thread(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(EntryList {
        data: thread.into_iter().map(EntryBody::from).collect(),
    }))
}

/// The end users in copy of the ticket.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/collaborators", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The ticket")),
    responses((status = 200, description = "The collaborators, first added first", body = CollaboratorList),
        (status = 404, description = "No such ticket in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn collaborators(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<CollaboratorList>, ApiError> {
    let scope = caller_scope(&caller)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    store::tickets::by_id(&mut tx, scope, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let list = store::tickets::collaborators(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(CollaboratorList {
        data: list
            .into_iter()
            .map(|c| CollaboratorBody {
                id: c.id,
                name: c.name,
                email: c.email,
                added_at: c.added_at,
            })
            .collect(),
    }))
}

/// Puts an end user in copy (idempotent: 204 whether or not they were already).
#[utoipa::path(put, path = "/api/v1/tickets/{id}/collaborators/{user_id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The ticket"), ("user_id" = Uuid, Path, description = "The end user")),
    responses((status = 204, description = "The user is in copy"),
        (status = 404, description = "No such ticket or user in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn put_collaborator(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let scope = caller_scope(&caller)?;
    let actor = TicketActor::ApiToken {
        token: caller.token.id,
        agent: None,
    };
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    tickets::add_collaborator(&mut tx, scope, actor, id, user_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes an end user out of copy.
#[utoipa::path(delete, path = "/api/v1/tickets/{id}/collaborators/{user_id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The ticket"), ("user_id" = Uuid, Path, description = "The end user")),
    responses((status = 204, description = "The user is no longer in copy"),
        (status = 404, description = "No such ticket in this tenant, or the user is not in copy", body = Problem, content_type = "application/problem+json")))]
pub async fn remove_collaborator(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let scope = caller_scope(&caller)?;
    let actor = TicketActor::ApiToken {
        token: caller.token.id,
        agent: None,
    };
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    tickets::remove_collaborator(&mut tx, scope, actor, id, user_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
