//! Catalog administration for catalog admins, and only for them: users, roles, policies, the
//! SSO configuration and Tabulator's open-query switch, through the catalog's GraphQL
//! `admin` queries and mutations (`quilt_catalog::operations::admin`) with the caller's own
//! catalog token. Names are the Python peer's (`admin_user_create`, …) so prompts written for
//! it keep working.
//!
//! - Visibility ([`visibility`]): listed and callable only for a caller the catalog reports
//!   as an admin who also holds `quilt:admin` (where scope checks are on); to anyone else the
//!   tools do not exist. The catalog checks again on every operation.
//! - Input is checked here first (user and role names, email shape, SSO configuration is a
//!   YAML mapping, non-empty role lists): a mistake is `invalid_argument` and nothing is sent.
//! - Every write asks the user to confirm where the client can (`confirm.rs`), after the
//!   checks and before the mutation, and names its target in the audit line
//!   (`aws::target`: `user:<name>`, `role:<name>`, `sso_config`, `tabulator_open_query`).
//! - The catalog's answers: an unknown user (`mutate` is `null`) or role is `not_found`;
//!   `InvalidInput` is `invalid_argument`; `OperationError` (e.g. the last admin losing the
//!   flag) is `conflict` — the catalog refused the change in its current state; nothing
//!   changed in either case.

mod visibility;

use std::sync::Arc;

use quilt_catalog::CatalogError;
use quilt_catalog::operations::NoVariables;
use quilt_catalog::operations::admin::{
    AddRolesVariables, BucketPermission, DefaultRoleGet, IdVariables, NameVariables,
    OpenQueryVariables, PoliciesList, Policy, RemoveRolesVariables, Role, RoleSetDefault,
    RolesList, SetActiveVariables, SetAdminVariables, SetEmailVariables, SetRoleVariables,
    SsoConfig, SsoConfigGet, SsoConfigSet, SsoConfigVariables, TabulatorOpenQueryGet,
    TabulatorOpenQuerySet, User, UserInput, UserInputVariables, UsersAddRoles, UsersCreate,
    UsersDelete, UsersGet, UsersList, UsersRemoveRoles, UsersResetPassword, UsersSetActive,
    UsersSetAdmin, UsersSetEmail, UsersSetRole,
};
use rmcp::model::ToolAnnotations;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use visibility::AdminGate;

use crate::aws;
use crate::confirm::confirm;
use crate::tool_error::{ErrorCode, ToolError};
use crate::tools::ToolRegistry;
use crate::tools::catalog::{Catalog, caller};

const ADMIN: &str = "quilt:admin";
/// Largest SSO configuration accepted.
const MAX_SSO_CONFIG_BYTES: usize = 256 * 1024;
/// Most roles in one call.
const MAX_ROLES: usize = 64;

/// The tool error for a catalog answer to an admin operation. See the module docs.
fn admin_error(error: CatalogError) -> ToolError {
    match &error {
        CatalogError::Operation { .. } => ToolError::new(ErrorCode::Conflict, error.to_string())
            .with_hint("the catalog refused the change in its current state; nothing changed"),
        _ => crate::tools::catalog::tool_error(error),
    }
}

// --- checks ------------------------------------------------------------------------------

fn check_user_name(name: &str) -> Result<(), ToolError> {
    let ok = !name.is_empty()
        && name.chars().count() <= 150
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "._@+-".contains(c));
    if ok {
        aws::target(format!("user:{name}"));
        Ok(())
    } else {
        Err(ToolError::invalid_argument(format!(
            "user name {name:?} must be 1 to 150 letters, digits or ._@+-"
        )))
    }
}

fn check_role_name(what: &str, name: &str) -> Result<(), ToolError> {
    let ok = !name.is_empty()
        && name.chars().count() <= 128
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "._@+=,-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ToolError::invalid_argument(format!(
            "{what} {name:?} is not a role name (1 to 128 letters, digits or ._@+=,-)"
        )))
    }
}

