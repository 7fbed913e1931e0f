//! Admission control for `/mcp`, in two stages around authentication, so that no one caller —
//! and no flood of bad tokens — can take the server from the others.
//!
//! 1. **Before authentication** only a small budget of requests may be in token verification
//!    at once (`MCP_MAX_AUTHENTICATING`; [`Admission::authenticating`], taken by the auth
//!    middleware and released as soon as the token is verified or refused). Bad tokens never
//!    reach stage 2, so a flood of them competes only for these short verification slots,
//!    never for the calls of authenticated callers. Over the budget: 503 + `Retry-After`.
//! 2. **After authentication**, per caller — the identity (issuer, subject), see
//!    `quilt_mcp_auth::identity` — ([`admit`]):
//!    - a share of the in-flight calls (`MCP_CALLER_MAX_IN_FLIGHT`): over it, 429;
//!    - a rate (`MCP_CALLER_RATE_PER_S` sustained, `MCP_CALLER_BURST` at once; GCRA from the
//!      `governor` crate): over it, 429 with `Retry-After` saying when the next call fits;
//!    - then the process-wide bound (`MCP_MAX_IN_FLIGHT`): over it, 503 + `Retry-After`, so an
//!      overloaded task sheds load quickly and the ALB can send the retry elsewhere.
//!
//! Why HTTP 429 and not a tool error: admission runs before the JSON-RPC body is read, for
//! every MCP method (a `tools/list` flood costs too), and its point is to spend nothing on the
//! refused request — a tool error needs the body parsed and rmcp run. 429 + `Retry-After` is
//! the status HTTP clients, proxies and MCP SDKs already treat as "back off and retry", and a
//! model never mistakes it for a verdict about its arguments.
//!
//! **A refused caller is answered slowly, on purpose.** A 429 for a caller over its share or
//! rate is held for [`REFUSAL_HOLD`] (or the rate's own wait, if shorter) before it is sent.
//! A client that honours `Retry-After` waits a second anyway and does not notice; a client
//! that floods in a closed loop is slowed from thousands of refusals a second per connection
//! to a few, so its refusals stop taking the CPU other callers' calls need (measured in
//! `docs/PERFORMANCE.md`, "Fairness"). The hold is bounded: at most [`MAX_HELD`] refusals are
//! held at once (a parked task and its connection each); beyond that they are answered at
//! once. The process-wide 503s are never held, so the load balancer can retry elsewhere
//! quickly. Their log lines are sampled too (`admission_refused`, at most
//! [`REFUSAL_LINES_PER_S`] a second, each with the count it stands for), so a flood cannot
//! turn into a flood of log lines.
//!
//! Memory is bounded by the server, not the callers: the in-flight table holds only callers
//! with a call in flight (an entry leaves with its last call), and the rate table is swept with
//! governor's `retain_recent` (which drops callers whose bucket has refilled) whenever it has
//! doubled since the last sweep, so it holds about twice the callers active within one refill
//! window (`MCP_CALLER_BURST / MCP_CALLER_RATE_PER_S` seconds), and at least
//! [`SWEEP_FLOOR`] before a sweep.
//!
//! Written as middleware over shared semaphores because tower's `ConcurrencyLimitLayer`
//! queues rather than rejects (and under axum did not bound concurrency at all in a probe;
//! see TESTING.md). The per-caller in-flight share is a counted map by hand: governor limits
//! rates, not concurrency, and a map of counters with an RAII guard is all it takes.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::{HeaderValue, StatusCode, header};
use quilt_mcp_auth::{IdentityKey, RequestContext};
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The rate table is not swept below this many callers.
pub const SWEEP_FLOOR: usize = 1024;

/// How long a per-caller refusal (429) is held before it is answered (see the module docs).
pub const REFUSAL_HOLD: Duration = Duration::from_millis(1000);

/// Most refusals held at once; more are answered without the hold.
pub const MAX_HELD: usize = 4096;

/// `admission_refused` log lines per second, process-wide; the rest are counted in the next
/// line's `refusals` field.
pub const REFUSAL_LINES_PER_S: u32 = 10;

