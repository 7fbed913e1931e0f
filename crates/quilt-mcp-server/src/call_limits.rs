//! Whole-call limits: the admission permit and the deadline of an MCP request cover the tool
//! call's whole life, whether it answers as one JSON body or as an SSE stream.
//!
//! Why this is needed: the HTTP layers (admission, tower's timeout) wrap the future that
//! produces the *response headers*. Once a tool sends a progress notification, rmcp answers
//! with an SSE stream and the headers are out; from then on the tool runs on rmcp's task with
//! neither a permit nor a deadline. So the limits travel with the request instead:
//!
//! - admission puts its permit into the request's extensions as [`Admitted`] (shared, so the
//!   permit is released when the *last* holder drops it: the middleware after the headers, the
//!   tool call when it ends or is dropped);
//! - [`stamp_deadline`] puts the request's [`Deadline`] there (arrival + `MCP_REQUEST_TIMEOUT_S`
//!   less a small margin, so a JSON answer is a `timeout` tool error rather than the outer 504);
//! - the call scope reads both with [`CallLimits::from_parts`], holds the permit, and runs the
//!   tool under [`CallLimits::run`], which drops the tool's future at the deadline.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::Instant;

/// An admission (the process permit and the caller's slot), held by every part of the
/// request that needs it; released when the last holder drops it.
#[derive(Clone)]
pub(crate) struct Admitted(#[expect(dead_code, reason = "held for its Drop")] Arc<dyn Send + Sync>);

impl std::fmt::Debug for Admitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Admitted")
    }
}

impl Admitted {
    /// Wraps what admission took for this request (held only for its `Drop`).
    pub(crate) fn new(held: impl Send + Sync + 'static) -> Self {
        Self(Arc::new(held))
    }
}

/// When the request's tool call must have ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline(pub Instant);

/// How much earlier than the HTTP timeout a tool is cut: a tenth of the timeout, at most 1 s.
fn margin(timeout: Duration) -> Duration {
    (timeout / 10).min(Duration::from_secs(1))
}

/// Middleware on `/mcp`: stamps the request with its [`Deadline`].
pub(crate) async fn stamp_deadline(
    State(timeout): State<Duration>,
    mut request: Request,
    next: Next,
) -> Response {
    let deadline = Instant::now() + timeout.saturating_sub(margin(timeout));
    request.extensions_mut().insert(Deadline(deadline));
    next.run(request).await
}

/// The limits one tool call runs under.
#[derive(Debug, Clone, Default)]
pub struct CallLimits {
    permit: Option<Admitted>,
    deadline: Option<Instant>,
}

/// The call ran past its deadline and was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut;

impl CallLimits {
    /// No permit and no deadline (stdio: one local client, no admission).
    pub fn none() -> Self {
        Self::default()
    }

    /// The limits an HTTP request carries.
    pub fn from_parts(parts: &http::request::Parts) -> Self {
        Self {
            permit: parts.extensions.get::<Admitted>().cloned(),
            deadline: parts.extensions.get::<Deadline>().map(|d| d.0),
        }
    }

    /// With a deadline (tests, and callers that make their own).
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Runs `fut` holding the permit until it ends (or is dropped), stopping it at the
    /// deadline.
    pub async fn run<F: Future>(self, fut: F) -> Result<F::Output, TimedOut> {
        let Self { permit, deadline } = self;
        let _permit = permit;
        match deadline {
            Some(at) => tokio::time::timeout_at(at, fut).await.map_err(|_| TimedOut),
            None => Ok(fut.await),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::Semaphore;

    #[tokio::test]
    async fn the_permit_is_held_until_the_call_ends_and_the_deadline_stops_it() {
        let permits = Arc::new(Semaphore::new(1));
        let admitted = Admitted::new(permits.clone().try_acquire_owned().expect("permit"));
        let limits = CallLimits {
            permit: Some(admitted.clone()),
            deadline: Some(Instant::now() + Duration::from_millis(50)),
        };
        // The middleware's copy is gone (the headers went out): the call still holds it.
        drop(admitted);
        assert_eq!(permits.available_permits(), 0);
        let slow = limits.run(tokio::time::sleep(Duration::from_secs(5)));
        assert_eq!(slow.await, Err(TimedOut));
        assert_eq!(permits.available_permits(), 1, "released at the deadline");
        assert_eq!(CallLimits::none().run(async { 7 }).await, Ok(7));
    }

    #[test]
    fn the_margin_keeps_the_tool_deadline_inside_the_http_timeout() {
        assert_eq!(margin(Duration::from_secs(55)), Duration::from_secs(1));
        assert_eq!(margin(Duration::from_secs(2)), Duration::from_millis(200));
    }
}
