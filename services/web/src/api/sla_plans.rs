//! `/api/v1/sla-plans` (first-response and resolution targets) and `/api/v1/business-hours`
//! (the workspace's calendar they count in). Reads need `users.read`, writes
//! `helpdesk.configure`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use domain::business_hours::{
    Calendar, ClockTime, Holiday, MAX_HOLIDAYS, MAX_SPANS, Span, Weekday,
};
use domain::{Permission, TimeZoneName, bounded_text};
use serde::Serialize;
use serde_json::Value;
use store::TenantTx;
use store::sla_plans::{SaveOutcome, SlaPlan, SlaPlanChange, StoredCalendar};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::departments::{
    deleted, expected_version, field_error, object_of, parse_name, require_field, updated,
    versioned,
};
use crate::api::json::{ApiJson, FieldParser};
use crate::api::page::{Page, PageQuery};
use crate::error::{ApiError, FieldError, Problem};

/// The longest SLA target: ten years of hours.
pub const MAX_TARGET_HOURS: i64 = 87_600;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d80", "name": "Gold", "first_response_hours": 4,
    "resolution_hours": 24, "business_hours_only": true, "pause_while_pending": true,
    "created_at": "2026-11-22T09:00:00Z", "updated_at": "2026-11-22T09:00:00Z", "version": 1}))]
pub struct SlaPlanBody {
    pub id: Uuid,
    /// Unique in the workspace, ignoring case.
    pub name: String,
    /// Hours until the first agent reply is due; null: no target.
    pub first_response_hours: Option<i32>,
    /// Hours until resolution is due; null: no target.
    pub resolution_hours: Option<i32>,
    /// Count only the business hours calendar's open hours (false: around the clock).
    pub business_hours_only: bool,
    /// Stop the clock while a ticket is pending on the customer.
    pub pause_while_pending: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl From<SlaPlan> for SlaPlanBody {
    fn from(p: SlaPlan) -> Self {
        Self {
            id: p.id,
            name: p.name,
            first_response_hours: p.first_response_hours,
            resolution_hours: p.resolution_hours,
            business_hours_only: p.business_hours_only,
            pause_while_pending: p.pause_while_pending,
            created_at: p.created_at,
            updated_at: p.updated_at,
            version: p.version,
        }
    }
}

fn respond(status: StatusCode, plan: SlaPlan) -> Response {
    let location = format!("/api/v1/sla-plans/{}", plan.id);
    let version = plan.version;
    versioned(status, location, version, SlaPlanBody::from(plan))
}

/// The fields of a create (POST; `name` required) or an update (PATCH).
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"name": "Gold", "first_response_hours": 4, "resolution_hours": 24, "business_hours_only": true}))]
pub struct SlaPlanInput {
    /// PATCH only: the version read (or `If-Match`); stale: 409.
    version: Option<i64>,
    /// 1 to 100 characters; 409 naming `name` when taken.
    name: Option<String>,
    /// 1 to 87,600 hours, or null for no target.
    first_response_hours: Option<i64>,
    /// 1 to 87,600 hours, or null for no target.
    resolution_hours: Option<i64>,
    /// Default true.
    business_hours_only: Option<bool>,
    /// Default true.
    pause_while_pending: Option<bool>,
}

fn hours(
    fields: &mut FieldParser<'_>,
    object: &serde_json::Map<String, Value>,
    field: &str,
) -> Option<Option<i32>> {
    match object.get(field)? {
        Value::Null => Some(None),
        _ => fields
            .integer_in::<i32>(field, 1..=MAX_TARGET_HOURS)
            .map(Some),
    }
}

