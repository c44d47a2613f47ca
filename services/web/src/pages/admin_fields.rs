//! `/admin/fields`: custom fields for agents whose role holds [`Permission::DirectoryConfigure`]:
//! one section per entity (end users, organizations, tickets) listing its fields with a form
//! to add one, an edit page per field, and archive/restore buttons. Every form carries the
//! CSRF token and follows post/redirect/get. The rules are the API's, from one place: the
//! domain's `parse_*` functions and [`FieldDefinition::changed`], the store's version check.
//! Ids of another tenant's fields answer the 404 page, exactly like ids that do not exist.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::Permission;
use domain::custom_fields::{
    self, CustomFieldError, FieldChange, FieldDefinition, FieldEntity, FieldType,
    MAX_FIELDS_PER_ENTITY, MAX_HELP_TEXT_CHARS, MAX_KEY_CHARS, MAX_LABEL_CHARS, MAX_OPTIONS,
};
use serde::Deserialize;
use store::StoreError;
use store::custom_fields::{CreateOutcome, NewField, UpdateOutcome};
use uuid::Uuid;

use crate::AppState;
use crate::api::fields::MAX_POSITION;
use crate::auth::SignedInAgent;
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::error::PageError;
use crate::pages::agent::EmptyForm;
use crate::pages::{Brand, render};

fn allowed(agent: SignedInAgent) -> Result<SignedInAgent, PageError> {
    agent.require(Permission::DirectoryConfigure)?;
    Ok(agent)
}

fn respond(status: StatusCode, page: &impl Template) -> Result<Response, PageError> {
    Ok((status, render(page)?).into_response())
}

fn entity_of(raw: &str) -> Result<FieldEntity, PageError> {
    FieldEntity::parse(raw).ok_or(PageError::NotFound)
}

fn id_of(raw: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(raw).map_err(|_| PageError::NotFound)
}

/// A form as sent: every name with its values (unchecked boxes are simply absent).
#[derive(Deserialize)]
#[serde(transparent)]
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    fn text(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.replace("\r\n", "\n"))
            .unwrap_or_default()
    }

    fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(key, _)| key == name)
    }
}

/// A field form's values as entered (or as stored, on the edit page).
#[derive(Default)]
struct FieldValues {
    key: String,
    label: String,
    field_type: String,
    required: bool,
    /// One option per line.
    options: String,
    help_text: String,
    position: String,
    end_user_visible: bool,
    end_user_editable: bool,
    directory_column: bool,
}

impl From<&FieldDefinition> for FieldValues {
    fn from(field: &FieldDefinition) -> Self {
        Self {
            key: field.key.clone(),
            label: field.label.clone(),
            field_type: field.field_type.as_str().to_owned(),
            required: field.required,
            options: field.options.join("\n"),
            help_text: field.help_text.clone(),
            position: field.position.to_string(),
            end_user_visible: field.end_user_visible,
            end_user_editable: field.end_user_editable,
            directory_column: field.directory_column,
        }
    }
}

#[derive(Default)]
struct FieldErrors {
    key: Option<String>,
    label: Option<String>,
    field_type: Option<String>,
    options: Option<String>,
    help_text: Option<String>,
    position: Option<String>,
    end_user_editable: Option<String>,
}

impl FieldErrors {
    fn any(&self) -> bool {
        [
            &self.key,
            &self.label,
            &self.field_type,
            &self.options,
            &self.help_text,
            &self.position,
            &self.end_user_editable,
        ]
        .iter()
        .any(|error| error.is_some())
    }

    /// Files the domain's errors (named by definition field) beside their inputs.
    fn file(&mut self, errors: Vec<CustomFieldError>) {
        for error in errors {
            let message = Some(said(&error.field, &error.message));
            match error.field.as_str() {
                "label" => self.label = message,
                "options" => self.options = message,
                "help_text" => self.help_text = message,
                "position" => self.position = message,
                _ => self.end_user_editable = message,
            }
        }
    }
}

/// A domain message about `field` as a sentence beside its input.
fn said(field: &str, message: &str) -> String {
    match (field, message) {
        ("key", "is required") => "Enter a key such as contract_tier.".to_owned(),
        ("label", "is required") => "Enter a label.".to_owned(),
        _ => sentence(message),
    }
}

/// "must be ..." as a sentence: "Must be ...".
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
    let mut text = first.unwrap_or_default() + chars.as_str();
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

/// One field form: the add form of a section, or the edit page's form.
struct FieldForm {
    entity: FieldEntity,
    /// Prefix of the inputs' ids, unique on the page.
    prefix: String,
    /// Where the form posts.
    action: String,
    /// On the edit page: key and type are fixed, shown as text; the version is sent back.
    editing: Option<FieldDefinition>,
    values: FieldValues,
    errors: FieldErrors,
    /// A problem with the form as a whole (the entity's field limit).
    alert: Option<String>,
}

