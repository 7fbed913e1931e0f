//! The Athena and Glue tools, with the caller's credentials (read intent): Glue catalog
//! browsing (`athena_databases_list`, `athena_tables_list`, `athena_table_schema`),
//! `athena_query_validate` (the read-only guard execution uses, exposed so a client can check a
//! query first), `athena_workgroups_list`, `athena_query_execute` (bounded wait, then a
//! handle), `athena_query_results` (pages with this server's own continuation token) and
//! `athena_query_history` (recent executions in the allowed workgroups).

use std::sync::Arc;

use aws_sdk_athena::operation::RequestId as _;
use quilt_mcp_aws::{AccessIntent, sql_guard};
use rmcp::model::ToolAnnotations;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::aws::{Aws, sdk_error};
use crate::ownership::{self, GrantsPolicy};
use crate::scopes::Scope;
use crate::seal::{Owner, SealError, SealKey};
use crate::tool_error::ToolError;
use crate::tools::ToolRegistry;

const ATHENA: Scope = Scope::AthenaQuery;

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
        Some(ATHENA),
        |input: ValidateInput| async move {
            let verdict = sql_guard::check(&input.query);
            Ok::<_, ToolError>(ValidateOutput { valid: verdict.allowed, statement: verdict.statement, reason: verdict.reason })
        },
    );
}

// ------------------------------------------------------------------------------------------
// Glue catalog browsing.

/// Arguments of `athena_databases_list`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatabasesInput {
    /// Page size, 1 to 100 (default 50).
    #[serde(default)]
    pub max_results: Option<i32>,
    /// From a previous page's next_token.
    #[serde(default)]
    pub next_token: Option<String>,
}

/// A Glue database.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Database {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Location URI.
    pub location: Option<String>,
}

/// A page of databases.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DatabasesOutput {
    /// The databases.
    pub databases: Vec<Database>,
    /// Pass to get the next page.
    pub next_token: Option<String>,
}

/// Arguments of `athena_tables_list`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TablesInput {
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
pub struct TableSummary {
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
pub struct TablesOutput {
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
pub struct SchemaInput {
    /// The database.
    pub database: String,
    /// The table.
    pub table: String,
}

/// A column.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Column {
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
pub struct SchemaOutput {
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
            crate::aws::aws_request(out.request_id());
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
            crate::aws::aws_request(out.request_id());
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
            crate::aws::aws_request(out.request_id());
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

// ------------------------------------------------------------------------------------------
// Query execution.

/// Most rows returned per call.
const MAX_ROWS: usize = 1000;
/// Most bytes of row data returned per call (cells counted as their UTF-8 length).
const MAX_RESULT_BYTES: usize = 1024 * 1024;
/// Longest wait, under the request timeout.
const MAX_WAIT_S: u64 = 50;

/// Athena settings shared by the execution tools.
pub(crate) struct AthenaSettings {
    workgroup: String,
    allowed: Vec<String>,
    output_location: Option<String>,
    /// Seals page tokens and tags executions with their owner (ownership.rs).
    key: Arc<SealKey>,
    /// Whether bucket-restricted callers may query.
    grants: GrantsPolicy,
}

impl AthenaSettings {
    pub(crate) fn from_config(config: &crate::settings::Settings, key: &Arc<SealKey>) -> Self {
        Self {
            workgroup: config.athena.workgroup.clone(),
            allowed: config.athena.allowed_workgroups.clone(),
            output_location: config.athena.output_location.clone(),
            key: key.clone(),
            grants: GrantsPolicy {
                server_restricts: config.grants.is_some(),
                athena_allowed: config.athena.outside_bucket_grants,
            },
        }
    }

    /// The caller in scope as an owner, once the grants policy lets it query.
    fn owner(&self) -> Result<Owner, ToolError> {
        let ctx = quilt_mcp_auth::RequestContext::current()?;
        self.grants.check(ctx.principal())?;
        Ok(self.key.owner(ctx.principal()))
    }

