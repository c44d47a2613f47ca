//! The end-user directory as a workflow shared by the API, the agent pages and imports:
//! applying typed changes (profile text and custom values) to a record with every error
//! named by field, the directory query from request parameters, erasure, and invitations.

use domain::custom_fields::{FieldDefinition, FieldType, apply_custom_values, parse_text_value};
use domain::{EmailAddress, Validity};
use serde_json::{Map, Value};
use store::keyset::After;
use store::tenancy::Tenant;
use store::user_directory::{
    Actor, CustomFilter, Profile, RangeValue, Updated, UserQuery, UserRecord, UserSort,
};
use store::{StoreError, TenantTx};
use uuid::Uuid;

use crate::AppState;
use crate::users::InviteError;

/// Why a directory change was refused.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// Field errors: (field, message), the field named as the API and forms name it.
    #[error("invalid fields")]
    Invalid(Vec<(String, String)>),
    /// A unique value (email, login) is taken.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    #[error("stale version")]
    Stale,
    #[error("not found")]
    NotFound,
    /// A rule forbids it; the message says which.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for DirectoryError {
    fn from(error: StoreError) -> Self {
        match error {
            // The account code names the login "username"; the directory says "login".
            StoreError::Conflict { field: "username" } => Self::Conflict("login"),
            StoreError::Conflict { field } => Self::Conflict(field),
            other => Self::Store(other),
        }
    }
}

/// Changes to a user as typed: (field, text) pairs of profile fields, and custom values.
#[derive(Debug, Default)]
pub struct UserChanges {
    pub text: Vec<(String, String)>,
    pub custom: Option<Map<String, Value>>,
    /// Request fields that are not part of the record (the API's `version`, say).
    pub extra: Map<String, Value>,
    /// Problems found while reading the request (unknown fields, wrong JSON types), reported
    /// together with the fields' own errors.
    pub errors: Vec<(String, String)>,
}

impl UserChanges {
    /// Applies the changes to `profile`, collecting every error. The email is applied before
    /// the login, so a login equal to the new email reads as "sign in with the email".
    fn apply(
        &self,
        profile: &mut Profile,
        fields: &[FieldDefinition],
    ) -> Result<(), DirectoryError> {
        let mut errors = self.errors.clone();
        for wanted in store::user_directory::PROFILE_FIELDS {
            for (field, raw) in self.text.iter().filter(|(field, _)| field == wanted) {
                if let Err(message) = profile.set_text(field, raw) {
                    errors.push((field.clone(), message));
                }
            }
        }
        if let Some(custom) = &self.custom {
            match apply_custom_values(fields, &profile.custom, custom) {
                Ok(merged) => profile.custom = merged,
                Err(problems) => {
                    errors.extend(problems.into_iter().map(|p| (p.field, p.message)));
                }
            }
        } else if let Err(problems) = apply_custom_values(fields, &profile.custom, &Map::new()) {
            // Required custom fields must be filled on a new record too.
            errors.extend(problems.into_iter().map(|p| (p.field, p.message)));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DirectoryError::Invalid(errors))
        }
    }
}

/// Creates a user from typed changes: first name, last name and email are required.
pub async fn create_user(
    tx: &mut TenantTx,
    fields: &[FieldDefinition],
    changes: &UserChanges,
    actor: Actor,
) -> Result<UserRecord, DirectoryError> {
    let mut profile = Profile::default();
    let applied = changes.apply(&mut profile, fields);
    let mut errors = match applied {
        Ok(()) => Vec::new(),
        Err(DirectoryError::Invalid(errors)) => errors,
        Err(other) => return Err(other),
    };
    for missing in profile.missing_required() {
        if !errors.iter().any(|(field, _)| field == missing) {
            errors.push((missing.to_owned(), "is required".to_owned()));
        }
    }
    if !errors.is_empty() {
        return Err(DirectoryError::Invalid(errors));
    }
    Ok(store::user_directory::create(tx, &profile, actor).await?)
}

