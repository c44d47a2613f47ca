//! `/api/v1/organizations`: the tenant's organizations (OTRS "customers") with their email
//! domains and members, and `/api/v1/users/{id}/organizations`, an end user's memberships.
//! Reads need `users.read`, writes `users.manage`; there is no delete (validity instead).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use domain::custom_fields::{FieldDefinition, FieldEntity, apply_custom_values, visible_values};
use domain::{CountryCode, Permission, PhoneNumber, Validity};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use store::TenantTx;
use store::organizations::{
    City, Comment, CustomerCode, EmailDomain, ListQuery, Member, MembershipChange, MembershipError,
    Organization, OrganizationChange, OrganizationName, Sort, Street, TicketSharing, Website, Zip,
};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::api::auth::ApiCaller;
use crate::api::json::{ApiJson, FieldParser, if_match_version};
use crate::api::page::{Page, SortedPage};
use crate::error::{ApiError, FieldError, Problem};

#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d40", "name": "Acme Corp", "customer_code": "ACME-001",
    "street": "1 Harbour Road", "zip": "10115", "city": "Berlin", "country": "DE",
    "phone": "+49 30 1234567", "website": "https://acme.example", "comment": "Key account",
    "validity": "valid", "custom": {"tier": "gold"}, "domains": ["acme.example"],
    "ticket_sharing": "primary_contacts", "auto_collaborate_primary_contacts": true,
    "account_manager_agent_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d30", "account_manager_team_id": null,
    "assign_to_account_manager": false, "alert_account_manager": true,
    "created_by": null, "updated_by": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d30",
    "created_at": "2026-11-01T08:00:00Z", "updated_at": "2026-11-22T09:30:00Z", "version": 3
}))]
pub struct OrganizationBody {
    pub id: Uuid,
    /// Unique in the workspace, ignoring case; 1 to 200 characters.
    pub name: String,
    /// Unique in the workspace, ignoring case; at most 100 characters.
    pub customer_code: Option<String>,
    pub street: Option<String>,
    pub zip: Option<String>,
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
    pub phone: Option<String>,
    /// An http:// or https:// URL.
    pub website: Option<String>,
    pub comment: Option<String>,
    /// `valid`, `invalid` or `invalid_temporarily`.
    pub validity: &'static str,
    /// Values of the organization custom fields, by key (archived fields hidden).
    #[schema(value_type = Object)]
    pub custom: Map<String, Value>,
    /// Email domains whose new end users join this organization, lower case.
    pub domains: Vec<String>,
    /// `none`, `primary_contacts` or `all_members`.
    pub ticket_sharing: &'static str,
    pub auto_collaborate_primary_contacts: bool,
    pub account_manager_agent_id: Option<Uuid>,
    /// A team of this workspace as account manager (see `/api/v1/teams`), or null.
    pub account_manager_team_id: Option<Uuid>,
    pub assign_to_account_manager: bool,
    pub alert_account_manager: bool,
    /// The agent who created it; null when an API token did.
    pub created_by: Option<Uuid>,
    /// The agent who changed it last; null when an API token did.
    pub updated_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Send it back (or as `If-Match`) to update; a stale one gets 409.
    pub version: i64,
}

impl OrganizationBody {
    fn new(organization: Organization, definitions: &[FieldDefinition]) -> Self {
        Self {
            id: organization.id,
            custom: visible_values(definitions, &organization.custom),
            name: organization.name,
            customer_code: organization.customer_code,
            street: organization.street,
            zip: organization.zip,
            city: organization.city,
            country: organization.country,
            phone: organization.phone,
            website: organization.website,
            comment: organization.comment,
            validity: organization.validity.as_str(),
            domains: organization.domains,
            ticket_sharing: organization.ticket_sharing.as_str(),
            auto_collaborate_primary_contacts: organization.auto_collaborate_primary_contacts,
            account_manager_agent_id: organization.account_manager_agent_id,
            account_manager_team_id: organization.account_manager_team_id,
            assign_to_account_manager: organization.assign_to_account_manager,
            alert_account_manager: organization.alert_account_manager,
            created_by: organization.created_by,
            updated_by: organization.updated_by,
            created_at: organization.created_at,
            updated_at: organization.updated_at,
            version: organization.version,
        }
    }
}

