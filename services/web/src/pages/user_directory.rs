//! `/agent/users`: the end-user directory for agents. The list searches (substring, `*` as a
//! wildcard), filters by validity, organization, customer group and custom field, sorts and
//! pages with a cursor, all as a plain GET form; the user page shows the whole record, their
//! organizations, their effective customer-group permissions with where each comes from, and
//! offers editing (users.manage), an invitation, and erasure (users.erase).

use askama::Template;
use axum::extract::{Path, Query, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use domain::custom_fields::{FieldDefinition, FieldEntity, display_value, text_value};
use domain::{Permission, Validity};
use serde::Deserialize;
use serde_json::{Map, Value};
use store::customer_groups::{CustomerGroup, EffectiveGroup, GrantSource};
use store::organizations::Membership;
use store::user_directory::{Actor, PROFILE_FIELDS, Profile, UserRecord, UserSort};
use uuid::Uuid;

use crate::AppState;
use crate::auth::SignedInAgent;
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::directory::{self, DirectoryError, UserChanges};
use crate::error::PageError;
use crate::pages::agent::EmptyForm;
use crate::pages::{Brand, render};

/// A column of the list beyond the fixed ones: a custom field shown as a directory column.
struct CustomColumn {
    key: String,
    label: String,
}

struct ListRow {
    id: Uuid,
    name: String,
    email: String,
    login: String,
    organization: Option<String>,
    validity: Validity,
    erased: bool,
    created: String,
    custom: Vec<String>,
}

/// A sortable column header: the link sorts by it, reversing when it is the current sort.
struct SortLink {
    label: &'static str,
    href: String,
    current: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "agent_users.html")]
struct ListPage {
    brand: Brand,
    section: &'static str,
    q: String,
    validity: String,
    group: String,
    organization: String,
    organization_name: Option<String>,
    field: String,
    value: String,
    groups: Vec<CustomerGroup>,
    fields: Vec<FieldDefinition>,
    columns: Vec<CustomColumn>,
    sorts: Vec<SortLink>,
    rows: Vec<ListRow>,
    next_page: Option<String>,
    errors: Vec<String>,
    can_manage: bool,
    validities: [Validity; 3],
}

/// The list's parameters as the page's form sends them; `field` + `value` become one
/// `custom.<key>` filter.
fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let (field, value) = (get("field"), get("value"));
    let mut out: Vec<(String, String)> = pairs
        .iter()
        .filter(|(n, _)| n != "field" && n != "value")
        .cloned()
        .collect();
    if !field.is_empty() && !value.is_empty() {
        out.push((format!("custom.{field}"), value));
    }
    out
}

fn link_with(pairs: &[(String, String)], replace: &[(&str, Option<String>)]) -> String {
    let mut kept: Vec<(String, String)> = pairs
        .iter()
        .filter(|(n, v)| !v.is_empty() && !replace.iter().any(|(r, _)| r == n))
        .cloned()
        .collect();
    for (name, value) in replace {
        if let Some(value) = value {
            kept.push(((*name).to_owned(), value.clone()));
        }
    }
    format!(
        "/agent/users?{}",
        serde_urlencoded::to_string(&kept).unwrap_or_default()
    )
}