/// Admission settings (`docs/CONFIGURATION.md`, "Admission and fairness").
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct FairnessSettings {
    /// Requests in token verification at once, before authentication; beyond it, 503 +
    /// Retry-After. Bounds what a flood of bad tokens can occupy.
    #[arg(long, env = "MCP_MAX_AUTHENTICATING", default_value_t = 64)]
    pub max_authenticating: usize,

    /// Most MCP requests one caller (issuer + subject) may have in flight; beyond it, 429 +
    /// Retry-After. At most MCP_MAX_IN_FLIGHT. Default: 32, or MCP_MAX_IN_FLIGHT if smaller.
    #[arg(long, env = "MCP_CALLER_MAX_IN_FLIGHT")]
    pub caller_max_in_flight: Option<usize>,

    /// Sustained MCP requests per second one caller may make; beyond it (and the burst),
    /// 429 + Retry-After. 0 turns the per-caller rate off.
    #[arg(long, env = "MCP_CALLER_RATE_PER_S", default_value_t = 50)]
    pub caller_rate_per_s: u32,

    /// Requests one caller may make at once above its sustained rate (the bucket size).
    #[arg(long, env = "MCP_CALLER_BURST", default_value_t = 200)]
    pub caller_burst: u32,
}

impl Default for FairnessSettings {
    fn default() -> Self {
        Self {
            max_authenticating: 64,
            caller_max_in_flight: None,
            caller_rate_per_s: 50,
            caller_burst: 200,
        }
    }
}

/// The per-caller in-flight share when `MCP_CALLER_MAX_IN_FLIGHT` is unset (or
/// `MCP_MAX_IN_FLIGHT`, if smaller).
pub const DEFAULT_CALLER_MAX_IN_FLIGHT: usize = 32;

impl FairnessSettings {
    /// One caller's share of the `max_in_flight` process-wide bound.
    pub fn caller_share(&self, max_in_flight: usize) -> usize {
        self.caller_max_in_flight
            .unwrap_or(DEFAULT_CALLER_MAX_IN_FLIGHT.min(max_in_flight))
            .clamp(1, max_in_flight.max(1))
    }

    /// Checks the settings against the process-wide bound; the error names the setting.
    pub fn validate(&self, max_in_flight: usize) -> Result<(), (&'static str, String)> {
        if self.max_authenticating == 0 {
            return Err(("MCP_MAX_AUTHENTICATING", "must be at least 1".into()));
        }
        if let Some(share) = self.caller_max_in_flight
            && !(1..=max_in_flight).contains(&share)
        {
            return Err((
                "MCP_CALLER_MAX_IN_FLIGHT",
                format!("must be between 1 and MCP_MAX_IN_FLIGHT ({max_in_flight})"),
            ));
        }
        if self.caller_rate_per_s > 0 && self.caller_burst == 0 {
            return Err(("MCP_CALLER_BURST", "must be at least 1".into()));
        }
        Ok(())
    }
}

/// Why a request was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The process-wide in-flight bound is reached (503).
    Overloaded,
    /// Too many requests are being authenticated at once (503).
    Authenticating,
    /// This caller has its share of in-flight calls (429).
    CallerBusy {
        /// The share.
        limit: usize,
    },
    /// This caller is over its rate (429).
    CallerRate {
        /// When the next request would fit.
        retry_after: Duration,
    },
}

impl Refusal {
    /// How long to hold this refusal before answering it: per-caller refusals only.
    pub fn hold(&self) -> Option<Duration> {
        match self {
            // Retry-After says at least a second for both, so the hold costs a client that
            // honours it nothing.
            Self::CallerBusy { .. } | Self::CallerRate { .. } => Some(REFUSAL_HOLD),
            Self::Overloaded | Self::Authenticating => None,
        }
    }

    /// A stable label for logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Overloaded => "overloaded",
            Self::Authenticating => "authenticating",
            Self::CallerBusy { .. } => "caller_in_flight",
            Self::CallerRate { .. } => "caller_rate",
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, error, description, retry_after_s) = match &self {
            Self::Overloaded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "server is at capacity; retry shortly".to_owned(),
                1,
            ),
            Self::Authenticating => (
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "too many requests are being authenticated; retry shortly".to_owned(),
                1,
            ),
            Self::CallerBusy { limit } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!("this caller already has {limit} requests in flight; retry when one ends"),
                1,
            ),
            Self::CallerRate { retry_after } => {
                // Whole seconds, rounded up, at least 1 (Retry-After has no fractions).
                let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                let secs = secs.max(1);
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_requests",
                    format!("this caller is over its request rate; retry after {secs} s"),
                    secs,
                )
            }
        };
        let mut response = (
            status,
            axum::Json(json!({"error": error, "error_description": description})),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
        response
    }
}

