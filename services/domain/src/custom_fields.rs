//! Custom fields (osTicket forms, OTRS dynamic fields): the definitions tenant admins make per
//! entity, and the parsing of the values records keep under each field's key in their `custom`
//! JSON object. Every write of custom values goes through [`apply_custom_values`], so a stored
//! value always has its field's type in one canonical form.

use std::fmt;

use serde_json::{Map, Value};

use crate::{EmailAddress, WebUrl};

/// The longest one-line text value.
pub const MAX_TEXT_CHARS: usize = 1_000;
/// The longest long-text value.
pub const MAX_LONG_TEXT_CHARS: usize = 10_000;
/// How many options a choice field may offer.
pub const MAX_OPTIONS: usize = 100;
/// The longest option.
pub const MAX_OPTION_CHARS: usize = 100;
/// How many fields (archived ones included) one entity of a tenant may have.
pub const MAX_FIELDS_PER_ENTITY: usize = 100;
/// The longest label (the `custom_fields_label_length` check).
pub const MAX_LABEL_CHARS: usize = 100;
/// The longest help text (the `custom_fields_help_text_length` check).
pub const MAX_HELP_TEXT_CHARS: usize = 500;
/// The longest key (the `custom_fields_key_format` check).
pub const MAX_KEY_CHARS: usize = 50;
/// Whole numbers stay within what a JavaScript client reads without losing digits.
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;
/// Digits a decimal may have before its point.
pub const MAX_DECIMAL_INTEGER_DIGITS: usize = 20;
/// Digits a decimal may have after its point (trailing zeros not counted).
pub const MAX_DECIMAL_FRACTION_DIGITS: usize = 10;

/// The kind of record a field belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldEntity {
    User,
    Organization,
    Ticket,
}

impl FieldEntity {
    pub const ALL: [FieldEntity; 3] = [Self::User, Self::Organization, Self::Ticket];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Organization => "organization",
            Self::Ticket => "ticket",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|entity| entity.as_str() == raw)
    }

    /// The heading people read: "End users", "Organizations", "Tickets".
    pub fn label(self) -> &'static str {
        match self {
            Self::User => "End users",
            Self::Organization => "Organizations",
            Self::Ticket => "Tickets",
        }
    }
}

impl fmt::Display for FieldEntity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a field holds. Fixed once the field exists, so stored values never change type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldType {
    Text,
    LongText,
    Number,
    Decimal,
    Date,
    Boolean,
    Choice,
    MultiChoice,
    Email,
    Phone,
    Url,
}

impl FieldType {
    pub const ALL: [FieldType; 11] = [
        Self::Text,
        Self::LongText,
        Self::Number,
        Self::Decimal,
        Self::Date,
        Self::Boolean,
        Self::Choice,
        Self::MultiChoice,
        Self::Email,
        Self::Phone,
        Self::Url,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::LongText => "long_text",
            Self::Number => "number",
            Self::Decimal => "decimal",
            Self::Date => "date",
            Self::Boolean => "boolean",
            Self::Choice => "choice",
            Self::MultiChoice => "multi_choice",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Url => "url",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }

    /// The name people read in forms.
    pub fn label(self) -> &'static str {
        match self {
            Self::Text => "Text (one line)",
            Self::LongText => "Long text",
            Self::Number => "Whole number",
            Self::Decimal => "Decimal number",
            Self::Date => "Date",
            Self::Boolean => "Yes or no",
            Self::Choice => "Choice (one option)",
            Self::MultiChoice => "Multiple choice (any options)",
            Self::Email => "Email address",
            Self::Phone => "Phone number",
            Self::Url => "Web address",
        }
    }

    /// Only the choice types have options.
    pub fn has_options(self) -> bool {
        matches!(self, Self::Choice | Self::MultiChoice)
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One custom field of a tenant, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDefinition {
    pub id: uuid::Uuid,
    pub entity: FieldEntity,
    pub key: String,
    pub label: String,
    pub field_type: FieldType,
    pub required: bool,
    pub options: Vec<String>,
    pub help_text: String,
    pub position: i32,
    pub end_user_visible: bool,
    pub end_user_editable: bool,
    pub directory_column: bool,
    pub archived: bool,
    pub version: i64,
}

/// One custom value (or definition field) a write got wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomFieldError {
    /// `custom.<key>` for values; the definition's own field name (`label`, `options`, ...)
    /// for definitions.
    pub field: String,
    pub message: String,
}

impl CustomFieldError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for CustomFieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.message)
    }
}

