//! MCP tasks (SEP-2663, the `io.modelcontextprotocol/tasks` extension) for long tool calls,
//! kept stateless: no task table anywhere. A task id is a token sealed for the caller
//! (`seal.rs`) that carries what the service itself keeps — for `athena_query_execute` and
//! `tabulator_query_execute`, the Athena execution id — so any replica holding the same key resolves it, and a task id
//! another caller obtained is an unknown task (-32602), like an id never issued.
//!
//! - `tools/call` of a task tool from a client that declared the extension runs the tool with
//!   a short wait ([`TASK_WAIT_S`] unless the caller set `max_wait_s`). A result that is
//!   already final (rows, or a tool error) is answered as it is — the spec's immediate-result
//!   shortcut; a query still queued or running becomes a `CreateTaskResult`. The execution
//!   exists in Athena before the id is handed out, so `tasks/get` works at once.
//! - `tasks/get` runs `athena_query_results` for the execution, as a tool call of the caller
//!   (scope check, credentials, ownership check of the execution, audit line): QUEUED/RUNNING
//!   is `working`, SUCCEEDED `completed` with the first page inlined as `result`, a failed
//!   query `completed` with the tool error (`isError`), CANCELLED `cancelled`.
//! - `tasks/cancel` stops the execution (`StopQueryExecution`, after the same ownership check,
//!   with an audit line like a tool call's) and acknowledges; cancelling a finished task
//!   acknowledges too (idempotent).
//! - There is no `tasks/result` or `tasks/list`: SEP-2663 removed both (rmcp answers -32601).
//!
//! Clients without the extension get today's behaviour: the tool waits up to `max_wait_s`
//! and returns results or a handle for `athena_query_results`.
//!
//! `package_create` and `package_create_from_s3` are tasks too, of another kind: their work
//! runs in this server, so their state lives in an S3 object (`package_tasks.rs`); `tasks/get`,
//! `tasks/cancel` and `tasks/update` hand a package task id to that module.

use std::sync::Arc;

use quilt_mcp_auth::RequestContext;
use rmcp::ErrorData;
use rmcp::model::{
    CallToolResult, CreateTaskResult, DetailedTask, GetTaskResult, JsonObject, Task, TaskPayload,
    TaskStatus,
};
use serde::{Deserialize, Serialize};

use crate::call_limits::CallLimits;
use crate::call_scope::CallScope;
use crate::package_tasks::PackageTasks;
use crate::seal::{SealError, SealKey};
use crate::tools::athena::AthenaSettings;
use crate::tools::{Called, ToolRegistry};

/// The tools that may become tasks.
pub(crate) const TASK_TOOLS: &[&str] = &["athena_query_execute", "tabulator_query_execute"];
/// How long a task tool waits before answering with a task, when the caller set no wait.
pub(crate) const TASK_WAIT_S: u64 = 1;
/// What `tasks/get` suggests between polls.
const POLL_INTERVAL_MS: u64 = 1_000;
/// How long a task can be resolved: Athena keeps query history for 45 days.
const TTL_MS: u64 = 45 * 24 * 3_600 * 1_000;
/// The seal purpose of task ids (a page token is never a task id, nor the reverse).
const PURPOSE: &str = "task";

/// What a task id carries.
#[derive(Debug, Serialize, Deserialize)]
struct Sealed {
    /// The Athena execution id.
    e: String,
    /// The `max_results` of the call, for the page `tasks/get` inlines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    m: Option<u64>,
    /// When the task was created, in milliseconds since the epoch.
    c: i64,
}

/// Task creation and resolution for the product's tools.
pub struct Tasks {
    key: Arc<SealKey>,
    athena: Arc<AthenaSettings>,
    aws: Arc<crate::aws::Aws>,
    /// `package_create` and `package_create_from_s3` (package_tasks.rs).
    packages: Arc<PackageTasks>,
}

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tasks")
    }
}

