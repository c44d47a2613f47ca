//! The end user as the directory knows them (OTRS customer user): the whole customer record,
//! its primary organization, the directory list with search, filters and keyset pages, and
//! erasure. Accounts and sign-in stay in [`crate::end_users`]; both read the same rows.

use chrono::{DateTime, SecondsFormat, Utc};
use domain::Validity;
use serde_json::{Map, Value};
use sqlx::{FromRow, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::end_users::EndUserStatus;
use crate::keyset::{After, Page};
use crate::{Result, StoreError, TenantTx};

/// Everything about a person that an agent, the API or an import may set. `login` is `None`
/// when the person signs in with their email (the login is derived from it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    pub title: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub login: Option<String>,
    pub phone: Option<String>,
    pub fax: Option<String>,
    pub mobile: Option<String>,
    pub street: Option<String>,
    pub zip: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub comment: Option<String>,
    pub validity: Option<Validity>,
    pub custom: Map<String, Value>,
}

/// The profile fields a person can set, by the names the API, forms and CSV files use.
pub const PROFILE_FIELDS: [&str; 14] = [
    "title",
    "first_name",
    "last_name",
    "email",
    "login",
    "phone",
    "fax",
    "mobile",
    "street",
    "zip",
    "city",
    "country",
    "comment",
    "validity",
];

impl Profile {
    /// Sets one field of [`PROFILE_FIELDS`] from the text a person typed: parsed into the
    /// field's type, trimmed, empty text clearing an optional field. The error says what is
    /// wrong with the value (the caller names the field).
    pub fn set_text(&mut self, field: &str, raw: &str) -> std::result::Result<(), String> {
        use domain::{
            CountryCode, EmailAddress, PhoneNumber, Username, bounded_text, required_text,
        };
        let optional = |max: usize| -> std::result::Result<Option<String>, String> {
            let text = bounded_text(raw, max)?;
            Ok((!text.is_empty()).then_some(text))
        };
        let phone = || -> std::result::Result<Option<String>, String> {
            if raw.trim().is_empty() {
                return Ok(None);
            }
            PhoneNumber::parse(raw)
                .map(|p| Some(p.as_str().to_owned()))
                .map_err(|e| e.to_string())
        };
        match field {
            "title" => self.title = optional(50)?,
            "first_name" => self.first_name = required_text(raw, 100)?,
            "last_name" => self.last_name = required_text(raw, 100)?,
            "email" => {
                self.email = EmailAddress::parse(raw)
                    .map_err(|e| e.to_string())?
                    .as_str()
                    .to_owned();
            }
            "login" => {
                let login = raw.trim();
                self.login = if login.is_empty() || login.eq_ignore_ascii_case(&self.email) {
                    None
                } else {
                    Some(
                        Username::parse(login)
                            .map_err(|e| e.to_string())?
                            .as_str()
                            .to_owned(),
                    )
                };
            }
            "phone" => self.phone = phone()?,
            "fax" => self.fax = phone()?,
            "mobile" => self.mobile = phone()?,
            "street" => self.street = optional(200)?,
            "zip" => self.zip = optional(20)?,
            "city" => self.city = optional(100)?,
            "country" => {
                self.country = if raw.trim().is_empty() {
                    None
                } else {
                    Some(
                        CountryCode::parse(raw)
                            .map_err(|e| e.to_string())?
                            .as_str()
                            .to_owned(),
                    )
                };
            }
            "comment" => self.comment = optional(2000)?,
            "validity" => {
                self.validity = Some(Validity::parse(raw).map_err(|e| e.to_string())?);
            }
            _ => return Err("is not a known field".into()),
        }
        Ok(())
    }

    /// The text form of one field of [`PROFILE_FIELDS`], as a form or a CSV cell shows it.
    pub fn text(&self, field: &str) -> String {
        let value = match field {
            "title" => self.title.as_deref(),
            "first_name" => Some(self.first_name.as_str()),
            "last_name" => Some(self.last_name.as_str()),
            "email" => Some(self.email.as_str()),
            "login" => self.login.as_deref(),
            "phone" => self.phone.as_deref(),
            "fax" => self.fax.as_deref(),
            "mobile" => self.mobile.as_deref(),
            "street" => self.street.as_deref(),
            "zip" => self.zip.as_deref(),
            "city" => self.city.as_deref(),
            "country" => self.country.as_deref(),
            "comment" => self.comment.as_deref(),
            "validity" => Some(self.validity.unwrap_or(Validity::Valid).as_str()),
            _ => None,
        };
        value.unwrap_or_default().to_owned()
    }