/// What a change to a definition may touch: key and type are fixed after creation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldChange {
    pub label: Option<String>,
    pub required: Option<bool>,
    /// Options as entered: trimmed, blank ones dropped, then checked.
    pub options: Option<Vec<String>>,
    pub help_text: Option<String>,
    pub position: Option<i32>,
    pub end_user_visible: Option<bool>,
    pub end_user_editable: Option<bool>,
    pub directory_column: Option<bool>,
    pub archived: Option<bool>,
}

impl FieldDefinition {
    /// The name errors give this field's value: `custom.<key>`.
    pub fn field_name(&self) -> String {
        format!("custom.{}", self.key)
    }

    /// The definition with `change` applied, or every problem with it (named by definition
    /// field). Editing implies seeing: asking for editable makes the field visible, hiding it
    /// makes it read-only, and asking for both at once is an error.
    pub fn changed(&self, change: &FieldChange) -> Result<FieldDefinition, Vec<CustomFieldError>> {
        let mut errors = Vec::new();
        let mut next = self.clone();
        if let Some(raw) = &change.label {
            match parse_label(raw) {
                Ok(label) => next.label = label,
                Err(message) => errors.push(CustomFieldError::new("label", message)),
            }
        }
        if let Some(raw) = &change.help_text {
            match parse_help_text(raw) {
                Ok(help) => next.help_text = help,
                Err(message) => errors.push(CustomFieldError::new("help_text", message)),
            }
        }
        if let Some(raw) = &change.options {
            match parse_options(self.field_type, raw) {
                Ok(options) => next.options = options,
                Err(message) => errors.push(CustomFieldError::new("options", message)),
            }
        }
        if let Some(required) = change.required {
            next.required = required;
        }
        if let Some(position) = change.position {
            next.position = position;
        }
        if let Some(column) = change.directory_column {
            next.directory_column = column;
        }
        if let Some(archived) = change.archived {
            next.archived = archived;
        }
        match end_user_access(change.end_user_visible, change.end_user_editable) {
            Ok((visible, editable)) => {
                next.end_user_visible = visible.unwrap_or(self.end_user_visible);
                next.end_user_editable = editable.unwrap_or(self.end_user_editable);
                if change.end_user_visible == Some(false) {
                    next.end_user_editable = false;
                }
                if change.end_user_editable == Some(true) {
                    next.end_user_visible = true;
                }
            }
            Err(message) => errors.push(CustomFieldError::new("end_user_editable", message)),
        }
        if errors.is_empty() {
            Ok(next)
        } else {
            Err(errors)
        }
    }

    /// Options this definition offers that `newer` no longer does.
    pub fn removed_options(&self, newer: &FieldDefinition) -> Vec<String> {
        self.options
            .iter()
            .filter(|option| !newer.options.contains(option))
            .cloned()
            .collect()
    }
}

/// Checks what a request asks of end-user access: `Some(false)` visible with `Some(true)`
/// editable contradicts itself. Returns the two as asked.
pub fn end_user_access(
    visible: Option<bool>,
    editable: Option<bool>,
) -> Result<(Option<bool>, Option<bool>), &'static str> {
    match (visible, editable) {
        (Some(false), Some(true)) => {
            Err("needs end_user_visible: end users cannot edit a field they do not see")
        }
        _ => Ok((visible, editable)),
    }
}

/// A field key: a lowercase letter, then lowercase letters, digits and `_`, at most 50 in all.
pub fn parse_key(raw: &str) -> Result<String, String> {
    let key = raw.trim();
    let mut chars = key.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if key.is_empty() {
        Err("is required".into())
    } else if key.len() > MAX_KEY_CHARS {
        Err(format!("must be at most {MAX_KEY_CHARS} characters"))
    } else if !well_formed {
        Err(
            "must start with a lowercase letter and hold only lowercase letters, digits and _ (such as contract_tier)"
                .into(),
        )
    } else {
        Ok(key.to_owned())
    }
}

/// A label: one line of 1 to 100 characters.
pub fn parse_label(raw: &str) -> Result<String, String> {
    let label = raw.trim();
    if label.is_empty() {
        Err("is required".into())
    } else if label.chars().count() > MAX_LABEL_CHARS {
        Err(format!("must be at most {MAX_LABEL_CHARS} characters"))
    } else if label.chars().any(char::is_control) {
        Err("must be a single line without control characters".into())
    } else {
        Ok(label.to_owned())
    }
}