fn parse_body(body: Value, patch: bool) -> Result<(SlaPlanChange, Option<i64>), ApiError> {
    let object = object_of(body)?;
    let mut known = vec![
        "name",
        "first_response_hours",
        "resolution_hours",
        "business_hours_only",
        "pause_while_pending",
    ];
    if patch {
        known.push("version");
    }
    let mut fields = FieldParser::new(&object, &known);
    let version = if patch {
        fields.integer("version")
    } else {
        None
    };
    if !patch {
        require_field(&mut fields, &object, "name");
    }
    let change = SlaPlanChange {
        name: fields.string("name", parse_name),
        first_response_hours: hours(&mut fields, &object, "first_response_hours"),
        resolution_hours: hours(&mut fields, &object, "resolution_hours"),
        business_hours_only: fields.boolean("business_hours_only"),
        pause_while_pending: fields.boolean("pause_while_pending"),
    };
    fields.finish((change, version))
}

/// Creates a plan from a JSON body (the API's and the admin page's one path).
pub(crate) async fn create_in(tx: &mut TenantTx, body: Value) -> Result<SlaPlan, ApiError> {
    let (change, _) = parse_body(body, false)?;
    let name = change.name.clone().unwrap_or_default();
    Ok(store::sla_plans::create(tx, &name, &change).await?)
}

/// Updates a plan from a JSON body; `if_match` wins over the body's `version`.
pub(crate) async fn update_in(
    tx: &mut TenantTx,
    id: Uuid,
    body: Value,
    if_match: Option<i64>,
) -> Result<SlaPlan, ApiError> {
    let (change, version) = parse_body(body, true)?;
    updated(
        store::sla_plans::update(tx, id, &change, if_match.or(version)).await?,
        "SLA plan",
    )
}

/// Saves a whole calendar from a JSON body (the API's and the admin page's one path).
pub(crate) async fn save_calendar_in(
    tx: &mut TenantTx,
    body: Value,
    if_match: Option<i64>,
) -> Result<StoredCalendar, ApiError> {
    let (calendar, version) = parse_calendar(body)?;
    match store::sla_plans::save_calendar(tx, &calendar, if_match.or(version)).await? {
        SaveOutcome::Saved(stored) => Ok(stored),
        SaveOutcome::Stale { current } => Err(ApiError::Stale(format!(
            "The business hours were changed by someone else; the current version is {current}."
        ))),
    }
}

/// The workspace's SLA plans by name.
#[utoipa::path(get, path = "/api/v1/sla-plans", tag = "tickets", security(("api_token" = [])),
    params(PageQuery),
    responses((status = 200, description = "One page of plans", body = inline(Page<SlaPlanBody>)),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<SlaPlanBody>>, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let mut plans = store::sla_plans::list(&mut tx).await?;
    tx.commit().await?;
    plans.sort_by_key(|p| p.id);
    Ok(Json(page.page(plans, |p| p.id, SlaPlanBody::from)?))
}

/// One SLA plan.
#[utoipa::path(get, path = "/api/v1/sla-plans/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The plan")),
    responses((status = 200, description = "The plan", body = SlaPlanBody),
        (status = 404, description = "No such plan in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let plan = store::sla_plans::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(respond(StatusCode::OK, plan))
}

/// Creates an SLA plan.
#[utoipa::path(post, path = "/api/v1/sla-plans", tag = "tickets", security(("api_token" = [])),
    request_body = SlaPlanInput,
    responses((status = 201, description = "The new plan", body = SlaPlanBody),
        (status = 409, description = "The name is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let plan = create_in(&mut tx, body).await?;
    tx.commit().await?;
    Ok(respond(StatusCode::CREATED, plan))
}

/// Changes some fields of a plan. Tickets keep the due times computed when they were opened.
#[utoipa::path(patch, path = "/api/v1/sla-plans/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The plan"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version read")),
    request_body(content = SlaPlanInput, example = json!({"version": 1, "resolution_hours": 48, "first_response_hours": null})),
    responses((status = 200, description = "The saved plan", body = SlaPlanBody),
        (status = 404, description = "No such plan in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale version or the name is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let if_match = expected_version(&headers, None)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let plan = update_in(&mut tx, id, body, if_match).await?;
    tx.commit().await?;
    Ok(respond(StatusCode::OK, plan))
}

/// Deletes a plan; refused (409) while tickets or help topics use it.
#[utoipa::path(delete, path = "/api/v1/sla-plans/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The plan")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such plan in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still used", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let status = deleted(store::sla_plans::delete(&mut tx, id).await?)?;
    tx.commit().await?;
    Ok(status)
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"weekday": 1, "opens": "09:00", "closes": "17:00"}))]
pub struct OpeningSpan {
    /// ISO weekday: 1 Monday .. 7 Sunday.
    pub weekday: u8,
    /// Local time `HH:MM` in the calendar's zone.
    pub opens: String,
    /// Local time `HH:MM`, after `opens`; `24:00` is the end of the day.
    pub closes: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"day": "2026-12-25", "name": "Christmas Day"}))]
