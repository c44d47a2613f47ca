//! The tenant admin's identity pages under `/admin`: agents (invite, change role, disable and
//! enable), roles (the permission matrix, tenant-defined roles) and API tokens (create with
//! the secret shown once, revoke). Each page needs its own permission
//! ([`Permission::AgentsManage`], [`Permission::RolesManage`], [`Permission::ApiTokensManage`]);
//! every form carries the CSRF token and follows post/redirect/get, except token creation,
//! whose answer shows the secret once and is never redirected to.
//!
//! The rules are the API's, from one place: [`agents::invite`], [`agents::change`] and
//! [`agents::update_role`] (never leave the workspace without an agent who can manage agents),
//! [`agents::grantable`] (nobody grants a permission they do not hold). Ids of another tenant's
//! agents, roles or tokens answer the 404 page, exactly like ids that do not exist.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Days, NaiveDate, Utc};
use domain::{EmailAddress, Permission, TenantName, TokenName};
use serde::Deserialize;
use store::StoreError;
use store::agents::{Agent, AgentChange, AgentStatus, Role};
use store::tokens::{ApiToken, NewToken};
use uuid::Uuid;

use crate::AppState;
use crate::agents::{self, ChangeError, INVITATION_VALID_FOR, LAST_MANAGER};
use crate::api::page::PageQuery;
use crate::auth::SignedInAgent;
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::error::PageError;
use crate::mailer::MailerError;
use crate::pages::agent::EmptyForm;
use crate::pages::{Brand, render};

/// The agent, if their role holds `permission`; 403 otherwise.
fn allowed(agent: SignedInAgent, permission: Permission) -> Result<SignedInAgent, PageError> {
    agent.require(permission)?;
    Ok(agent)
}

fn respond(status: StatusCode, page: &impl Template) -> Result<Response, PageError> {
    Ok((status, render(page)?).into_response())
}