/// The fields a create (POST) or an update (PATCH) may carry; only `name` is required to
/// create. Nullable text fields clear with null or "".
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"name": "Acme Corp", "customer_code": "ACME-001", "country": "DE",
    "domains": ["acme.example"], "ticket_sharing": "primary_contacts", "custom": {"tier": "gold"}}))]
pub struct OrganizationInput {
    /// PATCH only: the version read; or send `If-Match: "3"`. Stale: 409.
    version: Option<i64>,
    /// 1 to 200 characters; 409 when another organization has it (ignoring case).
    name: Option<String>,
    /// At most 100 characters; 409 when another organization has it (ignoring case).
    customer_code: Option<String>,
    /// At most 200 characters.
    street: Option<String>,
    /// At most 20 characters.
    zip: Option<String>,
    /// At most 100 characters.
    city: Option<String>,
    /// ISO 3166-1 alpha-2 (any case; stored upper case).
    country: Option<String>,
    /// Digits, spaces and ()./- with an optional leading +; 3 to 40 characters.
    phone: Option<String>,
    /// http:// or https://, at most 500 characters.
    website: Option<String>,
    /// At most 2,000 characters.
    comment: Option<String>,
    /// `valid` (default), `invalid` or `invalid_temporarily`.
    validity: Option<String>,
    /// Custom values by key, checked against the organization field definitions; null clears one.
    #[schema(value_type = Option<Object>)]
    custom: Option<Map<String, Value>>,
    /// Replaces the whole domain list; 409 naming `domains` when another organization lists one.
    domains: Option<Vec<String>>,
    /// `none` (default), `primary_contacts` or `all_members`.
    ticket_sharing: Option<String>,
    auto_collaborate_primary_contacts: Option<bool>,
    /// An agent of this workspace, or null.
    account_manager_agent_id: Option<Uuid>,
    /// A team of this workspace, or null.
    account_manager_team_id: Option<Uuid>,
    assign_to_account_manager: Option<bool>,
    alert_account_manager: Option<bool>,
}

const FIELDS: &[&str] = &[
    "name",
    "customer_code",
    "street",
    "zip",
    "city",
    "country",
    "phone",
    "website",
    "comment",
    "validity",
    "custom",
    "domains",
    "ticket_sharing",
    "auto_collaborate_primary_contacts",
    "account_manager_agent_id",
    "account_manager_team_id",
    "assign_to_account_manager",
    "alert_account_manager",
];

fn field_error(field: &str, message: impl ToString) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.to_string(),
    }
}

/// A body parsed field by field: the change, the custom values asked for, and the version.
struct Parsed {
    change: OrganizationChange,
    /// `Some(None)` clears the account manager team.
    team: Option<Option<Uuid>>,
    custom: Option<Map<String, Value>>,
    version: Option<i64>,
}

fn parse_body(body: Value, patch: bool) -> Result<Parsed, ApiError> {
    let Value::Object(object) = body else {
        return Err(ApiError::BadRequest(
            "The body must be a JSON object.".into(),
        ));
    };
    let mut known = FIELDS.to_vec();
    if patch {
        known.push("version");
    }
    let mut fields = FieldParser::new(&object, &known);
    let version = if patch {
        fields.integer("version")
    } else {
        None
    };
    let name = fields.string("name", OrganizationName::parse);
    if !patch && !object.contains_key("name") {
        fields.errors.push(field_error("name", "is required"));
    }
    let mut change = OrganizationChange {
        name,
        customer_code: fields.nullable_string("customer_code", CustomerCode::parse),
        street: fields.nullable_string("street", Street::parse),
        zip: fields.nullable_string("zip", Zip::parse),
        city: fields.nullable_string("city", City::parse),
        country: fields.nullable_string("country", CountryCode::parse),
        phone: fields.nullable_string("phone", PhoneNumber::parse),
        website: fields.nullable_string("website", Website::parse),
        comment: fields.nullable_string("comment", Comment::parse),
        validity: fields.string("validity", Validity::parse),
        custom: None,
        ticket_sharing: fields.string("ticket_sharing", TicketSharing::parse),
        auto_collaborate_primary_contacts: fields.boolean("auto_collaborate_primary_contacts"),
        account_manager_agent_id: fields.nullable_string("account_manager_agent_id", |raw| {
            Uuid::parse_str(raw.trim()).map_err(|_| "must be the id of an agent of this workspace")
        }),
        assign_to_account_manager: fields.boolean("assign_to_account_manager"),
        alert_account_manager: fields.boolean("alert_account_manager"),
        domains: None,
    };
    let team = fields.nullable_string("account_manager_team_id", |raw| {
        Uuid::parse_str(raw.trim()).map_err(|_| "must be the id of a team of this workspace")
    });
    match object.get("domains") {
        None => {}
        Some(Value::Array(items)) => {
            let mut domains = Vec::new();
            for item in items {
                match item.as_str().map(EmailDomain::parse) {
                    Some(Ok(domain)) => domains.push(domain),
                    Some(Err(message)) => fields.errors.push(field_error("domains", message)),
                    None => fields
                        .errors
                        .push(field_error("domains", "must be a list of domain names")),
                }
            }
            domains.sort();
            domains.dedup();
            change.domains = Some(domains);
        }
        Some(_) => fields
            .errors
            .push(field_error("domains", "must be a list of domain names")),
    }
    let custom = match object.get("custom") {
        None => None,
        Some(Value::Object(values)) => Some(values.clone()),
        Some(_) => {
            fields.errors.push(field_error(
                "custom",
                "must be an object of values by field key",
            ));
            None
        }
    };
    // Without custom values a create still checks the required custom fields.
    let custom = custom.or((!patch).then(Map::new));
    fields.finish(Parsed {
        change,
        team,
        custom,
        version,
    })
}

