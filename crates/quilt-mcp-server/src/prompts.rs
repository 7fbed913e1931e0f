//! MCP prompts: two starting points a person picks from a client's prompt menu, each a user
//! message that tells the model which of this server's tools to use, in what order.
//!
//! - `package_summary` (`bucket`, `package`): summarise a Quilt package from its manifest and
//!   a few bounded previews.
//! - `athena_explore` (`workgroup`, `database`, both optional): find the tables Athena can
//!   see and run one small read-only query.
//!
//! Why these two and no more: they are the two tasks that need several tools in a particular
//! order (browse before preview; schema before SQL), which a model new to the server gets
//! wrong; a prompt for a single tool would only repeat its description. Prompts are listed
//! only when asked for (`prompts/list`), so they cost nothing in `tools/list`.
//!
//! A prompt reads nothing and calls no AWS API: its arguments are checked by the same rules
//! as the tools' (bucket name, package name, allowed workgroup), and a bad one is
//! invalid params. The arguments are completable (`completions.rs`).

use quilt_mcp_aws::s3uri;
use quilt_package::PackageName;
use rmcp::model::{GetPromptResult, JsonObject, Prompt, PromptArgument, PromptMessage, Role};

use crate::scopes::Scope;
use crate::tool_error::ToolError;

pub(crate) const PACKAGE_SUMMARY: &str = "package_summary";
pub(crate) const ATHENA_EXPLORE: &str = "athena_explore";

/// The scope a caller needs for prompt `name`: the scope of the tools it uses.
pub(crate) fn scope(name: &str) -> Scope {
    match name {
        ATHENA_EXPLORE => Scope::AthenaQuery,
        _ => Scope::Read,
    }
}

/// The prompts, for `prompts/list`.
pub(crate) fn list() -> Vec<Prompt> {
    vec![
        Prompt::new(
            PACKAGE_SUMMARY,
            Some("Summarize a Quilt package: contents, file types, table schemas."),
            Some(vec![
                PromptArgument::new("bucket")
                    .with_description("Registry bucket")
                    .with_required(true),
                PromptArgument::new("package")
                    .with_description("Package name, user/name")
                    .with_required(true),
            ]),
        )
        .with_title("Summarize a package"),
        Prompt::new(
            ATHENA_EXPLORE,
            Some("Find Athena tables and run one small read-only query."),
            Some(vec![
                PromptArgument::new("workgroup").with_description("Athena workgroup"),
                PromptArgument::new("database").with_description("Database to start from"),
            ]),
        )
        .with_title("Explore data with Athena"),
    ]
}

/// `prompts/get` of `name` with `arguments`; `allowed_workgroups` are the ones
/// `athena_query_execute` accepts.
pub(crate) fn get(
    name: &str,
    arguments: Option<&JsonObject>,
    allowed_workgroups: &[String],
) -> Result<GetPromptResult, ToolError> {
    let arg = |key: &str| -> Result<Option<String>, ToolError> {
        match arguments.and_then(|a| a.get(key)) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.trim().to_owned())),
            Some(_) => Err(ToolError::invalid_argument(format!(
                "{key} must be a string"
            ))),
        }
    };
    let required = |key: &str| {
        arg(key)?.ok_or_else(|| ToolError::invalid_argument(format!("{name} needs {key}")))
    };
    let text = match name {
        PACKAGE_SUMMARY => {
            let bucket = required("bucket")?;
            let bucket = bucket.strip_prefix("s3://").unwrap_or(&bucket).to_owned();
            s3uri::validate_bucket(&bucket)
                .map_err(|e| ToolError::invalid_argument(format!("bucket: {e}")))?;
            let package = PackageName::new(required("package")?)
                .map_err(|e| ToolError::invalid_argument(format!("package: {e}")))?;
            format!(
                "Summarize the Quilt package {package} in the registry s3://{bucket}.\n\
                 1. package_browse (registry s3://{bucket}, package_name {package}): its message, metadata, entries and sizes.\n\
                 2. bucket_object_preview (registry, package_name, path) on up to five representative entries: tables, JSON, text.\n\
                 3. Report: what the package is for, how many files of which types and how large, \
                 the columns and types of its tables, and anything missing or odd. Name entries by their path."
            )
        }
        ATHENA_EXPLORE => {
            let workgroup = arg("workgroup")?;
            if let Some(wg) = &workgroup
                && !allowed_workgroups.contains(wg)
            {
                return Err(ToolError::invalid_argument(format!(
                    "workgroup {wg} is not one you may query in"
                ))
                .with_hint("athena_workgroups_list lists the allowed workgroups"));
            }
            let database = arg("database")?;
            let mut text = String::from("Explore the data I can query with Athena");
            if let Some(wg) = &workgroup {
                text.push_str(&format!(" in the workgroup {wg}"));
            }
            text.push_str(".\n");
            match &database {
                Some(db) => text.push_str(&format!(
                    "1. athena_tables_list for the database {db}.\n"
                )),
                None => text.push_str(
                    "1. athena_databases_list, then athena_tables_list for the most relevant database.\n",
                ),
            }
            text.push_str(
                "2. athena_table_schema for the two or three tables that look most useful.\n\
                 3. athena_query_execute: one read-only SELECT with a LIMIT of 10",
            );
            if let Some(wg) = &workgroup {
                text.push_str(&format!(" (workgroup {wg})"));
            }
            text.push_str(
                ", then explain what the rows show and suggest the next question to ask.",
            );
            text
        }
        other => {
            return Err(ToolError::new(
                crate::ErrorCode::NotFound,
                format!("no prompt named {other}"),
            ));
        }
    };
    Ok(GetPromptResult::new(vec![PromptMessage::new_text(
        Role::User,
        text,
    )]))
}
