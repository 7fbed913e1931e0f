//! `package_create` and `package_create_from_s3` as MCP tasks (SEP-2663), kept stateless: the
//! work runs in this server, so it must outlive the request that started it, and any replica
//! must be able to answer for it. The design (docs/TOOLS.md, "Package tasks"):
//!
//! - **Runner.** A call from a client that declared the tasks extension runs on a background
//!   task of the replica that took it ([`Background`]: shutdown waits for it within the grace
//!   period, then it records itself as abandoned). It runs the same tool handler through
//!   [`ToolRegistry::call_within`] (no request deadline; at most 12 hours) with the caller's
//!   `RequestContext` (scope check, grants, the
//!   caller's credentials from the `ClientFactory`, audit line), never the server's own.
//!   The request waits `WINDOW` (1 s): a call that ends by then is answered as it is.
//! - **State object.** Past the window the runner writes `s3://<registry>/.quilt/mcp-tasks/
//!   <random id>.json` with the caller's credentials (the registry bucket, which the package
//!   write needs anyway) and answers a `CreateTaskResult`. It rewrites the object when progress
//!   moved (at most once a second) and at least every `MCP_TASK_HEARTBEAT_S` (the heartbeat),
//!   and last with the outcome: `completed` with the tool's result (a tool error too,
//!   `isError`), `cancelled`, or `failed` when the server stopped it.
//! - **Task id** = registry bucket, random id, tool and creation time, sealed for the caller
//!   (`seal.rs`, purpose `package-task`): the id names the place, never the object's contents;
//!   another caller's, a tampered or an unknown id is `-32602` "unknown task id".
//! - **Untrusted contents.** Whoever may write the registry bucket may write that object, so
//!   its contents are data, never direction: the state carries a MAC under the server key bound
//!   to the caller and to its own location; a state that fails it reads as a `failed` task
//!   ("changed outside this server"), and nothing in it is ever followed (no bucket, key or URL
//!   from it is used). Reads are capped at `MAX_STATE_BYTES` (8 MiB).
//! - **Cancel** writes `<id>.cancel` (a MAC of the location for the caller) next to the state;
//!   the runner looks for it every `POLL` (1 s) and once more at the commit point, right before the
//!   manifest and pointers are written (`commit_point`, called by the packaging tools): a
//!   cancel seen before that point stops the run (nothing more copied, no manifest, no
//!   pointer) and records `cancelled`; after it the run completes.
//! - **Stale.** A `working` state whose heartbeat is older than [`STALE_HEARTBEATS`] heartbeats
//!   reads `failed`: the replica running it stopped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quilt_mcp_auth::RequestContext;
use quilt_mcp_aws::{AccessIntent, s3uri};
use rmcp::ErrorData;
use rmcp::model::{
    CallToolResponse, CallToolResult, CreateTaskResult, DetailedTask, GetTaskResult, JsonObject,
    Task, TaskPayload, TaskStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, oneshot};

use crate::aws::Aws;
use crate::background::Background;
use crate::call_limits::CallLimits;
use crate::call_scope::CallScope;
use crate::grants::BucketPolicy;
use crate::s3::s3_error;
use crate::seal::{Owner, SealKey};
use crate::settings::{Settings, Sse};
use crate::tasks::{now_millis, rfc3339};
use crate::tool_error::{ErrorCode, ToolError};
use crate::tools::packaging::registry_bucket;
use crate::tools::{Called, ToolRegistry};