/// The organization custom field definitions of the tenant.
async fn definitions(tx: &mut TenantTx) -> Result<Vec<FieldDefinition>, ApiError> {
    Ok(store::custom_fields::active(tx, FieldEntity::Organization).await?)
}

/// Merges the custom values asked for into `stored`, checked against the definitions.
fn merged_custom(
    definitions: &[FieldDefinition],
    stored: &Map<String, Value>,
    changes: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    apply_custom_values(definitions, stored, changes).map_err(|errors| {
        ApiError::Validation(
            errors
                .into_iter()
                .map(|e| field_error(&e.field, e.message))
                .collect(),
        )
    })
}

/// Refuses an account manager who is not an agent (or a team) of this tenant (422, not 404:
/// the id is a value in the body, not the resource addressed).
async fn check_account_manager(
    tx: &mut TenantTx,
    change: &OrganizationChange,
    team: Option<Option<Uuid>>,
) -> Result<(), ApiError> {
    if let Some(Some(team_id)) = team
        && store::teams::by_id(tx, team_id).await?.is_none()
    {
        return Err(ApiError::Validation(vec![field_error(
            "account_manager_team_id",
            "must be the id of a team of this workspace",
        )]));
    }
    if let Some(Some(agent_id)) = change.account_manager_agent_id
        && store::agents::by_id(tx, agent_id).await?.is_none()
    {
        return Err(ApiError::Validation(vec![field_error(
            "account_manager_agent_id",
            "must be the id of an agent of this workspace",
        )]));
    }
    Ok(())
}

fn with_etag(status: StatusCode, body: OrganizationBody) -> Response {
    let version = body.version;
    let location = format!("/api/v1/organizations/{}", body.id);
    let mut response = (status, Json(body)).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    if status == StatusCode::CREATED
        && let Ok(location) = HeaderValue::from_str(&location)
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// The documented query parameters of the organization list; `custom.<key>=value` filters
/// come on top.
#[derive(Deserialize, IntoParams)]
#[allow(dead_code)]
pub struct ListParams {
    /// How many items (1 to 200, default 50).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page (of the same sort).
    cursor: Option<String>,
    /// `name` (default) or `created`; prefix `-` to reverse.
    sort: Option<String>,
    /// Case-insensitive substring of name, customer code, phone or city; `*` is a wildcard.
    q: Option<String>,
    /// `valid`, `invalid` or `invalid_temporarily`.
    validity: Option<String>,
}

/// The organizations of the workspace, one keyset page at a time. Besides the parameters
/// below, `custom.<key>=value` keeps organizations whose custom field `key` equals the value
/// (a multi-choice field: contains it); several filters all apply.
#[utoipa::path(get, path = "/api/v1/organizations", tag = "directory", security(("api_token" = [])),
    params(ListParams),
    responses((status = 200, description = "One page of organizations", body = inline(Page<OrganizationBody>),
            example = json!({"data": [{"id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d40", "name": "Acme Corp", "customer_code": "ACME-001",
                "street": null, "zip": null, "city": "Berlin", "country": "DE", "phone": null, "website": null, "comment": null,
                "validity": "valid", "custom": {}, "domains": ["acme.example"], "ticket_sharing": "none",
                "auto_collaborate_primary_contacts": false, "account_manager_agent_id": null, "account_manager_team_id": null,
                "assign_to_account_manager": false, "alert_account_manager": false, "created_by": null, "updated_by": null,
                "created_at": "2026-11-01T08:00:00Z", "updated_at": "2026-11-01T08:00:00Z", "version": 1}],
                "next_cursor": "WyJhY21lIGNvcnAiLCIwMTkzNWM1ZS03YTEwLTdjYzItOGQxZS0yZjBhOWI2YzFkNDAiXQ"})),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad parameter (limit, cursor, sort, validity, an unknown custom field)", body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Page<OrganizationBody>>, ApiError> {
    caller.require(Permission::UsersRead)?;
    let params: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|_| ApiError::BadRequest("The query string is malformed.".into()))?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let definitions = definitions(&mut tx).await?;
    let query = list_query(&params, &definitions)?;
    let page = store::organizations::list(&mut tx, &query).await?;
    tx.commit().await?;
    Ok(Json(Page {
        data: page
            .items
            .into_iter()
            .map(|o| OrganizationBody::new(o, &definitions))
            .collect(),
        next_cursor: page.next.map(|after| after.encode()),
    }))
}

