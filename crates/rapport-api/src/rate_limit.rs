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
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rapport_crm::Crm;

/// A node takes this share of the limit at a time (at least one request).
const CHUNKS_PER_WINDOW: u32 = 8;
/// How long a request waits for the store to count it before it passes uncounted.
const STORE_WAIT: Duration = Duration::from_millis(250);

#[derive(Clone)]
pub struct RateLimiter {
    /// Requests per second per key; 0 means no limit.
    limit: u32,
    /// Where the nodes' counts meet; `None` without a limit.
    store: Option<Crm>,
    local: Arc<Mutex<Local>>,
}

/// What this node took of the current second's allowances and has not spent yet.
#[derive(Default)]
struct Local {
    second: i64,
    allowance: HashMap<String, Allowance>,
}

/// A key's allowance on this node in the current second.
#[derive(Default)]
struct Allowance {
    /// Requests left of the chunks taken.
    left: u32,
    /// The store had less than a chunk left: the second is spent on every node.
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
    pub fn new(limit: u32, store: Crm) -> Self {
        RateLimiter {
            limit,
            store: (limit > 0).then_some(store),
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
        let second = {
            let mut local = self.local.lock().expect("rate limit lock");
            if second > local.second {
                local.second = second;
                local.allowance.clear();
            }
            // A request that read the clock just before the second turned counts in the
            // new one.
            if let Some(allowance) = local.allowance.get_mut(key) {
                if allowance.left > 0 {
                    allowance.left -= 1;
                    return Ok(());
                }
                if allowance.spent {
                    return Err(self.limited());
                }
            }
            local.second
        };
        let chunk = self.limit.div_ceil(CHUNKS_PER_WINDOW);
        let granted =
            match tokio::time::timeout(STORE_WAIT, store.take_rate_allowance(key, second, chunk, self.limit)).await {
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
        // What was taken for a second that has passed meanwhile is of no use.
        if local.second == second {
            let allowance = local.allowance.entry(key.to_string()).or_default();
            allowance.spent |= granted < chunk;
            allowance.left += granted.saturating_sub(1);
        }
        match granted {
            0 => Err(self.limited()),
            _ => Ok(()),
        }
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
    use rapport_crm::CrmConfig;
    use rapport_testkit::{Backend, TestDb};

    use super::*;

    fn passed(results: &[Result<(), Limited>]) -> usize {
        results.iter().filter(|r| r.is_ok()).count()
    }

    /// A store (SQLite), and what it counted for `key` in `second`.
    async fn store() -> (TestDb, Crm) {
        let test_db = TestDb::new(Backend::Sqlite, "rate_limit").await.unwrap();
        let crm = Crm::new(test_db.open().await, CrmConfig::default());
        (test_db, crm)
    }

    async fn taken(crm: &Crm, second: i64) -> i64 {
        crm.rate_window_taken(second).await.unwrap()
    }

    #[tokio::test]
    async fn nodes_together_never_pass_more_than_the_limit() {
        let (_db, crm) = store().await;
        let nodes = [RateLimiter::new(16, crm.clone()), RateLimiter::new(16, crm.clone())];
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
        // Chunks, not requests, reach the store: 8 chunks of 2, then one refused claim
        // per node (a node that was refused refuses the rest of the second on its own).
        assert_eq!(taken(&crm, 100).await, 10 * 2);
        // The next second starts afresh, and keys are counted apart.
        assert_eq!(nodes[0].check_at("key", 101).await, Ok(()));
        assert_eq!(nodes[1].check_at("other", 100).await, Ok(()));
    }

    #[tokio::test]
    async fn one_node_spends_its_whole_limit() {
        let (_db, crm) = store().await;
        let node = RateLimiter::new(5, crm);
        let mut results = Vec::new();
        for _ in 0..7 {
            results.push(node.check_at("a", 10).await);
        }
        assert_eq!(passed(&results), 5);
        assert!(results[5].is_err() && results[6].is_err());
    }

    #[tokio::test]
    async fn no_limit_never_asks_the_store() {
        let (_db, crm) = store().await;
        let node = RateLimiter::new(0, crm.clone());
        for _ in 0..1000 {
            assert_eq!(node.check_at("a", 1).await, Ok(()));
        }
        assert_eq!(taken(&crm, 1).await, 0);
    }
}
