//! The agent's organization pages: `/agent/organizations` (list with search, validity filter
//! and keyset pages), `/agent/organizations/new`, and `/agent/organizations/{id}` (profile,
//! custom data, domains, members with primary contacts, account manager, sharing, the edit
//! form). Reading needs [`Permission::UsersRead`], every change [`Permission::UsersManage`].
//! Forms carry the CSRF token and follow post/redirect/get; a form with errors is shown again
//! with the values kept and a message beside each field. Ids of another tenant's
//! organizations or end users answer the 404 page, exactly like ids that do not exist.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use domain::custom_fields::{
    FieldDefinition, FieldType, apply_custom_values, display_value, parse_text_value, text_value,
    visible_values,
};
use domain::{CountryCode, Permission, PhoneNumber, Validity};
use serde::Deserialize;
use serde_json::{Map, Value};
use store::StoreError;
use store::TenantTx;
use store::agents::Agent;
use store::keyset::After;
use store::organizations::{
    City, Comment, CustomerCode, EmailDomain, Member, MembershipChange, MembershipError,
    Organization, OrganizationChange, OrganizationName, Street, TicketSharing, Website, Zip,
};
use uuid::Uuid;

use crate::AppState;
use crate::api::organizations::list_query;
use crate::auth::SignedInAgent;
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::error::{ApiError, PageError};
use crate::pages::admin_groups::{OrganizationGroupsBox, organization_groups_box};
use crate::pages::agent::EmptyForm;
use crate::pages::{Brand, render};

/// How many organizations, and how many members, one page lists.
const PAGE_SIZE: usize = 50;

fn respond(status: StatusCode, page: &impl Template) -> Result<Response, PageError> {
    Ok((status, render(page)?).into_response())
}

/// The `{id}` of a page path: a UUID, or the 404 page.
fn id_of(raw: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(raw).map_err(|_| PageError::NotFound)
}

