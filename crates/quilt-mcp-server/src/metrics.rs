//! Metrics without new infrastructure: one CloudWatch Embedded Metric Format (EMF) line per
//! authentication outcome and per tool call, written to stderr beside the log lines. On ECS the
//! awslogs driver ships stderr to CloudWatch Logs, which turns each EMF line into metric values
//! under `MCP_METRICS_NAMESPACE` — no agent, no `PutMetricData` permission, no extra network
//! path. Unset namespace (the default): no metric lines at all.
//!
//! Why EMF rather than metric filters over the audit lines: EMF keeps every value, so
//! CloudWatch can answer percentiles (p99 tool latency per tool) and per-tool dimensions, which
//! metric filters aggregate away; and a success line per authentication is needed anyway for an
//! error *rate*. The lines are written whole by hand (not through `tracing`) because EMF needs
//! `_aws` as a JSON object at the top level, and tracing fields are scalars.
//!
//! Metrics (see `docs/OPERATIONS.md`, "Metrics"):
//! - `AuthSuccess`, `AuthFailure` (a refused token), `AuthChallenge` (no token at all: every MCP
//!   client sends one such request to discover the authorization server, so it is not a
//!   failure), and `InFlight` (MCP requests being served when this one arrived), no dimensions;
//! - `ToolCalls`, `ToolErrors`, `ToolLatency` (milliseconds), by `Tool` and in total.

use std::io::Write;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

static NAMESPACE: OnceLock<String> = OnceLock::new();

/// Turns metric lines on with this namespace (once per process; later calls are no-ops, as
/// tests start many servers in one process).
pub(crate) fn init(namespace: Option<&str>) {
    if let Some(ns) = namespace {
        let _ = NAMESPACE.set(ns.to_owned());
    }
}

/// Whether `ns` is a CloudWatch namespace a custom metric may use.
pub(crate) fn check_namespace(ns: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._-/#: ".contains(c);
    if ns.is_empty() || ns.len() > 255 || !ns.chars().all(allowed) {
        return Err(format!(
            "{ns:?} must be 1-255 characters: letters, digits and . _ - / # : or space"
        ));
    }
    if ns.starts_with("AWS/") {
        return Err(format!(
            "{ns:?}: namespaces starting with AWS/ are AWS's own"
        ));
    }
    Ok(())
}

/// One authentication outcome: `refused` is the refusal's label (`missing`, `expired`, …).
pub(crate) fn auth(refused: Option<&str>, in_flight: usize) {
    let Some(ns) = NAMESPACE.get() else { return };
    let metric = match refused {
        None => "AuthSuccess",
        Some("missing") => "AuthChallenge",
        Some(_) => "AuthFailure",
    };
    let mut line = envelope(
        ns,
        json!([[]]),
        json!([{"Name": metric, "Unit": "Count"}, {"Name": "InFlight", "Unit": "Count"}]),
    );
    line["event"] = json!("auth");
    line["outcome"] = json!(if refused.is_none() {
        "success"
    } else {
        "failure"
    });
    line["reason"] = json!(refused.unwrap_or(""));
    line[metric] = json!(1);
    line["InFlight"] = json!(in_flight);
    emit(&line);
}

/// One tool call: `error_code` is empty when the tool succeeded.
pub(crate) fn tool_call(tool: &str, error_code: &str, elapsed: Duration) {
    let Some(ns) = NAMESPACE.get() else { return };
    let mut line = envelope(
        ns,
        json!([["Tool"], []]),
        json!([
            {"Name": "ToolCalls", "Unit": "Count"},
            {"Name": "ToolErrors", "Unit": "Count"},
            {"Name": "ToolLatency", "Unit": "Milliseconds"},
        ]),
    );
    let ok = error_code.is_empty();
    line["event"] = json!("tool_metrics");
    line["Tool"] = json!(tool);
    line["outcome"] = json!(if ok { "ok" } else { "error" });
    line["error_code"] = json!(error_code);
    line["duration_ms"] = json!(elapsed.as_secs_f64() * 1000.0);
    line["ToolCalls"] = json!(1);
    line["ToolErrors"] = json!(u8::from(!ok));
    line["ToolLatency"] = json!(elapsed.as_secs_f64() * 1000.0);
    emit(&line);
}

fn envelope(ns: &str, dimensions: Value, metrics: Value) -> Value {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    json!({
        "_aws": {
            "Timestamp": ms,
            "CloudWatchMetrics": [{"Namespace": ns, "Dimensions": dimensions, "Metrics": metrics}],
        },
    })
}

/// One whole line under the stderr lock, so it never interleaves with a log line.
fn emit(line: &Value) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}