/// The shared admission state. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Admission {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    permits: Arc<Semaphore>,
    limit: usize,
    authenticating: Arc<Semaphore>,
    callers: Mutex<HashMap<IdentityKey, usize>>,
    caller_limit: usize,
    rate: Option<DefaultKeyedRateLimiter<IdentityKey>>,
    sweep_at: AtomicUsize,
    /// Places for held refusals.
    held: Arc<Semaphore>,
    /// Samples refusal log lines.
    refusal_lines: governor::DefaultDirectRateLimiter,
    /// Refusals since the last refusal line.
    unlogged: std::sync::atomic::AtomicU64,
}

/// An admitted request: holds its process-wide permit and its place in the caller's share
/// until dropped.
#[derive(Debug)]
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
    _caller: CallerSlot,
}

/// One of a caller's in-flight places; leaving the last one removes the caller's entry.
#[derive(Debug)]
struct CallerSlot {
    inner: Arc<Inner>,
    caller: IdentityKey,
}

impl Drop for CallerSlot {
    fn drop(&mut self) {
        let mut callers = self.inner.lock_callers();
        if let Some(n) = callers.get_mut(&self.caller) {
            *n -= 1;
            if *n == 0 {
                callers.remove(&self.caller);
            }
        }
    }
}

impl Inner {
    fn lock_callers(&self) -> std::sync::MutexGuard<'_, HashMap<IdentityKey, usize>> {
        self.callers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Admission {
    /// A process-wide bound of `limit` concurrent requests and the default per-caller settings.
    pub fn new(limit: usize) -> Self {
        Self::with_fairness(limit, &FairnessSettings::default())
    }

    /// A process-wide bound of `limit` and the per-caller bounds of `settings`.
    pub fn with_fairness(limit: usize, settings: &FairnessSettings) -> Self {
        let rate = NonZeroU32::new(settings.caller_rate_per_s).map(|rate| {
            let burst = NonZeroU32::new(settings.caller_burst).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Self {
            inner: Arc::new(Inner {
                permits: Arc::new(Semaphore::new(limit)),
                limit,
                authenticating: Arc::new(Semaphore::new(settings.max_authenticating.max(1))),
                callers: Mutex::new(HashMap::new()),
                caller_limit: settings.caller_share(limit),
                rate,
                sweep_at: AtomicUsize::new(SWEEP_FLOOR),
                held: Arc::new(Semaphore::new(MAX_HELD)),
                refusal_lines: RateLimiter::direct(Quota::per_second(
                    NonZeroU32::new(REFUSAL_LINES_PER_S).unwrap_or(NonZeroU32::MIN),
                )),
                unlogged: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// Requests being served now.
    pub fn in_flight(&self) -> usize {
        self.inner.limit - self.inner.permits.available_permits()
    }

    /// The process-wide bound.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// Requests `caller` has in flight now.
    pub fn caller_in_flight(&self, caller: &IdentityKey) -> usize {
        self.inner
            .lock_callers()
            .get(caller)
            .copied()
            .unwrap_or_default()
    }

    /// Callers in the rate table (for tests and metrics; an estimate under concurrency).
    pub fn rate_table_len(&self) -> usize {
        self.inner.rate.as_ref().map_or(0, RateLimiter::len)
    }

    /// A slot in the pre-authentication budget, held while a token is verified.
    pub fn authenticating(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        self.inner
            .authenticating
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::Authenticating)
    }

    /// Admits a request of `caller`, or says why not. See the module docs for the order.
    pub fn admit(&self, caller: IdentityKey) -> Result<Admitted, Refusal> {
        let slot = {
            let mut callers = self.inner.lock_callers();
            let n = callers.entry(caller).or_insert(0);
            if *n >= self.inner.caller_limit {
                // Entries exist only while the caller has a call in flight, so `n > 0` here.
                return Err(Refusal::CallerBusy {
                    limit: self.inner.caller_limit,
                });
            }
            *n += 1;
            CallerSlot {
                inner: self.inner.clone(),
                caller,
            }
        };
        if let Some(rate) = &self.inner.rate {
            if let Err(not_until) = rate.check_key(&caller) {
                let retry_after = not_until.wait_time_from(DefaultClock::default().now());
                return Err(Refusal::CallerRate { retry_after });
            }
            self.sweep_if_grown(rate);
        }
        let permit = self
            .inner
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::Overloaded)?;
        Ok(Admitted {
            _permit: permit,
            _caller: slot,
        })
    }

    /// Whether to write a log line for this refusal, and how many refusals it stands for
    /// (itself and those not logged since the last line).
    pub fn refusal_line(&self) -> Option<u64> {
        self.inner.unlogged.fetch_add(1, Ordering::Relaxed);
        if self.inner.refusal_lines.check().is_err() {
            return None;
        }
        // At least this one, even when a concurrent line took the count first.
        Some(self.inner.unlogged.swap(0, Ordering::Relaxed).max(1))
    }

    /// Holds `refusal` for its hold time when a place is free (see the module docs).
    pub async fn hold(&self, refusal: &Refusal) {
        let Some(hold) = refusal.hold() else {
            return;
        };
        if let Ok(_place) = self.inner.held.clone().try_acquire_owned() {
            // Spread over [hold/2, hold]: refusals held together would otherwise come back as
            // one burst of retries. Not a secret, so the clock's nanoseconds are random enough.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let half = hold / 2;
            let jitter = half.mul_f64(f64::from(nanos % 1000) / 1000.0);
            tokio::time::sleep(half + jitter).await;
        }
    }

    /// Drops callers whose rate state is back to fresh once the table has doubled since the
    /// last sweep: amortised constant work per request, memory about twice the active callers.
    fn sweep_if_grown(&self, rate: &DefaultKeyedRateLimiter<IdentityKey>) {
        let sweep_at = self.inner.sweep_at.load(Ordering::Relaxed);
        if rate.len() < sweep_at {
            return;
        }
        rate.retain_recent();
        rate.shrink_to_fit();
        let next = (rate.len() * 2).max(SWEEP_FLOOR);
        self.inner.sweep_at.store(next, Ordering::Relaxed);
        tracing::debug!(
            callers = rate.len(),
            next_sweep_at = next,
            "rate table swept"
        );
    }
}

/// The middleware (after authentication): admit the caller in the request's context, holding
/// the admission until the response is produced and the tool call has ended (the call holds a
/// share of it for its whole life, `call_limits.rs`), or answer the refusal.
pub async fn admit(State(admission): State<Admission>, request: Request, next: Next) -> Response {
    let Some(ctx) = request.extensions().get::<Arc<RequestContext>>().cloned() else {
        // The auth middleware runs first and always sets a context; refuse rather than admit
        // a request nobody can be charged for.
        tracing::error!("admission without a request context; refusing");
        return Refusal::Overloaded.into_response();
    };
    let principal = ctx.principal();
    match admission.admit(principal.identity_key()) {
        Ok(admitted) => {
            let admitted = crate::call_limits::Admitted::new(admitted);
            let mut request = request;
            request.extensions_mut().insert(admitted.clone());
            let response = next.run(request).await;
            drop(admitted);
            response
        }
        Err(refusal) => {
            if let Some(refusals) = admission.refusal_line() {
                tracing::warn!(
                    target: "audit",
                    event = "admission_refused",
                    request_id = ctx.request_id(),
                    issuer = %principal.issuer,
                    subject = %principal.subject,
                    reason = refusal.label(),
                    refusals,
                    in_flight = admission.in_flight(),
                    limit = admission.limit(),
                );
            }
            admission.hold(&refusal).await;
            refusal.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> IdentityKey {
        IdentityKey::new("https://idp", s)
    }

    fn settings(caller_max_in_flight: usize, rate: u32, burst: u32) -> FairnessSettings {
        FairnessSettings {
            max_authenticating: 2,
            caller_max_in_flight: Some(caller_max_in_flight),
            caller_rate_per_s: rate,
            caller_burst: burst,
        }
    }

    #[test]
    fn a_caller_gets_its_share_and_the_entry_leaves_with_its_last_call() {
        let a = Admission::with_fairness(10, &settings(2, 0, 0));
        let one = a.admit(key("alice")).expect("1st");
        let two = a.admit(key("alice")).expect("2nd");
        assert_eq!(
            a.admit(key("alice")).expect_err("3rd"),
            Refusal::CallerBusy { limit: 2 }
        );
        // Another caller is not affected; the same subject from another issuer is another caller.
        let bob = a.admit(key("bob")).expect("bob");
        let other_issuer = a
            .admit(IdentityKey::new("https://other", "alice"))
            .expect("alice of another issuer");
        assert_eq!(a.in_flight(), 4);
        drop((one, two, bob, other_issuer));
        assert_eq!(a.caller_in_flight(&key("alice")), 0);
        assert!(a.inner.lock_callers().is_empty(), "no entries left behind");
        assert_eq!(a.in_flight(), 0);
    }

    #[test]
    fn the_process_bound_still_holds_and_a_refusal_keeps_nothing() {
        let a = Admission::with_fairness(2, &settings(2, 0, 0));
        let _x = a.admit(key("x")).expect("x");
        let _y = a.admit(key("y")).expect("y");
        assert_eq!(a.admit(key("z")).expect_err("full"), Refusal::Overloaded);
        assert_eq!(a.caller_in_flight(&key("z")), 0);
    }

    #[test]
    fn only_per_caller_refusals_are_held_and_log_lines_are_sampled() {
        assert_eq!(Refusal::CallerBusy { limit: 1 }.hold(), Some(REFUSAL_HOLD));
        assert_eq!(
            Refusal::CallerRate {
                retry_after: Duration::from_millis(3)
            }
            .hold(),
            Some(REFUSAL_HOLD)
        );
        assert_eq!(Refusal::Overloaded.hold(), None);
        assert_eq!(Refusal::Authenticating.hold(), None);
        let a = Admission::new(4);
        let lines: Vec<u64> = (0..1000).filter_map(|_| a.refusal_line()).collect();
        assert!(
            !lines.is_empty() && lines.len() <= 2 * REFUSAL_LINES_PER_S as usize,
            "{} lines for 1000 refusals",
            lines.len()
        );
        // Every refusal is counted in some line, or still waiting for the next one.
        let pending = a.inner.unlogged.load(Ordering::Relaxed);
        assert_eq!(lines.iter().sum::<u64>() + pending, 1000);
    }

    #[test]
    fn the_rate_refuses_with_a_retry_after_and_keeps_no_slot() {
        let a = Admission::with_fairness(10, &settings(10, 1, 2));
        drop(a.admit(key("r")).expect("1"));
        drop(a.admit(key("r")).expect("2 (burst)"));
        match a.admit(key("r")) {
            Err(Refusal::CallerRate { retry_after }) => {
                assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(1));
            }
            other => panic!("expected a rate refusal, got {other:?}"),
        }
        assert_eq!(a.caller_in_flight(&key("r")), 0);
        drop(
            a.admit(key("s"))
                .expect("another caller has its own bucket"),
        );
    }

    #[test]
    fn the_rate_table_is_swept_once_callers_go_quiet() {
        // 1000/s with a burst of 1: a caller's state is fresh again after 1 ms.
        let a = Admission::with_fairness(10, &settings(10, 1000, 1));
        for i in 0..3 * SWEEP_FLOOR {
            drop(a.admit(key(&format!("c{i}"))).expect("admitted"));
            if i % 512 == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        assert!(
            a.rate_table_len() < 2 * SWEEP_FLOOR,
            "{} callers kept",
            a.rate_table_len()
        );
    }

    #[test]
    fn the_pre_auth_budget_is_small_and_comes_back() {
        let a = Admission::with_fairness(10, &settings(1, 0, 0));
        let p1 = a.authenticating().expect("1");
        let _p2 = a.authenticating().expect("2");
        assert_eq!(a.authenticating().expect_err("3"), Refusal::Authenticating);
        drop(p1);
        assert!(a.authenticating().is_ok());
    }

    #[test]
    fn settings_are_checked_against_the_process_bound() {
        assert!(settings(4, 1, 1).validate(4).is_ok());
        let default = FairnessSettings::default();
        assert!(
            default.validate(4).is_ok(),
            "the default share follows a small bound"
        );
        assert_eq!(
            (default.caller_share(4), default.caller_share(256)),
            (4, DEFAULT_CALLER_MAX_IN_FLIGHT)
        );
        assert_eq!(
            settings(5, 1, 1).validate(4).expect_err("over").0,
            "MCP_CALLER_MAX_IN_FLIGHT"
        );
        assert_eq!(
            settings(0, 1, 1).validate(4).expect_err("zero").0,
            "MCP_CALLER_MAX_IN_FLIGHT"
        );
        assert_eq!(
            settings(1, 1, 0).validate(4).expect_err("burst").0,
            "MCP_CALLER_BURST"
        );
    }
}
