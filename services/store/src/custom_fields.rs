//! Custom field definitions (`custom_fields`) of a tenant, per entity, and how many records
//! still hold a given choice option. The values themselves live in each record's `custom`
//! column and are written by the record's own module after
//! [`domain::custom_fields::apply_custom_values`].

use domain::custom_fields::{FieldDefinition, FieldEntity, FieldType, MAX_FIELDS_PER_ENTITY};
use serde_json::{Value, json};
use sqlx::FromRow;
use uuid::Uuid;

use crate::{Result, StoreError, TenantTx};

#[derive(FromRow)]
struct FieldRow {
    id: Uuid,
    entity: String,
    key: String,
    label: String,
    field_type: String,
    required: bool,
    options: Vec<String>,
    help_text: String,
    position: i32,
    end_user_visible: bool,
    end_user_editable: bool,
    directory_column: bool,
    archived: bool,
    version: i64,
}

const COLUMNS: &str = "id, entity, key, label, field_type, required, options, help_text, position,
    end_user_visible, end_user_editable, directory_column, archived_at is not null as archived, version";

impl TryFrom<FieldRow> for FieldDefinition {
    type Error = StoreError;

    fn try_from(row: FieldRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            entity: FieldEntity::parse(&row.entity)
                .ok_or_else(|| StoreError::corrupt("custom_fields.entity", &row.entity))?,
            key: row.key,
            label: row.label,
            field_type: FieldType::parse(&row.field_type)
                .ok_or_else(|| StoreError::corrupt("custom_fields.field_type", &row.field_type))?,
            required: row.required,
            options: row.options,
            help_text: row.help_text,
            position: row.position,
            end_user_visible: row.end_user_visible,
            end_user_editable: row.end_user_editable,
            directory_column: row.directory_column,
            archived: row.archived,
            version: row.version,
        })
    }
}

/// The entity's fields ordered by position, then label; archived ones only when asked.
pub async fn list(
    tx: &mut TenantTx,
    entity: FieldEntity,
    include_archived: bool,
) -> Result<Vec<FieldDefinition>> {
    let rows: Vec<FieldRow> = sqlx::query_as(&format!(
        "select {COLUMNS} from custom_fields
          where entity = $1 and ($2 or archived_at is null)
          order by position, lower(label), id"
    ))
    .bind(entity.as_str())
    .bind(include_archived)
    .fetch_all(tx.conn())
    .await?;
    rows.into_iter().map(FieldDefinition::try_from).collect()
}

/// The fields values are validated against and readers see.
pub async fn active(tx: &mut TenantTx, entity: FieldEntity) -> Result<Vec<FieldDefinition>> {
    list(tx, entity, false).await
}

/// One field of the entity, archived or not; `None` for ids of other entities or tenants.
pub async fn by_id(
    tx: &mut TenantTx,
    entity: FieldEntity,
    id: Uuid,
) -> Result<Option<FieldDefinition>> {
    let row: Option<FieldRow> = sqlx::query_as(&format!(
        "select {COLUMNS} from custom_fields where entity = $1 and id = $2"
    ))
    .bind(entity.as_str())
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    row.map(FieldDefinition::try_from).transpose()
}

/// A field to create; its parts already parsed by the domain's `parse_*` functions.
pub struct NewField<'a> {
    pub entity: FieldEntity,
    pub key: &'a str,
    pub label: &'a str,
    pub field_type: FieldType,
    pub required: bool,
    pub options: &'a [String],
    pub help_text: &'a str,
    /// `None` puts the field after the entity's last one.
    pub position: Option<i32>,
    pub end_user_visible: bool,
    pub end_user_editable: bool,
    pub directory_column: bool,
}

pub enum CreateOutcome {
    Created(FieldDefinition),
    /// The entity already has [`MAX_FIELDS_PER_ENTITY`] fields (archived ones count).
    TooMany,
}

