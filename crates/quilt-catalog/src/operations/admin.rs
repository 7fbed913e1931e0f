//! The catalog's administration: who the caller is (`me { isAdmin }`), users, roles,
//! policies, the SSO configuration and Tabulator's open-query switch — the queries and
//! mutations quilt3's `admin` module sends (its `_graphql_client`), with smaller selections.
//!
//! Every union is read by `__typename`, and every arm is kept: `UserResult` (`User` |
//! `InvalidInput` | `OperationError`), `OperationResult` (`Ok` | …), `SetSsoConfigResult`,
//! `RoleSetDefaultResult` (`RoleSetDefaultSuccess` | `RoleDoesNotExist` |
//! `SsoConfigConflict`). `admin.user.mutate(name)` is `null` for an unknown user: that is
//! [`CatalogError::NotFound`]. The catalog refuses all of these (a GraphQL authorization
//! error, [`CatalogError::Unauthorized`]) to a caller who is not an admin.

use serde::{Deserialize, Serialize};

use super::{NoVariables, error_fragments, invalid_input, operation_error};
use crate::Operation;
use crate::error::{CatalogError, InputError};

// --- shapes ----------------------------------------------------------------------------

/// `me`: the caller as the catalog knows it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    /// User name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Whether the catalog makes this user an admin.
    pub is_admin: bool,
}

/// A policy as a role lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct PolicyRef {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
}

/// A bucket by name.
#[derive(Debug, Clone, Deserialize)]
pub struct BucketRef {
    /// Bucket name.
    pub name: String,
}

/// A bucket permission of a role or a policy.
#[derive(Debug, Clone, Deserialize)]
pub struct BucketPermission {
    /// The bucket.
    pub bucket: BucketRef,
    /// `READ` or `READ_WRITE`.
    pub level: String,
}

/// A role (`ManagedRole` or `UnmanagedRole`; policies and permissions only for managed).
#[derive(Debug, Clone, Deserialize)]
pub struct Role {
    /// `ManagedRole` or `UnmanagedRole`.
    #[serde(rename = "__typename")]
    pub typename: String,
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// IAM role ARN.
    pub arn: String,
    /// Attached policies (managed roles).
    #[serde(default)]
    pub policies: Vec<PolicyRef>,
    /// Bucket permissions (managed roles).
    #[serde(default)]
    pub permissions: Vec<BucketPermission>,
}

/// A user.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// User name.
    pub name: String,
    /// Email.
    pub email: String,
    /// When the user joined.
    pub date_joined: String,
    /// Last login.
    pub last_login: String,
    /// Active (may sign in).
    pub is_active: bool,
    /// Admin.
    pub is_admin: bool,
    /// Signs in through SSO only.
    pub is_sso_only: bool,
    /// A service account.
    pub is_service: bool,
    /// The active role.
    pub role: Option<Role>,
    /// Other roles the user may switch to.
    pub extra_roles: Vec<Role>,
}

/// A role as a policy lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct RoleRef {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// A policy.
#[derive(Debug, Clone, Deserialize)]
pub struct Policy {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// IAM policy ARN.
    pub arn: String,
    /// Managed by Quilt (built from bucket permissions) or an existing IAM policy.
    pub managed: bool,
    /// Bucket permissions.
    pub permissions: Vec<BucketPermission>,
    /// Managed roles it is attached to.
    pub roles: Vec<RoleRef>,
}

/// Who uploaded an SSO configuration.
#[derive(Debug, Clone, Deserialize)]
pub struct Uploader {
    /// User name.
    pub name: String,
    /// Email.
    pub email: String,
}

/// The SSO configuration.
#[derive(Debug, Clone, Deserialize)]
pub struct SsoConfig {
    /// The YAML text.
    pub text: String,
    /// When it was set.
    pub timestamp: String,
    /// By whom.
    pub uploader: Uploader,
}

// --- unions ----------------------------------------------------------------------------

