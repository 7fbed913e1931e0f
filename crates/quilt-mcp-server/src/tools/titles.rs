//! Every tool's `title`: the short name a client shows a person (MCP 2025-06-18 and later),
//! where the snake_case `name` is what a model calls.
//!
//! One table rather than an argument of [`super::ToolRegistry::add`]: a new tool family adds
//! one line here without touching every registration, and the registry applies the title
//! when the tool is added (so `tools/list` and `get_tool` agree). A tool missing from the
//! table is listed without a title, and `tests/it/protocol.rs` fails until it has one.
//! Titles are kept to a few words: each costs its bytes in every caller's `tools/list`.

/// `(name, title)` for every product tool.
const TITLES: &[(&str, &str)] = &[
    ("auth_status", "Who am I"),
    // Buckets
    ("bucket_list", "List buckets"),
    ("bucket_objects_list", "List objects"),
    ("bucket_object_info", "Object info"),
    ("bucket_object_text", "Read object text"),
    ("bucket_object_fetch", "Fetch object bytes"),
    ("bucket_object_link", "Object download link"),
    ("bucket_objects_put", "Upload objects"),
    ("bucket_object_preview", "Preview object"),
    // Permissions
    ("discover_permissions", "Discover permissions"),
    ("check_bucket_access", "Check bucket access"),
    // Packages
    ("package_list", "List packages"),
    ("package_browse", "Browse package"),
    ("package_diff", "Compare packages"),
    ("package_create", "Create package"),
    ("package_update", "Update package"),
    ("package_delete", "Delete package"),
    ("package_create_from_s3", "Package an S3 prefix"),
    ("package_validate", "Validate package"),
    // Athena and Glue
    ("athena_query_validate", "Check SQL"),
    ("athena_databases_list", "List databases"),
    ("athena_tables_list", "List tables"),
    ("athena_table_schema", "Table schema"),
    ("athena_workgroups_list", "List workgroups"),
    ("athena_query_execute", "Run Athena query"),
    ("athena_query_history", "Query history"),
    ("athena_query_results", "Query results"),
    // Catalog and Tabulator
    ("search_catalog", "Search catalog"),
    ("catalog_url", "Catalog link"),
    ("catalog_uri", "Quilt URI"),
    ("tabulator_tables_list", "List Tabulator tables"),
    ("tabulator_table_set", "Set Tabulator table"),
    ("tabulator_table_rename", "Rename Tabulator table"),
    ("tabulator_table_delete", "Delete Tabulator table"),
    ("tabulator_query_execute", "Run Tabulator query"),
    // Catalog administration
    ("admin_users_list", "List users"),
    ("admin_user_get", "User details"),
    ("admin_roles_list", "List roles"),
    ("admin_role_get", "Role details"),
    ("admin_default_role_get", "Default role"),
    ("admin_policies_list", "List policies"),
    ("admin_policy_get", "Policy details"),
    ("admin_sso_config_get", "SSO configuration"),
    (
        "admin_tabulator_open_query_get",
        "Tabulator open query status",
    ),
    ("admin_user_create", "Create user"),
    ("admin_user_delete", "Delete user"),
    ("admin_user_set_email", "Change user email"),
    ("admin_user_set_admin", "Set admin flag"),
    ("admin_user_set_active", "Activate or deactivate user"),
    ("admin_user_reset_password", "Reset user password"),
    ("admin_user_set_role", "Set user roles"),
    ("admin_user_add_roles", "Add user roles"),
    ("admin_user_remove_roles", "Remove user roles"),
    ("admin_role_set_default", "Set default role"),
    ("admin_sso_config_set", "Set SSO configuration"),
    ("admin_sso_config_remove", "Remove SSO configuration"),
    ("admin_tabulator_open_query_set", "Set Tabulator open query"),
];

/// The title of the tool `name`, if it has one.
pub(crate) fn title(name: &str) -> Option<&'static str> {
    TITLES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}