/// The tools that may become package tasks, with the argument naming their registry.
const TOOLS: &[(&str, &str)] = &[
    ("package_create", "registry"),
    ("package_create_from_s3", "target_registry"),
];
/// How long the request waits for the work before answering with a task (as the Athena tasks).
const WINDOW: Duration = Duration::from_secs(crate::tasks::TASK_WAIT_S);
/// How often a runner looks for a cancel marker (and writes progress that moved).
const POLL: Duration = Duration::from_secs(1);
/// Heartbeats a `working` state may miss before it reads `failed`.
pub(crate) const STALE_HEARTBEATS: u32 = 6;
/// Package task runs at once on one replica; past this a call runs as without tasks.
const MAX_RUNS: usize = 32;
/// Where the state objects live in the registry bucket.
pub(crate) const PREFIX: &str = ".quilt/mcp-tasks/";
/// How long a task id is offered for (`ttlMs`): the lifecycle rule docs/OPERATIONS.md
/// recommends for `.quilt/mcp-tasks/` expires them after 7 days.
const TTL_MS: u64 = 7 * 24 * 3_600 * 1_000;
/// What `tasks/get` suggests between polls.
const POLL_INTERVAL_MS: u64 = 1_000;
/// Largest state object read.
const MAX_STATE_BYTES: u64 = 8 * 1024 * 1024;
/// Seal purposes: task ids, state objects, cancel markers (none is accepted as another).
const ID_PURPOSE: &str = "package-task";
const STATE_PURPOSE: &str = "package-task-state";
const CANCEL_PURPOSE: &str = "package-task-cancel";
/// Writes of a final state tried before giving up (the task then reads `failed` once stale).
const FINAL_WRITE_TRIES: u32 = 3;
/// Longest a run may take (a `timeout` tool error then, as for a plain call at its request
/// deadline): a bound on what a stuck run holds, far above a 10,000-object copy.
const MAX_RUN: Duration = Duration::from_secs(12 * 3_600);

/// What a package task id carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Sealed {
    /// The registry bucket.
    b: String,
    /// The random id (32 hex digits) naming the state object.
    i: String,
    /// The tool.
    t: String,
    /// Creation time, milliseconds since the epoch.
    c: i64,
}

/// Where a task's objects are.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Place {
    bucket: String,
    id: String,
}

impl Place {
    fn state_key(&self) -> String {
        format!("{PREFIX}{}.json", self.id)
    }

    fn cancel_key(&self) -> String {
        format!("{PREFIX}{}.cancel", self.id)
    }

    /// What state objects and cancel markers are bound to.
    fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.state_key())
    }
}

/// A task's status as its state object records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Working,
    Completed,
    Cancelled,
    Failed,
}

/// Progress as the tool last reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Progress {
    progress: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    total: Option<f64>,
    message: String,
}

/// The state object's `state` (JSON, readable by an operator).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    /// The object this state belongs to (a state copied to another task's place is refused).
    location: String,
    tool: String,
    status: Status,
    /// Milliseconds since the epoch.
    created: i64,
    /// The heartbeat: when the runner last wrote this, milliseconds since the epoch.
    updated: i64,
    /// Past the commit point: the manifest and pointers may be (being) written.
    #[serde(default)]
    committing: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    progress: Option<Progress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    /// The tool's result (`completed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    result: Option<JsonObject>,
}

/// The state object: the state as a JSON string and its MAC (`seal.rs`, [`STATE_PURPOSE`]).
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    v: u8,
    state: String,
    mac: String,
}

/// What reading a state object found.
enum Found {
    Missing,
    /// Not written by this server for this caller and this place.
    Altered,
    State(Box<State>),
}

fn unknown_task() -> ErrorData {
    ErrorData::invalid_params("unknown task id", None)
}

/// A tool error met while reading or writing a task's objects, as a JSON-RPC error.
fn rpc_error(what: &str, e: &ToolError) -> ErrorData {
    let data = Some(json!({"code": e.code.as_str(), "message": e.message}));
    match e.code {
        ErrorCode::NotPermitted | ErrorCode::AccessDenied => {
            ErrorData::invalid_params(format!("{what}: {}", e.message), data)
        }
        _ => ErrorData::internal_error(format!("{what}: {}", e.message), data),
    }
}

/// A JSON-RPC error object for a `failed` task.
fn failure(message: &str) -> JsonObject {
    match json!({"code": -32603, "message": message}) {
        Value::Object(o) => o,
        _ => JsonObject::new(),
    }
}