fn when(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .copied()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

async fn definitions(tx: &mut TenantTx) -> Result<Vec<FieldDefinition>, PageError> {
    Ok(store::custom_fields::active(tx, domain::custom_fields::FieldEntity::Organization).await?)
}

async fn brand(tx: &mut TenantTx) -> Result<Brand, PageError> {
    Ok(Brand::from(&store::settings::load(tx).await?))
}

// ---------------------------------------------------------------------------------------------
// The list
// ---------------------------------------------------------------------------------------------

/// One organization as the list shows it.
struct Row {
    id: Uuid,
    name: String,
    customer_code: String,
    city: String,
    country: String,
    domains: String,
    validity: Validity,
}

#[derive(Template)]
#[template(path = "agent_organizations.html")]
struct ListPage {
    brand: Brand,
    can_manage: bool,
    q: String,
    validity: String,
    validities: [Validity; 3],
    rows: Vec<Row>,
    /// The query string of the next page, when there is one.
    next: Option<String>,
    /// Whether this is a later page (so a link back to the first one helps).
    paged: bool,
    alert: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ListForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    validity: String,
    #[serde(default)]
    cursor: String,
}

/// `GET /agent/organizations`: search (`q`, `*` as a wildcard), validity filter, keyset pages.
pub async fn list(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Query(form): Query<ListForm>,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersRead)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let brand = brand(&mut tx).await?;
    let definitions = definitions(&mut tx).await?;
    let limit = PAGE_SIZE.to_string();
    let params: Vec<(String, String)> = [
        ("q", form.q.as_str()),
        ("validity", form.validity.as_str()),
        ("cursor", form.cursor.as_str()),
        ("limit", limit.as_str()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut view = ListPage {
        brand,
        can_manage: agent.agent.can(Permission::UsersManage),
        q: form.q.clone(),
        validity: form.validity.clone(),
        validities: Validity::ALL,
        rows: Vec::new(),
        next: None,
        paged: !form.cursor.is_empty(),
        alert: None,
    };
    let query = match list_query(&params, &definitions) {
        Ok(query) => query,
        Err(ApiError::Validation(errors)) => {
            let why: Vec<String> = errors
                .iter()
                .map(|e| format!("{} {}", e.field, e.message))
                .collect();
            view.alert = Some(format!(
                "The list could not be shown: {}. Start again from the first page.",
                why.join("; ")
            ));
            return respond(StatusCode::UNPROCESSABLE_ENTITY, &view);
        }
        Err(_) => return Err(PageError::BadRequest("The search is malformed.".into())),
    };
    let page = store::organizations::list(&mut tx, &query).await?;
    tx.commit().await?;
    view.rows = page
        .items
        .into_iter()
        .map(|o| Row {
            id: o.id,
            name: o.name,
            customer_code: o.customer_code.unwrap_or_default(),
            city: o.city.unwrap_or_default(),
            country: o.country.unwrap_or_default(),
            domains: o.domains.join(", "),
            validity: o.validity,
        })
        .collect();
    view.next = page.next.map(|after| {
        query_string(&[
            ("q", &form.q),
            ("validity", &form.validity),
            ("cursor", &after.encode()),
        ])
    });
    respond(StatusCode::OK, &view)
}

// ---------------------------------------------------------------------------------------------
// The organization form (new and edit)
// ---------------------------------------------------------------------------------------------

/// One custom field of the form, with the value as entered.
struct CustomInput {
    key: String,
    label: String,
    /// `text`, `textarea`, `select`, `date` or `boolean`.
    kind: &'static str,
    value: String,
    options: Vec<String>,
    help: String,
    required: bool,
}

/// The form's fields as entered (or as stored, when the form opens).
#[derive(Default)]
struct Values {
    version: String,
    name: String,
    customer_code: String,
    street: String,
    zip: String,
    city: String,
    country: String,
    phone: String,
    website: String,
    comment: String,
    validity: String,
    domains: String,
    ticket_sharing: String,
    auto_collaborate_primary_contacts: bool,
    account_manager_agent_id: String,
    assign_to_account_manager: bool,
    alert_account_manager: bool,
    custom: Vec<CustomInput>,
}

impl Values {
    fn blank(definitions: &[FieldDefinition]) -> Self {
        Self {
            validity: Validity::Valid.as_str().to_owned(),
            ticket_sharing: TicketSharing::None.as_str().to_owned(),
            custom: custom_inputs(definitions, |_| String::new()),
            ..Self::default()
        }
    }

    fn of(organization: &Organization, definitions: &[FieldDefinition]) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            version: organization.version.to_string(),
            name: organization.name.clone(),
            customer_code: text(&organization.customer_code),
            street: text(&organization.street),
            zip: text(&organization.zip),
            city: text(&organization.city),
            country: text(&organization.country),
            phone: text(&organization.phone),
            website: text(&organization.website),
            comment: text(&organization.comment),
            validity: organization.validity.as_str().to_owned(),
            domains: organization.domains.join("\n"),
            ticket_sharing: organization.ticket_sharing.as_str().to_owned(),
            auto_collaborate_primary_contacts: organization.auto_collaborate_primary_contacts,
            account_manager_agent_id: organization
                .account_manager_agent_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            assign_to_account_manager: organization.assign_to_account_manager,
            alert_account_manager: organization.alert_account_manager,
            custom: custom_inputs(definitions, |key| {
                organization
                    .custom
                    .get(key)
                    .map(text_value)
                    .unwrap_or_default()
            }),
        }
    }

    fn from_form(form: &FormFields, definitions: &[FieldDefinition]) -> Self {
        Self {
            version: form.text("version"),
            name: form.text("name"),
            customer_code: form.text("customer_code"),
            street: form.text("street"),
            zip: form.text("zip"),
            city: form.text("city"),
            country: form.text("country"),
            phone: form.text("phone"),
            website: form.text("website"),
            comment: form.text("comment"),
            validity: form.text("validity"),
            domains: form.text("domains"),
            ticket_sharing: form.text("ticket_sharing"),
            auto_collaborate_primary_contacts: form.checked("auto_collaborate_primary_contacts"),
            account_manager_agent_id: form.text("account_manager_agent_id"),
            assign_to_account_manager: form.checked("assign_to_account_manager"),
            alert_account_manager: form.checked("alert_account_manager"),
            custom: custom_inputs(definitions, |key| form.text(&format!("custom.{key}"))),
        }
    }
}

