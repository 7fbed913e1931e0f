//! The audit trail: exactly one line per tool call, on the `audit` tracing target, with who
//! called what (the caller is `issuer` + `subject`: a subject alone is not unique), every
//! credential source and role it used with what for (read, write), the buckets/keys touched,
//! what else it acted on (`acted_on`: the catalog user, role or setting of an administration
//! tool), the AWS request ids,
//! the outcome and how long it took. Never arguments' secret parts, never tokens.
//!
//! A call that started gets its line however it ends: [`Pending`] is created before the tool
//! runs and writes the line when dropped, so a call cut at its deadline (`timeout`) or dropped
//! because the client cancelled or went away (`cancelled`) is audited with what it had done by
//! then (the objects it had written, the AWS requests it had made).

use std::sync::Arc;
use std::time::{Duration, Instant};

use quilt_mcp_auth::RequestContext;

use crate::aws::{CallRecord, SharedRecord};

/// The outcome of one tool call, as audited.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome<'a> {
    /// The tool returned a result.
    Ok,
    /// The tool returned an error with this code.
    Error(&'a str),
    /// The call ran past its deadline and was stopped.
    TimedOut,
    /// The call was dropped before it ended (the client cancelled or disconnected).
    Cancelled,
    /// The call ended to ask the user to confirm (`confirm.rs`); nothing was changed.
    AwaitingConfirmation,
}

impl<'a> Outcome<'a> {
    /// The outcome of a call that ended with `result`.
    pub(crate) fn of<T>(result: &'a Result<T, crate::ToolError>) -> Self {
        match result {
            Ok(_) => Self::Ok,
            Err(e) => Self::Error(e.code.as_str()),
        }
    }
}

/// The audit line of a call that has started and not yet been audited. See the module docs.
#[derive(Debug)]
pub(crate) struct Pending {
    ctx: Arc<RequestContext>,
    tool: String,
    started: Instant,
    record: SharedRecord,
    done: bool,
}

impl Pending {
    /// A call of `tool` for `ctx` that records into `record`, starting now.
    pub(crate) fn start(ctx: Arc<RequestContext>, tool: &str, record: SharedRecord) -> Self {
        Self {
            ctx,
            tool: tool.to_owned(),
            started: Instant::now(),
            record,
            done: false,
        }
    }

    /// Writes the line with `outcome`; returns the call's record.
    pub(crate) fn finish(mut self, outcome: Outcome<'_>) -> CallRecord {
        self.done = true;
        let record = crate::aws::snapshot(&self.record);
        tool_call(
            &self.ctx,
            &self.tool,
            outcome,
            &record,
            self.started.elapsed(),
        );
        record
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.done {
            let record = crate::aws::snapshot(&self.record);
            tool_call(
                &self.ctx,
                &self.tool,
                Outcome::Cancelled,
                &record,
                self.started.elapsed(),
            );
        }
    }
}

/// Emits the audit line for one tool call.
pub(crate) fn tool_call(
    ctx: &RequestContext,
    tool: &str,
    outcome: Outcome<'_>,
    record: &CallRecord,
    elapsed: Duration,
) {
    let used = &record.used;
    let credential_source = used.first().map(|u| u.source.as_str()).unwrap_or_default();
    let role_arn = used
        .first()
        .and_then(|u| u.role_arn.as_ref())
        .map(|r| r.as_str())
        .unwrap_or_default();
    // Every source and role with its uses (`read:stack_roles:arn:… write:stack_roles:arn:…`):
    // `credential_source` and `role_arn` name only the first, which for a call that reads
    // and then writes is not the one that wrote.
    let credentials = used
        .iter()
        .map(crate::aws::Used::audit_text)
        .collect::<Vec<_>>()
        .join(" ");
    let (result, error_code) = match outcome {
        Outcome::Ok => ("ok", ""),
        Outcome::Error(code) => ("error", code),
        Outcome::TimedOut => ("timeout", "timeout"),
        Outcome::Cancelled => ("cancelled", ""),
        Outcome::AwaitingConfirmation => ("awaiting_confirmation", ""),
    };
    tracing::info!(
        target: "audit",
        event = "tool_call",
        request_id = ctx.request_id(),
        issuer = %ctx.principal().issuer,
        subject = %ctx.principal().subject,
        auth = ?ctx.auth_method(),
        transport = ctx.transport(),
        tool,
        credential_source,
        role_arn,
        credentials = credentials.as_str(),
        touched = record.touched.join(" "),
        aws_request_ids = record.aws_request_ids.join(" "),
        written = record.written.join(" "),
        written_count = record.written_count,
        acted_on = record.targets.join(" "),
        result,
        error_code,
        elapsed_ms = elapsed.as_millis() as u64,
    );
    crate::metrics::tool_call(tool, error_code, elapsed);
}
