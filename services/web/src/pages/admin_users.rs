//! `/admin/users`: the end-user accounts of the workspace for agents who manage users
//! ([`Permission::UsersManage`]): the list with each account's status, inviting an end user
//! (the workflow is [`users::invite`]; allowed in every registration mode), and helping one who
//! cannot sign in: a password reset link (the forgot-password form's own path), a temporary
//! password they must change at the next sign-in, and unlocking sign-in after too many
//! failures. Ids of another tenant's end users answer the 404 page, like unknown ids.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use domain::{EmailAddress, Permission};
use serde::Deserialize;
use store::end_users::{EndUser, EndUserStatus};
use uuid::Uuid;

use crate::AppState;
use crate::auth::csrf::{CsrfForm, CsrfToken};
use crate::auth::passwords::check_new_password;
use crate::auth::{SignInAttempt, SignedInAgent};
use crate::error::PageError;
use crate::pages::account::{account_key, internal};
use crate::pages::agent::EmptyForm;
use crate::pages::{Brand, min_password_length, password_reset, render};
use crate::users::{self, INVITATION_VALID_FOR, InviteError};

/// How many end users the page lists (newest first) until the directory issue pages them.
const LISTED: i64 = 500;

/// The longest name an end user may have (the `end_users_name_length` check).
const MAX_NAME_CHARS: usize = 200;

/// One end user as the table lists them.
struct UserRow {
    id: Uuid,
    name: String,
    email: String,
    status: &'static str,
    has_password: bool,
    must_change_password: bool,
    last_sign_in: Option<DateTime<Utc>>,
}

impl UserRow {
    fn status_label(&self) -> &'static str {
        match self.status {
            "guest" => "Guest, no account",
            "pending" if self.has_password => "Registered, address not confirmed",
            "pending" => "Invited, no password yet",
            "active" if self.must_change_password => "Active, must change password",
            "active" => "Active",
            _ => "Locked",
        }
    }
}

#[derive(Default)]
struct InviteValues {
    name: String,
    email: String,
}

#[derive(Default)]
struct InviteErrors {
    name: Option<String>,
    email: Option<String>,
}

impl InviteErrors {
    fn any(&self) -> bool {
        self.name.is_some() || self.email.is_some()
    }
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage<'a> {
    brand: Brand,
    section: &'static str,
    csrf: &'a str,
    rows: Vec<UserRow>,
    invite: InviteValues,
    errors: InviteErrors,
    notice: Option<String>,
    alert: Option<String>,
    invitation_days: u64,
    min_password_chars: usize,
}

/// The agent, if their role may manage end users; 403 otherwise.
fn allowed(agent: SignedInAgent) -> Result<SignedInAgent, PageError> {
    agent.require(Permission::UsersManage)?;
    Ok(agent)
}

fn id_of(raw: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(raw).map_err(|_| PageError::NotFound)
}

async fn users_page<'a>(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &'a str,
) -> Result<(UsersPage<'a>, Vec<EndUser>), PageError> {
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    let all = store::end_users::list(&mut tx, LISTED).await?;
    tx.commit().await?;
    let rows = all
        .iter()
        .map(|user| UserRow {
            id: user.id,
            name: user.name.clone(),
            email: user.email.clone(),
            status: user.status.as_str(),
            has_password: user.password_hash.is_some(),
            must_change_password: user.must_change_password,
            last_sign_in: user.last_sign_in_at,
        })
        .collect();
    let page = UsersPage {
        brand: Brand::from(&settings),
        section: "users",
        csrf,
        rows,
        invite: InviteValues::default(),
        errors: InviteErrors::default(),
        notice: None,
        alert: None,
        invitation_days: INVITATION_VALID_FOR.as_secs() / 86_400,
        min_password_chars: settings.password_min_length,
    };
    Ok((page, all))
}

/// What the last action was, for the notice on the page it redirects to.
#[derive(Deserialize, Default)]
pub struct UsersQuery {
    #[serde(default)]
    done: Option<String>,
    #[serde(default)]
    user: Option<String>,
}

fn notice(query: &UsersQuery, all: &[EndUser]) -> Option<String> {
    let id = Uuid::parse_str(query.user.as_deref()?).ok()?;
    let user = all.iter().find(|u| u.id == id)?;
    let (name, email) = (&user.name, &user.email);
    Some(match query.done.as_deref()? {
        "invited" => format!(
            "{name} is invited: an invitation was sent to {email} with a link to choose a password."
        ),
        "reset-link" => format!("A password reset link was sent to {email}."),
        "temporary-password" => format!(
            "{name} has a temporary password and is signed out everywhere. They must choose \
             their own password at the next sign-in."
        ),
        "unlocked" => format!("{name} can try to sign in again at once."),
        _ => return None,
    })
}

pub async fn users_list(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Query(query): Query<UsersQuery>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let (mut view, all) = users_page(&state, &me, &csrf).await?;
    view.notice = notice(&query, &all);
    Ok(render(&view)?.into_response())
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
}

