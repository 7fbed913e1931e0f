//! Catalog administration for catalog admins, and only for them: users, roles, policies, the
//! SSO configuration and Tabulator's open-query switch, through the catalog's GraphQL
//! `admin` queries and mutations (`quilt_catalog::operations::admin`) with the caller's own
//! catalog token. Names are the Python peer's (`admin_user_create`, …) so prompts written for
//! it keep working.
//!
//! - Visibility ([`visibility`]): listed and callable only for a caller the catalog reports
//!   as an admin who also holds `quilt:admin` (where scope checks are on); to anyone else the
//!   tools do not exist. The catalog checks again on every operation.
//! - Input is checked first ([`checks`]) (user and role names, email shape, SSO configuration is a
//!   YAML mapping, non-empty role lists): a mistake is `invalid_argument` and nothing is sent.
//! - Every write asks the user to confirm where the client can (`confirm.rs`), after the
//!   checks and before the mutation, and names its target in the audit line
//!   (`aws::target`: `user:<name>`, `role:<name>`, `sso_config`, `tabulator_open_query`).
//! - The catalog's answers: an unknown user (`mutate` is `null`) or role is `not_found`;
//!   `InvalidInput` is `invalid_argument`; `OperationError` (e.g. the last admin losing the
//!   flag) is `conflict` — the catalog refused the change in its current state; nothing
//!   changed in either case.
//!
//! Arguments and answers are in [`shapes`].

mod checks;
mod shapes;
mod visibility;

use std::sync::Arc;

use quilt_catalog::CatalogError;
use quilt_catalog::Operation;
use quilt_catalog::operations::NoVariables;
use quilt_catalog::operations::admin::{
    AddRolesVariables, AdminOf, DefaultRoleGet, IdVariables, MutateField, NameVariables,
    OpenQueryVariables, PoliciesList, Policy, RemoveRolesVariables, Role, RoleSetDefault,
    RolesList, SetActiveVariables, SetAdminVariables, SetEmailVariables, SetRoleVariables,
    SsoConfigGet, SsoConfigSet, SsoConfigVariables, TabulatorOpenQueryGet, TabulatorOpenQuerySet,
    UserInput, UserInputVariables, UserMutation, UserOf, UsersAddRoles, UsersCreate, UsersDelete,
    UsersGet, UsersList, UsersRemoveRoles, UsersResetPassword, UsersSetActive, UsersSetAdmin,
    UsersSetEmail, UsersSetRole,
};
use rmcp::model::ToolAnnotations;

use checks::{check_email, check_role_name, check_roles, check_sso_config, check_user_name};
pub(crate) use shapes::*;
pub(crate) use visibility::AdminGate;

use crate::aws;
use crate::confirm::confirm;
use crate::scopes::Scope;
use crate::tool_error::{ErrorCode, ToolError};
use crate::tools::ToolRegistry;
use crate::tools::catalog::{Catalog, caller};

const ADMIN: Scope = Scope::Admin;

/// The tool error for a catalog answer to an admin operation. See the module docs.
fn admin_error(error: CatalogError) -> ToolError {
    match &error {
        CatalogError::Operation { .. } => ToolError::new(ErrorCode::Conflict, error.to_string())
            .with_hint("the catalog refused the change in its current state; nothing changed"),
        _ => crate::tools::catalog::tool_error(error),
    }
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
    let data = run::<UsersList>(catalog, &NoVariables {}).await?;
    let mut users: Vec<UserView> = data.admin.user.list.into_iter().map(Into::into).collect();
    users.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(UsersOutput { users })
}

/// Runs `O` against the catalog as the caller (its catalog token), with the catalog's answers
/// mapped to tool errors.
async fn run<O: Operation>(
    catalog: &Catalog,
    variables: &O::Variables,
) -> Result<O::Data, ToolError> {
    let (_, token) = caller()?;
    catalog
        .client()
        .execute::<O>(&token, variables)
        .await
        .map_err(admin_error)
}

async fn user_get(catalog: &Catalog, input: NameInput) -> Result<UserOutput, ToolError> {
    check_user_name(&input.name)?;
    let data = run::<UsersGet>(
        catalog,
        &NameVariables {
            name: input.name.clone(),
        },
    )
    .await?;
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
    let data = run::<RolesList>(catalog, &NoVariables {}).await?;
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
    let data = run::<DefaultRoleGet>(catalog, &NoVariables {}).await?;
    Ok(RoleOutput {
        role: data.default_role.map(Into::into),
    })
}

async fn policies(catalog: &Catalog) -> Result<Vec<Policy>, ToolError> {
    let data = run::<PoliciesList>(catalog, &NoVariables {}).await?;
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
    let data = run::<SsoConfigGet>(catalog, &NoVariables {}).await?;
    Ok(SsoConfigOutput {
        sso_config: data.admin.sso_config.map(Into::into),
    })
}

async fn open_query_get(catalog: &Catalog, _: Nothing) -> Result<OpenQueryOutput, ToolError> {
    let data = run::<TabulatorOpenQueryGet>(catalog, &NoVariables {}).await?;
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
    confirm(&format!(
        "Create catalog user {} ({}) with role {}.",
        input.name, input.email, input.role
    ))
    .await?;
    let data = run::<UsersCreate>(
        catalog,
        &UserInputVariables {
            input: UserInput {
                name: input.name,
                email: input.email,
                role: input.role,
                extra_roles: input.extra_roles,
            },
        },
    )
    .await?;
    let user = data.admin.user.create.into_result().map_err(admin_error)?;
    Ok(UserOutput { user: user.into() })
}