/// A list of roles: at most [`MAX_ROLES`], no repeats; empty only where `may_be_empty`
/// (extra roles may be cleared; adding or removing nothing is a mistake).
fn check_roles(what: &str, roles: &[String], may_be_empty: bool) -> Result<(), ToolError> {
    if (roles.is_empty() && !may_be_empty) || roles.len() > MAX_ROLES {
        let least = if may_be_empty { 0 } else { 1 };
        return Err(ToolError::invalid_argument(format!(
            "{what} must name {least} to {MAX_ROLES} roles"
        )));
    }
    for (i, role) in roles.iter().enumerate() {
        check_role_name(&format!("{what}[{i}]"), role)?;
        if roles[..i].contains(role) {
            return Err(ToolError::invalid_argument(format!(
                "{what} names {role:?} twice"
            )));
        }
    }
    Ok(())
}

/// An email's shape: one `@`, a local part, a domain with a dot, no spaces. The catalog has
/// the last word; this catches typos before anything is sent.
fn check_email(email: &str) -> Result<(), ToolError> {
    let bad = || ToolError::invalid_argument(format!("{email:?} is not an email address"));
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    let labels_ok = domain.split('.').all(|l| !l.is_empty());
    if local.is_empty() || domain.contains('@') || !domain.contains('.') || !labels_ok {
        return Err(bad());
    }
    Ok(())
}

/// An SSO configuration must be one YAML mapping (the catalog validates its content).
fn check_sso_config(text: &str) -> Result<(), ToolError> {
    let bad = |m: String| ToolError::invalid_argument(format!("config: {m}"));
    if text.trim().is_empty() {
        return Err(bad(
            "is empty (to remove the configuration use admin_sso_config_remove)".into(),
        ));
    }
    if text.len() > MAX_SSO_CONFIG_BYTES {
        return Err(bad(format!("larger than {MAX_SSO_CONFIG_BYTES} bytes")));
    }
    let docs = yaml_rust2::YamlLoader::load_from_str(text)
        .map_err(|e| bad(format!("not valid YAML: {e}")))?;
    match docs.as_slice() {
        [yaml_rust2::Yaml::Hash(_)] => Ok(()),
        [_] => Err(bad("must be a YAML mapping".into())),
        _ => Err(bad("must be exactly one YAML document".into())),
    }
}

// --- outputs -----------------------------------------------------------------------------

/// A bucket permission.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PermissionView {
    /// Bucket.
    pub bucket: String,
    /// READ or READ_WRITE.
    pub level: String,
}

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
pub struct RoleView {
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
pub struct UserView {
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
pub struct PolicyView {
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
pub struct SsoConfigView {
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
pub struct UsersOutput {
    /// The users, by name.
    pub users: Vec<UserView>,
}

/// One user.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UserOutput {
    /// The user (after the change, for writes).
    pub user: UserView,
}

/// Roles.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RolesOutput {
    /// The roles, by name.
    pub roles: Vec<RoleView>,
}

/// One role.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RoleOutput {
    /// The role (none: no default role is set).
    pub role: Option<RoleView>,
}

/// Policies.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PoliciesOutput {
    /// The policies, by title.
    pub policies: Vec<PolicyView>,
}

/// One policy.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PolicyOutput {
    /// The policy.
    pub policy: PolicyView,
}

/// The SSO configuration.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SsoConfigOutput {
    /// The configuration in force (none: SSO is not configured).
    pub sso_config: Option<SsoConfigView>,
}

/// Tabulator's open-query switch.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OpenQueryOutput {
    /// Whether open query is on.
    pub open_query_enabled: bool,
}

/// What a write without a result object did.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DoneOutput {
    /// The user acted on.
    pub name: String,
    /// What was done (deleted, password_reset).
    pub done: String,
}

// --- inputs ------------------------------------------------------------------------------

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Nothing {}

/// A user.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NameInput {
    /// User name.
    pub name: String,
}

/// A role by id or name.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    /// Role id or name.
    pub id_or_name: String,
}

/// A policy by id or title.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    /// Policy id or title.
    pub id_or_title: String,
}

/// Arguments of `admin_user_create`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInput {
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
pub struct EmailInput {
    /// User name.
    pub name: String,
    /// New email.
    pub email: String,
}

/// Arguments of `admin_user_set_admin`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminFlagInput {
    /// User name.
    pub name: String,
    /// Admin or not.
    pub admin: bool,
}

/// Arguments of `admin_user_set_active`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActiveInput {
    /// User name.
    pub name: String,
    /// Active or not.
    pub active: bool,
}