/// A time as the tables show it.
fn when(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The `{id}` of a page path: a UUID, or the 404 page.
fn id_of(raw: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(raw).map_err(|_| PageError::NotFound)
}

/// "a, b and c" of permission keys, for messages.
fn keys(permissions: &[Permission]) -> String {
    permissions
        .iter()
        .map(|p| p.key())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A page of `items` (sorted by id) as the API pages it; a cursor or limit this site never
/// gave out is a 400 page.
fn page_of<T>(
    query: &PageQuery,
    items: Vec<T>,
    id: impl Fn(&T) -> Uuid,
) -> Result<(Vec<T>, Option<String>), PageError> {
    let page = query.page(items, id, |item| item).map_err(|_| {
        PageError::BadRequest("This list has no such page. Go back to its first page.".into())
    })?;
    Ok((page.data, page.next_cursor))
}

/// A form as sent: every name with its values, for repeated fields (checkboxes).
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

    fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The permissions checked under `permissions`; keys that name none are errors.
    fn permissions(&self) -> (Vec<Permission>, Vec<String>) {
        let mut chosen = Vec::new();
        let mut unknown = Vec::new();
        for key in self.all("permissions") {
            match Permission::parse(key) {
                Some(permission) if !chosen.contains(&permission) => chosen.push(permission),
                Some(_) => {}
                None => unknown.push(format!("\"{key}\" is not a permission.")),
            }
        }
        (chosen, unknown)
    }
}

/// One permission checkbox of a form.
struct PermissionBox {
    permission: Permission,
    checked: bool,
    /// The signed-in agent does not hold it, so cannot grant (or take away) it.
    fixed: bool,
}

fn permission_boxes(checked: &[Permission], holder: &[Permission]) -> Vec<PermissionBox> {
    Permission::ALL
        .into_iter()
        .map(|permission| PermissionBox {
            permission,
            checked: checked.contains(&permission),
            fixed: !holder.contains(&permission),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Agents
// ---------------------------------------------------------------------------------------------

/// One agent as the table lists it.
struct AgentRow {
    id: Uuid,
    name: String,
    email: String,
    role_id: Uuid,
    role_name: String,
    status: &'static str,
    last_sign_in: Option<DateTime<Utc>>,
    /// The signed-in agent may change this one (their role holds nothing the viewer lacks).
    manageable: bool,
}

impl AgentRow {
    fn status_label(&self) -> &'static str {
        match self.status {
            "invited" => "Invited, no password yet",
            "active" => "Active",
            _ => "Disabled",
        }
    }
}

struct RoleChoice {
    id: Uuid,
    name: String,
}

/// The invitation form's fields as entered.
#[derive(Default)]
struct InviteValues {
    name: String,
    email: String,
    role_id: String,
}

#[derive(Default)]
struct InviteErrors {
    name: Option<String>,
    email: Option<String>,
    role_id: Option<String>,
}

impl InviteErrors {
    fn any(&self) -> bool {
        self.name.is_some() || self.email.is_some() || self.role_id.is_some()
    }
}

#[derive(Template)]
#[template(path = "admin_agents.html")]
struct AgentsPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    me: Uuid,
    rows: Vec<AgentRow>,
    next_cursor: Option<String>,
    /// The roles the signed-in agent may give.
    roles: Vec<RoleChoice>,
    invite: InviteValues,
    errors: InviteErrors,
    notice: Option<String>,
    alert: Option<String>,
    invitation_days: u64,
}

/// May `me` act on an agent with `role`? Only when the role holds nothing `me` lacks, so
/// nobody changes or disables an agent with more rights than their own.
fn manageable(me: &SignedInAgent, role: &Role) -> bool {
    agents::grantable(&role.permissions, &me.agent.role.permissions).is_ok()
}

fn refuse_unmanageable(me: &SignedInAgent, target: &Agent) -> Result<(), PageError> {
    match agents::grantable(&target.role.permissions, &me.agent.role.permissions) {
        Ok(_) => Ok(()),
        Err(beyond) => Err(PageError::Forbidden(format!(
            "{}'s role holds permissions yours does not ({}), so only an agent who holds them can change this account.",
            target.name,
            keys(&beyond)
        ))),
    }
}

/// The agents page: one page of agents, the roles to choose from, an empty invitation form.
async fn agents_page<'a>(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &'a str,
    query: &PageQuery,
) -> Result<(AgentsPage<'a>, Vec<Agent>), PageError> {
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let mut all = store::agents::list(&mut tx).await?;
    let roles = store::agents::roles(&mut tx).await?;
    tx.commit().await?;
    all.sort_by_key(|a| a.id);
    let (listed, next_cursor) = page_of(query, all.clone(), |a| a.id)?;
    let rows = listed
        .into_iter()
        .map(|agent| AgentRow {
            manageable: manageable(me, &agent.role),
            id: agent.id,
            name: agent.name,
            email: agent.email,
            role_id: agent.role.id,
            role_name: agent.role.name,
            status: agent.status.as_str(),
            last_sign_in: agent.last_sign_in_at,
        })
        .collect();
    let roles = roles
        .into_iter()
        .filter(|role| manageable(me, role))
        .map(|role| RoleChoice {
            id: role.id,
            name: role.name,
        })
        .collect();
    let page = AgentsPage {
        brand: Brand::from(&settings),
        section: "agents",
        csrf,
        me: me.agent.id,
        rows,
        next_cursor,
        roles,
        invite: InviteValues::default(),
        errors: InviteErrors::default(),
        notice: None,
        alert: None,
        invitation_days: INVITATION_VALID_FOR.as_secs() / 86_400,
    };
    Ok((page, all))
}

/// What the last change was, for the notice on the page it redirects to.
#[derive(Deserialize, Default)]
pub struct AgentsQuery {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    agent: Option<String>,
}

fn agent_notice(query: &AgentsQuery, all: &[Agent]) -> Option<String> {
    let id = Uuid::parse_str(query.agent.as_deref()?).ok()?;
    let agent = all.iter().find(|a| a.id == id)?;
    let name = &agent.name;
    Some(match query.done.as_deref()? {
        "invited" => format!(
            "{name} is invited: an invitation was sent to {} with a link to choose a password.",
            agent.email
        ),
        "role" => format!("{name} now has the role {}.", agent.role.name),
        "disabled" => format!("{name} is disabled and signed out everywhere."),
        "enabled" if agent.status == AgentStatus::Invited => {
            format!("{name} is enabled again and can accept their invitation.")
        }
        "enabled" => format!("{name} is enabled again and can sign in."),
        "reset-link" => format!("A password reset link was sent to {}.", agent.email),
        "temporary-password" => format!(
            "{name} has a temporary password and is signed out everywhere. They must choose \
             their own password at the next sign-in."
        ),
        "unlocked" => format!("{name} can try to sign in again at once."),
        _ => return None,
    })
}

pub async fn agents_list(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Query(page): Query<PageQuery>,
    Query(query): Query<AgentsQuery>,
) -> Result<Response, PageError> {
    let me = allowed(agent, Permission::AgentsManage)?;
    let (mut view, all) = agents_page(&state, &me, &csrf, &page).await?;
    view.notice = agent_notice(&query, &all);
    respond(StatusCode::OK, &view)
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role_id: String,
}

/// Invites an agent: the account, the single-use link and the `agent.invitation` mail, or the
/// form again with what was entered and a message beside each field in error.
pub async fn invite_agent(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Query(page): Query<PageQuery>,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> Result<Response, PageError> {
    let me = allowed(agent, Permission::AgentsManage)?;
    let mut errors = InviteErrors::default();
    let name = TenantName::parse(&form.name)
        .map_err(|error| {
            errors.name = Some(match error.0 {
                domain::TextProblem::Empty => "Enter the agent's name.".to_owned(),
                problem => format!("The name {problem}."),
            });
        })
        .ok();
    let email = EmailAddress::parse(&form.email)
        .map_err(|_| {
            errors.email = Some(if form.email.trim().is_empty() {
                "Enter the agent's email address.".to_owned()
            } else {
                "Enter an email address such as dana@example.com.".to_owned()
            });
        })
        .ok();
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let role = match Uuid::parse_str(form.role_id.trim()) {
        Ok(id) => store::agents::role_by_id(&mut tx, id).await?,
        Err(_) => None,
    };
    match &role {
        None => errors.role_id = Some("Choose one of the roles listed.".to_owned()),
        Some(role) => {
            if let Err(beyond) = agents::grantable(&role.permissions, &me.agent.role.permissions) {
                errors.role_id = Some(format!(
                    "The role {} holds permissions yours does not ({}); choose another.",
                    role.name,
                    keys(&beyond)
                ));
            }
        }
    }
    let status = match (name, email, role) {
        (Some(name), Some(email), Some(role)) if !errors.any() => {
            let invited = agents::invite(
                &mut tx,
                &me.tenant,
                &state.config.base_url,
                &state.config.mail_from,
                name.as_str(),
                &email,
                &role,
            )
            .await;
            match invited {
                Ok(invited) => {
                    tx.commit().await?;
                    let to = format!("/admin/agents?done=invited&agent={}", invited.id);
                    return Ok(Redirect::to(&to).into_response());
                }
                Err(MailerError::Store(StoreError::Conflict { field: "email" })) => {
                    errors.email = Some("An agent with this email already exists.".to_owned());
                    StatusCode::CONFLICT
                }
                Err(error) => return Err(PageError::Internal(Box::new(error))),
            }
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    // Rolled back: a failed insert leaves nothing behind.
    drop(tx);
    let (mut view, _) = agents_page(&state, &me, &csrf, &page).await?;
    view.invite = InviteValues {
        name: form.name,
        email: form.email,
        role_id: form.role_id,
    };
    view.errors = errors;
    respond(status, &view)
}

/// Applies `change` to the agent `id` with the shared rules: 404 for no such agent (of this
/// tenant), 403 for an agent with more rights than `me`, 409 and the page with the reason
/// when it would leave nobody able to manage agents.
async fn change_agent(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &str,
    page: &PageQuery,
    id: Uuid,
    change: AgentChange<'_>,
    done: &str,
) -> Result<Response, PageError> {
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let target = store::agents::by_id(&mut tx, id)
        .await?
        .ok_or(PageError::NotFound)?;
    refuse_unmanageable(me, &target)?;
    if let Some(role_id) = change.role_id {
        let role = store::agents::role_by_id(&mut tx, role_id).await?;
        let Some(role) = role.filter(|role| manageable(me, role)) else {
            drop(tx);
            let (mut view, _) = agents_page(state, me, csrf, page).await?;
            view.alert = Some(format!(
                "{}'s role is unchanged: choose one of the roles listed.",
                target.name
            ));
            return respond(StatusCode::UNPROCESSABLE_ENTITY, &view);
        };
        if role.id == target.role.id {
            return Ok(Redirect::to("/admin/agents").into_response());
        }
    }
    match agents::change(&mut tx, id, &change).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/admin/agents?done={done}&agent={id}")).into_response())
        }
        Err(ChangeError::NotFound) => Err(PageError::NotFound),
        Err(ChangeError::LastManager) => {
            drop(tx);
            let (mut view, _) = agents_page(state, me, csrf, page).await?;
            view.alert = Some(format!("{} is unchanged. {LAST_MANAGER}", target.name));
            respond(StatusCode::CONFLICT, &view)
        }
        Err(ChangeError::Store(error)) => Err(error.into()),
    }
}

#[derive(Deserialize)]
pub struct AgentRoleForm {
    #[serde(default)]
    role_id: String,
}

pub async fn change_agent_role(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
    CsrfForm(form): CsrfForm<AgentRoleForm>,
) -> Result<Response, PageError> {
    let me = allowed(agent, Permission::AgentsManage)?;
    let id = id_of(&id)?;
    // An id that names no role is looked up as the nil id: no role, the same message.
    let role_id = Uuid::parse_str(form.role_id.trim()).unwrap_or(Uuid::nil());
    let change = AgentChange {
        role_id: Some(role_id),
        ..AgentChange::default()
    };
    change_agent(&state, &me, &csrf, &page, id, change, "role").await
}

#[derive(Deserialize)]
pub struct AgentStatusForm {
    #[serde(default)]
    status: String,
}

/// Disables (ending every session) or enables an agent.
pub async fn change_agent_status(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
    CsrfForm(form): CsrfForm<AgentStatusForm>,
) -> Result<Response, PageError> {
    let me = allowed(agent, Permission::AgentsManage)?;
    let id = id_of(&id)?;
    let (disabled, done) = match form.status.as_str() {
        "disabled" => (true, "disabled"),
        "active" => (false, "enabled"),
        _ => {
            return Err(PageError::BadRequest(
                "The form asked for neither disabling nor enabling.".into(),
            ));
        }
    };
    let change = AgentChange {
        disabled: Some(disabled),
        ..AgentChange::default()
    };
    change_agent(&state, &me, &csrf, &page, id, change, done).await
}

/// The agent `id` of this tenant that `me` may manage: 404 for none, 403 for more rights.
async fn manageable_agent(
    state: &AppState,
    me: &SignedInAgent,
    id: &str,
) -> Result<Agent, PageError> {
    let id = id_of(id)?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let target = store::agents::by_id(&mut tx, id).await?;
    tx.commit().await?;
    let target = target.ok_or(PageError::NotFound)?;
    refuse_unmanageable(me, &target)?;
    Ok(target)
}

/// The agents page again with `alert` and `status`.
async fn refuse_agent_action(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &str,
    page: &PageQuery,
    status: StatusCode,
    alert: String,
) -> Result<Response, PageError> {
    let (mut view, _) = agents_page(state, me, csrf, page).await?;
    view.alert = Some(alert);
    respond(status, &view)
}

/// Mails an active agent a password reset link, exactly as "Forgot your password?" would.
pub async fn send_agent_reset_link(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let me = allowed(agent, Permission::AgentsManage)?;
    let target = manageable_agent(&state, &me, &id).await?;
    if target.status != AgentStatus::Active {
        let why = format!(
            "No link was sent: {} is not active (an invited agent uses their invitation; a disabled one must be enabled first).",
            target.name
        );
        return refuse_agent_action(&state, &me, &csrf, &page, StatusCode::CONFLICT, why).await;
    }
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    crate::pages::password_reset::send_agent_link(&state, &mut tx, &me.tenant, &settings, &target)
        .await?;
    tx.commit().await?;
    let to = format!("/admin/agents?done=reset-link&agent={}", target.id);
    Ok(Redirect::to(&to).into_response())
}

#[derive(Deserialize)]
pub struct TemporaryPasswordForm {
    #[serde(default)]
    password: String,
}

/// Sets a temporary password the agent must change at the next sign-in; every session of
/// theirs ends (an invited agent becomes active with it).
pub async fn set_agent_temporary_password(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
    CsrfForm(form): CsrfForm<TemporaryPasswordForm>,
) -> Result<Response, PageError> {
    let me = allowed(agent, Permission::AgentsManage)?;
    let target = manageable_agent(&state, &me, &id).await?;
    if let Err(why) = crate::auth::passwords::check_new_password(
        &form.password,
        crate::pages::min_password_length(&state, me.tenant.id).await?,
        &[&target.email, &target.name],
    ) {
        let why = format!(
            "{}'s password is unchanged: the temporary password {why}.",
            target.name
        );
        return refuse_agent_action(
            &state,
            &me,
            &csrf,
            &page,
            StatusCode::UNPROCESSABLE_ENTITY,
            why,
        )
        .await;
    }
    let hash = state
        .passwords
        .hash(&form.password)
        .await
        .map_err(|e| PageError::Internal(Box::new(e)))?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    store::agents::set_temporary_password(&mut tx, target.id, &hash).await?;
    tx.commit().await?;
    let to = format!("/admin/agents?done=temporary-password&agent={}", target.id);
    Ok(Redirect::to(&to).into_response())
}

/// Forgets the agent's failed sign-ins, so a locked-out agent may try again at once.
pub async fn unlock_agent(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let me = allowed(agent, Permission::AgentsManage)?;
    let target = manageable_agent(&state, &me, &id).await?;
    crate::auth::SignInAttempt::unlock(
        &state,
        crate::pages::agent::account_key(&me.tenant, &target.email),
    )
    .await;
    let to = format!("/admin/agents?done=unlocked&agent={}", target.id);
    Ok(Redirect::to(&to).into_response())
}

// ---------------------------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------------------------

/// A role's name and permissions as entered.
#[derive(Default)]
struct RoleValues {
    name: String,
    permissions: Vec<Permission>,
}

#[derive(Default)]
struct RoleErrors {
    name: Option<String>,
    permissions: Vec<String>,
}

impl RoleErrors {
    fn any(&self) -> bool {
        self.name.is_some() || !self.permissions.is_empty()
    }
}

#[derive(Template)]
#[template(path = "admin_roles.html")]
struct RolesPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    roles: Vec<Role>,
    permissions: [Permission; 11],
    /// The new-role form.
    boxes: Vec<PermissionBox>,
    values: RoleValues,
    errors: RoleErrors,
    notice: Option<String>,
}

impl RolesPage<'_> {
    fn holds(role: &Role, permission: &Permission) -> bool {
        role.permissions.contains(permission)
    }
}

