//! Counted seats per key: how many connections one account, or one address, holds at once.
//! A seat is taken before the work it admits and given back when its guard drops, so the count
//! can never drift, whatever path a connection ends by.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

/// Seats by key, at most `limit` each (0: no cap).
#[derive(Debug)]
pub(crate) struct Seats<K: Eq + Hash> {
    limit: usize,
    taken: Arc<Mutex<HashMap<K, usize>>>,
}

/// One taken seat; dropping it frees the seat.
#[derive(Debug)]
pub(crate) struct Seat<K: Eq + Hash> {
    key: Option<K>,
    taken: Arc<Mutex<HashMap<K, usize>>>,
}

impl<K: Eq + Hash + Clone> Seats<K> {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            taken: Arc::default(),
        }
    }

    /// A seat for `key`, or `None` if `key` holds `limit` already.
    pub(crate) fn take(&self, key: K) -> Option<Seat<K>> {
        if self.limit == 0 {
            return Some(Seat {
                key: None,
                taken: Arc::clone(&self.taken),
            });
        }
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        let held = taken.entry(key.clone()).or_insert(0);
        if *held >= self.limit {
            return None;
        }
        *held += 1;
        Some(Seat {
            key: Some(key),
            taken: Arc::clone(&self.taken),
        })
    }

    /// Keys holding at least one seat (for tests and metrics: the map never keeps empty keys).
    #[cfg(test)]
    fn keys(&self) -> usize {
        self.taken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl<K: Eq + Hash> Drop for Seat<K> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else {
            return;
        };
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(held) = taken.get_mut(&key) {
            *held -= 1;
            if *held == 0 {
                taken.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Seats;

    #[test]
    fn a_key_holds_at_most_its_limit_and_dropping_frees() {
        let seats = Seats::new(2);
        let a1 = seats.take("a");
        let a2 = seats.take("a");
        assert!(a1.is_some() && a2.is_some());
        assert!(seats.take("a").is_none(), "third seat for a");
        assert!(seats.take("b").is_some(), "b is counted on its own");
        drop(a1);
        let a3 = seats.take("a");
        assert!(a3.is_some(), "a freed seat is taken again");
        drop((a2, a3));
        assert_eq!(seats.keys(), 0, "no empty keys are kept");
        let open = Seats::new(0);
        let many: Vec<_> = (0..100).map(|_| open.take("a")).collect();
        assert!(many.iter().all(Option::is_some), "0 means no cap");
    }
}