impl FieldForm {
    fn new(entity: FieldEntity) -> Self {
        Self {
            entity,
            prefix: format!("new-{}", entity.as_str()),
            action: format!("/admin/fields/{}", entity.as_str()),
            editing: None,
            values: FieldValues {
                field_type: FieldType::Text.as_str().to_owned(),
                ..FieldValues::default()
            },
            errors: FieldErrors::default(),
            alert: None,
        }
    }

    fn edit(field: &FieldDefinition) -> Self {
        Self {
            entity: field.entity,
            prefix: "edit".to_owned(),
            action: format!("/admin/fields/{}/{}", field.entity.as_str(), field.id),
            editing: Some(field.clone()),
            values: FieldValues::from(field),
            errors: FieldErrors::default(),
            alert: None,
        }
    }

    /// Whether the options input applies: always when adding (the type may be a choice),
    /// only for choice types when editing.
    fn shows_options(&self) -> bool {
        self.editing
            .as_ref()
            .is_none_or(|field| field.field_type.has_options())
    }
}

/// One field as a section's table lists it.
struct FieldRow {
    id: Uuid,
    key: String,
    label: String,
    type_label: &'static str,
    options: String,
    required: bool,
    end_users: &'static str,
    directory_column: bool,
    position: i32,
    archived: bool,
}

impl From<&FieldDefinition> for FieldRow {
    fn from(field: &FieldDefinition) -> Self {
        Self {
            id: field.id,
            key: field.key.clone(),
            label: field.label.clone(),
            type_label: field.field_type.label(),
            options: field.options.join(", "),
            required: field.required,
            end_users: match (field.end_user_visible, field.end_user_editable) {
                (_, true) => "See and edit",
                (true, false) => "See",
                (false, false) => "Hidden",
            },
            directory_column: field.directory_column,
            position: field.position,
            archived: field.archived,
        }
    }
}

struct Section {
    entity: FieldEntity,
    rows: Vec<FieldRow>,
    form: FieldForm,
    full: bool,
}

#[derive(Template)]
#[template(path = "admin_fields.html")]
struct FieldsPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    sections: Vec<Section>,
    types: [FieldType; 11],
    notice: Option<String>,
    max_fields: usize,
    max_options: usize,
    max_key: usize,
    max_label: usize,
    max_help: usize,
}

async fn fields_page<'a>(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &'a str,
) -> Result<(FieldsPage<'a>, Vec<FieldDefinition>), PageError> {
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let mut all = Vec::new();
    let mut sections = Vec::new();
    for entity in FieldEntity::ALL {
        let fields = store::custom_fields::list(&mut tx, entity, true).await?;
        sections.push(Section {
            entity,
            rows: fields.iter().map(FieldRow::from).collect(),
            form: FieldForm::new(entity),
            full: fields.len() >= MAX_FIELDS_PER_ENTITY,
        });
        all.extend(fields);
    }
    tx.commit().await?;
    let page = FieldsPage {
        brand: Brand::from(&settings),
        section: "fields",
        csrf,
        sections,
        types: FieldType::ALL,
        notice: None,
        max_fields: MAX_FIELDS_PER_ENTITY,
        max_options: MAX_OPTIONS,
        max_key: MAX_KEY_CHARS,
        max_label: MAX_LABEL_CHARS,
        max_help: MAX_HELP_TEXT_CHARS,
    };
    Ok((page, all))
}

/// What the last change was, for the notice on the page it redirects to.
#[derive(Deserialize, Default)]
pub struct FieldsQuery {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    field: Option<String>,
    /// Records still holding options the change removed.
    #[serde(default)]
    kept: Option<i64>,
}

fn notice(query: &FieldsQuery, all: &[FieldDefinition]) -> Option<String> {
    let id = Uuid::parse_str(query.field.as_deref()?).ok()?;
    let field = all.iter().find(|f| f.id == id)?;
    let label = &field.label;
    let mut notice = match query.done.as_deref()? {
        "created" => format!(
            "The field {label} is added to {}.",
            field.entity.label().to_lowercase()
        ),
        "saved" => format!("The field {label} is saved."),
        "archived" => format!(
            "The field {label} is archived: its values are hidden, not deleted. Restore it to show them again."
        ),
        "restored" => format!("The field {label} is restored, with every value it had."),
        _ => return None,
    };
    if let Some(kept) = query.kept.filter(|kept| *kept > 0) {
        notice.push_str(&format!(
            " Nothing was deleted: {kept} record(s) keep the options you removed until their {label} is changed."
        ));
    }
    Some(notice)
}

pub async fn fields_list(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<FieldsQuery>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let (mut page, all) = fields_page(&state, &me, &csrf).await?;
    page.notice = notice(&query, &all);
    respond(StatusCode::OK, &page)
}

