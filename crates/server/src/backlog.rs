//! What one connection has queued for its writer and not yet written: bytes, and whether a frame
//! had to be left out. The queue itself is bounded in frames; this bounds it in bytes too, so a
//! peer that stops reading holds at most `send_queue_bytes` of our memory however large the
//! frames it is sent.
//!
//! The fan-out never waits: past the budget a frame is left out and the connection flagged, and
//! its writer reads the gap back from the database (as for a full queue). The connection's own
//! replies wait for room instead — backpressure on its reader, as the frame bound already is.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tokio::sync::Notify;

#[derive(Debug)]
pub(crate) struct Backlog {
    max_bytes: usize,
    bytes: AtomicUsize,
    overflowed: AtomicBool,
    /// The connection's reader waits for room (there is one reader, so one flag will do).
    waiting: AtomicBool,
    drained: Notify,
}

impl Backlog {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            bytes: AtomicUsize::new(0),
            overflowed: AtomicBool::new(false),
            waiting: AtomicBool::new(false),
            drained: Notify::new(),
        }
    }

    /// Takes room for `n` bytes if there is any. An empty backlog takes anything, so a frame
    /// larger than the budget is never stuck.
    pub(crate) fn try_take(&self, n: usize) -> bool {
        if n == 0 {
            return true;
        }
        let before = self.bytes.fetch_add(n, Ordering::AcqRel);
        if before > 0 && before + n > self.max_bytes {
            self.bytes.fetch_sub(n, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Waits until there is room for `n` bytes, and takes it.
    pub(crate) async fn take(&self, n: usize) {
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            // Registered before the check: a release in between is not missed.
            drained.as_mut().enable();
            self.waiting.store(true, Ordering::SeqCst);
            if self.try_take(n) {
                self.waiting.store(false, Ordering::SeqCst);
                return;
            }
            drained.await;
        }
    }

    /// The writer is done with (wrote, or dropped) `n` bytes taken before.
    pub(crate) fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        self.bytes.fetch_sub(n, Ordering::AcqRel);
        if self.waiting.load(Ordering::SeqCst) {
            self.drained.notify_waiters();
        }
    }

    /// A frame was left out: the writer must read the gap back.
    pub(crate) fn flag_overflow(&self) {
        self.overflowed.store(true, Ordering::Release);
    }

    /// Whether a frame was left out since the last call.
    pub(crate) fn take_overflow(&self) -> bool {
        self.overflowed.swap(false, Ordering::AcqRel)
    }

    #[cfg(test)]
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::Backlog;
    use std::sync::Arc;

    #[test]
    fn the_budget_is_in_bytes_and_an_empty_backlog_takes_anything() {
        let b = Backlog::new(100);
        assert!(b.try_take(60));
        assert!(!b.try_take(60), "120 bytes > 100");
        assert!(b.try_take(40));
        b.release(100);
        assert!(b.try_take(1_000), "alone, a big frame still goes");
        assert!(!b.try_take(1));
        b.release(1_000);
        assert!(b.try_take(0) && b.try_take(1));
    }

    #[tokio::test]
    async fn a_waiting_reply_gets_room_when_the_writer_drains() {
        let b = Arc::new(Backlog::new(10));
        assert!(b.try_take(10));
        let waiter = tokio::spawn({
            let b = Arc::clone(&b);
            async move { b.take(5).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "no room yet");
        b.release(10);
        let done = tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await;
        assert!(matches!(done, Ok(Ok(()))), "the reply never got its room");
    }
}
