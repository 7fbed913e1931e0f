//! The audit trail: exactly one line per tool call, on the `audit` tracing target, with who
//! called what (the caller is `issuer` + `subject`: a subject alone is not unique), the credential source and role, the buckets/keys touched, the AWS request ids,
//! the outcome and how long it took. Never arguments' secret parts, never tokens.

use std::time::Duration;

use quilt_mcp_auth::RequestContext;

use crate::aws::CallRecord;

/// The outcome of one tool call, as audited.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// The tool returned a result.
    Ok,
    /// The tool returned an error with this code.
    Error(&'a str),
}

/// Emits the audit line for one tool call.
pub fn tool_call(
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
    let (result, error_code) = match outcome {
        Outcome::Ok => ("ok", ""),
        Outcome::Error(code) => ("error", code),
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
        touched = record.touched.join(" "),
        aws_request_ids = record.aws_request_ids.join(" "),
        result,
        error_code,
        elapsed_ms = elapsed.as_millis() as u64,
    );
    crate::metrics::tool_call(tool, error_code, elapsed);
}