    /// Missing required fields of a new record, by name.
    pub fn missing_required(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.first_name.trim().is_empty() {
            missing.push("first_name");
        }
        if self.last_name.trim().is_empty() {
            missing.push("last_name");
        }
        if self.email.trim().is_empty() {
            missing.push("email");
        }
        missing
    }
}

/// A directory entry as read back.
#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: Uuid,
    pub profile: Profile,
    pub name: String,
    pub status: EndUserStatus,
    pub validity: Validity,
    pub primary_organization: Option<OrganizationRef>,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub erased_at: Option<DateTime<Utc>>,
    pub erased_by: Option<Uuid>,
    pub erased_by_token: Option<Uuid>,
    /// Fields a sign-in provider keeps (field name, such as `phone` or `custom.cost_centre`,
    /// to the provider's name): shown read-only, refused in updates.
    pub directory_fields: std::collections::BTreeMap<String, String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The lower-case sort keys as PostgreSQL computed them (cursor positions).
    name_key: String,
    email_key: String,
    organization_key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrganizationRef {
    pub id: Uuid,
    pub name: String,
}

/// Who makes a change: an agent (recorded as created/changed by) or an API token.
#[derive(Clone, Copy, Debug)]
pub enum Actor {
    Agent(Uuid),
    ApiToken(Uuid),
    /// The person themselves (registration) or the system (guest tickets, imports by CLI).
    System,
}

impl Actor {
    fn agent(self) -> Option<Uuid> {
        match self {
            Self::Agent(id) => Some(id),
            _ => None,
        }
    }
}

#[derive(FromRow)]
struct RecordRow {
    id: Uuid,
    title: Option<String>,
    first_name: String,
    last_name: String,
    name: String,
    email: String,
    login: String,
    phone: Option<String>,
    fax: Option<String>,
    mobile: Option<String>,
    street: Option<String>,
    zip: Option<String>,
    city: Option<String>,
    country: Option<String>,
    comment: Option<String>,
    validity: String,
    custom: sqlx::types::Json<Map<String, Value>>,
    status: String,
    organization_id: Option<Uuid>,
    organization_name: Option<String>,
    created_by: Option<Uuid>,
    updated_by: Option<Uuid>,
    erased_at: Option<DateTime<Utc>>,
    erased_by: Option<Uuid>,
    erased_by_token: Option<Uuid>,
    directory_fields: sqlx::types::Json<std::collections::BTreeMap<String, String>>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    name_key: String,
    email_key: String,
    organization_key: Option<String>,
}

const COLUMNS: &str = "u.id, u.title, u.first_name, u.last_name, u.name, u.email, u.login, u.phone,
       u.fax, u.mobile, u.street, u.zip, u.city, u.country, u.comment, u.validity, u.custom,
       u.status, po.id as organization_id, po.name as organization_name, u.created_by,
       u.updated_by, u.erased_at, u.erased_by, u.erased_by_token, u.directory_fields, u.version, u.created_at,
       u.updated_at, u.name_key, u.email_key, po.name_key as organization_key";

/// The primary organization of user `u`, as `po`. The lateral lookup is one index probe per
/// user shown, whatever the planner guesses about the tenant's size: its `limit 1` keeps
/// PostgreSQL from flattening it into a join that reads every organization of the tenant.
macro_rules! primary_organization {
    () => {
        " left join lateral (
    select o.id, o.name, o.name_key from organization_members pm
      join organizations o on o.id = pm.organization_id
     where pm.end_user_id = u.id and pm.is_primary
     limit 1
  ) po on true"
    };
}

/// The user with their primary organization joined.
const FROM: &str = concat!("from end_users u", primary_organization!());

impl TryFrom<RecordRow> for UserRecord {
    type Error = StoreError;

