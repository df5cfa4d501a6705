//! Requests per second per API key, answered with Close's 429 shape when exceeded.
//!
//! Counted per node in a one-second window: on several nodes each enforces the limit on
//! its own share of the traffic. A limiter shared through the store or Redis is future work.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Default)]
pub struct RateLimiter {
    /// Requests per second per key; 0 means no limit.
    limit: u32,
    windows: Arc<Mutex<HashMap<String, (u64, u32)>>>,
}

/// A refused request: the limit and the seconds until the window resets.
#[derive(Debug, PartialEq)]
pub struct Limited {
    pub limit: u32,
    pub reset_seconds: u64,
}

impl RateLimiter {
    pub fn new(limit: u32) -> Self {
        RateLimiter {
            limit,
            windows: Arc::default(),
        }
    }

    /// Counts a request of `key` now.
    pub fn check(&self, key: &str) -> Result<(), Limited> {
        let second = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.check_at(key, second)
    }

    fn check_at(&self, key: &str, second: u64) -> Result<(), Limited> {
        if self.limit == 0 {
            return Ok(());
        }
        let mut windows = self.windows.lock().expect("rate limit lock");
        if windows.len() > 100_000 {
            windows.retain(|_, (s, _)| *s == second);
        }
        let entry = windows.entry(key.to_string()).or_insert((second, 0));
        if entry.0 != second {
            *entry = (second, 0);
        }
        entry.1 += 1;
        if entry.1 > self.limit {
            return Err(Limited {
                limit: self.limit,
                reset_seconds: 1,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_until_the_next_second() {
        let limiter = RateLimiter::new(2);
        assert_eq!(limiter.check_at("a", 10), Ok(()));
        assert_eq!(limiter.check_at("a", 10), Ok(()));
        assert_eq!(
            limiter.check_at("a", 10),
            Err(Limited {
                limit: 2,
                reset_seconds: 1
            })
        );
        assert_eq!(limiter.check_at("b", 10), Ok(()), "keys are counted apart");
        assert_eq!(limiter.check_at("a", 11), Ok(()));
        let unlimited = RateLimiter::new(0);
        assert!((0..1000).all(|_| unlimited.check_at("a", 1).is_ok()));
    }
}
