//! `/api/v1/fields/{entity}`: custom field definitions of end users, organizations and tickets.
//! Reading needs `users.read`, defining and changing `directory.configure`. Key and type are
//! fixed once a field exists, so relabelling loses nothing; archiving hides a field's values
//! without deleting them, and restoring shows them again.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::Permission;
use domain::custom_fields::{
    self, CustomFieldError, FieldChange, FieldDefinition, FieldEntity, FieldType,
    MAX_FIELDS_PER_ENTITY,
};
use serde::{Deserialize, Serialize};
use store::custom_fields::{CreateOutcome, NewField, UpdateOutcome};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::json::{ApiJson, FieldParser, if_match_version};
use crate::api::page::Page;
use crate::error::{ApiError, FieldError, Problem};

/// The highest position a field may have; positions only order fields.
pub const MAX_POSITION: i64 = 100_000;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d40", "entity": "user", "key": "contract_tier",
    "label": "Contract tier", "field_type": "choice", "required": false,
    "options": ["Bronze", "Silver", "Gold"], "help_text": "The support plan the customer pays for.",
    "position": 0, "end_user_visible": true, "end_user_editable": false, "directory_column": true,
    "archived": false, "version": 1
}))]
pub struct FieldBody {
    pub id: Uuid,
    /// `user`, `organization` or `ticket`.
    pub entity: &'static str,
    /// The name values are stored under (`custom.<key>`); fixed after creation.
    pub key: String,
    pub label: String,
    /// `text`, `long_text`, `number`, `decimal`, `date`, `boolean`, `choice`, `multi_choice`,
    /// `email`, `phone` or `url`; fixed after creation.
    pub field_type: &'static str,
    pub required: bool,
    /// The options of `choice` and `multi_choice` fields; empty for other types.
    pub options: Vec<String>,
    pub help_text: String,
    /// Fields are listed by position, then label.
    pub position: i32,
    pub end_user_visible: bool,
    /// Implies `end_user_visible`.
    pub end_user_editable: bool,
    /// Shown as a column of the directory list.
    pub directory_column: bool,
    /// Archived fields accept no values and their stored values are hidden (not deleted).
    pub archived: bool,
    pub version: i64,
    /// What a change did not do (a removed option stays in the records that hold it, say).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl From<FieldDefinition> for FieldBody {
    fn from(field: FieldDefinition) -> Self {
        Self {
            id: field.id,
            entity: field.entity.as_str(),
            key: field.key,
            label: field.label,
            field_type: field.field_type.as_str(),
            required: field.required,
            options: field.options,
            help_text: field.help_text,
            position: field.position,
            end_user_visible: field.end_user_visible,
            end_user_editable: field.end_user_editable,
            directory_column: field.directory_column,
            archived: field.archived,
            version: field.version,
            warnings: Vec::new(),
        }
    }
}

fn with_etag(status: StatusCode, body: FieldBody) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", body.version));
    let mut response = (status, Json(body)).into_response();
    if let Ok(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// The entity of a path: an unknown one is a 404 like any address that is not there.
fn entity_of(raw: &str) -> Result<FieldEntity, ApiError> {
    FieldEntity::parse(raw).ok_or(ApiError::NotFound)
}

fn id_of(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound)
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Validation(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

fn field_errors(errors: Vec<CustomFieldError>) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|e| FieldError {
            field: e.field,
            message: e.message,
        })
        .collect()
}

#[derive(Deserialize, IntoParams)]
pub struct FieldsQuery {
    /// `false`: only active fields; `true`: only archived ones; absent: both.
    archived: Option<String>,
    /// How many fields (1 to 200, default 50). An entity has at most 100.
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One page of `fields` (in position order) after the field named by `cursor`.
fn page_of(fields: Vec<FieldDefinition>, query: &FieldsQuery) -> Result<Page<FieldBody>, ApiError> {
    let limit = match query.limit {
        None => 50,
        Some(limit @ 1..=200) => limit as usize,
        Some(_) => return Err(invalid("limit", "must be between 1 and 200")),
    };
    let start = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => 0,
        Some(raw) => {
            let after = Uuid::parse_str(raw).ok();
            fields
                .iter()
                .position(|f| Some(f.id) == after)
                .map(|at| at + 1)
                .ok_or_else(|| invalid("cursor", "is not a cursor this API gave out"))?
        }
    };
    let rest: Vec<FieldDefinition> = fields.into_iter().skip(start).collect();
    let next_cursor = (rest.len() > limit).then(|| rest[limit - 1].id.to_string());
    Ok(Page {
        data: rest.into_iter().take(limit).map(FieldBody::from).collect(),
        next_cursor,
    })
}

