//! Progress notifications for long tool calls. [`McpServer::call_tool`](crate::mcp) puts the
//! client's progress token (when its request carried one) and the peer in the call scope
//! (`call_scope.rs`); a tool reports with [`report`], which does nothing when the client did
//! not ask. rmcp answers a stateless JSON-mode request as an SSE stream once the handler
//! emits a notification, so the client receives them before the result.

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::{Peer, RoleServer};

/// Where a call's progress goes.
#[derive(Clone)]
pub struct Progress {
    peer: Peer<RoleServer>,
    token: ProgressToken,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("token", &self.token)
            .finish()
    }
}

impl Progress {
    /// Progress for the request of `ctx`, when its `_meta` has a progress token.
    pub fn from_request(ctx: &rmcp::service::RequestContext<RoleServer>) -> Option<Self> {
        ctx.meta.get_progress_token().map(|token| Self {
            peer: ctx.peer.clone(),
            token,
        })
    }
}

/// Whether the current call's client asked for progress.
pub fn wanted() -> bool {
    crate::call_scope::progress().is_some()
}

/// Sends a progress notification when the client asked for them (else nothing). `progress`
/// must increase from one report to the next.
pub async fn report(progress: f64, total: Option<f64>, message: String) {
    let Some(p) = crate::call_scope::progress() else {
        return;
    };
    let mut param = ProgressNotificationParam::new(p.token, progress).with_message(message);
    param.total = total;
    if let Err(e) = p.peer.notify_progress(param).await {
        tracing::debug!(error = %e, "progress notification not delivered");
    }
}