/// Applies typed changes to an existing user at `version` (the current one when `None`).
pub async fn update_user(
    tx: &mut TenantTx,
    fields: &[FieldDefinition],
    id: Uuid,
    version: Option<i64>,
    changes: &UserChanges,
    actor: Actor,
) -> Result<UserRecord, DirectoryError> {
    let record = store::user_directory::by_id(tx, id)
        .await?
        .ok_or(DirectoryError::NotFound)?;
    if record.erased_at.is_some() {
        return Err(DirectoryError::Refused(
            "This user was erased; an erased record cannot be changed.".into(),
        ));
    }
    let version = version.unwrap_or(record.version);
    if version != record.version {
        return Err(DirectoryError::Stale);
    }
    let mut profile = record.profile.clone();
    changes.apply(&mut profile, fields)?;
    let kept: Vec<(String, String)> = record
        .directory_fields
        .iter()
        .filter(|(field, _)| changed(&record.profile, &profile, field))
        .map(|(field, provider)| {
            (
                field.clone(),
                format!("is kept by the directory {provider}; change it there"),
            )
        })
        .collect();
    if !kept.is_empty() {
        return Err(DirectoryError::Invalid(kept));
    }
    match store::user_directory::update(tx, id, version, &profile, actor).await? {
        Updated::Done(record) => Ok(*record),
        Updated::Stale => Err(DirectoryError::Stale),
        Updated::NotFound => Err(DirectoryError::NotFound),
    }
}

/// Whether `field` (a profile field, or `custom.<key>`) differs between the two profiles.
fn changed(before: &Profile, after: &Profile, field: &str) -> bool {
    match field.strip_prefix("custom.") {
        Some(key) => before.custom.get(key) != after.custom.get(key),
        None => before.text(field) != after.text(field),
    }
}

/// Erases a user (see [`store::user_directory::erase`]) and returns the tombstone.
pub async fn erase_user(
    tx: &mut TenantTx,
    id: Uuid,
    actor: Actor,
) -> Result<UserRecord, DirectoryError> {
    let record = store::user_directory::by_id(tx, id)
        .await?
        .ok_or(DirectoryError::NotFound)?;
    if record.erased_at.is_some() {
        return Err(DirectoryError::Refused(
            "This user was erased already.".into(),
        ));
    }
    store::user_directory::erase(tx, id, actor).await?;
    store::user_directory::by_id(tx, id)
        .await?
        .ok_or(DirectoryError::NotFound)
}

/// Mails the user an invitation to choose a password (their record becomes a pending
/// account). Invalid and erased users are not invited.
pub async fn invite(
    state: &AppState,
    tx: &mut TenantTx,
    tenant: &Tenant,
    record: &UserRecord,
) -> Result<(), DirectoryError> {
    if record.validity != Validity::Valid || record.erased_at.is_some() {
        return Err(DirectoryError::Refused(
            "Only valid users can be invited.".into(),
        ));
    }
    let email = EmailAddress::parse(&record.profile.email)
        .map_err(|e| DirectoryError::Invalid(vec![("email".into(), e.to_string())]))?;
    crate::users::invite(
        tx,
        tenant,
        &state.config.base_url,
        &state.config.mail_from,
        &record.name,
        &email,
    )
    .await
    .map_err(|error| match error {
        InviteError::AlreadyAnAccount => {
            DirectoryError::Refused(crate::users::ALREADY_AN_ACCOUNT.into())
        }
        InviteError::Store(error) => error.into(),
        InviteError::Mailer(error) => DirectoryError::Internal(Box::new(error)),
    })?;
    Ok(())
}

/// The sorts of the directory list, by their parameter names; the first is the default.
pub const USER_SORTS: [(&str, UserSort); 4] = [
    ("name", UserSort::Name),
    ("email", UserSort::Email),
    ("organization", UserSort::Organization),
    ("created", UserSort::Created),
];