fn task(id: &str, status: TaskStatus, created: i64, updated: i64) -> Task {
    Task::new(id, status, rfc3339(created), rfc3339(updated))
        .with_ttl_ms(TTL_MS)
        .with_poll_interval_ms(POLL_INTERVAL_MS)
}

/// A tool result as the JSON object a state (and `tasks/get`) carries.
fn result_object(result: CallToolResult) -> JsonObject {
    match serde_json::to_value(result) {
        Ok(Value::Object(mut object)) => {
            object.remove("resultType");
            object
        }
        _ => JsonObject::new(),
    }
}

fn response(called: Called, name: &str) -> Result<CallToolResponse, ErrorData> {
    match called {
        Called::Result(result) => Ok(result.into()),
        Called::UnknownTool => Err(ErrorData::invalid_params(
            format!("unknown tool: {name}"),
            None,
        )),
    }
}

/// Package tasks for the product's registry.
pub struct PackageTasks {
    key: Arc<SealKey>,
    aws: Arc<Aws>,
    policy: BucketPolicy,
    sse: Sse,
    heartbeat: Duration,
    runs: Arc<Semaphore>,
    background: Background,
}

impl std::fmt::Debug for PackageTasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PackageTasks")
    }
}

impl PackageTasks {
    pub(crate) fn new(key: &Arc<SealKey>, aws: &Arc<Aws>, config: &Settings) -> Self {
        Self {
            key: key.clone(),
            aws: aws.clone(),
            policy: BucketPolicy::new(config.grants.clone()),
            sse: config.s3.sse.clone(),
            heartbeat: config.task_heartbeat.max(Duration::from_secs(1)),
            runs: Arc::new(Semaphore::new(MAX_RUNS)),
            background: Background::default(),
        }
    }

    /// Runs are counted in `background` (the server's, so shutdown waits for them).
    pub(crate) fn set_background(&mut self, background: &Background) {
        self.background = background.clone();
    }

    fn stale_after(&self) -> Duration {
        self.heartbeat * STALE_HEARTBEATS
    }

    /// The registry bucket a call of `name` with `arguments` would keep its task state in,
    /// when it may become a task: a package tool that writes (not a dry run), without `force`
    /// (which may stop to ask for confirmation first), whose registry is a bucket name and
    /// whose `.quilt/mcp-tasks/` the caller's grants include. Else `None`: the call runs as
    /// without tasks (it fails on its own if its arguments are wrong).
    pub fn plan(
        &self,
        ctx: &RequestContext,
        name: &str,
        arguments: Option<&JsonObject>,
    ) -> Option<String> {
        let field = TOOLS.iter().find(|(t, _)| *t == name)?.1;
        let args = arguments?;
        let flag = |k: &str| args.get(k).and_then(Value::as_bool).unwrap_or(false);
        if flag("dry_run") || flag("force") {
            return None;
        }
        // The registry exactly as the tool reads it; a bad one is the tool's error, synchronously.
        let bucket = registry_bucket(args.get(field)?.as_str()?).ok()?;
        self.policy
            .check_key(ctx.principal(), &bucket, PREFIX)
            .ok()?;
        Some(bucket)
    }