/// `UserResult`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "__typename")]
pub enum UserResult {
    /// The user after the change.
    User(Box<User>),
    /// Refused input (an invalid email, an unknown role, a name in use).
    InvalidInput {
        /// Why.
        errors: Vec<InputError>,
    },
    /// The catalog refused or failed (e.g. removing the last admin).
    OperationError {
        /// What.
        message: String,
        /// Its name.
        name: String,
    },
}

impl UserResult {
    /// The user, or the error arm as an error.
    pub fn into_result(self) -> Result<User, CatalogError> {
        match self {
            Self::User(user) => Ok(*user),
            Self::InvalidInput { errors } => Err(invalid_input(errors)),
            Self::OperationError { message, name } => Err(operation_error(name, message)),
        }
    }
}

/// `OperationResult`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "__typename")]
pub enum OperationResult {
    /// Done.
    Ok,
    /// Refused input.
    InvalidInput {
        /// Why.
        errors: Vec<InputError>,
    },
    /// The catalog refused or failed.
    OperationError {
        /// What.
        message: String,
        /// Its name.
        name: String,
    },
}

impl OperationResult {
    /// `Ok(())`, or the error arm as an error.
    pub fn into_result(self) -> Result<(), CatalogError> {
        match self {
            Self::Ok => Ok(()),
            Self::InvalidInput { errors } => Err(invalid_input(errors)),
            Self::OperationError { message, name } => Err(operation_error(name, message)),
        }
    }
}

/// `SetSsoConfigResult`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "__typename")]
pub enum SetSsoConfigResult {
    /// The configuration now in force.
    SsoConfig(SsoConfig),
    /// Refused input (not YAML, not a valid SSO configuration).
    InvalidInput {
        /// Why.
        errors: Vec<InputError>,
    },
    /// The catalog refused or failed.
    OperationError {
        /// What.
        message: String,
        /// Its name.
        name: String,
    },
}

impl SetSsoConfigResult {
    /// The configuration, or the error arm as an error.
    pub fn into_result(self) -> Result<SsoConfig, CatalogError> {
        match self {
            Self::SsoConfig(config) => Ok(config),
            Self::InvalidInput { errors } => Err(invalid_input(errors)),
            Self::OperationError { message, name } => Err(operation_error(name, message)),
        }
    }
}

/// `RoleSetDefaultResult`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "__typename")]
pub enum RoleSetDefaultResult {
    /// The new default role.
    RoleSetDefaultSuccess {
        /// The role.
        role: Role,
    },
    /// No role with that id.
    RoleDoesNotExist,
    /// The SSO configuration assigns roles, so there is no default to set.
    SsoConfigConflict,
}

impl RoleSetDefaultResult {
    /// The role, or the error arm as an error.
    pub fn into_result(self) -> Result<Role, CatalogError> {
        match self {
            Self::RoleSetDefaultSuccess { role } => Ok(role),
            Self::RoleDoesNotExist => Err(CatalogError::NotFound(
                "the catalog has no such role (RoleDoesNotExist)".into(),
            )),
            Self::SsoConfigConflict => Err(operation_error(
                "SsoConfigConflict".into(),
                "the SSO configuration assigns roles; the default role cannot be set while it does"
                    .into(),
            )),
        }
    }
}

// --- nesting of the answers --------------------------------------------------------------

/// `{ admin: T }`.
#[derive(Debug, Clone, Deserialize)]
pub struct AdminOf<T> {
    /// The `admin` field.
    pub admin: T,
}

/// `{ user: T }`.
#[derive(Debug, Clone, Deserialize)]
pub struct UserOf<T> {
    /// The `user` field.
    pub user: T,
}

/// `admin.user.list`.
#[derive(Debug, Clone, Deserialize)]
pub struct ListField {
    /// The users.
    pub list: Vec<User>,
}

/// `admin.user.get`.
#[derive(Debug, Clone, Deserialize)]
pub struct GetField {
    /// The user, `None` when unknown.
    pub get: Option<User>,
}