/// Arguments of `admin_user_set_role`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoleInput {
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
pub struct RolesInput {
    /// User name.
    pub name: String,
    /// Roles.
    pub roles: Vec<String>,
}

/// Arguments of `admin_user_remove_roles`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveRolesInput {
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
pub struct SsoConfigInput {
    /// The SSO configuration (YAML).
    pub config: String,
}

/// Arguments of `admin_tabulator_open_query_set`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenQueryInput {
    /// On or off.
    pub enabled: bool,
}

// --- registration ------------------------------------------------------------------------

fn read() -> ToolAnnotations {
    ToolAnnotations::new()
        .read_only(true)
        .destructive(false)
        .idempotent(true)
        .open_world(true)
}

fn write(destructive: bool, idempotent: bool) -> ToolAnnotations {
    ToolAnnotations::new()
        .read_only(false)
        .destructive(destructive)
        .idempotent(idempotent)
        .open_world(true)
}

macro_rules! admin_tool {
    ($registry:expr, $catalog:expr, $gate:expr, $name:literal, $description:literal, $annotations:expr, $input:ty, $handler:path) => {{
        $registry.add_with(
            $catalog,
            $name,
            $description,
            $annotations,
            Some(ADMIN),
            |catalog: Arc<Catalog>, input: $input| async move { $handler(&catalog, input).await },
        );
        $registry.require_catalog_token($name);
        $registry.mark_admin($name, $gate);
    }};
}

pub(crate) fn register(registry: &mut ToolRegistry, catalog: &Arc<Catalog>) {
    let gate = Arc::new(AdminGate::new(catalog));
    let g = &gate;
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_users_list",
        "Catalog users (admin).",
        read(),
        Nothing,
        users_list
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_user_get",
        "One catalog user by name (admin).",
        read(),
        NameInput,
        user_get
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_roles_list",
        "Catalog roles with their policies and bucket permissions (admin).",
        read(),
        Nothing,
        roles_list
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_role_get",
        "One catalog role by id or name (admin).",
        read(),
        RoleInput,
        role_get
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_default_role_get",
        "The role new users get (admin).",
        read(),
        Nothing,
        default_role_get
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_policies_list",
        "Catalog policies with bucket permissions and roles (admin).",
        read(),
        Nothing,
        policies_list
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_policy_get",
        "One catalog policy by id or title (admin).",
        read(),
        PolicyInput,
        policy_get
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_sso_config_get",
        "The catalog's SSO configuration (admin).",
        read(),
        Nothing,
        sso_config_get
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_tabulator_open_query_get",
        "Whether Tabulator open query is on (admin).",
        read(),
        Nothing,
        open_query_get
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_user_create",
        "Create a catalog user: name, email, role, extra_roles (admin).",
        write(false, false),
        CreateInput,
        user_create
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_user_delete",
        "Delete a catalog user (admin).",
        write(true, true),
        NameInput,
        user_delete
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_user_set_email",
        "Change a user's email (admin).",
        write(true, true),
        EmailInput,
        user_set_email
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_user_set_admin",
        "Grant or revoke a user's admin flag (admin).",
        write(true, true),
        AdminFlagInput,
        user_set_admin
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_user_set_active",
        "Activate or deactivate a user (admin).",
        write(true, true),
        ActiveInput,
        user_set_active
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_user_reset_password",
        "Reset a user's password; they set a new one (admin).",
        write(true, false),
        NameInput,
        user_reset_password
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_user_set_role",
        "Set a user's active role and extra roles (replace, or append) (admin).",
        write(true, true),
        SetRoleInput,
        user_set_role
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_user_add_roles",
        "Add roles to a user (admin).",
        write(false, true),
        RolesInput,
        user_add_roles
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_user_remove_roles",
        "Remove roles from a user; fallback replaces a removed active role (admin).",
        write(true, true),
        RemoveRolesInput,
        user_remove_roles
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_role_set_default",
        "Make a role (id or name) the one new users get (admin).",
        write(true, true),
        RoleInput,
        role_set_default
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_sso_config_set",
        "Replace the catalog's SSO configuration (YAML) (admin).",
        write(true, true),
        SsoConfigInput,
        sso_config_set
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_sso_config_remove",
        "Remove the catalog's SSO configuration (admin).",
        write(true, true),
        Nothing,
        sso_config_remove
    );
    admin_tool!(
        registry,
        catalog,
        g,
        "admin_tabulator_open_query_set",
        "Turn Tabulator open query on or off (admin).",
        write(true, true),
        OpenQueryInput,
        open_query_set
    );
}