    /// Runs `name` for the caller as a task (see the module docs): its result when it ends
    /// within `WINDOW` (1 s), else a `CreateTaskResult`. `limits` (the request's permit and
    /// deadline) cover the wait, not the run after it.
    pub async fn start(
        self: &Arc<Self>,
        tools: Arc<ToolRegistry>,
        scope: CallScope,
        name: String,
        arguments: Option<JsonObject>,
        bucket: String,
        limits: CallLimits,
    ) -> Result<CallToolResponse, ErrorData> {
        // `scope` (the request's caller and progress token) serves a synchronous call; a run
        // gets a scope of its own, its progress kept in its state object.
        let ctx = scope.context().clone();
        let Ok(slot) = self.runs.clone().try_acquire_owned() else {
            tracing::info!(tool = %name, "package task runs full on this replica; running synchronously");
            return response(
                tools.call_within(scope, &name, arguments, limits).await,
                &name,
            );
        };
        let (tx, rx) = oneshot::channel();
        let counted = self.background.enter();
        let this = self.clone();
        let tool = name.clone();
        tokio::spawn(async move {
            let _counted = counted;
            let _slot = slot;
            // Boxed: the run holds the tool call; keep it off the polling thread's stack.
            Box::pin(this.run(tools, ctx, tool, arguments, bucket, tx)).await;
        });
        match limits.run(rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(ErrorData::internal_error(
                format!("{name} stopped without an answer"),
                None,
            )),
            Err(_) => Err(ErrorData::internal_error(
                format!("{name} did not answer within the request time limit"),
                None,
            )),
        }
    }