async fn roles_page<'a>(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &'a str,
    values: RoleValues,
) -> Result<RolesPage<'a>, PageError> {
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let roles = store::agents::roles(&mut tx).await?;
    tx.commit().await?;
    Ok(RolesPage {
        brand: Brand::from(&settings),
        section: "roles",
        csrf,
        roles,
        permissions: Permission::ALL,
        boxes: permission_boxes(&values.permissions, &me.agent.role.permissions),
        values,
        errors: RoleErrors::default(),
        notice: None,
    })
}

#[derive(Deserialize, Default)]
pub struct RolesQuery {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    saved: Option<String>,
}

pub async fn roles_list(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<RolesQuery>,
) -> Result<Response, PageError> {
    let me = allowed(agent, Permission::RolesManage)?;
    let mut page = roles_page(&state, &me, &csrf, RoleValues::default()).await?;
    let named = |id: Option<&str>| {
        let id = Uuid::parse_str(id?).ok()?;
        page.roles
            .iter()
            .find(|role| role.id == id)
            .map(|role| role.name.clone())
    };
    page.notice = if let Some(name) = named(query.created.as_deref()) {
        Some(format!(
            "The role {name} is created. Give it to agents on the Agents page."
        ))
    } else {
        named(query.saved.as_deref()).map(|name| format!("The role {name} is saved."))
    };
    respond(StatusCode::OK, &page)
}

