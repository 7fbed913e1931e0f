//! The call scope: everything one call carries while it runs, as ONE task-local value set in
//! ONE place ([`CallScope::run`]) — the caller ([`RequestContext`]), the call's AWS record
//! (credentials used, objects touched and written, AWS request ids: `aws.rs`), where its
//! progress goes (`progress.rs`) and how it may ask its user to confirm (`confirm.rs`).
//!
//! Who builds one: `ToolRegistry::call_within` for every tool call (`mcp.rs` adds the
//! client's progress token and confirmation channel; `tasks/get` goes through the same
//! function), `resources::in_call_scope` for `resources/read` and `completion/complete`,
//! `Tasks::cancel`, and the `s3-policy-test` command. Code inside reads it through the small
//! accessors here and in those modules ([`context`], `progress::report`, `confirm::confirm`,
//! `aws::touched`…); nothing else sets a task-local.
//!
//! Why a task-local and not an argument: the tools' handlers are typed `Fn(Input) -> Future`
//! (the registry derives their schemas from that signature), and the AWS request-id
//! interceptor runs deep inside the SDK; both reach the call's state without it being
//! threaded through every signature. Why here and not in `quilt-mcp-auth`: the scope holds
//! server things (progress peer, confirmation, AWS record) the auth crate must not know; the
//! auth crate keeps only the value type [`RequestContext`], which still travels as a value
//! (request extensions → this scope → `ClientFactory`). rmcp runs each handler on a task of
//! its own and a spawned task does not inherit a task-local: work a tool spawns gets the
//! values it needs (a client, the context) passed in explicitly.

use std::future::Future;
use std::sync::Arc;

use quilt_mcp_auth::RequestContext;

use crate::audit::Outcome;
use crate::aws::{CallRecord, SharedRecord};
use crate::confirm::Confirmation;
use crate::progress::Progress;
use crate::tool_error::ToolError;

tokio::task_local! {
    static CALL: CallScope;
}

/// One call's state. See the module docs.
#[derive(Debug)]
pub struct CallScope {
    ctx: Arc<RequestContext>,
    record: SharedRecord,
    progress: Option<Progress>,
    confirmation: Arc<Confirmation>,
    gate: Option<Arc<dyn CommitGate>>,
}

/// Where a write that outlives its request (a package task's run, `package_tasks.rs`) may
/// still be stopped: the packaging tools pass it right before their manifest and pointer
/// writes ([`commit_point`]). A trait so this layer need not know the runner.
pub trait CommitGate: Send + Sync {
    /// Ok to write; an error stops the write (nothing written).
    fn pass(&self) -> futures::future::BoxFuture<'_, Result<(), ToolError>>;
}

impl std::fmt::Debug for dyn CommitGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommitGate")
    }
}

/// Returned by [`context`] outside a call scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no request context in scope: refusing to act without a caller")]
pub struct NoRequestContext;

impl From<NoRequestContext> for ToolError {
    fn from(e: NoRequestContext) -> Self {
        Self::internal(e.to_string())
    }
}

impl CallScope {
    /// A scope for a call of the caller in `ctx`: an empty record, no progress, no way to ask
    /// for confirmation.
    pub fn new(ctx: Arc<RequestContext>) -> Self {
        Self {
            ctx,
            record: SharedRecord::default(),
            progress: None,
            confirmation: Confirmation::none(),
            gate: None,
        }
    }

