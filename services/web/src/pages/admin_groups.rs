//! Customer groups in the browser: the admin page `/admin/groups` (list, create, edit with
//! the default permission, delete; needs [`Permission::DirectoryConfigure`]) and the form
//! handlers the agent's user and organization pages post to for granting and revoking
//! (`/agent/users/{id}/groups...`, `/agent/organizations/{id}/groups...`; need
//! [`Permission::UsersManage`]), which redirect back to that page with a `?notice=`; and the
//! customer groups box an organization page includes (`admin_groups_organization_box.html`).
//!
//! Every form carries the CSRF token and follows post/redirect/get. Ids of another tenant's
//! groups, users or organizations answer the 404 page, exactly like ids that do not exist.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::Permission;
use serde::Deserialize;
use store::StoreError;
use store::customer_groups::{
    self as groups, CustomerGroup, GroupChange, GroupDescription, GroupName, GroupPermission,
    NewGroup, UpdateOutcome,
};
use uuid::Uuid;

use crate::AppState;
use crate::auth::SignedInAgent;
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::error::PageError;
use crate::pages::agent::EmptyForm;
use crate::pages::{Brand, render};

fn respond(status: StatusCode, page: &impl Template) -> Result<Response, PageError> {
    Ok((status, render(page)?).into_response())
}

/// The `{id}` of a page path: a UUID, or the 404 page.
fn id_of(raw: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(raw).map_err(|_| PageError::NotFound)
}

/// `path?notice=...`, the message encoded for a query string.
fn with_notice(path: &str, notice: &str) -> Response {
    let query = serde_urlencoded::to_string([("notice", notice)]).unwrap_or_default();
    Redirect::to(&format!("{path}?{query}")).into_response()
}

/// The default permission choices of a group form: none, read only, read and write.
const DEFAULT_CHOICES: [(&str, &str); 3] = [
    (
        "",
        "Nothing: only users and organizations granted the group",
    ),
    ("ro", "Read only, for every end user"),
    ("rw", "Read and write, for every end user"),
];

/// A group form's fields as entered.
#[derive(Default)]
struct GroupValues {
    name: String,
    description: String,
    default_permission: String,
}

impl GroupValues {
    fn of(group: &CustomerGroup) -> Self {
        Self {
            name: group.name.clone(),
            description: group.description.clone(),
            default_permission: group
                .default_permission
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
        }
    }
}

#[derive(Default)]
struct GroupErrors {
    name: Option<String>,
    description: Option<String>,
    default_permission: Option<String>,
}

impl GroupErrors {
    fn any(&self) -> bool {
        self.name.is_some() || self.description.is_some() || self.default_permission.is_some()
    }
}

#[derive(Deserialize)]
pub struct GroupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    default_permission: String,
    /// The version the edit form was opened at (absent on the create form).
    #[serde(default)]
    version: String,
}

/// The parsed form, or the values as entered with a message beside each wrong field.
fn parse_group_form(form: &GroupForm) -> (GroupValues, GroupErrors, Option<NewGroup>) {
    let mut errors = GroupErrors::default();
    let name = GroupName::parse(&form.name)
        .map_err(|why| {
            errors.name = Some(if form.name.trim().is_empty() {
                "Enter a name for the group.".to_owned()
            } else {
                format!("The name {why}.")
            })
        })
        .ok();
    let description = GroupDescription::parse(&form.description)
        .map_err(|why| errors.description = Some(format!("The description {why}.")))
        .ok();
    let default_permission = match form.default_permission.trim() {
        "" => Some(None),
        raw => match GroupPermission::parse(raw) {
            Some(p) => Some(Some(p)),
            None => {
                errors.default_permission = Some("Choose one of the options listed.".to_owned());
                None
            }
        },
    };
    let values = GroupValues {
        name: form.name.clone(),
        description: form.description.replace("\r\n", "\n"),
        default_permission: form.default_permission.trim().to_owned(),
    };
    let parsed = match (name, description, default_permission) {
        (Some(name), Some(description), Some(default_permission)) if !errors.any() => {
            Some(NewGroup {
                name,
                description,
                default_permission,
            })
        }
        _ => None,
    };
    (values, errors, parsed)
}

/// One group as the table lists it.
struct GroupRow {
    id: Uuid,
    name: String,
    description: String,
    default_permission: Option<GroupPermission>,
    users: i64,
    organizations: i64,
}