/// `admin.user.create`.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateField {
    /// The result.
    pub create: UserResult,
}

/// `admin.user.mutate(name)`: `None` when the user does not exist.
#[derive(Debug, Clone, Deserialize)]
pub struct MutateField<T> {
    /// The user's mutations.
    pub mutate: Option<T>,
}

/// One user mutation's result, whichever it was.
#[derive(Debug, Clone, Deserialize)]
pub struct UserMutation {
    /// The result.
    #[serde(
        alias = "setEmail",
        alias = "setAdmin",
        alias = "setActive",
        alias = "setRole",
        alias = "addRoles",
        alias = "removeRoles"
    )]
    pub result: UserResult,
}

/// `delete` or `resetPassword`.
#[derive(Debug, Clone, Deserialize)]
pub struct UserOperation {
    /// The result.
    #[serde(alias = "delete", alias = "resetPassword")]
    pub result: OperationResult,
}

impl<T> AdminOf<UserOf<MutateField<T>>> {
    /// The mutation's answer, or not found for an unknown user `name`.
    pub fn mutated(self, name: &str) -> Result<T, CatalogError> {
        self.admin
            .user
            .mutate
            .ok_or_else(|| CatalogError::NotFound(format!("the catalog has no user {name:?}")))
    }
}

/// `data` of `me`.
#[derive(Debug, Clone, Deserialize)]
pub struct MeData {
    /// `None` when the token names nobody the catalog knows.
    pub me: Option<Me>,
}

/// `data` of `rolesList`.
#[derive(Debug, Clone, Deserialize)]
pub struct RolesData {
    /// The roles.
    pub roles: Vec<Role>,
}

/// `data` of `defaultRoleGet`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefaultRoleData {
    /// The default role, if one is set.
    pub default_role: Option<Role>,
}

/// `data` of `policiesList`.
#[derive(Debug, Clone, Deserialize)]
pub struct PoliciesData {
    /// The policies.
    pub policies: Vec<Policy>,
}

/// `admin.ssoConfig`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SsoConfigField {
    /// The configuration, if one is set.
    pub sso_config: Option<SsoConfig>,
}

/// `admin.setSsoConfig` (`null` when the configuration was removed).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetSsoConfigField {
    /// The result.
    pub set_sso_config: Option<SetSsoConfigResult>,
}

/// `admin.tabulatorOpenQuery`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenQueryField {
    /// Whether open query is on.
    pub tabulator_open_query: bool,
}

/// `admin.setTabulatorOpenQuery`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetOpenQueryField {
    /// The switch after the change.
    pub set_tabulator_open_query: OpenQueryField,
}

/// `data` of `roleSetDefault`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleSetDefaultData {
    /// The result.
    pub role_set_default: RoleSetDefaultResult,
}

// --- selections --------------------------------------------------------------------------

macro_rules! role_fields {
    () => {
        "__typename
      ... on UnmanagedRole { id name arn }
      ... on ManagedRole { id name arn policies { id title } permissions { bucket { name } level } }"
    };
}

macro_rules! user_fields {
    () => {
        "name email dateJoined lastLogin isActive isAdmin isSsoOnly isService
      role { __typename ... on UnmanagedRole { id name arn } ... on ManagedRole { id name arn } }
      extraRoles { __typename ... on UnmanagedRole { id name arn } ... on ManagedRole { id name arn } }"
    };
}

macro_rules! policy_fields {
    () => {
        "id title arn managed permissions { bucket { name } level } roles { id name }"
    };
}

macro_rules! sso_fields {
    () => {
        "text timestamp uploader { name email }"
    };
}

// --- variables ---------------------------------------------------------------------------

/// A user by name.
#[derive(Debug, Clone, Serialize)]
pub struct NameVariables {
    /// User name.
    pub name: String,
}

/// `UserInput`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInputVariables {
    /// The new user.
    pub input: UserInput,
}

