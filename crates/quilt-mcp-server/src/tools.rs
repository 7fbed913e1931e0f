//! The tool registry: every tool's definition (name, description, input and output schemas,
//! annotations, required scope) next to its handler, so what `tools/list` advertises and
//! what `tools/call` runs cannot drift apart.
//!
//! Handlers are typed: arguments are deserialised into the tool's input struct (unknown
//! fields refused), and a failure is a tool error with `invalid_argument` — the model reads
//! it and corrects itself — not a JSON-RPC error. Every handler runs with the caller's
//! [`RequestContext`] re-scoped as the task-local and reads it with
//! `RequestContext::current()`, which fails outside a request: no tool runs anonymously.

pub mod athena;
pub mod buckets;
pub mod identity;
pub mod packaging;
pub mod permissions;
pub mod preview;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use quilt_mcp_auth::{Principal, RequestContext};
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use rmcp::model::{CallToolResult, JsonObject, MetaObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::audit;
use crate::aws::{self, Aws};
use crate::config::Config;
use crate::tool_error::ToolError;

type Handler = Arc<dyn Fn(Value) -> BoxFuture<'static, Result<Value, ToolError>> + Send + Sync>;

/// One registered tool.
struct Entry {
    tool: Tool,
    scope: Option<&'static str>,
    handler: Handler,
}

/// All tools a server offers. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct ToolRegistry {
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
    scopes: ScopePolicy,
    /// Resources and completions (the product's; none in a bare registry).
    surface: Option<Arc<crate::resources::Surface>>,
}

/// Whether tools need their scope in the token, and how the issuer spells scopes.
#[derive(Debug, Clone)]
pub struct ScopePolicy {
    required: bool,
    map: HashMap<String, String>,
}

impl Default for ScopePolicy {
    fn default() -> Self {
        Self {
            required: true,
            map: HashMap::new(),
        }
    }
}

impl ScopePolicy {
    /// The policy of `MCP_REQUIRE_SCOPES` and `MCP_SCOPE_MAP`.
    pub fn from_config(config: &Config) -> Self {
        let map = config
            .scope_map
            .iter()
            .filter_map(|e| e.split_once('='))
            .map(|(ours, theirs)| (ours.trim().to_owned(), theirs.trim().to_owned()))
            .collect();
        Self {
            required: config.require_scopes,
            map,
        }
    }

    /// Whether `principal` holds `scope` (always true when scopes are not required).
    pub fn allows(&self, principal: &Principal, scope: &'static str) -> bool {
        self.permits(principal, Some(scope))
    }

    fn permits(&self, principal: &Principal, scope: Option<&'static str>) -> bool {
        match scope {
            None => true,
            Some(_) if !self.required => true,
            Some(s) => principal.has_scope(self.map.get(s).map_or(s, String::as_str)),
        }
    }
}

impl std::fmt::Debug for ToolRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| &e.tool.name))
            .finish()
    }
}

/// How a tool call ended, for the handler to turn into a response.
pub enum Called {
    /// The tool ran (successfully or with a tool error).
    Result(CallToolResult),
    /// No tool has this name: a protocol error.
    UnknownTool,
}

impl ToolRegistry {
    /// No tools.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The product's tools, reaching AWS through `aws`, configured by `config`.
    pub fn product(aws: &Arc<Aws>, config: &Config) -> Self {
        let mut registry = Self::empty();
        registry.scopes = ScopePolicy::from_config(config);
        identity::register(&mut registry, aws);
        let engine = Arc::new(crate::permissions::PermissionEngine::new(aws, config));
        buckets::register(&mut registry, aws, config, &engine);
        permissions::register(&mut registry, &engine);
        packaging::register(&mut registry, aws, config);
        // bucket_object_preview, resources and completions: one previewer, the same grants.
        let grants = crate::access::BucketPolicy::new(config.bucket_grants());
        let entries = packaging::entry::EntryLocator::new(
            aws,
            grants.clone(),
            buckets::Sse::from_config(config),
        );
        let previewer = Arc::new(crate::preview::Previewer::new(
            aws,
            grants.clone(),
            entries,
        ));
        preview::register(&mut registry, &previewer);
        let completer = crate::completions::Completer::new(aws, grants);
        registry.surface = Some(Arc::new(crate::resources::Surface::new(
            previewer, completer,
        )));
        athena::register(&mut registry);
        athena::register_glue(&mut registry, aws);
        athena::register_queries(
            &mut registry,
            aws,
            athena::AthenaSettings::from_config(config),
        );
        registry
    }