// --- read tools ----------------------------------------------------------------------------

async fn users_list(catalog: &Catalog, _: Nothing) -> Result<UsersOutput, ToolError> {
    let (_, token) = caller()?;
    let data = catalog
        .client()
        .execute::<UsersList>(&token, &NoVariables {})
        .await
        .map_err(admin_error)?;
    let mut users: Vec<UserView> = data.admin.user.list.into_iter().map(Into::into).collect();
    users.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(UsersOutput { users })
}

async fn user_get(catalog: &Catalog, input: NameInput) -> Result<UserOutput, ToolError> {
    check_user_name(&input.name)?;
    let (_, token) = caller()?;
    let data = catalog
        .client()
        .execute::<UsersGet>(
            &token,
            &NameVariables {
                name: input.name.clone(),
            },
        )
        .await
        .map_err(admin_error)?;
    let user = data.admin.user.get.ok_or_else(|| no_user(&input.name))?;
    Ok(UserOutput { user: user.into() })
}

fn no_user(name: &str) -> ToolError {
    ToolError::new(
        ErrorCode::NotFound,
        format!("the catalog has no user {name:?}"),
    )
    .with_hint("admin_users_list shows the users")
}

async fn roles(catalog: &Catalog) -> Result<Vec<Role>, ToolError> {
    let (_, token) = caller()?;
    let data = catalog
        .client()
        .execute::<RolesList>(&token, &NoVariables {})
        .await
        .map_err(admin_error)?;
    Ok(data.roles)
}

async fn roles_list(catalog: &Catalog, _: Nothing) -> Result<RolesOutput, ToolError> {
    let mut roles: Vec<RoleView> = roles(catalog).await?.into_iter().map(Into::into).collect();
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(RolesOutput { roles })
}

/// A role by id, else by name (as quilt3 resolves them).
async fn find_role(catalog: &Catalog, id_or_name: &str) -> Result<Role, ToolError> {
    if id_or_name.is_empty() || id_or_name.chars().count() > 128 {
        return Err(ToolError::invalid_argument(
            "id_or_name must be 1 to 128 characters",
        ));
    }
    let all = roles(catalog).await?;
    let found = all
        .iter()
        .position(|r| r.id == id_or_name)
        .or_else(|| all.iter().position(|r| r.name == id_or_name));
    match found {
        Some(i) => {
            let role = all
                .into_iter()
                .nth(i)
                .ok_or_else(|| ToolError::internal("role vanished"))?;
            aws::target(format!("role:{}", role.name));
            Ok(role)
        }
        None => Err(ToolError::new(
            ErrorCode::NotFound,
            format!("the catalog has no role with id or name {id_or_name:?}"),
        )
        .with_hint("admin_roles_list shows the roles")),
    }
}

async fn role_get(catalog: &Catalog, input: RoleInput) -> Result<RoleOutput, ToolError> {
    let role = find_role(catalog, &input.id_or_name).await?;
    Ok(RoleOutput {
        role: Some(role.into()),
    })
}

async fn default_role_get(catalog: &Catalog, _: Nothing) -> Result<RoleOutput, ToolError> {
    let (_, token) = caller()?;
    let data = catalog
        .client()
        .execute::<DefaultRoleGet>(&token, &NoVariables {})
        .await
        .map_err(admin_error)?;
    Ok(RoleOutput {
        role: data.default_role.map(Into::into),
    })
}

async fn policies(catalog: &Catalog) -> Result<Vec<Policy>, ToolError> {
    let (_, token) = caller()?;
    let data = catalog
        .client()
        .execute::<PoliciesList>(&token, &NoVariables {})
        .await
        .map_err(admin_error)?;
    Ok(data.policies)
}

async fn policies_list(catalog: &Catalog, _: Nothing) -> Result<PoliciesOutput, ToolError> {
    let mut policies: Vec<PolicyView> = policies(catalog)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    policies.sort_by(|a, b| a.title.cmp(&b.title));
    Ok(PoliciesOutput { policies })
}