/// The name and permissions of a role form. Permissions the agent does not hold can be
/// neither granted nor taken away: `current` keeps them as they are.
fn parse_role_form(
    form: &FormFields,
    me: &SignedInAgent,
    current: &[Permission],
) -> (RoleValues, RoleErrors, Option<(String, Vec<Permission>)>) {
    let mut errors = RoleErrors::default();
    let raw_name = form.text("name");
    let name = agents::parse_role_name(&raw_name)
        .map_err(|why| errors.name = Some(format!("The name {why}.")))
        .ok();
    let (chosen, unknown) = form.permissions();
    errors.permissions = unknown;
    let mine = &me.agent.role.permissions;
    let mut permissions = match agents::grantable(&chosen, mine) {
        Ok(granted) => granted,
        Err(beyond) => {
            let new: Vec<Permission> = beyond
                .into_iter()
                .filter(|p| !current.contains(p))
                .collect();
            if !new.is_empty() {
                errors.permissions.push(format!(
                    "You cannot grant permissions your role does not hold: {}.",
                    keys(&new)
                ));
            }
            chosen
                .iter()
                .copied()
                .filter(|p| mine.contains(p))
                .collect()
        }
    };
    permissions.extend(current.iter().filter(|p| !mine.contains(p)));
    permissions.sort_by_key(|p| Permission::ALL.iter().position(|q| q == p));
    let values = RoleValues {
        name: raw_name,
        permissions: permissions.clone(),
    };
    let parsed = match name {
        Some(name) if !errors.any() => Some((name, permissions)),
        _ => None,
    };
    (values, errors, parsed)
}