    fn try_from(row: RecordRow) -> Result<Self> {
        let validity = Validity::parse(&row.validity)
            .map_err(|_| StoreError::corrupt("end_users.validity", &row.validity))?;
        let status = EndUserStatus::parse(&row.status)
            .ok_or_else(|| StoreError::corrupt("end_users.status", &row.status))?;
        let login = (row.login != row.email).then_some(row.login);
        Ok(Self {
            id: row.id,
            profile: Profile {
                title: row.title,
                first_name: row.first_name,
                last_name: row.last_name,
                email: row.email,
                login,
                phone: row.phone,
                fax: row.fax,
                mobile: row.mobile,
                street: row.street,
                zip: row.zip,
                city: row.city,
                country: row.country,
                comment: row.comment,
                validity: Some(validity),
                custom: row.custom.0,
            },
            name: row.name,
            status,
            validity,
            primary_organization: row
                .organization_id
                .zip(row.organization_name)
                .map(|(id, name)| OrganizationRef { id, name }),
            created_by: row.created_by,
            updated_by: row.updated_by,
            erased_at: row.erased_at,
            erased_by: row.erased_by,
            erased_by_token: row.erased_by_token,
            directory_fields: row.directory_fields.0,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
            name_key: row.name_key,
            email_key: row.email_key,
            organization_key: row.organization_key,
        })
    }
}

impl UserRecord {
    /// The login shown to people: the chosen username, or the email it derives from.
    pub fn login(&self) -> &str {
        self.profile.login.as_deref().unwrap_or(&self.profile.email)
    }
}

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<UserRecord>> {
    let row: Option<RecordRow> =
        sqlx::query_as(&format!("select {COLUMNS} {FROM} where u.id = $1"))
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    row.map(UserRecord::try_from).transpose()
}

pub async fn by_email(tx: &mut TenantTx, email: &str) -> Result<Option<UserRecord>> {
    let row: Option<RecordRow> = sqlx::query_as(&format!(
        "select {COLUMNS} {FROM} where u.email_key = lower($1)"
    ))
    .bind(email.trim())
    .fetch_optional(tx.conn())
    .await?;
    row.map(UserRecord::try_from).transpose()
}

/// Inserts an end user and, when an organization lists the domain of their address, makes
/// them a member with that organization as their primary one. Every way a person comes into
/// the directory (agent, API, import, registration, guest ticket, provider sign-in) goes
/// through here, so the domain rule holds on all of them. Conflicts name `email` or `login`.
pub(crate) async fn insert(
    tx: &mut TenantTx,
    profile: &Profile,
    status: EndUserStatus,
    password_hash: Option<&str>,
    actor: Actor,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "with new_user as (
           insert into end_users (tenant_id, id, title, first_name, last_name, email, login, phone,
                  fax, mobile, street, zip, city, country, comment, validity, custom, status,
                  password_hash, created_by, updated_by)
           values ($1, $2, $3, $4, $5, $6, coalesce($7, $6), $8, $9, $10, $11, $12, $13, $14, $15,
                  $16, $17, $18, $19, $20, $20)
           returning tenant_id, id, email
         )
         insert into organization_members (tenant_id, end_user_id, organization_id, is_primary)
         select n.tenant_id, n.id, d.organization_id, true
           from new_user n
           join organization_domains d on d.domain = lower(substring(n.email from '@([^@]+)$'))",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(id)
    .bind(&profile.title)
    .bind(profile.first_name.trim())
    .bind(profile.last_name.trim())
    .bind(profile.email.trim())
    .bind(&profile.login)
    .bind(&profile.phone)
    .bind(&profile.fax)
    .bind(&profile.mobile)
    .bind(&profile.street)
    .bind(&profile.zip)
    .bind(&profile.city)
    .bind(&profile.country)
    .bind(&profile.comment)
    .bind(profile.validity.unwrap_or(Validity::Valid).as_str())
    .bind(sqlx::types::Json(&profile.custom))
    .bind(status.as_str())
    .bind(password_hash)
    .bind(actor.agent())
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?;
    Ok(id)
}

/// Creates a directory entry without an account (a guest until invited or registered).
pub async fn create(tx: &mut TenantTx, profile: &Profile, actor: Actor) -> Result<UserRecord> {
    let id = insert(tx, profile, EndUserStatus::Guest, None, actor).await?;
    by_id(tx, id)
        .await?
        .ok_or_else(|| StoreError::corrupt("end_users", "the new end user vanished"))
}

