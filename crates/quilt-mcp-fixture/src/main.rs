//! `quilt-mcp-fixture-server`: a TEST-ONLY server. It is never shipped (the Dockerfile builds
//! only `quilt-mcp-server`) and must never be deployed.
//!
//! It serves the product's HTTP surface (`app::router`: CORS, auth, admission, health, rmcp
//! stateless streamable HTTP) with a handler that offers:
//! - the "everything"-style fixtures the official MCP conformance suite
//!   (`@modelcontextprotocol/conformance`) expects: `test_*` tools, resources, a resource
//!   template, prompts, completion, logging, progress, and the 2026-07-28 multi-round
//!   (`input_required`) tools with HMAC-sealed `requestState`, and the SEP-2663 task tools
//!   (`slow_compute`, `confirm_delete`, …; sealed task ids). Both protocol eras are served:
//!   2025-11-25 (with `initialize`) and 2026-07-28 (stateless, `server/discover`);
//! - the product tools, by delegating to the product `McpServer`: `auth_status`, plus the
//!   test tool `test_sleep` (`{"ms": n}`, at most 60000: sleeps, then returns the caller's
//!   subject) used by the drain and load-shedding tests. Both work with auth enabled.
//!
//! It reads the same configuration as the product (flags and `MCP_*` variables). Run it:
//! ```text
//! cargo build -p quilt-mcp-fixture
//! MCP_AUTH_DISABLED=true MCP_LISTEN=127.0.0.1:8000 target/debug/quilt-mcp-fixture-server
//! tests/conformance/run.sh      # the conformance suite against it
//! ```

