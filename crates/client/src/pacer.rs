//! Client-side pacing: stay under the server's advertised frame rate, so the server never has
//! to refuse a send. A refused send followed by an admitted one would reorder the outbox.

use std::time::Duration;
use tokio::time::Instant;

/// A token bucket mirroring the server's, at a safety margin.
#[derive(Debug)]
pub(crate) struct Pacer {
    capacity: f64,
    per_sec: f64,
    tokens: f64,
    last: Instant,
}

impl Pacer {
    /// Paces to half the server's burst and 90% of its rate.
    pub(crate) fn for_server(burst: u32, per_sec: u32) -> Self {
        let capacity = (f64::from(burst) / 2.0).max(1.0);
        let per_sec = (f64::from(per_sec) * 0.9).max(0.5);
        Self {
            capacity,
            per_sec,
            tokens: capacity,
            last: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.capacity);
        self.last = now;
    }

    /// Takes a token if one is there.
    pub(crate) fn try_take(&mut self) -> bool {
        self.refill(Instant::now());
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Counts a frame sent once [`Pacer::ready_at`] has passed.
    pub(crate) fn take_anyway(&mut self) {
        self.refill(Instant::now());
        self.tokens -= 1.0;
    }

    /// When the next token will be there.
    pub(crate) fn ready_at(&mut self) -> Instant {
        let now = Instant::now();
        self.refill(now);
        if self.tokens >= 1.0 {
            now
        } else {
            now + Duration::from_secs_f64((1.0 - self.tokens) / self.per_sec)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn never_exceeds_the_server_rate() {
        let mut p = Pacer::for_server(100, 20);
        let start = Instant::now();
        let mut sent = 0u32;
        while start.elapsed() < Duration::from_secs(10) {
            if p.try_take() {
                sent += 1;
            } else {
                tokio::time::sleep_until(p.ready_at()).await;
            }
        }
        // The server allows 100 + 20/s × 10 s = 300 frames in 10 s.
        assert!(sent <= 300, "{sent} frames in 10 s would be refused");
        assert!(sent >= 200, "{sent} frames in 10 s is needlessly slow");
    }
}