#[derive(Template)]
#[template(path = "admin_groups.html")]
struct GroupsPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    rows: Vec<GroupRow>,
    choices: [(&'static str, &'static str); 3],
    values: GroupValues,
    errors: GroupErrors,
    notice: Option<String>,
}

impl GroupsPage<'_> {
    /// The create form never shows a stale entry (the shared fields template asks).
    fn yours(&self, _field: &str) -> Option<&str> {
        None
    }
}

async fn groups_page<'a>(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &'a str,
    values: GroupValues,
) -> Result<GroupsPage<'a>, PageError> {
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let all = groups::list(&mut tx).await?;
    let counts: HashMap<Uuid, (i64, i64)> = groups::grant_counts(&mut tx).await?;
    tx.commit().await?;
    let rows = all
        .into_iter()
        .map(|group| {
            let (users, organizations) = counts.get(&group.id).copied().unwrap_or_default();
            GroupRow {
                id: group.id,
                name: group.name,
                description: group.description,
                default_permission: group.default_permission,
                users,
                organizations,
            }
        })
        .collect();
    Ok(GroupsPage {
        brand: Brand::from(&settings),
        section: "groups",
        csrf,
        rows,
        choices: DEFAULT_CHOICES,
        values,
        errors: GroupErrors::default(),
        notice: None,
    })
}

#[derive(Deserialize, Default)]
pub struct GroupsQuery {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    saved: Option<String>,
    /// The name of the group just deleted (it can no longer be looked up).
    #[serde(default)]
    deleted: Option<String>,
}

/// The groups page: every group with its default and how many grants it has, and the form to
/// create one.
pub async fn groups_list(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<GroupsQuery>,
) -> Result<Response, PageError> {
    agent.require(Permission::DirectoryConfigure)?;
    let mut page = groups_page(&state, &agent, &csrf, GroupValues::default()).await?;
    let named = |id: Option<&str>| {
        let id = Uuid::parse_str(id?).ok()?;
        page.rows
            .iter()
            .find(|row| row.id == id)
            .map(|row| row.name.clone())
    };
    page.notice = if let Some(name) = named(query.created.as_deref()) {
        Some(format!(
            "The group {name} is created. Grant it to end users and organizations on their pages."
        ))
    } else if let Some(name) = named(query.saved.as_deref()) {
        Some(format!("The group {name} is saved."))
    } else {
        query
            .deleted
            .filter(|name| !name.trim().is_empty())
            .map(|name| format!("The group {name} is deleted, with every grant on it."))
    };
    respond(StatusCode::OK, &page)
}

pub async fn create_group(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    CsrfForm(form): CsrfForm<GroupForm>,
) -> Result<Response, PageError> {
    agent.require(Permission::DirectoryConfigure)?;
    let (values, mut errors, parsed) = parse_group_form(&form);
    let status = match parsed {
        Some(new) => {
            let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
            match groups::create(&mut tx, &new).await {
                Ok(group) => {
                    tx.commit().await?;
                    return Ok(Redirect::to(&format!("/admin/groups?created={}", group.id))
                        .into_response());
                }
                Err(StoreError::Conflict { .. }) => {
                    errors.name = Some("A group with this name already exists.".to_owned());
                    StatusCode::CONFLICT
                }
                Err(error) => return Err(error.into()),
            }
        }
        None => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let mut page = groups_page(&state, &agent, &csrf, values).await?;
    page.errors = errors;
    respond(status, &page)
}

#[derive(Template)]
#[template(path = "admin_groups_edit.html")]
struct GroupEditPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    group_id: Uuid,
    group_name: String,
    version: i64,
    choices: [(&'static str, &'static str); 3],
    values: GroupValues,
    errors: GroupErrors,
    /// A banner above the form (someone saved meanwhile).
    alert: Option<String>,
    /// After a stale save: what this admin had entered, where it differs from the stored group.
    yours: Vec<(&'static str, String)>,
}

impl GroupEditPage<'_> {
    fn yours(&self, field: &str) -> Option<&str> {
        self.yours
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, value)| value.as_str())
    }
}

fn edit_page<'a>(
    settings: &store::settings::WorkspaceSettings,
    csrf: &'a str,
    group: &CustomerGroup,
) -> GroupEditPage<'a> {
    GroupEditPage {
        brand: Brand::from(settings),
        section: "groups",
        csrf,
        group_id: group.id,
        group_name: group.name.clone(),
        version: group.version,
        choices: DEFAULT_CHOICES,
        values: GroupValues::of(group),
        errors: GroupErrors::default(),
        alert: None,
        yours: Vec::new(),
    }
}

