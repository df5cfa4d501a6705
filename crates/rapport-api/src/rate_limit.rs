//! Requests per second per API key (or per signed-in user), answered with Close's 429
//! shape when exceeded.
//!
//! The count lives in the store, so the limit holds across every node
//! ([`Crm::take_rate_allowance`]). A node takes a chunk of a window's allowance at a time
//! and spends it locally: a key at full speed costs the store a write per chunk. A chunk a
//! node took but did not spend is lost to the other nodes for that second, so on several
//! nodes a key may be refused a little before its limit, never let through past it.
//! When the store cannot count, or takes longer than [`STORE_WAIT`], the request passes
//! (a limit must not take the API down).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rapport_crm::Crm;

/// A node takes this share of the limit at a time (at least one request).
const CHUNKS_PER_WINDOW: u32 = 8;
/// How long a request waits for the store to count it before it passes uncounted.
const STORE_WAIT: Duration = Duration::from_millis(250);

/// Where the nodes' counts meet: the store, or a stand-in in tests.
pub trait AllowanceStore: Send + Sync + 'static {
    /// Takes up to `wanted` of `limit` for `key` in the window at `second`; how many.
    fn take<'a>(
        &'a self,
        key: &'a str,
        second: i64,
        wanted: u32,
        limit: u32,
    ) -> Pin<Box<dyn Future<Output = Result<u32, String>> + Send + 'a>>;
}

impl AllowanceStore for Crm {
    fn take<'a>(
        &'a self,
        key: &'a str,
        second: i64,
        wanted: u32,
        limit: u32,
    ) -> Pin<Box<dyn Future<Output = Result<u32, String>> + Send + 'a>> {
        Box::pin(async move {
            self.take_rate_allowance(key, second, wanted, limit)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

#[derive(Clone)]
pub struct RateLimiter {
    /// Requests per second per key; 0 means no limit.
    limit: u32,
    store: Option<Arc<dyn AllowanceStore>>,
    local: Arc<Mutex<Local>>,
}

/// What this node took and has not spent yet.
#[derive(Default)]
struct Local {
    allowance: HashMap<String, Allowance>,
    /// The second whose allowances `allowance` may hold; older ones are dropped.
    second: i64,
}

/// A key's allowance on this node in its latest window.
struct Allowance {
    second: i64,
    /// Requests left of the chunks taken.
    left: u32,
    /// The store had less than a chunk left: the window is spent on every node.
    spent: bool,
}

/// A refused request: the limit and the seconds until the window resets.
#[derive(Debug, PartialEq)]
pub struct Limited {
    pub limit: u32,
    pub reset_seconds: u64,
}

impl RateLimiter {
    /// `limit` requests per second per key, counted in `store`; 0: no limit.
    pub fn new(limit: u32, store: impl AllowanceStore) -> Self {
        RateLimiter {
            limit,
            store: (limit > 0).then(|| Arc::new(store) as Arc<dyn AllowanceStore>),
            local: Arc::default(),
        }
    }

    /// Counts a request of `key` now.
    pub async fn check(&self, key: &str) -> Result<(), Limited> {
        self.check_at(key, rapport_core::time::now().timestamp()).await
    }

    async fn check_at(&self, key: &str, second: i64) -> Result<(), Limited> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        {
            let mut local = self.local.lock().expect("rate limit lock");
            if local.second != second {
                local.second = second;
                local.allowance.retain(|_, allowance| allowance.second >= second);
            }
            if let Some(allowance) = local.allowance.get_mut(key).filter(|a| a.second == second) {
                if allowance.left > 0 {
                    allowance.left -= 1;
                    return Ok(());
                }
                if allowance.spent {
                    return Err(self.limited());
                }
            }
        }
        let chunk = self.limit.div_ceil(CHUNKS_PER_WINDOW);
        let granted = match tokio::time::timeout(STORE_WAIT, store.take(key, second, chunk, self.limit)).await {
            Ok(Ok(granted)) => granted,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot count a request against the rate limit; letting it through");
                return Ok(());
            }
            Err(_) => {
                tracing::warn!("the store is slow to count a request against the rate limit; letting it through");
                return Ok(());
            }
        };
        let mut local = self.local.lock().expect("rate limit lock");
        let allowance = local.allowance.entry(key.to_string()).or_insert(Allowance {
            second,
            left: 0,
            spent: false,
        });
        if allowance.second != second {
            *allowance = Allowance {
                second,
                left: 0,
                spent: false,
            };
        }
        allowance.spent |= granted < chunk;
        if granted == 0 {
            return Err(self.limited());
        }
        allowance.left += granted - 1;
        Ok(())
    }

    fn limited(&self) -> Limited {
        Limited {
            limit: self.limit,
            reset_seconds: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store's arithmetic over a shared map: what [`Crm::take_rate_allowance`] does in
    /// SQL (tested on both backends in `rapport-crm`).
    #[derive(Default, Clone)]
    struct SharedCounts(Arc<Mutex<HashMap<(String, i64), u32>>>, Arc<Mutex<u32>>);

    impl AllowanceStore for SharedCounts {
        fn take<'a>(
            &'a self,
            key: &'a str,
            second: i64,
            wanted: u32,
            limit: u32,
        ) -> Pin<Box<dyn Future<Output = Result<u32, String>> + Send + 'a>> {
            *self.1.lock().unwrap() += 1;
            let mut counts = self.0.lock().unwrap();
            let taken = counts.entry((key.to_string(), second)).or_default();
            let granted = limit.saturating_sub(*taken).min(wanted);
            *taken += wanted;
            Box::pin(std::future::ready(Ok(granted)))
        }
    }

    fn passed(results: &[Result<(), Limited>]) -> usize {
        results.iter().filter(|r| r.is_ok()).count()
    }

    #[tokio::test]
    async fn nodes_together_never_pass_more_than_the_limit() {
        let store = SharedCounts::default();
        let nodes = [RateLimiter::new(16, store.clone()), RateLimiter::new(16, store.clone())];
        let mut results = Vec::new();
        for i in 0..40 {
            results.push(nodes[i % 2].check_at("key", 100).await);
        }
        // Each node takes chunks of 2: all 16 are spent between them, none beyond.
        assert_eq!(passed(&results), 16);
        assert_eq!(
            results.last(),
            Some(&Err(Limited {
                limit: 16,
                reset_seconds: 1
            }))
        );
        // Chunks, not requests, reach the store: 8 chunks of 2, then one refusal per node
        // (a node that was refused refuses the rest of the second on its own).
        assert_eq!(*store.1.lock().unwrap(), 10);
        // The next second starts afresh, and keys are counted apart.
        assert_eq!(nodes[0].check_at("key", 101).await, Ok(()));
        assert_eq!(nodes[1].check_at("other", 100).await, Ok(()));
    }

    #[tokio::test]
    async fn one_node_spends_its_whole_limit() {
        let store = SharedCounts::default();
        let node = RateLimiter::new(5, store.clone());
        let mut results = Vec::new();
        for _ in 0..7 {
            results.push(node.check_at("a", 10).await);
        }
        assert_eq!(passed(&results), 5);
        assert!(results[5].is_err() && results[6].is_err());
    }

    #[tokio::test]
    async fn no_limit_never_asks_the_store() {
        let store = SharedCounts::default();
        let node = RateLimiter::new(0, store.clone());
        for _ in 0..1000 {
            assert_eq!(node.check_at("a", 1).await, Ok(()));
        }
        assert_eq!(*store.1.lock().unwrap(), 0);
    }
}