/// The options textarea: one option per line.
fn option_lines(raw: &str) -> Vec<String> {
    raw.lines().map(str::to_owned).collect()
}

/// An optional position: blank is none.
fn position_of(raw: &str, errors: &mut FieldErrors) -> Option<i32> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match raw.parse::<i32>() {
        Ok(position) if (0..=MAX_POSITION).contains(&i64::from(position)) => Some(position),
        _ => {
            errors.position = Some(format!("Enter a whole number from 0 to {MAX_POSITION}."));
            None
        }
    }
}

/// The form's values as entered; editable implies visible, since a box cannot say "no" apart
/// from "not sent".
fn values_of(form: &FormFields) -> FieldValues {
    let editable = form.checked("end_user_editable");
    FieldValues {
        key: form.text("key"),
        label: form.text("label"),
        field_type: form.text("field_type"),
        required: form.checked("required"),
        options: form.text("options"),
        help_text: form.text("help_text"),
        position: form.text("position"),
        end_user_visible: form.checked("end_user_visible") || editable,
        end_user_editable: editable,
        directory_column: form.checked("directory_column"),
    }
}

pub async fn create_field(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(entity): Path<String>,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let entity = entity_of(&entity)?;
    let values = values_of(&form);
    let mut errors = FieldErrors::default();
    let key = custom_fields::parse_key(&values.key)
        .map_err(|message| errors.key = Some(said("key", &message)))
        .ok();
    let label = custom_fields::parse_label(&values.label)
        .map_err(|message| errors.label = Some(said("label", &message)))
        .ok();
    let field_type = FieldType::parse(&values.field_type);
    if field_type.is_none() {
        errors.field_type = Some("Choose one of the types listed.".to_owned());
    }
    let options = field_type.and_then(|field_type| {
        custom_fields::parse_options(field_type, &option_lines(&values.options))
            .map_err(|message| errors.options = Some(sentence(&message)))
            .ok()
    });
    let help_text = custom_fields::parse_help_text(&values.help_text)
        .map_err(|message| errors.help_text = Some(sentence(&message)))
        .ok();
    let position = position_of(&values.position, &mut errors);
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    let mut alert = None;
    if let (Some(key), Some(label), Some(field_type), Some(options), Some(help_text), false) =
        (key, label, field_type, options, help_text, errors.any())
    {
        let new = NewField {
            entity,
            key: &key,
            label: &label,
            field_type,
            required: values.required,
            options: &options,
            help_text: &help_text,
            position,
            end_user_visible: values.end_user_visible,
            end_user_editable: values.end_user_editable,
            directory_column: values.directory_column,
        };
        let mut tx = state.store.begin_tenant(me.tenant.id).await?;
        match store::custom_fields::create(&mut tx, &new).await {
            Ok(CreateOutcome::Created(field)) => {
                tx.commit().await?;
                let to = format!("/admin/fields?done=created&field={}", field.id);
                return Ok(Redirect::to(&to).into_response());
            }
            Ok(CreateOutcome::TooMany) => {
                alert = Some(format!(
                    "{} already have {MAX_FIELDS_PER_ENTITY} fields, archived ones included. Restore an archived field instead of adding one.",
                    entity.label()
                ));
                status = StatusCode::CONFLICT;
            }
            Err(StoreError::Conflict { .. }) => {
                errors.key = Some(
                    "A field with this key already exists here (archived fields count). Choose another key."
                        .to_owned(),
                );
                status = StatusCode::CONFLICT;
            }
            Err(error) => return Err(error.into()),
        }
    }
    let (mut page, _) = fields_page(&state, &me, &csrf).await?;
    if let Some(section) = page.sections.iter_mut().find(|s| s.entity == entity) {
        section.form.values = values;
        section.form.errors = errors;
        section.form.alert = alert;
    }
    respond(status, &page)
}

#[derive(Template)]
#[template(path = "admin_fields_edit.html")]
struct FieldEditPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    field: FieldDefinition,
    form: FieldForm,
    types: [FieldType; 11],
    alert: Option<String>,
    max_options: usize,
    max_key: usize,
    max_label: usize,
    max_help: usize,
}

async fn edit_page<'a>(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &'a str,
    entity: &str,
    id: &str,
) -> Result<FieldEditPage<'a>, PageError> {
    let (entity, id) = (entity_of(entity)?, id_of(id)?);
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let field = store::custom_fields::by_id(&mut tx, entity, id)
        .await?
        .ok_or(PageError::NotFound)?;
    tx.commit().await?;
    Ok(FieldEditPage {
        brand: Brand::from(&settings),
        section: "fields",
        csrf,
        form: FieldForm::edit(&field),
        field,
        types: FieldType::ALL,
        alert: None,
        max_options: MAX_OPTIONS,
        max_key: MAX_KEY_CHARS,
        max_label: MAX_LABEL_CHARS,
        max_help: MAX_HELP_TEXT_CHARS,
    })
}

