//! [`McpServer`], the rmcp `ServerHandler`: server info, `tools/list` filtered to what the
//! caller may use, and `tools/call` with the caller's `RequestContext`, progress token and
//! confirmation channel gathered into the call's scope (`call_scope.rs`; rmcp runs handlers
//! on tasks of its own, so the context is carried in the HTTP request's extensions and put
//! into the scope here).
//!
//! Where the caller comes from is fixed when the handler is built ([`Identity`]): from the
//! HTTP request (set by the auth middleware), or the one local principal of stdio. A call
//! over HTTP without a context in its request is refused — never served anonymously.

use std::sync::Arc;

use quilt_mcp_auth::{AuthMethod, Principal, RequestContext};
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CancelTaskParams, CompleteRequestParams,
    CompleteResult, GetPromptRequestParams, GetPromptResponse, GetTaskParams, GetTaskResult,
    Implementation, ListPromptsResult, ListResourceTemplatesResult, ListToolsResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig, Tool, UpdateTaskParams,
};
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::call_scope::CallScope;
use crate::tools::{Called, ToolRegistry};

/// Where the caller of a request comes from.
#[derive(Debug, Clone)]
pub enum Identity {
    /// The `Arc<RequestContext>` the HTTP auth middleware put in the request extensions.
    Http,
    /// The one local principal of the stdio transport.
    Local(Arc<Principal>),
}

/// The MCP request handler. Cheap to clone; rmcp builds one per HTTP request.
#[derive(Debug, Clone)]
pub struct McpServer {
    tools: Arc<ToolRegistry>,
    identity: Identity,
}

/// How long a client may reuse a `tools/list` answer (2026-07-28 caching).
const TOOLS_LIST_TTL_MS: u64 = 60_000;

const INSTRUCTIONS: &str = "Governed access to data in AWS (S3, Quilt packages, Athena/Glue) with the caller's own credentials. Call auth_status to see who you are and what you may use.";

impl McpServer {
    /// A handler serving `tools` for callers identified by `identity`.
    pub fn new(tools: Arc<ToolRegistry>, identity: Identity) -> Self {
        Self { tools, identity }
    }

    /// The tool registry.
    pub fn tools(&self) -> &Arc<ToolRegistry> {
        &self.tools
    }