/// Help text shown beside the field: at most 500 characters, line breaks allowed.
pub fn parse_help_text(raw: &str) -> Result<String, String> {
    let help = raw.replace("\r\n", "\n");
    let help = help.trim();
    if help.chars().count() > MAX_HELP_TEXT_CHARS {
        Err(format!("must be at most {MAX_HELP_TEXT_CHARS} characters"))
    } else if help.chars().any(|c| c.is_control() && c != '\n') {
        Err("must not contain control characters".into())
    } else {
        Ok(help.to_owned())
    }
}

/// The options of a field of `field_type`: trimmed, blank ones dropped. Choice types need 1 to
/// 100 distinct options (case-insensitively: values match options regardless of case) of at
/// most 100 characters without `|` (the separator of multi-choice values in text form); other
/// types take none.
pub fn parse_options(field_type: FieldType, raw: &[String]) -> Result<Vec<String>, String> {
    let options: Vec<String> = raw
        .iter()
        .map(|option| option.trim())
        .filter(|option| !option.is_empty())
        .map(str::to_owned)
        .collect();
    if !field_type.has_options() {
        return if options.is_empty() {
            Ok(options)
        } else {
            Err("only choice and multi_choice fields have options".into())
        };
    }
    if options.is_empty() {
        return Err("must list at least one option".into());
    }
    if options.len() > MAX_OPTIONS {
        return Err(format!("must list at most {MAX_OPTIONS} options"));
    }
    for (index, option) in options.iter().enumerate() {
        if option.chars().count() > MAX_OPTION_CHARS {
            return Err(format!(
                "\"{option}\" is longer than {MAX_OPTION_CHARS} characters"
            ));
        }
        if option.contains('|') || option.chars().any(char::is_control) {
            return Err(format!(
                "\"{option}\" must not contain | or control characters"
            ));
        }
        let lower = option.to_lowercase();
        if options[..index]
            .iter()
            .any(|earlier| earlier.to_lowercase() == lower)
        {
            return Err(format!("list \"{option}\" only once"));
        }
    }
    Ok(options)
}

/// Applies `changes` (key -> value; JSON null clears) to `stored`, validating each changed key
/// against the ACTIVE definitions: unknown or archived keys, wrong types, unknown options,
/// over-long text, required fields left empty (checked on the merged result, so a partial update
/// need not repeat them) are errors; on success the merged object, values normalised (numbers as
/// JSON numbers, decimals as strings of a canonical decimal, dates "YYYY-MM-DD", booleans, choices
/// exactly as defined, multi_choice as arrays of options). Values of archived fields in `stored`
/// are kept untouched.
///
/// An empty string (or an empty multi-choice list) clears like null. Keys in `stored` that no
/// definition names are kept too: nothing is deleted behind a writer's back.
pub fn apply_custom_values(
    definitions: &[FieldDefinition],
    stored: &Map<String, Value>,
    changes: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<CustomFieldError>> {
    let mut merged = stored.clone();
    let mut errors = Vec::new();
    for (key, value) in changes {
        let field = format!("custom.{key}");
        match definitions.iter().find(|d| d.key == *key) {
            None => errors.push(CustomFieldError::new(
                field,
                "is not a defined custom field",
            )),
            Some(definition) if definition.archived => errors.push(CustomFieldError::new(
                field,
                "belongs to an archived field; restore the field to change its values",
            )),
            Some(definition) => match normalise(definition, value) {
                Ok(Some(value)) => {
                    merged.insert(key.clone(), value);
                }
                Ok(None) => {
                    merged.remove(key);
                }
                Err(message) => errors.push(CustomFieldError::new(field, message)),
            },
        }
    }
    for definition in definitions.iter().filter(|d| d.required && !d.archived) {
        let field = definition.field_name();
        let present = merged.get(&definition.key).is_some_and(|v| !v.is_null());
        if !present && !errors.iter().any(|e| e.field == field) {
            errors.push(CustomFieldError::new(field, "is required"));
        }
    }
    if errors.is_empty() {
        Ok(merged)
    } else {
        Err(errors)
    }
}

/// The values a reader sees: only keys of active definitions (archived ones hidden).
pub fn visible_values(
    definitions: &[FieldDefinition],
    stored: &Map<String, Value>,
) -> Map<String, Value> {
    stored
        .iter()
        .filter(|(key, value)| {
            !value.is_null() && definitions.iter().any(|d| !d.archived && d.key == **key)
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// Parses one value typed into a form or a CSV cell (text) into the JSON value of the field's
/// type, or an error message ("must be a number", "must be one of: a, b"). Empty text is null.
/// multi_choice in text form is options separated by "|" or ",".
///
/// Booleans read yes/no, true/false, 1/0 and on/off; [`text_value`] writes what this reads back.
pub fn parse_text_value(definition: &FieldDefinition, text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Value::Null);
    }
    let candidate = match definition.field_type {
        FieldType::Number => {
            Value::from(trimmed.parse::<i64>().map_err(|_| whole_number_message())?)
        }
        FieldType::Boolean => Value::Bool(match trimmed.to_lowercase().as_str() {
            "yes" | "y" | "true" | "1" | "on" => true,
            "no" | "n" | "false" | "0" | "off" => false,
            _ => return Err("must be yes or no".into()),
        }),
        FieldType::MultiChoice => Value::Array(
            split_choices(definition, trimmed)
                .into_iter()
                .map(|item| Value::String(item.to_owned()))
                .collect(),
        ),
        FieldType::LongText => Value::String(text.to_owned()),
        _ => Value::String(trimmed.to_owned()),
    };
    normalise(definition, &candidate).map(|value| value.unwrap_or(Value::Null))
}

/// A stored value in the text form [`parse_text_value`] reads back (form inputs, CSV cells):
/// booleans as yes/no, multi-choice options joined by " | ", null as "".
pub fn text_value(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(text_value).collect::<Vec<_>>().join(" | "),
        other => other.to_string(),
    }
}

/// A stored value as people read it: Yes/No, options joined by ", ", "" for none.
pub fn display_value(value: &Value) -> String {
    match value {
        Value::Bool(true) => "Yes".into(),
        Value::Bool(false) => "No".into(),
        Value::Array(items) => items
            .iter()
            .map(display_value)
            .collect::<Vec<_>>()
            .join(", "),
        other => text_value(other),
    }
}

/// Multi-choice text: split on "|" when there is one; otherwise the whole text when it names
/// an option (options may contain commas), else split on ",".
fn split_choices<'a>(definition: &FieldDefinition, text: &'a str) -> Vec<&'a str> {
    let pieces: Vec<&str> = if text.contains('|') {
        text.split('|').collect()
    } else if option_named(definition, text).is_some() {
        vec![text]
    } else {
        text.split(',').collect()
    };
    pieces
        .into_iter()
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
        .collect()
}

