//! Per-connection flood control: a token bucket ([`Bucket`]) for frames and a second one for
//! strikes.
//!
//! A client may send `burst` frames at once and `per_sec` sustained. A frame over the rate is
//! answered with `rate_limited` and costs a strike; strikes are forgiven slowly. A client that
//! keeps sending into the limit runs out of strikes and is closed with 1008.

use crate::bucket::Bucket;
use std::time::Duration;
use tokio::time::Instant;

/// What to do with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Allow,
    /// Refuse it; a retry after this long will be allowed.
    Limited(Duration),
    /// Sustained flood: close the connection.
    Flood,
}

/// Flood control state of one connection.
#[derive(Debug)]
pub(super) struct FloodGuard {
    frames: Bucket,
    strikes: Bucket,
}

impl FloodGuard {
    pub(super) fn new(burst: u32, per_sec: u32, strikes: u32, now: Instant) -> Self {
        let per_sec = f64::from(per_sec.max(1));
        Self {
            frames: Bucket::new(burst, per_sec, now),
            strikes: Bucket::new(strikes, per_sec / 4.0, now),
        }
    }

    /// Accounts for one incoming frame.
    pub(super) fn check(&mut self, now: Instant) -> Verdict {
        match self.frames.take(now) {
            Ok(()) => Verdict::Allow,
            Err(wait) => match self.strikes.take(now) {
                Ok(()) => Verdict::Limited(wait),
                Err(_) => Verdict::Flood,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_limited_then_refilled() {
        let mut g = FloodGuard::new(5, 10, 3, Instant::now());
        for _ in 0..5 {
            assert_eq!(g.check(Instant::now()), Verdict::Allow);
        }
        let Verdict::Limited(wait) = g.check(Instant::now()) else {
            panic!("expected limit")
        };
        assert!(
            wait <= Duration::from_millis(100),
            "one token comes back within 1/rate: {wait:?}"
        );
        tokio::time::advance(wait).await;
        assert_eq!(
            g.check(Instant::now()),
            Verdict::Allow,
            "a retry after the hint succeeds"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn sustained_flood_is_cut_but_a_pause_forgives() {
        let mut g = FloodGuard::new(2, 10, 3, Instant::now());
        let verdicts: Vec<_> = (0..6).map(|_| g.check(Instant::now())).collect();
        assert_eq!(&verdicts[..2], &[Verdict::Allow, Verdict::Allow]);
        assert!(matches!(verdicts[2], Verdict::Limited(_)));
        assert!(matches!(verdicts[4], Verdict::Limited(_)));
        assert_eq!(verdicts[5], Verdict::Flood);

        let mut g = FloodGuard::new(2, 10, 3, Instant::now());
        for _ in 0..4 {
            g.check(Instant::now());
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(
            g.check(Instant::now()),
            Verdict::Allow,
            "a client that paused is not cut"
        );
        assert!(matches!(
            g.check(Instant::now()),
            Verdict::Allow | Verdict::Limited(_)
        ));
    }
}
