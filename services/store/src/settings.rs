//! The tenant's workspace settings (`tenant_settings`): branding, portal text, support address,
//! locale, time zone and registration mode, versioned for optimistic concurrency.

use chrono::{DateTime, Utc};
use domain::{
    EmailAddress, HexColour, Locale, RegistrationMethod, TimeZoneName, WebUrl, WelcomeText,
};
use sqlx::FromRow;

use crate::{Result, StoreError, TenantTx};

/// Everything a tenant admin configures for the workspace, as stored.
#[derive(Clone, Debug)]
pub struct WorkspaceSettings {
    pub display_name: String,
    pub primary_colour: HexColour,
    pub accent_colour: HexColour,
    pub logo_url: Option<WebUrl>,
    pub welcome_text: WelcomeText,
    pub support_email: Option<EmailAddress>,
    pub support_email_verified: bool,
    pub locale: Locale,
    pub timezone: TimeZoneName,
    pub registration_required: bool,
    pub registration_method: RegistrationMethod,
    /// New passwords of this tenant's agents and end users need at least this many characters.
    pub password_min_length: usize,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct SettingsRow {
    display_name: String,
    primary_colour: String,
    accent_colour: String,
    logo_url: Option<String>,
    welcome_text: String,
    support_email: Option<String>,
    support_email_verified_at: Option<DateTime<Utc>>,
    locale: String,
    timezone: String,
    registration_required: bool,
    registration_method: String,
    password_min_length: i32,
    version: i64,
    updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "display_name, primary_colour, accent_colour, logo_url, welcome_text, \
    support_email, support_email_verified_at, locale, timezone, registration_required, \
    registration_method, password_min_length, version, updated_at";

fn corrupt<E: ToString>(column: &'static str) -> impl FnOnce(E) -> StoreError {
    move |error| StoreError::corrupt(column, error)
}

impl TryFrom<SettingsRow> for WorkspaceSettings {
    type Error = StoreError;

    fn try_from(row: SettingsRow) -> Result<Self> {
        Ok(Self {
            display_name: row.display_name,
            primary_colour: HexColour::parse(&row.primary_colour)
                .map_err(corrupt("primary_colour"))?,
            accent_colour: HexColour::parse(&row.accent_colour)
                .map_err(corrupt("accent_colour"))?,
            logo_url: row
                .logo_url
                .as_deref()
                .map(WebUrl::parse)
                .transpose()
                .map_err(corrupt("logo_url"))?,
            welcome_text: WelcomeText::parse(&row.welcome_text).map_err(corrupt("welcome_text"))?,
            support_email: row
                .support_email
                .as_deref()
                .map(EmailAddress::parse)
                .transpose()
                .map_err(corrupt("support_email"))?,
            support_email_verified: row.support_email_verified_at.is_some(),
            locale: Locale::parse(&row.locale).map_err(corrupt("locale"))?,
            timezone: TimeZoneName::parse(&row.timezone).map_err(corrupt("timezone"))?,
            registration_required: row.registration_required,
            registration_method: RegistrationMethod::parse(&row.registration_method)
                .map_err(corrupt("registration_method"))?,
            password_min_length: usize::try_from(row.password_min_length)
                .map_err(corrupt("password_min_length"))?,
            version: row.version,
            updated_at: row.updated_at,
        })
    }
}

/// The settings of the transaction's tenant; every tenant has exactly one row.
pub async fn load(tx: &mut TenantTx) -> Result<WorkspaceSettings> {
    let row: SettingsRow = sqlx::query_as(&format!("select {COLUMNS} from tenant_settings"))
        .fetch_one(tx.conn())
        .await?;
    row.try_into()
}

/// A partial update: `None` leaves a field as it is; for nullable fields, `Some(None)` clears.
#[derive(Clone, Debug, Default)]
pub struct SettingsChange {
    pub display_name: Option<domain::TenantName>,
    pub primary_colour: Option<HexColour>,
    pub accent_colour: Option<HexColour>,
    pub logo_url: Option<Option<WebUrl>>,
    pub welcome_text: Option<WelcomeText>,
    pub support_email: Option<Option<EmailAddress>>,
    pub locale: Option<Locale>,
    pub timezone: Option<TimeZoneName>,
    pub registration_required: Option<bool>,
    pub registration_method: Option<RegistrationMethod>,
    /// 8 to 128; the parser of the web layer keeps it in range, a CHECK constraint too.
    pub password_min_length: Option<u8>,
}

/// Why an update did not happen.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Someone saved in between: the caller's version is stale.
    #[error("the settings changed since version {expected}; the current version is {current}")]
    StaleVersion { expected: i64, current: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Applies `change` when the stored version is `expected_version` (or unconditionally when
/// `None`), bumping the version. A changed support address must be verified anew.
pub async fn update(
    tx: &mut TenantTx,
    change: &SettingsChange,
    expected_version: Option<i64>,
) -> Result<WorkspaceSettings, UpdateError> {
    let (support_email_given, support_email) = match &change.support_email {
        Some(value) => (true, value.as_ref().map(|e| e.as_str().to_owned())),
        None => (false, None),
    };
    let (logo_given, logo_url) = match &change.logo_url {
        Some(value) => (true, value.as_ref().map(|u| u.as_str().to_owned())),
        None => (false, None),
    };
    let row: Option<SettingsRow> = sqlx::query_as(&format!(
        "update tenant_settings set
            display_name = coalesce($1, display_name),
            primary_colour = coalesce($2, primary_colour),
            accent_colour = coalesce($3, accent_colour),
            logo_url = case when $4 then $5 else logo_url end,
            welcome_text = coalesce($6, welcome_text),
            support_email_verified_at = case
              when $7 and $8 is distinct from support_email then null
              else support_email_verified_at end,
            support_email = case when $7 then $8 else support_email end,
            locale = coalesce($9, locale),
            timezone = coalesce($10, timezone),
            registration_required = coalesce($11, registration_required),
            registration_method = coalesce($12, registration_method),
            password_min_length = coalesce($14, password_min_length),
            version = version + 1,
            updated_at = now()
          where $13::bigint is null or version = $13
          returning {COLUMNS}"
    ))
    .bind(change.display_name.as_ref().map(|n| n.as_str().to_owned()))
    .bind(change.primary_colour.map(|c| c.to_string()))
    .bind(change.accent_colour.map(|c| c.to_string()))
    .bind(logo_given)
    .bind(logo_url)
    .bind(change.welcome_text.as_ref().map(|t| t.as_str().to_owned()))
    .bind(support_email_given)
    .bind(support_email)
    .bind(change.locale.as_ref().map(|l| l.as_str().to_owned()))
    .bind(change.timezone.as_ref().map(|t| t.as_str().to_owned()))
    .bind(change.registration_required)
    .bind(change.registration_method.map(RegistrationMethod::as_str))
    .bind(expected_version)
    .bind(change.password_min_length.map(i32::from))
    .fetch_optional(tx.conn())
    .await
    .map_err(StoreError::from)?;
    match row {
        Some(row) => Ok(row.try_into()?),
        None => {
            let current: i64 = sqlx::query_scalar("select version from tenant_settings")
                .fetch_one(tx.conn())
                .await
                .map_err(StoreError::from)?;
            Err(UpdateError::StaleVersion {
                expected: expected_version.unwrap_or_default(),
                current,
            })
        }
    }
}

/// Marks the support address verified when it is still `address`; false otherwise.
pub async fn verify_support_email(tx: &mut TenantTx, address: &str) -> Result<bool> {
    let updated = sqlx::query(
        "update tenant_settings set support_email_verified_at = now(), version = version + 1, updated_at = now()
          where lower(support_email) = lower($1)",
    )
    .bind(address)
    .execute(tx.conn())
    .await
    .map_err(StoreError::from)?
    .rows_affected();
    Ok(updated > 0)
}
