//! Work that outlives the request that started it (today: package task runs,
//! `package_tasks.rs`), tracked so a graceful shutdown can wait for it within the grace period
//! and then tell what is left to stop and record itself as abandoned.
//!
//! Hand-written on a `watch` channel (a count of runs) because tokio-util's `TaskTracker`
//! needs its `rt` feature, which nothing else here enables; what is needed is a count, a way to
//! wait for zero, and a stop signal.

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The background runs of one server. Cheap to clone; clones share the count.
#[derive(Debug, Clone)]
pub struct Background {
    runs: Arc<watch::Sender<usize>>,
    stop: CancellationToken,
}

impl Default for Background {
    fn default() -> Self {
        Self {
            runs: Arc::new(watch::Sender::new(0)),
            stop: CancellationToken::new(),
        }
    }
}

/// One run, counted until dropped.
#[derive(Debug)]
pub struct Run(Arc<watch::Sender<usize>>);

impl Drop for Run {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Background {
    /// Counts a run until the returned guard drops.
    pub fn enter(&self) -> Run {
        self.runs.send_modify(|n| *n += 1);
        Run(self.runs.clone())
    }

    /// Runs going on now.
    pub fn running(&self) -> usize {
        *self.runs.borrow()
    }

    /// Resolves once no run is going on.
    pub async fn idle(&self) {
        let mut rx = self.runs.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// Tells every run to stop now (the grace period is over).
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Resolves when [`Background::stop`] was called.
    pub async fn stopped(&self) {
        self.stop.cancelled().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_waits_for_every_run_and_stop_reaches_them() {
        let bg = Background::default();
        bg.idle().await;
        let a = bg.enter();
        let b = bg.enter();
        assert_eq!(bg.running(), 2);
        let waiter = tokio::spawn({
            let bg = bg.clone();
            async move { bg.idle().await }
        });
        drop(a);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(b);
        waiter.await.expect("idle");
        let stopped = tokio::spawn({
            let bg = bg.clone();
            async move { bg.stopped().await }
        });
        bg.stop();
        stopped.await.expect("stopped");
    }
}
