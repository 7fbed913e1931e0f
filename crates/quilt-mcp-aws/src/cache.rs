//! The credential cache: per key, credentials are reused until 5 minutes before they expire;
//! concurrent first calls for one key share one fetch (single-flight); failures are never
//! cached. Time comes from a [`Clock`] so tests can move it instead of sleeping.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::credentials::AwsCredentials;

/// Credentials are refreshed this long before they expire.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Entries kept before expired ones are swept on insert.
const SWEEP_ABOVE: usize = 4096;

/// The time, for expiry decisions.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock a test moves by hand.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<SystemTime>>);

impl ManualClock {
    /// A clock at the current system time.
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(SystemTime::now())))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<AwsCredentials>>>;

/// A single-flight credential cache. See the module docs.
#[derive(Debug)]
pub struct CredentialCache<K> {
    slots: Mutex<HashMap<K, Slot>>,
    clock: Arc<dyn Clock>,
}

impl<K: Hash + Eq + Clone> CredentialCache<K> {
    /// An empty cache reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            clock,
        }
    }

    /// Whether `creds` are still good enough to hand out.
    pub fn is_fresh(&self, creds: &AwsCredentials) -> bool {
        creds
            .expires_at()
            .is_none_or(|exp| self.clock.now() + REFRESH_MARGIN < exp)
    }

    /// The cached credentials for `key`, or the result of `fetch` (run by one caller at a time
    /// per key; the others wait and reuse its result).
    pub async fn get_or_fetch<F, Fut, E>(&self, key: &K, fetch: F) -> Result<AwsCredentials, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AwsCredentials, E>>,
    {
        let slot = {
            let mut slots = self
                .slots
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if slots.len() > SWEEP_ABOVE {
                self.sweep(&mut slots);
            }
            slots.entry(key.clone()).or_default().clone()
        };
        let mut cached = slot.lock().await;
        if let Some(creds) = cached.as_ref().filter(|c| self.is_fresh(c)) {
            return Ok(creds.clone());
        }
        let creds = fetch().await?;
        *cached = Some(creds.clone());
        Ok(creds)
    }

    /// Drops entries whose credentials are stale and that nobody is fetching.
    fn sweep(&self, slots: &mut HashMap<K, Slot>) {
        slots.retain(|_, slot| match slot.try_lock() {
            Ok(c) => c.as_ref().is_some_and(|c| self.is_fresh(c)),
            Err(_) => true,
        });
    }

    /// How many keys are cached.
    pub fn len(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use quilt_mcp_auth::Secret;

    use super::*;

    fn creds(clock: &ManualClock, lifetime: Duration) -> AwsCredentials {
        AwsCredentials::new(
            "ASIATEST",
            Secret::new("s"),
            None,
            Some(clock.now() + lifetime),
        )
    }

    #[tokio::test]
    async fn hundred_simultaneous_first_calls_fetch_once() {
        let clock = ManualClock::new();
        let cache = Arc::new(CredentialCache::new(Arc::new(clock.clone())));
        let fetches = Arc::new(AtomicUsize::new(0));
        let calls = (0..100).map(|_| {
            let (cache, fetches, clock) = (cache.clone(), fetches.clone(), clock.clone());
            tokio::spawn(async move {
                cache
                    .get_or_fetch(&"alice", || async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, ()>(creds(&clock, Duration::from_secs(3600)))
                    })
                    .await
            })
        });
        for call in futures::future::join_all(calls).await {
            assert!(call.expect("join").is_ok());
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn refreshes_five_minutes_before_expiry_and_never_caches_failures() {
        let clock = ManualClock::new();
        let cache = CredentialCache::new(Arc::new(clock.clone()));
        let fetches = AtomicUsize::new(0);
        let fetch = || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(creds(&clock, Duration::from_secs(3600)))
        };
        cache.get_or_fetch(&1, fetch).await.expect("first");
        clock.advance(Duration::from_secs(3600 - 301));
        cache.get_or_fetch(&1, fetch).await.expect("cached");
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            1,
            "still more than 5 minutes left"
        );
        clock.advance(Duration::from_secs(2));
        cache.get_or_fetch(&1, fetch).await.expect("refreshed");
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            2,
            "inside the 5 minute margin: refreshed"
        );

        let failed = cache
            .get_or_fetch(&2, || async { Err::<AwsCredentials, _>("sts down") })
            .await;
        assert_eq!(failed.expect_err("fails"), "sts down");
        cache
            .get_or_fetch(&2, fetch)
            .await
            .expect("the failure was not cached");
    }
}