pub async fn create_role(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent, Permission::RolesManage)?;
    let (values, mut errors, parsed) = parse_role_form(&form, &me, &[]);
    let status = match parsed {
        Some((name, permissions)) => {
            let mut tx = state.store.begin_tenant(me.tenant.id).await?;
            match store::agents::create_role(&mut tx, &name, &permissions).await {
                Ok(role) => {
                    tx.commit().await?;
                    return Ok(
                        Redirect::to(&format!("/admin/roles?created={}", role.id)).into_response()
                    );
                }
                Err(StoreError::Conflict { .. }) => {
                    errors.name = Some("A role with this name already exists.".to_owned());
                    StatusCode::CONFLICT
                }
                Err(error) => return Err(error.into()),
            }
        }
        None => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let mut page = roles_page(&state, &me, &csrf, values).await?;
    page.errors = errors;
    respond(status, &page)
}

#[derive(Template)]
#[template(path = "admin_roles_edit.html")]
struct RoleEditPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    role_id: Uuid,
    role_name: String,
    agent_count: usize,
    boxes: Vec<PermissionBox>,
    values: RoleValues,
    errors: RoleErrors,
    alert: Option<String>,
}

/// A tenant-defined role and the edit page for it; built-in roles are fixed (404, as in the
/// API).
async fn role_edit_page<'a>(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &'a str,
    id: Uuid,
) -> Result<(Role, RoleEditPage<'a>), PageError> {
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let role = store::agents::role_by_id(&mut tx, id)
        .await?
        .filter(|role| role.builtin.is_none())
        .ok_or(PageError::NotFound)?;
    let agent_count = store::agents::list(&mut tx)
        .await?
        .iter()
        .filter(|agent| agent.role.id == id)
        .count();
    tx.commit().await?;
    let page = RoleEditPage {
        brand: Brand::from(&settings),
        section: "roles",
        csrf,
        role_id: role.id,
        role_name: role.name.clone(),
        agent_count,
        boxes: permission_boxes(&role.permissions, &me.agent.role.permissions),
        values: RoleValues {
            name: role.name.clone(),
            permissions: role.permissions.clone(),
        },
        errors: RoleErrors::default(),
        alert: None,
    };
    Ok((role, page))
}