async fn policy_get(catalog: &Catalog, input: PolicyInput) -> Result<PolicyOutput, ToolError> {
    let wanted = input.id_or_title.as_str();
    if wanted.is_empty() || wanted.chars().count() > 256 {
        return Err(ToolError::invalid_argument(
            "id_or_title must be 1 to 256 characters",
        ));
    }
    let all = policies(catalog).await?;
    let found = all
        .iter()
        .position(|p| p.id == wanted)
        .or_else(|| all.iter().position(|p| p.title == wanted));
    let policy = found.and_then(|i| all.into_iter().nth(i)).ok_or_else(|| {
        ToolError::new(
            ErrorCode::NotFound,
            format!("the catalog has no policy with id or title {wanted:?}"),
        )
        .with_hint("admin_policies_list shows the policies")
    })?;
    Ok(PolicyOutput {
        policy: policy.into(),
    })
}

async fn sso_config_get(catalog: &Catalog, _: Nothing) -> Result<SsoConfigOutput, ToolError> {
    let (_, token) = caller()?;
    let data = catalog
        .client()
        .execute::<SsoConfigGet>(&token, &NoVariables {})
        .await
        .map_err(admin_error)?;
    Ok(SsoConfigOutput {
        sso_config: data.admin.sso_config.map(Into::into),
    })
}

async fn open_query_get(catalog: &Catalog, _: Nothing) -> Result<OpenQueryOutput, ToolError> {
    let (_, token) = caller()?;
    let data = catalog
        .client()
        .execute::<TabulatorOpenQueryGet>(&token, &NoVariables {})
        .await
        .map_err(admin_error)?;
    Ok(OpenQueryOutput {
        open_query_enabled: data.admin.tabulator_open_query,
    })
}

// --- write tools ---------------------------------------------------------------------------

async fn user_create(catalog: &Catalog, input: CreateInput) -> Result<UserOutput, ToolError> {
    check_user_name(&input.name)?;
    check_email(&input.email)?;
    check_role_name("role", &input.role)?;
    if let Some(extra) = &input.extra_roles {
        check_roles("extra_roles", extra, true)?;
    }
    let (_, token) = caller()?;
    confirm(&format!(
        "Create catalog user {} ({}) with role {}.",
        input.name, input.email, input.role
    ))
    .await?;
    let data = catalog
        .client()
        .execute::<UsersCreate>(
            &token,
            &UserInputVariables {
                input: UserInput {
                    name: input.name,
                    email: input.email,
                    role: input.role,
                    extra_roles: input.extra_roles,
                },
            },
        )
        .await
        .map_err(admin_error)?;
    let user = data.admin.user.create.into_result().map_err(admin_error)?;
    Ok(UserOutput { user: user.into() })
}

async fn user_delete(catalog: &Catalog, input: NameInput) -> Result<DoneOutput, ToolError> {
    check_user_name(&input.name)?;
    let (_, token) = caller()?;
    confirm(&format!("Delete catalog user {}.", input.name)).await?;
    let data = catalog
        .client()
        .execute::<UsersDelete>(
            &token,
            &NameVariables {
                name: input.name.clone(),
            },
        )
        .await
        .map_err(admin_error)?;
    data.mutated(&input.name)
        .map_err(admin_error)?
        .result
        .into_result()
        .map_err(admin_error)?;
    Ok(DoneOutput {
        name: input.name,
        done: "deleted".into(),
    })
}

async fn user_reset_password(catalog: &Catalog, input: NameInput) -> Result<DoneOutput, ToolError> {
    check_user_name(&input.name)?;
    let (_, token) = caller()?;
    confirm(&format!(
        "Reset the password of catalog user {}; they will have to set a new one.",
        input.name
    ))
    .await?;
    let data = catalog
        .client()
        .execute::<UsersResetPassword>(
            &token,
            &NameVariables {
                name: input.name.clone(),
            },
        )
        .await
        .map_err(admin_error)?;
    data.mutated(&input.name)
        .map_err(admin_error)?
        .result
        .into_result()
        .map_err(admin_error)?;
    Ok(DoneOutput {
        name: input.name,
        done: "password_reset".into(),
    })
}