pub async fn list(
    State(state): State<AppState>,
    agent: SignedInAgent,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersRead)?;
    let raw_pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let pairs = query_pairs(raw.as_deref());
    let get = |name: &str| {
        raw_pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let fields = store::custom_fields::active(&mut tx, FieldEntity::User).await?;
    let groups = store::customer_groups::list(&mut tx).await?;
    let mut errors = Vec::new();
    let (records, next) = match directory::user_query(&pairs, &fields) {
        Ok(query) => {
            let page = store::user_directory::list(&mut tx, &query).await?;
            (page.items, page.next)
        }
        Err(DirectoryError::Invalid(problems)) => {
            errors = problems
                .into_iter()
                .map(|(field, message)| format!("{field} {message}"))
                .collect();
            (Vec::new(), None)
        }
        Err(other) => return Err(PageError::Internal(Box::new(other))),
    };
    let organization = get("organization");
    let organization_name = match Uuid::parse_str(&organization) {
        Ok(id) => store::organizations::by_id(&mut tx, id)
            .await?
            .map(|organization| organization.name),
        Err(_) => None,
    };
    tx.commit().await?;

    let columns: Vec<CustomColumn> = fields
        .iter()
        .filter(|f| f.directory_column)
        .map(|f| CustomColumn {
            key: f.key.clone(),
            label: f.label.clone(),
        })
        .collect();
    let rows = records
        .into_iter()
        .map(|r| ListRow {
            id: r.id,
            name: r.name.clone(),
            login: r.login().to_owned(),
            email: r.profile.email.clone(),
            organization: r.primary_organization.as_ref().map(|o| o.name.clone()),
            validity: r.validity,
            erased: r.erased_at.is_some(),
            created: r.created_at.format("%Y-%m-%d").to_string(),
            custom: columns
                .iter()
                .map(|c| {
                    r.profile
                        .custom
                        .get(&c.key)
                        .map(display_value)
                        .unwrap_or_default()
                })
                .collect(),
        })
        .collect();
    let sort = get("sort");
    let sorts = directory::USER_SORTS
        .iter()
        .map(|(name, which)| {
            let label = match which {
                UserSort::Name => "Name",
                UserSort::Email => "Email",
                UserSort::Organization => "Organization",
                UserSort::Created => "Created",
            };
            let current = if sort == *name || (sort.is_empty() && *name == "name") {
                Some("ascending")
            } else if sort.strip_prefix('-') == Some(name) {
                Some("descending")
            } else {
                None
            };
            let next_sort = if current == Some("ascending") {
                format!("-{name}")
            } else {
                (*name).to_owned()
            };
            SortLink {
                label,
                href: link_with(&raw_pairs, &[("sort", Some(next_sort)), ("cursor", None)]),
                current,
            }
        })
        .collect();
    let next_page = next.map(|after| link_with(&raw_pairs, &[("cursor", Some(after.encode()))]));
    render(&ListPage {
        brand: Brand::from(&settings),
        section: "users",
        q: get("q"),
        validity: get("validity"),
        group: get("group"),
        organization,
        organization_name,
        field: get("field"),
        value: get("value"),
        groups,
        fields,
        columns,
        sorts,
        rows,
        next_page,
        errors,
        can_manage: agent.agent.can(Permission::UsersManage),
        validities: Validity::ALL,
    })
    .map(IntoResponse::into_response)
}

/// One field of the user form with its current text and error.
struct FormField {
    name: String,
    label: String,
    value: String,
    error: Option<String>,
    kind: &'static str,
    help: String,
    options: Vec<String>,
    required: bool,
    /// The sign-in provider that keeps this field (shown read-only), if any.
    kept_by: Option<String>,
}

impl FormField {
    fn is_selected(&self, option: &String) -> bool {
        self.value
            .split(['|', ','])
            .any(|chosen| chosen.trim() == option)
    }
}

const PROFILE_LABELS: [(&str, &str, &str); 14] = [
    ("title", "Title", "text"),
    ("first_name", "First name", "text"),
    ("last_name", "Last name", "text"),
    ("email", "Email", "email"),
    ("login", "Login (username; empty: the email)", "text"),
    ("phone", "Phone", "tel"),
    ("fax", "Fax", "tel"),
    ("mobile", "Mobile", "tel"),
    ("street", "Street", "text"),
    ("zip", "Postcode", "text"),
    ("city", "City", "text"),
    ("country", "Country (ISO code, e.g. DE)", "text"),
    ("comment", "Comment", "textarea"),
    ("validity", "Validity", "validity"),
];

