//! The Athena tools. So far `athena_query_validate`: the read-only guard that execution will
//! use, exposed so a client can check a query before running it. The Glue/Athena execution
//! tools follow (issue 7).

use quilt_mcp_aws::sql_guard;
use rmcp::model::ToolAnnotations;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::tool_error::ToolError;
use crate::tools::ToolRegistry;

/// Arguments of `athena_query_validate`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateInput {
    /// One SQL statement.
    pub query: String,
}

/// The guard's verdict.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ValidateOutput {
    /// Whether the query may run: exactly one read-only statement.
    pub valid: bool,
    /// What the statement is (SELECT, SHOW TABLES, UNLOAD, CREATE TABLE AS SELECT, …).
    pub statement: String,
    /// Why it may not run.
    pub reason: Option<String>,
}

pub(crate) fn register(registry: &mut ToolRegistry) {
    registry.add(
        "athena_query_validate",
        "Check that SQL is exactly one read-only statement (SELECT/WITH/VALUES/SHOW/DESCRIBE/EXPLAIN) before running it; names what is refused.",
        ToolAnnotations::new().read_only(true).destructive(false).idempotent(true).open_world(false),
        Some("athena:query"),
        |input: ValidateInput| async move {
            let verdict = sql_guard::check(&input.query);
            Ok::<_, ToolError>(ValidateOutput { valid: verdict.allowed, statement: verdict.statement, reason: verdict.reason })
        },
    );
}
