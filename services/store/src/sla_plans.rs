//! SLA plans (first-response and resolution targets) and the tenant's business hours
//! calendar they count in; `due_times` is what a new ticket's due times come from.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::TimeZoneName;
use domain::business_hours::{self, Calendar, ClockTime, Holiday, Span, Weekday};
use sqlx::FromRow;
use uuid::Uuid;

use crate::departments::{DeleteOutcome, UpdateOutcome, lock, stale_or_missing};
use crate::{Result, StoreError, TenantTx};

#[derive(Clone, Debug, FromRow)]
pub struct SlaPlan {
    pub id: Uuid,
    pub name: String,
    pub first_response_hours: Option<i32>,
    pub resolution_hours: Option<i32>,
    /// Count only the calendar's open hours (false: around the clock).
    pub business_hours_only: bool,
    /// Stop the clock while a ticket is pending on the customer.
    pub pause_while_pending: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The first-response and resolution due times of a ticket under `plan` that starts at `from`
/// (none where the plan sets no target).
pub fn due_times(
    plan: &SlaPlan,
    calendar: &Calendar,
    from: DateTime<Utc>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let due = |hours: Option<i32>| {
        let hours = u32::try_from(hours?).ok()?;
        Some(if plan.business_hours_only {
            business_hours::add_open_hours(calendar, from, hours)
        } else {
            from + Duration::hours(i64::from(hours))
        })
    };
    (due(plan.first_response_hours), due(plan.resolution_hours))
}

const COLUMNS: &str = "id, name, first_response_hours, resolution_hours, business_hours_only,
    pause_while_pending, version, created_at, updated_at";

/// The tenant's plans, by name.
pub async fn list(tx: &mut TenantTx) -> Result<Vec<SlaPlan>> {
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS} from sla_plans order by lower(name), id"
    ))
    .fetch_all(tx.conn())
    .await?)
}

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<SlaPlan>> {
    Ok(
        sqlx::query_as(&format!("select {COLUMNS} from sla_plans where id = $1"))
            .bind(id)
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// What a create or update sets; `None` leaves a field, `Some(None)` removes a target.
#[derive(Clone, Debug, Default)]
pub struct SlaPlanChange {
    pub name: Option<String>,
    pub first_response_hours: Option<Option<i32>>,
    pub resolution_hours: Option<Option<i32>>,
    pub business_hours_only: Option<bool>,
    pub pause_while_pending: Option<bool>,
}

/// Creates a plan; a taken name is a conflict on `name`.
pub async fn create(tx: &mut TenantTx, name: &str, change: &SlaPlanChange) -> Result<SlaPlan> {
    sqlx::query_as(&format!(
        "insert into sla_plans (tenant_id, id, name, first_response_hours, resolution_hours,
                                business_hours_only, pause_while_pending)
         values ($1, $2, $3, $4, $5, coalesce($6, true), coalesce($7, true))
         returning {COLUMNS}"
    ))
    .bind(tx.tenant_id().as_uuid())
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(change.first_response_hours.flatten())
    .bind(change.resolution_hours.flatten())
    .bind(change.business_hours_only)
    .bind(change.pause_while_pending)
    .fetch_one(tx.conn())
    .await
    .map_err(StoreError::from_write)
}

pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    change: &SlaPlanChange,
    expected_version: Option<i64>,
) -> Result<UpdateOutcome<SlaPlan>> {
    let plan: Option<SlaPlan> = sqlx::query_as(&format!(
        "update sla_plans set
            name = coalesce($2, name),
            first_response_hours = case when $3 then $4 else first_response_hours end,
            resolution_hours = case when $5 then $6 else resolution_hours end,
            business_hours_only = coalesce($7, business_hours_only),
            pause_while_pending = coalesce($8, pause_while_pending),
            version = version + 1,
            updated_at = now()
          where id = $1 and ($9::bigint is null or version = $9)
          returning {COLUMNS}"
    ))
    .bind(id)
    .bind(change.name.as_deref())
    .bind(change.first_response_hours.is_some())
    .bind(change.first_response_hours.flatten())
    .bind(change.resolution_hours.is_some())
    .bind(change.resolution_hours.flatten())
    .bind(change.business_hours_only)
    .bind(change.pause_while_pending)
    .bind(expected_version)
    .fetch_optional(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    match plan {
        Some(plan) => Ok(UpdateOutcome::Updated(plan)),
        None => stale_or_missing(tx, "sla_plans", id).await,
    }
}

/// Deletes a plan no ticket or help topic uses.
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<DeleteOutcome> {
    if lock(tx, "sla_plans", id).await?.is_none() {
        return Ok(DeleteOutcome::NotFound);
    }
    let (tickets, topics): (i64, i64) = sqlx::query_as(
        "select (select count(*) from tickets where sla_plan_id = $1),
                (select count(*) from help_topics where sla_plan_id = $1)",
    )
    .bind(id)
    .fetch_one(tx.conn())
    .await?;
    if tickets > 0 || topics > 0 {
        return Ok(DeleteOutcome::InUse(format!(
            "The plan is used by {tickets} ticket(s) and {topics} help topic(s); change them first."
        )));
    }
    sqlx::query("delete from sla_plans where id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(DeleteOutcome::Deleted)
}

/// The stored calendar and its version (0 when the tenant has none yet).
pub struct StoredCalendar {
    pub calendar: Calendar,
    pub version: i64,
}

/// The tenant's business hours; around the clock in UTC when it has none.
pub async fn calendar(tx: &mut TenantTx) -> Result<Calendar> {
    Ok(stored_calendar(tx).await?.calendar)
}

pub async fn stored_calendar(tx: &mut TenantTx) -> Result<StoredCalendar> {
    let row: Option<(String, i64)> =
        sqlx::query_as("select timezone, version from business_calendars")
            .fetch_optional(tx.conn())
            .await?;
    let Some((timezone, version)) = row else {
        return Ok(StoredCalendar {
            calendar: Calendar::around_the_clock(),
            version: 0,
        });
    };
    let timezone = TimeZoneName::parse(&timezone)
        .map_err(|e| StoreError::corrupt("business_calendars.timezone", e))?;
    let rows: Vec<(i16, i32, i32)> = sqlx::query_as(
        "select weekday, extract(epoch from opens)::int, extract(epoch from closes)::int
           from business_hours order by weekday, opens, closes",
    )
    .fetch_all(tx.conn())
    .await?;
    let mut spans = Vec::with_capacity(rows.len());
    for (weekday, opens, closes) in rows {
        let time = |seconds: i32| {
            u32::try_from(seconds)
                .ok()
                .and_then(ClockTime::from_seconds)
                .ok_or_else(|| StoreError::corrupt("business_hours.opens", seconds))
        };
        let span = Span::new(
            Weekday::new(i64::from(weekday))
                .map_err(|e| StoreError::corrupt("business_hours.weekday", e))?,
            time(opens)?,
            time(closes)?,
        )
        .map_err(|e| StoreError::corrupt("business_hours.closes", e))?;
        spans.push(span);
    }
    let holidays: Vec<(NaiveDate, String)> =
        sqlx::query_as("select day, name from business_holidays order by day")
            .fetch_all(tx.conn())
            .await?;
    Ok(StoredCalendar {
        calendar: Calendar::new(
            timezone,
            spans,
            holidays
                .into_iter()
                .map(|(day, name)| Holiday { day, name })
                .collect(),
        ),
        version,
    })
}

/// How saving the calendar ended.
pub enum SaveOutcome {
    Saved(StoredCalendar),
    Stale { current: i64 },
}

/// Replaces the tenant's calendar (zone, every span, every holiday) when the stored version
/// is `expected_version` (0: none stored yet) or unconditionally.
pub async fn save_calendar(
    tx: &mut TenantTx,
    calendar: &Calendar,
    expected_version: Option<i64>,
) -> Result<SaveOutcome> {
    let tenant = tx.tenant_id().as_uuid();
    // Lock the row (or create it) first, so two saves do not interleave their spans.
    sqlx::query(
        "insert into business_calendars (tenant_id, timezone, version) values ($1, $2, 0)
         on conflict (tenant_id) do nothing",
    )
    .bind(tenant)
    .bind(calendar.timezone.as_str())
    .execute(tx.conn())
    .await?;
    let current: i64 = sqlx::query_scalar("select version from business_calendars for update")
        .fetch_one(tx.conn())
        .await?;
    if let Some(expected) = expected_version
        && expected != current
    {
        return Ok(SaveOutcome::Stale { current });
    }
    sqlx::query(
        "update business_calendars set timezone = $1, version = version + 1, updated_at = now()",
    )
    .bind(calendar.timezone.as_str())
    .execute(tx.conn())
    .await?;
    sqlx::query("delete from business_hours")
        .execute(tx.conn())
        .await?;
    sqlx::query("delete from business_holidays")
        .execute(tx.conn())
        .await?;
    for span in &calendar.spans {
        sqlx::query(
            "insert into business_hours (tenant_id, id, weekday, opens, closes)
             values ($1, $2, $3, $4::time, $5::time)",
        )
        .bind(tenant)
        .bind(Uuid::now_v7())
        .bind(i16::from(span.weekday.iso()))
        .bind(clock_text(span.opens))
        .bind(clock_text(span.closes))
        .execute(tx.conn())
        .await?;
    }
    for holiday in &calendar.holidays {
        sqlx::query("insert into business_holidays (tenant_id, day, name) values ($1, $2, $3)")
            .bind(tenant)
            .bind(holiday.day)
            .bind(&holiday.name)
            .execute(tx.conn())
            .await?;
    }
    Ok(SaveOutcome::Saved(stored_calendar(tx).await?))
}

/// PostgreSQL's text for a time of day; `24:00:00` is a valid `time`.
fn clock_text(time: ClockTime) -> String {
    let s = time.seconds();
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}