fn form_fields(
    profile: &Profile,
    custom_fields: &[FieldDefinition],
    typed: Option<&[(String, String)]>,
    errors: &[(String, String)],
    kept: &std::collections::BTreeMap<String, String>,
) -> Vec<FormField> {
    let typed_value = |name: &str| -> Option<String> {
        typed?
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let error_of = |name: &str| -> Option<String> {
        let joined: Vec<&str> = errors
            .iter()
            .filter(|(field, _)| field == name)
            .map(|(_, m)| m.as_str())
            .collect();
        (!joined.is_empty()).then(|| joined.join("; "))
    };
    let mut out: Vec<FormField> = PROFILE_LABELS
        .iter()
        .map(|(name, label, kind)| FormField {
            name: (*name).to_owned(),
            label: (*label).to_owned(),
            value: typed_value(name).unwrap_or_else(|| profile.text(name)),
            error: error_of(name),
            kind,
            help: String::new(),
            options: Vec::new(),
            required: matches!(*name, "first_name" | "last_name" | "email"),
            kept_by: kept.get(*name).cloned(),
        })
        .collect();
    for field in custom_fields {
        let name = format!("custom.{}", field.key);
        let stored = profile
            .custom
            .get(&field.key)
            .map(text_value)
            .unwrap_or_default();
        out.push(FormField {
            value: typed_value(&name).unwrap_or(stored),
            error: error_of(&name),
            name,
            label: field.label.clone(),
            kind: match field.field_type.as_str() {
                "long_text" => "textarea",
                "choice" => "choice",
                "multi_choice" => "multi_choice",
                "boolean" => "boolean",
                "date" => "date",
                "number" | "decimal" => "number",
                "email" => "email",
                "url" => "url",
                "phone" => "tel",
                _ => "text",
            },
            help: field.help_text.clone(),
            options: field.options.clone(),
            required: field.required,
            kept_by: kept.get(&format!("custom.{}", field.key)).cloned(),
        });
    }
    out
}

/// The form's fields as typed changes: profile text, and custom values parsed from text.
fn changes_from_form(
    form: &[(String, String)],
    custom_fields: &[FieldDefinition],
) -> Result<UserChanges, DirectoryError> {
    let mut text = Vec::new();
    let mut custom = Map::new();
    let mut errors = Vec::new();
    for name in PROFILE_FIELDS {
        if let Some((_, value)) = form.iter().find(|(n, _)| n == name) {
            text.push((name.to_owned(), value.clone()));
        }
    }
    for field in custom_fields {
        let name = format!("custom.{}", field.key);
        // Several checked boxes of a multi-choice field come as several values.
        let values: Vec<&str> = form
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        let joined = values.join("|");
        match domain::custom_fields::parse_text_value(field, &joined) {
            Ok(value) => {
                custom.insert(field.key.clone(), value);
            }
            Err(message) => errors.push((name, message)),
        }
    }
    if !errors.is_empty() {
        return Err(DirectoryError::Invalid(errors));
    }
    Ok(UserChanges {
        text,
        custom: Some(custom),
        ..Default::default()
    })
}

#[derive(Template)]
#[template(path = "agent_user_form.html")]
struct FormPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    heading: String,
    action: String,
    version: Option<i64>,
    fields: Vec<FormField>,
    alert: Option<String>,
    new: bool,
    validities: [Validity; 3],
}

async fn brand_of(state: &AppState, agent: &SignedInAgent) -> Result<Brand, PageError> {
    Ok(Brand::from(
        state
            .settings
            .get(&state.store, agent.tenant.id)
            .await?
            .as_ref(),
    ))
}

pub async fn new_form(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersManage)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let fields = store::custom_fields::active(&mut tx, FieldEntity::User).await?;
    tx.commit().await?;
    let profile = Profile::default();
    render(&FormPage {
        brand: brand_of(&state, &agent).await?,
        section: "users",
        csrf: &csrf,
        heading: "New end user".into(),
        action: "/agent/users/new".into(),
        version: None,
        fields: form_fields(&profile, &fields, None, &[], &Default::default()),
        alert: None,
        new: true,
        validities: Validity::ALL,
    })
    .map(IntoResponse::into_response)
}

fn form_pairs(form: &[(String, String)]) -> Vec<(String, String)> {
    form.iter().filter(|(n, _)| n != "csrf").cloned().collect()
}

pub async fn create(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    CsrfForm(form): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersManage)?;
    let typed = form_pairs(&form);
    let invite = typed
        .iter()
        .any(|(n, v)| n == "send_invitation" && v == "on");
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let fields = store::custom_fields::active(&mut tx, FieldEntity::User).await?;
    let outcome = match changes_from_form(&typed, &fields) {
        Ok(changes) => {
            directory::create_user(&mut tx, &fields, &changes, Actor::Agent(agent.agent.id)).await
        }
        Err(error) => Err(error),
    };
    let outcome = match outcome {
        Ok(record) if invite => directory::invite(&state, &mut tx, &agent.tenant, &record)
            .await
            .map(|()| record),
        other => other,
    };
    match outcome {
        Ok(record) => {
            tx.commit().await?;
            let done = if invite { "created-invited" } else { "created" };
            Ok(Redirect::to(&format!("/agent/users/{}?done={done}", record.id)).into_response())
        }
        Err(error) => {
            drop(tx);
            let (errors, alert) = form_errors(error)?;
            render(&FormPage {
                brand: brand_of(&state, &agent).await?,
                section: "users",
                csrf: &csrf,
                heading: "New end user".into(),
                action: "/agent/users/new".into(),
                version: None,
                fields: form_fields(
                    &Profile::default(),
                    &fields,
                    Some(&typed),
                    &errors,
                    &Default::default(),
                ),
                alert: Some(alert),
                new: true,
                validities: Validity::ALL,
            })
            .map(IntoResponse::into_response)
        }
    }
}