    /// The page tokens of one execution's results, for the caller in scope.
    fn result_tokens(&self, execution_id: &str) -> Result<PageTokens, ToolError> {
        PageTokens::for_caller(&self.key, format!("athena_query_results:{execution_id}"))
    }

    fn workgroup(&self, requested: Option<String>) -> Result<String, ToolError> {
        let wg = requested
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| self.workgroup.clone());
        if self.allowed.contains(&wg) {
            Ok(wg)
        } else {
            Err(ToolError::not_permitted(format!(
                "workgroup {wg} is not allowed (allowed: {})",
                self.allowed.join(", ")
            )))
        }
    }
}

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkgroupsInput {}

/// A workgroup you may use.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Workgroup {
    /// Name.
    pub name: String,
    /// ENABLED or DISABLED.
    pub state: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Whether queries run here when none is named.
    pub default: bool,
}

/// Workgroups you may use.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WorkgroupsOutput {
    /// The workgroups (those allowed by the server that Athena lists for you).
    pub workgroups: Vec<Workgroup>,
}

/// Arguments of `athena_query_execute`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteInput {
    /// One read-only SQL statement.
    pub query: String,
    /// Default database.
    #[serde(default)]
    pub database: Option<String>,
    /// Data catalog (default AwsDataCatalog).
    #[serde(default)]
    pub catalog: Option<String>,
    /// Workgroup (default the server's; must be allowed).
    #[serde(default)]
    pub workgroup: Option<String>,
    /// Seconds to wait for the query (default 20, max 50); after that a handle is returned.
    #[serde(default)]
    pub max_wait_s: Option<u64>,
    /// Most rows to return (default 100, max 1000).
    #[serde(default)]
    pub max_results: Option<usize>,
}

/// Arguments of `athena_query_results`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultsInput {
    /// The query execution id (from athena_query_execute).
    pub execution_id: String,
    /// From a previous answer's next_token.
    #[serde(default)]
    pub next_token: Option<String>,
    /// Most rows to return (default 100, max 1000).
    #[serde(default)]
    pub max_results: Option<usize>,
}

/// A result column.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ResultColumn {
    /// Name.
    pub name: String,
    /// Athena type.
    #[serde(rename = "type")]
    pub column_type: String,
}

/// A query's state and, when it finished, a page of its results.
#[derive(Debug, Serialize, JsonSchema)]
pub struct QueryOutput {
    /// The execution id: pass it to athena_query_results.
    pub execution_id: String,
    /// QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED.
    pub state: String,
    /// Columns (when SUCCEEDED).
    pub columns: Vec<ResultColumn>,
    /// Rows of cell values (strings or null), when SUCCEEDED.
    pub rows: Vec<Vec<Option<String>>>,
    /// Whether more rows exist than were returned (continue with next_token).
    pub truncated: bool,
    /// Pass to athena_query_results for the next page.
    pub next_token: Option<String>,
    /// How many rows the result has in all, when known without reading further pages.
    pub total_rows: Option<usize>,
    /// Bytes scanned.
    pub data_scanned_bytes: Option<i64>,
    /// Engine time in milliseconds.
    pub engine_time_ms: Option<i64>,
}

fn state_name(state: Option<&aws_sdk_athena::types::QueryExecutionState>) -> String {
    state
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|| "UNKNOWN".into())
}

/// Stops the Athena query if the call is abandoned (the client cancelled or disconnected)
/// before it finished waiting.
struct StopOnDrop {
    client: Option<aws_sdk_athena::Client>,
    id: String,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let id = std::mem::take(&mut self.id);
            tokio::spawn(async move {
                let _ = client
                    .stop_query_execution()
                    .query_execution_id(&id)
                    .send()
                    .await;
                tracing::info!(execution_id = %id, "stopped an abandoned Athena query");
            });
        }
    }
}

