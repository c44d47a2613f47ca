//! What an agent may do: named permissions, and the built-in roles that hold them.

use std::fmt;

use serde::Serialize;

/// One permission. Every protected endpoint and page names the one it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Permission {
    /// Workspace settings, email templates and the outgoing mail log.
    WorkspaceSettings,
    /// Invite, disable and re-role agents; reset their passwords.
    AgentsManage,
    /// Define roles.
    RolesManage,
    /// Create and revoke API tokens.
    ApiTokensManage,
    /// See end users and organizations.
    UsersRead,
    /// Create, edit, invite and import end users and organizations; send password resets.
    UsersManage,
    /// See and work every ticket, whatever its department.
    TicketsAll,
    /// See and work tickets of one's departments, teams and assignments.
    TicketsWork,
    /// Define custom fields and customer groups (the shape of the directory).
    DirectoryConfigure,
    /// Erase an end user's personal data (data-protection requests).
    UsersErase,
    /// Configure the help desk: departments, teams, business hours, SLA plans, help topics,
    /// statuses and ticket settings.
    HelpdeskConfigure,
}

impl Permission {
    pub const ALL: [Permission; 11] = [
        Self::WorkspaceSettings,
        Self::AgentsManage,
        Self::RolesManage,
        Self::ApiTokensManage,
        Self::UsersRead,
        Self::UsersManage,
        Self::TicketsAll,
        Self::TicketsWork,
        Self::DirectoryConfigure,
        Self::UsersErase,
        Self::HelpdeskConfigure,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Self::WorkspaceSettings => "workspace.settings",
            Self::AgentsManage => "agents.manage",
            Self::RolesManage => "roles.manage",
            Self::ApiTokensManage => "api_tokens.manage",
            Self::UsersRead => "users.read",
            Self::UsersManage => "users.manage",
            Self::TicketsAll => "tickets.all",
            Self::TicketsWork => "tickets.work",
            Self::DirectoryConfigure => "directory.configure",
            Self::UsersErase => "users.erase",
            Self::HelpdeskConfigure => "helpdesk.configure",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.key() == key)
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::WorkspaceSettings => {
                "Change workspace settings and email templates; read the mail log"
            }
            Self::AgentsManage => {
                "Invite, disable and change the role of agents; reset their passwords"
            }
            Self::RolesManage => "Create and edit roles",
            Self::ApiTokensManage => "Create and revoke API tokens",
            Self::UsersRead => "See end users and organizations",
            Self::UsersManage => {
                "Create, edit, import and invite end users and organizations; send password resets"
            }
            Self::TicketsAll => "See and work every ticket, whatever its department",
            Self::TicketsWork => "See and work tickets of your departments, teams and assignments",
            Self::DirectoryConfigure => "Define custom fields and customer groups",
            Self::UsersErase => "Erase an end user's personal data for a data-protection request",
            Self::HelpdeskConfigure => {
                "Configure departments, teams, business hours, SLA plans, help topics, statuses and ticket settings"
            }
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The roles every tenant has from the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinRole {
    /// Everything, including workspace configuration.
    Admin,
    /// All tickets and the directory, no workspace configuration.
    Manager,
    /// Tickets of their departments; the directory read-only.
    Agent,
}

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 3] = [Self::Admin, Self::Manager, Self::Agent];

    pub fn key(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Manager => "manager",
            Self::Agent => "agent",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Admin => "Admin",
            Self::Manager => "Manager",
            Self::Agent => "Agent",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.key() == key)
    }

    pub fn permissions(self) -> &'static [Permission] {
        match self {
            Self::Admin => &Permission::ALL,
            Self::Manager => &[
                Permission::UsersRead,
                Permission::UsersManage,
                Permission::TicketsAll,
                Permission::TicketsWork,
            ],
            Self::Agent => &[Permission::UsersRead, Permission::TicketsWork],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_keys_round_trip() {
        for permission in Permission::ALL {
            assert_eq!(Permission::parse(permission.key()), Some(permission));
        }
        assert_eq!(Permission::parse("everything"), None);
    }

    #[test]
    fn only_admins_configure_the_workspace() {
        assert!(
            BuiltinRole::Admin
                .permissions()
                .contains(&Permission::WorkspaceSettings)
        );
        assert!(
            !BuiltinRole::Manager
                .permissions()
                .contains(&Permission::WorkspaceSettings)
        );
        assert!(
            !BuiltinRole::Agent
                .permissions()
                .contains(&Permission::UsersManage)
        );
        assert!(
            BuiltinRole::Manager
                .permissions()
                .contains(&Permission::TicketsAll)
        );
    }
}