pub async fn group_form(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    agent.require(Permission::DirectoryConfigure)?;
    let id = id_of(&id)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let group = groups::by_id(&mut tx, id)
        .await?
        .ok_or(PageError::NotFound)?;
    tx.commit().await?;
    respond(StatusCode::OK, &edit_page(&settings, &csrf, &group))
}

fn default_label(raw: &str) -> String {
    DEFAULT_CHOICES
        .iter()
        .find(|(value, _)| *value == raw)
        .map_or_else(|| raw.to_owned(), |(_, label)| (*label).to_owned())
}

/// Saves the group when it is still at the version the form was opened at; otherwise shows
/// the stored group with what this admin entered beside each field that differs.
pub async fn save_group(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<GroupForm>,
) -> Result<Response, PageError> {
    agent.require(Permission::DirectoryConfigure)?;
    let id = id_of(&id)?;
    let (values, mut errors, parsed) = parse_group_form(&form);
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let group = groups::by_id(&mut tx, id)
        .await?
        .ok_or(PageError::NotFound)?;
    let expected = form.version.trim().parse::<i64>().ok();
    let status = match parsed {
        Some(new) => {
            let change = GroupChange {
                name: Some(new.name),
                description: Some(new.description),
                default_permission: Some(new.default_permission),
            };
            match groups::update(&mut tx, id, &change, expected).await {
                Ok(UpdateOutcome::Updated(group)) => {
                    tx.commit().await?;
                    return Ok(
                        Redirect::to(&format!("/admin/groups?saved={}", group.id)).into_response()
                    );
                }
                Ok(UpdateOutcome::NotFound) => return Err(PageError::NotFound),
                Ok(UpdateOutcome::Stale { .. }) => {
                    let mut page = edit_page(&settings, &csrf, &group);
                    page.alert = Some(
                        "Someone else saved this group meanwhile; nothing of yours was saved. The form shows the group as it is now; where your entry differs, it is shown beside the field. Review it and save again.".to_owned(),
                    );
                    let theirs = GroupValues::of(&group);
                    if values.name.trim() != theirs.name {
                        page.yours.push(("name", values.name.trim().to_owned()));
                    }
                    if values.description.trim() != theirs.description {
                        page.yours
                            .push(("description", values.description.trim().to_owned()));
                    }
                    if values.default_permission != theirs.default_permission {
                        page.yours.push((
                            "default_permission",
                            default_label(&values.default_permission),
                        ));
                    }
                    return respond(StatusCode::CONFLICT, &page);
                }
                Err(StoreError::Conflict { .. }) => {
                    errors.name = Some("A group with this name already exists.".to_owned());
                    StatusCode::CONFLICT
                }
                Err(error) => return Err(error.into()),
            }
        }
        None => StatusCode::UNPROCESSABLE_ENTITY,
    };
    // A refused write rolled back with the transaction; nothing half-written.
    drop(tx);
    let mut page = edit_page(&settings, &csrf, &group);
    page.values = values;
    page.errors = errors;
    if let Some(version) = expected {
        page.version = version;
    }
    respond(status, &page)
}

/// Deletes the group and every grant on it.
pub async fn delete_group(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    agent.require(Permission::DirectoryConfigure)?;
    let id = id_of(&id)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let group = groups::by_id(&mut tx, id)
        .await?
        .ok_or(PageError::NotFound)?;
    if !groups::delete(&mut tx, id).await? {
        return Err(PageError::NotFound);
    }
    tx.commit().await?;
    let query = serde_urlencoded::to_string([("deleted", group.name.as_str())]).unwrap_or_default();
    Ok(Redirect::to(&format!("/admin/groups?{query}")).into_response())
}

// ---------------------------------------------------------------------------------------------
// Grants, posted from the agent's user and organization pages
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct GrantForm {
    #[serde(default)]
    group_id: String,
    #[serde(default)]
    permission: String,
}

/// A grant form's group and permission, or the notice saying what to choose.
fn parse_grant(form: &GrantForm) -> Result<(Uuid, GroupPermission), &'static str> {
    let group = Uuid::parse_str(form.group_id.trim())
        .map_err(|_| "Nothing was granted: choose one of the groups listed.")?;
    let permission = GroupPermission::parse(&form.permission)
        .ok_or("Nothing was granted: choose read only or read and write.")?;
    Ok((group, permission))
}

/// Who a grant goes to: an end user or an organization.
#[derive(Clone, Copy)]
enum Holder {
    User,
    Organization,
}

