//! The Glue catalog tools: `athena_databases_list`, `athena_tables_list` (paged with this
//! server's sealed tokens, `page_token.rs`) and `athena_table_schema`, with the caller's
//! credentials (read intent) and the `athena:query` scope.

use std::sync::Arc;

use quilt_mcp_aws::AccessIntent;
use rmcp::model::ToolAnnotations;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ATHENA;
use super::page_token::{PageToken, PageTokens};
use crate::aws::{Aws, sdk_error};
use crate::seal::SealKey;
use crate::tool_error::ToolError;
use crate::tools::ToolRegistry;

/// Arguments of `athena_databases_list`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DatabasesInput {
    /// Page size, 1 to 100 (default 50).
    #[serde(default)]
    pub max_results: Option<i32>,
    /// From a previous page's next_token.
    #[serde(default)]
    pub next_token: Option<String>,
}

/// A Glue database.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Database {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Location URI.
    pub location: Option<String>,
}

/// A page of databases.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DatabasesOutput {
    /// The databases.
    pub databases: Vec<Database>,
    /// Pass to get the next page.
    pub next_token: Option<String>,
}

/// Arguments of `athena_tables_list`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TablesInput {
    /// The database.
    pub database: String,
    /// Only tables whose name matches this Glue pattern (e.g. `cell*`).
    #[serde(default)]
    pub name_pattern: Option<String>,
    /// Page size, 1 to 100 (default 50).
    #[serde(default)]
    pub max_results: Option<i32>,
    /// From a previous page's next_token.
    #[serde(default)]
    pub next_token: Option<String>,
}

/// A table, briefly.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct TableSummary {
    /// Name.
    pub name: String,
    /// EXTERNAL_TABLE, VIRTUAL_VIEW, …
    pub table_type: Option<String>,
    /// How many columns (partition keys excluded).
    pub columns: usize,
    /// Partition key names.
    pub partition_keys: Vec<String>,
    /// Data location.
    pub location: Option<String>,
}

/// A page of tables.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct TablesOutput {
    /// The database.
    pub database: String,
    /// The tables.
    pub tables: Vec<TableSummary>,
    /// Pass to get the next page.
    pub next_token: Option<String>,
}

/// Arguments of `athena_table_schema`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SchemaInput {
    /// The database.
    pub database: String,
    /// The table.
    pub table: String,
}

/// A column.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Column {
    /// Name.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub column_type: Option<String>,
    /// Comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A table's schema.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct SchemaOutput {
    /// The database.
    pub database: String,
    /// The table.
    pub table: String,
    /// EXTERNAL_TABLE, VIRTUAL_VIEW, …
    pub table_type: Option<String>,
    /// Columns.
    pub columns: Vec<Column>,
    /// Partition keys.
    pub partition_keys: Vec<Column>,
    /// Data location.
    pub location: Option<String>,
    /// Input format class.
    pub input_format: Option<String>,
    /// Output format class.
    pub output_format: Option<String>,
    /// SerDe library.
    pub serde: Option<String>,
}

fn page_size(max_results: Option<i32>) -> Result<i32, ToolError> {
    let n = max_results.unwrap_or(50);
    if !(1..=100).contains(&n) {
        return Err(ToolError::invalid_argument(format!(
            "max_results must be between 1 and 100, got {n}"
        )));
    }
    Ok(n)
}

/// What to ask Glue for: the rest of the page a token is inside, plus a page (at most 100).
fn glue_ask(token: &PageToken, size: i32) -> i32 {
    (token.skip.saturating_add(size as usize)).min(100) as i32
}

fn name_ok(what: &str, name: &str) -> Result<(), ToolError> {
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        return Err(ToolError::invalid_argument(format!(
            "{what} must be 1 to 255 printable characters"
        )));
    }
    Ok(())
}

fn columns(cols: &[aws_sdk_glue::types::Column]) -> Vec<Column> {
    cols.iter()
        .map(|c| Column {
            name: c.name().to_owned(),
            column_type: c.r#type().map(str::to_owned),
            comment: c.comment().map(str::to_owned),
        })
        .collect()
}

/// What the Glue tools share.
struct Catalog {
    aws: Arc<Aws>,
    key: Arc<SealKey>,
}