/// The user a mutation answered, or its error.
fn mutated_user(
    name: &str,
    data: quilt_catalog::operations::admin::AdminOf<
        quilt_catalog::operations::admin::UserOf<
            quilt_catalog::operations::admin::MutateField<
                quilt_catalog::operations::admin::UserMutation,
            >,
        >,
    >,
) -> Result<UserOutput, ToolError> {
    let user = data
        .mutated(name)
        .map_err(admin_error)?
        .result
        .into_result()
        .map_err(admin_error)?;
    Ok(UserOutput { user: user.into() })
}

async fn user_set_email(catalog: &Catalog, input: EmailInput) -> Result<UserOutput, ToolError> {
    check_user_name(&input.name)?;
    check_email(&input.email)?;
    let (_, token) = caller()?;
    confirm(&format!(
        "Change the email of catalog user {} to {}.",
        input.name, input.email
    ))
    .await?;
    let data = catalog
        .client()
        .execute::<UsersSetEmail>(
            &token,
            &SetEmailVariables {
                name: input.name.clone(),
                email: input.email,
            },
        )
        .await
        .map_err(admin_error)?;
    mutated_user(&input.name, data)
}

async fn user_set_admin(catalog: &Catalog, input: AdminFlagInput) -> Result<UserOutput, ToolError> {
    check_user_name(&input.name)?;
    let (_, token) = caller()?;
    confirm(&if input.admin {
        format!("Make catalog user {} an admin.", input.name)
    } else {
        format!("Remove the admin flag of catalog user {}.", input.name)
    })
    .await?;
    let data = catalog
        .client()
        .execute::<UsersSetAdmin>(
            &token,
            &SetAdminVariables {
                name: input.name.clone(),
                admin: input.admin,
            },
        )
        .await
        .map_err(admin_error)?;
    mutated_user(&input.name, data)
}

async fn user_set_active(catalog: &Catalog, input: ActiveInput) -> Result<UserOutput, ToolError> {
    check_user_name(&input.name)?;
    let (_, token) = caller()?;
    confirm(&if input.active {
        format!("Activate catalog user {}.", input.name)
    } else {
        format!(
            "Deactivate catalog user {}: they can no longer sign in.",
            input.name
        )
    })
    .await?;
    let data = catalog
        .client()
        .execute::<UsersSetActive>(
            &token,
            &SetActiveVariables {
                name: input.name.clone(),
                active: input.active,
            },
        )
        .await
        .map_err(admin_error)?;
    mutated_user(&input.name, data)
}

async fn user_set_role(catalog: &Catalog, input: SetRoleInput) -> Result<UserOutput, ToolError> {
    check_user_name(&input.name)?;
    check_role_name("role", &input.role)?;
    if let Some(extra) = &input.extra_roles {
        check_roles("extra_roles", extra, true)?;
    }
    let (_, token) = caller()?;
    let extra = input.extra_roles.clone().unwrap_or_default().join(", ");
    confirm(&format!(
        "Set the active role of catalog user {} to {}{}.",
        input.name,
        input.role,
        match (extra.is_empty(), input.append) {
            (true, true) => String::new(),
            (true, false) => " and remove their extra roles".to_owned(),
            (false, true) => format!(" and add extra roles {extra}"),
            (false, false) => format!(" and replace their extra roles with {extra}"),
        }
    ))
    .await?;
    let data = catalog
        .client()
        .execute::<UsersSetRole>(
            &token,
            &SetRoleVariables {
                name: input.name.clone(),
                role: input.role,
                extra_roles: input.extra_roles,
                append: input.append,
            },
        )
        .await
        .map_err(admin_error)?;
    mutated_user(&input.name, data)
}

async fn user_add_roles(catalog: &Catalog, input: RolesInput) -> Result<UserOutput, ToolError> {
    check_user_name(&input.name)?;
    check_roles("roles", &input.roles, false)?;
    let (_, token) = caller()?;
    confirm(&format!(
        "Add roles {} to catalog user {}.",
        input.roles.join(", "),
        input.name
    ))
    .await?;
    let data = catalog
        .client()
        .execute::<UsersAddRoles>(
            &token,
            &AddRolesVariables {
                name: input.name.clone(),
                roles: input.roles,
            },
        )
        .await
        .map_err(admin_error)?;
    mutated_user(&input.name, data)
}