async fn user_delete(catalog: &Catalog, input: NameInput) -> Result<DoneOutput, ToolError> {
    check_user_name(&input.name)?;
    confirm(&format!("Delete catalog user {}.", input.name)).await?;
    let data = run::<UsersDelete>(
        catalog,
        &NameVariables {
            name: input.name.clone(),
        },
    )
    .await?;
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
    confirm(&format!(
        "Reset the password of catalog user {}; they will have to set a new one.",
        input.name
    ))
    .await?;
    let data = run::<UsersResetPassword>(
        catalog,
        &NameVariables {
            name: input.name.clone(),
        },
    )
    .await?;
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
    data: AdminOf<UserOf<MutateField<UserMutation>>>,
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
    confirm(&format!(
        "Change the email of catalog user {} to {}.",
        input.name, input.email
    ))
    .await?;
    let data = run::<UsersSetEmail>(
        catalog,
        &SetEmailVariables {
            name: input.name.clone(),
            email: input.email,
        },
    )
    .await?;
    mutated_user(&input.name, data)
}

async fn user_set_admin(catalog: &Catalog, input: AdminFlagInput) -> Result<UserOutput, ToolError> {
    check_user_name(&input.name)?;
    confirm(&if input.admin {
        format!("Make catalog user {} an admin.", input.name)
    } else {
        format!("Remove the admin flag of catalog user {}.", input.name)
    })
    .await?;
    let data = run::<UsersSetAdmin>(
        catalog,
        &SetAdminVariables {
            name: input.name.clone(),
            admin: input.admin,
        },
    )
    .await?;
    mutated_user(&input.name, data)
}

async fn user_set_active(catalog: &Catalog, input: ActiveInput) -> Result<UserOutput, ToolError> {
    check_user_name(&input.name)?;
    confirm(&if input.active {
        format!("Activate catalog user {}.", input.name)
    } else {
        format!(
            "Deactivate catalog user {}: they can no longer sign in.",
            input.name
        )
    })
    .await?;
    let data = run::<UsersSetActive>(
        catalog,
        &SetActiveVariables {
            name: input.name.clone(),
            active: input.active,
        },
    )
    .await?;
    mutated_user(&input.name, data)
}

async fn user_set_role(catalog: &Catalog, input: SetRoleInput) -> Result<UserOutput, ToolError> {
    check_user_name(&input.name)?;
    check_role_name("role", &input.role)?;
    if let Some(extra) = &input.extra_roles {
        check_roles("extra_roles", extra, true)?;
    }
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
    let data = run::<UsersSetRole>(
        catalog,
        &SetRoleVariables {
            name: input.name.clone(),
            role: input.role,
            extra_roles: input.extra_roles,
            append: input.append,
        },
    )
    .await?;
    mutated_user(&input.name, data)
}

async fn user_add_roles(catalog: &Catalog, input: RolesInput) -> Result<UserOutput, ToolError> {
    check_user_name(&input.name)?;
    check_roles("roles", &input.roles, false)?;
    confirm(&format!(
        "Add roles {} to catalog user {}.",
        input.roles.join(", "),
        input.name
    ))
    .await?;
    let data = run::<UsersAddRoles>(
        catalog,
        &AddRolesVariables {
            name: input.name.clone(),
            roles: input.roles,
        },
    )
    .await?;
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
    confirm(&format!(
        "Remove roles {} from catalog user {}.",
        input.roles.join(", "),
        input.name
    ))
    .await?;
    let data = run::<UsersRemoveRoles>(
        catalog,
        &RemoveRolesVariables {
            name: input.name.clone(),
            roles: input.roles,
            fallback: input.fallback,
        },
    )
    .await?;
    mutated_user(&input.name, data)
}

async fn role_set_default(catalog: &Catalog, input: RoleInput) -> Result<RoleOutput, ToolError> {
    let role = find_role(catalog, &input.id_or_name).await?;
    confirm(&format!(
        "Make role {} the role every new catalog user gets.",
        role.name
    ))
    .await?;
    let data = run::<RoleSetDefault>(catalog, &IdVariables { id: role.id }).await?;
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
    confirm(&format!(
        "Replace the catalog's SSO configuration with the given one ({} bytes); sign-in changes for every SSO user.",
        input.config.len()
    ))
    .await?;
    let data = run::<SsoConfigSet>(
        catalog,
        &SsoConfigVariables {
            config: Some(input.config),
        },
    )
    .await?;
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
    confirm("Remove the catalog's SSO configuration; SSO sign-in stops for every user.").await?;
    let data = run::<SsoConfigSet>(catalog, &SsoConfigVariables { config: None }).await?;
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
    confirm(&format!(
        "Turn Tabulator open query {} for the whole catalog.",
        if input.enabled { "on" } else { "off" }
    ))
    .await?;
    let data = run::<TabulatorOpenQuerySet>(
        catalog,
        &OpenQueryVariables {
            enabled: input.enabled,
        },
    )
    .await?;
    Ok(OpenQueryOutput {
        open_query_enabled: data.admin.set_tabulator_open_query.tabulator_open_query,
    })
}