pub async fn role_form(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let me = allowed(agent, Permission::RolesManage)?;
    let (_, page) = role_edit_page(&state, &me, &csrf, id_of(&id)?).await?;
    respond(StatusCode::OK, &page)
}

pub async fn save_role(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent, Permission::RolesManage)?;
    let (role, mut page) = role_edit_page(&state, &me, &csrf, id_of(&id)?).await?;
    let (values, mut errors, parsed) = parse_role_form(&form, &me, &role.permissions);
    let status = match parsed {
        Some((name, permissions)) => {
            let mut tx = state.store.begin_tenant(me.tenant.id).await?;
            match agents::update_role(&mut tx, role.id, Some(&name), Some(&permissions)).await {
                Ok(role) => {
                    tx.commit().await?;
                    return Ok(
                        Redirect::to(&format!("/admin/roles?saved={}", role.id)).into_response()
                    );
                }
                Err(ChangeError::NotFound) => return Err(PageError::NotFound),
                Err(ChangeError::LastManager) => {
                    page.alert = Some(format!("The role is unchanged. {LAST_MANAGER}"));
                    StatusCode::CONFLICT
                }
                Err(ChangeError::Store(StoreError::Conflict { .. })) => {
                    errors.name = Some("A role with this name already exists.".to_owned());
                    StatusCode::CONFLICT
                }
                Err(ChangeError::Store(error)) => return Err(error.into()),
            }
        }
        None => StatusCode::UNPROCESSABLE_ENTITY,
    };
    page.boxes = permission_boxes(&values.permissions, &me.agent.role.permissions);
    page.values = values;
    page.errors = errors;
    respond(status, &page)
}