/// Field errors and the alert above the form for a refused change.
fn form_errors(error: DirectoryError) -> Result<(Vec<(String, String)>, String), PageError> {
    const NOTHING_SAVED: &str = "Nothing was saved. Correct the fields marked below and try again.";
    Ok(match error {
        DirectoryError::Invalid(errors) => (errors, NOTHING_SAVED.into()),
        DirectoryError::Conflict(field) => (
            vec![(
                field.to_owned(),
                format!("another end user already has this {field}"),
            )],
            NOTHING_SAVED.into(),
        ),
        DirectoryError::Stale => (
            Vec::new(),
            "Someone changed this user while you were editing. Nothing was saved; the form \
             shows your values over the current record."
                .into(),
        ),
        DirectoryError::Refused(message) => (Vec::new(), message),
        DirectoryError::NotFound => return Err(PageError::NotFound),
        DirectoryError::Store(error) => return Err(error.into()),
        DirectoryError::Internal(error) => return Err(PageError::Internal(error)),
    })
}

struct GroupRow {
    id: Uuid,
    name: String,
    permission: &'static str,
    sources: Vec<String>,
    direct: bool,
}

fn group_rows(effective: Vec<EffectiveGroup>) -> Vec<GroupRow> {
    effective
        .into_iter()
        .map(|group| GroupRow {
            direct: group
                .sources
                .iter()
                .any(|(source, _)| matches!(source, GrantSource::Direct)),
            sources: group
                .sources
                .iter()
                .map(|(source, permission)| {
                    let from = match source {
                        GrantSource::Direct => "granted directly".to_owned(),
                        GrantSource::Organization { name, .. } => format!("via {name}"),
                        GrantSource::Default => "default for every user".to_owned(),
                    };
                    format!("{} {from}", permission.as_str())
                })
                .collect(),
            id: group.group_id,
            name: group.group_name,
            permission: group.permission.as_str(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "agent_user.html")]
struct UserPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    user: UserRecord,
    details: Vec<(String, String)>,
    memberships: Vec<Membership>,
    groups: Vec<GroupRow>,
    all_groups: Vec<CustomerGroup>,
    notice: Option<String>,
    alert: Option<String>,
    can_manage: bool,
    can_erase: bool,
    erased_by: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct UserQuery {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    notice: Option<String>,
}

fn id_of(raw: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(raw).map_err(|_| PageError::NotFound)
}

pub async fn show(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    Query(query): Query<UserQuery>,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersRead)?;
    let id = id_of(&id)?;
    let notice = match query.done.as_deref() {
        Some("created") => Some("The end user is created.".to_owned()),
        Some("created-invited") => Some(
            "The end user is created and an invitation to choose a password was sent.".to_owned(),
        ),
        Some("saved") => Some("Your changes are saved.".to_owned()),
        Some("invited") => Some("An invitation to choose a password was sent.".to_owned()),
        Some("erased") => Some(
            "The person's data is erased. Their tickets remain, showing the requester as erased."
                .to_owned(),
        ),
        _ => query.notice.clone(),
    };
    user_page(&state, &agent, &csrf, id, notice, None).await
}

async fn user_page(
    state: &AppState,
    agent: &SignedInAgent,
    csrf: &str,
    id: Uuid,
    notice: Option<String>,
    alert: Option<String>,
) -> Result<Response, PageError> {
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let user = store::user_directory::by_id(&mut tx, id)
        .await?
        .ok_or(PageError::NotFound)?;
    let fields = store::custom_fields::active(&mut tx, FieldEntity::User).await?;
    let memberships = store::organizations::memberships(&mut tx, id).await?;
    let groups = group_rows(store::customer_groups::effective_for_user(&mut tx, id).await?);
    let all_groups = store::customer_groups::list(&mut tx).await?;
    let erased_by = match user.erased_by {
        Some(agent_id) => store::agents::by_id(&mut tx, agent_id)
            .await?
            .map(|a| a.name),
        None => user.erased_by_token.map(|_| "an API token".to_owned()),
    };
    let settings = store::settings::load(&mut tx).await?;
    tx.commit().await?;
    // A value a sign-in provider keeps says where it comes from.
    let sourced = |field: &str, value: String| match user.directory_fields.get(field) {
        Some(provider) => format!("{value} (from {provider})"),
        None => value,
    };
    let mut details: Vec<(String, String)> = PROFILE_LABELS
        .iter()
        .filter(|(name, _, _)| !matches!(*name, "first_name" | "last_name" | "validity"))
        .map(|(name, label, _)| ((*label).to_owned(), user.profile.text(name)))
        .filter(|(_, value)| !value.is_empty())
        .map(|(label, value)| {
            let field = PROFILE_LABELS
                .iter()
                .find(|(_, l, _)| *l == label)
                .map_or("", |(name, _, _)| *name);
            let value = sourced(field, value);
            (label, value)
        })
        .collect();
    if user.profile.login.is_none() {
        details.retain(|(label, _)| !label.starts_with("Login"));
    }
    for field in &fields {
        if let Some(value) = user.profile.custom.get(&field.key)
            && !matches!(value, Value::Null)
        {
            details.push((
                field.label.clone(),
                sourced(&format!("custom.{}", field.key), display_value(value)),
            ));
        }
    }
    render(&UserPage {
        brand: Brand::from(&settings),
        section: "users",
        csrf,
        details,
        memberships,
        groups,
        all_groups,
        notice,
        alert,
        can_manage: agent.agent.can(Permission::UsersManage) && user.erased_at.is_none(),
        can_erase: agent.agent.can(Permission::UsersErase) && user.erased_at.is_none(),
        erased_by,
        user,
    })
    .map(IntoResponse::into_response)
}

pub async fn edit_form(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersManage)?;
    let id = id_of(&id)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let user = store::user_directory::by_id(&mut tx, id)
        .await?
        .ok_or(PageError::NotFound)?;
    let fields = store::custom_fields::active(&mut tx, FieldEntity::User).await?;
    tx.commit().await?;
    if user.erased_at.is_some() {
        return Ok(Redirect::to(&format!("/agent/users/{id}")).into_response());
    }
    render(&FormPage {
        brand: brand_of(&state, &agent).await?,
        section: "users",
        csrf: &csrf,
        heading: format!("Edit {}", user.name),
        action: format!("/agent/users/{id}/edit"),
        version: Some(user.version),
        fields: form_fields(&user.profile, &fields, None, &[], &user.directory_fields),
        alert: None,
        new: false,
        validities: Validity::ALL,
    })
    .map(IntoResponse::into_response)
}