fn custom_inputs(
    definitions: &[FieldDefinition],
    value: impl Fn(&str) -> String,
) -> Vec<CustomInput> {
    definitions
        .iter()
        .filter(|d| !d.archived)
        .map(|d| CustomInput {
            key: d.key.clone(),
            label: d.label.clone(),
            kind: match d.field_type {
                FieldType::LongText => "textarea",
                FieldType::Choice => "select",
                FieldType::Boolean => "boolean",
                FieldType::Date => "date",
                _ => "text",
            },
            value: value(&d.key),
            options: d.options.clone(),
            help: match d.field_type {
                FieldType::MultiChoice => {
                    let options = format!("Any of: {}, separated by |.", d.options.join(", "));
                    if d.help_text.is_empty() {
                        options
                    } else {
                        format!("{} {options}", d.help_text)
                    }
                }
                _ => d.help_text.clone(),
            },
            required: d.required,
        })
        .collect()
}

/// A form as sent: every name with its values.
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

/// Messages beside the form's fields, by field name (`custom.<key>` for custom fields).
#[derive(Default)]
struct Errors(Vec<(String, String)>);

impl Errors {
    fn add(&mut self, field: &str, message: impl ToString) {
        self.0.push((field.to_owned(), message.to_string()));
    }

    fn of(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    fn any(&self) -> bool {
        !self.0.is_empty()
    }
}

/// An optional text field: empty clears it, anything else must parse.
fn optional<T, E: ToString>(
    errors: &mut Errors,
    field: &str,
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<Option<T>> {
    if raw.trim().is_empty() {
        return Some(None);
    }
    match parse(raw) {
        Ok(value) => Some(Some(value)),
        Err(error) => {
            errors.add(field, capitalised(&error.to_string()));
            None
        }
    }
}

/// "must be ..." as a sentence beside a field: "Must be ...".
fn capitalised(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => format!(
            "{}{}.",
            first.to_uppercase(),
            chars.as_str().trim_end_matches('.')
        ),
        None => String::new(),
    }
}

/// What the form asks for: the change (its name always set), and the custom values entered.
struct Parsed {
    change: OrganizationChange,
    custom: Map<String, Value>,
}

/// Parses the form; every field in error gets its message.
fn parse_form(
    values: &Values,
    definitions: &[FieldDefinition],
    agents: &[Agent],
) -> Result<Parsed, Errors> {
    let mut errors = Errors::default();
    let name = match OrganizationName::parse(&values.name) {
        Ok(name) => Some(name),
        Err(_) if values.name.trim().is_empty() => {
            errors.add("name", "Enter the organization's name.");
            None
        }
        Err(error) => {
            errors.add("name", capitalised(&error));
            None
        }
    };
    let mut domains = Vec::new();
    let mut not_domains = Vec::new();
    for raw in values
        .domains
        .split(['\n', ',', ';'])
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        match EmailDomain::parse(raw) {
            Ok(domain) => domains.push(domain),
            Err(_) => not_domains.push(raw),
        }
    }
    if !not_domains.is_empty() {
        errors.add(
            "domains",
            format!(
                "Enter domains such as acme.example, one per line. Not a domain: {}.",
                not_domains.join(", ")
            ),
        );
    }
    domains.sort();
    domains.dedup();
    let validity = Validity::parse(&values.validity)
        .map_err(|e| errors.add("validity", capitalised(&e.to_string())))
        .ok();
    let ticket_sharing = TicketSharing::parse(&values.ticket_sharing)
        .map_err(|e| errors.add("ticket_sharing", capitalised(e)))
        .ok();
    let manager = values.account_manager_agent_id.trim();
    let account_manager = if manager.is_empty() {
        Some(None)
    } else {
        match Uuid::parse_str(manager)
            .ok()
            .filter(|id| agents.iter().any(|a| a.id == *id))
        {
            Some(id) => Some(Some(id)),
            None => {
                errors.add(
                    "account_manager_agent_id",
                    "Choose one of the agents listed.",
                );
                None
            }
        }
    };
    let mut custom = Map::new();
    for definition in definitions.iter().filter(|d| !d.archived) {
        let field = definition.field_name();
        let input = values
            .custom
            .iter()
            .find(|c| c.key == definition.key)
            .map(|c| c.value.as_str())
            .unwrap_or_default();
        match parse_text_value(definition, input) {
            Ok(value) => {
                custom.insert(definition.key.clone(), value);
            }
            Err(message) => errors.add(&field, capitalised(&message)),
        }
    }
    let change = OrganizationChange {
        name,
        customer_code: optional(
            &mut errors,
            "customer_code",
            &values.customer_code,
            CustomerCode::parse,
        ),
        street: optional(&mut errors, "street", &values.street, Street::parse),
        zip: optional(&mut errors, "zip", &values.zip, Zip::parse),
        city: optional(&mut errors, "city", &values.city, City::parse),
        country: optional(&mut errors, "country", &values.country, CountryCode::parse),
        phone: optional(&mut errors, "phone", &values.phone, PhoneNumber::parse),
        website: optional(&mut errors, "website", &values.website, Website::parse),
        comment: optional(&mut errors, "comment", &values.comment, Comment::parse),
        validity,
        custom: None,
        ticket_sharing,
        auto_collaborate_primary_contacts: Some(values.auto_collaborate_primary_contacts),
        account_manager_agent_id: account_manager,
        assign_to_account_manager: Some(values.assign_to_account_manager),
        alert_account_manager: Some(values.alert_account_manager),
        domains: Some(domains),
    };
    if errors.any() {
        Err(errors)
    } else {
        Ok(Parsed { change, custom })
    }
}