pub struct HolidayBody {
    pub day: NaiveDate,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"timezone": "Europe/Berlin",
    "hours": [{"weekday": 1, "opens": "09:00", "closes": "17:00"}, {"weekday": 2, "opens": "09:00", "closes": "17:00"}],
    "holidays": [{"day": "2026-12-25", "name": "Christmas Day"}], "version": 3}))]
pub struct BusinessHoursBody {
    /// IANA time zone the hours are in.
    pub timezone: String,
    /// Opening spans; none at all means open around the clock (holidays still close).
    pub hours: Vec<OpeningSpan>,
    pub holidays: Vec<HolidayBody>,
    /// 0 while the workspace has never saved a calendar (24/7 in UTC).
    pub version: i64,
}

impl From<StoredCalendar> for BusinessHoursBody {
    fn from(stored: StoredCalendar) -> Self {
        let calendar = stored.calendar;
        Self {
            timezone: calendar.timezone.as_str().to_owned(),
            hours: calendar
                .spans
                .iter()
                .map(|s| OpeningSpan {
                    weekday: s.weekday.iso(),
                    opens: s.opens.to_string(),
                    closes: s.closes.to_string(),
                })
                .collect(),
            holidays: calendar
                .holidays
                .into_iter()
                .map(|h| HolidayBody {
                    day: h.day,
                    name: h.name,
                })
                .collect(),
            version: stored.version,
        }
    }
}

