//! Which page of a room's history is asked for: scrollback, back down after a jump, or the
//! neighbourhood of one message (a jump to a search hit).

/// Where a page of history lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryAt {
    /// Messages with seq below this; the newest when `None`.
    Before(Option<u64>),
    /// Messages with seq above this, oldest first.
    After(u64),
    /// This message and its neighbours: the older half (with it) and the newer half.
    Around(u64),
}

impl HistoryAt {
    /// The wire's `before`, `after` and `around`.
    pub(crate) fn fields(self) -> (Option<u64>, Option<u64>, Option<u64>) {
        match self {
            Self::Before(b) => (b, None, None),
            Self::After(a) => (None, Some(a), None),
            Self::Around(s) => (None, None, Some(s)),
        }
    }
}
