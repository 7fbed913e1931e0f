//! quilt-mcp-server: a stateless streamable-HTTP (and stdio) MCP server that acts in AWS
//! for the caller whose bearer JWT comes with each request, and never as anyone else.
//!
//! Read `docs/ARCHITECTURE.md` first. The modules, in request order:
//! - [`config`]: every setting as flags and environment (clap), validated once into
//!   [`settings::Settings`] — typed groups every later consumer receives.
//! - [`scopes`]: the scopes (`Scope`, written once) and the operator's scope policy.
//! - [`s3`]: S3 helpers below the tools (S3 errors, version ids, multipart completion).
//! - [`app`]: the shared state ([`App`]) and the router with its middleware stack.
//! - [`auth`]: the `/mcp` auth middleware (bearer JWT → `RequestContext`) and 401s.
//! - [`grants`]: which buckets and prefixes a caller may touch (before any AWS call).
//! - [`admission`]: the pre-authentication budget, per-caller in-flight share and rate (429),
//!   and the process-wide in-flight bound (503), each with `Retry-After`.
//! - [`envelope`]: the `/mcp` body limit and JSON-RPC shape check (protocol errors).
//! - [`health`], [`metadata`]: `/healthz`, `/readyz`, RFC 9728 metadata.
//! - [`mcp`]: the rmcp `ServerHandler`; gathers what each tool call carries.
//! - [`call_scope`]: the one task-local around each call (caller, AWS record, progress,
//!   confirmation), entered in `ToolRegistry::call_within`, read through small accessors.
//! - [`aws`]: tools' door to AWS (the caller's clients from the credential broker).
//! - [`permissions`]: the permission engine (list/read/write: true, false or unknown, with
//!   evidence) behind `discover_permissions`, `check_bucket_access` and `bucket_list`.
//! - [`preview`]: bounded, format-aware object previews (Parquet, CSV/TSV, JSON, compressed
//!   text) behind `bucket_object_preview`.
//! - [`resources`], [`completions`]: resource templates (`s3://…`, `quilt+s3://…`), their
//!   reads and argument completion, in the same call scope as tools.
//! - [`prompts`]: two prompts (`package_summary`, `athena_explore`) a person starts from.
//! - [`tools`]: the tool registry and the tools; [`tool_error`]: how tools fail.
//! - [`confirm`]: asking the user before a destructive change (elicitation), where the client can.
//! - [`metrics`]: CloudWatch metric lines (EMF).
//! - [`audit`]: one line per tool call, however it ends.
//! - [`call_limits`]: the admission permit and deadline over a tool call's whole life.
//! - [`ownership`]: who owns an Athena execution (a keyed tag in its SQL); Athena vs grants.
//! - [`seal`]: owners (keyed hash of the caller) and HMAC-sealed page tokens bound to them.
//! - [`tasks`]: MCP tasks (SEP-2663) for long tools, stateless: sealed task ids.
//! - [`package_tasks`]: `package_create`/`package_create_from_s3` as tasks: a background run
//!   on the replica that took the call, its state in an S3 object any replica reads;
//!   [`background`]: such runs, counted for graceful shutdown.
//! - [`transport`]: HTTP serving with graceful shutdown, and stdio.
//! - [`token`], [`healthcheck`], [`policy_test`], [`logging`]: the small commands and start-up
//!   pieces.
//!
//! Visibility: a module is `pub` only when the binaries (`main.rs`, the fixture crate) or the
//! integration tests use it; the rest are `pub(crate)`, so the workspace's `unreachable_pub`
//! lint sees every item that is `pub` without being reachable.

pub mod admission;
pub mod app;
pub(crate) mod audit;
pub(crate) mod auth;
pub mod aws;
pub(crate) mod background;
pub(crate) mod call_limits;
pub mod call_scope;
pub(crate) mod completions;
pub mod config;
pub(crate) mod confirm;
pub mod envelope;
pub(crate) mod grants;
pub(crate) mod health;
pub mod healthcheck;
pub mod logging;
pub mod mcp;
pub(crate) mod metadata;
pub(crate) mod metrics;
pub(crate) mod ownership;
pub(crate) mod package_tasks;
pub(crate) mod permissions;
pub mod policy_test;
pub(crate) mod preview;
pub mod progress;
pub(crate) mod prompts;
pub(crate) mod resources;
pub(crate) mod s3;
pub(crate) mod scopes;
pub(crate) mod seal;
pub mod settings;
pub(crate) mod tasks;
pub mod token;
pub mod tool_error;
pub mod tools;
pub mod transport;

pub use app::App;
pub use config::{Config, Mode};
pub use mcp::McpServer;
pub use tool_error::{ErrorCode, ToolError};
pub use tools::ToolRegistry;