/// The option `raw` names: the exact spelling first, else the one equal ignoring case.
fn option_named<'a>(definition: &'a FieldDefinition, raw: &str) -> Option<&'a String> {
    let raw = raw.trim();
    definition
        .options
        .iter()
        .find(|option| *option == raw)
        .or_else(|| {
            let lower = raw.to_lowercase();
            definition
                .options
                .iter()
                .find(|option| option.to_lowercase() == lower)
        })
}

fn one_of_message(definition: &FieldDefinition) -> String {
    format!("must be one of: {}", definition.options.join(", "))
}

fn whole_number_message() -> String {
    format!("must be a whole number between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}")
}

/// One JSON value in the canonical form of `definition`'s type; `None` when it clears the
/// field (null, blank text, no options chosen).
fn normalise(definition: &FieldDefinition, value: &Value) -> Result<Option<Value>, String> {
    if value.is_null() {
        return Ok(None);
    }
    let string = || match value {
        Value::String(text) => Ok(text.as_str()),
        _ => Err(format!(
            "must be a string ({})",
            definition.field_type.label()
        )),
    };
    let blank = |text: &str| text.trim().is_empty();
    let normalised = match definition.field_type {
        FieldType::Text => {
            let text = string()?.trim();
            if text.is_empty() {
                return Ok(None);
            }
            if text.chars().any(char::is_control) {
                return Err("must be a single line of text".into());
            }
            if text.chars().count() > MAX_TEXT_CHARS {
                return Err(format!("must be at most {MAX_TEXT_CHARS} characters"));
            }
            Value::String(text.to_owned())
        }
        FieldType::LongText => {
            let text = string()?.replace("\r\n", "\n");
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            if text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
            {
                return Err("must not contain control characters".into());
            }
            if text.chars().count() > MAX_LONG_TEXT_CHARS {
                return Err(format!("must be at most {MAX_LONG_TEXT_CHARS} characters"));
            }
            Value::String(text.to_owned())
        }
        FieldType::Number => {
            let Value::Number(number) = value else {
                return Err(whole_number_message());
            };
            let whole = number.as_i64().or_else(|| {
                number
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER as f64)
                    .map(|f| f as i64)
            });
            match whole {
                Some(n) if n.abs() <= MAX_SAFE_INTEGER => Value::from(n),
                _ => return Err(whole_number_message()),
            }
        }
        FieldType::Decimal => {
            let text = match value {
                Value::Number(number) => number.to_string(),
                Value::String(text) if blank(text) => return Ok(None),
                Value::String(text) => text.clone(),
                _ => return Err(decimal_message()),
            };
            Value::String(canonical_decimal(&text)?)
        }
        FieldType::Date => {
            let text = string().map_err(|_| date_message())?;
            if blank(text) {
                return Ok(None);
            }
            Value::String(parse_date(text).ok_or_else(date_message)?)
        }
        FieldType::Boolean => match value {
            Value::Bool(flag) => Value::Bool(*flag),
            _ => return Err("must be true or false".into()),
        },
        FieldType::Choice => {
            let text = string().map_err(|_| one_of_message(definition))?;
            if blank(text) {
                return Ok(None);
            }
            let option =
                option_named(definition, text).ok_or_else(|| one_of_message(definition))?;
            Value::String(option.clone())
        }
        FieldType::MultiChoice => {
            let Value::Array(items) = value else {
                return Err(format!(
                    "must be a list of options from: {}",
                    definition.options.join(", ")
                ));
            };
            let mut chosen = Vec::new();
            for item in items {
                let option = item
                    .as_str()
                    .and_then(|text| option_named(definition, text))
                    .ok_or_else(|| {
                        format!(
                            "{item} is not an option; each must be one of: {}",
                            definition.options.join(", ")
                        )
                    })?;
                if !chosen.contains(&option) {
                    chosen.push(option);
                }
            }
            if chosen.is_empty() {
                return Ok(None);
            }
            // One order for every writer: the definition's, so equal sets store equal arrays.
            chosen.sort_by_key(|option| definition.options.iter().position(|o| o == *option));
            Value::Array(chosen.into_iter().cloned().map(Value::String).collect())
        }
        FieldType::Email => {
            let text = string()?;
            if blank(text) {
                return Ok(None);
            }
            let email = EmailAddress::parse(text).map_err(|error| error.to_string())?;
            Value::String(email.as_str().to_owned())
        }
        FieldType::Phone => {
            let text = string()?.trim();
            if text.is_empty() {
                return Ok(None);
            }
            if !is_phone(text) {
                return Err("must be a phone number such as +44 20 7946 0958".into());
            }
            Value::String(text.to_owned())
        }
        FieldType::Url => {
            let text = string()?;
            if blank(text) {
                return Ok(None);
            }
            let url = WebUrl::parse(text).map_err(|error| error.to_string())?;
            Value::String(url.as_str().to_owned())
        }
    };
    Ok(Some(normalised))
}

