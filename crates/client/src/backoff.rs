//! Reconnect delays: exponential with jitter, capped.

use rand::Rng;
use std::time::Duration;

/// The reconnect schedule.
#[derive(Debug, Clone)]
pub struct BackoffConfig {
    /// Base delay of the first retry (jittered by ±25%).
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

/// Attempt counter and delay calculator. The counter is reset only after a successful `ready`,
/// so a server that accepts sockets but fails auth still backs off.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
}

impl Backoff {
    pub fn new(config: BackoffConfig) -> Self {
        Self { config, attempt: 0 }
    }

    /// Failed attempts since the last success.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The un-jittered delay before retry number `attempt` (0-based).
    pub fn base(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(20));
        self.config
            .initial
            .saturating_mul(factor)
            .min(self.config.max)
    }

    /// Counts a failed attempt and returns how long to wait: the base delay jittered uniformly
    /// within ±25% (never above the cap), so clients cut off together do not return together.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let base = self.base(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        let jitter = rng.random_range(0.75..=1.25);
        base.mul_f64(jitter).min(self.config.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn schedule_doubles_up_to_the_cap_with_bounded_jitter() {
        let mut b = Backoff::new(BackoffConfig::default());
        let mut rng = StdRng::seed_from_u64(7);
        let expected = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0];
        for base in expected {
            let d = b.next_delay(&mut rng).as_secs_f64();
            assert!(
                d >= base * 0.75 - 1e-9,
                "{d} below the jitter floor of {base}"
            );
            assert!(
                d <= (base * 1.25).min(30.0) + 1e-9,
                "{d} above the jitter ceiling of {base}"
            );
        }
        assert_eq!(b.attempt(), expected.len() as u32);
        b.reset();
        assert!(
            b.next_delay(&mut rng) <= Duration::from_millis(625),
            "reset starts over"
        );
    }

    #[test]
    fn jitter_spreads_clients_apart() {
        let mut rng = StdRng::seed_from_u64(1);
        let delays: std::collections::BTreeSet<u128> = (0..50)
            .map(|_| {
                Backoff::new(BackoffConfig::default())
                    .next_delay(&mut rng)
                    .as_millis()
            })
            .collect();
        assert!(
            delays.len() > 25,
            "50 clients should not all retry at the same moment"
        );
    }
}
