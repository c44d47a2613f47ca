//! Organizations (OTRS "customers") of a tenant: their record, email domains and members, and
//! the directory list with search, custom-field filters and keyset pages.

use chrono::{DateTime, SecondsFormat, Utc};
use domain::{CountryCode, PhoneNumber, Validity, WebUrl};
use serde_json::{Map, Value};
use sqlx::{FromRow, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::keyset::{After, Page};
use crate::{Result, StoreError, TenantTx};

/// Unique constraints of this module whose violation is the caller's doing, and the field each
/// protects (the shared table in `error.rs` knows the older ones).
const CONFLICT_FIELDS: &[(&str, &str)] = &[
    ("organizations_name_key", "name"),
    ("organizations_customer_code_key", "customer_code"),
    ("organization_domains_pkey", "domains"),
];

fn from_write(error: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &error
        && db.is_unique_violation()
        && let Some(constraint) = db.constraint()
        && let Some((_, field)) = CONFLICT_FIELDS.iter().find(|(name, _)| *name == constraint)
    {
        return StoreError::Conflict { field };
    }
    StoreError::from_write(error)
}

/// A single line of at most `max` characters, trimmed; empty when `allow_empty`.
fn line(raw: &str, max: usize, allow_empty: bool) -> Result<String, String> {
    let text = if allow_empty {
        domain::bounded_text(raw, max)?
    } else {
        domain::required_text(raw, max)?
    };
    if text.chars().any(char::is_control) {
        return Err("must be a single line without control characters".into());
    }
    Ok(text)
}

/// An organization's name: 1 to 200 characters on one line; unique per tenant, ignoring case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrganizationName(String);

impl OrganizationName {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, String> {
        line(raw, Self::MAX_CHARS, false).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The customer code (OTRS CustomerID): 1 to 100 characters on one line; unique per tenant,
/// ignoring case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerCode(String);

impl CustomerCode {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, String> {
        line(raw, Self::MAX_CHARS, false).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One line of an address (street, zip or city) of at most `N` characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressLine<const N: usize>(String);

impl<const N: usize> AddressLine<N> {
    pub fn parse(raw: &str) -> Result<Self, String> {
        line(raw, N, false).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub type Street = AddressLine<200>;
pub type Zip = AddressLine<20>;
pub type City = AddressLine<100>;

/// The organization's web site: an absolute http(s) URL of at most 500 characters, kept as
/// typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Website(String);

impl Website {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: &str) -> Result<Self, String> {
        const MESSAGE: &str = "must be an http:// or https:// URL of at most 500 characters";
        let url = raw.trim();
        if url.chars().count() > Self::MAX_CHARS || !url.contains("://") {
            return Err(MESSAGE.into());
        }
        WebUrl::parse(url).map_err(|_| MESSAGE.to_owned())?;
        Ok(Self(url.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A free-text comment of at most 2,000 characters (several lines allowed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment(String);

impl Comment {
    pub const MAX_CHARS: usize = 2000;

    pub fn parse(raw: &str) -> Result<Self, String> {
        domain::required_text(raw, Self::MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email domain whose new end users join the organization: lower case, at least two
/// labels, at most 253 characters. "@acme.example" is read as "acme.example".
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EmailDomain(String);

impl EmailDomain {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let domain = raw.trim().trim_start_matches('@').to_ascii_lowercase();
        let label_ok = |label: &str| {
            (1..=63).contains(&label.len())
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        let labels: Vec<&str> = domain.split('.').collect();
        if domain.len() <= 253 && labels.len() >= 2 && labels.iter().all(|l| label_ok(l)) {
            Ok(Self(domain))
        } else {
            Err(format!(
                "{} is not an email domain such as acme.example",
                raw.trim()
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who besides the requester sees a member's tickets in the portal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketSharing {
    None,
    PrimaryContacts,
    AllMembers,
}

impl TicketSharing {
    pub const ALL: [TicketSharing; 3] = [Self::None, Self::PrimaryContacts, Self::AllMembers];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::PrimaryContacts => "primary_contacts",
            Self::AllMembers => "all_members",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::None => "Nobody else: each member sees only their own tickets",
            Self::PrimaryContacts => "Primary contacts see every member's tickets",
            Self::AllMembers => "Every member sees every member's tickets",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw.trim())
            .ok_or("must be none, primary_contacts or all_members")
    }
}

/// An organization as read back.
#[derive(Clone, Debug)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub customer_code: Option<String>,
    pub street: Option<String>,
    pub zip: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub comment: Option<String>,
    pub validity: Validity,
    pub custom: Map<String, Value>,
    pub ticket_sharing: TicketSharing,
    pub auto_collaborate_primary_contacts: bool,
    pub account_manager_agent_id: Option<Uuid>,
    pub account_manager_team_id: Option<Uuid>,
    pub assign_to_account_manager: bool,
    pub alert_account_manager: bool,
    /// Lower case, sorted.
    pub domains: Vec<String>,
    pub created_by: Option<Uuid>,
    pub updated_by: Option<Uuid>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct OrganizationRow {
    id: Uuid,
    name: String,
    customer_code: Option<String>,
    street: Option<String>,
    zip: Option<String>,
    city: Option<String>,
    country: Option<String>,
    phone: Option<String>,
    website: Option<String>,
    comment: Option<String>,
    validity: String,
    custom: sqlx::types::Json<Map<String, Value>>,
    ticket_sharing: String,
    auto_collaborate_primary_contacts: bool,
    account_manager_agent_id: Option<Uuid>,
    account_manager_team_id: Option<Uuid>,
    assign_to_account_manager: bool,
    alert_account_manager: bool,
    domains: Vec<String>,
    created_by: Option<Uuid>,
    updated_by: Option<Uuid>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// The sort key of the name order, as PostgreSQL lower-cases it.
    name_key: String,
}

const COLUMNS: &str = "o.id, o.name, o.customer_code, o.street, o.zip, o.city, o.country, o.phone,
       o.website, o.comment, o.validity, o.custom, o.ticket_sharing,
       o.auto_collaborate_primary_contacts, o.account_manager_agent_id, o.account_manager_team_id,
       o.assign_to_account_manager, o.alert_account_manager,
       array(select d.domain from organization_domains d
              where d.organization_id = o.id order by d.domain) as domains,
       o.created_by, o.updated_by, o.version, o.created_at, o.updated_at,
       o.name_key";

impl TryFrom<OrganizationRow> for Organization {
    type Error = StoreError;

    fn try_from(row: OrganizationRow) -> Result<Self> {
        Ok(Self {
            id: row.id,
            name: row.name,
            customer_code: row.customer_code,
            street: row.street,
            zip: row.zip,
            city: row.city,
            country: row.country,
            phone: row.phone,
            website: row.website,
            comment: row.comment,
            validity: Validity::parse(&row.validity)
                .map_err(|_| StoreError::corrupt("organizations.validity", &row.validity))?,
            custom: row.custom.0,
            ticket_sharing: TicketSharing::parse(&row.ticket_sharing).map_err(|_| {
                StoreError::corrupt("organizations.ticket_sharing", &row.ticket_sharing)
            })?,
            auto_collaborate_primary_contacts: row.auto_collaborate_primary_contacts,
            account_manager_agent_id: row.account_manager_agent_id,
            account_manager_team_id: row.account_manager_team_id,
            assign_to_account_manager: row.assign_to_account_manager,
            alert_account_manager: row.alert_account_manager,
            domains: row.domains,
            created_by: row.created_by,
            updated_by: row.updated_by,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

pub async fn by_id(tx: &mut TenantTx, id: Uuid) -> Result<Option<Organization>> {
    let row: Option<OrganizationRow> = sqlx::query_as(&format!(
        "select {COLUMNS} from organizations o where o.id = $1"
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    row.map(Organization::try_from).transpose()
}

/// The organization, locked until the transaction ends, so a read-change-write cycle (custom
/// values merged into the stored ones, the version compared) sees no concurrent writer.
pub async fn for_update(tx: &mut TenantTx, id: Uuid) -> Result<Option<Organization>> {
    let row: Option<OrganizationRow> = sqlx::query_as(&format!(
        "select {COLUMNS} from organizations o where o.id = $1 for update"
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    row.map(Organization::try_from).transpose()
}

/// Sets (or clears) the team that is the organization's account manager, as part of a create
/// or update in the same transaction (which bumps the version once). The caller checked that
/// the team is of this tenant; the composite foreign key refuses any other.
pub async fn set_account_manager_team(
    tx: &mut TenantTx,
    id: Uuid,
    team_id: Option<Uuid>,
) -> Result<()> {
    sqlx::query("update organizations set account_manager_team_id = $2 where id = $1")
        .bind(id)
        .bind(team_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// What a create or an update sets; `None` leaves a field as it is (or at its default), and
/// `Some(None)` clears an optional field.
#[derive(Clone, Debug, Default)]
pub struct OrganizationChange {
    pub name: Option<OrganizationName>,
    pub customer_code: Option<Option<CustomerCode>>,
    pub street: Option<Option<Street>>,
    pub zip: Option<Option<Zip>>,
    pub city: Option<Option<City>>,
    pub country: Option<Option<CountryCode>>,
    pub phone: Option<Option<PhoneNumber>>,
    pub website: Option<Option<Website>>,
    pub comment: Option<Option<Comment>>,
    pub validity: Option<Validity>,
    /// The whole custom object, already checked against the field definitions.
    pub custom: Option<Map<String, Value>>,
    pub ticket_sharing: Option<TicketSharing>,
    pub auto_collaborate_primary_contacts: Option<bool>,
    /// An agent of this tenant (the caller checked); the foreign key refuses any other.
    pub account_manager_agent_id: Option<Option<Uuid>>,
    pub assign_to_account_manager: Option<bool>,
    pub alert_account_manager: Option<bool>,
    /// The whole domain list, replacing the stored one.
    pub domains: Option<Vec<EmailDomain>>,
}

enum Column {
    Text(Option<String>),
    Bool(bool),
    Id(Option<Uuid>),
    Json(Map<String, Value>),
}

impl OrganizationChange {
    /// The columns this change sets, with their new values.
    fn columns(&self) -> Vec<(&'static str, Column)> {
        fn text<T>(value: &Option<T>, as_str: impl Fn(&T) -> &str) -> Column {
            Column::Text(value.as_ref().map(|v| as_str(v).to_owned()))
        }
        let mut columns = Vec::new();
        if let Some(name) = &self.name {
            columns.push(("name", Column::Text(Some(name.as_str().to_owned()))));
        }
        if let Some(v) = &self.customer_code {
            columns.push(("customer_code", text(v, CustomerCode::as_str)));
        }
        if let Some(v) = &self.street {
            columns.push(("street", text(v, Street::as_str)));
        }
        if let Some(v) = &self.zip {
            columns.push(("zip", text(v, Zip::as_str)));
        }
        if let Some(v) = &self.city {
            columns.push(("city", text(v, City::as_str)));
        }
        if let Some(v) = &self.country {
            columns.push(("country", text(v, CountryCode::as_str)));
        }
        if let Some(v) = &self.phone {
            columns.push(("phone", text(v, PhoneNumber::as_str)));
        }
        if let Some(v) = &self.website {
            columns.push(("website", text(v, Website::as_str)));
        }
        if let Some(v) = &self.comment {
            columns.push(("comment", text(v, Comment::as_str)));
        }
        if let Some(v) = self.validity {
            columns.push(("validity", Column::Text(Some(v.as_str().to_owned()))));
        }
        if let Some(v) = &self.custom {
            columns.push(("custom", Column::Json(v.clone())));
        }
        if let Some(v) = self.ticket_sharing {
            columns.push(("ticket_sharing", Column::Text(Some(v.as_str().to_owned()))));
        }
        if let Some(v) = self.auto_collaborate_primary_contacts {
            columns.push(("auto_collaborate_primary_contacts", Column::Bool(v)));
        }
        if let Some(v) = self.account_manager_agent_id {
            columns.push(("account_manager_agent_id", Column::Id(v)));
        }
        if let Some(v) = self.assign_to_account_manager {
            columns.push(("assign_to_account_manager", Column::Bool(v)));
        }
        if let Some(v) = self.alert_account_manager {
            columns.push(("alert_account_manager", Column::Bool(v)));
        }
        columns
    }
}

fn push_value(query: &mut QueryBuilder<'_, Postgres>, value: Column) {
    match value {
        Column::Text(v) => query.push_bind(v),
        Column::Bool(v) => query.push_bind(v),
        Column::Id(v) => query.push_bind(v),
        Column::Json(v) => query.push_bind(sqlx::types::Json(v)),
    };
}

/// Creates the organization named `name` with `change` applied; `agent` is who made it (none
/// for an API token). A taken name, code or domain answers [`StoreError::Conflict`] naming it.
pub async fn create(
    tx: &mut TenantTx,
    name: &OrganizationName,
    change: &OrganizationChange,
    agent: Option<Uuid>,
) -> Result<Organization> {
    let id = Uuid::now_v7();
    let change = OrganizationChange {
        name: Some(name.clone()),
        ..change.clone()
    };
    let columns = change.columns();
    let mut query =
        QueryBuilder::new("insert into organizations (tenant_id, id, created_by, updated_by");
    for (column, _) in &columns {
        query.push(", ").push(*column);
    }
    query
        .push(") values (")
        .push_bind(tx.tenant_id().as_uuid())
        .push(", ")
        .push_bind(id)
        .push(", ")
        .push_bind(agent)
        .push(", ")
        .push_bind(agent);
    for (_, value) in columns {
        query.push(", ");
        push_value(&mut query, value);
    }
    query.push(")");
    query.build().execute(tx.conn()).await.map_err(from_write)?;
    if let Some(domains) = &change.domains {
        replace_domains(tx, id, domains).await?;
    }
    by_id(tx, id)
        .await?
        .ok_or_else(|| StoreError::corrupt("organizations", "the new organization vanished"))
}

/// Applies `change` to the organization, counting a new version; `agent` is who changed it.
/// False when no such organization is visible. The caller compared versions under
/// [`for_update`].
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    change: &OrganizationChange,
    agent: Option<Uuid>,
) -> Result<bool> {
    let mut query = QueryBuilder::new(
        "update organizations set version = version + 1, updated_at = now(), updated_by = ",
    );
    query.push_bind(agent);
    for (column, value) in change.columns() {
        query.push(", ").push(column).push(" = ");
        push_value(&mut query, value);
    }
    query.push(" where id = ").push_bind(id);
    let updated = query
        .build()
        .execute(tx.conn())
        .await
        .map_err(from_write)?
        .rows_affected();
    if updated == 1
        && let Some(domains) = &change.domains
    {
        replace_domains(tx, id, domains).await?;
    }
    Ok(updated == 1)
}

/// Makes `domains` the organization's whole domain list. A domain another organization of
/// the tenant lists answers [`StoreError::Conflict`] on `domains`.
async fn replace_domains(tx: &mut TenantTx, id: Uuid, domains: &[EmailDomain]) -> Result<()> {
    let domains: Vec<&str> = domains.iter().map(EmailDomain::as_str).collect();
    sqlx::query(
        "delete from organization_domains
          where organization_id = $1 and not (domain = any($2))",
    )
    .bind(id)
    .bind(&domains)
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "insert into organization_domains (tenant_id, domain, organization_id)
         select $1, d, $2 from unnest($3::text[]) as d
          where not exists (select from organization_domains o
                             where o.domain = d and o.organization_id = $2)
         group by d",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(id)
    .bind(&domains)
    .execute(tx.conn())
    .await
    .map_err(from_write)?;
    Ok(())
}

/// Which of `domains` another organization than `except` already lists, with its name.
pub async fn domains_taken(
    tx: &mut TenantTx,
    except: Option<Uuid>,
    domains: &[EmailDomain],
) -> Result<Vec<(String, String)>> {
    let domains: Vec<&str> = domains.iter().map(EmailDomain::as_str).collect();
    Ok(sqlx::query_as(
        "select d.domain, o.name from organization_domains d
           join organizations o on o.id = d.organization_id
          where d.domain = any($1) and ($2::uuid is null or d.organization_id <> $2)
          order by d.domain",
    )
    .bind(&domains)
    .bind(except)
    .fetch_all(tx.conn())
    .await?)
}

/// The orders of the organization list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    /// By name, ignoring case.
    Name,
    /// By creation time.
    Created,
}

impl Sort {
    /// Whether `after` is a position in this order (a cursor of another order is not).
    pub fn fits(self, after: &After) -> bool {
        match self {
            Self::Name => after.key.is_some(),
            Self::Created => after
                .key
                .as_deref()
                .is_some_and(|key| DateTime::parse_from_rfc3339(key).is_ok()),
        }
    }
}

/// What the organization list shows: a page in an order, narrowed by search and filters.
#[derive(Clone, Debug)]
pub struct ListQuery {
    /// An ILIKE pattern (see [`crate::search::like_pattern`]) over name, code, phone and city.
    pub search: Option<String>,
    pub validity: Option<Validity>,
    /// Custom values the organization's custom data must contain (jsonb containment).
    pub custom: Option<Map<String, Value>>,
    pub sort: Sort,
    pub descending: bool,
    pub after: Option<After>,
    pub limit: usize,
}

/// One page of the tenant's organizations. Substring search and custom filters go through
/// the `directory` schema's functions, which can use their indexes where RLS keeps ILIKE and
/// jsonb containment from doing so.
pub async fn list(tx: &mut TenantTx, list: &ListQuery) -> Result<Page<Organization>> {
    let mut query = QueryBuilder::new(format!("select {COLUMNS} from organizations o"));
    // Ids from the search functions are looked up by primary key: `= any(array(...))` keeps
    // the planner from guessing the function's row count against the tenant's size.
    query.push(" where true");
    if let Some(pattern) = &list.search {
        query
            .push(" and o.id = any(array(select directory.organization_ids_matching(")
            .push_bind(pattern.clone())
            .push(")))");
    }
    if let Some(custom) = &list.custom {
        query
            .push(" and o.id = any(array(select directory.organization_ids_with_custom(")
            .push_bind(sqlx::types::Json(custom.clone()))
            .push(")))");
    }
    if let Some(validity) = list.validity {
        query
            .push(" and o.validity = ")
            .push_bind(validity.as_str());
    }
    let (key, direction, comparison) = match (list.sort, list.descending) {
        (Sort::Name, false) => ("o.name_key", "asc", ">"),
        (Sort::Name, true) => ("o.name_key", "desc", "<"),
        (Sort::Created, false) => ("o.created_at", "asc", ">"),
        (Sort::Created, true) => ("o.created_at", "desc", "<"),
    };
    if let Some(after) = &list.after {
        query.push(format!(" and ({key}, o.id) {comparison} ("));
        match list.sort {
            Sort::Name => query.push_bind(after.key.clone().unwrap_or_default()),
            Sort::Created => {
                let at = after
                    .key
                    .as_deref()
                    .and_then(|key| DateTime::parse_from_rfc3339(key).ok())
                    .map(|at| at.with_timezone(&Utc))
                    .ok_or_else(|| StoreError::corrupt("cursor", "not a time"))?;
                query.push_bind(at)
            }
        };
        query.push(", ").push_bind(after.id).push(")");
    }
    query.push(format!(
        " order by {key} {direction}, o.id {direction} limit "
    ));
    query.push_bind(i64::try_from(list.limit + 1).unwrap_or(i64::MAX));
    let rows: Vec<OrganizationRow> = query.build_query_as().fetch_all(tx.conn()).await?;
    let sort = list.sort;
    let page = Page::from_rows(rows, list.limit, |row| {
        let key = match sort {
            Sort::Name => row.name_key.clone(),
            Sort::Created => row.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        };
        (Some(key), row.id)
    });
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(Organization::try_from)
            .collect::<Result<_>>()?,
        next: page.next,
    })
}

/// One member of an organization.
#[derive(Clone, Debug)]
pub struct Member {
    pub user_id: Uuid,
    pub name: String,
    pub email: String,
    /// Whether this is the user's primary organization.
    pub primary: bool,
    pub primary_contact: bool,
    /// When the user joined the organization.
    pub since: DateTime<Utc>,
}

#[derive(FromRow)]
struct MemberRow {
    user_id: Uuid,
    name: String,
    email: String,
    is_primary: bool,
    primary_contact: bool,
    created_at: DateTime<Utc>,
    name_key: String,
}

impl From<MemberRow> for Member {
    fn from(row: MemberRow) -> Self {
        Self {
            user_id: row.user_id,
            name: row.name,
            email: row.email,
            primary: row.is_primary,
            primary_contact: row.primary_contact,
            since: row.created_at,
        }
    }
}

const MEMBER_SELECT: &str = "select u.id as user_id, u.name, u.email, m.is_primary,
        m.primary_contact, m.created_at, u.name_key
   from organization_members m join end_users u on u.id = m.end_user_id";

/// One page of the organization's members by name (ignoring case), then id.
pub async fn members(
    tx: &mut TenantTx,
    organization_id: Uuid,
    after: Option<&After>,
    limit: usize,
) -> Result<Page<Member>> {
    let rows: Vec<MemberRow> = sqlx::query_as(&format!(
        "{MEMBER_SELECT}
          where m.organization_id = $1
            and ($2::text is null or (u.name_key, u.id) > ($2, $3))
          order by u.name_key, u.id
          limit $4"
    ))
    .bind(organization_id)
    .bind(after.and_then(|a| a.key.clone()))
    .bind(after.map(|a| a.id))
    .bind(i64::try_from(limit + 1).unwrap_or(i64::MAX))
    .fetch_all(tx.conn())
    .await?;
    let page = Page::from_rows(rows, limit, |row| (Some(row.name_key.clone()), row.user_id));
    Ok(Page {
        items: page.items.into_iter().map(Member::from).collect(),
        next: page.next,
    })
}

/// The membership of `user_id` in the organization, if any.
pub async fn member(
    tx: &mut TenantTx,
    organization_id: Uuid,
    user_id: Uuid,
) -> Result<Option<Member>> {
    let row: Option<MemberRow> = sqlx::query_as(&format!(
        "{MEMBER_SELECT} where m.organization_id = $1 and m.end_user_id = $2"
    ))
    .bind(organization_id)
    .bind(user_id)
    .fetch_optional(tx.conn())
    .await?;
    Ok(row.map(Member::from))
}

/// How many members the organization has, and how many of them are primary contacts.
pub async fn member_counts(tx: &mut TenantTx, organization_id: Uuid) -> Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "select count(*), count(*) filter (where primary_contact)
           from organization_members where organization_id = $1",
    )
    .bind(organization_id)
    .fetch_one(tx.conn())
    .await?)
}

/// What a membership should become; `None` keeps the stored flag (or, for a new membership,
/// takes the default: no primary contact, primary only when the user has no primary
/// organization yet).
#[derive(Clone, Copy, Debug, Default)]
pub struct MembershipChange {
    pub primary: Option<bool>,
    pub primary_contact: Option<bool>,
}

/// Why a membership could not be written.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    /// No such end user or organization in this tenant.
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for MembershipError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(error.into())
    }
}

/// Takes the end user's row lock, so membership changes of one user run one after another
/// and the "exactly one primary organization" rule holds under concurrency. False when the
/// user is not visible in this tenant.
async fn lock_user(tx: &mut TenantTx, user_id: Uuid) -> Result<bool, sqlx::Error> {
    let found: Option<i32> =
        sqlx::query_scalar("select 1 from end_users where id = $1 for no key update")
            .bind(user_id)
            .fetch_optional(tx.conn())
            .await?;
    Ok(found.is_some())
}

/// Makes the user's oldest membership primary when they have memberships but no primary one,
/// passing over `avoid` (a membership just made non-primary) while another exists.
async fn ensure_primary(
    tx: &mut TenantTx,
    user_id: Uuid,
    avoid: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update organization_members set is_primary = true, updated_at = now()
          where end_user_id = $1
            and not exists (select from organization_members p
                             where p.end_user_id = $1 and p.is_primary)
            and organization_id = (select organization_id from organization_members
                                    where end_user_id = $1
                                    order by organization_id = $2 is true, created_at,
                                             organization_id
                                    limit 1)",
    )
    .bind(user_id)
    .bind(avoid)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Adds the end user to the organization or changes their membership. A user with any
/// membership always has exactly one primary organization: `primary: true` demotes the
/// previous one; `primary: false` on the primary membership hands it to the user's oldest other
/// membership, and leaves it primary when there is none. Returns the membership and whether it
/// is new.
pub async fn put_member(
    tx: &mut TenantTx,
    organization_id: Uuid,
    user_id: Uuid,
    change: MembershipChange,
) -> Result<(Member, bool), MembershipError> {
    if !lock_user(tx, user_id).await? {
        return Err(MembershipError::NotFound);
    }
    let organization: Option<i32> = sqlx::query_scalar("select 1 from organizations where id = $1")
        .bind(organization_id)
        .fetch_optional(tx.conn())
        .await?;
    if organization.is_none() {
        return Err(MembershipError::NotFound);
    }
    let existing: Option<(bool, bool)> = sqlx::query_as(
        "select is_primary, primary_contact from organization_members
          where end_user_id = $1 and organization_id = $2",
    )
    .bind(user_id)
    .bind(organization_id)
    .fetch_optional(tx.conn())
    .await?;
    if change.primary == Some(true) {
        sqlx::query(
            "update organization_members set is_primary = false, updated_at = now()
              where end_user_id = $1 and organization_id <> $2 and is_primary",
        )
        .bind(user_id)
        .bind(organization_id)
        .execute(tx.conn())
        .await?;
    }
    let primary = change
        .primary
        .or(existing.map(|(primary, _)| primary))
        .unwrap_or(false);
    let primary_contact = change
        .primary_contact
        .or(existing.map(|(_, contact)| contact))
        .unwrap_or(false);
    sqlx::query(
        "insert into organization_members
                (tenant_id, end_user_id, organization_id, is_primary, primary_contact)
         values ($1, $2, $3, $4, $5)
         on conflict (tenant_id, end_user_id, organization_id) do update
            set is_primary = excluded.is_primary, primary_contact = excluded.primary_contact,
                updated_at = now()",
    )
    .bind(tx.tenant_id().as_uuid())
    .bind(user_id)
    .bind(organization_id)
    .bind(primary)
    .bind(primary_contact)
    .execute(tx.conn())
    .await
    .map_err(from_write)?;
    let avoid = (change.primary == Some(false)).then_some(organization_id);
    ensure_primary(tx, user_id, avoid).await?;
    let member = member(tx, organization_id, user_id)
        .await?
        .ok_or(MembershipError::NotFound)?;
    Ok((member, existing.is_none()))
}

/// Ends the end user's membership; when it was their primary one, their oldest remaining
/// membership becomes primary. False when there was no such membership.
pub async fn remove_member(
    tx: &mut TenantTx,
    organization_id: Uuid,
    user_id: Uuid,
) -> Result<bool> {
    if !lock_user(tx, user_id).await? {
        return Ok(false);
    }
    let removed = sqlx::query(
        "delete from organization_members where end_user_id = $1 and organization_id = $2",
    )
    .bind(user_id)
    .bind(organization_id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    ensure_primary(tx, user_id, None).await?;
    Ok(removed == 1)
}

/// One organization an end user belongs to.
#[derive(Clone, Debug, FromRow)]
pub struct Membership {
    pub organization_id: Uuid,
    pub name: String,
    pub customer_code: Option<String>,
    #[sqlx(rename = "is_primary")]
    pub primary: bool,
    pub primary_contact: bool,
    #[sqlx(rename = "created_at")]
    pub since: DateTime<Utc>,
}

/// The end user's organizations: the primary one first, then by name.
pub async fn memberships(tx: &mut TenantTx, user_id: Uuid) -> Result<Vec<Membership>> {
    Ok(sqlx::query_as(
        "select o.id as organization_id, o.name, o.customer_code, m.is_primary,
                m.primary_contact, m.created_at
           from organization_members m join organizations o on o.id = m.organization_id
          where m.end_user_id = $1
          order by m.is_primary desc, lower(o.name), o.id",
    )
    .bind(user_id)
    .fetch_all(tx.conn())
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_lower_case_and_need_two_labels() {
        assert_eq!(
            EmailDomain::parse(" @Acme.Example ").map(|d| d.0),
            Ok("acme.example".into())
        );
        assert!(EmailDomain::parse("sub.acme-corp.example").is_ok());
        assert!(EmailDomain::parse("localhost").is_err());
        assert!(EmailDomain::parse("-acme.example").is_err());
        assert!(EmailDomain::parse("acme..example").is_err());
        assert!(EmailDomain::parse("ac me.example").is_err());
    }

    #[test]
    fn websites_are_http_urls_kept_as_typed() {
        assert_eq!(
            Website::parse(" https://acme.example ").map(|w| w.0),
            Ok("https://acme.example".into())
        );
        assert!(Website::parse("ftp://acme.example").is_err());
        assert!(Website::parse("acme.example").is_err());
        let long = format!("https://acme.example/{}", "a".repeat(480));
        assert!(Website::parse(&long).is_err());
    }

    #[test]
    fn names_are_one_line() {
        assert!(OrganizationName::parse("Acme\nCorp").is_err());
        assert!(OrganizationName::parse("  ").is_err());
        assert!(OrganizationName::parse(&"a".repeat(201)).is_err());
        assert_eq!(
            OrganizationName::parse(" Acme ").map(|n| n.0),
            Ok("Acme".into())
        );
        assert!(Zip::parse(&"1".repeat(21)).is_err());
    }

    #[test]
    fn created_cursors_must_carry_a_time() {
        let id = Uuid::now_v7();
        let named = After {
            key: Some("acme".into()),
            id,
        };
        assert!(Sort::Name.fits(&named));
        assert!(!Sort::Created.fits(&named));
        let dated = After {
            key: Some("2026-11-22T09:30:00.000001Z".into()),
            id,
        };
        assert!(Sort::Created.fits(&dated));
    }
}