async fn user_remove_roles(
    catalog: &Catalog,
    input: RemoveRolesInput,
) -> Result<UserOutput, ToolError> {
    check_user_name(&input.name)?;
    check_roles("roles", &input.roles, false)?;
    if let Some(fallback) = &input.fallback {
        check_role_name("fallback", fallback)?;
    }
    let (_, token) = caller()?;
    confirm(&format!(
        "Remove roles {} from catalog user {}.",
        input.roles.join(", "),
        input.name
    ))
    .await?;
    let data = catalog
        .client()
        .execute::<UsersRemoveRoles>(
            &token,
            &RemoveRolesVariables {
                name: input.name.clone(),
                roles: input.roles,
                fallback: input.fallback,
            },
        )
        .await
        .map_err(admin_error)?;
    mutated_user(&input.name, data)
}

async fn role_set_default(catalog: &Catalog, input: RoleInput) -> Result<RoleOutput, ToolError> {
    let role = find_role(catalog, &input.id_or_name).await?;
    let (_, token) = caller()?;
    confirm(&format!(
        "Make role {} the role every new catalog user gets.",
        role.name
    ))
    .await?;
    let data = catalog
        .client()
        .execute::<RoleSetDefault>(&token, &IdVariables { id: role.id })
        .await
        .map_err(admin_error)?;
    let role = data.role_set_default.into_result().map_err(admin_error)?;
    Ok(RoleOutput {
        role: Some(role.into()),
    })
}

async fn sso_config_set(
    catalog: &Catalog,
    input: SsoConfigInput,
) -> Result<SsoConfigOutput, ToolError> {
    aws::target("sso_config");
    check_sso_config(&input.config)?;
    let (_, token) = caller()?;
    confirm(&format!(
        "Replace the catalog's SSO configuration with the given one ({} bytes); sign-in changes for every SSO user.",
        input.config.len()
    ))
    .await?;
    let data = catalog
        .client()
        .execute::<SsoConfigSet>(
            &token,
            &SsoConfigVariables {
                config: Some(input.config),
            },
        )
        .await
        .map_err(admin_error)?;
    let config = data
        .admin
        .set_sso_config
        .ok_or_else(|| {
            ToolError::new(
                ErrorCode::UpstreamUnavailable,
                "the catalog answered no SSO configuration after setting one",
            )
        })?
        .into_result()
        .map_err(admin_error)?;
    Ok(SsoConfigOutput {
        sso_config: Some(config.into()),
    })
}

async fn sso_config_remove(catalog: &Catalog, _: Nothing) -> Result<SsoConfigOutput, ToolError> {
    aws::target("sso_config");
    let (_, token) = caller()?;
    confirm("Remove the catalog's SSO configuration; SSO sign-in stops for every user.").await?;
    let data = catalog
        .client()
        .execute::<SsoConfigSet>(&token, &SsoConfigVariables { config: None })
        .await
        .map_err(admin_error)?;
    if let Some(result) = data.admin.set_sso_config {
        result.into_result().map_err(admin_error)?;
    }
    Ok(SsoConfigOutput { sso_config: None })
}

async fn open_query_set(
    catalog: &Catalog,
    input: OpenQueryInput,
) -> Result<OpenQueryOutput, ToolError> {
    aws::target("tabulator_open_query");
    let (_, token) = caller()?;
    confirm(&format!(
        "Turn Tabulator open query {} for the whole catalog.",
        if input.enabled { "on" } else { "off" }
    ))
    .await?;
    let data = catalog
        .client()
        .execute::<TabulatorOpenQuerySet>(
            &token,
            &OpenQueryVariables {
                enabled: input.enabled,
            },
        )
        .await
        .map_err(admin_error)?;
    Ok(OpenQueryOutput {
        open_query_enabled: data.admin.set_tabulator_open_query.tabulator_open_query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_for_shape() {
        for ok in ["a@b.co", "first.last+tag@sub.example.org"] {
            check_email(ok).expect(ok);
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@@b.co", "a b@c.co", "a@b..co", "a@.co",
        ] {
            check_email(bad).expect_err(bad);
        }
    }

    #[test]
    fn sso_configs_must_be_one_yaml_mapping() {
        check_sso_config("version: \"1.0\"\nmappings: []\n").expect("mapping");
        for bad in ["", "a: [", "- a\n- b\n", "a: 1\n---\nb: 2\n"] {
            check_sso_config(bad).expect_err(bad);
        }
    }
}
