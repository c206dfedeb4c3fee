//! Token buckets in front of password hashing: failed sign-ins per account and per address.
//!
//! An attempt takes a try from its buckets before the hash (an empty one answers 429 with
//! `Retry-After` at no cost to us) — taken, not just looked at, so that a thousand attempts in
//! flight at once cannot all pass — and a sign-in that succeeds gives its tries back. A user who
//! types the right password is never slowed by their own account's bucket, while a guesser, or
//! a flood that exists only to burn argon2 time, runs dry within a burst.

use crate::bucket::Bucket;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// Buckets kept at most per kind; past it, buckets that have refilled are forgotten (they hold
/// nothing a fresh one would not).
const MAX_BUCKETS: usize = 100_000;

/// Buckets by key: `burst` tries, refilled at `per_sec`.
#[derive(Debug)]
pub(crate) struct Buckets<K: Eq + Hash> {
    burst: u32,
    per_sec: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Eq + Hash + Clone> Buckets<K> {
    pub(crate) fn new(burst: u32, per_sec: f64) -> Self {
        Self {
            burst,
            per_sec,
            buckets: Mutex::default(),
        }
    }

    /// Takes one try from `key`'s bucket; `Err(wait)` if it has none, with the time until it has.
    pub(crate) fn take(&self, key: &K) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(key) {
            buckets.retain(|_, b| !b.is_full(now));
            if buckets.len() >= MAX_BUCKETS {
                // Every bucket is in use: a flood of names. Forgetting them all costs us a
                // burst of hashes; keeping them would cost unbounded memory.
                buckets.clear();
            }
        }
        buckets
            .entry(key.clone())
            .or_insert_with(|| Bucket::new(self.burst, self.per_sec, now))
            .take(now)
    }

    /// Gives back a try taken by [`Buckets::take`].
    pub(crate) fn give_back(&self, key: &K) {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(b) = buckets.get_mut(key) {
            b.give_back(now);
        }
    }
}

/// Sign-in attempts: by account (lower-case name) and by peer address.
#[derive(Debug)]
pub(crate) struct SignInThrottle {
    accounts: Buckets<String>,
    addresses: Buckets<IpAddr>,
    /// Which addresses count: a reverse proxy (loopback by default) is everyone's address.
    limits: crate::Limits,
}

impl SignInThrottle {
    pub(crate) fn new(limits: &crate::Limits) -> Self {
        Self {
            accounts: Buckets::new(
                limits.login_burst_per_account,
                limits.login_per_sec_per_account,
            ),
            addresses: Buckets::new(limits.login_burst_per_ip, limits.login_per_sec_per_ip),
            limits: limits.clone(),
        }
    }

    fn address(&self, ip: Option<IpAddr>) -> Option<IpAddr> {
        ip.filter(|ip| self.limits.counts_per_address(*ip))
    }

    /// Takes a try from the address's bucket and (for a sign-in) the account's; `Err(wait)` if
    /// either is empty, in which case nothing is taken.
    pub(crate) fn admit(&self, username: Option<&str>, ip: Option<IpAddr>) -> Result<(), Duration> {
        let ip = self.address(ip);
        if let Some(ip) = &ip {
            self.addresses.take(ip)?;
        }
        if let Some(name) = username
            && let Err(wait) = self.accounts.take(&name.to_ascii_lowercase())
        {
            if let Some(ip) = &ip {
                self.addresses.give_back(ip);
            }
            return Err(wait);
        }
        Ok(())
    }

    /// The tries were no guess: the sign-in succeeded, or could not be judged (busy).
    pub(crate) fn give_back(&self, username: &str, ip: Option<IpAddr>) {
        if let Some(ip) = self.address(ip) {
            self.addresses.give_back(&ip);
        }
        self.accounts.give_back(&username.to_ascii_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::Buckets;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let b = Buckets::new(3, 0.5);
        for _ in 0..3 {
            assert!(b.take(&"k").is_ok());
        }
        let wait = b.take(&"k").err();
        assert_eq!(
            wait,
            Some(Duration::from_secs(2)),
            "one try per two seconds"
        );
        assert!(b.take(&"other").is_ok(), "keys are separate");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(b.take(&"k").is_ok(), "refilled by one");
        assert!(b.take(&"k").is_err());
        b.give_back(&"k");
        assert!(b.take(&"k").is_ok(), "a try given back is there again");
        tokio::time::advance(Duration::from_secs(60)).await;
        for _ in 0..3 {
            assert!(b.take(&"k").is_ok());
        }
        assert!(b.take(&"k").is_err(), "never more than the burst");
    }
}