// ---------------------------------------------------------------------------------------------
// API tokens
// ---------------------------------------------------------------------------------------------

/// One token as the table lists it (never its secret: only its hash is stored).
struct TokenRow {
    id: Uuid,
    name: String,
    permissions: Vec<Permission>,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    expired: bool,
}

impl TokenRow {
    fn of(token: ApiToken, now: DateTime<Utc>) -> Self {
        Self {
            expired: token.expires_at.is_some_and(|at| at <= now),
            id: token.id,
            name: token.name,
            permissions: token.permissions,
            created_at: token.created_at,
            expires_at: token.expires_at,
            last_used_at: token.last_used_at,
            revoked_at: token.revoked_at,
        }
    }

    fn live(&self) -> bool {
        self.revoked_at.is_none() && !self.expired
    }
}

#[derive(Default)]
struct TokenValues {
    name: String,
    permissions: Vec<Permission>,
    expires_on: String,
}

#[derive(Default)]
struct TokenErrors {
    name: Option<String>,
    permissions: Vec<String>,
    expires_on: Option<String>,
}

impl TokenErrors {
    fn any(&self) -> bool {
        self.name.is_some() || !self.permissions.is_empty() || self.expires_on.is_some()
    }
}

/// A token just created: its secret, shown on this one page.
struct Issued {
    name: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "admin_api_tokens.html")]
struct TokensPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    rows: Vec<TokenRow>,
    next_cursor: Option<String>,
    boxes: Vec<PermissionBox>,
    values: TokenValues,
    errors: TokenErrors,
    issued: Option<Issued>,
    notice: Option<String>,
    /// The earliest expiry date the form takes (today, UTC).
    today: String,
}

impl TokensPage<'_> {
    fn when(at: &DateTime<Utc>) -> String {
        when(at)
    }

    fn keys(permissions: &[Permission]) -> String {
        keys(permissions)
    }
}

async fn tokens_page<'a>(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &'a str,
    query: &PageQuery,
    values: TokenValues,
) -> Result<(TokensPage<'a>, Vec<ApiToken>), PageError> {
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let mut all = store::tokens::list(&mut tx).await?;
    tx.commit().await?;
    all.sort_by_key(|t| t.id);
    let now = Utc::now();
    let (listed, next_cursor) = page_of(query, all.clone(), |t| t.id)?;
    let page = TokensPage {
        brand: Brand::from(&settings),
        section: "api-tokens",
        csrf,
        rows: listed
            .into_iter()
            .map(|token| TokenRow::of(token, now))
            .collect(),
        next_cursor,
        boxes: permission_boxes(&values.permissions, &me.agent.role.permissions),
        values,
        errors: TokenErrors::default(),
        issued: None,
        notice: None,
        today: now.date_naive().format("%Y-%m-%d").to_string(),
    };
    Ok((page, all))
}

#[derive(Deserialize, Default)]
pub struct TokensQuery {
    #[serde(default)]
    revoked: Option<String>,
}

pub async fn api_tokens_list(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Query(page): Query<PageQuery>,
    Query(query): Query<TokensQuery>,
) -> Result<Response, PageError> {
    let me = allowed(agent, Permission::ApiTokensManage)?;
    let (mut view, all) = tokens_page(&state, &me, &csrf, &page, TokenValues::default()).await?;
    let revoked = query
        .revoked
        .as_deref()
        .and_then(|id| Uuid::parse_str(id).ok());
    view.notice = all
        .iter()
        .find(|token| Some(token.id) == revoked)
        .map(|token| {
            format!(
                "The token {} is revoked; programs using it are refused from now on.",
                token.name
            )
        });
    respond(StatusCode::OK, &view)
}

/// `YYYY-MM-DD`, today or later: the token works until the end of that day (UTC).
fn expiry_of(raw: &str, today: NaiveDate) -> Result<Option<DateTime<Utc>>, &'static str> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| "Enter the expiry as a date such as 2027-01-31, or leave it empty.")?;
    if date < today {
        return Err("The expiry date must be today or later.");
    }
    date.checked_add_days(Days::new(1))
        .and_then(|next| next.and_hms_opt(0, 0, 0))
        .map(|midnight| Some(midnight.and_utc()))
        .ok_or("Enter a date before the year 9999.")
}

