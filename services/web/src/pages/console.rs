//! The platform console on the base domain, for platform operators only: every tenant with its
//! size and activity, creating a tenant with its first admin's invitation, suspending and
//! resuming with a reason, and the audit log of what operators did. Tenant writes go through the
//! `platform_*` database functions (store::platform), which record each action.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use domain::{BuiltinRole, EmailAddress, TenantId, TenantName, TenantSlug, TenantStatus};
use serde::Deserialize;
use store::StoreError;
use store::platform::{AuditEntry, TenantOverview};

use crate::AppState;
use crate::agents;
use crate::auth::SignedInOperator;
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::error::PageError;
use crate::invalidation::{Invalidation, announce};
use crate::mailer::MailerError;
use crate::pages::{Brand, render};

/// Tenants per console page.
const PAGE_SIZE: u32 = 50;
/// The longest reason an operator may give (the audit table's limit).
const REASON_MAX_CHARS: usize = 500;

fn respond(status: StatusCode, page: &impl Template) -> Result<Response, PageError> {
    Ok((status, render(page)?).into_response())
}

fn when(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// One row of the tenants table.
struct Row {
    slug: String,
    name: String,
    suspended: bool,
    created: String,
    agents: i64,
    end_users: i64,
    tickets: i64,
    storage: String,
    mail_last_30_days: i64,
    last_activity: Option<String>,
    portal: String,
}

#[derive(Template)]
#[template(path = "console_tenants.html")]
struct TenantsPage<'a> {
    brand: Brand,
    csrf: &'a str,
    operator: &'a str,
    search: &'a str,
    rows: Vec<Row>,
    next: Option<String>,
    notice: Option<String>,
    alert: Option<String>,
    /// The tenant whose form the alert is about, and the reason typed, kept.
    failed_slug: String,
    failed_reason: String,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    done: String,
    #[serde(default)]
    tenant: String,
}

/// The query string that continues the list after `slug`, keeping the search.
fn next_link(search: &str, slug: &str) -> String {
    let mut pairs = Vec::new();
    if !search.is_empty() {
        pairs.push(("q", search));
    }
    pairs.push(("after", slug));
    format!(
        "/console?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    )
}

async fn tenants_page<'a>(
    state: &AppState,
    operator: &'a SignedInOperator,
    csrf: &'a str,
    search: &'a str,
    after: &str,
) -> Result<TenantsPage<'a>, PageError> {
    let after = Some(after.trim()).filter(|a| !a.is_empty());
    let mut tenants: Vec<TenantOverview> = state
        .store
        .tenant_overview(search.trim(), PAGE_SIZE + 1, after)
        .await?;
    let more = tenants.len() > PAGE_SIZE as usize;
    tenants.truncate(PAGE_SIZE as usize);
    let next = more
        .then(|| tenants.last().map(|t| next_link(search.trim(), &t.slug)))
        .flatten();
    let rows = tenants
        .into_iter()
        .map(|t| Row {
            portal: state.config.base_url.tenant_origin(&t.slug),
            suspended: t.status == TenantStatus::Suspended,
            created: when(&t.created_at),
            last_activity: t.last_activity.as_ref().map(when),
            slug: t.slug,
            name: t.name,
            agents: t.agents,
            end_users: t.end_users,
            tickets: t.tickets,
            storage: byte_size(t.storage_bytes),
            mail_last_30_days: t.mail_last_30_days,
        })
        .collect();
    Ok(TenantsPage {
        brand: Brand::platform(),
        csrf,
        operator: &operator.operator.name,
        search,
        rows,
        next,
        notice: None,
        alert: None,
        failed_slug: String::new(),
        failed_reason: String::new(),
    })
}

