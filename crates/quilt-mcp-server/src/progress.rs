//! Progress notifications for long tool calls. [`McpServer::call_tool`](crate::mcp) puts the
//! client's progress token (when its request carried one) and the peer in a task-local
//! around the call; a tool reports with [`report`], which does nothing when the client did
//! not ask. rmcp answers a stateless JSON-mode request as an SSE stream once the handler
//! emits a notification, so the client receives them before the result. Inside a package
//! task's run the progress goes to the task's state object instead (`package_tasks.rs`).

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

tokio::task_local! {
    static PROGRESS: Option<Progress>;
}

/// Runs `fut` with `progress` as the call's progress sink.
pub async fn scope<F: std::future::Future>(progress: Option<Progress>, fut: F) -> F::Output {
    PROGRESS.scope(progress, fut).await
}

/// Whether the current call's client asked for progress.
pub fn wanted() -> bool {
    PROGRESS.try_with(Option::is_some).unwrap_or(false) || KEEP.try_with(|_| ()).is_ok()
}

/// Keeps a call's progress when no client waits for it: a package task's run writes it to its
/// state object (`package_tasks.rs`).
pub trait Keep: Send + Sync {
    /// The latest report.
    fn keep(&self, progress: f64, total: Option<f64>, message: &str);
}

tokio::task_local! {
    static KEEP: std::sync::Arc<dyn Keep>;
}

/// Runs `fut` with its progress kept by `keep` (besides any client's progress token).
pub async fn keep_in<F: std::future::Future>(keep: std::sync::Arc<dyn Keep>, fut: F) -> F::Output {
    KEEP.scope(keep, fut).await
}

/// Sends a progress notification when the client asked for them (else nothing). `progress`
/// must increase from one report to the next.
pub async fn report(progress: f64, total: Option<f64>, message: String) {
    // A package task's run keeps its progress for its state object in S3.
    let _ = KEEP.try_with(|k| k.keep(progress, total, &message));
    let Ok(Some(p)) = PROGRESS.try_with(Clone::clone) else {
        return;
    };
    let mut param = ProgressNotificationParam::new(p.token, progress).with_message(message);
    param.total = total;
    if let Err(e) = p.peer.notify_progress(param).await {
        tracing::debug!(error = %e, "progress notification not delivered");
    }
}