// The fixtures exercise sampling, roots and logging on purpose: SEP-2577 deprecates them, the
// conformance suite still tests them.
#![allow(deprecated)]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use quilt_mcp_auth::RequestContext;
use quilt_mcp_server::config::Config;
use quilt_mcp_server::mcp::{Identity, McpServer};
use quilt_mcp_server::{ToolError, ToolRegistry, app, transport};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams, ClientCapabilities,
    CompleteRequestParams, CompleteResult, CompletionInfo, ContentBlock, CreateMessageResult,
    CreateTaskResult, DetailedTask, ElicitResult, ElicitationAction, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, GetTaskParams, GetTaskResult, Implementation, InputRequest,
    InputRequests, InputRequiredResult, InputResponses, JsonObject, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListRootsResult, ListToolsResult,
    LoggingLevel, LoggingMessageNotificationParam, PaginatedRequestParams,
    ProgressNotificationParam, Prompt, PromptArgument, PromptMessage, ProtocolVersion,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, RequestStateCodec,
    Resource, ResourceContents, ResourceTemplate, Role, SealOptions, ServerCapabilities,
    ServerConfig, ServerRequest, SetLevelRequestMethod, SetLevelRequestParams,
    SubscribeRequestParams, Task, TaskPayload, TaskStatus, Tool, ToolAnnotations,
    UnsubscribeRequestParams, UpdateTaskParams,
};
use rmcp::service::RequestContext as RmcpContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// 1x1 red PNG.
const IMAGE: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/// Minimal WAV.
const AUDIO: &str = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";
/// How long a 2025-11-25 server-to-client request waits for the client's reply.
const CLIENT_REPLY_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest `test_sleep`.
const MAX_SLEEP_MS: u64 = 60_000;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "TEST-ONLY MCP fixture server (conformance suite, integration tests)"
)]
struct Cli {
    #[command(flatten)]
    config: Config,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|rt| rt.block_on(serve(cli.config)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let (app, listener) = transport::http::prepare(config).await?;
    tracing::warn!(listen = %app.settings.http.listen, auth = app.verifier.is_some(), "serving the TEST-ONLY fixture server");
    let fixtures = Arc::new(Fixtures::new()?);
    let product = Arc::new(product_registry(&app.aws, &app.settings));
    let router = app::router(app.clone(), move || FixtureServer {
        product: McpServer::new(product.clone(), Identity::Http),
        fixtures: fixtures.clone(),
    });
    transport::http::serve(app, router, listener, transport::http::shutdown_signal()).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Product tools: `auth_status` plus `test_sleep`, through the product registry and handler.

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct SleepInput {
    /// How long to sleep, in milliseconds (at most 60000).
    ms: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
struct SleepOutput {
    slept_ms: u64,
    subject: String,
}

fn product_registry(
    aws: &Arc<quilt_mcp_server::aws::Aws>,
    config: &quilt_mcp_server::settings::Settings,
) -> ToolRegistry {
    let mut registry = ToolRegistry::product(aws, config);
    registry.add(
        "test_sleep",
        "Test only: sleeps `ms` milliseconds (at most 60000), then returns the caller's subject.",
        ToolAnnotations::new()
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(false),
        None,
        |input: SleepInput| async move {
            if input.ms > MAX_SLEEP_MS {
                return Err(ToolError::invalid_argument(format!(
                    "ms must be at most {MAX_SLEEP_MS}"
                )));
            }
            let ctx = RequestContext::current()?;
            tokio::time::sleep(Duration::from_millis(input.ms)).await;
            Ok(SleepOutput {
                slept_ms: input.ms,
                subject: ctx.principal().subject.clone(),
            })
        },
    );
    registry
}

// ---------------------------------------------------------------------------------------------
// Conformance fixtures.

/// What every handler shares: the fixture tool list and the `requestState` sealer.
struct Fixtures {
    tools: Vec<Tool>,
    /// Seals `requestState` (HMAC-SHA256 with a per-process key), bound to the tool or prompt;
    /// also the fixture's task ids (bound to `task`).
    codec: RequestStateCodec,
    /// Task ids cancelled before they finished. The fixture's tasks are otherwise stateless
    /// (the id carries the tool, start and duration); a cancellation has to be remembered
    /// somewhere, and this one process is the fixture's only replica. (The product's tasks
    /// ask Athena instead: `tasks.rs`.)
    cancelled: std::sync::Mutex<std::collections::HashSet<String>>,
    /// The answers `tasks/update` delivered, by task id (the input-taking task fixtures).
    answers: std::sync::Mutex<std::collections::HashMap<String, InputResponses>>,
}

impl Fixtures {
    fn new() -> anyhow::Result<Self> {
        let key = [
            uuid::Uuid::new_v4().into_bytes(),
            uuid::Uuid::new_v4().into_bytes(),
        ]
        .concat();
        let codec = RequestStateCodec::try_new(key).map_err(|e| anyhow::anyhow!("{e}"))?;
        let empty = json!({"type": "object", "properties": {}});
        let mut tools: Vec<Tool> = [
            ("test_simple_text", "Returns simple text content."),
            ("test_image_content", "Returns image content."),
            ("test_audio_content", "Returns audio content."),
            ("test_embedded_resource", "Returns an embedded resource."),
            (
                "test_multiple_content_types",
                "Returns text, image and resource content.",
            ),
            ("test_error_handling", "Always returns a tool error."),
            (
                "test_tool_with_progress",
                "Reports progress three times (SSE).",
            ),
            ("test_tool_with_logging", "Logs three messages (SSE)."),
            (
                "test_logging_tool",
                "Logs three messages, only when the request asks for logs.",
            ),
            (
                "test_elicitation_sep1034_defaults",
                "2025-11-25: elicitation with default values.",
            ),
            (
                "test_elicitation_sep1330_enums",
                "2025-11-25: elicitation with enum schemas.",
            ),
            (
                "test_missing_capability",
                "Requires the client's sampling capability.",
            ),
            (
                "test_streaming_elicitation",
                "Asks for input with an input_required result.",
            ),
            (
                "test_input_required_result_elicitation",
                "Multi-round: elicits a name.",
            ),
            (
                "test_input_required_result_sampling",
                "Multi-round: asks the client's model.",
            ),
            (
                "test_input_required_result_list_roots",
                "Multi-round: asks for the client's roots.",
            ),
            (
                "test_input_required_result_request_state",
                "Multi-round with requestState.",
            ),
            (
                "test_input_required_result_multiple_inputs",
                "Multi-round: three kinds of input at once.",
            ),
            (
                "test_input_required_result_multi_round",
                "Multi-round: two rounds of input.",
            ),
            (
                "test_input_required_result_tampered_state",
                "Multi-round: rejects a tampered requestState.",
            ),
            (
                "test_input_required_result_capabilities",
                "Multi-round: asks only for what the client supports.",
            ),
        ]
        .into_iter()
        .map(|(name, description)| tool(name, description, empty.clone()))
        .collect();
        let string_arg =
            |name: &str| json!({"type": "object", "properties": {name: {"type": "string"}}});
        tools.push(tool(
            "test_sampling",
            "2025-11-25: asks the client's model (sampling/createMessage).",
            string_arg("prompt"),
        ));
        tools.push(tool(
            "test_elicitation",
            "2025-11-25: asks the user (elicitation/create).",
            string_arg("message"),
        ));
        tools.push(tool(
            "test_custom_header",
            "Echoes `region`, which clients mirror into the Mcp-Param-Region header (SEP-2243).",
            json!({"type": "object", "required": ["region"], "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"}}}),
        ));
        tools.push(tool(
            "json_schema_2020_12_tool",
            "Has an input schema using JSON Schema 2020-12 keywords.",
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "$defs": {"address": {"$anchor": "addressDef", "type": "object",
                    "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
                "properties": {
                    "name": {"type": "string"},
                    "address": {"$ref": "#/$defs/address"},
                    "contactMethod": {"type": "string", "enum": ["phone", "email"]},
                    "phone": {"type": "string"},
                    "email": {"type": "string"}
                },
                "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
                "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
                "then": {"required": ["phone"]},
                "else": {"required": ["email"]},
                "additionalProperties": false
            }),
        ));
        // The SEP-2663 task fixtures of the conformance suite's `tasks-*` scenarios.
        tools.push(tool(
            "greet",
            "Sync only: says hello to `name`.",
            string_arg("name"),
        ));
        tools.push(tool(
            "slow_compute",
            "A task: sleeps `seconds`, then returns `label` (cancellable).",
            json!({"type": "object", "properties": {
                "seconds": {"type": "number"}, "label": {"type": "string"}}}),
        ));
        tools.push(tool(
            "failing_job",
            "A task (required): a tool error after about a second.",
            empty.clone(),
        ));
        tools.push(tool(
            "confirm_delete",
            "A task: asks the user to confirm deleting `filename` (tasks/update), then answers.",
            string_arg("filename"),
        ));
        tools.push(tool(
            "multi_input",
            "A task: asks for two inputs at once; completes once both are answered.",
            empty.clone(),
        ));
        tools.push(tool(
            "test_tool_with_task",
            "Multi-round: asks for user_name, then continues as a task (required).",
            empty.clone(),
        ));
        tools.push(tool(
            "protocol_error_job",
            "A task: a protocol error after about a second.",
            empty.clone(),
        ));
        Ok(Self {
            tools,
            codec,
            cancelled: std::sync::Mutex::default(),
            answers: std::sync::Mutex::default(),
        })
    }

    fn seal(&self, bound_to: &str, state: &Value) -> Result<String, ErrorData> {
        self.codec
            .seal_json_with(
                state,
                &SealOptions::new().associated_data(bound_to.as_bytes()),
            )
            .map_err(|e| ErrorData::internal_error(format!("cannot seal requestState: {e}"), None))
    }

    /// The verified state, `None` without one; a forged or tampered state is an error.
    fn open(&self, bound_to: &str, state: Option<&str>) -> Result<Option<Value>, ErrorData> {
        state
            .map(|s| {
                self.codec
                    .open_json_with(s, bound_to.as_bytes())
                    .map_err(|_| {
                        ErrorData::invalid_params("requestState failed verification", None)
                    })
            })
            .transpose()
    }
}

fn tool(name: &'static str, description: &'static str, schema: Value) -> Tool {
    let Value::Object(schema) = schema else {
        unreachable!("schemas are objects")
    };
    Tool::new(name, description, Arc::new(schema))
}

/// The handler: conformance fixtures first, then the product tools.
#[derive(Clone)]
struct FixtureServer {
    product: McpServer,
    fixtures: Arc<Fixtures>,
}

fn at_least_2026(ctx: &RmcpContext<RoleServer>) -> bool {
    ctx.protocol_version()
        .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
}

fn text(s: impl Into<String>) -> CallToolResponse {
    CallToolResult::success(vec![ContentBlock::text(s)]).into()
}

fn input_request(value: Value) -> InputRequest {
    serde_json::from_value(value).expect("fixture input requests are valid")
}

fn elicit(message: &str, field: &str, kind: &str) -> InputRequest {
    input_request(
        json!({"method": "elicitation/create", "params": {"message": message,
        "requestedSchema": {"type": "object", "properties": {field: {"type": kind}}, "required": [field]}}}),
    )
}

fn sample(question: &str) -> InputRequest {
    input_request(json!({"method": "sampling/createMessage", "params": {
        "messages": [{"role": "user", "content": {"type": "text", "text": question}}], "maxTokens": 100}}))
}

fn roots() -> InputRequest {
    input_request(json!({"method": "roots/list", "params": {}}))
}

fn input_required(
    requests: Vec<(&str, InputRequest)>,
    state: Option<String>,
) -> InputRequiredResult {
    let requests = requests
        .into_iter()
        .map(|(k, r)| (k.to_owned(), r))
        .collect();
    InputRequiredResult::new(Some(requests), state)
}

/// The client's answer under `key`: `None` when absent, an error when malformed.
fn answer<T: DeserializeOwned>(
    responses: Option<&InputResponses>,
    key: &str,
) -> Result<Option<T>, ErrorData> {
    let Some(value) = responses.and_then(|r| r.get(key)) else {
        return Ok(None);
    };
    serde_json::from_value(value.clone())
        .map(Some)
        .map_err(|e| {
            ErrorData::invalid_params(format!("inputResponses.{key} is malformed: {e}"), None)
        })
}

/// An accepted elicitation's string field; `None` when not answered.
fn elicited(
    responses: Option<&InputResponses>,
    key: &str,
    field: &str,
) -> Result<Option<String>, ErrorData> {
    let Some(result) = answer::<ElicitResult>(responses, key)? else {
        return Ok(None);
    };
    if result.action != ElicitationAction::Accept {
        return Ok(Some(format!("({key} declined)")));
    }
    let value = result.content.as_ref().and_then(|c| c.get(field));
    match value {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Ok(Some(v.to_string())),
        None => Err(ErrorData::invalid_params(
            format!("inputResponses.{key} lacks {field}"),
            None,
        )),
    }
}

fn sampled(responses: Option<&InputResponses>, key: &str) -> Result<Option<String>, ErrorData> {
    Ok(answer::<CreateMessageResult>(responses, key)?.map(|r| {
        serde_json::to_value(&r.message.content)
            .map(|c| c.to_string())
            .unwrap_or_default()
    }))
}

/// Sends `request` to the client on the tool call's stream (2025-11-25 only) and waits for the
/// reply. Over stateless HTTP the reply comes back in a new POST that rmcp refuses, so this
/// times out: see tests/conformance/README.md.
async fn ask_client(
    ctx: &RmcpContext<RoleServer>,
    request: InputRequest,
) -> Result<CallToolResponse, ErrorData> {
    let request = match request {
        InputRequest::CreateMessage(r) => ServerRequest::from(r),
        InputRequest::Elicitation(r) => ServerRequest::from(r),
        InputRequest::ListRoots(r) => ServerRequest::from(r),
        _ => unreachable!("the fixtures build only these"),
    };
    let reply = tokio::time::timeout(CLIENT_REPLY_TIMEOUT, ctx.peer.send_request(request)).await;
    Ok(match reply {
        Ok(Ok(reply)) => text(format!("The client replied: {}", json!(reply))),
        Ok(Err(e)) => CallToolResult::error(vec![ContentBlock::text(format!(
            "request to the client failed: {e}"
        ))])
        .into(),
        // A protocol error, not a tool result: the conformance checks accept any content, and
        // this fixture must not pass a scenario whose round trip did not happen.
        Err(_) => {
            return Err(ErrorData::internal_error(
                "the client's reply never arrived",
                None,
            ));
        }
    })
}

fn listed_roots(responses: Option<&InputResponses>, key: &str) -> Result<Option<usize>, ErrorData> {
    Ok(answer::<ListRootsResult>(responses, key)?.map(|r| r.roots.len()))
}

impl FixtureServer {
    /// Runs a fixture tool; `None` when `name` is not one.
    async fn call_fixture(
        &self,
        request: &CallToolRequestParams,
        ctx: &RmcpContext<RoleServer>,
    ) -> Option<Result<CallToolResponse, ErrorData>> {
        let name = request.name.as_ref();
        let responses = request.input_responses.as_ref();
        let state = request.request_state.as_deref();
        let fx = &self.fixtures;
        let result = match name {
            "test_simple_text" => Ok(text("This is a simple text response for testing.")),
            "test_image_content" => {
                Ok(CallToolResult::success(vec![ContentBlock::image(IMAGE, "image/png")]).into())
            }
            "test_audio_content" => {
                Ok(CallToolResult::success(vec![ContentBlock::audio(AUDIO, "audio/wav")]).into())
            }
            "test_embedded_resource" => {
                Ok(CallToolResult::success(vec![ContentBlock::embedded_text(
                    "test://embedded-resource",
                    "This is an embedded resource content.",
                )])
                .into())
            }
            "test_multiple_content_types" => Ok(CallToolResult::success(vec![
                ContentBlock::text("Multiple content types test:"),
                ContentBlock::image(IMAGE, "image/png"),
                ContentBlock::resource(
                    ResourceContents::text(
                        r#"{"test":"data","value":123}"#,
                        "test://mixed-content-resource",
                    )
                    .with_mime_type("application/json"),
                ),
            ])
            .into()),
            "test_error_handling" => Ok(CallToolResult::error(vec![ContentBlock::text(
                "This tool intentionally returns an error for testing",
            )])
            .into()),
            "test_tool_with_progress" => {
                if let Some(token) = ctx.meta.get_progress_token() {
                    for (i, progress) in [0.0, 50.0, 100.0].into_iter().enumerate() {
                        if i > 0 {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        let param = ProgressNotificationParam::new(token.clone(), progress)
                            .with_total(100.0);
                        let _ = ctx.peer.notify_progress(param).await;
                    }
                }
                Ok(text("Progress tool completed"))
            }
            "test_tool_with_logging" | "test_logging_tool" => {
                // 2026-07-28: log only when the request's `_meta` asks for a level that
                // includes info. Before it, the level set by `logging/setLevel` came in another
                // (stateless) request, so log by default.
                let wanted = if at_least_2026(ctx) {
                    matches!(
                        ctx.meta.log_level(),
                        Some(LoggingLevel::Debug | LoggingLevel::Info)
                    )
                } else {
                    true
                };
                if wanted {
                    for (i, message) in [
                        "Tool execution started",
                        "Tool processing data",
                        "Tool execution completed",
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        if i > 0 {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        #[allow(deprecated)]
                        let _ = ctx
                            .peer
                            .notify_logging_message(LoggingMessageNotificationParam::new(
                                LoggingLevel::Info,
                                json!(message),
                            ))
                            .await;
                    }
                }
                Ok(text("Logging tool completed"))
            }
            "test_sampling" => {
                let prompt = request
                    .arguments
                    .as_ref()
                    .and_then(|a| a.get("prompt"))
                    .and_then(Value::as_str);
                ask_client(ctx, sample(prompt.unwrap_or("Test prompt for sampling"))).await
            }
            "test_elicitation" => {
                let message = request
                    .arguments
                    .as_ref()
                    .and_then(|a| a.get("message"))
                    .and_then(Value::as_str);
                let ask = input_request(json!({"method": "elicitation/create", "params": {
                    "message": message.unwrap_or("Please provide your information"),
                    "requestedSchema": {"type": "object", "required": ["username", "email"], "properties": {
                        "username": {"type": "string"}, "email": {"type": "string"}}}}}));
                ask_client(ctx, ask).await
            }
            "test_elicitation_sep1034_defaults" => {
                let ask = input_request(json!({"method": "elicitation/create", "params": {
                    "message": "Please review your information",
                    "requestedSchema": {"type": "object", "properties": {
                        "name": {"type": "string", "default": "John Doe"},
                        "age": {"type": "integer", "default": 30},
                        "score": {"type": "number", "default": 95.5},
                        "status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
                        "verified": {"type": "boolean", "default": true}}}}}));
                ask_client(ctx, ask).await
            }
            "test_elicitation_sep1330_enums" => {
                let titled = |prefix: &str, titles: [&str; 3]| -> Vec<Value> {
                    titles
                        .iter()
                        .enumerate()
                        .map(|(i, t)| json!({"const": format!("{prefix}{}", i + 1), "title": t}))
                        .collect()
                };
                let ask = input_request(json!({"method": "elicitation/create", "params": {
                    "message": "Please choose",
                    "requestedSchema": {"type": "object", "properties": {
                        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                        "titledSingle": {"type": "string", "oneOf": titled("value", ["First Option", "Second Option", "Third Option"])},
                        "legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"]},
                        "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                        "titledMulti": {"type": "array", "items": {"anyOf": titled("value", ["First Choice", "Second Choice", "Third Choice"])}}}}}}));
                ask_client(ctx, ask).await
            }
            "test_missing_capability" => {
                if ctx
                    .client_capabilities()
                    .is_some_and(|c| c.sampling.is_some())
                {
                    Ok(text("The client declared sampling."))
                } else {
                    Err(ErrorData::missing_required_client_capability(
                        ClientCapabilities::builder().enable_sampling().build(),
                    ))
                }
            }
            "test_streaming_elicitation" => {
                (|| match elicited(responses, "confirmation", "confirmed")? {
                    Some(answer) => Ok(text(format!("Confirmed: {answer}"))),
                    None => Ok(input_required(
                        vec![(
                            "confirmation",
                            elicit("Please confirm", "confirmed", "boolean"),
                        )],
                        None,
                    )
                    .into()),
                })()
            }
            "test_input_required_result_elicitation" => {
                (|| match elicited(responses, "user_name", "name")? {
                    Some(name) => Ok(text(format!("Hello, {name}!"))),
                    None => Ok(input_required(
                        vec![("user_name", elicit("What is your name?", "name", "string"))],
                        None,
                    )
                    .into()),
                })()
            }
            "test_input_required_result_sampling" => {
                (|| match sampled(responses, "capital_question")? {
                    Some(answer) => Ok(text(format!("The model said: {answer}"))),
                    None => Ok(input_required(
                        vec![("capital_question", sample("What is the capital of France?"))],
                        None,
                    )
                    .into()),
                })()
            }
            "test_input_required_result_list_roots" => {
                (|| match listed_roots(responses, "client_roots")? {
                    Some(n) => Ok(text(format!("The client has {n} root(s)."))),
                    None => Ok(input_required(vec![("client_roots", roots())], None).into()),
                })()
            }
            "test_input_required_result_request_state"
            | "test_input_required_result_tampered_state" => (|| {
                let opened = fx.open(name, state)?;
                match (opened, elicited(responses, "confirm", "ok")?) {
                    (Some(_), Some(ok)) => Ok(text(format!("state-ok, confirmed: {ok}"))),
                    _ => Ok(input_required(
                        vec![("confirm", elicit("Please confirm", "ok", "boolean"))],
                        Some(fx.seal(name, &json!({"step": "confirm"}))?),
                    )
                    .into()),
                }
            })(),
            "test_input_required_result_multiple_inputs" => (|| {
                let opened = fx.open(name, state)?;
                let answers = (
                    elicited(responses, "user_name", "name")?,
                    sampled(responses, "greeting")?,
                    listed_roots(responses, "client_roots")?,
                );
                match (opened, answers) {
                    (Some(_), (Some(user), Some(greeting), Some(n))) => Ok(text(format!(
                        "Hello {user}; greeting {greeting}; {n} root(s)."
                    ))),
                    _ => Ok(input_required(
                        vec![
                            ("user_name", elicit("What is your name?", "name", "string")),
                            ("greeting", sample("Write a one-line greeting.")),
                            ("client_roots", roots()),
                        ],
                        Some(fx.seal(name, &json!({"step": "all"}))?),
                    )
                    .into()),
                }
            })(),
            "test_input_required_result_multi_round" => (|| {
                let opened = fx.open(name, state)?;
                let round = opened
                    .as_ref()
                    .and_then(|s| s["round"].as_u64())
                    .unwrap_or(0);
                match round {
                    1 => {
                        if let Some(user) = elicited(responses, "step1", "name")? {
                            return Ok(input_required(
                                vec![(
                                    "step2",
                                    elicit(
                                        "Step 2: What is your favorite color?",
                                        "color",
                                        "string",
                                    ),
                                )],
                                Some(fx.seal(name, &json!({"round": 2, "name": user}))?),
                            )
                            .into());
                        }
                    }
                    2 => {
                        if let Some(color) = elicited(responses, "step2", "color")? {
                            let user = opened
                                .as_ref()
                                .and_then(|s| s["name"].as_str())
                                .unwrap_or_default();
                            return Ok(text(format!("{user} likes {color}.")));
                        }
                    }
                    _ => {}
                }
                Ok(input_required(
                    vec![(
                        "step1",
                        elicit("Step 1: What is your name?", "name", "string"),
                    )],
                    Some(fx.seal(name, &json!({"round": 1}))?),
                )
                .into())
            })(),
            "test_input_required_result_capabilities" => (|| {
                let caps = ctx.client_capabilities().unwrap_or_default();
                if let Some(user) = elicited(responses, "user_name", "name")? {
                    return Ok(text(format!("Hello, {user}!")));
                }
                if let Some(answer) = sampled(responses, "capital_question")? {
                    return Ok(text(format!("The model said: {answer}")));
                }
                if let Some(n) = listed_roots(responses, "client_roots")? {
                    return Ok(text(format!("The client has {n} root(s).")));
                }
                let mut requests = Vec::new();
                if caps.elicitation.is_some() {
                    requests.push(("user_name", elicit("What is your name?", "name", "string")));
                }
                if caps.sampling.is_some() {
                    requests.push(("capital_question", sample("What is the capital of France?")));
                }
                if caps.roots.is_some() {
                    requests.push(("client_roots", roots()));
                }
                if requests.is_empty() {
                    return Err(ErrorData::missing_required_client_capability(
                        ClientCapabilities::builder().enable_elicitation().build(),
                    ));
                }
                Ok(input_required(requests, None).into())
            })(),
            "json_schema_2020_12_tool" => Ok(text("ok")),
            "test_custom_header" => {
                let region = request.arguments.as_ref().and_then(|a| a.get("region"));
                Ok(text(format!("region: {}", region.unwrap_or(&Value::Null))))
            }
            "greet" => {
                let name = request.arguments.as_ref().and_then(|a| a.get("name"));
                Ok(text(format!(
                    "Hello, {}!",
                    name.and_then(Value::as_str).unwrap_or("World")
                )))
            }
            "slow_compute" | "failing_job" | "protocol_error_job" | "confirm_delete"
            | "multi_input" => self.fixture_task(name, request, ctx).await,
            "test_tool_with_task" => (|| {
                if !ctx
                    .client_capabilities()
                    .is_some_and(|c| c.supports_tasks())
                {
                    return Err(ErrorData::missing_required_client_capability(
                        ClientCapabilities::builder().enable_tasks().build(),
                    ));
                }
                match elicited(responses, "user_name", "name")? {
                    None => Ok(input_required(
                        vec![("user_name", elicit("What is your name?", "name", "string"))],
                        None,
                    )
                    .into()),
                    Some(user) => {
                        let now = now_millis();
                        let id =
                            fx.seal("task", &json!({"t": name, "s": now, "d": 300, "l": user}))?;
                        Ok(CreateTaskResult::new(fixture_task(&id, now, now)).into())
                    }
                }
            })(),
            _ => return None,
        };
        Some(result)
    }

    /// A task fixture: a `CreateTaskResult` whose sealed id carries the tool, its start and
    /// its duration, when the request declared the tasks extension; else the synchronous
    /// answer (`failing_job` requires tasks: -32021).
    async fn fixture_task(
        &self,
        name: &str,
        request: &CallToolRequestParams,
        ctx: &RmcpContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.clone().unwrap_or_default();
        let seconds = args
            .get("seconds")
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
            .clamp(0.0, 3600.0);
        let label = args
            .get("label")
            .or_else(|| args.get("filename"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let duration_ms = match name {
            "slow_compute" => (seconds * 1000.0) as i64,
            "confirm_delete" | "multi_input" => 0,
            _ => 1000,
        };
        let declared = ctx
            .client_capabilities()
            .is_some_and(|c| c.supports_tasks());
        if !declared {
            return match name {
                "slow_compute" => {
                    tokio::time::sleep(Duration::from_millis(duration_ms.min(60_000) as u64)).await;
                    Ok(text(format!("Computed {label}")))
                }
                "failing_job" | "confirm_delete" | "multi_input" => {
                    Err(ErrorData::missing_required_client_capability(
                        ClientCapabilities::builder().enable_tasks().build(),
                    ))
                }
                _ => Err(ErrorData::internal_error("protocol_error_job failed", None)),
            };
        }
        let now = now_millis();
        let id = self.fixtures.seal(
            "task",
            &json!({"t": name, "s": now, "d": duration_ms, "l": label}),
        )?;
        let task = fixture_task(&id, now, now);
        Ok(CreateTaskResult::new(task).into())
    }

    /// The fixture task `id` as `(tool, start, duration, label)`; -32602 for an unknown id.
    fn task_of(&self, id: &str) -> Result<(String, i64, i64, String), ErrorData> {
        let unknown = || ErrorData::invalid_params("unknown task id", None);
        let v = self
            .fixtures
            .open("task", Some(id))
            .map_err(|_| unknown())?
            .ok_or_else(unknown)?;
        Ok((
            v["t"].as_str().unwrap_or_default().to_owned(),
            v["s"].as_i64().unwrap_or_default(),
            v["d"].as_i64().unwrap_or_default(),
            v["l"].as_str().unwrap_or_default().to_owned(),
        ))
    }
}

/// What an input-taking task fixture asks for, by key.
fn input_requests_of(tool: &str, label: &str) -> InputRequests {
    let mut requests = InputRequests::new();
    match tool {
        "confirm_delete" => {
            requests.insert(
                "confirm".into(),
                elicit(&format!("Delete {label}?"), "confirm", "boolean"),
            );
        }
        "multi_input" => {
            requests.insert("name".into(), elicit("Your name?", "name", "string"));
            requests.insert("confirm".into(), elicit("Go ahead?", "confirm", "boolean"));
        }
        _ => {}
    }
    requests
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn rfc3339(millis: i64) -> String {
    aws_smithy_types::DateTime::from_millis(millis)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

fn fixture_task(id: &str, created: i64, updated: i64) -> Task {
    Task::new(id, TaskStatus::Working, rfc3339(created), rfc3339(updated))
        .with_ttl_ms(3_600_000)
        .with_poll_interval_ms(200)
}

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(mut o) => {
            o.remove("resultType");
            o
        }
        _ => JsonObject::new(),
    }
}

fn prompts() -> Vec<Prompt> {
    let arg = |name: &str, description: &str| {
        PromptArgument::new(name)
            .with_description(description)
            .with_required(true)
    };
    vec![
        Prompt::new(
            "test_simple_prompt",
            Some("A simple prompt without arguments."),
            None,
        ),
        Prompt::new(
            "test_prompt_with_arguments",
            Some("A prompt with two required arguments."),
            Some(vec![
                arg("arg1", "First argument"),
                arg("arg2", "Second argument"),
            ]),
        ),
        Prompt::new(
            "test_prompt_with_embedded_resource",
            Some("A prompt embedding a resource."),
            Some(vec![arg("resourceUri", "URI of the resource to embed")]),
        ),
        Prompt::new(
            "test_prompt_with_image",
            Some("A prompt with an image."),
            None,
        ),
        Prompt::new(
            "test_input_required_result_prompt",
            Some("Multi-round: asks the client for context before answering."),
            None,
        ),
    ]
}

fn arg(request: &GetPromptRequestParams, name: &str) -> Result<String, ErrorData> {
    match request.arguments.as_ref().and_then(|a| a.get(name)) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(ErrorData::invalid_params(
            format!("missing argument {name}"),
            None,
        )),
    }
}

fn resources() -> Vec<Resource> {
    vec![
        Resource::new("test://static-text", "static-text")
            .with_description("A static text resource")
            .with_mime_type("text/plain"),
        Resource::new("test://static-binary", "static-binary")
            .with_description("A static binary resource (PNG)")
            .with_mime_type("image/png"),
        Resource::new("test://watched-resource", "watched-resource")
            .with_description("A resource clients may subscribe to")
            .with_mime_type("text/plain"),
    ]
}

impl ServerHandler for FixtureServer {
    fn get_info(&self) -> ServerConfig {
        // No listChanged/subscribe: subscriptions/listen is not implemented (2026-07-28).
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            .enable_prompts()
            .enable_completions()
            .enable_logging()
            .enable_tasks()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(
                "quilt-mcp-fixture-server",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "TEST-ONLY fixture server for the MCP conformance suite and integration tests.",
            )
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RmcpContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut tools = self.fixtures.tools.clone();
        tools.extend(self.product.list_tools(request, context).await?.tools);
        Ok(ListToolsResult::with_all_items(tools))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        let fixture = self.fixtures.tools.iter().find(|t| t.name == name).cloned();
        fixture.or_else(|| self.product.get_tool(name))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RmcpContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        match self.call_fixture(&request, &context).await {
            Some(result) => result,
            None => self.product.call_tool(request, context).await,
        }
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        _context: RmcpContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let id = request.task_id;
        let (tool, start, duration, label) = self.task_of(&id)?;
        let now = now_millis();
        let cancelled = self
            .fixtures
            .cancelled
            .lock()
            .is_ok_and(|c| c.contains(&id));
        let answers = self
            .fixtures
            .answers
            .lock()
            .ok()
            .and_then(|a| a.get(&id).cloned())
            .unwrap_or_default();
        let pending: InputRequests = input_requests_of(&tool, &label)
            .into_iter()
            .filter(|(key, _)| !answers.contains_key(key))
            .collect();
        let payload = if cancelled {
            TaskPayload::Cancelled
        } else if !pending.is_empty() {
            TaskPayload::InputRequired {
                input_requests: pending,
            }
        } else if now < start + duration {
            TaskPayload::Working
        } else {
            match tool.as_str() {
                "slow_compute" => TaskPayload::Completed {
                    result: object(json!(CallToolResult::success(vec![ContentBlock::text(
                        format!("Computed {label}")
                    )]))),
                },
                "confirm_delete" => {
                    let yes = answers.get("confirm").is_some_and(|a| {
                        a["action"] == "accept" && a["content"]["confirm"] == true
                    });
                    let said = if yes { "Deleted" } else { "Kept" };
                    TaskPayload::Completed {
                        result: object(json!(CallToolResult::success(vec![ContentBlock::text(
                            format!("{said} {label}")
                        )]))),
                    }
                }
                "multi_input" => TaskPayload::Completed {
                    result: object(json!(CallToolResult::success(vec![ContentBlock::text(
                        format!("Received {} inputs", answers.len())
                    )]))),
                },
                "test_tool_with_task" => TaskPayload::Completed {
                    result: object(json!(CallToolResult::success(vec![ContentBlock::text(
                        format!("Hello, {label}! (finished as a task)")
                    )]))),
                },
                "failing_job" => TaskPayload::Completed {
                    result: object(json!(CallToolResult::error(vec![ContentBlock::text(
                        "failing_job failed, as it always does"
                    )]))),
                },
                _ => TaskPayload::Failed {
                    error: object(json!({"code": -32603, "message": "protocol_error_job crashed"})),
                },
            }
        };
        let updated = if !matches!(
            payload,
            TaskPayload::Completed { .. } | TaskPayload::Failed { .. }
        ) {
            now
        } else {
            start + duration
        };
        Ok(GetTaskResult::new(DetailedTask::new(
            fixture_task(&id, start, updated),
            payload,
        )))
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _context: RmcpContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let (_, start, duration, _) = self.task_of(&request.task_id)?;
        // A finished task stays as it finished; the acknowledgement is the same.
        if now_millis() < start + duration
            && let Ok(mut cancelled) = self.fixtures.cancelled.lock()
        {
            cancelled.insert(request.task_id);
        }
        Ok(())
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        _context: RmcpContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let (tool, _, _, label) = self.task_of(&request.task_id)?;
        let wanted = input_requests_of(&tool, &label);
        if wanted.is_empty() {
            return Err(ErrorData::invalid_params(
                "this task does not wait for input",
                None,
            ));
        }
        // Answers to keys the task never asked for are ignored (and still acknowledged), as
        // the conformance suite expects.
        if let Ok(mut answers) = self.fixtures.answers.lock() {
            answers.entry(request.task_id).or_default().extend(
                request
                    .input_responses
                    .into_iter()
                    .filter(|(k, _)| wanted.contains_key(k)),
            );
        }
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RmcpContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(prompts()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RmcpContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let user = |text: String| PromptMessage::new_text(Role::User, text);
        let messages = match request.name.as_str() {
            "test_simple_prompt" => vec![user("This is a simple prompt for testing.".into())],
            "test_prompt_with_arguments" => {
                let (a1, a2) = (arg(&request, "arg1")?, arg(&request, "arg2")?);
                vec![user(format!(
                    "Prompt with arguments: arg1='{a1}', arg2='{a2}'"
                ))]
            }
            "test_prompt_with_embedded_resource" => {
                let uri = arg(&request, "resourceUri")?;
                vec![
                    PromptMessage::new(
                        Role::User,
                        ContentBlock::embedded_text(uri, "Embedded resource content for testing."),
                    ),
                    user("Please process the embedded resource above.".into()),
                ]
            }
            "test_prompt_with_image" => vec![
                PromptMessage::new(Role::User, ContentBlock::image(IMAGE, "image/png")),
                user("Please analyze the image above.".into()),
            ],
            "test_input_required_result_prompt" => {
                let responses = request.input_responses.as_ref();
                match elicited(responses, "user_context", "context")? {
                    Some(context) => vec![user(format!("Answer using this context: {context}"))],
                    None => {
                        let ask =
                            elicit("What context should the prompt use?", "context", "string");
                        return Ok(input_required(vec![("user_context", ask)], None).into());
                    }
                }
            }
            other => {
                return Err(ErrorData::invalid_params(
                    format!("unknown prompt: {other}"),
                    None,
                ));
            }
        };
        Ok(GetPromptResult::new(messages).into())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RmcpContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let candidates: &[&str] = match request.r#ref.as_prompt_name() {
            Some("test_prompt_with_arguments") => &["test", "testValue1", "testValue2"],
            _ => &[],
        };
        let values = candidates
            .iter()
            .filter(|c| c.starts_with(&request.argument.value))
            .map(|c| (*c).to_owned())
            .collect();
        let info = CompletionInfo::with_all_values(values)
            .map_err(|e| ErrorData::internal_error(e, None))?;
        Ok(CompleteResult::new(info))
    }

    async fn set_level(
        &self,
        _request: SetLevelRequestParams,
        context: RmcpContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        // Removed at 2026-07-28 (the level travels in each request's `_meta`).
        if at_least_2026(&context) {
            return Err(ErrorData::method_not_found::<SetLevelRequestMethod>());
        }
        Ok(())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RmcpContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(resources()))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RmcpContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let template = ResourceTemplate::new("test://template/{id}/data", "template-data")
            .with_description("Data for an id")
            .with_mime_type("application/json");
        Ok(ListResourceTemplatesResult::with_all_items(vec![template]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RmcpContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri.as_str();
        let contents = match uri {
            "test://static-text" => {
                ResourceContents::text("This is the content of the static text resource.", uri)
            }
            "test://watched-resource" => ResourceContents::text("Watched resource content.", uri),
            "test://static-binary" => {
                ResourceContents::blob(IMAGE, uri).with_mime_type("image/png")
            }
            _ => match uri
                .strip_prefix("test://template/")
                .and_then(|s| s.strip_suffix("/data"))
            {
                Some(id) if !id.is_empty() && !id.contains('/') => ResourceContents::text(
                    json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")})
                        .to_string(),
                    uri,
                )
                .with_mime_type("application/json"),
                _ => {
                    return Err(ErrorData::resource_not_found(
                        format!("resource not found: {uri}"),
                        Some(json!({"uri": uri})),
                    ));
                }
            },
        };
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        _request: SubscribeRequestParams,
        _context: RmcpContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        // Accepted but never notified: a stateless server has nowhere to send updates.
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        _request: UnsubscribeRequestParams,
        _context: RmcpContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
    }
}