/// The schema's `UserInput`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInput {
    /// User name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Active role.
    pub role: String,
    /// Other roles.
    pub extra_roles: Option<Vec<String>>,
}

/// `setEmail`.
#[derive(Debug, Clone, Serialize)]
pub struct SetEmailVariables {
    /// User name.
    pub name: String,
    /// New email.
    pub email: String,
}

/// `setAdmin`.
#[derive(Debug, Clone, Serialize)]
pub struct SetAdminVariables {
    /// User name.
    pub name: String,
    /// Admin or not.
    pub admin: bool,
}

/// `setActive`.
#[derive(Debug, Clone, Serialize)]
pub struct SetActiveVariables {
    /// User name.
    pub name: String,
    /// Active or not.
    pub active: bool,
}

/// `setRole`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetRoleVariables {
    /// User name.
    pub name: String,
    /// The active role.
    pub role: String,
    /// Other roles.
    pub extra_roles: Option<Vec<String>>,
    /// Add `extra_roles` to the user's instead of replacing them.
    pub append: bool,
}

/// `addRoles`.
#[derive(Debug, Clone, Serialize)]
pub struct AddRolesVariables {
    /// User name.
    pub name: String,
    /// Roles to add.
    pub roles: Vec<String>,
}

/// `removeRoles`.
#[derive(Debug, Clone, Serialize)]
pub struct RemoveRolesVariables {
    /// User name.
    pub name: String,
    /// Roles to remove.
    pub roles: Vec<String>,
    /// The active role to fall back to when the active one is removed.
    pub fallback: Option<String>,
}

/// A role by id.
#[derive(Debug, Clone, Serialize)]
pub struct IdVariables {
    /// Role id.
    pub id: String,
}

/// `setSsoConfig` (`None` removes it).
#[derive(Debug, Clone, Serialize)]
pub struct SsoConfigVariables {
    /// The YAML text.
    pub config: Option<String>,
}

/// `setTabulatorOpenQuery`.
#[derive(Debug, Clone, Serialize)]
pub struct OpenQueryVariables {
    /// On or off.
    pub enabled: bool,
}

// --- operations ----------------------------------------------------------------------------

macro_rules! operation {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $vars:ty, $data:ty, $doc_text:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $ty;

        impl Operation for $ty {
            const NAME: &'static str = $name;
            const DOCUMENT: &'static str = $doc_text;
            type Variables = $vars;
            type Data = $data;
        }
    };
}

operation!(
    /// `query me`: is the caller an admin.
    MeQuery, "me", NoVariables, MeData,
    "query me {\n  me { name email isAdmin }\n}\n"
);

operation!(
    /// `query usersList`.
    UsersList, "usersList", NoVariables, AdminOf<UserOf<ListField>>,
    concat!("query usersList {\n  admin { user { list {\n      ", user_fields!(), "\n  } } }\n}\n")
);

operation!(
    /// `query usersGet`.
    UsersGet, "usersGet", NameVariables, AdminOf<UserOf<GetField>>,
    concat!("query usersGet($name: String!) {\n  admin { user { get(name: $name) {\n      ", user_fields!(), "\n  } } }\n}\n")
);

operation!(
    /// `query rolesList`.
    RolesList, "rolesList", NoVariables, RolesData,
    concat!("query rolesList {\n  roles {\n      ", role_fields!(), "\n  }\n}\n")
);

operation!(
    /// `query defaultRoleGet`.
    DefaultRoleGet, "defaultRoleGet", NoVariables, DefaultRoleData,
    concat!("query defaultRoleGet {\n  defaultRole {\n      ", role_fields!(), "\n  }\n}\n")
);

operation!(
    /// `query policiesList`.
    PoliciesList, "policiesList", NoVariables, PoliciesData,
    concat!("query policiesList {\n  policies { ", policy_fields!(), " }\n}\n")
);

operation!(
    /// `query ssoConfigGet`.
    SsoConfigGet, "ssoConfigGet", NoVariables, AdminOf<SsoConfigField>,
    concat!("query ssoConfigGet {\n  admin { ssoConfig { ", sso_fields!(), " } }\n}\n")
);