/// The workspace's business hours calendar.
#[utoipa::path(get, path = "/api/v1/business-hours", tag = "tickets", security(("api_token" = [])),
    responses((status = 200, description = "The calendar", body = BusinessHoursBody),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json")))]
pub async fn business_hours(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Json<BusinessHoursBody>, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let stored = store::sla_plans::stored_calendar(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(stored.into()))
}

/// Parses a whole calendar body: `timezone`, `hours`, `holidays` (all required) and an
/// optional `version`. Errors name the field, with the list index: `hours[2].closes`.
pub fn parse_calendar(body: Value) -> Result<(Calendar, Option<i64>), ApiError> {
    let object = object_of(body)?;
    let mut fields = FieldParser::new(&object, &["timezone", "hours", "holidays", "version"]);
    let version = fields.integer("version");
    for field in ["timezone", "hours", "holidays"] {
        require_field(&mut fields, &object, field);
    }
    let timezone = fields.string("timezone", TimeZoneName::parse);
    let mut errors: Vec<FieldError> = Vec::new();
    let mut spans = Vec::new();
    match object.get("hours") {
        None => {}
        Some(Value::Array(items)) if items.len() <= MAX_SPANS => {
            for (i, item) in items.iter().enumerate() {
                let at = |name: &str| format!("hours[{i}].{name}");
                let Some(span) = item.as_object() else {
                    errors.push(field_error(
                        &format!("hours[{i}]"),
                        "must be an object with weekday, opens and closes",
                    ));
                    continue;
                };
                let weekday = match span.get("weekday").and_then(Value::as_i64) {
                    Some(n) => Weekday::new(n)
                        .map_err(|e| errors.push(field_error(&at("weekday"), e)))
                        .ok(),
                    None => {
                        errors.push(field_error(
                            &at("weekday"),
                            "must be an ISO weekday from 1 (Monday) to 7 (Sunday)",
                        ));
                        None
                    }
                };
                let mut time = |name: &str| match span.get(name).and_then(Value::as_str) {
                    Some(raw) => ClockTime::parse(raw)
                        .map_err(|e| errors.push(field_error(&at(name), e)))
                        .ok(),
                    None => {
                        errors.push(field_error(
                            &at(name),
                            "must be a time of day such as 09:00",
                        ));
                        None
                    }
                };
                let (opens, closes) = (time("opens"), time("closes"));
                if let (Some(weekday), Some(opens), Some(closes)) = (weekday, opens, closes) {
                    match Span::new(weekday, opens, closes) {
                        Ok(span) => spans.push(span),
                        Err(e) => errors.push(field_error(&at("closes"), e)),
                    }
                }
            }
        }
        Some(Value::Array(_)) => errors.push(field_error(
            "hours",
            format!("must hold at most {MAX_SPANS} spans"),
        )),
        Some(_) => errors.push(field_error(
            "hours",
            "must be a list of {weekday, opens, closes}",
        )),
    }
    let mut holidays: Vec<Holiday> = Vec::new();
    match object.get("holidays") {
        None => {}
        Some(Value::Array(items)) if items.len() <= MAX_HOLIDAYS => {
            for (i, item) in items.iter().enumerate() {
                let at = |name: &str| format!("holidays[{i}].{name}");
                let day = item
                    .get("day")
                    .and_then(Value::as_str)
                    .and_then(|raw| NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").ok());
                let name = match item.get("name") {
                    None | Some(Value::Null) => Ok(String::new()),
                    Some(Value::String(raw)) => bounded_text(raw, 100),
                    Some(_) => Err("must be a string".to_owned()),
                };
                match (day, name) {
                    (None, _) => {
                        errors.push(field_error(&at("day"), "must be a date such as 2026-12-25"))
                    }
                    (Some(_), Err(e)) => errors.push(field_error(&at("name"), e)),
                    (Some(day), Ok(_)) if holidays.iter().any(|h| h.day == day) => {
                        errors.push(field_error(&at("day"), "is listed twice"))
                    }
                    (Some(day), Ok(name)) => holidays.push(Holiday { day, name }),
                }
            }
        }
        Some(Value::Array(_)) => errors.push(field_error(
            "holidays",
            format!("must hold at most {MAX_HOLIDAYS} days"),
        )),
        Some(_) => errors.push(field_error("holidays", "must be a list of {day, name}")),
    }
    fields.errors.extend(errors);
    let (timezone, version) = fields.finish((timezone, version))?;
    let timezone = timezone
        .ok_or_else(|| ApiError::Validation(vec![field_error("timezone", "is required")]))?;
    Ok((Calendar::new(timezone, spans, holidays), version))
}

/// Replaces the calendar: time zone, every opening span and every holiday. New tickets' due
/// times count in it; existing tickets keep theirs.
#[utoipa::path(put, path = "/api/v1/business-hours", tag = "tickets", security(("api_token" = [])),
    params(("If-Match" = Option<String>, Header, description = "The version read (0 before the first save)")),
    request_body(content = inline(serde_json::Value), example = json!({"timezone": "Europe/Berlin",
        "hours": [{"weekday": 1, "opens": "09:00", "closes": "17:00"}, {"weekday": 5, "opens": "09:00", "closes": "13:00"}],
        "holidays": [{"day": "2026-12-25", "name": "Christmas Day"}]})),
    responses((status = 200, description = "The saved calendar", body = BusinessHoursBody),
        (status = 403, description = "The token lacks helpdesk.configure", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, such as `hours[0].closes`", body = Problem, content_type = "application/problem+json")))]
pub async fn save_business_hours(
    State(state): State<AppState>,
    caller: ApiCaller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<BusinessHoursBody>, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let if_match = expected_version(&headers, None)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let stored = save_calendar_in(&mut tx, body, if_match).await?;
    tx.commit().await?;
    Ok(Json(stored.into()))
}