/// What [`update`] did.
#[derive(Debug)]
pub enum Updated {
    Done(Box<UserRecord>),
    /// Someone changed the record since `version`; nothing was written.
    Stale,
    NotFound,
}

/// Replaces the record's profile if it is still at `version`. Erased records stay erased.
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    version: i64,
    profile: &Profile,
    actor: Actor,
) -> Result<Updated> {
    let updated = sqlx::query(
        "update end_users set title = $3, first_name = $4, last_name = $5, email = $6,
                login = coalesce($7, $6), phone = $8, fax = $9, mobile = $10, street = $11,
                zip = $12, city = $13, country = $14, comment = $15, validity = $16, custom = $17,
                updated_by = $18, version = version + 1, updated_at = now()
          where id = $1 and version = $2 and erased_at is null",
    )
    .bind(id)
    .bind(version)
    .bind(&profile.title)
    .bind(profile.first_name.trim())
    .bind(profile.last_name.trim())
    .bind(profile.email.trim())
    .bind(&profile.login)
    .bind(&profile.phone)
    .bind(&profile.fax)
    .bind(&profile.mobile)
    .bind(&profile.street)
    .bind(&profile.zip)
    .bind(&profile.city)
    .bind(&profile.country)
    .bind(&profile.comment)
    .bind(profile.validity.unwrap_or(Validity::Valid).as_str())
    .bind(sqlx::types::Json(&profile.custom))
    .bind(actor.agent())
    .execute(tx.conn())
    .await
    .map_err(StoreError::from_write)?
    .rows_affected();
    if updated == 1 {
        return Ok(match by_id(tx, id).await? {
            Some(record) => Updated::Done(Box::new(record)),
            None => Updated::NotFound,
        });
    }
    Ok(match by_id(tx, id).await? {
        Some(_) => Updated::Stale,
        None => Updated::NotFound,
    })
}

/// Erases a person for a data-protection request: their data becomes a tombstone ("Erased
/// user", an address that cannot receive mail), their password, sessions, pending links,
/// memberships and group grants go, and who erased them and when is kept. The row itself
/// stays, so their tickets still read, with the requester shown as erased. False when there
/// is no such user or they were erased already.
pub async fn erase(tx: &mut TenantTx, id: Uuid, actor: Actor) -> Result<bool> {
    let erased = sqlx::query(
        "with tokens as (delete from auth_tokens where end_user_id = $1),
              memberships as (delete from organization_members where end_user_id = $1),
              grants as (delete from customer_group_user_grants where end_user_id = $1)
         update end_users set title = null, first_name = 'Erased', last_name = 'user',
                email = 'erased-' || id || '@erased.invalid', login = 'erased-' || id || '@erased.invalid',
                phone = null, fax = null, mobile = null, street = null, zip = null, city = null,
                country = null, comment = null, custom = '{}', validity = 'invalid',
                status = 'guest', password_hash = null, must_change_password = false,
                last_sign_in_at = null, sessions_valid_after = now(), erased_at = now(),
                erased_by = $2, erased_by_token = $3, updated_by = $2, version = version + 1,
                updated_at = now()
          where id = $1 and erased_at is null",
    )
    .bind(id)
    .bind(actor.agent())
    .bind(match actor {
        Actor::ApiToken(token) => Some(token),
        _ => None,
    })
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(erased == 1)
}

/// The orders the directory list offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserSort {
    Name,
    Email,
    Organization,
    Created,
}