operation!(
    /// `query tabulatorGetOpenQuery`.
    TabulatorOpenQueryGet, "tabulatorGetOpenQuery", NoVariables, AdminOf<OpenQueryField>,
    "query tabulatorGetOpenQuery {\n  admin { tabulatorOpenQuery }\n}\n"
);

macro_rules! user_result {
    () => {
        "__typename
      ... on User { name email dateJoined lastLogin isActive isAdmin isSsoOnly isService
        role { __typename ... on UnmanagedRole { id name arn } ... on ManagedRole { id name arn } }
        extraRoles { __typename ... on UnmanagedRole { id name arn } ... on ManagedRole { id name arn } } }
      ...InvalidInputSelection
      ...OperationErrorSelection"
    };
}

macro_rules! operation_result {
    () => {
        "__typename
      ...InvalidInputSelection
      ...OperationErrorSelection"
    };
}

operation!(
    /// `mutation usersCreate`.
    UsersCreate, "usersCreate", UserInputVariables, AdminOf<UserOf<CreateField>>,
    concat!("mutation usersCreate($input: UserInput!) {\n  admin { user { create(input: $input) {\n      ", user_result!(), "\n  } } }\n}\n", error_fragments!())
);

operation!(
    /// `mutation usersDelete`.
    UsersDelete, "usersDelete", NameVariables, AdminOf<UserOf<MutateField<UserOperation>>>,
    concat!("mutation usersDelete($name: String!) {\n  admin { user { mutate(name: $name) { delete {\n      ", operation_result!(), "\n  } } } }\n}\n", error_fragments!())
);

operation!(
    /// `mutation usersResetPassword`.
    UsersResetPassword, "usersResetPassword", NameVariables, AdminOf<UserOf<MutateField<UserOperation>>>,
    concat!("mutation usersResetPassword($name: String!) {\n  admin { user { mutate(name: $name) { resetPassword {\n      ", operation_result!(), "\n  } } } }\n}\n", error_fragments!())
);

operation!(
    /// `mutation usersSetEmail`.
    UsersSetEmail, "usersSetEmail", SetEmailVariables, AdminOf<UserOf<MutateField<UserMutation>>>,
    concat!("mutation usersSetEmail($name: String!, $email: String!) {\n  admin { user { mutate(name: $name) { setEmail(email: $email) {\n      ", user_result!(), "\n  } } } }\n}\n", error_fragments!())
);

operation!(
    /// `mutation usersSetAdmin`.
    UsersSetAdmin, "usersSetAdmin", SetAdminVariables, AdminOf<UserOf<MutateField<UserMutation>>>,
    concat!("mutation usersSetAdmin($name: String!, $admin: Boolean!) {\n  admin { user { mutate(name: $name) { setAdmin(admin: $admin) {\n      ", user_result!(), "\n  } } } }\n}\n", error_fragments!())
);

operation!(
    /// `mutation usersSetActive`.
    UsersSetActive, "usersSetActive", SetActiveVariables, AdminOf<UserOf<MutateField<UserMutation>>>,
    concat!("mutation usersSetActive($name: String!, $active: Boolean!) {\n  admin { user { mutate(name: $name) { setActive(active: $active) {\n      ", user_result!(), "\n  } } } }\n}\n", error_fragments!())
);

operation!(
    /// `mutation usersSetRole`.
    UsersSetRole, "usersSetRole", SetRoleVariables, AdminOf<UserOf<MutateField<UserMutation>>>,
    concat!("mutation usersSetRole($name: String!, $role: String!, $extraRoles: [String!], $append: Boolean!) {\n  admin { user { mutate(name: $name) { setRole(role: $role, extraRoles: $extraRoles, append: $append) {\n      ", user_result!(), "\n  } } } }\n}\n", error_fragments!())
);

