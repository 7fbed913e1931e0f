//! Progress notifications for long tool calls. [`McpServer::call_tool`](crate::mcp) puts the
//! client's progress token (when its request carried one) and the peer in the call scope
//! (`call_scope.rs`); a tool reports with [`report`], which does nothing when the client did
//! not ask. rmcp answers a stateless JSON-mode request as an SSE stream once the handler
//! emits a notification, so the client receives them before the result. Inside a package
//! task's run the progress goes to the task's state object instead (`package_tasks.rs`).

use std::sync::Arc;

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::{Peer, RoleServer};

/// Where a call's progress goes: the client that asked for it, or, in a package task's run
/// (`package_tasks.rs`), the run's state object.
#[derive(Clone)]
pub struct Progress(Sink);

#[derive(Clone)]
enum Sink {
    Client {
        peer: Peer<RoleServer>,
        token: ProgressToken,
    },
    Kept(Arc<dyn Keep>),
}

/// Keeps a call's progress when no client waits for it: a package task's run writes it to its
/// state object (`package_tasks.rs`).
pub trait Keep: Send + Sync {
    /// The latest report.
    fn keep(&self, progress: f64, total: Option<f64>, message: &str);
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Sink::Client { token, .. } => f.debug_struct("Progress").field("token", token).finish(),
            Sink::Kept(_) => f.write_str("Progress(kept)"),
        }
    }
}

impl Progress {
    /// Progress for the request of `ctx`, when its `_meta` has a progress token.
    pub fn from_request(ctx: &rmcp::service::RequestContext<RoleServer>) -> Option<Self> {
        ctx.meta.get_progress_token().map(|token| {
            Self(Sink::Client {
                peer: ctx.peer.clone(),
                token,
            })
        })
    }

    /// Progress kept by `keep` instead of sent to a client.
    pub fn kept(keep: Arc<dyn Keep>) -> Self {
        Self(Sink::Kept(keep))
    }
}

/// Whether the current call's progress goes anywhere (a client asked, or a run keeps it).
pub fn wanted() -> bool {
    crate::call_scope::progress().is_some()
}

/// Sends a progress notification when the client asked for them, or keeps it for a package
/// task's state object (else nothing). `progress` must increase from one report to the next.
pub async fn report(progress: f64, total: Option<f64>, message: String) {
    let Some(Progress(sink)) = crate::call_scope::progress() else {
        return;
    };
    let (peer, token) = match sink {
        Sink::Client { peer, token } => (peer, token),
        Sink::Kept(keep) => return keep.keep(progress, total, &message),
    };
    let mut param = ProgressNotificationParam::new(token, progress).with_message(message);
    param.total = total;
    if let Err(e) = peer.notify_progress(param).await {
        tracing::debug!(error = %e, "progress notification not delivered");
    }
}
