//! `athena_query_history`: the caller's own recent executions in the workgroups it may use,
//! newest first.

use std::sync::Arc;

use quilt_mcp_aws::AccessIntent;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AthenaSettings, state_name};
use crate::aws::{Aws, sdk_error};
use crate::ownership;
use crate::tool_error::ToolError;

/// Most executions `athena_query_history` returns.
const MAX_HISTORY: usize = 50;
/// Most recent executions `athena_query_history` looks at per workgroup for the caller's own.
const HISTORY_SCAN: usize = 200;
/// Longest query text `athena_query_history` returns per execution, in characters.
const HISTORY_QUERY_CHARS: usize = 1000;

/// Arguments of `athena_query_history`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryInput {
    /// Only this workgroup (must be allowed); default: every allowed workgroup.
    #[serde(default)]
    pub workgroup: Option<String>,
    /// Most executions to return, newest first (default 20, max 50).
    #[serde(default)]
    pub max_results: Option<usize>,
}

/// One past or running query.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct HistoryEntry {
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
pub(crate) struct HistoryOutput {
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

pub(super) async fn history(
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