/// What the query tools share.
struct Queries {
    aws: Arc<Aws>,
    settings: Arc<AthenaSettings>,
}

pub(crate) fn register_queries(
    registry: &mut ToolRegistry,
    aws: &Arc<Aws>,
    settings: Arc<AthenaSettings>,
) {
    let state = Arc::new(Queries {
        aws: aws.clone(),
        settings,
    });
    registry.add_with(
        &state,
        "athena_workgroups_list",
        "Athena workgroups you may run queries in.",
        ToolAnnotations::new()
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(true),
        Some(ATHENA),
        |state: Arc<Queries>, _: WorkgroupsInput| async move {
            let (aws, settings) = (state.aws.clone(), state.settings.clone());
            let athena = aws.athena(AccessIntent::Read).await?;
            let out = athena
                .client
                .list_work_groups()
                .send()
                .await
                .map_err(|e| sdk_error("ListWorkGroups", &e))?;
            let workgroups = out
                .work_groups()
                .iter()
                .filter_map(|w| {
                    let name = w.name()?.to_owned();
                    settings.allowed.contains(&name).then(|| Workgroup {
                        default: name == settings.workgroup,
                        state: w.state().map(|s| s.as_str().to_owned()),
                        description: w.description().map(str::to_owned),
                        name,
                    })
                })
                .collect();
            Ok::<_, ToolError>(WorkgroupsOutput { workgroups })
        },
    );
    registry.add_with(
        &state,
        "athena_query_execute",
        "Run one read-only SQL statement; waits up to max_wait_s (default 20), then returns results (capped) or a handle for athena_query_results.",
        ToolAnnotations::new().read_only(true).destructive(false).idempotent(false).open_world(true),
        Some(ATHENA),
        |state: Arc<Queries>, input: ExecuteInput| async move {
            run_query(&state.aws, &state.settings, input.into()).await
        },
    );
    registry.add_with(
        &state,
        "athena_query_history",
        "Recent Athena query executions (newest first) in the workgroups you may use, with state, failure reason, SQL and bytes scanned.",
        ToolAnnotations::new().read_only(true).destructive(false).idempotent(true).open_world(true),
        Some(ATHENA),
        |state: Arc<Queries>, input: HistoryInput| async move {
            history(state.aws.clone(), state.settings.clone(), input).await
        },
    );
    registry.add_with(
        &state,
        "athena_query_results",
        "State and a page of results of one of your queries by execution_id; continue with next_token.",
        ToolAnnotations::new()
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(true),
        Some(ATHENA),
        |state: Arc<Queries>, input: ResultsInput| async move {
            results(&state.aws, &state.settings, input).await
        },
    );
}

/// `athena_query_results`: the caller's own execution only (ownership.rs), anything else —
/// including another caller's page token — `not_found`.
async fn results(
    aws: &Aws,
    settings: &AthenaSettings,
    input: ResultsInput,
) -> Result<QueryOutput, ToolError> {
    let owner = settings.owner()?;
    let max_rows = rows_cap(input.max_results)?;
    let id = input.execution_id;
    if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
        return Err(ToolError::invalid_argument(
            "execution_id must be 1 to 128 printable characters",
        ));
    }
    let tokens = settings.result_tokens(&id)?;
    let token = match tokens.open(input.next_token.as_deref()) {
        Ok(token) => token,
        Err(SealError::NotYours) => return Err(ownership::not_found(&id)),
        Err(SealError::Invalid) => return Err(bad_token()),
    };
    let athena = aws.athena(AccessIntent::Read).await?;
    let execution = owned_execution(&athena.client, settings, &owner, &id).await?;
    let mut output = describe(&id, Some(&execution));
    match execution.status().and_then(|s| s.state()) {
        Some(aws_sdk_athena::types::QueryExecutionState::Succeeded) => {
            page(&athena.client, &mut output, &tokens, token, max_rows).await?;
            Ok(output)
        }
        Some(aws_sdk_athena::types::QueryExecutionState::Failed) => Err(failed(Some(&execution))),
        _ => Ok(output),
    }
}

