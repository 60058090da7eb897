//! When to try again: exponential backoff with full jitter.
//!
//! Full jitter (each wait drawn uniformly from zero to the exponential cap)
//! spreads the retries of many events that failed together, for example
//! when the receiver was restarted, instead of bringing them back in waves.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How often and how patiently to retry one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per delivery, the first included, before it is dead-lettered
    /// (0 counts as 1).
    pub max_attempts: u32,
    /// The cap on the first retry's wait; each later retry doubles it.
    pub base_delay: Duration,
    /// The cap on any wait.
    pub max_delay: Duration,
    /// The whole of one request: connect, send, and the response's head.
    pub timeout: Duration,
    /// Seeds the jitter, so a test's waits are the same on every run.
    pub jitter_seed: u64,
}

impl Default for RetryPolicy {
    /// 8 attempts, waits capped at 0.5 s, 1 s, 2 s ... 60 s (about a minute
    /// in the worst case, 32 s on average), 10 s per request.
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            jitter_seed: 0,
        }
    }
}

impl RetryPolicy {
    /// The longest wait before retry number `retry` (0 for the retry after
    /// the first failure): `min(max_delay, base_delay * 2^retry)`.
    pub fn delay_cap(&self, retry: u32) -> Duration {
        // 2^retry saturates rather than overflows: after 31 doublings any
        // sensible base delay is past any sensible maximum anyway.
        let factor = 1u32.checked_shl(retry).unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_delay)
    }

    pub(crate) fn attempts(&self) -> u32 {
        self.max_attempts.max(1)
    }
}

/// The jitter source for one endpoint.
pub(crate) struct Backoff {
    rng: ChaCha8Rng,
}

impl Backoff {
    /// Each endpoint draws from its own ChaCha stream of the one seed, so
    /// its waits do not depend on how the endpoints' retries interleave.
    pub(crate) fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Self { rng }
    }

    /// A wait drawn uniformly from `[0, policy.delay_cap(retry)]`.
    pub(crate) fn delay(&mut self, policy: &RetryPolicy, retry: u32) -> Duration {
        let cap = policy.delay_cap(retry);
        let cap_nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(self.rng.random_range(0..=cap_nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_double_from_the_base_and_stop_at_the_maximum() {
        let policy = RetryPolicy::default();
        let caps: Vec<u64> = (0..10)
            .map(|r| policy.delay_cap(r).as_millis() as u64)
            .collect();
        assert_eq!(
            caps,
            [
                500, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000
            ]
        );
        // No overflow however many retries.
        assert_eq!(policy.delay_cap(40), policy.max_delay);
        assert_eq!(policy.delay_cap(u32::MAX), policy.max_delay);
    }

    #[test]
    fn delays_stay_within_the_cap_and_use_its_whole_range() {
        let policy = RetryPolicy::default();
        let mut backoff = Backoff::new(7, 0);
        for retry in 0..12 {
            let cap = policy.delay_cap(retry);
            let delays: Vec<Duration> = (0..400).map(|_| backoff.delay(&policy, retry)).collect();
            assert!(delays.iter().all(|d| *d <= cap), "retry {retry}");
            // Full jitter: uniform over [0, cap], so both ends are visited.
            assert!(delays.iter().any(|d| *d < cap / 10), "retry {retry}");
            assert!(delays.iter().any(|d| *d > cap * 9 / 10), "retry {retry}");
        }
    }

    #[test]
    fn the_seed_makes_delays_reproducible() {
        let policy = RetryPolicy::default();
        let draw = |seed, stream| {
            let mut backoff = Backoff::new(seed, stream);
            (0..20)
                .map(|r| backoff.delay(&policy, r))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(1, 0), draw(1, 0));
        assert_ne!(draw(1, 0), draw(2, 0));
        assert_ne!(draw(1, 0), draw(1, 1));
    }

    #[test]
    fn zero_attempts_means_one() {
        let policy = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        assert_eq!(policy.attempts(), 1);
    }
}
