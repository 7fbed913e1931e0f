//! The tool registry: every tool's definition (name, description, input and output schemas,
//! annotations, required scope) next to its handler, so what `tools/list` advertises and
//! what `tools/call` runs cannot drift apart.
//!
//! Handlers are typed: arguments are deserialised into the tool's input struct (unknown
//! fields refused), and a failure is a tool error with `invalid_argument` — the model reads
//! it and corrects itself — not a JSON-RPC error. Every handler runs inside the call's
//! scope ([`CallScope`], entered in [`ToolRegistry::call_within`]) and reads its caller with
//! `call_scope::context()`, which fails outside a call: no tool runs anonymously.

pub(crate) mod admin;
pub(crate) mod athena;
pub(crate) mod buckets;
pub(crate) mod catalog;
mod compact;
pub(crate) mod identity;
pub(crate) mod packaging;
pub(crate) mod permissions;
pub(crate) mod preview;
pub(crate) mod tabulator;
mod titles;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use quilt_mcp_auth::RequestContext;
use rmcp::handler::server::common::{schema_for_output, schema_for_type};
use rmcp::model::{CallToolResult, JsonObject, MetaObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::audit;
use crate::aws::{self, Aws};
use crate::call_limits::{CallLimits, TimedOut};
use crate::call_scope::CallScope;
use crate::scopes::{Scope, ScopePolicy};
use crate::settings::Settings;
use crate::tool_error::ToolError;

type Handler = Arc<dyn Fn(Value) -> BoxFuture<'static, Result<Value, ToolError>> + Send + Sync>;

/// One registered tool.
struct Entry {
    tool: Tool,
    scope: Option<Scope>,
    handler: Handler,
    /// Listed and callable only for callers with a catalog-issued token (see
    /// [`ToolRegistry::require_catalog_token`]).
    catalog_token: bool,
    /// Listed and callable only for catalog admins (see [`ToolRegistry::mark_admin`]).
    admin: bool,
}

/// All tools a server offers. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct ToolRegistry {
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
    scopes: ScopePolicy,
    /// Resources and completions (the product's; none in a bare registry).
    surface: Option<Arc<crate::resources::Surface>>,
    /// MCP tasks for long tools (the product's; none in a bare registry).
    tasks: Option<Arc<crate::tasks::Tasks>>,
    /// Seals confirmation states (`confirm.rs`); none in a bare registry (no confirmations).
    confirm_key: Option<Arc<crate::seal::SealKey>>,
    /// Says who is a catalog admin, when admin tools are registered.
    admin_gate: Option<Arc<admin::AdminGate>>,
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
    pub fn product(aws: &Arc<Aws>, config: &Settings) -> Self {
        let mut registry = Self::empty();
        registry.scopes = config.scopes.clone();
        identity::register(&mut registry, aws);
        let engine = Arc::new(crate::permissions::PermissionEngine::new(aws, config));
        buckets::register(&mut registry, aws, config, &engine);
        permissions::register(&mut registry, &engine);
        packaging::register(&mut registry, aws, config);
        let key = seal_key(config);
        registry.confirm_key = Some(key.clone());
        // bucket_object_preview, resources and completions: one previewer, the same grants.
        let grants = crate::grants::BucketPolicy::new(config.grants.clone());
        let entries =
            packaging::entry::EntryLocator::new(aws, config, grants.clone(), config.s3.sse.clone());
        let previewer = Arc::new(crate::preview::Previewer::new(
            aws,
            grants.clone(),
            entries,
            config.catalog.as_ref().map(|c| c.catalog_url.clone()),
        ));
        preview::register(&mut registry, &previewer);
        let completer = crate::completions::Completer::new(aws, grants).with_workgroups(
            config.athena.allowed_workgroups.clone(),
            registry.scopes.clone(),
        );
        registry.surface = Some(Arc::new(crate::resources::Surface::new(
            previewer, completer,
        )));
        athena::register(&mut registry);
        athena::register_glue(&mut registry, aws, &key);
        let athena = Arc::new(athena::AthenaSettings::from_config(config, &key));
        athena::register_queries(&mut registry, aws, athena.clone());
        let packages = crate::package_tasks::PackageTasks::new(&key, aws, config);
        registry.tasks = Some(Arc::new(crate::tasks::Tasks::new(
            &key, &athena, aws, packages,
        )));
        catalog::register(&mut registry, aws, config, &athena);
        registry
    }

    /// Registers a tool. `I` is the input (use `#[serde(deny_unknown_fields)]`), `O` the
    /// structured output (an object). Panics on a duplicate name: a programming error.
    pub fn add<I, O, F, Fut>(
        &mut self,
        name: &'static str,
        description: &'static str,
        annotations: ToolAnnotations,
        scope: Option<Scope>,
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
        let output_schema = Arc::new(compact::output(&schema_for_output::<O>()));
        let conforms = output_check(name, &output_schema);
        let tool = Tool::new(
            name,
            description,
            Arc::new(compact::input(&schema_for_type::<I>())),
        )
        .with_raw_output_schema(output_schema)
        .with_annotations(annotations);
        let tool = match titles::title(name) {
            Some(title) => tool.with_title(title),
            None => tool,
        };
        let handler = Arc::new(handler);
        let handler: Handler = Arc::new(move |args| {
            let input = serde_json::from_value::<I>(args);
            let handler = handler.clone();
            let conforms = conforms.clone();
            Box::pin(async move {
                let input = input
                    .map_err(|e| ToolError::invalid_argument(format!("invalid arguments: {e}")))?;
                let output = handler(input).await?;
                let value = serde_json::to_value(output)
                    .map_err(|e| ToolError::internal(format!("result not serialisable: {e}")))?;
                conforms(&value)?;
                Ok(value)
            })
        });
        self.index.insert(name.to_owned(), self.entries.len());
        self.entries.push(Entry {
            tool,
            scope,
            handler,
            catalog_token: false,
            admin: false,
        });
    }

    /// Registers a tool whose handler needs shared state: `handler(state, input)`.
    pub fn add_with<S, I, O, F, Fut>(
        &mut self,
        state: &Arc<S>,
        name: &'static str,
        description: &'static str,
        annotations: ToolAnnotations,
        scope: Option<Scope>,
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

    /// Marks `name` as a tool that sends the caller's token to the Quilt catalog: it is listed
    /// and callable only when the request carries a catalog-issued token
    /// ([`RequestContext::catalog_token`]). Panics on an unknown name (a programming error).
    pub fn require_catalog_token(&mut self, name: &str) {
        let i = self.index[name];
        self.entries[i].catalog_token = true;
    }

    /// The tools the caller of `ctx` may use, for `tools/list`: its scopes, and catalog tools
    /// only with a catalog-issued token. Never the admin tools ([`ToolRegistry::admin_tools_for`]).
    pub fn list_for_caller(&self, ctx: &RequestContext) -> Vec<Tool> {
        let has_catalog_token = ctx.catalog_token().is_some();
        self.entries
            .iter()
            .filter(|e| !e.admin)
            .filter(|e| self.scopes.permits(ctx.principal(), e.scope))
            .filter(|e| has_catalog_token || !e.catalog_token)
            .map(|e| e.tool.clone())
            .collect()
    }

    /// Marks `name` as an administration tool: listed and callable only for a caller the
    /// catalog reports as an admin (asked through `gate`) who also holds the tool's scope; to
    /// anyone else it does not exist. Panics on an unknown name (a programming error).
    pub fn mark_admin(&mut self, name: &str, gate: &Arc<admin::AdminGate>) {
        let i = self.index[name];
        self.entries[i].admin = true;
        self.admin_gate = Some(gate.clone());
    }

    /// Whether the caller of `ctx` may see and call an admin tool needing `scope`.
    async fn admin_allowed(&self, ctx: &RequestContext, scope: Option<Scope>) -> bool {
        match &self.admin_gate {
            Some(gate) => self.scopes.permits(ctx.principal(), scope) && gate.is_admin(ctx).await,
            None => false,
        }
    }

    /// The admin tools, for a caller the catalog reports as an admin (else none).
    pub async fn admin_tools_for(&self, ctx: &RequestContext) -> Vec<Tool> {
        let Some(gate) = &self.admin_gate else {
            return Vec::new();
        };
        let admin = self.entries.iter().filter(|e| e.admin);
        let scoped: Vec<&Entry> = admin
            .filter(|e| self.scopes.permits(ctx.principal(), e.scope))
            .collect();
        if scoped.is_empty() || !gate.is_admin(ctx).await {
            return Vec::new();
        }
        scoped.into_iter().map(|e| e.tool.clone()).collect()
    }

    /// Resources and completions, when this registry serves them.
    pub fn surface(&self) -> Option<&Arc<crate::resources::Surface>> {
        self.surface.as_ref()
    }

    /// Counts package task runs in `background` (the server's: shutdown waits for them).
    /// Call before the registry is shared; without it runs are counted apart (stdio).
    #[must_use]
    pub fn with_background(mut self, background: &crate::background::Background) -> Self {
        if let Some(tasks) = self.tasks.as_mut().and_then(Arc::get_mut) {
            tasks.set_background(background);
        }
        self
    }

    /// MCP tasks, when this registry serves them.
    pub fn tasks(&self) -> Option<&Arc<crate::tasks::Tasks>> {
        self.tasks.as_ref()
    }

    /// The key that seals confirmation states, when confirmations are on.
    pub fn confirm_key(&self) -> Option<&Arc<crate::seal::SealKey>> {
        self.confirm_key.as_ref()
    }

    /// Which scopes a token needs.
    pub fn scopes(&self) -> &ScopePolicy {
        &self.scopes
    }

    /// A tool's definition by name.
    pub fn get(&self, name: &str) -> Option<&Tool> {
        self.index.get(name).map(|&i| &self.entries[i].tool)
    }

    /// Calls `name` for the caller in `ctx`, in a call scope of its own, and writes the
    /// audit line. No permit, no deadline: see [`ToolRegistry::call_within`].
    pub async fn call(
        &self,
        ctx: Arc<RequestContext>,
        name: &str,
        arguments: Option<JsonObject>,
    ) -> Called {
        self.call_within(CallScope::new(ctx), name, arguments, CallLimits::none())
            .await
    }

    /// Like [`ToolRegistry::call`], in the call scope `call` (the caller, and from `mcp.rs`
    /// the client's progress token and confirmation channel), holding the request's admission
    /// permit for the call's whole life and stopping it at the request's deadline (a
    /// `timeout` tool error). This is where every tool call's scope is entered
    /// (`call_scope.rs`). The audit line is written however the call ends, also when this
    /// future is dropped.
    pub async fn call_within(
        &self,
        call: CallScope,
        name: &str,
        arguments: Option<JsonObject>,
        limits: CallLimits,
    ) -> Called {
        let Some(entry) = self.index.get(name).map(|&i| &self.entries[i]) else {
            return Called::UnknownTool;
        };
        let ctx = call.context().clone();
        // Admin tools do not exist for anyone else (no audit line, as for an unknown name).
        if entry.admin && !self.admin_allowed(&ctx, entry.scope).await {
            return Called::UnknownTool;
        }
        let confirmation = call.confirmation().clone();
        let pending = audit::Pending::start(ctx.clone(), name, call.record().clone());
        let (result, timed_out) = if !self.scopes.permits(ctx.principal(), entry.scope) {
            let error = ToolError::not_permitted(format!(
                "tool {name} needs the scope {}, which the token does not grant",
                entry.scope.map_or("", Scope::as_str)
            ));
            (Err(error), false)
        } else if entry.catalog_token && ctx.catalog_token().is_none() {
            let error = ToolError::not_permitted(format!(
                "tool {name} works with the Quilt catalog on your behalf and needs a token the catalog issued; this token was not"
            ));
            (Err(error), false)
        } else {
            let args = Value::Object(arguments.unwrap_or_default());
            match limits.run(call.run((entry.handler)(args))).await {
                Ok(result) => (result, false),
                Err(TimedOut) => (
                    Err(ToolError::new(
                        crate::ErrorCode::Timeout,
                        format!(
                            "{name} did not finish within the request time limit and was stopped"
                        ),
                    )
                    .with_hint("what it had done is not undone; retry with less work per call")),
                    true,
                ),
            }
        };
        let outcome = match &result {
            _ if timed_out => audit::Outcome::TimedOut,
            Err(_) if confirmation.awaiting() => audit::Outcome::AwaitingConfirmation,
            result => audit::Outcome::of(result),
        };
        let record = pending.finish(outcome);
        let result = match result {
            Ok(value) => CallToolResult::structured(value),
            Err(error) => error.into_result(),
        };
        Called::Result(result.with_meta(aws::meta(&record).map(MetaObject::from)))
    }
}

/// The key that seals page tokens and owner tags (seal.rs); warns when tokens and Athena
/// ownership will hold only within this process.
fn seal_key(config: &Settings) -> Arc<crate::seal::SealKey> {
    let key = config.seal_key.clone();
    if key.origin() == crate::seal::KeyOrigin::Random && config.auth.jwks {
        tracing::warn!(
            "MCP_HANDLE_KEY is not set and there is no MCP_JWT_SECRET to derive it from: page tokens and Athena query ownership hold only within this process; set MCP_HANDLE_KEY (the same on every task)"
        );
    }
    key
}

/// Checks a structured result against its tool's output schema (see [`output_check`]).
type OutputCheck = Arc<dyn Fn(&Value) -> Result<(), ToolError> + Send + Sync>;

/// In debug builds (every test suite), a check that a structured result matches the output
/// schema `tools/list` announces for `name`: a result that does not is an `internal` error, so
/// any test through the server that produces one fails, and schema compaction cannot break
/// the contract unnoticed. Release builds check nothing.
fn output_check(name: &'static str, schema: &JsonObject) -> OutputCheck {
    if !cfg!(debug_assertions) {
        return Arc::new(|_| Ok(()));
    }
    let validator = jsonschema::draft202012::new(&Value::Object(schema.clone()))
        .unwrap_or_else(|e| panic!("{name}: its output schema does not compile: {e}"));
    Arc::new(move |value| match validator.validate(value) {
        Ok(()) => Ok(()),
        Err(e) => Err(ToolError::internal(format!(
            "{name}: the result does not match its output schema at {}: {e}",
            e.instance_path()
        ))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A result whose serialisation disagrees with its derived schema (here a number the
    /// schema calls a string) is an `internal` error in debug builds; a conforming one passes.
    #[tokio::test]
    async fn results_that_break_their_output_schema_are_refused() {
        #[derive(Serialize, JsonSchema)]
        struct Out {
            #[serde(serialize_with = "as_number")]
            #[schemars(with = "String")]
            field: String,
        }
        fn as_number<S: serde::Serializer>(_: &str, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_u64(7)
        }
        #[derive(Serialize, JsonSchema)]
        struct Fine {
            field: String,
        }
        #[derive(serde::Deserialize, JsonSchema)]
        struct In {}
        let mut registry = ToolRegistry::empty();
        registry.add("broken", "d", ToolAnnotations::new(), None, |_: In| async {
            Ok(Out { field: "x".into() })
        });
        registry.add("fine", "d", ToolAnnotations::new(), None, |_: In| async {
            Ok(Fine { field: "x".into() })
        });
        let run =
            |name: &str| (registry.entries[registry.index[name]].handler)(serde_json::json!({}));
        let e = run("broken").await.expect_err("refused");
        assert_eq!(e.code, crate::ErrorCode::Internal);
        assert!(
            e.message
                .contains("does not match its output schema at /field"),
            "{}",
            e.message
        );
        assert_eq!(
            run("fine").await.expect("conforms"),
            serde_json::json!({"field": "x"})
        );
    }
}