/// Merges the custom values entered into `stored`, or the messages beside the custom fields.
fn merge_custom(
    definitions: &[FieldDefinition],
    stored: &Map<String, Value>,
    entered: &Map<String, Value>,
) -> Result<Map<String, Value>, Errors> {
    apply_custom_values(definitions, stored, entered).map_err(|found| {
        let mut errors = Errors::default();
        for error in found {
            errors.add(&error.field, capitalised(&error.message));
        }
        errors
    })
}

/// The messages a write refused by the database gets: a taken name, code or domain.
async fn conflict_errors(
    tx: &mut TenantTx,
    field: &str,
    values: &Values,
    domains: &[EmailDomain],
    except: Option<Uuid>,
) -> Result<Errors, PageError> {
    let mut errors = Errors::default();
    match field {
        "name" => errors.add(
            "name",
            format!(
                "Another organization is already called {}. Choose another name.",
                values.name.trim()
            ),
        ),
        "customer_code" => errors.add(
            "customer_code",
            format!(
                "Another organization already has the customer code {}.",
                values.customer_code.trim()
            ),
        ),
        _ => {
            let taken = store::organizations::domains_taken(tx, except, domains).await?;
            let which: Vec<String> = taken
                .iter()
                .map(|(domain, owner)| format!("{domain} belongs to {owner}"))
                .collect();
            errors.add(
                "domains",
                if which.is_empty() {
                    "Another organization already lists one of these domains.".to_owned()
                } else {
                    format!(
                        "{}. A domain belongs to one organization only.",
                        which.join("; ")
                    )
                },
            );
        }
    }
    Ok(errors)
}

/// An agent the account manager list offers.
struct AgentChoice {
    id: String,
    name: String,
}

fn agent_choices(agents: &[Agent]) -> Vec<AgentChoice> {
    agents
        .iter()
        .map(|a| AgentChoice {
            id: a.id.to_string(),
            name: format!("{} ({})", a.name, a.email),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "agent_organization_new.html")]
struct NewPage<'a> {
    brand: Brand,
    csrf: &'a str,
    values: Values,
    errors: Errors,
    agents: Vec<AgentChoice>,
    validities: [Validity; 3],
    sharings: [TicketSharing; 3],
}

/// `GET /agent/organizations/new`: the empty form.
pub async fn new_form(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersManage)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let brand = brand(&mut tx).await?;
    let definitions = definitions(&mut tx).await?;
    let agents = store::agents::list(&mut tx).await?;
    tx.commit().await?;
    respond(
        StatusCode::OK,
        &NewPage {
            brand,
            csrf: &csrf,
            values: Values::blank(&definitions),
            errors: Errors::default(),
            agents: agent_choices(&agents),
            validities: Validity::ALL,
            sharings: TicketSharing::ALL,
        },
    )
}