/// Records which fields `provider` keeps for user `id` (replacing what that provider kept
/// before; other providers' fields stay).
pub async fn set_directory_fields(
    tx: &mut TenantTx,
    id: Uuid,
    provider: &str,
    fields: &[String],
) -> Result<()> {
    let kept: serde_json::Map<String, Value> = fields
        .iter()
        .map(|field| (field.clone(), Value::String(provider.to_owned())))
        .collect();
    sqlx::query(
        "update end_users
            set directory_fields = (select coalesce(jsonb_object_agg(key, value), '{}')
                                      from jsonb_each(directory_fields) where value <> to_jsonb($2::text))
                                   || $3
          where id = $1 and directory_fields is distinct from
                (select coalesce(jsonb_object_agg(key, value), '{}')
                   from jsonb_each(directory_fields) where value <> to_jsonb($2::text)) || $3",
    )
    .bind(id)
    .bind(provider)
    .bind(sqlx::types::Json(kept))
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub use crate::search::{CustomFilter, RangeValue};

/// What the directory list shows: a search term, filters, an order and a page position.
#[derive(Clone, Debug)]
pub struct UserQuery {
    pub search: Option<String>,
    pub validity: Option<Validity>,
    pub organization: Option<Uuid>,
    /// Users with at least ro (or rw when `group_write`) on this customer group, by any route.
    pub group: Option<Uuid>,
    pub group_write: bool,
    pub custom: Vec<CustomFilter>,
    pub sort: UserSort,
    pub descending: bool,
    pub after: Option<After>,
    pub limit: usize,
}

impl Default for UserQuery {
    fn default() -> Self {
        Self {
            search: None,
            validity: None,
            organization: None,
            group: None,
            group_write: false,
            custom: Vec::new(),
            sort: UserSort::Name,
            descending: false,
            after: None,
            limit: 50,
        }
    }
}

impl UserSort {
    /// The column of `alias` the order follows (the organization order has none: it follows
    /// the joined primary organization).
    fn column(self) -> Option<&'static str> {
        match self {
            Self::Name => Some("name_key"),
            Self::Email => Some("email_key"),
            Self::Organization => None,
            Self::Created => Some("created_at"),
        }
    }

    /// The sort expression over the user `alias`; its text form is the cursor key.
    fn expression(self, alias: &str) -> String {
        match self.column() {
            Some(column) => format!("{alias}.{column}"),
            None => "coalesce(po.name_key, '')".to_owned(),
        }
    }

    fn key_of(self, record: &UserRecord) -> String {
        match self {
            Self::Name => record.name_key.clone(),
            Self::Email => record.email_key.clone(),
            Self::Organization => record.organization_key.clone().unwrap_or_default(),
            Self::Created => record
                .created_at
                .to_rfc3339_opts(SecondsFormat::Micros, true),
        }
    }
}

/// One page of the directory.
///
/// Substring search and custom-field equality run in the `directory` schema's functions, which
/// can use the trigram and jsonb indexes that RLS keeps plain queries from using. Their rows
/// carry the sort keys and validity, so when the order is by one of the user's own columns and
/// no custom range is asked for, the page is cut from them (filtered, ordered, limited) before
/// any user row is read: a term matching ten thousand people costs a sort of ten thousand
/// small rows, not ten thousand row reads. Otherwise the users are read and filtered with
/// leakproof comparisons, which RLS does not hinder.
pub async fn list(tx: &mut TenantTx, query: &UserQuery) -> Result<Page<UserRecord>> {
    let search = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(crate::search::like_pattern);
    let custom_equals = crate::search::custom_equalities(&query.custom);
    let ranges = query
        .custom
        .iter()
        .any(|filter| !matches!(filter, CustomFilter::Equals { .. }));
    let direction = if query.descending { "desc" } else { "asc" };
    let mut sql: QueryBuilder<Postgres> = QueryBuilder::new(format!("select {COLUMNS} "));

    let page_first =
        (search.is_some() || custom_equals.is_some()) && query.sort.column().is_some() && !ranges;
    if page_first {
        let column = query.sort.column().unwrap_or("name_key");
        sql.push("from (select m.id, m.")
            .push(column)
            .push(" as sort_key from ");
        match (&search, &custom_equals) {
            (Some(pattern), custom) => {
                sql.push("directory.end_user_ids_matching(")
                    .push_bind(pattern.clone())
                    .push(") m where true");
                if let Some(custom) = custom {
                    sql.push(" and m.id = any(array(select c.id from directory.end_user_ids_with_custom(")
                        .push_bind(sqlx::types::Json(custom.clone()))
                        .push(") c))");
                }
            }
            (None, Some(custom)) => {
                sql.push("directory.end_user_ids_with_custom(")
                    .push_bind(sqlx::types::Json(custom.clone()))
                    .push(") m where true");
            }
            (None, None) => unreachable!("page_first needs a search or a custom filter"),
        }
        push_filters(&mut sql, query, "m");
        push_keyset(&mut sql, query, &format!("m.{column}"), "m.id");
        sql.push(format!(
            " order by m.{column} {direction}, m.id {direction} limit "
        ))
        .push_bind((query.limit + 1) as i64)
        .push(concat!(
            ") page join end_users u on u.id = page.id",
            primary_organization!()
        ))
        .push(format!(
            " order by page.sort_key {direction}, u.id {direction}"
        ));
    } else {
        sql.push(FROM);
        // Ids from the search functions are looked up by primary key: `= any(array(...))`
        // keeps the planner from guessing the function's row count against the tenant's size.
        sql.push(" where true");
        if let Some(pattern) = &search {
            sql.push(" and u.id = any(array(select m.id from directory.end_user_ids_matching(")
                .push_bind(pattern.clone())
                .push(") m))");
        }
        if let Some(custom) = &custom_equals {
            sql.push(" and u.id = any(array(select c.id from directory.end_user_ids_with_custom(")
                .push_bind(sqlx::types::Json(custom.clone()))
                .push(") c))");
        }
        push_filters(&mut sql, query, "u");
        push_ranges(&mut sql, query);
        let expression = query.sort.expression("u");
        push_keyset(&mut sql, query, &expression, "u.id");
        sql.push(format!(
            " order by {expression} {direction}, u.id {direction} limit "
        ))
        .push_bind((query.limit + 1) as i64);
    }
    let rows: Vec<RecordRow> = sql.build_query_as().fetch_all(tx.conn()).await?;
    let records = rows
        .into_iter()
        .map(UserRecord::try_from)
        .collect::<Result<Vec<_>>>()?;
    let sort = query.sort;
    Ok(Page::from_rows(records, query.limit, |r| {
        (Some(sort.key_of(r)), r.id)
    }))
}