pub async fn tenants(
    State(state): State<AppState>,
    operator: SignedInOperator,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<ListQuery>,
) -> Result<Html<String>, PageError> {
    let mut page = tenants_page(&state, &operator, &csrf, &query.q, &query.after).await?;
    let tenant = TenantSlug::parse(&query.tenant).ok();
    page.notice = match (query.done.as_str(), tenant) {
        ("suspended", Some(slug)) => Some(format!(
            "{slug} is suspended; its portal and API answer 403 until it is resumed."
        )),
        ("resumed", Some(slug)) => Some(format!("{slug} is active again.")),
        _ => None,
    };
    render(&page)
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    reason: String,
}

pub async fn suspend(
    state: State<AppState>,
    operator: SignedInOperator,
    csrf: CsrfToken,
    slug: Path<String>,
    form: CsrfForm<StatusForm>,
) -> Result<Response, PageError> {
    change_status(state, operator, csrf, slug, form, TenantStatus::Suspended).await
}

pub async fn resume(
    state: State<AppState>,
    operator: SignedInOperator,
    csrf: CsrfToken,
    slug: Path<String>,
    form: CsrfForm<StatusForm>,
) -> Result<Response, PageError> {
    change_status(state, operator, csrf, slug, form, TenantStatus::Active).await
}

async fn change_status(
    State(state): State<AppState>,
    operator: SignedInOperator,
    CsrfToken(csrf): CsrfToken,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<StatusForm>,
    status: TenantStatus,
) -> Result<Response, PageError> {
    let slug = TenantSlug::parse(&slug).map_err(|_| PageError::NotFound)?;
    let reason = form.reason.trim();
    let problem = if reason.is_empty() {
        Some("Give a reason; it is recorded in the audit log.".to_owned())
    } else if reason.chars().count() > REASON_MAX_CHARS {
        Some(format!(
            "The reason must be at most {REASON_MAX_CHARS} characters."
        ))
    } else if reason
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        Some("The reason must not contain control characters.".to_owned())
    } else {
        None
    };
    if let Some(problem) = problem {
        let mut page = tenants_page(&state, &operator, &csrf, slug.as_str(), "").await?;
        let verb = match status {
            TenantStatus::Suspended => "suspended",
            TenantStatus::Active => "resumed",
        };
        page.alert = Some(format!("{slug} was not {verb}. {problem}"));
        page.failed_slug = slug.as_str().to_owned();
        page.failed_reason = form.reason;
        return respond(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let changed = state
        .store
        .set_tenant_status(&slug, status, operator.operator.id, reason)
        .await?;
    if !changed {
        return Err(PageError::NotFound);
    }
    announce(&state, Invalidation::Tenants).await;
    let done = match status {
        TenantStatus::Suspended => "suspended",
        TenantStatus::Active => "resumed",
    };
    tracing::info!(tenant.slug = %slug, action = done, "operator changed a tenant's status");
    // Back to a list that shows this tenant, with a notice.
    Ok(Redirect::to(&format!("/console?q={slug}&done={done}&tenant={slug}")).into_response())
}

#[derive(Deserialize, Default)]
pub struct NewTenantForm {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    admin_name: String,
    #[serde(default)]
    admin_email: String,
}

#[derive(Default)]
struct NewTenantErrors {
    slug: Option<String>,
    name: Option<String>,
    admin_name: Option<String>,
    admin_email: Option<String>,
}

impl NewTenantErrors {
    fn any(&self) -> bool {
        self.slug.is_some()
            || self.name.is_some()
            || self.admin_name.is_some()
            || self.admin_email.is_some()
    }
}

/// What was created, shown above an empty form.
struct Created {
    slug: String,
    name: String,
    portal: String,
    admin_email: String,
}

#[derive(Template)]
#[template(path = "console_new_tenant.html")]
struct NewTenantPage<'a> {
    brand: Brand,
    csrf: &'a str,
    form: NewTenantForm,
    errors: NewTenantErrors,
    created: Option<Created>,
}