pub async fn field_form(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path((entity, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let page = edit_page(&state, &me, &csrf, &entity, &id).await?;
    respond(StatusCode::OK, &page)
}

/// Saves the edit form. The form carries the version it showed: if someone saved in between,
/// the form comes back (409) with what was entered and a note, and saving again overwrites.
pub async fn save_field(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path((entity, id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let mut page = edit_page(&state, &me, &csrf, &entity, &id).await?;
    let current = page.field.clone();
    let mut values = values_of(&form);
    values.key = current.key.clone();
    values.field_type = current.field_type.as_str().to_owned();
    let mut errors = FieldErrors::default();
    let shown_version = form.text("version").trim().parse::<i64>().ok();
    let position = position_of(&values.position, &mut errors);
    let change = FieldChange {
        label: Some(values.label.clone()),
        required: Some(values.required),
        options: current
            .field_type
            .has_options()
            .then(|| option_lines(&values.options)),
        help_text: Some(values.help_text.clone()),
        position,
        end_user_visible: Some(values.end_user_visible),
        end_user_editable: Some(values.end_user_editable),
        directory_column: Some(values.directory_column),
        archived: None,
    };
    let status = match current.changed(&change) {
        Err(found) => {
            errors.file(found);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Ok(_) if errors.any() => StatusCode::UNPROCESSABLE_ENTITY,
        Ok(_) if shown_version.is_some_and(|shown| shown != current.version) => {
            page.alert = Some(format!(
                "Someone else saved this field while you were editing it. Check the values below \
                 (what you entered is kept) and save again to store them over their change. \
                 The field now reads: label \"{}\", options: {}.",
                current.label,
                if current.options.is_empty() {
                    "none".to_owned()
                } else {
                    current.options.join(", ")
                }
            ));
            StatusCode::CONFLICT
        }
        Ok(next) => {
            let mut tx = state.store.begin_tenant(me.tenant.id).await?;
            let mut kept = 0;
            for option in current.removed_options(&next) {
                kept +=
                    store::custom_fields::records_with_option(&mut tx, &current, &option).await?;
            }
            match store::custom_fields::update(&mut tx, &next, current.version).await? {
                UpdateOutcome::Updated(saved) => {
                    tx.commit().await?;
                    let to = format!(
                        "/admin/fields?done=saved&field={}&kept={kept}#fields-{}",
                        saved.id,
                        saved.entity.as_str()
                    );
                    return Ok(Redirect::to(&to).into_response());
                }
                UpdateOutcome::NotFound => return Err(PageError::NotFound),
                UpdateOutcome::Stale { .. } => {
                    page.alert = Some(
                        "Someone else saved this field at the same moment. Save again to store your values."
                            .to_owned(),
                    );
                    StatusCode::CONFLICT
                }
            }
        }
    };
    page.form.values = values;
    page.form.errors = errors;
    respond(status, &page)
}

/// Archives or restores a field, whatever its version: the button says exactly what it does.
async fn set_archived(
    state: &AppState,
    me: &SignedInAgent,
    entity: &str,
    id: &str,
    archived: bool,
) -> Result<Response, PageError> {
    let (entity, id) = (entity_of(entity)?, id_of(id)?);
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let current = store::custom_fields::by_id(&mut tx, entity, id)
        .await?
        .ok_or(PageError::NotFound)?;
    let next = FieldDefinition {
        archived,
        ..current.clone()
    };
    match store::custom_fields::update(&mut tx, &next, current.version).await? {
        UpdateOutcome::Updated(_) => {}
        UpdateOutcome::NotFound => return Err(PageError::NotFound),
        UpdateOutcome::Stale { .. } => {
            return Err(PageError::BadRequest(
                "Someone else changed this field at the same moment. Go back and try again.".into(),
            ));
        }
    }
    tx.commit().await?;
    let done = if archived { "archived" } else { "restored" };
    let to = format!(
        "/admin/fields?done={done}&field={id}#fields-{}",
        entity.as_str()
    );
    Ok(Redirect::to(&to).into_response())
}

pub async fn archive_field(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path((entity, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    set_archived(&state, &me, &entity, &id, true).await
}

pub async fn restore_field(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path((entity, id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    set_archived(&state, &me, &entity, &id, false).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_messages_read_as_sentences() {
        assert_eq!(said("label", "is required"), "Enter a label.");
        assert_eq!(
            sentence("must list at least one option"),
            "Must list at least one option."
        );
    }

    #[test]
    fn editable_boxes_imply_visible() {
        let form = FormFields(vec![("end_user_editable".into(), "on".into())]);
        let values = values_of(&form);
        assert!(values.end_user_visible && values.end_user_editable);
        assert!(!values.required);
    }
}