    /// The runner: the tool call, the window, the task and its state until the end.
    async fn run(
        self: Arc<Self>,
        tools: Arc<ToolRegistry>,
        ctx: Arc<RequestContext>,
        name: String,
        arguments: Option<JsonObject>,
        bucket: String,
        mut tx: oneshot::Sender<Result<CallToolResponse, ErrorData>>,
    ) {
        let run = Arc::new(Run::new(self.clone(), ctx.clone()));
        let call = {
            let (ctx, name) = (ctx.clone(), name.clone());
            let limits = CallLimits::none().with_deadline(tokio::time::Instant::now() + MAX_RUN);
            let keep: Arc<dyn crate::progress::Keep> = run.clone();
            let scope = CallScope::new(ctx)
                .with_progress(Some(crate::progress::Progress::kept(keep)))
                .with_gate(run.clone());
            async move { tools.call_within(scope, &name, arguments, limits).await }
        };
        let mut work = Box::pin(call);
        tokio::select! {
            called = &mut work => {
                let _ = tx.send(response(called, &name));
                return;
            }
            () = tokio::time::sleep(WINDOW) => {}
            // The client went away within the window: drop the work, as a plain call would be.
            () = tx.closed() => return,
        }
        let place = Place {
            bucket,
            id: uuid::Uuid::new_v4().simple().to_string(),
        };
        let created = now_millis();
        let first = run.state(&place, &name, created, Status::Working);
        if let Err(e) = self.write_state(&ctx, &first).await {
            // No state object, no task: the caller waits for the result as without tasks.
            tracing::info!(tool = %name, error = %e.message, "package task state not writable; answering synchronously");
            let called = tokio::select! {
                called = &mut work => called,
                () = tx.closed() => return,
            };
            let _ = tx.send(response(called, &name));
            return;
        }
        run.set_made(place.clone(), &name, created);
        let owner = self.key.owner(ctx.principal());
        let sealed = Sealed {
            b: place.bucket.clone(),
            i: place.id.clone(),
            t: name.clone(),
            c: created,
        };
        let id = self.key.seal(ID_PURPOSE, &owner, &sealed);
        let mut created_task = task(&id, TaskStatus::Working, created, created);
        created_task.status_message = Some(format!("{name} is running"));
        let handed_out = tx
            .send(Ok(CreateTaskResult::new(created_task).into()))
            .is_ok();
        let end = if handed_out {
            Box::pin(self.follow(&run, &ctx, &place, &name, created, &mut work)).await
        } else {
            // The client left as the task was made: nobody can hold its id.
            let mut end = run.state(&place, &name, created, Status::Cancelled);
            end.message = Some("the client left before the task id was handed out".into());
            end
        };
        drop(work);
        for attempt in 1..=FINAL_WRITE_TRIES {
            match self.write_state(&ctx, &end).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(tool = %name, attempt, error = %e.message, "package task outcome not written");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    }

    /// Drives the work once the task exists: cancel markers, progress and heartbeats, the
    /// server's stop. Returns the state to write last.
    async fn follow(
        &self,
        run: &Run,
        ctx: &Arc<RequestContext>,
        place: &Place,
        name: &str,
        created: i64,
        work: &mut (impl Future<Output = Called> + Unpin),
    ) -> State {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        let mut written = tokio::time::Instant::now();
        loop {
            tokio::select! {
                called = &mut *work => {
                    if run.cancelled.load(Ordering::SeqCst) {
                        return run.state(place, name, created, Status::Cancelled);
                    }
                    let mut end = run.state(place, name, created, Status::Completed);
                    end.result = match called {
                        Called::Result(result) => Some(result_object(result)),
                        Called::UnknownTool => None,
                    };
                    return end;
                }
                _ = tick.tick() => {
                    if !run.committing() && self.cancel_requested(ctx, place).await {
                        run.cancelled.store(true, Ordering::SeqCst);
                        let mut end = run.state(place, name, created, Status::Cancelled);
                        end.message = Some("cancelled before the commit point: no manifest or pointer was written".into());
                        return end;
                    }
                    if run.take_moved() || written.elapsed() >= self.heartbeat {
                        let state = run.state(place, name, created, Status::Working);
                        match self.write_state(ctx, &state).await {
                            Ok(()) => written = tokio::time::Instant::now(),
                            Err(e) => tracing::debug!(error = %e.message, "package task heartbeat not written"),
                        }
                    }
                }
                // Past the grace period: stop unless the commit has begun (the process ends
                // soon anyway; the state then goes stale).
                () = self.background.stopped(), if !run.committing() => {
                    let mut end = run.state(place, name, created, Status::Failed);
                    end.message = Some("the server running it stopped (shutdown) before it finished: objects it had copied may be under the package's prefix in the registry; no manifest or pointer was written".into());
                    return end;
                }
            }
        }
    }

    /// Writes `state` to its place with the caller's credentials and the configured SSE.
    async fn write_state(&self, ctx: &Arc<RequestContext>, state: &State) -> Result<(), ToolError> {
        let owner = self.key.owner(ctx.principal());
        let json = serde_json::to_string(state)
            .map_err(|e| ToolError::internal(format!("task state: {e}")))?;
        let mac = self.key.tag(STATE_PURPOSE, &owner, json.as_bytes());
        let body = serde_json::to_vec(&Envelope {
            v: 1,
            state: json,
            mac,
        })
        .map_err(|e| ToolError::internal(format!("task state: {e}")))?;
        let (bucket, key) = state
            .location
            .strip_prefix("s3://")
            .and_then(|l| l.split_once('/'))
            .ok_or_else(|| ToolError::internal("task state without a location"))?;
        self.put(ctx, bucket, key, body).await
    }

    async fn put(
        &self,
        ctx: &Arc<RequestContext>,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
    ) -> Result<(), ToolError> {
        let put = async {
            let s3 = self.aws.s3(AccessIntent::Write).await?;
            s3.client
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type("application/json")
                .body(body.into())
                .set_server_side_encryption(self.sse.mode.clone())
                .set_ssekms_key_id(self.sse.kms_key_id.clone())
                .send()
                .await
                .map_err(|e| s3_error("PutObject", &e, &s3))?;
            Ok(())
        };
        in_scope(ctx, put).await
    }

    /// The bytes of an object (at most `MAX_STATE_BYTES` (8 MiB)), `None` when it does not exist.
    async fn get_bytes(
        &self,
        ctx: &Arc<RequestContext>,
        bucket: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, ToolError> {
        let get = async {
            let s3 = self.aws.s3(AccessIntent::Read).await?;
            let out = match s3
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .range(format!("bytes=0-{}", MAX_STATE_BYTES - 1))
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) => {
                    let e = s3_error("GetObject", &e, &s3);
                    return if e.code == ErrorCode::NotFound {
                        Ok(None)
                    } else {
                        Err(e)
                    };
                }
            };
            let bytes = out
                .body
                .collect()
                .await
                .map_err(|e| {
                    ToolError::new(
                        ErrorCode::UpstreamUnavailable,
                        format!("GetObject body: {e}"),
                    )
                })?
                .into_bytes();
            Ok(Some(bytes.to_vec()))
        };
        in_scope(ctx, get).await
    }