fn date_message() -> String {
    "must be a date as YYYY-MM-DD".into()
}

fn decimal_message() -> String {
    format!(
        "must be a decimal number such as 12.50 (at most {MAX_DECIMAL_INTEGER_DIGITS} digits before the point and {MAX_DECIMAL_FRACTION_DIGITS} after)"
    )
}

/// The shape the `end_users_phone_format` check allows (`^\+?[0-9 ()./-]{3,40}$`), with at
/// least three digits.
fn is_phone(text: &str) -> bool {
    let rest = text.strip_prefix('+').unwrap_or(text);
    let length = rest.chars().count();
    (3..=40).contains(&length)
        && rest
            .chars()
            .all(|c| c.is_ascii_digit() || " ()./-".contains(c))
        && rest.chars().filter(char::is_ascii_digit).count() >= 3
}

/// A decimal in canonical form: no `+`, no leading zeros, no trailing fraction zeros, no `-0`.
fn canonical_decimal(raw: &str) -> Result<String, String> {
    let text = raw.trim();
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |part: &str| part.chars().all(|c| c.is_ascii_digit());
    if (integer.is_empty() && fraction.is_empty()) || !digits(integer) || !digits(fraction) {
        return Err(decimal_message());
    }
    let integer = match integer.trim_start_matches('0') {
        "" => "0",
        significant => significant,
    };
    let fraction = fraction.trim_end_matches('0');
    if integer.len() > MAX_DECIMAL_INTEGER_DIGITS || fraction.len() > MAX_DECIMAL_FRACTION_DIGITS {
        return Err(decimal_message());
    }
    let zero = integer == "0" && fraction.is_empty();
    let sign = if negative && !zero { "-" } else { "" };
    Ok(if fraction.is_empty() {
        format!("{sign}{integer}")
    } else {
        format!("{sign}{integer}.{fraction}")
    })
}