/// The fields of an entity, by position then label.
#[utoipa::path(get, path = "/api/v1/fields/{entity}", tag = "directory", security(("api_token" = [])),
    params(("entity" = String, Path, description = "`user`, `organization` or `ticket`"), FieldsQuery),
    responses((status = 200, description = "One page of fields", body = inline(Page<FieldBody>),
            example = json!({"data": [{"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d40", "entity": "user", "key": "contract_tier",
                "label": "Contract tier", "field_type": "choice", "required": false, "options": ["Bronze", "Silver", "Gold"],
                "help_text": "", "position": 0, "end_user_visible": true, "end_user_editable": false,
                "directory_column": true, "archived": false, "version": 1}], "next_cursor": null})),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such entity", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(entity): Path<String>,
    Query(query): Query<FieldsQuery>,
) -> Result<Json<Page<FieldBody>>, ApiError> {
    caller.require(Permission::UsersRead)?;
    let entity = entity_of(&entity)?;
    let archived = match query.archived.as_deref() {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => return Err(invalid("archived", "must be true or false")),
    };
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let fields = store::custom_fields::list(&mut tx, entity, archived != Some(false)).await?;
    tx.commit().await?;
    let fields = fields
        .into_iter()
        .filter(|f| archived.is_none_or(|archived| f.archived == archived))
        .collect();
    Ok(Json(page_of(fields, &query)?))
}