/// Stops the caller's execution `id` (MCP `tasks/cancel`, `tasks.rs`): `not_found` when it
/// is not the caller's; a finished one is left as it is.
pub(crate) async fn stop_owned(
    aws: &Aws,
    settings: &AthenaSettings,
    id: &str,
) -> Result<(), ToolError> {
    let owner = settings.owner()?;
    let athena = aws.athena(AccessIntent::Read).await?;
    let execution = owned_execution(&athena.client, settings, &owner, id).await?;
    use aws_sdk_athena::types::QueryExecutionState as S;
    if let Some(S::Queued | S::Running) = execution.status().and_then(|s| s.state()) {
        let out = athena
            .client
            .stop_query_execution()
            .query_execution_id(id)
            .send()
            .await
            .map_err(|e| sdk_error("StopQueryExecution", &e))?;
        crate::aws::aws_request(out.request_id());
    }
    Ok(())
}

/// The execution `id` when it is `owner`'s and in an allowed workgroup; else `not_found` (an
/// unknown id too, so the answer says nothing about other callers' ids). The one check
/// behind every path that reads or acts on an execution by id (results, status, stop).
pub(crate) async fn owned_execution(
    client: &aws_sdk_athena::Client,
    settings: &AthenaSettings,
    owner: &Owner,
    id: &str,
) -> Result<aws_sdk_athena::types::QueryExecution, ToolError> {
    let status = client
        .get_query_execution()
        .query_execution_id(id)
        .send()
        .await
        .map_err(|e| {
            let e = not_found_if_unknown(sdk_error("GetQueryExecution", &e), id);
            // Athena's own "not found" reads exactly like a foreign id's answer.
            if e.code == crate::ErrorCode::NotFound {
                ownership::not_found(id)
            } else {
                e
            }
        })?;
    crate::aws::aws_request(status.request_id());
    match status.query_execution() {
        Some(x) if ownership::owns(x, owner, &settings.allowed) => Ok(x.clone()),
        _ => Err(ownership::not_found(id)),
    }
}

/// Most executions `athena_query_history` returns.
const MAX_HISTORY: usize = 50;
/// Most recent executions `athena_query_history` looks at per workgroup for the caller's own.
const HISTORY_SCAN: usize = 200;
/// Longest query text `athena_query_history` returns per execution, in characters.
const HISTORY_QUERY_CHARS: usize = 1000;

/// Arguments of `athena_query_history`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryInput {
    /// Only this workgroup (must be allowed); default: every allowed workgroup.
    #[serde(default)]
    pub workgroup: Option<String>,
    /// Most executions to return, newest first (default 20, max 50).
    #[serde(default)]
    pub max_results: Option<usize>,
}

/// One past or running query.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HistoryEntry {
    /// The execution id (for athena_query_results).
    pub execution_id: String,
    /// QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED.
    pub state: String,
    /// Why it failed or was cancelled, as Athena says.
    pub state_reason: Option<String>,
    /// Workgroup.
    pub workgroup: Option<String>,
    /// Default database.
    pub database: Option<String>,
    /// The SQL (first 1000 characters).
    pub query: Option<String>,
    /// When it was submitted (RFC 3339).
    pub submitted: Option<String>,
    /// Bytes scanned.
    pub data_scanned_bytes: Option<i64>,
    /// Engine time in milliseconds.
    pub engine_time_ms: Option<i64>,
}

/// Recent query executions.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HistoryOutput {
    /// Newest first.
    pub executions: Vec<HistoryEntry>,
    /// The workgroups that were looked at.
    pub workgroups: Vec<String>,
}