    /// Registers a tool. `I` is the input (use `#[serde(deny_unknown_fields)]`), `O` the
    /// structured output (an object). Panics on a duplicate name: a programming error.
    pub fn add<I, O, F, Fut>(
        &mut self,
        name: &'static str,
        description: &'static str,
        annotations: ToolAnnotations,
        scope: Option<&'static str>,
        handler: F,
    ) where
        I: DeserializeOwned + JsonSchema + Send + 'static,
        O: Serialize + JsonSchema + Send + 'static,
        F: Fn(I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, ToolError>> + Send + 'static,
    {
        assert!(
            !self.index.contains_key(name),
            "tool {name} registered twice"
        );
        let tool = Tool::new(name, description, compact(&schema_for_type::<I>()))
            .with_raw_output_schema(compact(&schema_for_output::<O>()))
            .with_annotations(annotations);
        let handler = Arc::new(handler);
        let handler: Handler = Arc::new(move |args| {
            let input = serde_json::from_value::<I>(args);
            let handler = handler.clone();
            Box::pin(async move {
                let input = input
                    .map_err(|e| ToolError::invalid_argument(format!("invalid arguments: {e}")))?;
                let output = handler(input).await?;
                serde_json::to_value(output)
                    .map_err(|e| ToolError::internal(format!("result not serialisable: {e}")))
            })
        });
        self.index.insert(name.to_owned(), self.entries.len());
        self.entries.push(Entry {
            tool,
            scope,
            handler,
        });
    }

    /// Registers a tool whose handler needs shared state: `handler(state, input)`.
    pub fn add_with<S, I, O, F, Fut>(
        &mut self,
        state: &Arc<S>,
        name: &'static str,
        description: &'static str,
        annotations: ToolAnnotations,
        scope: Option<&'static str>,
        handler: F,
    ) where
        S: Send + Sync + 'static,
        I: DeserializeOwned + JsonSchema + Send + 'static,
        O: Serialize + JsonSchema + Send + 'static,
        F: Fn(Arc<S>, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, ToolError>> + Send + 'static,
    {
        let state = state.clone();
        self.add(name, description, annotations, scope, move |input| {
            handler(state.clone(), input)
        });
    }

    /// Resources and completions, when this registry serves them.
    pub fn surface(&self) -> Option<&Arc<crate::resources::Surface>> {
        self.surface.as_ref()
    }

    /// Which scopes a token needs.
    pub fn scopes(&self) -> &ScopePolicy {
        &self.scopes
    }

    /// The tools `principal` may use, for `tools/list`.
    pub fn list_for(&self, principal: &Principal) -> Vec<Tool> {
        self.entries
            .iter()
            .filter(|e| self.scopes.permits(principal, e.scope))
            .map(|e| e.tool.clone())
            .collect()
    }

    /// A tool's definition by name.
    pub fn get(&self, name: &str) -> Option<&Tool> {
        self.index.get(name).map(|&i| &self.entries[i].tool)
    }

    /// Calls `name` for the caller in `ctx`, with `ctx` re-scoped as the task-local, and
    /// writes the audit line.
    pub async fn call(
        &self,
        ctx: Arc<RequestContext>,
        name: &str,
        arguments: Option<JsonObject>,
    ) -> Called {
        let Some(entry) = self.index.get(name).map(|&i| &self.entries[i]) else {
            return Called::UnknownTool;
        };
        let started = Instant::now();
        let (result, record) = if !self.scopes.permits(ctx.principal(), entry.scope) {
            let error = ToolError::not_permitted(format!(
                "tool {name} needs the scope {}, which the token does not grant",
                entry.scope.unwrap_or_default()
            ));
            (Err(error), aws::CallRecord::default())
        } else {
            let args = Value::Object(arguments.unwrap_or_default());
            aws::recording(ctx.clone().scope((entry.handler)(args))).await
        };
        let outcome = match &result {
            Ok(_) => audit::Outcome::Ok,
            Err(e) => audit::Outcome::Error(e.code.as_str()),
        };
        audit::tool_call(&ctx, name, outcome, &record, started.elapsed());
        let result = match result {
            Ok(value) => CallToolResult::structured(value),
            Err(error) => error.into_result(),
        };
        Called::Result(result.with_meta(aws::meta(&record).map(MetaObject::from)))
    }
}

/// Drops the schema keys that cost a client's context window and tell a model nothing:
/// `$schema` (MCP fixes the dialect) and the Rust type name in `title`.
fn compact(schema: &JsonObject) -> Arc<JsonObject> {
    let mut schema = schema.clone();
    schema.remove("$schema");
    schema.remove("title");
    Arc::new(schema)
}