/// Invites an end user: the account (or the guest's record), the single-use link and the
/// `user.invitation` mail; or the form again with a message beside each field in error.
pub async fn invite_user(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let mut errors = InviteErrors::default();
    let name = form.name.trim();
    let chars = name.chars().count();
    if chars == 0 {
        errors.name = Some("Enter the person's name.".to_owned());
    } else if chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        errors.name = Some(format!(
            "Use at most {MAX_NAME_CHARS} characters on one line."
        ));
    }
    let email = EmailAddress::parse(&form.email)
        .map_err(|_| {
            errors.email = Some(if form.email.trim().is_empty() {
                "Enter the person's email address.".to_owned()
            } else {
                "Enter an email address such as robin@example.com.".to_owned()
            });
        })
        .ok();
    let status = match email {
        Some(email) if !errors.any() => {
            let mut tx = state.store.begin_tenant(me.tenant.id).await?;
            let invited = users::invite(
                &mut tx,
                &me.tenant,
                &state.config.base_url,
                &state.config.mail_from,
                name,
                &email,
            )
            .await;
            match invited {
                Ok(user) => {
                    tx.commit().await?;
                    let to = format!("/admin/users?done=invited&user={}", user.id);
                    return Ok(Redirect::to(&to).into_response());
                }
                Err(InviteError::AlreadyAnAccount) => {
                    errors.email = Some(users::ALREADY_AN_ACCOUNT.to_owned());
                    StatusCode::CONFLICT
                }
                Err(InviteError::Store(store::StoreError::Conflict { .. })) => {
                    errors.email = Some(users::ALREADY_AN_ACCOUNT.to_owned());
                    StatusCode::CONFLICT
                }
                Err(error) => return Err(internal(error)),
            }
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    let (mut view, _) = users_page(&state, &me, &csrf).await?;
    view.invite = InviteValues {
        name: form.name,
        email: form.email,
    };
    view.errors = errors;
    Ok((status, render(&view)?).into_response())
}

/// The end user `id` of this tenant, or the 404 page.
async fn end_user(state: &AppState, me: &SignedInAgent, id: &str) -> Result<EndUser, PageError> {
    let id = id_of(id)?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let user = store::end_users::by_id(&mut tx, id).await?;
    tx.commit().await?;
    user.ok_or(PageError::NotFound)
}

/// The page again with `alert` and `status`.
async fn refuse(
    state: &AppState,
    me: &SignedInAgent,
    csrf: &str,
    status: StatusCode,
    alert: String,
) -> Result<Response, PageError> {
    let (mut view, _) = users_page(state, me, csrf).await?;
    view.alert = Some(alert);
    Ok((status, render(&view)?).into_response())
}

/// Mails the end user a password reset link, exactly as "Forgot your password?" would. Only
/// for accounts with a password that are not locked; a guest or invited person is invited.
pub async fn send_reset_link(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let user = end_user(&state, &me, &id).await?;
    if user.status == EndUserStatus::Locked {
        let why = format!(
            "No link was sent: {}'s account is locked, and a locked account cannot reset its password.",
            user.name
        );
        return refuse(&state, &me, &csrf, StatusCode::CONFLICT, why).await;
    }
    if user.password_hash.is_none() {
        let why = format!(
            "No link was sent: {} has no account yet. Invite them instead.",
            user.name
        );
        return refuse(&state, &me, &csrf, StatusCode::CONFLICT, why).await;
    }
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    let settings = store::settings::load(&mut tx).await?;
    password_reset::send_user_link(&state, &mut tx, &me.tenant, &settings, &user).await?;
    tx.commit().await?;
    let to = format!("/admin/users?done=reset-link&user={}", user.id);
    Ok(Redirect::to(&to).into_response())
}

#[derive(Deserialize)]
pub struct TemporaryPasswordForm {
    #[serde(default)]
    password: String,
}

/// Sets a temporary password the end user must change at the next sign-in; every session of
/// theirs ends.
pub async fn set_temporary_password(
    State(state): State<AppState>,
    agent: SignedInAgent,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<TemporaryPasswordForm>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let user = end_user(&state, &me, &id).await?;
    if let Err(why) = check_new_password(
        &form.password,
        min_password_length(&state, me.tenant.id).await?,
        &[&user.email, &user.name],
    ) {
        let why = format!(
            "{}'s password is unchanged: the temporary password {why}.",
            user.name
        );
        return refuse(&state, &me, &csrf, StatusCode::UNPROCESSABLE_ENTITY, why).await;
    }
    let hash = state
        .passwords
        .hash(&form.password)
        .await
        .map_err(internal)?;
    let mut tx = state.store.begin_tenant(me.tenant.id).await?;
    store::end_users::set_temporary_password(&mut tx, user.id, &hash).await?;
    tx.commit().await?;
    let to = format!("/admin/users?done=temporary-password&user={}", user.id);
    Ok(Redirect::to(&to).into_response())
}

/// Forgets the end user's failed sign-ins, so a locked-out person may try again at once.
pub async fn unlock(
    State(state): State<AppState>,
    agent: SignedInAgent,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<EmptyForm>,
) -> Result<Response, PageError> {
    let me = allowed(agent)?;
    let user = end_user(&state, &me, &id).await?;
    SignInAttempt::unlock(&state, account_key(&me.tenant, &user.email)).await;
    let to = format!("/admin/users?done=unlocked&user={}", user.id);
    Ok(Redirect::to(&to).into_response())
}
