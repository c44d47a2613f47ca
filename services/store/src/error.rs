//! The store's one error type: database failures, and constraint violations named by field.

/// What went wrong in the store. Constraint violations that a person can cause are mapped to
/// [`StoreError::Conflict`] by constraint name, so the web layer can answer 409 naming the field.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write; the value names the field people know.
    #[error("{field} is already taken")]
    Conflict { field: &'static str },
    /// A row read back from the database does not parse into its domain type.
    #[error("stored value of {column} is invalid: {reason}")]
    Corrupt {
        column: &'static str,
        reason: String,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Unique constraints whose violation is the caller's doing, and the field each protects.
const CONFLICT_FIELDS: &[(&str, &str)] = &[
    ("tenants_slug_key", "slug"),
    ("tenant_domains_pkey", "host"),
    ("api_tokens_name_key", "name"),
    ("agents_email_key", "email"),
    ("end_users_email_key", "email"),
    ("end_users_login_key", "username"),
    ("roles_name_key", "name"),
    ("operators_email_key", "email"),
    ("custom_fields_key_key", "key"),
    ("customer_groups_name_key", "name"),
    ("departments_name_key", "name"),
    ("departments_email_alias_key", "email_alias"),
    ("teams_name_key", "name"),
    ("sla_plans_name_key", "name"),
    ("help_topics_name_key", "name"),
    ("ticket_statuses_name_key", "name"),
];

impl StoreError {
    /// Turns a unique violation on a known constraint into a conflict naming the field.
    pub(crate) fn from_write(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error
            && db.is_unique_violation()
            && let Some(constraint) = db.constraint()
            && let Some((_, field)) = CONFLICT_FIELDS.iter().find(|(name, _)| *name == constraint)
        {
            return Self::Conflict { field };
        }
        Self::Database(error)
    }

    pub(crate) fn corrupt(column: &'static str, reason: impl ToString) -> Self {
        Self::Corrupt {
            column,
            reason: reason.to_string(),
        }
    }
}