impl Holder {
    fn page(self, id: Uuid) -> String {
        match self {
            Self::User => format!("/agent/users/{id}"),
            Self::Organization => format!("/agent/organizations/{id}"),
        }
    }

    /// The holder's name; `None` when not in this tenant.
    async fn name(self, tx: &mut store::TenantTx, id: Uuid) -> Result<Option<String>, PageError> {
        Ok(match self {
            Self::User => groups::end_user_name(tx, id).await?,
            Self::Organization => groups::organization_name(tx, id).await?,
        })
    }
}

async fn grant(
    state: &AppState,
    agent: &SignedInAgent,
    holder: Holder,
    id: &str,
    form: &GrantForm,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersManage)?;
    let id = id_of(id)?;
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let name = holder.name(&mut tx, id).await?.ok_or(PageError::NotFound)?;
    let (group_id, permission) = match parse_grant(form) {
        Ok(parsed) => parsed,
        Err(why) => return Ok(with_notice(&holder.page(id), why)),
    };
    let group = groups::by_id(&mut tx, group_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let granted = match holder {
        Holder::User => groups::grant_to_user(&mut tx, group_id, id, permission).await?,
        Holder::Organization => {
            groups::grant_to_organization(&mut tx, group_id, id, permission).await?
        }
    };
    if !granted {
        return Err(PageError::NotFound);
    }
    tx.commit().await?;
    let notice = match holder {
        Holder::User => format!("{name} now has {} on {}.", permission.label(), group.name),
        Holder::Organization => format!(
            "{name} now has {} on {}, and so does each of its members.",
            permission.label(),
            group.name
        ),
    };
    Ok(with_notice(&holder.page(id), &notice))
}

