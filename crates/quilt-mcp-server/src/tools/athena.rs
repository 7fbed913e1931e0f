//! The Athena and Glue tools, with the caller's credentials (read intent): Glue catalog
//! browsing (`athena_databases_list`, `athena_tables_list`, `athena_table_schema`),
//! `athena_query_validate` (the read-only guard execution uses, exposed so a client can check a
//! query first), `athena_workgroups_list`, `athena_query_execute` (bounded wait, then a
//! handle), `athena_query_results` (pages with this server's own continuation token) and
//! `athena_query_history` (recent executions in the allowed workgroups).
//!
//! This file holds the guard check, the Athena settings and query execution (also used by
//! Tabulator queries and MCP tasks); the rest is split by concern:
//! - `athena/glue.rs`: the Glue catalog tools (`athena_databases_list`, `athena_tables_list`,
//!   `athena_table_schema`);
//! - `athena/results.rs`: `athena_query_results` and the page of rows every answer carries;
//! - `athena/history.rs`: `athena_query_history`;
//! - `athena/page_token.rs`: this server's sealed continuation tokens, shared by the result
//!   pages and the Glue listings.

use std::sync::Arc;

use quilt_mcp_aws::{AccessIntent, sql_guard};
use rmcp::model::ToolAnnotations;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::aws::{Aws, sdk_error};
use crate::ownership::{self, GrantsPolicy};
use crate::scopes::Scope;
use crate::seal::{Owner, SealKey};
use crate::tool_error::ToolError;
use crate::tools::ToolRegistry;

mod glue;
mod history;
mod page_token;
mod results;

pub(crate) use glue::register_glue;
pub(crate) use history::HistoryInput;
use history::history;
use page_token::{PageToken, PageTokens};
use results::{page, results};

const ATHENA: Scope = Scope::AthenaQuery;

/// Arguments of `athena_query_validate`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValidateInput {
    /// One SQL statement.
    pub query: String,
}

/// The guard's verdict.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ValidateOutput {
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
        let ctx = crate::call_scope::context()?;
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
pub(crate) struct WorkgroupsInput {}

/// A workgroup you may use.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Workgroup {
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
pub(crate) struct WorkgroupsOutput {
    /// The workgroups (those allowed by the server that Athena lists for you).
    pub workgroups: Vec<Workgroup>,
}

/// Arguments of `athena_query_execute`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExecuteInput {
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
pub(crate) struct ResultsInput {
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
pub(crate) struct ResultColumn {
    /// Name.
    pub name: String,
    /// Athena type.
    #[serde(rename = "type")]
    pub column_type: String,
}

/// A query's state and, when it finished, a page of its results.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct QueryOutput {
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
        athena
            .client
            .stop_query_execution()
            .query_execution_id(id)
            .send()
            .await
            .map_err(|e| sdk_error("StopQueryExecution", &e))?;
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
    match status.query_execution() {
        Some(x) if ownership::owns(x, owner, &settings.allowed) => Ok(x.clone()),
        _ => Err(ownership::not_found(id)),
    }
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
