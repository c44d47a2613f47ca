//! `/api/v1/ticket-field-mappings`: which field of the requester or their organization fills
//! which ticket custom field, when a ticket is created and when its requester changes (OTRS
//! DynamicFieldFromCustomerUser). Everything needs `helpdesk.configure`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use domain::Permission;
use domain::custom_fields::FieldEntity;
use serde::Serialize;
use serde_json::Value;
use store::TenantTx;
use store::field_mappings::FieldMapping;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::departments::{field_error, object_of, require_field, versioned};
use crate::api::json::{ApiJson, FieldParser};
use crate::api::page::{Page, PageQuery};
use crate::error::{ApiError, Problem};
use crate::ticket_rules::{ORGANIZATION_SOURCE_FIELDS, USER_SOURCE_FIELDS};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1e40", "source_entity": "organization",
    "source_field": "custom.contract_level", "target_key": "contract_level",
    "created_at": "2026-11-22T09:00:00Z", "updated_at": "2026-11-22T09:00:00Z"}))]
pub struct FieldMappingBody {
    pub id: Uuid,
    /// `user` (the requester) or `organization` (their primary organization).
    pub source_entity: String,
    /// A built-in field (user: name, first_name, last_name, title, email, login, phone,
    /// mobile, street, zip, city, country, comment, validity; organization: name,
    /// customer_code, street, zip, city, country, phone, website, comment, validity) or
    /// `custom.<key>`.
    pub source_field: String,
    /// The ticket custom field filled; one mapping per ticket field.
    pub target_key: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<FieldMapping> for FieldMappingBody {
    fn from(m: FieldMapping) -> Self {
        Self {
            id: m.id,
            source_entity: m.source_entity,
            source_field: m.source_field,
            target_key: m.target_key,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// The body of a create.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"source_entity": "user", "source_field": "city", "target_key": "customer_city"}))]
pub struct FieldMappingInput {
    source_entity: String,
    source_field: String,
    target_key: String,
}

/// Creates a mapping from a JSON body (the API's and the admin page's one path); every
/// field is checked against this workspace's fields.
pub(crate) async fn create_in(tx: &mut TenantTx, body: Value) -> Result<FieldMapping, ApiError> {
    let object = object_of(body)?;
    let mut fields = FieldParser::new(&object, &["source_entity", "source_field", "target_key"]);
    for field in ["source_entity", "source_field", "target_key"] {
        require_field(&mut fields, &object, field);
    }
    let entity = fields.string("source_entity", |raw| match raw.trim() {
        "user" => Ok(FieldEntity::User),
        "organization" => Ok(FieldEntity::Organization),
        _ => Err("must be user or organization"),
    });
    let source = fields.string("source_field", |raw| Ok::<_, &str>(raw.trim().to_owned()));
    let target = fields.string("target_key", |raw| Ok::<_, &str>(raw.trim().to_owned()));
    let (Some(entity), Some(source), Some(target)) = fields.finish((entity, source, target))?
    else {
        return Err(ApiError::BadRequest("The body is incomplete.".into()));
    };
    let mut errors = Vec::new();
    let source_ok = match source.strip_prefix("custom.") {
        Some(key) => store::custom_fields::active(tx, entity)
            .await?
            .iter()
            .any(|f| f.key == key),
        None => match entity {
            FieldEntity::User => USER_SOURCE_FIELDS.contains(&source.as_str()),
            _ => ORGANIZATION_SOURCE_FIELDS.contains(&source.as_str()),
        },
    };
    if !source_ok {
        errors.push(field_error(
            "source_field",
            format!(
                "must be a built-in field or custom.<key> of a custom field of {}",
                entity.label().to_lowercase()
            ),
        ));
    }
    if !store::custom_fields::active(tx, FieldEntity::Ticket)
        .await?
        .iter()
        .any(|f| f.key == target)
    {
        errors.push(field_error(
            "target_key",
            "must be the key of a ticket custom field of this workspace",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(store::field_mappings::create(tx, entity.as_str(), &source, &target).await?)
}

/// The workspace's field mappings.
#[utoipa::path(get, path = "/api/v1/ticket-field-mappings", tag = "tickets", security(("api_token" = [])),
    params(PageQuery),
    responses((status = 200, description = "One page of field mappings", body = inline(Page<FieldMappingBody>)),
        (status = 403, description = "The token lacks helpdesk.configure", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<FieldMappingBody>>, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let mut mappings = store::field_mappings::list(&mut tx).await?;
    tx.commit().await?;
    mappings.sort_by_key(|m| m.id);
    Ok(Json(page.page(
        mappings,
        |m| m.id,
        FieldMappingBody::from,
    )?))
}

/// Adds a field mapping.
#[utoipa::path(post, path = "/api/v1/ticket-field-mappings", tag = "tickets", security(("api_token" = [])),
    request_body = FieldMappingInput,
    responses((status = 201, description = "The new field mapping", body = FieldMappingBody),
        (status = 409, description = "The ticket field already has a mapping", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let mapping = create_in(&mut tx, body).await?;
    tx.commit().await?;
    let location = format!("/api/v1/ticket-field-mappings/{}", mapping.id);
    Ok(versioned(
        StatusCode::CREATED,
        location,
        1,
        FieldMappingBody::from(mapping),
    ))
}

/// Deletes a field mapping (tickets keep the values it filled).
#[utoipa::path(delete, path = "/api/v1/ticket-field-mappings/{id}", tag = "tickets", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The field mapping")),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such field mapping in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::HelpdeskConfigure)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    if !store::field_mappings::delete(&mut tx, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