/// `POST /agent/organizations/new`: creates the organization and opens its page, or shows
/// the form again with the messages.
pub async fn create(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersManage)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let brand = brand(&mut tx).await?;
    let definitions = definitions(&mut tx).await?;
    let agents = store::agents::list(&mut tx).await?;
    let values = Values::from_form(&form, &definitions);
    let parsed = parse_form(&values, &definitions, &agents).and_then(|parsed| {
        let custom = merge_custom(&definitions, &Map::new(), &parsed.custom)?;
        Ok((parsed.change, custom))
    });
    let (status, errors) = match parsed {
        Ok((mut change, custom)) => {
            change.custom = Some(custom);
            let name = change.name.take().ok_or(PageError::NotFound)?;
            match store::organizations::create(&mut tx, &name, &change, Some(agent.agent.id)).await
            {
                Ok(organization) => {
                    tx.commit().await?;
                    let to = format!("/agent/organizations/{}?done=created", organization.id);
                    return Ok(Redirect::to(&to).into_response());
                }
                Err(StoreError::Conflict { field }) => {
                    // The failed insert aborted the transaction; look up the owner afresh.
                    drop(tx);
                    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
                    let domains = change.domains.unwrap_or_default();
                    let errors = conflict_errors(&mut tx, field, &values, &domains, None).await?;
                    tx.commit().await?;
                    (StatusCode::CONFLICT, errors)
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(errors) => {
            tx.commit().await?;
            (StatusCode::UNPROCESSABLE_ENTITY, errors)
        }
    };
    respond(
        status,
        &NewPage {
            brand,
            csrf: &csrf,
            values,
            errors,
            agents: agent_choices(&agents),
            validities: Validity::ALL,
            sharings: TicketSharing::ALL,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// The organization's page
// ---------------------------------------------------------------------------------------------

/// A label and a value of the profile.
struct Detail {
    label: String,
    value: String,
}

struct MemberRow {
    user_id: Uuid,
    name: String,
    email: String,
    primary: bool,
    primary_contact: bool,
    since: String,
}

impl From<Member> for MemberRow {
    fn from(member: Member) -> Self {
        Self {
            user_id: member.user_id,
            name: member.name,
            email: member.email,
            primary: member.primary,
            primary_contact: member.primary_contact,
            since: when(&member.since),
        }
    }
}

#[derive(Template)]
#[template(path = "agent_organization.html")]
struct ShowPage<'a> {
    brand: Brand,
    csrf: &'a str,
    can_manage: bool,
    id: Uuid,
    name: String,
    validity: Validity,
    notice: Option<String>,
    alert: Option<String>,
    details: Vec<Detail>,
    custom: Vec<Detail>,
    domains: Vec<String>,
    sharing: TicketSharing,
    auto_collaborate: bool,
    account_manager: Option<String>,
    assign_to_account_manager: bool,
    alert_account_manager: bool,
    member_count: i64,
    primary_contact_count: i64,
    members: Vec<MemberRow>,
    /// The query string of the next page of members, when there is one.
    members_next: Option<String>,
    members_paged: bool,
    member_email: String,
    member_error: Option<String>,
    values: Values,
    errors: Errors,
    agents: Vec<AgentChoice>,
    validities: [Validity; 3],
    sharings: [TicketSharing; 3],
    /// The customer groups box (`admin_groups_organization_box.html`).
    groups_box: OrganizationGroupsBox,
}

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    #[serde(default)]
    done: String,
    /// A notice from the form handlers of other pages posting here (customer groups).
    #[serde(default)]
    notice: String,
    #[serde(default)]
    members: String,
}

/// The organization's page as stored; `members_after` pages the member list.
async fn show_page<'a>(
    state: &AppState,
    agent: &SignedInAgent,
    csrf: &'a str,
    id: Uuid,
    members_after: Option<&After>,
) -> Result<ShowPage<'a>, PageError> {
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let organization = store::organizations::by_id(&mut tx, id)
        .await?
        .ok_or(PageError::NotFound)?;
    let brand = brand(&mut tx).await?;
    let definitions = definitions(&mut tx).await?;
    let agents = store::agents::list(&mut tx).await?;
    let (member_count, primary_contact_count) =
        store::organizations::member_counts(&mut tx, id).await?;
    let members = store::organizations::members(&mut tx, id, members_after, PAGE_SIZE).await?;
    let groups_box = organization_groups_box(&mut tx, id, agent).await?;
    tx.commit().await?;
    let agent_name = |id: Option<Uuid>| {
        id.map(|id| {
            agents
                .iter()
                .find(|a| a.id == id)
                .map_or_else(|| "a former agent".to_owned(), |a| a.name.clone())
        })
    };
    let mut details = Vec::new();
    let mut detail = |label: &str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            details.push(Detail {
                label: label.to_owned(),
                value,
            });
        }
    };
    detail("Customer code", organization.customer_code.clone());
    detail("Street", organization.street.clone());
    detail("Zip code", organization.zip.clone());
    detail("City", organization.city.clone());
    detail("Country", organization.country.clone());
    detail("Phone", organization.phone.clone());
    detail("Website", organization.website.clone());
    detail("Comment", organization.comment.clone());
    detail(
        "Created",
        Some(match agent_name(organization.created_by) {
            Some(by) => format!("{} by {by}", when(&organization.created_at)),
            None => when(&organization.created_at),
        }),
    );
    detail(
        "Last changed",
        Some(match agent_name(organization.updated_by) {
            Some(by) => format!("{} by {by}", when(&organization.updated_at)),
            None => when(&organization.updated_at),
        }),
    );
    let visible = visible_values(&definitions, &organization.custom);
    let custom = definitions
        .iter()
        .filter_map(|d| {
            visible.get(&d.key).map(|value| Detail {
                label: d.label.clone(),
                value: display_value(value),
            })
        })
        .collect();
    let members_next = members
        .next
        .map(|after| query_string(&[("members", &after.encode())]));
    Ok(ShowPage {
        brand,
        csrf,
        can_manage: agent.agent.can(Permission::UsersManage),
        id,
        name: organization.name.clone(),
        validity: organization.validity,
        notice: None,
        alert: None,
        details,
        custom,
        domains: organization.domains.clone(),
        sharing: organization.ticket_sharing,
        auto_collaborate: organization.auto_collaborate_primary_contacts,
        account_manager: agent_name(organization.account_manager_agent_id),
        assign_to_account_manager: organization.assign_to_account_manager,
        alert_account_manager: organization.alert_account_manager,
        member_count,
        primary_contact_count,
        members: members.items.into_iter().map(MemberRow::from).collect(),
        members_next,
        members_paged: members_after.is_some(),
        member_email: String::new(),
        member_error: None,
        values: Values::of(&organization, &definitions),
        errors: Errors::default(),
        agents: agent_choices(&agents),
        validities: Validity::ALL,
        sharings: TicketSharing::ALL,
        groups_box,
    })
}

