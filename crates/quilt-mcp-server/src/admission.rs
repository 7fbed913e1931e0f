//! Admission control: at most `MCP_MAX_IN_FLIGHT` MCP requests are served at once by this
//! process; the next one gets 503 with `Retry-After` at once instead of queueing, so an
//! overloaded task sheds load quickly and the ALB can send the retry elsewhere.
//!
//! Written as a small middleware over a shared semaphore because tower's
//! `ConcurrencyLimitLayer` queues rather than rejects (and under axum did not bound
//! concurrency at all in a probe; see TESTING.md).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;
use tokio::sync::Semaphore;

/// The shared in-flight bound.
#[derive(Debug, Clone)]
pub struct Admission {
    permits: Arc<Semaphore>,
    limit: usize,
}

impl Admission {
    /// A bound of `limit` concurrent requests.
    pub fn new(limit: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// Requests being served now.
    pub fn in_flight(&self) -> usize {
        self.limit - self.permits.available_permits()
    }

    /// The bound.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// The middleware: admit (holding a permit until the response is produced and the tool call
/// has ended) or shed.
pub async fn admit(State(admission): State<Admission>, request: Request, next: Next) -> Response {
    let Ok(permit) = admission.permits.clone().try_acquire_owned() else {
        tracing::warn!(
            limit = admission.limit,
            "shedding load: in-flight bound reached"
        );
        let mut response = (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"error": "overloaded", "error_description": "server is at capacity; retry shortly"})),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    // The tool call holds a share of the permit for its whole life (call_limits.rs): it is
    // released when both the response headers are out and the call has ended.
    let mut request = request;
    let permit = crate::call_limits::Admitted::new(permit);
    request.extensions_mut().insert(permit.clone());
    let response = next.run(request).await;
    drop(permit);
    response
}