    /// Reads and checks the state at `place` for the caller of `ctx`.
    async fn read_state(
        &self,
        ctx: &Arc<RequestContext>,
        place: &Place,
    ) -> Result<Found, ToolError> {
        let Some(bytes) = self
            .get_bytes(ctx, &place.bucket, &place.state_key())
            .await?
        else {
            return Ok(Found::Missing);
        };
        let owner = self.key.owner(ctx.principal());
        let Ok(envelope) = serde_json::from_slice::<Envelope>(&bytes) else {
            return Ok(Found::Altered);
        };
        if !self.key.verify_tag(
            STATE_PURPOSE,
            &owner,
            envelope.state.as_bytes(),
            &envelope.mac,
        ) {
            return Ok(Found::Altered);
        }
        match serde_json::from_str::<State>(&envelope.state) {
            Ok(state) if state.location == place.location() => Ok(Found::State(Box::new(state))),
            _ => Ok(Found::Altered),
        }
    }

    /// Whether a genuine cancel marker for this task is there (trouble reading it: not yet).
    async fn cancel_requested(&self, ctx: &Arc<RequestContext>, place: &Place) -> bool {
        match self
            .get_bytes(ctx, &place.bucket, &place.cancel_key())
            .await
        {
            Ok(Some(bytes)) => {
                let owner = self.key.owner(ctx.principal());
                let mac = serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|v| v["mac"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                let genuine =
                    self.key
                        .verify_tag(CANCEL_PURPOSE, &owner, place.location().as_bytes(), &mac);
                if !genuine {
                    tracing::warn!(location = %place.location(), "a cancel marker not written by this server was ignored");
                }
                genuine
            }
            Ok(None) => false,
            Err(e) => {
                tracing::debug!(error = %e.message, "cancel marker not readable now");
                false
            }
        }
    }

    /// The task behind `task_id` when it is a package task id issued to this caller.
    pub(crate) fn open(&self, ctx: &RequestContext, task_id: &str) -> Option<Sealed> {
        let owner = self.key.owner(ctx.principal());
        // Invalid and NotYours alike: not this caller's package task.
        self.key.open::<Sealed>(ID_PURPOSE, &owner, task_id).ok()
    }

    /// The place a sealed id names, after the caller's grants (checked again: they may have
    /// changed since the task was made).
    fn place(&self, ctx: &RequestContext, sealed: &Sealed) -> Result<Place, ErrorData> {
        let valid_id = sealed.i.len() == 32 && sealed.i.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid_id || s3uri::validate_bucket(&sealed.b).is_err() {
            return Err(unknown_task());
        }
        let place = Place {
            bucket: sealed.b.clone(),
            id: sealed.i.clone(),
        };
        self.policy
            .check_key(ctx.principal(), &place.bucket, &place.state_key())
            .map_err(|e| rpc_error("the task's state cannot be read", &e))?;
        Ok(place)
    }

    /// `tasks/get` for a package task: its state object, read with the caller's credentials.
    pub(crate) async fn get(
        &self,
        ctx: Arc<RequestContext>,
        task_id: &str,
        sealed: Sealed,
    ) -> Result<GetTaskResult, ErrorData> {
        let place = self.place(&ctx, &sealed)?;
        let found = CallScope::new(ctx.clone())
            .audited("tasks/get", Box::pin(self.read_state(&ctx, &place)))
            .await;
        let found = found.map_err(|e| rpc_error("the task's state could not be read", &e))?;
        let now = now_millis();
        let (payload, updated, message) = match found {
            Found::Missing => {
                return Err(ErrorData::invalid_params(
                    format!(
                        "unknown task id: its state object {} no longer exists (deleted, or expired by the bucket's lifecycle rule)",
                        place.location()
                    ),
                    None,
                ));
            }
            Found::Altered => {
                let m = format!(
                    "the task's state object {} was changed outside this server: the run's outcome is unknown; browse the package to see whether the revision was written",
                    place.location()
                );
                (TaskPayload::Failed { error: failure(&m) }, now, Some(m))
            }
            Found::State(state) => self.payload(*state, now),
        };
        let mut task = task(task_id, payload.status(), sealed.c, updated);
        task.status_message = message;
        Ok(GetTaskResult::new(DetailedTask::new(task, payload)))
    }

    /// What a state reads as now: the payload, its last update and a status message.
    fn payload(&self, state: State, now: i64) -> (TaskPayload, i64, Option<String>) {
        let stale_ms = self.stale_after().as_millis() as i64;
        match state.status {
            Status::Working if now.saturating_sub(state.updated) > stale_ms => {
                let left = if state.committing {
                    "it had reached the commit point, so its manifest and pointers may or may not have been written: browse the package to see whether the revision exists"
                } else {
                    "it had not reached the commit point, so no manifest or pointer was written; objects it had copied may be under the package's prefix in the registry"
                };
                let m = format!(
                    "the run stopped: the server running it sent no heartbeat since {} (it was stopped or crashed); {left}",
                    rfc3339(state.updated)
                );
                (
                    TaskPayload::Failed { error: failure(&m) },
                    state.updated,
                    Some(m),
                )
            }
            Status::Working => (
                TaskPayload::Working,
                state.updated,
                state.progress.map(|p| p.message),
            ),
            Status::Completed => match state.result {
                Some(result) => (TaskPayload::Completed { result }, state.updated, None),
                None => {
                    let m = "the run completed without a result".to_owned();
                    (
                        TaskPayload::Failed { error: failure(&m) },
                        state.updated,
                        Some(m),
                    )
                }
            },
            Status::Cancelled => (TaskPayload::Cancelled, state.updated, state.message),
            Status::Failed => {
                let m = state.message.unwrap_or_else(|| "the run failed".to_owned());
                (
                    TaskPayload::Failed { error: failure(&m) },
                    state.updated,
                    Some(m),
                )
            }
        }
    }

    /// `tasks/cancel` for a package task: a cancel marker next to the state, when the task is
    /// still working; a finished (or stale) task is left as it is, with the same answer.
    pub(crate) async fn cancel(
        &self,
        ctx: Arc<RequestContext>,
        sealed: Sealed,
    ) -> Result<(), ErrorData> {
        let place = self.place(&ctx, &sealed)?;
        let stale_ms = self.stale_after().as_millis() as i64;
        let act = async {
            match self.read_state(&ctx, &place).await? {
                Found::Missing => Ok::<bool, ToolError>(false),
                Found::State(s)
                    if s.status == Status::Working
                        && now_millis().saturating_sub(s.updated) <= stale_ms =>
                {
                    let owner: Owner = self.key.owner(ctx.principal());
                    let mac = self
                        .key
                        .tag(CANCEL_PURPOSE, &owner, place.location().as_bytes());
                    let body = serde_json::to_vec(&json!({"v": 1, "mac": mac}))
                        .map_err(|e| ToolError::internal(e.to_string()))?;
                    self.put(&ctx, &place.bucket, &place.cancel_key(), body)
                        .await?;
                    Ok(true)
                }
                // Over (or altered): nothing to stop.
                _ => Ok(true),
            }
        };
        let result = CallScope::new(ctx.clone())
            .audited("tasks/cancel", Box::pin(act))
            .await;
        match result {
            Ok(true) => Ok(()),
            Ok(false) => Err(ErrorData::invalid_params(
                format!(
                    "unknown task id: its state object {} no longer exists",
                    place.location()
                ),
                None,
            )),
            Err(e) => Err(rpc_error(
                "the task could not be cancelled; nothing changed",
                &e,
            )),
        }
    }
}

// ------------------------------------------------------------------------------------------
// The run's side inside the tool call: progress and the commit point.

/// What the tool call of a run shares with its runner.
struct Run {
    tasks: Arc<PackageTasks>,
    ctx: Arc<RequestContext>,
    /// Set once the task exists (after the window): where, which tool, created when.
    made: Mutex<Option<(Place, String, i64)>>,
    progress: Mutex<Option<Progress>>,
    /// Progress moved since the last state written.
    moved: AtomicBool,
    cancelled: AtomicBool,
    committing: AtomicBool,
}

impl Run {
    fn new(tasks: Arc<PackageTasks>, ctx: Arc<RequestContext>) -> Self {
        Self {
            tasks,
            ctx,
            made: Mutex::new(None),
            progress: Mutex::new(None),
            moved: AtomicBool::new(false),
            cancelled: AtomicBool::new(false),
            committing: AtomicBool::new(false),
        }
    }

