//! `/healthz` (ALB target health) and `/readyz` (start-up finished, not shutting down).
//!
//! `/healthz` answers 200 while the process serves, `"degraded"` when a configured role
//! cannot be assumed (503 with `MCP_HEALTHZ_STRICT=true`). It reports state, never secrets:
//! key counts and URLs, not keys; role ARNs, not credentials. It is cheap — no I/O — so it
//! stays fast when `/mcp` is saturated.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;

use quilt_mcp_aws::{RoleState, RoleStatus};

use crate::app::App;

/// Process lifecycle flags shared by the health routes and the transport.
#[derive(Debug)]
pub struct Lifecycle {
    started: Instant,
    ready: AtomicBool,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            ready: AtomicBool::new(false),
        }
    }
}

impl Lifecycle {
    /// Marks start-up as finished.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    /// Marks shutdown as begun: `/readyz` answers 503 from now on.
    pub fn set_draining(&self) {
        self.ready.store(false, Ordering::SeqCst);
    }

    /// Whether the process takes new work.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Seconds since start.
    pub fn uptime_s(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}

/// The status of one stack role, as `/healthz` shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RoleHealth {
    /// The role ARN, when configured.
    pub arn: Option<String>,
    /// `assumed`, `failed`, `pending` or `not_configured`.
    pub status: &'static str,
    /// When the current credentials expire (RFC 3339).
    pub expires_at: Option<String>,
    /// When the role was last tried (RFC 3339).
    pub last_checked: Option<String>,
    /// The last error, if the last attempt failed.
    pub error: Option<String>,
}

impl RoleHealth {
    fn from_status(s: RoleStatus) -> Self {
        Self {
            arn: s.arn.map(|a| a.to_string()),
            status: match s.state {
                RoleState::Assumed => "assumed",
                RoleState::Failed => "failed",
                RoleState::Pending => "pending",
                RoleState::NotConfigured => "not_configured",
            },
            expires_at: s.expires_at.map(rfc3339),
            last_checked: s.last_checked.map(rfc3339),
            error: s.error,
        }
    }

    fn is_failed(&self) -> bool {
        self.status == "failed"
    }
}

#[derive(Serialize)]
struct Healthz {
    status: &'static str,
    version: &'static str,
    uptime_s: u64,
    transport: &'static str,
    ready: bool,
    auth: serde_json::Value,
    credentials: serde_json::Value,
    roles: Roles,
    in_flight: usize,
    max_in_flight: usize,
}

#[derive(Serialize)]
struct Roles {
    read: RoleHealth,
    write: RoleHealth,
}

/// `GET /healthz`.
pub(crate) async fn healthz(State(app): State<Arc<App>>) -> Response {
    let (read, write) = app.aws.broker().stack_roles().status();
    let roles = Roles {
        read: RoleHealth::from_status(read),
        write: RoleHealth::from_status(write),
    };
    let degraded = roles.read.is_failed() || roles.write.is_failed();
    let auth = match &app.verifier {
        None => serde_json::json!({"mode": "disabled"}),
        Some(v) => serde_json::json!({
            "mode": "jwt",
            "algorithms": v.algorithms(),
            "issuer": app.settings.auth.issuer,
            "audience": app.settings.auth.audience.clone().unwrap_or_else(|| app.settings.http.resource_url()),
            "jwks": v.jwks_status(),
        }),
    };
    let body = Healthz {
        status: if degraded { "degraded" } else { "ok" },
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: app.lifecycle.uptime_s(),
        transport: "http",
        ready: app.lifecycle.is_ready(),
        auth,
        credentials: serde_json::json!({
            "sources": app.aws.broker().sources(),
            "ambient_allowed": app.settings.aws.ambient_allowed(),
        }),
        roles,
        in_flight: app.admission.in_flight(),
        max_in_flight: app.admission.limit(),
    };
    let status = if degraded && app.settings.http.healthz_strict {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, axum::Json(body)).into_response()
}

/// `GET /readyz`.
pub(crate) async fn readyz(State(app): State<Arc<App>>) -> Response {
    let ready = app.lifecycle.is_ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(serde_json::json!({"ready": ready}))).into_response()
}

/// RFC 3339 UTC, to the second.
fn rfc3339(t: std::time::SystemTime) -> String {
    aws_smithy_types::DateTime::from(t)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}