operation!(
    /// `mutation usersAddRoles`.
    UsersAddRoles, "usersAddRoles", AddRolesVariables, AdminOf<UserOf<MutateField<UserMutation>>>,
    concat!("mutation usersAddRoles($name: String!, $roles: [String!]!) {\n  admin { user { mutate(name: $name) { addRoles(roles: $roles) {\n      ", user_result!(), "\n  } } } }\n}\n", error_fragments!())
);

operation!(
    /// `mutation usersRemoveRoles`.
    UsersRemoveRoles, "usersRemoveRoles", RemoveRolesVariables, AdminOf<UserOf<MutateField<UserMutation>>>,
    concat!("mutation usersRemoveRoles($name: String!, $roles: [String!]!, $fallback: String) {\n  admin { user { mutate(name: $name) { removeRoles(roles: $roles, fallback: $fallback) {\n      ", user_result!(), "\n  } } } }\n}\n", error_fragments!())
);

operation!(
    /// `mutation roleSetDefault`.
    RoleSetDefault, "roleSetDefault", IdVariables, RoleSetDefaultData,
    concat!("mutation roleSetDefault($id: ID!) {\n  roleSetDefault(id: $id) {\n    __typename\n    ... on RoleSetDefaultSuccess { role {\n      ", role_fields!(), "\n    } }\n  }\n}\n")
);

operation!(
    /// `mutation ssoConfigSet` (a `null` config removes it).
    SsoConfigSet, "ssoConfigSet", SsoConfigVariables, AdminOf<SetSsoConfigField>,
    concat!("mutation ssoConfigSet($config: String) {\n  admin { setSsoConfig(config: $config) {\n      __typename\n      ... on SsoConfig { ", sso_fields!(), " }\n      ...InvalidInputSelection\n      ...OperationErrorSelection\n  } }\n}\n", error_fragments!())
);

operation!(
    /// `mutation tabulatorSetOpenQuery`.
    TabulatorOpenQuerySet, "tabulatorSetOpenQuery", OpenQueryVariables, AdminOf<SetOpenQueryField>,
    "mutation tabulatorSetOpenQuery($enabled: Boolean!) {\n  admin { setTabulatorOpenQuery(enabled: $enabled) { tabulatorOpenQuery } }\n}\n"
);

/// Every admin operation's (name, document), for the schema test.
pub const ADMIN: &[(&str, &str)] = &[
    (MeQuery::NAME, MeQuery::DOCUMENT),
    (UsersList::NAME, UsersList::DOCUMENT),
    (UsersGet::NAME, UsersGet::DOCUMENT),
    (RolesList::NAME, RolesList::DOCUMENT),
    (DefaultRoleGet::NAME, DefaultRoleGet::DOCUMENT),
    (PoliciesList::NAME, PoliciesList::DOCUMENT),
    (SsoConfigGet::NAME, SsoConfigGet::DOCUMENT),
    (TabulatorOpenQueryGet::NAME, TabulatorOpenQueryGet::DOCUMENT),
    (UsersCreate::NAME, UsersCreate::DOCUMENT),
    (UsersDelete::NAME, UsersDelete::DOCUMENT),
    (UsersResetPassword::NAME, UsersResetPassword::DOCUMENT),
    (UsersSetEmail::NAME, UsersSetEmail::DOCUMENT),
    (UsersSetAdmin::NAME, UsersSetAdmin::DOCUMENT),
    (UsersSetActive::NAME, UsersSetActive::DOCUMENT),
    (UsersSetRole::NAME, UsersSetRole::DOCUMENT),
    (UsersAddRoles::NAME, UsersAddRoles::DOCUMENT),
    (UsersRemoveRoles::NAME, UsersRemoveRoles::DOCUMENT),
    (RoleSetDefault::NAME, RoleSetDefault::DOCUMENT),
    (SsoConfigSet::NAME, SsoConfigSet::DOCUMENT),
    (TabulatorOpenQuerySet::NAME, TabulatorOpenQuerySet::DOCUMENT),
];