fn history_entry(x: &aws_sdk_athena::types::QueryExecution) -> HistoryEntry {
    let status = x.status();
    let stats = x.statistics();
    HistoryEntry {
        execution_id: x.query_execution_id().unwrap_or_default().to_owned(),
        state: state_name(status.and_then(|s| s.state())),
        state_reason: status
            .and_then(|s| s.state_change_reason())
            .map(str::to_owned),
        workgroup: x.work_group().map(str::to_owned),
        database: x
            .query_execution_context()
            .and_then(|c| c.database())
            .map(str::to_owned),
        query: x.query().map(|q| {
            ownership::untagged(q)
                .chars()
                .take(HISTORY_QUERY_CHARS)
                .collect()
        }),
        submitted: status
            .and_then(|s| s.submission_date_time())
            .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
        data_scanned_bytes: stats.and_then(|s| s.data_scanned_in_bytes()),
        engine_time_ms: stats.and_then(|s| s.engine_execution_time_in_millis()),
    }
}

async fn history(
    aws: Arc<Aws>,
    settings: Arc<AthenaSettings>,
    input: HistoryInput,
) -> Result<HistoryOutput, ToolError> {
    use futures::StreamExt as _;
    let n = input.max_results.unwrap_or(20);
    if !(1..=MAX_HISTORY).contains(&n) {
        return Err(ToolError::invalid_argument(format!(
            "max_results must be between 1 and {MAX_HISTORY}, got {n}"
        )));
    }
    let owner = settings.owner()?;
    let workgroups = match input.workgroup.filter(|w| !w.is_empty()) {
        Some(w) => vec![settings.workgroup(Some(w))?],
        None => settings.allowed.clone(),
    };
    let athena = aws.athena(AccessIntent::Read).await?;
    // Only the caller's own executions are shown, and Athena cannot filter by owner: look
    // at the most recent HISTORY_SCAN executions of each workgroup and keep the caller's.
    let mut ids = Vec::new();
    for wg in &workgroups {
        let mut seen = 0;
        let mut next: Option<String> = None;
        loop {
            let out = athena
                .client
                .list_query_executions()
                .work_group(wg)
                .max_results(HISTORY_SCAN.min(50) as i32)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| sdk_error("ListQueryExecutions", &e))?;
            crate::aws::aws_request(out.request_id());
            let page = out.query_execution_ids();
            let take = page.len().min(HISTORY_SCAN - seen);
            ids.extend(page[..take].iter().cloned());
            seen += take;
            match out.next_token() {
                Some(t) if seen < HISTORY_SCAN && !page.is_empty() => next = Some(t.to_owned()),
                _ => break,
            }
        }
    }
    // One GetQueryExecution per id, a few at a time (BatchGetQueryExecution would be one call,
    // but the emulator the tests run on does not implement it).
    let client = &athena.client;
    let found: Vec<Result<_, ToolError>> = futures::stream::iter(ids)
        .map(|id| async move {
            client
                .get_query_execution()
                .query_execution_id(&id)
                .send()
                .await
                .map_err(|e| sdk_error("GetQueryExecution", &e))
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut executions = Vec::with_capacity(found.len());
    for got in found {
        let got = got?;
        crate::aws::aws_request(got.request_id());
        if let Some(x) = got
            .query_execution()
            .filter(|x| ownership::owns(x, &owner, &settings.allowed))
        {
            let submitted = x
                .status()
                .and_then(|s| s.submission_date_time())
                .map(|t| (t.secs(), t.subsec_nanos()));
            executions.push((submitted, history_entry(x)));
        }
    }
    executions.sort_by_key(|e| std::cmp::Reverse(e.0));
    executions.truncate(n);
    Ok(HistoryOutput {
        executions: executions.into_iter().map(|(_, e)| e).collect(),
        workgroups,
    })
}

fn rows_cap(max_results: Option<usize>) -> Result<usize, ToolError> {
    let n = max_results.unwrap_or(100);
    if !(1..=MAX_ROWS).contains(&n) {
        return Err(ToolError::invalid_argument(format!(
            "max_results must be between 1 and {MAX_ROWS}, got {n}"
        )));
    }
    Ok(n)
}

/// Athena answers an unknown execution id with `InvalidRequestException` (no code of its own),
/// so the message is the only way to tell "no such query" from other bad requests.
fn not_found_if_unknown(mut e: ToolError, id: &str) -> ToolError {
    if e.message.contains("InvalidRequestException")
        || e.message.contains("was not found")
        || e.message.contains("not found")
    {
        e.code = crate::ErrorCode::NotFound;
        e.message = format!("no query execution {id}: {}", e.message);
    }
    e
}

fn describe(id: &str, execution: Option<&aws_sdk_athena::types::QueryExecution>) -> QueryOutput {
    let stats = execution.and_then(|x| x.statistics());
    QueryOutput {
        execution_id: id.to_owned(),
        state: state_name(execution.and_then(|x| x.status()).and_then(|s| s.state())),
        columns: Vec::new(),
        rows: Vec::new(),
        truncated: false,
        next_token: None,
        total_rows: None,
        data_scanned_bytes: stats.and_then(|s| s.data_scanned_in_bytes()),
        engine_time_ms: stats.and_then(|s| s.engine_execution_time_in_millis()),
    }
}

fn failed(execution: Option<&aws_sdk_athena::types::QueryExecution>) -> ToolError {
    let reason = execution
        .and_then(|x| x.status())
        .and_then(|s| s.state_change_reason())
        .unwrap_or("no reason given");
    ToolError::invalid_argument(format!("the query failed in Athena: {reason}"))
}

/// Where the next page starts: the service's own page token (none for its first page) and how
/// many items of that page were already returned. The service's token alone is not enough:
/// when a cap (bytes, or items against a service that returns more than asked, as the emulator
/// does) stops a page early, the rest of that page would be lost. Sent to the client sealed
/// ([`PageTokens`]); used by the Athena result and Glue listing tools.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct PageToken {
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    upstream: Option<String>,
    #[serde(rename = "s", default)]
    skip: usize,
}