/// Creates a field. A key the entity already has (archived fields included, since their
/// values are still stored) is [`StoreError::Conflict`] naming `key`.
pub async fn create(tx: &mut TenantTx, new: &NewField<'_>) -> Result<CreateOutcome> {
    let row: Option<FieldRow> = sqlx::query_as(&format!(
        "with existing as (
           select count(*) as total, coalesce(max(position), -1) + 1 as next_position
             from custom_fields where entity = $2)
         insert into custom_fields (tenant_id, id, entity, key, label, field_type, required, options,
                                    help_text, position, end_user_visible, end_user_editable, directory_column)
         select $1, $3, $2, $4, $5, $6, $7, $8, $9, coalesce($10, existing.next_position), $11, $12, $13
           from existing
          where existing.total < $14
         returning {COLUMNS}"
    ))
    .bind(tx.tenant_id().as_uuid())
    .bind(new.entity.as_str())
    .bind(Uuid::now_v7())
    .bind(new.key)
    .bind(new.label)
    .bind(new.field_type.as_str())
    .bind(new.required)
    .bind(new.options)
    .bind(new.help_text)
    .bind(new.position)
    .bind(new.end_user_visible)
    .bind(new.end_user_editable)
    .bind(new.directory_column)
    .bind(MAX_FIELDS_PER_ENTITY as i64)
    .fetch_optional(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    match row {
        Some(row) => Ok(CreateOutcome::Created(row.try_into()?)),
        None => Ok(CreateOutcome::TooMany),
    }
}

pub enum UpdateOutcome {
    Updated(FieldDefinition),
    /// Someone saved in between: the stored version is `current`.
    Stale {
        current: i64,
    },
    NotFound,
}

/// Stores the mutable parts of `definition` (label, required, options, help text, position,
/// end-user access, directory column, archived) if the stored version is still
/// `expected_version`. Key and type are never written: they are fixed at creation.
pub async fn update(
    tx: &mut TenantTx,
    definition: &FieldDefinition,
    expected_version: i64,
) -> Result<UpdateOutcome> {
    let row: Option<FieldRow> = sqlx::query_as(&format!(
        "update custom_fields
            set label = $3, required = $4, options = $5, help_text = $6, position = $7,
                end_user_visible = $8, end_user_editable = $9, directory_column = $10,
                archived_at = case when $11 then coalesce(archived_at, now()) end,
                version = version + 1, updated_at = now()
          where entity = $1 and id = $2 and version = $12
          returning {COLUMNS}"
    ))
    .bind(definition.entity.as_str())
    .bind(definition.id)
    .bind(&definition.label)
    .bind(definition.required)
    .bind(&definition.options)
    .bind(&definition.help_text)
    .bind(definition.position)
    .bind(definition.end_user_visible)
    .bind(definition.end_user_editable)
    .bind(definition.directory_column)
    .bind(definition.archived)
    .bind(expected_version)
    .fetch_optional(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    if let Some(row) = row {
        return Ok(UpdateOutcome::Updated(row.try_into()?));
    }
    let current: Option<i64> =
        sqlx::query_scalar("select version from custom_fields where entity = $1 and id = $2")
            .bind(definition.entity.as_str())
            .bind(definition.id)
            .fetch_optional(tx.conn())
            .await?;
    Ok(match current {
        Some(current) => UpdateOutcome::Stale { current },
        None => UpdateOutcome::NotFound,
    })
}

/// How many records of `definition`'s entity hold `option` in its field. Goes through the
/// directory's search functions, whose containment test can use the `custom` GIN index
/// (RLS would otherwise make it a scan of the tenant). Tickets have no table yet: 0.
pub async fn records_with_option(
    tx: &mut TenantTx,
    definition: &FieldDefinition,
    option: &str,
) -> Result<i64> {
    let value = match definition.field_type {
        FieldType::MultiChoice => json!([option]),
        _ => Value::String(option.to_owned()),
    };
    let filter = json!({ definition.key.clone(): value });
    let function = match definition.entity {
        FieldEntity::User => "directory.end_user_ids_with_custom",
        FieldEntity::Organization => "directory.organization_ids_with_custom",
        FieldEntity::Ticket => return Ok(0),
    };
    let count: i64 = sqlx::query_scalar(&format!("select count(*) from {function}($1)"))
        .bind(sqlx::types::Json(filter))
        .fetch_one(tx.conn())
        .await?;
    Ok(count)
}
