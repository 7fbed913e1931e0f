//! The stdio transport: one local principal (the OS user), the same tools and the same
//! task-local scoping as HTTP, so desktop and web contexts can never mix. stdout carries the
//! protocol; logs go to stderr.

use std::sync::Arc;

use quilt_mcp_auth::Principal;
use rmcp::ServiceExt;

use crate::mcp::{Identity, McpServer};
use crate::scopes::Scope;
use crate::tools::ToolRegistry;

/// The local principal: the OS user, with every scope (the operator is the user).
pub fn local_principal() -> Principal {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "local".into());
    let mut principal = Principal::local(format!("local:{user}"));
    principal.scopes = Scope::ADVERTISED.map(|s| s.as_str().to_owned()).into();
    principal
}

/// Serves MCP over stdin/stdout until the client closes the stream.
pub async fn serve(tools: Arc<ToolRegistry>) -> anyhow::Result<()> {
    let server = McpServer::new(tools, Identity::Local(Arc::new(local_principal())));
    let running = server.serve(rmcp::transport::io::stdio()).await?;
    running.waiting().await?;
    Ok(())
}
