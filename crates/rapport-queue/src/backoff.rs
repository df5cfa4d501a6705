//! When a failed attempt runs again.

use std::time::Duration;

/// Exponential backoff with jitter: attempt `n` waits `base · 2^(n-1)`, capped, then
/// scaled by a random factor in [0.5, 1.5) so jobs that failed together (a receiver that
/// was down) do not all come back in the same instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// The wait after the `attempt`-th attempt (from 1) failed.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let raw = self.base.saturating_mul(1u32 << exponent).min(self.cap);
        raw.mul_f64(0.5 + random_unit())
    }
}

/// A random number in [0, 1).
fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_jitter_and_stops_at_the_cap() {
        let backoff = Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        };
        for (attempt, nominal) in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (40, 60.0)] {
            for _ in 0..50 {
                let d = backoff.delay(attempt).as_secs_f64();
                assert!(d >= nominal * 0.5 && d < nominal * 1.5, "attempt {attempt}: {d}");
            }
        }
    }

    #[test]
    fn jitter_spreads_the_delays() {
        let backoff = Backoff::default();
        let delays: std::collections::HashSet<_> = (0..20).map(|_| backoff.delay(3)).collect();
        assert!(delays.len() > 10);
    }
}
