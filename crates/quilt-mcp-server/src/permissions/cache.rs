//! The permission engine's cache: one answer per key, reused for a short time (TTL), and
//! single-flight — concurrent identical checks share one probe.
//!
//! The pattern is the credential cache's (`quilt_mcp_aws::cache`: a slot per key, time from a
//! [`Clock`] so tests move it), with the sharing done by `futures`' [`Shared`] instead of a
//! held lock. Each probe runs as its own tokio task: a caller that goes away (a timed-out
//! request) does not cancel a write probe between its put and its delete, and the callers
//! still waiting get its answer. Answers that prove nothing (an outage) are not reused.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use quilt_mcp_aws::cache::Clock;

/// Above this many keys, finished stale entries are swept on insert.
const SWEEP_ABOVE: usize = 4096;

/// How long after its start a probe nobody has awaited to the end may still be joined.
const JOIN_WINDOW: Duration = Duration::from_secs(60);

/// A value the cache can hold.
pub(crate) trait Probed: Clone + Send + Sync + 'static {
    /// Whether the value may be reused (false for answers that prove nothing).
    fn reusable(&self) -> bool;
    /// The value for a probe task that panicked or was cancelled.
    fn failed(why: String) -> Self;
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// This call ran the probe.
    Probed,
    /// This call joined a probe another call had started.
    Joined,
    /// A finished probe's answer, within its TTL.
    Cached,
}

struct Slot<V> {
    started: SystemTime,
    answer: Shared<BoxFuture<'static, V>>,
}

/// See the module docs.
pub(crate) struct ProbeCache<K, V> {
    slots: Mutex<HashMap<K, Slot<V>>>,
    ttl: Duration,
    clock: Arc<dyn Clock>,
}