fn done_notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "created" => "The organization is created.",
        "saved" => "Your changes are saved.",
        "member-added" => "The member is added.",
        "member-changed" => "The membership is changed.",
        "member-removed" => "The member is removed from this organization.",
        _ => return None,
    })
}

/// `GET /agent/organizations/{id}`.
pub async fn show(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersRead)?;
    let id = id_of(&id)?;
    let after = match query.members.as_str() {
        "" => None,
        raw => Some(After::decode(raw).ok_or_else(|| {
            PageError::BadRequest(
                "This member list has no such page. Open the organization again.".into(),
            )
        })?),
    };
    let mut view = show_page(&state, &agent, &csrf, id, after.as_ref()).await?;
    view.notice = done_notice(&query.done)
        .map(str::to_owned)
        .or_else(|| (!query.notice.trim().is_empty()).then(|| query.notice.trim().to_owned()));
    respond(StatusCode::OK, &view)
}

/// `POST /agent/organizations/{id}`: saves the edit form, or shows it again with messages.
pub async fn save(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersManage)?;
    let id = id_of(&id)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let current = store::organizations::for_update(&mut tx, id)
        .await?
        .ok_or(PageError::NotFound)?;
    let definitions = definitions(&mut tx).await?;
    let agents = store::agents::list(&mut tx).await?;
    let values = Values::from_form(&form, &definitions);
    let (status, errors, alert) = if values.version.trim() != current.version.to_string() {
        (
            StatusCode::CONFLICT,
            Errors::default(),
            Some(
                "Nothing was saved: someone else changed this organization while you were editing. \
                 The page shows their version; your entries are kept in the form below. Save again \
                 to replace their changes with yours."
                    .to_owned(),
            ),
        )
    } else {
        let parsed = parse_form(&values, &definitions, &agents).and_then(|parsed| {
            let custom = merge_custom(&definitions, &current.custom, &parsed.custom)?;
            Ok((parsed.change, custom))
        });
        match parsed {
            Ok((mut change, custom)) => {
                change.custom = Some(custom);
                match store::organizations::update(&mut tx, id, &change, Some(agent.agent.id)).await
                {
                    Ok(_) => {
                        tx.commit().await?;
                        let to = format!("/agent/organizations/{id}?done=saved");
                        return Ok(Redirect::to(&to).into_response());
                    }
                    Err(StoreError::Conflict { field }) => {
                        drop(tx);
                        let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
                        let domains = change.domains.clone().unwrap_or_default();
                        let errors =
                            conflict_errors(&mut tx, field, &values, &domains, Some(id)).await?;
                        tx.commit().await?;
                        (StatusCode::CONFLICT, errors, None)
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors, None),
        }
    };
    let mut view = show_page(&state, &agent, &csrf, id, None).await?;
    let version = view.values.version.clone();
    view.values = values;
    // After a stale save the form carries the current version, so saving again is a choice.
    view.values.version = version;
    view.errors = errors;
    view.alert = alert;
    respond(status, &view)
}

// ---------------------------------------------------------------------------------------------
// Members
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct AddMemberForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    primary: Option<String>,
    #[serde(default)]
    primary_contact: Option<String>,
}