const SORTS: &[(&str, Sort)] = &[("name", Sort::Name), ("created", Sort::Created)];

/// The list query the parameters ask for, or every parameter in error.
pub(crate) fn list_query(
    params: &[(String, String)],
    definitions: &[FieldDefinition],
) -> Result<ListQuery, ApiError> {
    let mut errors = Vec::new();
    let one = |name: &str| {
        params
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let limit = match one("limit").filter(|v| !v.is_empty()) {
        None => None,
        Some(raw) => match raw.parse::<u32>() {
            Ok(limit) => Some(limit),
            Err(_) => {
                errors.push(field_error("limit", "must be between 1 and 200"));
                None
            }
        },
    };
    let sorted = match SortedPage::parse(limit, one("cursor"), one("sort"), SORTS) {
        Ok(sorted) => Some(sorted),
        Err(ApiError::Validation(found)) => {
            errors.extend(found);
            None
        }
        Err(other) => return Err(other),
    };
    if let Some(sorted) = &sorted
        && let Some(after) = &sorted.after
        && !sorted.sort.fits(after)
    {
        errors.push(field_error(
            "cursor",
            "belongs to another sort; start again without a cursor",
        ));
    }
    let search = one("q")
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(store::search::like_pattern);
    let validity = match one("validity").filter(|v| !v.is_empty()) {
        None => None,
        Some(raw) => match Validity::parse(raw) {
            Ok(validity) => Some(validity),
            Err(error) => {
                errors.push(field_error("validity", error));
                None
            }
        },
    };
    let mut custom = Map::new();
    for (name, raw) in params {
        if let Some(key) = name.strip_prefix("custom.") {
            match custom_filter(definitions, key, raw) {
                Ok(value) => {
                    custom.insert(key.to_owned(), value);
                }
                Err(message) => errors.push(field_error(name, message)),
            }
        } else if !["limit", "cursor", "sort", "q", "validity"].contains(&name.as_str()) {
            errors.push(field_error(name, "is not a known parameter"));
        }
    }
    match sorted {
        Some(sorted) if errors.is_empty() => Ok(ListQuery {
            search,
            validity,
            custom: (!custom.is_empty()).then_some(custom),
            sort: sorted.sort,
            descending: sorted.descending,
            after: sorted.after,
            limit: sorted.limit,
        }),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// The stored value a `custom.<key>=raw` filter looks for, typed as the field stores it.
fn custom_filter(definitions: &[FieldDefinition], key: &str, raw: &str) -> Result<Value, String> {
    let definition = definitions
        .iter()
        .find(|d| d.key == key && !d.archived)
        .ok_or("is not a custom field of organizations")?;
    match domain::custom_fields::parse_text_value(definition, raw)? {
        Value::Null => Err("must not be empty".into()),
        value => Ok(value),
    }
}

/// One organization; the ETag header carries its version.
#[utoipa::path(get, path = "/api/v1/organizations/{id}", tag = "directory", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The organization")),
    responses((status = 200, description = "The organization", body = OrganizationBody),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let organization = store::organizations::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let definitions = definitions(&mut tx).await?;
    tx.commit().await?;
    Ok(with_etag(
        StatusCode::OK,
        OrganizationBody::new(organization, &definitions),
    ))
}

/// Creates an organization. Only `name` is required; an agent id in `created_by` is kept only
/// for changes made in the agent pages (API tokens leave it null).
#[utoipa::path(post, path = "/api/v1/organizations", tag = "directory", security(("api_token" = [])),
    request_body = OrganizationInput,
    responses((status = 201, description = "The new organization; Location names it", body = OrganizationBody),
        (status = 403, description = "The token lacks users.manage", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name, customer code or a domain is taken (`name`, `customer_code`, `domains`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named in `errors`", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::UsersManage)?;
    let Parsed {
        mut change,
        custom,
        team,
        ..
    } = parse_body(body, false)?;
    let Some(name) = change.name.take() else {
        return Err(ApiError::Validation(vec![field_error(
            "name",
            "is required",
        )]));
    };
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let definitions = definitions(&mut tx).await?;
    if let Some(custom) = &custom {
        change.custom = Some(merged_custom(&definitions, &Map::new(), custom)?);
    }
    check_account_manager(&mut tx, &change, team).await?;
    let mut organization = store::organizations::create(&mut tx, &name, &change, None).await?;
    if let Some(team) = team {
        store::organizations::set_account_manager_team(&mut tx, organization.id, team).await?;
        organization.account_manager_team_id = team;
    }
    tx.commit().await?;
    Ok(with_etag(
        StatusCode::CREATED,
        OrganizationBody::new(organization, &definitions),
    ))
}

/// Changes some fields of an organization; nothing is saved unless every field is valid.
/// `domains` replaces the whole list. Make an organization `invalid` instead of deleting it.
#[utoipa::path(patch, path = "/api/v1/organizations/{id}", tag = "directory", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The organization"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version read, such as \"3\"")),
    request_body(content = OrganizationInput, example = json!({"version": 3, "validity": "invalid", "domains": ["acme.example", "acme-corp.example"]})),
    responses((status = 200, description = "The saved organization, with the new version", body = OrganizationBody),
        (status = 403, description = "The token lacks users.manage", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Stale version, or the name, customer code or a domain is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named in `errors`", body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::UsersManage)?;
    let Parsed {
        mut change,
        custom,
        version,
        team,
    } = parse_body(body, true)?;
    let expected = if_match_version(&headers)?.or(version);
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let current = store::organizations::for_update(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if let Some(expected) = expected
        && expected != current.version
    {
        return Err(ApiError::Stale(format!(
            "The organization was changed by someone else; the current version is {}. Read it again and reapply your change.",
            current.version
        )));
    }
    let definitions = definitions(&mut tx).await?;
    if let Some(custom) = &custom {
        change.custom = Some(merged_custom(&definitions, &current.custom, custom)?);
    }
    check_account_manager(&mut tx, &change, team).await?;
    store::organizations::update(&mut tx, id, &change, None).await?;
    if let Some(team) = team {
        store::organizations::set_account_manager_team(&mut tx, id, team).await?;
    }
    let saved = store::organizations::by_id(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(with_etag(
        StatusCode::OK,
        OrganizationBody::new(saved, &definitions),
    ))
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"user_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d50", "name": "Robin Baker",
    "email": "robin@acme.example", "primary": true, "primary_contact": true, "since": "2026-11-02T10:00:00Z"}))]
pub struct MemberBody {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    /// Whether this is the user's primary organization.
    pub primary: bool,
    pub primary_contact: bool,
    /// When the user joined the organization.
    pub since: DateTime<Utc>,
}

impl From<Member> for MemberBody {
    fn from(member: Member) -> Self {
        Self {
            user_id: member.user_id,
            name: member.name,
            email: member.email,
            primary: member.primary,
            primary_contact: member.primary_contact,
            since: member.since,
        }
    }
}

#[derive(Deserialize, IntoParams)]
pub struct MembersQuery {
    /// How many items (1 to 200, default 50).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The organization's members by name, one keyset page at a time.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/members", tag = "directory", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The organization"), MembersQuery),
    responses((status = 200, description = "One page of members", body = inline(Page<MemberBody>)),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn members(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
    axum::extract::Query(query): axum::extract::Query<MembersQuery>,
) -> Result<Json<Page<MemberBody>>, ApiError> {
    caller.require(Permission::UsersRead)?;
    let sorted = SortedPage::parse(query.limit, query.cursor.as_deref(), None, &[("name", ())])?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    if store::organizations::by_id(&mut tx, id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let page =
        store::organizations::members(&mut tx, id, sorted.after.as_ref(), sorted.limit).await?;
    tx.commit().await?;
    Ok(Json(Page {
        data: page.items.into_iter().map(MemberBody::from).collect(),
        next_cursor: page.next.map(|after| after.encode()),
    }))
}

/// The body of a membership write.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(example = json!({"primary_contact": true, "primary": true}))]
pub struct MembershipInput {
    /// Default for a new membership: false; otherwise unchanged.
    primary_contact: Option<bool>,
    /// true makes this the user's primary organization (the previous one stays a membership).
    /// false on the primary membership hands primary to the user's oldest other membership
    /// (a user's only membership stays primary). Default for a new membership: primary when
    /// the user has no primary organization yet.
    primary: Option<bool>,
}

/// Adds the end user to the organization, or changes their membership.
#[utoipa::path(put, path = "/api/v1/organizations/{id}/members/{user_id}", tag = "directory", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The organization"), ("user_id" = Uuid, Path, description = "The end user")),
    request_body = MembershipInput,
    responses((status = 201, description = "The user is now a member", body = MemberBody),
        (status = 200, description = "The membership, changed", body = MemberBody),
        (status = 403, description = "The token lacks users.manage", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization or end user in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json")))]
pub async fn put_member(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(Permission::UsersManage)?;
    let Value::Object(object) = body else {
        return Err(ApiError::BadRequest(
            "The body must be a JSON object.".into(),
        ));
    };
    let mut fields = FieldParser::new(&object, &["primary_contact", "primary"]);
    let change = MembershipChange {
        primary_contact: fields.boolean("primary_contact"),
        primary: fields.boolean("primary"),
    };
    let change = fields.finish(change)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    let (member, created) = store::organizations::put_member(&mut tx, id, user_id, change)
        .await
        .map_err(|error| match error {
            MembershipError::NotFound => ApiError::NotFound,
            MembershipError::Store(error) => error.into(),
        })?;
    tx.commit().await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(MemberBody::from(member))).into_response())
}

/// Ends the end user's membership. When it was their primary organization, their oldest
/// remaining membership becomes primary.
#[utoipa::path(delete, path = "/api/v1/organizations/{id}/members/{user_id}", tag = "directory", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The organization"), ("user_id" = Uuid, Path, description = "The end user")),
    responses((status = 204, description = "The user is no longer a member"),
        (status = 403, description = "The token lacks users.manage", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such membership in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn remove_member(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, user_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    caller.require(Permission::UsersManage)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    if !store::organizations::remove_member(&mut tx, id, user_id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"organization_id": "01935c5e-7a10-7cc2-8d1e-2f0a9b6c1d40", "name": "Acme Corp",
    "customer_code": "ACME-001", "primary": true, "primary_contact": false, "since": "2026-11-02T10:00:00Z"}))]
pub struct UserOrganizationBody {
    pub organization_id: Uuid,
    pub name: String,
    pub customer_code: Option<String>,
    /// Whether this is the user's primary organization.
    pub primary: bool,
    pub primary_contact: bool,
    pub since: DateTime<Utc>,
}

/// The organizations an end user belongs to: the primary one first, then by name. One page
/// always holds them all (`next_cursor` is null).
#[utoipa::path(get, path = "/api/v1/users/{id}/organizations", tag = "directory", security(("api_token" = [])),
    params(("id" = Uuid, Path, description = "The end user")),
    responses((status = 200, description = "The user's memberships", body = inline(Page<UserOrganizationBody>)),
        (status = 403, description = "The token lacks users.read", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such end user in this tenant", body = Problem, content_type = "application/problem+json")))]
pub async fn user_organizations(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<Page<UserOrganizationBody>>, ApiError> {
    caller.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(caller.tenant.id).await?;
    if store::end_users::by_id(&mut tx, id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let memberships = store::organizations::memberships(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Json(Page {
        data: memberships
            .into_iter()
            .map(|m| UserOrganizationBody {
                organization_id: m.organization_id,
                name: m.name,
                customer_code: m.customer_code,
                primary: m.primary,
                primary_contact: m.primary_contact,
                since: m.since,
            })
            .collect(),
        next_cursor: None,
    }))
}