/// One field.
#[utoipa::path(get, path = "/api/v1/fields/{entity}/{id}", tag = "directory", security(("api_token" = [])),
    params(("entity" = String, Path, description = "`user`, `organization` or `ticket`"),
        ("id" = Uuid, Path, description = "The field")),
    responses((status = 200, description = "The field; the ETag header carries its version", body = FieldBody),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such field of this entity in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((entity, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Permission::UsersRead)?;
    let (entity, id) = (entity_of(&entity)?, id_of(&id)?);
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let field = store::custom_fields::by_id(&mut tx, entity, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(with_etag(StatusCode::OK, field.into()))
}

/// A list of strings (`options`), as entered.
fn string_list(
    fields: &mut FieldParser<'_>,
    object: &serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Option<Vec<String>> {
    let value = object.get(name)?;
    let list = value.as_array().and_then(|items| {
        items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()
    });
    if list.is_none() {
        fields.errors.push(FieldError {
            field: name.into(),
            message: "must be a list of strings".into(),
        });
    }
    list
}

fn required_missing(fields: &mut FieldParser<'_>, name: &str, given: bool) {
    if !given && !fields.errors.iter().any(|e| e.field == name) {
        fields.errors.push(FieldError {
            field: name.into(),
            message: "is required".into(),
        });
    }
}

fn type_names() -> String {
    FieldType::ALL
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Defines a field. `options` only for `choice` and `multi_choice` (1 to 100); without
/// `position` the field goes last; `end_user_editable` implies `end_user_visible`.
#[utoipa::path(post, path = "/api/v1/fields/{entity}", tag = "directory", security(("api_token" = [])),
    params(("entity" = String, Path, description = "`user`, `organization` or `ticket`")),
    request_body(content = inline(serde_json::Value), example = json!({
        "key": "contract_tier", "label": "Contract tier", "field_type": "choice",
        "options": ["Bronze", "Silver", "Gold"], "required": false, "end_user_visible": true,
        "directory_column": true})),
    responses((status = 201, description = "The field", body = FieldBody),
        (status = 403, description = "The token lacks directory.configure", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such entity", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The entity has a field with this key (archived ones count), or already 100 fields", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(entity): Path<String>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::DirectoryConfigure)?;
    let entity = entity_of(&entity)?;
    let object = body
        .as_object()
        .ok_or_else(|| ApiError::BadRequest("The body must be a JSON object.".into()))?;
    let mut fields = FieldParser::new(
        object,
        &[
            "key",
            "label",
            "field_type",
            "required",
            "options",
            "help_text",
            "position",
            "end_user_visible",
            "end_user_editable",
            "directory_column",
        ],
    );
    let key = fields.string("key", custom_fields::parse_key);
    let label = fields.string("label", custom_fields::parse_label);
    let field_type = fields.string("field_type", |raw| {
        FieldType::parse(raw).ok_or_else(|| format!("must be one of: {}", type_names()))
    });
    let raw_options = string_list(&mut fields, object, "options");
    let help_text = fields.string("help_text", custom_fields::parse_help_text);
    let position = fields.integer_in::<i32>("position", 0..=MAX_POSITION);
    let required = fields.boolean("required");
    let visible = fields.boolean("end_user_visible");
    let editable = fields.boolean("end_user_editable");
    let directory_column = fields.boolean("directory_column");
    required_missing(&mut fields, "key", key.is_some());
    required_missing(&mut fields, "label", label.is_some());
    required_missing(&mut fields, "field_type", field_type.is_some());
    let options_given_badly = fields.errors.iter().any(|e| e.field == "options");
    let options = field_type
        .filter(|_| !options_given_badly)
        .and_then(|field_type| {
            match custom_fields::parse_options(field_type, raw_options.as_deref().unwrap_or(&[])) {
                Ok(options) => Some(options),
                Err(message) => {
                    fields.errors.push(FieldError {
                        field: "options".into(),
                        message,
                    });
                    None
                }
            }
        });
    if let Err(message) = custom_fields::end_user_access(visible, editable) {
        fields.errors.push(FieldError {
            field: "end_user_editable".into(),
            message: message.into(),
        });
    }
    let (Some(key), Some(label), Some(field_type), Some(options)) =
        fields.finish((key, label, field_type, options))?
    else {
        return Err(ApiError::BadRequest("incomplete".into()));
    };
    let editable = editable.unwrap_or(false);
    let new = NewField {
        entity,
        key: &key,
        label: &label,
        field_type,
        required: required.unwrap_or(false),
        options: &options,
        help_text: help_text.as_deref().unwrap_or(""),
        position,
        end_user_visible: visible.unwrap_or(editable),
        end_user_editable: editable,
        directory_column: directory_column.unwrap_or(false),
    };
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let field = match store::custom_fields::create(&mut tx, &new).await? {
        CreateOutcome::Created(field) => field,
        CreateOutcome::TooMany => {
            return Err(ApiError::Refused(format!(
                "This entity already has {MAX_FIELDS_PER_ENTITY} fields (archived ones count). Reuse an archived field by restoring it."
            )));
        }
    };
    tx.commit().await?;
    let location = format!("/api/v1/fields/{}/{}", entity.as_str(), field.id);
    let mut response = with_etag(StatusCode::CREATED, field.into());
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The fields a PATCH may carry.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"version": 3, "label": "Support plan", "options": ["Bronze", "Silver", "Gold", "Platinum"]}))]
pub struct FieldPatch {
    /// The version read; or send `If-Match: "3"`. Stale: 409.
    version: Option<i64>,
    label: Option<String>,
    required: Option<bool>,
    /// The whole new list. Removing an option deletes no stored value.
    options: Option<Vec<String>>,
    help_text: Option<String>,
    position: Option<i32>,
    /// false also makes the field read-only for end users.
    end_user_visible: Option<bool>,
    /// true also makes the field visible to end users.
    end_user_editable: Option<bool>,
    directory_column: Option<bool>,
    /// true archives (values hidden, kept); false restores.
    archived: Option<bool>,
}

/// Parses a PATCH body: the change and the version in the body, if any.
fn parse_patch(
    object: &serde_json::Map<String, serde_json::Value>,
) -> Result<(FieldChange, Option<i64>), ApiError> {
    let mut fields = FieldParser::new(
        object,
        &[
            "version",
            "label",
            "required",
            "options",
            "help_text",
            "position",
            "end_user_visible",
            "end_user_editable",
            "directory_column",
            "archived",
            "key",
            "field_type",
        ],
    );
    for fixed in ["key", "field_type"] {
        if object.contains_key(fixed) {
            fields.errors.push(FieldError {
                field: fixed.into(),
                message: "cannot be changed after creation; define a new field instead".into(),
            });
        }
    }
    let version = fields.integer("version");
    let change = FieldChange {
        label: fields.string("label", |raw| Ok::<_, String>(raw.to_owned())),
        required: fields.boolean("required"),
        options: string_list(&mut fields, object, "options"),
        help_text: fields.string("help_text", |raw| Ok::<_, String>(raw.to_owned())),
        position: fields.integer_in::<i32>("position", 0..=MAX_POSITION),
        end_user_visible: fields.boolean("end_user_visible"),
        end_user_editable: fields.boolean("end_user_editable"),
        directory_column: fields.boolean("directory_column"),
        archived: fields.boolean("archived"),
    };
    fields.finish((change, version))
}

/// What `before` -> `after` leaves as it was, said to the person who changed it.
async fn warnings(
    tx: &mut store::TenantTx,
    before: &FieldDefinition,
    after: &FieldDefinition,
) -> Result<Vec<String>, ApiError> {
    let mut warnings = Vec::new();
    for option in before.removed_options(after) {
        let holding = store::custom_fields::records_with_option(tx, before, &option).await?;
        if holding > 0 {
            warnings.push(format!(
                "\"{option}\" is no longer an option, but nothing is deleted: {holding} record(s) keep it until their {} is changed.",
                after.label
            ));
        }
    }
    if after.archived && !before.archived {
        warnings.push(
            "The field is archived: its values are hidden and accept no changes, but nothing is deleted. Restore it (archived: false) to show them again."
                .into(),
        );
    }
    if after.required && !before.required {
        warnings.push(
            "Records saved before this change may have no value; they must get one the next time their custom values are changed."
                .into(),
        );
    }
    Ok(warnings)
}

/// Changes a field: label, required, options, help text, position, end-user access, directory
/// column, archived. Key and field type are fixed (422 when sent).
#[utoipa::path(patch, path = "/api/v1/fields/{entity}/{id}", tag = "directory", security(("api_token" = [])),
    params(("entity" = String, Path, description = "`user`, `organization` or `ticket`"),
        ("id" = Uuid, Path, description = "The field"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version read, such as \"3\"")),
    request_body = FieldPatch,
    responses((status = 200, description = "The field, with the new version and any warnings", body = FieldBody),
        (status = 403, description = "The token lacks directory.configure", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such field of this entity in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The version is stale: someone saved in between", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, or key/field_type sent", body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((entity, id)): Path<(String, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::DirectoryConfigure)?;
    let (entity, id) = (entity_of(&entity)?, id_of(&id)?);
    let serde_json::Value::Object(object) = body else {
        return Err(ApiError::BadRequest(
            "The body must be a JSON object.".into(),
        ));
    };
    let (change, body_version) = parse_patch(&object)?;
    let expected = if_match_version(&headers)?.or(body_version);
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let current = store::custom_fields::by_id(&mut tx, entity, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let stale = |current: i64| {
        ApiError::Stale(format!(
            "The field was changed by someone else; the current version is {current}. Read it again and reapply your change."
        ))
    };
    if expected.is_some_and(|expected| expected != current.version) {
        return Err(stale(current.version));
    }
    let next = current
        .changed(&change)
        .map_err(|errors| ApiError::Validation(field_errors(errors)))?;
    let warnings = warnings(&mut tx, &current, &next).await?;
    let saved = match store::custom_fields::update(&mut tx, &next, current.version).await? {
        UpdateOutcome::Updated(saved) => saved,
        UpdateOutcome::Stale { current } => return Err(stale(current)),
        UpdateOutcome::NotFound => return Err(ApiError::NotFound),
    };
    tx.commit().await?;
    let mut body = FieldBody::from(saved);
    body.warnings = warnings;
    Ok(with_etag(StatusCode::OK, body))
}