async fn revoke(
    state: &AppState,
    agent: &SignedInAgent,
    holder: Holder,
    id: &str,
    group_id: &str,
) -> Result<Response, PageError> {
    agent.require(Permission::UsersManage)?;
    let (id, group_id) = (id_of(id)?, id_of(group_id)?);
    let mut tx = state.store.begin_tenant(agent.tenant.id).await?;
    let name = holder.name(&mut tx, id).await?.ok_or(PageError::NotFound)?;
    let group = groups::by_id(&mut tx, group_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let revoked = match holder {
        Holder::User => groups::revoke_from_user(&mut tx, group_id, id).await?,
        Holder::Organization => groups::revoke_from_organization(&mut tx, group_id, id).await?,
    };
    tx.commit().await?;
    // A second click on the same button finds nothing to revoke: say so, not 404.
    let notice = match (revoked, holder) {
        (true, Holder::User) => format!(
            "{name}'s own grant on {} is revoked; grants through organizations and the default stay.",
            group.name
        ),
        (true, Holder::Organization) => format!("{name}'s grant on {} is revoked.", group.name),
        (false, _) => format!("{name} had no grant on {}; nothing changed.", group.name),
    };
    Ok(with_notice(&holder.page(id), &notice))
}

/// `POST /agent/users/{id}/groups` (group_id, permission): grants the group to the end user.
pub async fn grant_to_user(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<GrantForm>,
) -> Result<Response, PageError> {
    grant(&state, &agent, Holder::User, &id, &form).await
}

/// `POST /agent/users/{id}/groups/{group_id}/revoke`: removes the user's own grant.
pub async fn revoke_from_user(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path((id, group_id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    revoke(&state, &agent, Holder::User, &id, &group_id).await
}

/// `POST /agent/organizations/{id}/groups` (group_id, permission): grants the group to the
/// organization and so to its members.
pub async fn grant_to_organization(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<GrantForm>,
) -> Result<Response, PageError> {
    grant(&state, &agent, Holder::Organization, &id, &form).await
}

/// `POST /agent/organizations/{id}/groups/{group_id}/revoke`.
pub async fn revoke_from_organization(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path((id, group_id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    revoke(&state, &agent, Holder::Organization, &id, &group_id).await
}

// ---------------------------------------------------------------------------------------------
// The customer groups box of the organization page
// ---------------------------------------------------------------------------------------------

/// One group granted to an organization, as its page lists it.
#[allow(
    dead_code,
    reason = "the organization page (pages::organizations) includes the box once wired in"
)]
pub struct OrganizationGrantRow {
    pub group_id: Uuid,
    pub group_name: String,
    pub permission: GroupPermission,
}

/// What `admin_groups_organization_box.html` shows: the organization's grants and, for agents
/// who may manage users, the form to grant another group. A page includes the template with
/// this in a field named `groups_box` beside its `csrf`.
#[allow(
    dead_code,
    reason = "the organization page (pages::organizations) includes the box once wired in"
)]
pub struct OrganizationGroupsBox {
    pub organization_id: Uuid,
    pub grants: Vec<OrganizationGrantRow>,
    /// Every group of the tenant, for the grant form (empty when the agent cannot grant).
    pub choices: Vec<(Uuid, String)>,
    pub can_manage: bool,
}

/// The box's data, read in the page's own transaction.
#[allow(
    dead_code,
    reason = "the organization page (pages::organizations) includes the box once wired in"
)]
pub async fn organization_groups_box(
    tx: &mut store::TenantTx,
    organization_id: Uuid,
    agent: &SignedInAgent,
) -> Result<OrganizationGroupsBox, PageError> {
    let can_manage = agent.agent.can(Permission::UsersManage);
    let grants = groups::organization_grants(tx, organization_id)
        .await?
        .into_iter()
        .map(|(group, permission)| OrganizationGrantRow {
            group_id: group.id,
            group_name: group.name,
            permission,
        })
        .collect();
    let choices = if can_manage {
        groups::list(tx)
            .await?
            .into_iter()
            .map(|group| (group.id, group.name))
            .collect()
    } else {
        Vec::new()
    };
    Ok(OrganizationGroupsBox {
        organization_id,
        grants,
        choices,
        can_manage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, description: &str, default_permission: &str) -> GroupForm {
        GroupForm {
            name: name.into(),
            description: description.into(),
            default_permission: default_permission.into(),
            version: String::new(),
        }
    }

    #[test]
    fn a_group_form_parses_or_names_each_wrong_field() {
        let (_, errors, parsed) = parse_group_form(&form(" Billing ", "Invoices", "ro"));
        assert!(!errors.any());
        let parsed = parsed.expect("valid");
        assert_eq!(parsed.name.as_str(), "Billing");
        assert_eq!(parsed.default_permission, Some(GroupPermission::Ro));

        let (values, errors, parsed) = parse_group_form(&form("", &"x".repeat(501), "all"));
        assert!(parsed.is_none());
        assert!(errors.name.is_some());
        assert!(errors.description.is_some());
        assert!(errors.default_permission.is_some());
        assert_eq!(values.default_permission, "all");
    }

    /// The box as an including page renders it.
    #[derive(Template)]
    #[template(
        source = "{% include \"admin_groups_organization_box.html\" %}",
        ext = "html"
    )]
    struct BoxHost<'a> {
        csrf: &'a str,
        groups_box: OrganizationGroupsBox,
    }

    #[test]
    fn the_organization_box_lists_grants_and_offers_the_grant_form_to_managers() {
        let organization_id = Uuid::now_v7();
        let group_id = Uuid::now_v7();
        let host = |can_manage: bool| BoxHost {
            csrf: "token123",
            groups_box: OrganizationGroupsBox {
                organization_id,
                grants: vec![OrganizationGrantRow {
                    group_id,
                    group_name: "Billing <&>".into(),
                    permission: GroupPermission::Rw,
                }],
                choices: if can_manage {
                    vec![(group_id, "Billing <&>".into())]
                } else {
                    Vec::new()
                },
                can_manage,
            },
        };
        let html = host(true).render().expect("render");
        assert!(html.contains("Billing &#60;&#38;&#62;") || html.contains("Billing &lt;&amp;&gt;"));
        assert!(html.contains("read and write (<code>rw</code>)"));
        assert!(html.contains(&format!(
            "/agent/organizations/{organization_id}/groups/{group_id}/revoke"
        )));
        assert!(html.contains(&format!(
            "action=\"/agent/organizations/{organization_id}/groups\""
        )));
        assert!(html.contains("value=\"token123\""));
        let html = host(false).render().expect("render");
        assert!(!html.contains("<form"), "readers see the grants only");
    }

    #[test]
    fn a_grant_needs_a_group_and_ro_or_rw() {
        let grant = |group_id: &str, permission: &str| {
            parse_grant(&GrantForm {
                group_id: group_id.into(),
                permission: permission.into(),
            })
        };
        let id = Uuid::now_v7();
        assert_eq!(grant(&id.to_string(), "rw"), Ok((id, GroupPermission::Rw)));
        assert!(grant("", "rw").is_err());
        assert!(grant(&id.to_string(), "admin").is_err());
    }
}
