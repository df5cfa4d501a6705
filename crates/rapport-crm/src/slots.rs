//! Heavy work with a bound: CPU-bound work (an Argon2 hash, a search of the index) runs on
//! blocking threads, never the async ones, at most `running` at a time — half the cores,
//! so that a flood of it leaves the other half to everything else — and past
//! `max_waiting` callers waiting for a slot, a caller is told to come back (503) instead
//! of queueing: a flood costs the server neither all its cores nor its memory.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

use crate::{CrmError, CrmResult};

pub struct Slots {
    running: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
    /// What a caller turned away is told.
    busy: &'static str,
}

/// Half the cores, at least one.
pub fn half_the_cores() -> usize {
    (std::thread::available_parallelism().map_or(2, |n| n.get()) / 2).max(1)
}

impl Slots {
    pub fn new(running: usize, max_waiting: usize, busy: &'static str) -> Slots {
        Slots {
            running: Semaphore::new(running.max(1)),
            waiting: AtomicUsize::new(0),
            max_waiting,
            busy,
        }
    }

    /// Runs `work` on a blocking thread once a slot is free; `Unavailable` when too many
    /// wait already.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> CrmResult<T> {
        let busy = || CrmError::Unavailable(self.busy.into());
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(busy());
        }
        let permit = self.running.acquire().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let _permit = permit.map_err(|_| busy())?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| CrmError::Unavailable(format!("the work stopped: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_running_at_once_and_the_rest_turned_away_past_the_queue() {
        let slots = Arc::new(Slots::new(1, 2, "busy"));
        let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
        let release = Arc::new(std::sync::Barrier::new(2));
        let first = {
            let (slots, release) = (slots.clone(), release.clone());
            tokio::spawn(async move {
                slots
                    .run(move || {
                        started_tx.send(()).unwrap();
                        release.wait();
                    })
                    .await
            })
        };
        started.recv().await.unwrap();
        // One runs; two may wait; the fourth is turned away at once.
        let waiting: Vec<_> = (0..2)
            .map(|i| {
                let slots = slots.clone();
                tokio::spawn(async move { slots.run(move || i).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(matches!(slots.run(|| 9).await, Err(CrmError::Unavailable(m)) if m == "busy"));
        release.wait();
        first.await.unwrap().unwrap();
        for (i, w) in waiting.into_iter().enumerate() {
            assert_eq!(w.await.unwrap().unwrap(), i);
        }
    }
}
