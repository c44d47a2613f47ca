//! Agent accounts as a workflow, and the rules the admin pages and the API share so that they
//! can never disagree: inviting an agent creates the account, a single-use link and the
//! invitation mail in one transaction ([`invite`]); a change never leaves the workspace without
//! an active agent who can manage agents ([`change`]); nobody grants a permission they do not
//! hold ([`grantable`]). Used by the CLI, the admin pages and the API.

use std::time::Duration;

use domain::{BaseUrl, EmailAddress, Permission};
use serde_json::json;
use store::agents::{Agent, AgentChange, NewAgent, Role};
use store::auth_tokens::{Holder, Purpose};
use store::tenancy::Tenant;
use store::{StoreError, TenantTx};

use crate::mailer::{self, Event, Mail, MailerError, Sender};

/// How long an invitation link stays valid.
pub const INVITATION_VALID_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

/// Creates an invited agent and queues the `agent.invitation` mail with the link that sets
/// the password. Nothing exists unless the caller commits `tx`.
pub async fn invite(
    tx: &mut TenantTx,
    tenant: &Tenant,
    base_url: &BaseUrl,
    platform_from: &EmailAddress,
    name: &str,
    email: &EmailAddress,
    role: &Role,
) -> Result<Agent, MailerError> {
    let agent = store::agents::create(
        tx,
        &NewAgent {
            name,
            email,
            role_id: role.id,
            password_hash: None,
        },
    )
    .await?;
    let secret = store::auth_tokens::issue(
        tx,
        Purpose::AgentInvitation,
        Holder::Agent(agent.id),
        INVITATION_VALID_FOR,
    )
    .await?;
    let settings = store::settings::load(tx).await?;
    let portal = base_url.tenant_origin(tenant.slug.as_str());
    let context = json!({
        "agent": {"name": agent.name, "email": agent.email},
        "invitation_url": format!("{portal}/agent/invitation/{secret}"),
        "expires_in_hours": INVITATION_VALID_FOR.as_secs() / 3600,
    });
    let sender = Sender {
        settings: &settings,
        platform_from,
        portal_url: &portal,
    };
    mailer::queue(
        tx,
        &sender,
        Mail {
            event: Event::AgentInvitation,
            locale: None,
            recipient: email,
            context,
        },
    )
    .await?;
    Ok(agent)
}

/// Why [`change`] refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The tenant has no agent with this id (another tenant's agents included).
    #[error("no such agent")]
    NotFound,
    /// The change would leave no active agent able to manage agents.
    #[error("{LAST_MANAGER}")]
    LastManager,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`ChangeError::LastManager`] tells people.
pub const LAST_MANAGER: &str =
    "This would leave nobody able to manage agents. Give another agent the Admin role first.";

/// Applies an admin's change to an agent (name, role, disabled; disabling ends every session).
/// The last active agent who can manage agents cannot be disabled or demoted. On `Err` the
/// transaction may hold the refused change: the caller drops it (rolls back), never commits.
pub async fn change(
    tx: &mut TenantTx,
    id: uuid::Uuid,
    change: &AgentChange<'_>,
) -> Result<Agent, ChangeError> {
    let managers_before = store::agents::count_active_with(tx, Permission::AgentsManage).await?;
    let agent = store::agents::update(tx, id, change)
        .await?
        .ok_or(ChangeError::NotFound)?;
    if managers_before > 0
        && store::agents::count_active_with(tx, Permission::AgentsManage).await? == 0
    {
        return Err(ChangeError::LastManager);
    }
    Ok(agent)
}

/// Renames a tenant-defined role or changes its permissions, keeping, like [`change`], at
/// least one active agent who can manage agents (taking `agents.manage` from the role they all
/// hold is refused). Built-in roles are fixed: [`ChangeError::NotFound`]. On `Err` the caller
/// drops the transaction.
pub async fn update_role(
    tx: &mut TenantTx,
    id: uuid::Uuid,
    name: Option<&str>,
    permissions: Option<&[Permission]>,
) -> Result<Role, ChangeError> {
    let managers_before = store::agents::count_active_with(tx, Permission::AgentsManage).await?;
    let role = store::agents::update_role(tx, id, name, permissions)
        .await?
        .ok_or(ChangeError::NotFound)?;
    if managers_before > 0
        && store::agents::count_active_with(tx, Permission::AgentsManage).await? == 0
    {
        return Err(ChangeError::LastManager);
    }
    Ok(role)
}

/// The rule for everything that hands out permissions (an API token's scope, a role, giving an
/// agent a role): only permissions the grantor holds. `requested` without repeats, or the
/// requested permissions the grantor lacks.
pub fn grantable(
    requested: &[Permission],
    grantor: &[Permission],
) -> Result<Vec<Permission>, Vec<Permission>> {
    let mut granted: Vec<Permission> = Vec::new();
    let mut beyond: Vec<Permission> = Vec::new();
    for &permission in requested {
        let list = if grantor.contains(&permission) {
            &mut granted
        } else {
            &mut beyond
        };
        if !list.contains(&permission) {
            list.push(permission);
        }
    }
    if beyond.is_empty() {
        Ok(granted)
    } else {
        Err(beyond)
    }
}

/// A role's name: 1 to 80 characters on one line, trimmed.
pub fn parse_role_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 80 || name.chars().any(char::is_control) {
        Err("must be 1 to 80 characters on one line")
    } else {
        Ok(name.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_held_permissions_can_be_granted() {
        let grantor = [Permission::UsersRead, Permission::TicketsAll];
        assert_eq!(
            grantable(
                &[
                    Permission::UsersRead,
                    Permission::UsersRead,
                    Permission::TicketsAll
                ],
                &grantor
            ),
            Ok(vec![Permission::UsersRead, Permission::TicketsAll])
        );
        assert_eq!(
            grantable(&[Permission::UsersRead, Permission::AgentsManage], &grantor),
            Err(vec![Permission::AgentsManage])
        );
        assert_eq!(grantable(&[], &grantor), Ok(vec![]));
    }

    #[test]
    fn role_names_are_one_short_line() {
        assert_eq!(parse_role_name("  Team lead "), Ok("Team lead".to_owned()));
        assert!(parse_role_name(" ").is_err());
        assert!(parse_role_name(&"x".repeat(81)).is_err());
        assert!(parse_role_name("two\nlines").is_err());
    }
}
