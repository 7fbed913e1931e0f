//! The administration tools' arguments and answers: the shapes a model sees (output schemas),
//! built from the catalog's types (`quilt_catalog::operations::admin`).

use quilt_catalog::operations::admin::{BucketPermission, Policy, Role, SsoConfig, User};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A bucket permission.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct PermissionView {
    /// Bucket.
    pub bucket: String,
    /// READ or READ_WRITE.
    pub level: String,
}

/// The catalog's bucket permissions as the tools show them.
fn permissions(p: Vec<BucketPermission>) -> Vec<PermissionView> {
    p.into_iter()
        .map(|p| PermissionView {
            bucket: p.bucket.name,
            level: p.level,
        })
        .collect()
}

/// A role.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct RoleView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// IAM role ARN.
    pub arn: String,
    /// Managed by Quilt (from policies) or an existing IAM role.
    pub managed: bool,
    /// Titles of attached policies (managed roles).
    pub policies: Vec<String>,
    /// Bucket permissions (managed roles).
    pub permissions: Vec<PermissionView>,
}

impl From<Role> for RoleView {
    fn from(r: Role) -> Self {
        Self {
            managed: r.typename == "ManagedRole",
            id: r.id,
            name: r.name,
            arn: r.arn,
            policies: r.policies.into_iter().map(|p| p.title).collect(),
            permissions: permissions(r.permissions),
        }
    }
}

/// A user.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct UserView {
    /// User name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Active (may sign in).
    pub is_active: bool,
    /// Catalog admin.
    pub is_admin: bool,
    /// Signs in through SSO only.
    pub is_sso_only: bool,
    /// Service account.
    pub is_service: bool,
    /// When the user joined.
    pub date_joined: String,
    /// Last login.
    pub last_login: String,
    /// Active role.
    pub role: Option<String>,
    /// Other roles.
    pub extra_roles: Vec<String>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            name: u.name,
            email: u.email,
            is_active: u.is_active,
            is_admin: u.is_admin,
            is_sso_only: u.is_sso_only,
            is_service: u.is_service,
            date_joined: u.date_joined,
            last_login: u.last_login,
            role: u.role.map(|r| r.name),
            extra_roles: u.extra_roles.into_iter().map(|r| r.name).collect(),
        }
    }
}

/// A policy.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct PolicyView {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// IAM policy ARN.
    pub arn: String,
    /// Managed by Quilt (from bucket permissions) or an existing IAM policy.
    pub managed: bool,
    /// Bucket permissions.
    pub permissions: Vec<PermissionView>,
    /// Names of the roles it is attached to.
    pub roles: Vec<String>,
}

impl From<Policy> for PolicyView {
    fn from(p: Policy) -> Self {
        Self {
            id: p.id,
            title: p.title,
            arn: p.arn,
            managed: p.managed,
            permissions: permissions(p.permissions),
            roles: p.roles.into_iter().map(|r| r.name).collect(),
        }
    }
}

/// The SSO configuration.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SsoConfigView {
    /// The YAML text.
    pub text: String,
    /// When it was set.
    pub timestamp: String,
    /// Who set it (user name).
    pub uploader: String,
}

impl From<SsoConfig> for SsoConfigView {
    fn from(c: SsoConfig) -> Self {
        Self {
            text: c.text,
            timestamp: c.timestamp,
            uploader: c.uploader.name,
        }
    }
}

/// Users.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct UsersOutput {
    /// The users, by name.
    pub users: Vec<UserView>,
}

/// One user.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct UserOutput {
    /// The user (after the change, for writes).
    pub user: UserView,
}

/// Roles.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct RolesOutput {
    /// The roles, by name.
    pub roles: Vec<RoleView>,
}

/// One role.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct RoleOutput {
    /// The role (none: no default role is set).
    pub role: Option<RoleView>,
}

/// Policies.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct PoliciesOutput {
    /// The policies, by title.
    pub policies: Vec<PolicyView>,
}

/// One policy.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct PolicyOutput {
    /// The policy.
    pub policy: PolicyView,
}

/// The SSO configuration.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SsoConfigOutput {
    /// The configuration in force (none: SSO is not configured).
    pub sso_config: Option<SsoConfigView>,
}

/// Tabulator's open-query switch.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct OpenQueryOutput {
    /// Whether open query is on.
    pub open_query_enabled: bool,
}

/// What a write without a result object did.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DoneOutput {
    /// The user acted on.
    pub name: String,
    /// What was done (deleted, password_reset).
    pub done: String,
}

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Nothing {}

/// A user.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NameInput {
    /// User name.
    pub name: String,
}

/// A role by id or name.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleInput {
    /// Role id or name.
    pub id_or_name: String,
}

/// A policy by id or title.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyInput {
    /// Policy id or title.
    pub id_or_title: String,
}

/// Arguments of `admin_user_create`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateInput {
    /// User name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Active role.
    pub role: String,
    /// Other roles.
    #[serde(default)]
    pub extra_roles: Option<Vec<String>>,
}

/// Arguments of `admin_user_set_email`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmailInput {
    /// User name.
    pub name: String,
    /// New email.
    pub email: String,
}

/// Arguments of `admin_user_set_admin`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminFlagInput {
    /// User name.
    pub name: String,
    /// Admin or not.
    pub admin: bool,
}

/// Arguments of `admin_user_set_active`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActiveInput {
    /// User name.
    pub name: String,
    /// Active or not.
    pub active: bool,
}

/// Arguments of `admin_user_set_role`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetRoleInput {
    /// User name.
    pub name: String,
    /// Active role.
    pub role: String,
    /// Other roles.
    #[serde(default)]
    pub extra_roles: Option<Vec<String>>,
    /// Add extra_roles to the user's instead of replacing them (default false).
    #[serde(default)]
    pub append: bool,
}

/// Arguments of `admin_user_add_roles`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RolesInput {
    /// User name.
    pub name: String,
    /// Roles.
    pub roles: Vec<String>,
}

/// Arguments of `admin_user_remove_roles`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RemoveRolesInput {
    /// User name.
    pub name: String,
    /// Roles to remove.
    pub roles: Vec<String>,
    /// Active role to fall back to if the active one is removed.
    #[serde(default)]
    pub fallback: Option<String>,
}

/// Arguments of `admin_sso_config_set`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SsoConfigInput {
    /// The SSO configuration (YAML).
    pub config: String,
}

/// Arguments of `admin_tabulator_open_query_set`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OpenQueryInput {
    /// On or off.
    pub enabled: bool,
}