/// The directory query named by request parameters (`q`, `validity`, `organization`,
/// `group`, `group_permission`, `custom.<key>`, `custom.<key>.min`, `custom.<key>.max`,
/// `sort`, `limit`, `cursor`). Empty parameters are ignored, so a form can send them all.
pub fn user_query(
    pairs: &[(String, String)],
    fields: &[FieldDefinition],
) -> Result<UserQuery, DirectoryError> {
    let mut query = UserQuery::default();
    let mut errors = Vec::new();
    let mut invalid = |field: &str, message: String| errors.push((field.to_owned(), message));
    for (name, raw) in pairs {
        let value = raw.trim();
        if value.is_empty() {
            continue;
        }
        match name.as_str() {
            "q" => query.search = Some(value.chars().take(200).collect()),
            "validity" => match Validity::parse(value) {
                Ok(validity) => query.validity = Some(validity),
                Err(e) => invalid(name, e.to_string()),
            },
            "organization" => match Uuid::parse_str(value) {
                Ok(id) => query.organization = Some(id),
                Err(_) => invalid(name, "must be the id of an organization".into()),
            },
            "group" => match Uuid::parse_str(value) {
                Ok(id) => query.group = Some(id),
                Err(_) => invalid(name, "must be the id of a customer group".into()),
            },
            "group_permission" => match value {
                "ro" => query.group_write = false,
                "rw" => query.group_write = true,
                _ => invalid(name, "must be ro or rw".into()),
            },
            "sort" => {
                let (descending, field) = match value.strip_prefix('-') {
                    Some(field) => (true, field),
                    None => (false, value),
                };
                match USER_SORTS.iter().find(|(n, _)| *n == field) {
                    Some((_, sort)) => {
                        query.sort = *sort;
                        query.descending = descending;
                    }
                    None => invalid(
                        name,
                        "must be name, email, organization or created (prefix - to reverse)".into(),
                    ),
                }
            }
            "limit" => match value.parse::<usize>() {
                Ok(limit @ 1..=200) => query.limit = limit,
                _ => invalid(name, "must be between 1 and 200".into()),
            },
            "cursor" => match After::decode(value) {
                Some(after) => query.after = Some(after),
                None => invalid(name, "is not a cursor this list gave out".into()),
            },
            other => match other.strip_prefix("custom.") {
                Some(rest) => match custom_filter(rest, value, fields, "users") {
                    Ok(filter) => query.custom.push(filter),
                    Err(message) => invalid(name, message),
                },
                None => invalid(name, "is not a known filter".into()),
            },
        }
    }
    if errors.is_empty() {
        Ok(query)
    } else {
        Err(DirectoryError::Invalid(errors))
    }
}

/// One `custom.<key>[.min|.max]=value` filter, checked against the field's definition among
/// `fields` (the active custom fields of `entity`: users, tickets).
pub(crate) fn custom_filter(
    rest: &str,
    value: &str,
    fields: &[FieldDefinition],
    entity: &str,
) -> Result<CustomFilter, String> {
    let (key, bound) = match rest.rsplit_once('.') {
        Some((key, bound @ ("min" | "max"))) => (key, Some(bound)),
        _ => (rest, None),
    };
    let field = fields
        .iter()
        .find(|f| f.key == key)
        .ok_or_else(|| format!("is not an active custom field of {entity}"))?;
    let Some(bound) = bound else {
        let parsed = parse_text_value(field, value)?;
        let value = match (field.field_type, parsed) {
            (FieldType::MultiChoice, Value::Array(options)) => Value::Array(options),
            (FieldType::MultiChoice, single) => Value::Array(vec![single]),
            (_, parsed) => parsed,
        };
        return Ok(CustomFilter::Equals {
            key: key.to_owned(),
            value,
        });
    };
    let range = match field.field_type {
        FieldType::Number | FieldType::Decimal => RangeValue::Number(
            value
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| "must be a number".to_owned())?,
        ),
        FieldType::Date => match parse_text_value(field, value)? {
            Value::String(date) => RangeValue::Date(date),
            _ => return Err("must be a date (YYYY-MM-DD)".into()),
        },
        _ => return Err("ranges work on number, decimal and date fields".into()),
    };
    let key = key.to_owned();
    Ok(match bound {
        "min" => CustomFilter::AtLeast { key, value: range },
        _ => CustomFilter::AtMost { key, value: range },
    })
}