pub async fn new_tenant_form(
    _operator: SignedInOperator,
    CsrfToken(csrf): CsrfToken,
) -> Result<Html<String>, PageError> {
    render(&NewTenantPage {
        brand: Brand::platform(),
        csrf: &csrf,
        form: NewTenantForm::default(),
        errors: NewTenantErrors::default(),
        created: None,
    })
}

pub async fn create_tenant(
    State(state): State<AppState>,
    operator: SignedInOperator,
    CsrfToken(csrf): CsrfToken,
    CsrfForm(form): CsrfForm<NewTenantForm>,
) -> Result<Response, PageError> {
    let mut errors = NewTenantErrors::default();
    let raw_slug = form.slug.trim().to_lowercase();
    let slug = TenantSlug::parse(&raw_slug)
        .map_err(|error| {
            errors.slug = Some(if raw_slug.is_empty() {
                "Enter the slug: the tenant's portal address is {slug}.{base domain}.".to_owned()
            } else {
                let why = error.to_string();
                let mut chars = why.chars();
                chars.next().map_or(why.clone(), |first| {
                    first.to_uppercase().collect::<String>() + chars.as_str() + "."
                })
            });
        })
        .ok();
    let name = TenantName::parse(&form.name)
        .map_err(|error| {
            errors.name = Some(match error.0 {
                domain::TextProblem::Empty => "Enter the company's name.".to_owned(),
                problem => format!("The name {problem}."),
            });
        })
        .ok();
    let admin_name = TenantName::parse(&form.admin_name)
        .map_err(|error| {
            errors.admin_name = Some(match error.0 {
                domain::TextProblem::Empty => "Enter the first admin's name.".to_owned(),
                problem => format!("The name {problem}."),
            });
        })
        .ok();
    let admin_email = EmailAddress::parse(&form.admin_email)
        .map_err(|_| {
            errors.admin_email = Some(if form.admin_email.trim().is_empty() {
                "Enter the first admin's email address.".to_owned()
            } else {
                "Enter an email address such as dana@example.com.".to_owned()
            });
        })
        .ok();
    let status = match (slug, name, admin_name, admin_email) {
        (Some(slug), Some(name), Some(admin_name), Some(admin_email)) if !errors.any() => {
            match create_with_admin(&state, &operator, &slug, &name, &admin_name, &admin_email)
                .await
            {
                Ok(()) => {
                    announce(&state, Invalidation::Tenants).await;
                    tracing::info!(tenant.slug = %slug, "operator created a tenant");
                    let page = NewTenantPage {
                        brand: Brand::platform(),
                        csrf: &csrf,
                        form: NewTenantForm::default(),
                        errors: NewTenantErrors::default(),
                        created: Some(Created {
                            portal: state.config.base_url.tenant_origin(slug.as_str()),
                            slug: slug.as_str().to_owned(),
                            name: name.as_str().to_owned(),
                            admin_email: admin_email.as_str().to_owned(),
                        }),
                    };
                    return respond(StatusCode::CREATED, &page);
                }
                Err(MailerError::Store(StoreError::Conflict { field: "slug" })) => {
                    errors.slug = Some(
                        "This slug is already taken by another tenant; choose another.".to_owned(),
                    );
                    StatusCode::CONFLICT
                }
                Err(error) => return Err(PageError::Internal(Box::new(error))),
            }
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let page = NewTenantPage {
        brand: Brand::platform(),
        csrf: &csrf,
        form,
        errors,
        created: None,
    };
    respond(status, &page)
}

/// The tenant, its settings, roles, audit row, first admin and invitation mail: one transaction.
async fn create_with_admin(
    state: &AppState,
    operator: &SignedInOperator,
    slug: &TenantSlug,
    name: &TenantName,
    admin_name: &TenantName,
    admin_email: &EmailAddress,
) -> Result<(), MailerError> {
    let mut tx = state.store.begin_tenant(TenantId::new()).await?;
    let tenant = store::platform::create_tenant(&mut tx, slug, name, operator.operator.id).await?;
    let admin = store::agents::builtin_role(&mut tx, BuiltinRole::Admin).await?;
    agents::invite(
        &mut tx,
        &tenant,
        &state.config.base_url,
        &state.config.mail_from,
        admin_name.as_str(),
        admin_email,
        &admin,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

struct AuditRow {
    when: String,
    when_iso: String,
    operator: String,
    operator_email: String,
    action: &'static str,
    tenant: String,
    reason: String,
}

impl From<AuditEntry> for AuditRow {
    fn from(entry: AuditEntry) -> Self {
        Self {
            when: when(&entry.created_at),
            when_iso: entry.created_at.to_rfc3339(),
            operator: entry.operator_name,
            operator_email: entry.operator_email,
            action: entry.action.label(),
            tenant: entry.tenant_slug,
            reason: entry.reason.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "console_audit.html")]
struct AuditPage {
    brand: Brand,
    rows: Vec<AuditRow>,
}

pub async fn audit(
    State(state): State<AppState>,
    _operator: SignedInOperator,
) -> Result<Html<String>, PageError> {
    let rows = state
        .store
        .platform_audit_log(200)
        .await?
        .into_iter()
        .map(AuditRow::from)
        .collect();
    render(&AuditPage {
        brand: Brand::platform(),
        rows,
    })
}

/// A byte count as people read it (binary units, one decimal).
fn byte_size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut size = bytes.max(0) as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}

/// Days of usage the console shows at most.
const USAGE_DAYS_MAX: u32 = 366;

struct UsageRow {
    day: String,
    tickets_created: i64,
    mail_sent: i64,
    storage_added: String,
}

#[derive(Template)]
#[template(path = "console_usage.html")]
struct UsagePage {
    brand: Brand,
    slug: String,
    days: u32,
    rows: Vec<UsageRow>,
    tickets_total: i64,
    mail_total: i64,
}

#[derive(Deserialize, Default)]
pub struct UsageQuery {
    #[serde(default)]
    days: String,
}

/// One tenant's usage per day (tickets created, mail sent, attachment storage added), read
/// from the counters the database keeps (migration 18), never by counting the tenant's rows.
pub async fn usage(
    State(state): State<AppState>,
    _operator: SignedInOperator,
    Path(slug): Path<String>,
    Query(query): Query<UsageQuery>,
) -> Result<Html<String>, PageError> {
    let slug = TenantSlug::parse(&slug).map_err(|_| PageError::NotFound)?;
    let days = match query.days.trim() {
        "" => 30,
        raw => match raw.parse::<u32>() {
            Ok(days @ 1..=USAGE_DAYS_MAX) => days,
            _ => {
                return Err(PageError::BadRequest(format!(
                    "days must be a whole number from 1 to {USAGE_DAYS_MAX}."
                )));
            }
        },
    };
    let usage = state.store.tenant_usage(slug.as_str(), days).await?;
    if usage.is_empty() {
        return Err(PageError::NotFound);
    }
    render(&UsagePage {
        brand: Brand::platform(),
        slug: slug.as_str().to_owned(),
        days,
        tickets_total: usage.iter().map(|d| d.tickets_created).sum(),
        mail_total: usage.iter().map(|d| d.mail_sent).sum(),
        rows: usage
            .into_iter()
            .map(|d| UsageRow {
                day: d.day.format("%Y-%m-%d").to_string(),
                tickets_created: d.tickets_created,
                mail_sent: d.mail_sent,
                storage_added: byte_size(d.storage_bytes_added),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::byte_size;

    #[test]
    fn byte_sizes_read_as_people_write_them() {
        assert_eq!(byte_size(0), "0 B");
        assert_eq!(byte_size(1023), "1023 B");
        assert_eq!(byte_size(1536), "1.5 KiB");
        assert_eq!(byte_size(10 * 1024 * 1024), "10.0 MiB");
    }
}
