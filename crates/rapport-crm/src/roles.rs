//! Who may do what: one table ([`PERMISSIONS`]) that every check reads and the docs print.
//!
//! A member works the CRM's data (leads, contacts, activities, opportunities, tasks,
//! conversations), their own API keys, drafts and Smart Views. Everything that shapes how
//! the whole team works, or reaches outside the server, is an admin's.

use rapport_core::Kind;

use crate::{Actor, CrmError, CrmResult};

/// A role within one organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

/// Something only some roles may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ManageOrganization,
    ManageUsers,
    ManageWebhooks,
    ManageWebsites,
    ManageStatuses,
    ManagePipelines,
    ManageCustomFields,
    ManageJobs,
    ManageOthersSmartViews,
}

/// The roles table: each permission, what it covers, and the roles that hold it.
pub const PERMISSIONS: &[(Permission, &str, &[Role])] = &[
    (
        Permission::ManageOrganization,
        "rename the organization",
        &[Role::Admin],
    ),
    (
        Permission::ManageUsers,
        "add and remove members, change roles, reset a member's password",
        &[Role::Admin],
    ),
    (
        Permission::ManageWebhooks,
        "create, change and delete webhook and Slack subscriptions",
        &[Role::Admin],
    ),
    (
        Permission::ManageWebsites,
        "create, change and delete chat websites, rotate their identity secret",
        &[Role::Admin],
    ),
    (
        Permission::ManageStatuses,
        "create, change and delete lead and opportunity statuses",
        &[Role::Admin],
    ),
    (
        Permission::ManagePipelines,
        "create, change and delete pipelines",
        &[Role::Admin],
    ),
    (
        Permission::ManageCustomFields,
        "create, change and delete custom fields",
        &[Role::Admin],
    ),
    (
        Permission::ManageJobs,
        "retry and discard background jobs",
        &[Role::Admin],
    ),
    (
        Permission::ManageOthersSmartViews,
        "change and delete another user's Smart Views",
        &[Role::Admin],
    ),
];

impl Permission {
    fn row(self) -> &'static (Permission, &'static str, &'static [Role]) {
        PERMISSIONS
            .iter()
            .find(|(p, _, _)| *p == self)
            .expect("every permission has a row in PERMISSIONS")
    }

    /// What the permission covers, as the docs and error messages say it.
    pub fn description(self) -> &'static str {
        self.row().1
    }

    pub fn granted_to(self, role: Role) -> bool {
        self.row().2.contains(&role)
    }

    /// The permission a write of `kind` needs, beyond being a member.
    pub fn to_write(kind: Kind) -> Option<Permission> {
        match kind {
            Kind::WebhookSubscription => Some(Permission::ManageWebhooks),
            Kind::Website => Some(Permission::ManageWebsites),
            Kind::LeadStatus | Kind::OpportunityStatus => Some(Permission::ManageStatuses),
            Kind::Pipeline => Some(Permission::ManagePipelines),
            k if k.is_custom_field() => Some(Permission::ManageCustomFields),
            _ => None,
        }
    }
}

impl Actor {
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::Member)
    }

    pub fn may(&self, permission: Permission) -> bool {
        permission.granted_to(self.role())
    }

    /// `Forbidden` naming what the caller tried, unless their role allows it.
    pub fn require(&self, permission: Permission) -> CrmResult<()> {
        if self.may(permission) {
            return Ok(());
        }
        Err(CrmError::Forbidden(format!(
            "only an admin may {}; your role is {}",
            permission.description(),
            self.role().as_str()
        )))
    }
}

/// What a caller does with the background jobs (`rapport-queue`'s ledger).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobAction {
    /// List jobs, or read one.
    Read,
    /// Queue a dead job again.
    Retry,
    /// Drop a dead job.
    Discard,
}

impl Actor {
    /// The organization whose jobs the actor may `action`: their own, always (another
    /// organization's job is not found, like a missing one). Reading is every member's;
    /// retrying and discarding need [`Permission::ManageJobs`] (`Forbidden` otherwise).
    pub fn job_scope(&self, action: JobAction) -> CrmResult<&str> {
        match action {
            JobAction::Read => {}
            JobAction::Retry | JobAction::Discard => self.require(Permission::ManageJobs)?,
        }
        Ok(&self.organization_id)
    }
}

/// The roles table in Markdown, as SECURITY.md and the API docs print it.
pub fn permissions_markdown() -> String {
    let mut out = String::from("| permission | admin | member |\n|---|---|---|\n");
    for (permission, description, _) in PERMISSIONS {
        let mark = |role| if permission.granted_to(role) { "yes" } else { "no" };
        out.push_str(&format!(
            "| {description} | {} | {} |\n",
            mark(Role::Admin),
            mark(Role::Member)
        ));
    }
    out.push_str("| leads, contacts, activities, opportunities, tasks, conversations | yes | yes |\n");
    out.push_str("| one's own API keys, drafts and Smart Views | yes | yes |\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_has_one_row_and_members_hold_none() {
        for (permission, _, roles) in PERMISSIONS {
            assert_eq!(PERMISSIONS.iter().filter(|(p, _, _)| p == permission).count(), 1);
            assert!(roles.contains(&Role::Admin), "{permission:?}");
            assert!(!permission.granted_to(Role::Member), "{permission:?}");
        }
    }

    #[test]
    fn security_md_prints_this_table() {
        let doc = include_str!("../../../SECURITY.md");
        assert!(
            doc.contains(&permissions_markdown()),
            "SECURITY.md's roles table differs from PERMISSIONS; paste:\n{}",
            permissions_markdown()
        );
    }

    #[test]
    fn jobs_are_read_by_members_and_changed_by_admins_within_their_organization() {
        let actor = |role: &str| Actor {
            organization_id: "orga_1".into(),
            user_id: "user_1".into(),
            role: role.into(),
            meta_version: 0,
        };
        let (admin, member) = (actor("admin"), actor("member"));
        for action in [JobAction::Read, JobAction::Retry, JobAction::Discard] {
            assert_eq!(admin.job_scope(action).unwrap(), "orga_1", "{action:?}");
        }
        assert_eq!(member.job_scope(JobAction::Read).unwrap(), "orga_1");
        for action in [JobAction::Retry, JobAction::Discard] {
            match member.job_scope(action) {
                Err(CrmError::Forbidden(message)) => assert!(message.contains("retry and discard"), "{message}"),
                other => panic!("{action:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn configuration_kinds_need_an_admin_and_data_kinds_do_not() {
        for kind in [
            Kind::Website,
            Kind::WebhookSubscription,
            Kind::LeadStatus,
            Kind::Pipeline,
            Kind::LeadCustomField,
        ] {
            assert!(Permission::to_write(kind).is_some(), "{kind:?}");
        }
        for kind in [
            Kind::Lead,
            Kind::Contact,
            Kind::Note,
            Kind::Task,
            Kind::SavedSearch,
            Kind::Conversation,
        ] {
            assert_eq!(Permission::to_write(kind), None, "{kind:?}");
        }
    }
}