pub async fn update(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersManage)?;
    let id = id_of(&id)?;
    let typed = form_pairs(&form);
    let version = typed
        .iter()
        .find(|(n, _)| n == "version")
        .and_then(|(_, v)| v.parse::<i64>().ok());
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let fields = store::custom_fields::active(&mut tx, FieldEntity::User).await?;
    let outcome = match changes_from_form(&typed, &fields) {
        Ok(changes) => {
            directory::update_user(
                &mut tx,
                &fields,
                id,
                version,
                &changes,
                Actor::Agent(agent.agent.id),
            )
            .await
        }
        Err(error) => Err(error),
    };
    match outcome {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/agent/users/{id}?done=saved")).into_response())
        }
        Err(error) => {
            let current = store::user_directory::by_id(&mut tx, id)
                .await?
                .ok_or(PageError::NotFound)?;
            drop(tx);
            let (errors, alert) = form_errors(error)?;
            render(&FormPage {
                brand: brand_of(&state, &agent).await?,
                section: "users",
                csrf: &csrf,
                heading: format!("Edit {}", current.name),
                action: format!("/agent/users/{id}/edit"),
                version: Some(current.version),
                fields: form_fields(
                    &current.profile,
                    &fields,
                    Some(&typed),
                    &errors,
                    &current.directory_fields,
                ),
                alert: Some(alert),
                new: false,
                validities: Validity::ALL,
            })
            .map(IntoResponse::into_response)
        }
    }
}

pub async fn invite(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersManage)?;
    let id = id_of(&id)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let user = store::user_directory::by_id(&mut tx, id)
        .await?
        .ok_or(PageError::NotFound)?;
    match directory::invite(&state, &mut tx, &agent.tenant, &user).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/agent/users/{id}?done=invited")).into_response())
        }
        Err(error) => {
            drop(tx);
            let (_, alert) = form_errors(error)?;
            user_page(&state, &agent, &csrf, id, None, Some(alert)).await
        }
    }
}

#[derive(Deserialize)]
pub struct EraseForm {
    #[serde(default)]
    confirm: Option<String>,
}

pub async fn erase(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<EraseForm>,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersErase)?;
    let id = id_of(&id)?;
    if form.confirm.as_deref() != Some("on") {
        return user_page(
            &state,
            &agent,
            &csrf,
            id,
            None,
            Some("Nothing was erased: tick the box to confirm that the data goes for good.".into()),
        )
        .await;
    }
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    match directory::erase_user(&mut tx, id, Actor::Agent(agent.agent.id)).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/agent/users/{id}?done=erased")).into_response())
        }
        Err(error) => {
            drop(tx);
            let (_, alert) = form_errors(error)?;
            user_page(&state, &agent, &csrf, id, None, Some(alert)).await
        }
    }
}