/// `POST /agent/organizations/{id}/members`: adds the end user with this email address.
pub async fn add_member(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<AddMemberForm>,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersManage)?;
    let id = id_of(&id)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    if store::organizations::by_id(&mut tx, id).await?.is_none() {
        return Err(PageError::NotFound);
    }
    let email = form.email.trim();
    let user = if email.is_empty() {
        None
    } else {
        store::end_users::by_email(&mut tx, email).await?
    };
    let (status, message) = match user {
        None if email.is_empty() => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter the email address of an end user.".to_owned(),
        ),
        None => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("No end user has the address {email}. Add them to the directory first."),
        ),
        Some(user) => {
            let change = MembershipChange {
                primary: form.primary.is_some().then_some(true),
                primary_contact: Some(form.primary_contact.is_some()),
            };
            match store::organizations::put_member(&mut tx, id, user.id, change).await {
                Ok(_) => {
                    tx.commit().await?;
                    let to = format!("/agent/organizations/{id}?done=member-added");
                    return Ok(Redirect::to(&to).into_response());
                }
                Err(MembershipError::NotFound) => return Err(PageError::NotFound),
                Err(MembershipError::Store(error)) => return Err(error.into()),
            }
        }
    };
    drop(tx);
    let mut view = show_page(&state, &agent, &csrf, id, None).await?;
    view.member_email = form.email;
    view.member_error = Some(message);
    respond(status, &view)
}

#[derive(Deserialize)]
pub struct MemberForm {
    /// `primary`, `primary_contact`, or `not_primary_contact`.
    #[serde(default)]
    action: String,
}

/// `POST /agent/organizations/{id}/members/{user_id}`: makes this the member's primary
/// organization, or sets or clears their primary contact flag.
pub async fn change_member(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path((id, user_id)): Path<(String, String)>,
    CsrfForm(form): CsrfForm<MemberForm>,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersManage)?;
    let (id, user_id) = (id_of(&id)?, id_of(&user_id)?);
    let change = match form.action.as_str() {
        "primary" => MembershipChange {
            primary: Some(true),
            primary_contact: None,
        },
        "primary_contact" => MembershipChange {
            primary: None,
            primary_contact: Some(true),
        },
        "not_primary_contact" => MembershipChange {
            primary: None,
            primary_contact: Some(false),
        },
        _ => return Err(PageError::BadRequest("The form is incomplete.".into())),
    };
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    // Only an existing membership changes here; adding goes through the email form.
    if store::organizations::member(&mut tx, id, user_id)
        .await?
        .is_none()
    {
        return Err(PageError::NotFound);
    }
    match store::organizations::put_member(&mut tx, id, user_id, change).await {
        Ok(_) => {}
        Err(MembershipError::NotFound) => return Err(PageError::NotFound),
        Err(MembershipError::Store(error)) => return Err(error.into()),
    }
    tx.commit().await?;
    let to = format!("/agent/organizations/{id}?done=member-changed");
    Ok(Redirect::to(&to).into_response())
}

/// `POST /agent/organizations/{id}/members/{user_id}/remove`.
pub async fn remove_member(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path((id, user_id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersManage)?;
    let (id, user_id) = (id_of(&id)?, id_of(&user_id)?);
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    if !store::organizations::remove_member(&mut tx, id, user_id).await? {
        return Err(PageError::NotFound);
    }
    tx.commit().await?;
    let to = format!("/agent/organizations/{id}?done=member-removed");
    Ok(Redirect::to(&to).into_response())
}