    /// Makes the call's writes pass `gate` at their commit point (a package task's run).
    #[must_use]
    pub fn with_gate(mut self, gate: Arc<dyn CommitGate>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// Sends the call's progress to `progress` (when the client asked for it).
    #[must_use]
    pub fn with_progress(mut self, progress: Option<Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// Lets the call ask its user through `confirmation`.
    #[must_use]
    pub fn with_confirmation(mut self, confirmation: Arc<Confirmation>) -> Self {
        self.confirmation = confirmation;
        self
    }

    /// The caller.
    pub fn context(&self) -> &Arc<RequestContext> {
        &self.ctx
    }

    /// The call's AWS record, shared: whoever audits the call keeps a handle, so a call cut
    /// short (deadline, cancellation) is still audited with what it had done.
    pub fn record(&self) -> &SharedRecord {
        &self.record
    }

    /// How the call may ask its user.
    pub fn confirmation(&self) -> &Arc<Confirmation> {
        &self.confirmation
    }

    /// Runs `fut` inside this scope: the one place the call's task-local is set.
    pub async fn run<F: Future>(self, fut: F) -> F::Output {
        CALL.scope(self, fut).await
    }

    /// Runs `fut` inside this scope; returns its output with what the call did in AWS.
    pub async fn recording<F: Future>(self, fut: F) -> (F::Output, CallRecord) {
        let record = self.record.clone();
        let out = self.run(fut).await;
        (out, crate::aws::snapshot(&record))
    }

    /// Runs `fut` inside this scope and writes its audit line as `what` when it ends: the
    /// calls that are not tools (`resources/read`, `completion/complete`, `tasks/cancel`).
    /// Tool calls are audited by `ToolRegistry::call_within`, which also audits a call cut
    /// short (`audit::Pending`).
    pub async fn audited<T>(
        self,
        what: &str,
        fut: impl Future<Output = Result<T, ToolError>>,
    ) -> Result<T, ToolError> {
        let started = std::time::Instant::now();
        let ctx = self.ctx.clone();
        let (result, record) = self.recording(fut).await;
        crate::audit::tool_call(&ctx, what, Outcome::of(&result), &record, started.elapsed());
        result
    }
}

/// The caller of the call this task is serving; an error (never an anonymous default) outside
/// a call.
pub fn context() -> Result<Arc<RequestContext>, NoRequestContext> {
    CALL.try_with(|c| c.ctx.clone())
        .map_err(|_| NoRequestContext)
}

/// Applies `f` to the current call's AWS record (nothing outside a call).
pub(crate) fn with_record(f: impl FnOnce(&mut CallRecord)) {
    let _ = CALL.try_with(|c| {
        if let Ok(mut record) = c.record.lock() {
            f(&mut record);
        }
    });
}

/// The current call's progress sink, when its client asked for progress.
pub(crate) fn progress() -> Option<Progress> {
    CALL.try_with(|c| c.progress.clone()).ok().flatten()
}

/// The commit point of a package write: passes the call's [`CommitGate`] when it has one (a
/// package task's run, where a cancel asked for before now stops the write); Ok otherwise.
pub(crate) async fn commit_point() -> Result<(), ToolError> {
    match CALL.try_with(|c| c.gate.clone()).ok().flatten() {
        Some(gate) => gate.pass().await,
        None => Ok(()),
    }
}

/// How the current call may ask its user (none outside a call).
pub(crate) fn confirmation() -> Option<Arc<Confirmation>> {
    CALL.try_with(|c| c.confirmation.clone()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quilt_mcp_auth::{AuthMethod, Principal};

    #[tokio::test]
    async fn context_fails_outside_a_call_and_sees_the_scoped_caller_inside() {
        assert_eq!(context().expect_err("no scope"), NoRequestContext);
        let ctx = Arc::new(RequestContext::new(
            Principal::local("alice"),
            AuthMethod::Local,
            "r1",
            "stdio",
        ));
        let (seen, record) = CallScope::new(ctx)
            .recording(async {
                crate::aws::touched("bucket", Some("key"));
                context().map(|c| c.principal().subject.clone())
            })
            .await;
        assert_eq!(seen.as_deref(), Ok("alice"));
        assert_eq!(record.touched, ["bucket/key"]);
        // A spawned task does not inherit the scope: it has to be given what it needs.
        let spawned = tokio::spawn(async { context().is_err() })
            .await
            .expect("join");
        assert!(spawned);
    }
}