/// The page tokens of one listing for one caller: sealed with the server key for this caller
/// and this listing (`purpose` names the tool and what it lists), so a token is accepted only
/// back from the caller it was issued to, for the same listing (see `seal.rs`).
struct PageTokens {
    key: Arc<SealKey>,
    owner: Owner,
    purpose: String,
}

fn bad_token() -> ToolError {
    ToolError::invalid_argument(
        "next_token is not one this server issued: pass the next_token of a previous answer unchanged",
    )
}

impl PageTokens {
    /// Tokens of `purpose` for the caller in scope.
    fn for_caller(key: &Arc<SealKey>, purpose: String) -> Result<Self, ToolError> {
        let ctx = quilt_mcp_auth::RequestContext::current()?;
        Ok(Self {
            key: key.clone(),
            owner: key.owner(ctx.principal()),
            purpose,
        })
    }

    /// The client's `next_token`, or the first page.
    fn open(&self, token: Option<&str>) -> Result<PageToken, SealError> {
        match token.filter(|t| !t.is_empty()) {
            Some(t) => self.key.open(&self.purpose, &self.owner, t),
            None => Ok(PageToken::default()),
        }
    }

    /// Like [`PageTokens::open`], for listings: another caller's token is as bad as a forged one.
    fn open_listing(&self, token: Option<&str>) -> Result<PageToken, ToolError> {
        self.open(token).map_err(|_| bad_token())
    }

    fn seal(&self, token: &PageToken) -> String {
        self.key.seal(&self.purpose, &self.owner, token)
    }
}