/// `millis` (Unix) as RFC 3339, as task timestamps are written (also `package_tasks.rs`).
pub(crate) fn rfc3339(millis: i64) -> String {
    aws_smithy_types::DateTime::from_millis(millis)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// Now, in Unix milliseconds.
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// An unknown task id, or one sealed for another caller: the same answer (SEP-2663: -32602).
fn unknown_task() -> ErrorData {
    ErrorData::invalid_params("unknown task id", None)
}

impl Tasks {
    pub(crate) fn new(
        key: &Arc<SealKey>,
        athena: &Arc<AthenaSettings>,
        aws: &Arc<crate::aws::Aws>,
        packages: PackageTasks,
    ) -> Self {
        Self {
            key: key.clone(),
            athena: athena.clone(),
            aws: aws.clone(),
            packages: Arc::new(packages),
        }
    }

    /// The package tasks.
    pub fn packages(&self) -> &Arc<PackageTasks> {
        &self.packages
    }

    /// Package task runs are counted in `background` (shutdown waits for them).
    pub(crate) fn set_background(&mut self, background: &crate::background::Background) {
        if let Some(p) = Arc::get_mut(&mut self.packages) {
            p.set_background(background);
        }
    }

    /// Whether `task_id` is a package task id of the caller (`tasks/cancel` then needs the
    /// `quilt:write` scope instead of `athena:query`).
    pub fn is_package(&self, ctx: &RequestContext, task_id: &str) -> bool {
        self.packages.open(ctx, task_id).is_some()
    }

    /// Whether `name` may answer with a task.
    pub fn supports(&self, name: &str) -> bool {
        TASK_TOOLS.contains(&name)
    }

    /// The arguments a task tool runs with: a short wait unless the caller chose one.
    pub fn arguments(&self, mut arguments: JsonObject) -> JsonObject {
        arguments
            .entry("max_wait_s")
            .or_insert_with(|| TASK_WAIT_S.into());
        arguments
    }

    /// What a task tool's `result` becomes: the result itself when it is final, else a task
    /// whose id is sealed for the caller in `ctx`.
    pub fn answer(
        &self,
        ctx: &RequestContext,
        arguments: &JsonObject,
        result: CallToolResult,
    ) -> rmcp::model::CallToolResponse {
        let running = result.is_error != Some(true)
            && result
                .structured_content
                .as_ref()
                .and_then(|s| s["state"].as_str())
                .is_some_and(|s| matches!(s, "QUEUED" | "RUNNING"));
        let execution = result
            .structured_content
            .as_ref()
            .and_then(|s| s["execution_id"].as_str())
            .filter(|e| !e.is_empty());
        let (true, Some(execution)) = (running, execution) else {
            return result.into();
        };
        let created = now_millis();
        let sealed = Sealed {
            e: execution.to_owned(),
            m: arguments
                .get("max_results")
                .and_then(serde_json::Value::as_u64),
            c: created,
        };
        let owner = self.key.owner(ctx.principal());
        let id = self.key.seal(PURPOSE, &owner, &sealed);
        let mut task = task(&id, TaskStatus::Working, created, created);
        task.status_message = Some(format!("Athena query {execution} is running"));
        let mut created = CreateTaskResult::new(task);
        created.meta = result.meta;
        created.into()
    }

    fn open(&self, ctx: &RequestContext, task_id: &str) -> Result<Sealed, ErrorData> {
        let owner = self.key.owner(ctx.principal());
        match self.key.open::<Sealed>(PURPOSE, &owner, task_id) {
            Ok(sealed) => Ok(sealed),
            Err(SealError::Invalid | SealError::NotYours) => Err(unknown_task()),
        }
    }

    /// `tasks/get`: the task's state from Athena, through `athena_query_results` as a tool
    /// call of the caller.
    pub async fn get(
        &self,
        tools: &ToolRegistry,
        ctx: Arc<RequestContext>,
        task_id: &str,
        limits: CallLimits,
    ) -> Result<GetTaskResult, ErrorData> {
        if let Some(sealed) = self.packages.open(&ctx, task_id) {
            return Box::pin(self.packages.get(ctx, task_id, sealed)).await;
        }
        let sealed = self.open(&ctx, task_id)?;
        let mut args = JsonObject::new();
        args.insert("execution_id".into(), sealed.e.clone().into());
        if let Some(m) = sealed.m {
            args.insert("max_results".into(), m.into());
        }
        let Called::Result(result) = tools
            .call_within(
                CallScope::new(ctx),
                "athena_query_results",
                Some(args),
                limits,
            )
            .await
        else {
            return Err(ErrorData::internal_error(
                "athena_query_results is missing",
                None,
            ));
        };
        let structured = result.structured_content.clone().unwrap_or_default();
        let now = now_millis();
        let payload = if result.is_error == Some(true) {
            match structured["error"]["code"].as_str() {
                // Gone from Athena (history expired) or no longer the caller's.
                Some("not_found") => return Err(unknown_task()),
                // Passing trouble: the task is not over; the client polls again.
                Some("upstream_unavailable" | "timeout") => {
                    return Err(ErrorData::internal_error(
                        "the task's state could not be read now; poll again",
                        Some(structured["error"].clone()),
                    ));
                }
                _ => TaskPayload::Completed {
                    result: result_object(result)?,
                },
            }
        } else {
            match structured["state"].as_str() {
                Some("SUCCEEDED") => TaskPayload::Completed {
                    result: result_object(result)?,
                },
                Some("CANCELLED") => TaskPayload::Cancelled,
                _ => TaskPayload::Working,
            }
        };
        let task = task(task_id, payload.status(), sealed.c, now);
        Ok(GetTaskResult::new(DetailedTask::new(task, payload)))
    }

    /// `tasks/update`: none of these tasks ever asks for input, so there is nothing to
    /// update; an unknown id and a known one are both invalid params, with their reason.
    pub fn update(&self, ctx: &RequestContext, task_id: &str) -> Result<(), ErrorData> {
        if self.packages.open(ctx, task_id).is_none() {
            self.open(ctx, task_id)?;
        }
        Err(ErrorData::invalid_params(
            "this task does not wait for input",
            None,
        ))
    }

    /// `tasks/cancel`: stops the Athena execution (the caller's own only). A finished one
    /// is left as it is; the acknowledgement is the same.
    pub async fn cancel(&self, ctx: Arc<RequestContext>, task_id: &str) -> Result<(), ErrorData> {
        if let Some(sealed) = self.packages.open(&ctx, task_id) {
            return Box::pin(self.packages.cancel(ctx, sealed)).await;
        }
        let sealed = self.open(&ctx, task_id)?;
        let stop = crate::tools::athena::stop_owned(&self.aws, &self.athena, &sealed.e);
        // An AWS action for the caller: recorded and audited like a tool call.
        match CallScope::new(ctx).audited("tasks/cancel", stop).await {
            Ok(()) => Ok(()),
            Err(e) if e.code == crate::ErrorCode::NotFound => Err(unknown_task()),
            Err(e) => Err(ErrorData::internal_error(
                e.message.clone(),
                Some(serde_json::json!({"code": e.code.as_str(), "message": e.message})),
            )),
        }
    }
}

fn task(id: &str, status: TaskStatus, created: i64, updated: i64) -> Task {
    Task::new(id, status, rfc3339(created), rfc3339(updated))
        .with_ttl_ms(TTL_MS)
        .with_poll_interval_ms(POLL_INTERVAL_MS)
}

/// A tool result as the JSON object `tasks/get` inlines.
fn result_object(result: CallToolResult) -> Result<JsonObject, ErrorData> {
    match serde_json::to_value(result) {
        Ok(serde_json::Value::Object(mut object)) => {
            // The result of `tasks/get` carries the discriminator; the inlined one does not
            // need its own.
            object.remove("resultType");
            Ok(object)
        }
        _ => Err(ErrorData::internal_error("result not serialisable", None)),
    }
}