/// Creates a token whose permissions are within the agent's own, and answers with the page
/// that shows its secret this once (never a redirect: the secret must not land in a URL).
pub async fn create_api_token(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Query(page): Query<PageQuery>,
    CsrfForm(form): CsrfForm<FormFields>,
) -> Result<Response, PageError> {
    let me = allowed(agent, Permission::ApiTokensManage)?;
    let mut errors = TokenErrors::default();
    let raw_name = form.text("name");
    let name = TokenName::parse(&raw_name)
        .map_err(|error| {
            errors.name = Some(match error.0 {
                domain::TextProblem::Empty => {
                    "Enter a name that says what the token is for.".to_owned()
                }
                problem => format!("The name {problem}."),
            });
        })
        .ok();
    let (chosen, unknown) = form.permissions();
    errors.permissions = unknown;
    let permissions = match agents::grantable(&chosen, &me.agent.role.permissions) {
        Ok(granted) => granted,
        Err(beyond) => {
            errors.permissions.push(format!(
                "A token cannot hold permissions your role does not: {}.",
                keys(&beyond)
            ));
            Vec::new()
        }
    };
    let expires_on = form.text("expires_on");
    let expires_at = expiry_of(&expires_on, Utc::now().date_naive())
        .map_err(|why| errors.expires_on = Some(why.to_owned()))
        .ok()
        .flatten();
    let mut values = TokenValues {
        name: raw_name,
        permissions: chosen,
        expires_on,
    };
    let status = match name {
        Some(name) if !errors.any() => {
            let mut tx = state.store.begin_tenant(me.tenant.id).await?;
            let created = store::tokens::create(
                &mut tx,
                &NewToken {
                    name: &name,
                    permissions: Some(&permissions),
                    expires_at,
                    created_by_agent: Some(me.agent.id),
                },
            )
            .await;
            match created {
                Ok(issued) => {
                    tx.commit().await?;
                    let (mut view, _) =
                        tokens_page(&state, &me, &csrf, &page, TokenValues::default()).await?;
                    view.issued = Some(Issued {
                        name: issued.token.name,
                        secret: issued.secret,
                    });
                    let mut response = respond(StatusCode::OK, &view)?;
                    // The one page with the secret: no cache may keep it.
                    response.headers_mut().insert(
                        header::CACHE_CONTROL,
                        header::HeaderValue::from_static("no-store"),
                    );
                    return Ok(response);
                }
                Err(StoreError::Conflict { .. }) => {
                    errors.name = Some("A token with this name already exists.".to_owned());
                    StatusCode::CONFLICT
                }
                Err(error) => return Err(error.into()),
            }
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    values.permissions.retain(|p| me.agent.can(*p));
    let (mut view, _) = tokens_page(&state, &me, &csrf, &page, values).await?;
    view.errors = errors;
    respond(status, &view)
}

/// Revokes a live token at once; an unknown, revoked, or other tenant's token is the 404 page.
pub async fn revoke_api_token(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let me = allowed(agent, Permission::ApiTokensManage)?;
    let id = id_of(&id)?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let revoked = store::tokens::revoke(&mut tx, id).await?;
    tx.commit().await?;
    if !revoked {
        return Err(PageError::NotFound);
    }
    Ok(Redirect::to(&format!("/admin/api-tokens?revoked={id}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(raw: &str) -> NaiveDate {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn a_token_expires_at_the_end_of_its_date() {
        let today = date("2026-11-22");
        assert_eq!(expiry_of("  ", today), Ok(None));
        assert_eq!(
            expiry_of("2026-11-22", today)
                .expect("today is fine")
                .map(|at| at.to_rfc3339()),
            Some("2026-11-23T00:00:00+00:00".to_owned())
        );
        assert!(expiry_of("2026-11-21", today).is_err());
        assert!(expiry_of("22.11.2026", today).is_err());
    }

    #[test]
    fn checked_permissions_are_read_once_and_unknown_keys_reported() {
        let form = FormFields(vec![
            ("permissions".into(), "users.read".into()),
            ("permissions".into(), "users.read".into()),
            ("permissions".into(), "root".into()),
            ("name".into(), "x".into()),
        ]);
        let (chosen, unknown) = form.permissions();
        assert_eq!(chosen, vec![Permission::UsersRead]);
        assert_eq!(unknown.len(), 1);
    }
}