impl PageToken {
    /// Of `len` items of the service's page fetched with this token, the ones to return (at
    /// most `max`) and where the next page starts.
    fn window(
        &self,
        len: usize,
        max: usize,
        upstream_next: Option<&str>,
    ) -> (std::ops::Range<usize>, Option<PageToken>) {
        let start = self.skip.min(len);
        let end = start.saturating_add(max).min(len);
        let next = if end < len {
            Some(Self {
                upstream: self.upstream.clone(),
                skip: end,
            })
        } else {
            upstream_next.map(|t| Self {
                upstream: Some(t.to_owned()),
                skip: 0,
            })
        };
        (start..end, next)
    }
}

/// Fills `out` with one page of results, within the row and byte caps.
async fn page(
    client: &aws_sdk_athena::Client,
    out: &mut QueryOutput,
    tokens: &PageTokens,
    token: PageToken,
    max_rows: usize,
) -> Result<(), ToolError> {
    // Athena's first page of a SELECT starts with a header row: ask for one more.
    let first_page = token.upstream.is_none();
    let ask = (token.skip + max_rows + usize::from(first_page)).min(MAX_ROWS) as i32;
    let results = client
        .get_query_results()
        .query_execution_id(&out.execution_id)
        .set_next_token(token.upstream.clone())
        .max_results(ask)
        .send()
        .await
        .map_err(|e| sdk_error("GetQueryResults", &e))?;
    crate::aws::aws_request(results.request_id());
    let Some(set) = results.result_set() else {
        return Ok(());
    };
    out.columns = set
        .result_set_metadata()
        .map(|m| {
            m.column_info()
                .iter()
                .map(|c| ResultColumn {
                    name: c.name().to_owned(),
                    column_type: c.r#type().to_owned(),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut data = set.rows();
    if first_page {
        // Skip the header row when it repeats the column names.
        let is_header = data.first().is_some_and(|row| {
            row.data().len() == out.columns.len()
                && row
                    .data()
                    .iter()
                    .zip(&out.columns)
                    .all(|(d, c)| d.var_char_value() == Some(c.name.as_str()))
        });
        if is_header {
            data = &data[1..];
        }
    }
    let rows = data.get(token.skip..).unwrap_or_default();
    let mut bytes = 0;
    for row in rows {
        let cells: Vec<Option<String>> = row
            .data()
            .iter()
            .map(|d| d.var_char_value().map(str::to_owned))
            .collect();
        let size: usize = cells
            .iter()
            .map(|c| c.as_ref().map_or(4, String::len))
            .sum();
        // Always return at least one row, so a single huge row cannot stall the pages.
        if out.rows.len() >= max_rows || (!out.rows.is_empty() && bytes + size > MAX_RESULT_BYTES) {
            break;
        }
        bytes += size;
        out.rows.push(cells);
    }
    let consumed = token.skip + out.rows.len();
    let next = if consumed < data.len() {
        // Rows of this page are left: continue inside it.
        Some(PageToken {
            upstream: token.upstream,
            skip: consumed,
        })
    } else {
        results.next_token().map(|t| PageToken {
            upstream: Some(t.to_owned()),
            skip: 0,
        })
    };
    if first_page && next.is_none() {
        out.total_rows = Some(data.len());
    }
    out.truncated = next.is_some();
    out.next_token = next.map(|t| tokens.seal(&t));
    Ok(())
}

/// One query to run, as `athena_query_execute` (and any other tool that runs SQL in Athena,
/// such as a Tabulator query) asks for it.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueryRequest {
    /// One read-only statement (checked by the guard here).
    pub(crate) query: String,
    /// Default database.
    pub(crate) database: Option<String>,
    /// Data catalog.
    pub(crate) catalog: Option<String>,
    /// Workgroup (default the server's; must be allowed).
    pub(crate) workgroup: Option<String>,
    /// Seconds to wait before answering with a handle.
    pub(crate) max_wait_s: Option<u64>,
    /// Most rows in the answer.
    pub(crate) max_results: Option<usize>,
}

impl From<ExecuteInput> for QueryRequest {
    fn from(i: ExecuteInput) -> Self {
        Self {
            query: i.query,
            database: i.database,
            catalog: i.catalog,
            workgroup: i.workgroup,
            max_wait_s: i.max_wait_s,
            max_results: i.max_results,
        }
    }
}

/// Runs `input` for the caller in scope: the SQL guard, the grants policy and the allowed
/// workgroups first; the execution is tagged with the caller as its owner (ownership.rs);
/// waits up to `max_wait_s`, then answers with results or a handle (the execution id, usable
/// only by this caller).
pub(crate) async fn run_query(
    aws: &Aws,
    settings: &AthenaSettings,
    input: QueryRequest,
) -> Result<QueryOutput, ToolError> {
    let owner = settings.owner()?;
    let verdict = sql_guard::check(&input.query);
    if !verdict.allowed {
        return Err(ToolError::invalid_argument(format!(
            "{} is refused: {}",
            verdict.statement,
            verdict.reason.unwrap_or_default()
        ))
        .with_hint(
            "only one read-only statement (SELECT, WITH, VALUES, SHOW, DESCRIBE, EXPLAIN) may run",
        ));
    }
    let workgroup = settings.workgroup(input.workgroup)?;
    let max_rows = rows_cap(input.max_results)?;
    let max_wait = input.max_wait_s.unwrap_or(20);
    if max_wait > MAX_WAIT_S {
        return Err(ToolError::invalid_argument(format!(
            "max_wait_s must be at most {MAX_WAIT_S}, got {max_wait}"
        )));
    }
    let athena = aws.athena(AccessIntent::Read).await?;
    let mut context = aws_sdk_athena::types::QueryExecutionContext::builder();
    if let Some(db) = input.database.filter(|d| !d.is_empty()) {
        context = context.database(db);
    }
    if let Some(catalog) = input.catalog.filter(|c| !c.is_empty()) {
        context = context.catalog(catalog);
    }
    let mut start = athena
        .client
        .start_query_execution()
        .query_string(ownership::tag_query(&owner, &input.query))
        .work_group(&workgroup)
        .query_execution_context(context.build());
    if let Some(location) = &settings.output_location {
        start = start.result_configuration(
            aws_sdk_athena::types::ResultConfiguration::builder()
                .output_location(location)
                .build(),
        );
    }
    let started = start
        .send()
        .await
        .map_err(|e| sdk_error("StartQueryExecution", &e))?;
    crate::aws::aws_request(started.request_id());
    let id = started.query_execution_id().unwrap_or_default().to_owned();
    let tokens = settings.result_tokens(&id)?;
    let mut stop = StopOnDrop {
        client: Some(athena.client.clone()),
        id: id.clone(),
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(max_wait);
    let mut delay = std::time::Duration::from_millis(100);
    loop {
        let status = athena
            .client
            .get_query_execution()
            .query_execution_id(&id)
            .send()
            .await
            .map_err(|e| sdk_error("GetQueryExecution", &e))?;
        let execution = status.query_execution();
        let state = execution
            .and_then(|x| x.status())
            .and_then(|s| s.state())
            .cloned();
        use aws_sdk_athena::types::QueryExecutionState as S;
        match state {
            Some(S::Succeeded) => {
                stop.client = None;
                let mut out = describe(&id, execution);
                page(
                    &athena.client,
                    &mut out,
                    &tokens,
                    PageToken::default(),
                    max_rows,
                )
                .await?;
                return Ok(out);
            }
            Some(S::Failed) => {
                stop.client = None;
                return Err(failed(execution));
            }
            Some(S::Cancelled) => {
                stop.client = None;
                return Err(ToolError::new(
                    crate::ErrorCode::Conflict,
                    format!("query {id} was cancelled"),
                ));
            }
            _ => {}
        }
        if tokio::time::Instant::now() + delay > deadline {
            // Not done in time: a handle, not an error; the query keeps running.
            stop.client = None;
            return Ok(describe(&id, execution));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(std::time::Duration::from_secs(1));
    }
}
