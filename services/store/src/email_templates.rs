//! A tenant's overrides of the shipped email templates, per event and locale.

use chrono::{DateTime, Utc};
use domain::Locale;

use crate::{Result, TenantTx};

#[derive(Clone, Debug)]
pub struct TemplateOverride {
    pub event: String,
    pub locale: String,
    pub subject: String,
    pub html: String,
    pub text: String,
    pub updated_at: DateTime<Utc>,
}

type OverrideRow = (String, String, String, String, String, DateTime<Utc>);

fn from_row((event, locale, subject, html, text, updated_at): OverrideRow) -> TemplateOverride {
    TemplateOverride {
        event,
        locale,
        subject,
        html,
        text,
        updated_at,
    }
}

/// Every override of the tenant, ordered by event then locale.
pub async fn list(tx: &mut TenantTx) -> Result<Vec<TemplateOverride>> {
    let rows: Vec<OverrideRow> = sqlx::query_as(
        "select event, locale, subject, html_body, text_body, updated_at from email_templates
          order by event, locale",
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// The override for exactly this event and locale.
pub async fn get(
    tx: &mut TenantTx,
    event: &str,
    locale: &Locale,
) -> Result<Option<TemplateOverride>> {
    let row: Option<OverrideRow> = sqlx::query_as(
        "select event, locale, subject, html_body, text_body, updated_at from email_templates
          where event = $1 and locale = $2",
    )
    .bind(event)
    .bind(locale.as_str())
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(from_row))
}

/// The override that applies for `locale`: that locale, else its bare language, else the
/// tenant's default locale. `None` means the shipped default applies.
pub async fn resolve(
    tx: &mut TenantTx,
    event: &str,
    locale: &Locale,
    tenant_default: &Locale,
) -> Result<Option<TemplateOverride>> {
    let mut candidates = vec![locale.as_str().to_owned()];
    if let Some(language) = locale.language_only() {
        candidates.push(language.as_str().to_owned());
    }
    candidates.push(tenant_default.as_str().to_owned());
    let row: Option<OverrideRow> = sqlx::query_as(
        "select event, locale, subject, html_body, text_body, updated_at from email_templates
          where event = $1 and locale = any($2)
          order by array_position($2, locale) limit 1",
    )
    .bind(event)
    .bind(&candidates)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(from_row))
}

pub struct NewOverride<'a> {
    pub event: &'a str,
    pub locale: &'a Locale,
    pub subject: &'a str,
    pub html: &'a str,
    pub text: &'a str,
}

/// Creates or replaces the override; the caller has validated the template.
pub async fn put(tx: &mut TenantTx, new: &NewOverride<'_>) -> Result<TemplateOverride> {
    let row: OverrideRow = sqlx::query_as(
        "insert into email_templates (tenant_id, event, locale, subject, html_body, text_body)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (tenant_id, event, locale) do update
            set subject = excluded.subject, html_body = excluded.html_body,
                text_body = excluded.text_body, updated_at = now()
         returning event, locale, subject, html_body, text_body, updated_at",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(new.event)
    .bind(new.locale.as_str())
    .bind(new.subject)
    .bind(new.html)
    .bind(new.text)
    .fetch_one(tx.conn())
    .await?;
    Ok(from_row(row))
}

/// Removes the override (back to the shipped default). False when there was none.
pub async fn delete(tx: &mut TenantTx, event: &str, locale: &Locale) -> Result<bool> {
    let deleted = sqlx::query("delete from email_templates where event = $1 and locale = $2")
        .bind(event)
        .bind(locale.as_str())
        .execute(tx.conn())
        .await?
        .rows_affected();
    Ok(deleted > 0)
}
