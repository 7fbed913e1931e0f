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
pub struct RoleHealth {
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
    /// A role that is not configured.
    pub fn not_configured() -> Self {
        Self {
            arn: None,
            status: "not_configured",
            expires_at: None,
            last_checked: None,
            error: None,
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
pub async fn healthz(State(app): State<Arc<App>>) -> Response {
    // Stack roles arrive with the credential broker; until then both are not configured.
    let roles = Roles {
        read: RoleHealth::not_configured(),
        write: RoleHealth::not_configured(),
    };
    let degraded = roles.read.is_failed() || roles.write.is_failed();
    let auth = match &app.verifier {
        None => serde_json::json!({"mode": "disabled"}),
        Some(v) => serde_json::json!({
            "mode": "jwt",
            "algorithms": v.algorithms(),
            "issuer": app.config.jwt_issuer,
            "audience": app.config.jwt_audience.clone().unwrap_or_else(|| app.config.resource_url()),
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
            "sources": app.config.credential_sources,
            "ambient_allowed": app.config.ambient_allowed(),
        }),
        roles,
        in_flight: app.admission.in_flight(),
        max_in_flight: app.admission.limit(),
    };
    let status = if degraded && app.config.healthz_strict {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, axum::Json(body)).into_response()
}

/// `GET /readyz`.
pub async fn readyz(State(app): State<Arc<App>>) -> Response {
    let ready = app.lifecycle.is_ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(serde_json::json!({"ready": ready}))).into_response()
}
