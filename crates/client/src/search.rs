//! Search: what a client asks ([`SearchRequest`]) and gets ([`SearchResults`]). Online the
//! server answers over the rooms the user is in; offline (or if the connection ends first) the
//! local cache answers by the same rules, and every hit says which one it came from.

use crate::{Error, Result};
use confab_protocol::search::{Query, SEARCH_DEFAULT, SEARCH_MAX};
use confab_protocol::{ErrorCode, RoomName, SearchHit};
use serde::Serialize;

/// A search to run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchRequest {
    /// Words, `"phrases"` and filters (see `confab_protocol::search`).
    pub query: String,
    /// One room only.
    pub room: Option<String>,
    /// The `next` of the previous results: the page after them, from the same source.
    pub page: Option<String>,
    /// Hits per page (1–50; 0 means the default, 20).
    pub limit: u32,
}

/// Where a hit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SearchSource {
    /// The server, over everything stored there.
    Server,
    /// This device's cache of what it received: offline, or the connection ended first.
    Cache,
}

/// A hit and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Found {
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub hit: SearchHit,
    pub source: SearchSource,
}

/// A page of hits, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SearchResults {
    pub hits: Vec<Found>,
    /// Older hits exist: ask again with `next` as the page.
    pub more: bool,
    pub next: Option<String>,
}

/// Pages of the cache are marked, so a page is always continued where it began.
const CACHE_PAGE: &str = "cache:";

/// A request checked before anything is sent: the query parses, the room is one, the limit
/// is in range.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub request: SearchRequest,
    pub query: Query,
    pub limit: u32,
}

impl Checked {
    pub(crate) fn new(mut request: SearchRequest) -> Result<Self> {
        let query = Query::parse(&request.query).map_err(|e| Error::Rejected {
            code: ErrorCode::BadQuery,
            message: e.to_string(),
        })?;
        if let Some(room) = &request.room {
            let name = RoomName::from_input(room).map_err(|code| Error::rejected(code, room))?;
            request.room = Some(name.to_string());
        }
        let limit = match request.limit {
            0 => SEARCH_DEFAULT,
            n => n.min(SEARCH_MAX),
        };
        Ok(Self {
            request,
            query,
            limit,
        })
    }

    /// Whether this continues a page of the cache (and so must not go to the server).
    pub(crate) fn continues_cache(&self) -> bool {
        self.request
            .page
            .as_deref()
            .is_some_and(|p| p.starts_with(CACHE_PAGE))
    }

    /// The room the search keeps to: the request's, or the query's `in:` (both: they must
    /// agree, else nothing is found).
    pub(crate) fn room(&self) -> Result<Option<String>, ()> {
        match (&self.request.room, &self.query.room) {
            (Some(a), Some(b)) if a != b => Err(()),
            (a, b) => Ok(a.clone().or_else(|| b.clone())),
        }
    }

    /// The cache's place to continue after, from a page it wrote: (ts, room, seq).
    pub(crate) fn cache_page(&self) -> Option<(u64, String, u64)> {
        let rest = self.request.page.as_deref()?.strip_prefix(CACHE_PAGE)?;
        let mut parts = rest.splitn(3, ':');
        let ts = parts.next()?.parse().ok()?;
        let seq = parts.next()?.parse().ok()?;
        Some((ts, parts.next()?.to_owned(), seq))
    }
}

/// The page the cache writes after its last hit.
pub(crate) fn cache_next(hit: &SearchHit) -> String {
    format!("{CACHE_PAGE}{}:{}:{}", hit.ts, hit.seq, hit.room)
}

/// The server's answer, marked as its.
pub(crate) fn from_server(hits: Vec<SearchHit>, more: bool, next: Option<String>) -> SearchResults {
    SearchResults {
        hits: hits
            .into_iter()
            .map(|hit| Found {
                hit,
                source: SearchSource::Server,
            })
            .collect(),
        more,
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked_before_they_leave() {
        let bad = |r: SearchRequest| Checked::new(r).err().map(|e| e.code().to_string());
        let q = |query: &str| SearchRequest {
            query: query.into(),
            ..SearchRequest::default()
        };
        assert_eq!(bad(q("  ")).as_deref(), Some("bad_query"));
        assert_eq!(bad(q("has:nothing")).as_deref(), Some("bad_query"));
        let mut r = q("x");
        r.room = Some("Not A Room".into());
        assert_eq!(bad(r).as_deref(), Some("bad_room"));
        let ok = Checked::new(SearchRequest {
            limit: 500,
            room: Some("#General".into()),
            ..q("deploy in:general")
        });
        let ok = ok.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (ok.limit, ok.room()),
            (SEARCH_MAX, Ok(Some("general".to_owned())))
        );
    }

    #[test]
    fn a_cache_page_reads_back_what_it_wrote() {
        let hit = SearchHit {
            room: "a.b".into(),
            seq: 7,
            ts: 99,
            ..SearchHit::default()
        };
        let c = Checked::new(SearchRequest {
            query: "x".into(),
            page: Some(cache_next(&hit)),
            ..SearchRequest::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.continues_cache());
        assert_eq!(c.cache_page(), Some((99, "a.b".to_owned(), 7)));
    }
}