/// A calendar date written `YYYY-MM-DD` (years 0001 to 9999).
fn parse_date(raw: &str) -> Option<String> {
    let text = raw.trim();
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(range)?;
        part.chars()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (year >= 1 && (1..=days).contains(&day)).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field(key: &str, field_type: FieldType) -> FieldDefinition {
        FieldDefinition {
            id: uuid::Uuid::nil(),
            entity: FieldEntity::User,
            key: key.into(),
            label: key.into(),
            field_type,
            required: false,
            options: if field_type.has_options() {
                vec!["Gold".into(), "Silver".into(), "Paris, France".into()]
            } else {
                Vec::new()
            },
            help_text: String::new(),
            position: 0,
            end_user_visible: false,
            end_user_editable: false,
            directory_column: false,
            archived: false,
            version: 1,
        }
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().expect("an object").clone()
    }

    /// The stored form of `value` for a lone field of `field_type`, or the error message.
    fn one(field_type: FieldType, value: Value) -> Result<Value, String> {
        let definitions = [field("f", field_type)];
        apply_custom_values(&definitions, &Map::new(), &object(json!({ "f": value })))
            .map(|merged| merged.get("f").cloned().unwrap_or(Value::Null))
            .map_err(|errors| {
                assert_eq!(errors.len(), 1, "{errors:?}");
                assert_eq!(errors[0].field, "custom.f");
                errors[0].message.clone()
            })
    }

    #[test]
    fn entity_and_type_names_round_trip() {
        for entity in FieldEntity::ALL {
            assert_eq!(FieldEntity::parse(entity.as_str()), Some(entity));
        }
        for kind in FieldType::ALL {
            assert_eq!(FieldType::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(FieldEntity::parse("users"), None);
        assert_eq!(FieldType::parse("Text"), None);
        assert_eq!(FieldType::MultiChoice.as_str(), "multi_choice");
    }

    #[test]
    fn text_is_one_trimmed_line_of_at_most_1000_characters() {
        assert_eq!(one(FieldType::Text, json!("  Acme  ")), Ok(json!("Acme")));
        assert_eq!(one(FieldType::Text, json!("   ")), Ok(Value::Null));
        assert!(one(FieldType::Text, json!("two\nlines")).is_err());
        assert!(one(FieldType::Text, json!(42)).is_err());
        assert_eq!(
            one(FieldType::Text, json!("é".repeat(1000))),
            Ok(json!("é".repeat(1000)))
        );
        assert_eq!(
            one(FieldType::Text, json!("x".repeat(1001))),
            Err("must be at most 1000 characters".into())
        );
    }

    #[test]
    fn long_text_keeps_lines_up_to_10000_characters() {
        assert_eq!(
            one(FieldType::LongText, json!("a\r\nb\tc\n")),
            Ok(json!("a\nb\tc"))
        );
        assert!(one(FieldType::LongText, json!("x".repeat(10_001))).is_err());
        assert!(one(FieldType::LongText, json!("bell\u{7}")).is_err());
    }

    #[test]
    fn numbers_are_whole_json_numbers() {
        assert_eq!(one(FieldType::Number, json!(42)), Ok(json!(42)));
        assert_eq!(one(FieldType::Number, json!(-7.0)), Ok(json!(-7)));
        assert!(one(FieldType::Number, json!(1.5)).is_err());
        assert!(one(FieldType::Number, json!("42")).is_err());
        assert!(one(FieldType::Number, json!(MAX_SAFE_INTEGER + 1)).is_err());
        assert!(one(FieldType::Number, json!(true)).is_err());
    }

    #[test]
    fn decimals_are_canonical_strings() {
        assert_eq!(one(FieldType::Decimal, json!("012.500")), Ok(json!("12.5")));
        assert_eq!(one(FieldType::Decimal, json!("+3")), Ok(json!("3")));
        assert_eq!(one(FieldType::Decimal, json!("-0.000")), Ok(json!("0")));
        assert_eq!(one(FieldType::Decimal, json!(".25")), Ok(json!("0.25")));
        assert_eq!(one(FieldType::Decimal, json!(19.99)), Ok(json!("19.99")));
        assert_eq!(one(FieldType::Decimal, json!(7)), Ok(json!("7")));
        for bad in [
            json!("1e5"),
            json!("12,5"),
            json!("."),
            json!("1.2.3"),
            json!("0.12345678901"),
            json!(true),
        ] {
            assert!(one(FieldType::Decimal, bad.clone()).is_err(), "{bad}");
        }
        assert!(one(FieldType::Decimal, json!("1".repeat(21))).is_err());
    }

    #[test]
    fn dates_are_real_calendar_days() {
        assert_eq!(
            one(FieldType::Date, json!("2024-02-29")),
            Ok(json!("2024-02-29"))
        );
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2024-13-01",
            "2024-04-31",
            "0000-01-01",
            "24-01-01",
            "2024/01/01",
            "2024-1-01",
            "2024-01-01T00:00:00Z",
        ] {
            assert_eq!(
                one(FieldType::Date, json!(bad)),
                Err("must be a date as YYYY-MM-DD".into()),
                "{bad}"
            );
        }
        assert_eq!(
            one(FieldType::Date, json!("2000-02-29")),
            Ok(json!("2000-02-29"))
        );
    }

    #[test]
    fn booleans_are_json_booleans() {
        assert_eq!(one(FieldType::Boolean, json!(false)), Ok(json!(false)));
        assert!(one(FieldType::Boolean, json!("yes")).is_err());
        assert!(one(FieldType::Boolean, json!(1)).is_err());
    }

    #[test]
    fn choices_are_stored_exactly_as_defined() {
        assert_eq!(one(FieldType::Choice, json!("gold")), Ok(json!("Gold")));
        assert_eq!(
            one(FieldType::Choice, json!("Bronze")),
            Err("must be one of: Gold, Silver, Paris, France".into())
        );
        assert!(one(FieldType::Choice, json!(["Gold"])).is_err());
    }

    #[test]
    fn multi_choices_are_option_lists_in_definition_order() {
        assert_eq!(
            one(FieldType::MultiChoice, json!(["silver", "Gold", "Silver"])),
            Ok(json!(["Gold", "Silver"]))
        );
        assert_eq!(one(FieldType::MultiChoice, json!([])), Ok(Value::Null));
        assert!(one(FieldType::MultiChoice, json!(["Gold", "Bronze"])).is_err());
        assert!(one(FieldType::MultiChoice, json!("Gold")).is_err());
        assert!(one(FieldType::MultiChoice, json!([1])).is_err());
    }

    #[test]
    fn emails_phones_and_urls_are_checked() {
        assert_eq!(
            one(FieldType::Email, json!(" a@example.com ")),
            Ok(json!("a@example.com"))
        );
        assert!(one(FieldType::Email, json!("not an address")).is_err());
        assert_eq!(
            one(FieldType::Phone, json!("+44 (20) 7946-0958")),
            Ok(json!("+44 (20) 7946-0958"))
        );
        for bad in ["call me", "12", "---", "+1 555 0100 ext 4"] {
            assert!(one(FieldType::Phone, json!(bad)).is_err(), "{bad}");
        }
        assert_eq!(
            one(FieldType::Url, json!("https://example.com/x")),
            Ok(json!("https://example.com/x"))
        );
        assert!(one(FieldType::Url, json!("javascript:alert(1)")).is_err());
        assert!(one(FieldType::Url, json!("example.com")).is_err());
    }

    #[test]
    fn unknown_and_archived_keys_are_refused_and_archived_values_kept() {
        let mut archived = field("old", FieldType::Text);
        archived.archived = true;
        let definitions = [field("tier", FieldType::Choice), archived];
        let stored = object(json!({"old": "kept", "tier": "Gold", "orphan": 1}));
        let errors = apply_custom_values(
            &definitions,
            &stored,
            &object(json!({"old": "new", "nope": 1})),
        )
        .expect_err("refused");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["custom.nope", "custom.old"]);
        let merged = apply_custom_values(&definitions, &stored, &object(json!({"tier": null})))
            .expect("cleared");
        assert_eq!(merged, object(json!({"old": "kept", "orphan": 1})));
        assert_eq!(
            visible_values(&definitions, &stored),
            object(json!({"tier": "Gold"}))
        );
    }

    #[test]
    fn required_fields_are_checked_on_the_merged_result() {
        let mut tier = field("tier", FieldType::Choice);
        tier.required = true;
        let definitions = [tier, field("note", FieldType::Text)];
        let errors = apply_custom_values(&definitions, &Map::new(), &object(json!({"note": "x"})))
            .expect_err("tier missing");
        assert_eq!(
            errors,
            [CustomFieldError {
                field: "custom.tier".into(),
                message: "is required".into()
            }]
        );
        let stored = object(json!({"tier": "Gold"}));
        assert!(apply_custom_values(&definitions, &stored, &object(json!({"note": "y"}))).is_ok());
        let errors = apply_custom_values(&definitions, &stored, &object(json!({"tier": ""})))
            .expect_err("cleared");
        assert_eq!(errors[0].field, "custom.tier");
        let errors = apply_custom_values(&definitions, &stored, &object(json!({"tier": "Tin"})))
            .expect_err("bad option");
        assert_eq!(errors.len(), 1, "one message per field: {errors:?}");
    }

    #[test]
    fn text_values_parse_by_type() {
        let number = field("n", FieldType::Number);
        assert_eq!(parse_text_value(&number, " 42 "), Ok(json!(42)));
        assert_eq!(parse_text_value(&number, ""), Ok(Value::Null));
        assert!(
            parse_text_value(&number, "4.2")
                .expect_err("not whole")
                .starts_with("must be a whole number")
        );
        let flag = field("b", FieldType::Boolean);
        assert_eq!(parse_text_value(&flag, "Yes"), Ok(json!(true)));
        assert_eq!(parse_text_value(&flag, "off"), Ok(json!(false)));
        assert_eq!(
            parse_text_value(&flag, "maybe"),
            Err("must be yes or no".into())
        );
        let multi = field("m", FieldType::MultiChoice);
        assert_eq!(
            parse_text_value(&multi, "silver | gold"),
            Ok(json!(["Gold", "Silver"]))
        );
        assert_eq!(
            parse_text_value(&multi, "Silver,Gold"),
            Ok(json!(["Gold", "Silver"]))
        );
        assert_eq!(
            parse_text_value(&multi, "Paris, France"),
            Ok(json!(["Paris, France"]))
        );
        let choice = field("c", FieldType::Choice);
        assert_eq!(
            parse_text_value(&choice, "Tin"),
            Err("must be one of: Gold, Silver, Paris, France".into())
        );
        let decimal = field("d", FieldType::Decimal);
        assert_eq!(parse_text_value(&decimal, "3.10"), Ok(json!("3.1")));
        let date = field("t", FieldType::Date);
        assert_eq!(
            parse_text_value(&date, "2026-11-22"),
            Ok(json!("2026-11-22"))
        );
    }

    #[test]
    fn text_value_round_trips_through_parse_text_value() {
        for (kind, value) in [
            (FieldType::Boolean, json!(true)),
            (FieldType::MultiChoice, json!(["Gold", "Paris, France"])),
            (FieldType::Number, json!(-3)),
            (FieldType::Decimal, json!("0.5")),
            (FieldType::Text, json!("hello")),
        ] {
            let definition = field("f", kind);
            assert_eq!(
                parse_text_value(&definition, &text_value(&value)),
                Ok(value.clone()),
                "{kind}"
            );
        }
        assert_eq!(display_value(&json!(["Gold", "Silver"])), "Gold, Silver");
        assert_eq!(display_value(&json!(false)), "No");
    }

    #[test]
    fn definition_parts_are_checked() {
        assert_eq!(parse_key("contract_tier"), Ok("contract_tier".into()));
        for bad in ["", "Tier", "1tier", "tier-x", "ti er", &"k".repeat(51)] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
        assert!(parse_label("").is_err());
        assert!(parse_label(&"l".repeat(101)).is_err());
        assert!(parse_help_text(&"h".repeat(501)).is_err());
        let raw = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_options(FieldType::Choice, &raw(&[" a ", "", "b"])),
            Ok(raw(&["a", "b"]))
        );
        assert!(parse_options(FieldType::Choice, &raw(&[])).is_err());
        assert!(parse_options(FieldType::Choice, &raw(&["a", "A"])).is_err());
        assert!(parse_options(FieldType::Choice, &raw(&["a|b"])).is_err());
        assert!(parse_options(FieldType::Text, &raw(&["a"])).is_err());
        assert_eq!(parse_options(FieldType::Text, &raw(&[" "])), Ok(vec![]));
        let many: Vec<String> = (0..101).map(|i| format!("o{i}")).collect();
        assert!(parse_options(FieldType::MultiChoice, &many).is_err());
    }

    #[test]
    fn changes_keep_editable_within_visible() {
        let base = field("f", FieldType::Choice);
        let editable = base
            .changed(&FieldChange {
                end_user_editable: Some(true),
                ..FieldChange::default()
            })
            .expect("valid");
        assert!(editable.end_user_visible && editable.end_user_editable);
        let hidden = editable
            .changed(&FieldChange {
                end_user_visible: Some(false),
                ..FieldChange::default()
            })
            .expect("valid");
        assert!(!hidden.end_user_visible && !hidden.end_user_editable);
        let errors = base
            .changed(&FieldChange {
                end_user_visible: Some(false),
                end_user_editable: Some(true),
                label: Some(String::new()),
                ..FieldChange::default()
            })
            .expect_err("contradiction");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["label", "end_user_editable"]);
        let fewer = base
            .changed(&FieldChange {
                options: Some(vec!["Gold".into()]),
                ..FieldChange::default()
            })
            .expect("valid");
        assert_eq!(base.removed_options(&fewer), ["Silver", "Paris, France"]);
    }
}
