//! The servers of one deployment — several nodes, or one name behind a load balancer — and
//! which of them is in use. When the one in use cannot be reached, the next one is tried on the
//! following attempt (after the usual backoff); the resume protocol makes the switch invisible:
//! the nodes share one database, so seqs, acks and idempotency keys mean the same on each.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use url::Url;

/// A shared, cheaply cloned list: the dialer and the HTTP API move on together.
#[derive(Debug, Clone)]
pub struct Servers {
    urls: Arc<[Url]>,
    current: Arc<AtomicUsize>,
}

impl Servers {
    /// `primary` first (it names the account), then `fallbacks` in order; duplicates dropped.
    pub fn new(primary: Url, fallbacks: &[Url]) -> Self {
        let mut urls = vec![primary];
        for url in fallbacks {
            if !urls.contains(url) {
                urls.push(url.clone());
            }
        }
        Self {
            urls: urls.into(),
            current: Arc::default(),
        }
    }

    /// The server to use now.
    pub fn current(&self) -> Url {
        let i = self.current.load(Ordering::Acquire) % self.urls.len();
        self.urls[i].clone()
    }

    /// `url` could not be reached: if it is still the one in use, move on to the next. Two
    /// failures of the same server seen at once move on only once.
    pub fn failed(&self, url: &Url) {
        let i = self.current.load(Ordering::Acquire);
        if self.urls[i % self.urls.len()] == *url {
            let next = (i + 1) % self.urls.len();
            let _ = self
                .current
                .compare_exchange(i, next, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    /// Every server, primary first.
    pub fn all(&self) -> &[Url] {
        &self.urls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        s.parse().unwrap()
    }

    #[test]
    fn a_failure_moves_on_once_and_wraps_around() {
        let (a, b) = (url("http://a:1"), url("http://b:1"));
        let servers = Servers::new(a.clone(), &[b.clone(), a.clone()]);
        assert_eq!(servers.all().len(), 2, "duplicates dropped");
        assert_eq!(servers.current(), a);
        servers.failed(&a);
        servers.failed(&a);
        assert_eq!(servers.current(), b, "a stale failure of a does not skip b");
        servers.failed(&b);
        assert_eq!(servers.current(), a);
    }

    #[test]
    fn one_server_stays_itself() {
        let a = url("https://chat.example.org");
        let servers = Servers::new(a.clone(), &[]);
        servers.failed(&a);
        assert_eq!(servers.current(), a);
    }
}