    /// The caller of this request, or an error when there is none.
    pub fn context(
        &self,
        rmcp_ctx: &rmcp::service::RequestContext<RoleServer>,
    ) -> Result<Arc<RequestContext>, ErrorData> {
        match &self.identity {
            Identity::Http => rmcp_ctx
                .extensions
                .get::<http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<Arc<RequestContext>>())
                .cloned()
                .ok_or_else(|| {
                    tracing::error!("MCP request without a request context; refusing");
                    ErrorData::internal_error("no authenticated caller for this request", None)
                }),
            Identity::Local(principal) => {
                let id = uuid::Uuid::new_v4().to_string();
                Ok(Arc::new(RequestContext::new(
                    principal.clone(),
                    AuthMethod::Local,
                    id,
                    "stdio",
                )))
            }
        }
    }

    /// The server's info and capabilities.
    pub fn server_config() -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_completions()
                .enable_prompts()
                .enable_resources()
                .enable_tools()
                .enable_tasks()
                .build(),
        )
        .with_server_info(Implementation::new("quilt-mcp", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        Self::server_config()
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: rmcp::service::RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let ctx = self.context(&context)?;
        let mut tools = self.tools.list_for_caller(&ctx);
        // Administration tools: only for a caller the catalog reports as an admin.
        tools.extend(self.tools.admin_tools_for(&ctx).await);
        // The list depends on the caller's scopes: cacheable by that caller only.
        Ok(ListToolsResult::with_all_items(tools)
            .with_ttl_ms(TOOLS_LIST_TTL_MS)
            .with_cache_scope(CacheScope::Private))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.get(name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: rmcp::service::RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let ctx = self.context(&context)?;
        // rmcp runs the handler on a task of its own and only signals cancellation (the
        // client's `notifications/cancelled`, or its connection closing) through the token:
        // drop the tool's future then, so what it holds is released (an Athena wait stops
        // its query).
        let progress = crate::progress::Progress::from_request(&context);
        // The permit and deadline of the HTTP request cover the whole call, also once the
        // answer has become an SSE stream (call_limits.rs).
        let limits = context
            .extensions
            .get::<http::request::Parts>()
            .map(crate::call_limits::CallLimits::from_parts)
            .unwrap_or_default();
        // A long tool may answer with a task (tasks.rs) when the client declared the
        // extension; other clients get the call as it always was.
        let declared = context
            .client_capabilities()
            .is_some_and(|c| c.supports_tasks());
        // package_create/package_create_from_s3: a background run whose state is in S3
        // (package_tasks.rs).
        if declared
            && let Some(packages) = self.tools.tasks().map(|t| t.packages())
            && let Some(bucket) = packages.plan(&ctx, &request.name, request.arguments.as_ref())
        {
            // Boxed: debug builds would otherwise move the large future across the stack.
            let run = Box::pin(packages.start(
                self.tools.clone(),
                CallScope::new(ctx).with_progress(progress),
                request.name.to_string(),
                request.arguments.clone(),
                bucket,
                limits,
            ));
            return tokio::select! {
                answer = run => answer,
                () = context.ct.cancelled() => {
                    tracing::info!(tool = %request.name, "call cancelled by the client");
                    Err(ErrorData::internal_error("the call was cancelled", None))
                }
            };
        }
        let tasks = self
            .tools
            .tasks()
            .filter(|t| declared && t.supports(&request.name));
        let arguments = match tasks {
            Some(t) => Some(t.arguments(request.arguments.clone().unwrap_or_default())),
            None => request.arguments.clone(),
        };
        let task_arguments = tasks.map(|_| arguments.clone().unwrap_or_default());
        // Confirmation before destruction (confirm.rs): how this client can be asked.
        let confirmation = crate::confirm::Confirmation::for_request(
            self.tools.confirm_key(),
            matches!(self.identity, Identity::Local(_)),
            &request,
            &context,
        );
        let scope = CallScope::new(ctx.clone())
            .with_progress(progress)
            .with_confirmation(confirmation.clone());
        let call = self
            .tools
            .call_within(scope, &request.name, arguments, limits);
        let called = tokio::select! {
            called = call => called,
            () = context.ct.cancelled() => {
                tracing::info!(tool = %request.name, "call cancelled by the client");
                return Err(ErrorData::internal_error("the call was cancelled", None));
            }
        };
        if let Some(ask) = confirmation.take_pending() {
            return Ok(ask.into());
        }
        match called {
            Called::Result(result) => match (tasks, task_arguments) {
                (Some(t), Some(args)) => Ok(t.answer(&ctx, &args, result)),
                _ => Ok(result.into()),
            },
            Called::UnknownTool => Err(ErrorData::invalid_params(
                format!("unknown tool: {}", request.name),
                None,
            )),
        }
    }

    // Tasks (`tasks.rs`): rmcp has checked that the server and the request declare the
    // extension; the caller comes from the request like a tool call's.

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: rmcp::service::RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let ctx = self.context(&context)?;
        let Some(tasks) = self.tools.tasks() else {
            return Err(ErrorData::invalid_params("unknown task id", None));
        };
        // A package task's state is package data: the read scope, as for browsing. (An Athena
        // task's get is a tool call of athena_query_results, which checks its own scope.)
        if tasks.is_package(&ctx, &request.task_id)
            && !self
                .tools
                .scopes()
                .allows(ctx.principal(), crate::scopes::Scope::Read)
        {
            return Err(ErrorData::invalid_params(
                "tasks/get needs the scope quilt:read, which the token does not grant",
                None,
            ));
        }
        let limits = context
            .extensions
            .get::<http::request::Parts>()
            .map(crate::call_limits::CallLimits::from_parts)
            .unwrap_or_default();
        Box::pin(tasks.get(&self.tools, ctx, &request.task_id, limits)).await
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: rmcp::service::RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let ctx = self.context(&context)?;
        let Some(tasks) = self.tools.tasks() else {
            return Err(ErrorData::invalid_params("unknown task id", None));
        };
        // Stopping a query is an Athena action: the Athena scope, as for starting one; stopping
        // a package write needs the write scope, as starting it did.
        let scope = if tasks.is_package(&ctx, &request.task_id) {
            crate::scopes::Scope::Write
        } else {
            crate::scopes::Scope::AthenaQuery
        };
        if !self.tools.scopes().allows(ctx.principal(), scope) {
            return Err(ErrorData::invalid_params(
                format!("tasks/cancel needs the scope {scope}, which the token does not grant"),
                None,
            ));
        }
        Box::pin(tasks.cancel(ctx, &request.task_id)).await
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: rmcp::service::RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let ctx = self.context(&context)?;
        let Some(tasks) = self.tools.tasks() else {
            return Err(ErrorData::invalid_params("unknown task id", None));
        };
        tasks.update(&ctx, &request.task_id)
    }

    // Resources and completions (`resources.rs`, `completions.rs`): the caller's context, the
    // same scope check, audit line and AWS recording as a tool call.

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: rmcp::service::RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        self.context(&context)?;
        let templates = match self.tools.surface() {
            Some(_) => crate::resources::templates(),
            None => Vec::new(),
        };
        Ok(ListResourceTemplatesResult::with_all_items(templates))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: rmcp::service::RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let ctx = self.context(&context)?;
        let Some(surface) = self.tools.surface() else {
            return Err(ErrorData::resource_not_found(
                "no resources here",
                Some(serde_json::json!({"uri": request.uri})),
            ));
        };
        // Boxed: a preview's future is large, and debug builds would otherwise move it across
        // the stack of the thread that polls it (a stack overflow on 2 MiB test threads).
        let read = Box::pin(surface.read(ctx, self.tools.scopes(), &request.uri));
        tokio::select! {
            read = read => read.map(Into::into).map_err(|e| crate::resources::rpc_error(&e, Some(&request.uri))),
            () = context.ct.cancelled() => Err(ErrorData::internal_error("the read was cancelled", None)),
        }
    }

    // Prompts (`prompts.rs`): listed for callers with the scope of the tools each one uses;
    // getting one reads nothing.

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: rmcp::service::RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let ctx = self.context(&context)?;
        let scopes = self.tools.scopes();
        let prompts = match self.tools.surface() {
            Some(_) => crate::prompts::list()
                .into_iter()
                .filter(|p| scopes.allows(ctx.principal(), crate::prompts::scope(&p.name)))
                .collect(),
            None => Vec::new(),
        };
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: rmcp::service::RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let ctx = self.context(&context)?;
        let invalid = |e: crate::ToolError| {
            ErrorData::invalid_params(
                e.message.clone(),
                Some(serde_json::json!({"code": e.code.as_str(), "message": e.message})),
            )
        };
        let Some(surface) = self.tools.surface() else {
            return Err(ErrorData::invalid_params("no prompts here", None));
        };
        if !self
            .tools
            .scopes()
            .allows(ctx.principal(), crate::prompts::scope(&request.name))
        {
            return Err(invalid(crate::ToolError::not_permitted(format!(
                "prompt {} needs the scope {}, which the token does not grant",
                request.name,
                crate::prompts::scope(&request.name)
            ))));
        }
        surface
            .prompt(&request.name, request.arguments.as_ref())
            .map(Into::into)
            .map_err(invalid)
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: rmcp::service::RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let ctx = self.context(&context)?;
        let Some(surface) = self.tools.surface() else {
            return Ok(CompleteResult::default());
        };
        Box::pin(surface.complete(ctx, self.tools.scopes(), &request))
            .await
            .map(CompleteResult::new)
            .map_err(|e| crate::resources::rpc_error(&e, None))
    }
}