/// Validity, organization and customer-group conditions on the user (or search row) `alias`.
fn push_filters(sql: &mut QueryBuilder<Postgres>, query: &UserQuery, alias: &str) {
    if let Some(validity) = query.validity {
        sql.push(format!(" and {alias}.validity = "))
            .push_bind(validity.as_str());
    }
    if let Some(organization) = query.organization {
        sql.push(format!(
            " and exists (select from organization_members om where om.end_user_id = {alias}.id
                  and om.organization_id = "
        ))
        .push_bind(organization)
        .push(")");
    }
    if let Some(group) = query.group {
        let levels: &[&str] = if query.group_write {
            &["rw"]
        } else {
            &["ro", "rw"]
        };
        sql.push(format!(
            " and (exists (select from customer_group_user_grants g where g.end_user_id = {alias}.id and g.group_id = "
        ))
        .push_bind(group)
        .push(" and g.permission = any(")
        .push_bind(levels)
        .push(format!(
            ")) or exists (select from organization_members gm join customer_group_organization_grants og on og.organization_id = gm.organization_id where gm.end_user_id = {alias}.id and og.group_id = "
        ))
        .push_bind(group)
        .push(" and og.permission = any(")
        .push_bind(levels)
        .push(")) or exists (select from customer_groups dg where dg.id = ")
        .push_bind(group)
        .push(" and dg.default_permission = any(")
        .push_bind(levels)
        .push(")))");
    }
}

/// Custom number, decimal and date ranges on `u.custom`.
fn push_ranges(sql: &mut QueryBuilder<Postgres>, query: &UserQuery) {
    crate::search::push_custom_ranges(sql, "u.custom", &query.custom);
}

/// The cursor condition: rows after (or before, descending) the last one shown.
fn push_keyset(sql: &mut QueryBuilder<Postgres>, query: &UserQuery, key: &str, id: &str) {
    let Some(after) = &query.after else {
        return;
    };
    let comparison = if query.descending { "<" } else { ">" };
    let value = after.key.clone().unwrap_or_default();
    sql.push(format!(" and ({key}, {id}) {comparison} ("));
    match query.sort {
        UserSort::Created => {
            let at: DateTime<Utc> = DateTime::parse_from_rfc3339(&value)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default();
            sql.push_bind(at);
        }
        _ => {
            sql.push_bind(value);
        }
    }
    sql.push(", ").push_bind(after.id).push(")");
}