pub(crate) fn register_glue(registry: &mut ToolRegistry, aws: &Arc<Aws>, key: &Arc<SealKey>) {
    let catalog = Arc::new(Catalog {
        aws: aws.clone(),
        key: key.clone(),
    });
    let read = || {
        ToolAnnotations::new()
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(true)
    };
    registry.add_with(
        &catalog,
        "athena_databases_list",
        "Glue databases you can see (paginated: max_results, next_token).",
        read(),
        Some(ATHENA),
        |catalog: Arc<Catalog>, input: DatabasesInput| async move {
            let size = page_size(input.max_results)?;
            let tokens = PageTokens::for_caller(&catalog.key, "athena_databases_list".into())?;
            let token = tokens.open_listing(input.next_token.as_deref())?;
            let glue = catalog.aws.glue(AccessIntent::Read).await?;
            let out = glue
                .client
                .get_databases()
                .max_results(glue_ask(&token, size))
                .set_next_token(token.upstream.clone())
                .send()
                .await
                .map_err(|e| sdk_error("GetDatabases", &e))?;
            let all = out.database_list();
            let (range, next) = token.window(all.len(), size as usize, out.next_token());
            let next_token = next.map(|t| tokens.seal(&t));
            Ok::<_, ToolError>(DatabasesOutput {
                databases: all[range]
                    .iter()
                    .map(|d| Database {
                        name: d.name().to_owned(),
                        description: d.description().map(str::to_owned),
                        location: d.location_uri().map(str::to_owned),
                    })
                    .collect(),
                next_token,
            })
        },
    );
    registry.add_with(
        &catalog,
        "athena_tables_list",
        "Tables of a Glue database, optionally matching name_pattern (paginated).",
        read(),
        Some(ATHENA),
        |catalog: Arc<Catalog>, input: TablesInput| async move {
            name_ok("database", &input.database)?;
            let size = page_size(input.max_results)?;
            // A token continues the same listing only: same database, same pattern.
            let purpose = serde_json::to_string(&(
                "athena_tables_list",
                &input.database,
                input.name_pattern.as_deref().unwrap_or_default(),
            ))
            .unwrap_or_default();
            let tokens = PageTokens::for_caller(&catalog.key, purpose)?;
            let token = tokens.open_listing(input.next_token.as_deref())?;
            let glue = catalog.aws.glue(AccessIntent::Read).await?;
            let out = glue
                .client
                .get_tables()
                .database_name(&input.database)
                .set_expression(input.name_pattern.filter(|p| !p.is_empty()))
                .max_results(glue_ask(&token, size))
                .set_next_token(token.upstream.clone())
                .send()
                .await
                .map_err(|e| sdk_error("GetTables", &e))?;
            let all = out.table_list();
            let (range, next) = token.window(all.len(), size as usize, out.next_token());
            let next_token = next.map(|t| tokens.seal(&t));
            Ok::<_, ToolError>(TablesOutput {
                database: input.database,
                tables: all[range]
                    .iter()
                    .map(|t| TableSummary {
                        name: t.name().to_owned(),
                        table_type: t.table_type().map(str::to_owned),
                        columns: t.storage_descriptor().map_or(0, |s| s.columns().len()),
                        partition_keys: t
                            .partition_keys()
                            .iter()
                            .map(|k| k.name().to_owned())
                            .collect(),
                        location: t
                            .storage_descriptor()
                            .and_then(|s| s.location())
                            .map(str::to_owned),
                    })
                    .collect(),
                next_token,
            })
        },
    );
    registry.add_with(
        &catalog,
        "athena_table_schema",
        "A table's columns, partition keys, location and format/SerDe.",
        read(),
        Some(ATHENA),
        |catalog: Arc<Catalog>, input: SchemaInput| async move {
            name_ok("database", &input.database)?;
            name_ok("table", &input.table)?;
            let glue = catalog.aws.glue(AccessIntent::Read).await?;
            let out = glue
                .client
                .get_table()
                .database_name(&input.database)
                .name(&input.table)
                .send()
                .await
                .map_err(|e| sdk_error("GetTable", &e))?;
            let Some(t) = out.table() else {
                return Err(ToolError::new(
                    crate::ErrorCode::NotFound,
                    format!("table {}.{} not found", input.database, input.table),
                ));
            };
            let sd = t.storage_descriptor();
            Ok(SchemaOutput {
                database: input.database.clone(),
                table: t.name().to_owned(),
                table_type: t.table_type().map(str::to_owned),
                columns: sd.map(|s| columns(s.columns())).unwrap_or_default(),
                partition_keys: columns(t.partition_keys()),
                location: sd.and_then(|s| s.location()).map(str::to_owned),
                input_format: sd.and_then(|s| s.input_format()).map(str::to_owned),
                output_format: sd.and_then(|s| s.output_format()).map(str::to_owned),
                serde: sd
                    .and_then(|s| s.serde_info())
                    .and_then(|s| s.serialization_library())
                    .map(str::to_owned),
            })
        },
    );
}