impl<K, V> std::fmt::Debug for ProbeCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone, V: Probed> ProbeCache<K, V> {
    /// An empty cache keeping answers for `ttl`.
    pub(crate) fn new(ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            ttl,
            clock,
        }
    }

    /// The clock's now.
    pub(crate) fn now(&self) -> SystemTime {
        self.clock.now()
    }

    fn fresh(&self, slot: &Slot<V>, not_before: Option<SystemTime>) -> bool {
        match slot.answer.peek() {
            // In flight: join it (single-flight), even for a forced refresh. A probe whose
            // callers all went away finishes unobserved; past the join window its answer is
            // treated as stale.
            None => self.clock.now() < slot.started + self.ttl + JOIN_WINDOW,
            Some(v) => {
                v.reusable()
                    && self.clock.now() < slot.started + self.ttl
                    && not_before.is_none_or(|t| slot.started >= t)
            }
        }
    }

    /// The answer for `key`: a running probe's, a cached one started at or after
    /// `not_before` (when given) and within the TTL, or the answer of `probe`, started now as
    /// a task of its own.
    pub(crate) async fn get_or_probe<F, Fut>(
        &self,
        key: K,
        not_before: Option<SystemTime>,
        probe: F,
    ) -> (V, Origin)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V> + Send + 'static,
    {
        let (answer, origin) = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            match slots.get(&key).filter(|s| self.fresh(s, not_before)) {
                Some(slot) => {
                    let origin = if slot.answer.peek().is_some() {
                        Origin::Cached
                    } else {
                        Origin::Joined
                    };
                    (slot.answer.clone(), origin)
                }
                None => {
                    if slots.len() > SWEEP_ABOVE {
                        let now = self.clock.now();
                        let ttl = self.ttl;
                        slots.retain(|_, s| s.answer.peek().is_none() || now < s.started + ttl);
                    }
                    let task = tokio::spawn(probe());
                    let answer = async move {
                        task.await
                            .unwrap_or_else(|e| V::failed(format!("the check failed: {e}")))
                    }
                    .boxed()
                    .shared();
                    slots.insert(
                        key,
                        Slot {
                            started: self.clock.now(),
                            answer: answer.clone(),
                        },
                    );
                    (answer, Origin::Probed)
                }
            }
        };
        (answer.await, origin)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use quilt_mcp_aws::cache::ManualClock;

    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Answer(usize, bool);

    impl Probed for Answer {
        fn reusable(&self) -> bool {
            self.1
        }
        fn failed(_: String) -> Self {
            Answer(0, false)
        }
    }

    fn cache(clock: &ManualClock, ttl_s: u64) -> Arc<ProbeCache<&'static str, Answer>> {
        Arc::new(ProbeCache::new(
            Duration::from_secs(ttl_s),
            Arc::new(clock.clone()),
        ))
    }

    async fn probe(runs: &Arc<AtomicUsize>, reusable: bool) -> Answer {
        let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        Answer(n, reusable)
    }

    #[tokio::test]
    async fn concurrent_identical_checks_share_one_probe() {
        let clock = ManualClock::new();
        let cache = cache(&clock, 60);
        let runs = Arc::new(AtomicUsize::new(0));
        let calls = (0..50).map(|_| {
            let (cache, runs) = (cache.clone(), runs.clone());
            tokio::spawn(async move {
                cache
                    .get_or_probe("alice/bucket/list", None, || {
                        let runs = runs.clone();
                        async move { probe(&runs, true).await }
                    })
                    .await
            })
        });
        let answers = futures::future::join_all(calls).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let mut origins = Vec::new();
        for a in answers {
            let (answer, origin) = a.expect("join");
            assert_eq!(answer, Answer(1, true));
            origins.push(origin);
        }
        assert_eq!(origins.iter().filter(|o| **o == Origin::Probed).count(), 1);
        // Another key is another probe.
        let r = runs.clone();
        cache
            .get_or_probe(
                "bob/bucket/list",
                None,
                || async move { probe(&r, true).await },
            )
            .await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn answers_expire_after_the_ttl_and_force_refresh_bypasses_them() {
        let clock = ManualClock::new();
        let cache = cache(&clock, 60);
        let runs = Arc::new(AtomicUsize::new(0));
        let get = |not_before: Option<SystemTime>| {
            let runs = runs.clone();
            let cache = cache.clone();
            async move {
                cache
                    .get_or_probe("k", not_before, || async move { probe(&runs, true).await })
                    .await
            }
        };
        assert_eq!(get(None).await, (Answer(1, true), Origin::Probed));
        clock.advance(Duration::from_secs(59));
        assert_eq!(get(None).await, (Answer(1, true), Origin::Cached));
        // force_refresh: only an answer started at or after the request counts.
        let now = clock.now();
        assert_eq!(get(Some(now)).await, (Answer(2, true), Origin::Probed));
        assert_eq!(
            get(Some(now)).await,
            (Answer(2, true), Origin::Cached),
            "a refresh already made for this request is reused"
        );
        clock.advance(Duration::from_secs(61));
        assert_eq!(get(None).await, (Answer(3, true), Origin::Probed));
    }

    #[tokio::test]
    async fn answers_that_prove_nothing_are_not_reused_and_ttl_zero_never_reuses() {
        let clock = ManualClock::new();
        let c = cache(&clock, 60);
        let runs = Arc::new(AtomicUsize::new(0));
        for expected in 1..=2 {
            let r = runs.clone();
            let (a, _) = c
                .get_or_probe("k", None, || async move { probe(&r, false).await })
                .await;
            assert_eq!(a.0, expected);
        }
        let c = cache(&clock, 0);
        for expected in 3..=4 {
            let r = runs.clone();
            let (a, origin) = c
                .get_or_probe("k", None, || async move { probe(&r, true).await })
                .await;
            assert_eq!((a.0, origin), (expected, Origin::Probed));
        }
    }

    #[tokio::test]
    async fn a_probe_finishes_even_when_its_caller_goes_away() {
        let clock = ManualClock::new();
        let c = cache(&clock, 60);
        let finished = Arc::new(AtomicUsize::new(0));
        let f = finished.clone();
        let call = c.get_or_probe("k", None, || async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            f.fetch_add(1, Ordering::SeqCst);
            Answer(1, true)
        });
        // The caller gives up almost at once.
        let _ = tokio::time::timeout(Duration::from_millis(5), call).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(
            finished.load(Ordering::SeqCst),
            1,
            "the probe ran to its end"
        );
        let (a, origin) = c
            .get_or_probe("k", None, || async { Answer(9, true) })
            .await;
        assert_eq!(
            (a, origin),
            (Answer(1, true), Origin::Joined),
            "its answer is there for the next caller"
        );
    }
}
