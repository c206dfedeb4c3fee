//! Noticing that the machine slept or the network changed, so the client reconnects at once
//! instead of waiting out a backoff or a dead socket's heartbeat.
//!
//! Sleep: the monotonic clock stops during suspend on most systems while the wall clock keeps
//! going, so a gap between the two means the machine slept. Network: the set of non-loopback
//! interface addresses changed (polled; cheap, and works on every OS).

use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// How far wall and monotonic time may drift apart between checks before we call it a sleep.
pub const JUMP: Duration = Duration::from_secs(5);

/// Compares wall-clock and monotonic progress between calls.
pub struct ClockWatch {
    wall: Box<dyn Fn() -> SystemTime + Send + Sync>,
    last_wall: SystemTime,
    last_mono: Instant,
}

impl std::fmt::Debug for ClockWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClockWatch").finish_non_exhaustive()
    }
}

impl ClockWatch {
    /// Watches the system clock.
    pub fn system() -> Self {
        Self::with_clock(Box::new(SystemTime::now))
    }

    /// Watches a given wall clock (tests simulate a suspend with it).
    pub fn with_clock(wall: Box<dyn Fn() -> SystemTime + Send + Sync>) -> Self {
        let last_wall = wall();
        Self {
            wall,
            last_wall,
            last_mono: Instant::now(),
        }
    }

    /// True when wall time moved more than [`JUMP`] further than monotonic time (or went back)
    /// since the last call.
    pub fn jumped(&mut self) -> bool {
        let (wall, mono) = ((self.wall)(), Instant::now());
        let wall_delta = wall.duration_since(self.last_wall).ok();
        let mono_delta = mono.duration_since(self.last_mono);
        self.last_wall = wall;
        self.last_mono = mono;
        match wall_delta {
            Some(w) => w.abs_diff(mono_delta) > JUMP,
            None => true, // the wall clock went backwards: resync everything
        }
    }
}

/// A fingerprint of the machine's network addresses.
pub fn network_fingerprint() -> u64 {
    use std::hash::{Hash, Hasher};
    let mut addrs: Vec<String> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| !i.is_loopback())
        .map(|i| format!("{}={}", i.name, i.ip()))
        .collect();
    addrs.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    addrs.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_suspend_shows_as_a_jump_and_normal_time_does_not() {
        let offset = Arc::new(AtomicU64::new(0));
        let base = SystemTime::now();
        let o = Arc::clone(&offset);
        let start = Instant::now();
        let mut watch = ClockWatch::with_clock(Box::new(move || {
            base + start.elapsed() + Duration::from_secs(o.load(Ordering::Relaxed))
        }));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(!watch.jumped(), "both clocks moved 2 s");
        offset.store(3600, Ordering::Relaxed); // the lid was closed for an hour
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(watch.jumped());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(!watch.jumped(), "one jump is reported once");
    }
}