    fn set_made(&self, place: Place, tool: &str, created: i64) {
        if let Ok(mut m) = self.made.lock() {
            *m = Some((place, tool.to_owned(), created));
        }
    }

    fn committing(&self) -> bool {
        self.committing.load(Ordering::SeqCst)
    }

    fn take_moved(&self) -> bool {
        self.moved.swap(false, Ordering::SeqCst)
    }

    fn state(&self, place: &Place, tool: &str, created: i64, status: Status) -> State {
        State {
            location: place.location(),
            tool: tool.to_owned(),
            status,
            created,
            updated: now_millis(),
            committing: self.committing(),
            progress: self.progress.lock().ok().and_then(|p| p.clone()),
            message: None,
            result: None,
        }
    }

    /// The commit point: a cancel already asked for stops the run here; past it, none does.
    async fn gate(&self) -> Result<(), ToolError> {
        let made = self.made.lock().ok().and_then(|m| m.clone());
        if let Some((place, _, _)) = &made
            && (self.cancelled.load(Ordering::SeqCst)
                || self.tasks.cancel_requested(&self.ctx, place).await)
        {
            self.cancelled.store(true, Ordering::SeqCst);
            return Err(ToolError::new(
                ErrorCode::Declined,
                "cancelled (tasks/cancel) before the manifest and pointers were written",
            ));
        }
        self.committing.store(true, Ordering::SeqCst);
        if let Some((place, tool, created)) = &made {
            // Recorded so a run that dies from here on is reported as possibly committed.
            let state = self.state(place, tool, *created, Status::Working);
            if let Err(e) = self.tasks.write_state(&self.ctx, &state).await {
                tracing::debug!(error = %e.message, "package task commit state not written");
            }
        }
        Ok(())
    }
}

impl crate::progress::Keep for Run {
    fn keep(&self, progress: f64, total: Option<f64>, message: &str) {
        if let Ok(mut p) = self.progress.lock() {
            *p = Some(Progress {
                progress,
                total,
                message: message.to_owned(),
            });
            self.moved.store(true, Ordering::SeqCst);
        }
    }
}

impl crate::call_scope::CommitGate for Run {
    /// The commit point of a package write, passed right before its manifest and pointers are
    /// written: a cancel asked for before now stops the write here (`declined`, nothing
    /// written); from here on the run is not cancelled.
    fn pass(&self) -> futures::future::BoxFuture<'_, Result<(), ToolError>> {
        Box::pin(self.gate())
    }
}

/// Runs `fut` in a call scope of `ctx`: the caller's own when this task already serves that
/// caller's call (`tasks/get`, `tasks/cancel`: their audit record then sees these requests),
/// else a scope of its own (the runner's state writes, outside the tool call).
async fn in_scope<F: std::future::Future>(ctx: &Arc<RequestContext>, fut: F) -> F::Output {
    if crate::call_scope::context().is_ok_and(|c| Arc::ptr_eq(&c, ctx)) {
        fut.await
    } else {
        CallScope::new(ctx.clone()).run(fut).await
    }
}
