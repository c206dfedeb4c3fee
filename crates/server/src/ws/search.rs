//! The `search` frame: checked here, run by the writer (as history is), so a client that asks
//! a lot and reads nothing queues small requests, never pages of hits.

use super::session::Session;
use crate::rooms::Outbound;
use crate::store::{SearchCursor, SearchPage, SearchRequest};
use confab_protocol::search::{Query, SEARCH_DEFAULT, SEARCH_MAX};
use confab_protocol::{ErrorCode, ServerFrame, limits};

/// What a `search` frame asked.
pub(super) struct Asked {
    pub reference: String,
    pub query: String,
    pub room: Option<String>,
    pub before: Option<u64>,
    pub limit: Option<u32>,
    pub page: Option<String>,
}

impl Session {
    pub(super) async fn search(&mut self, asked: Asked) {
        let reference = asked.reference;
        if reference.is_empty() || reference.len() > limits::MAX_ID_BYTES {
            let e = ServerFrame::error(ErrorCode::BadFrame, "`ref` must be 1-128 bytes", None);
            return self.reply(&e).await;
        }
        let refuse =
            |code, message: &str| ServerFrame::error(code, message, Some(reference.clone()));
        let query = match Query::parse(&asked.query) {
            Ok(q) => q,
            Err(e) => {
                return self
                    .reply(&refuse(ErrorCode::BadQuery, &e.to_string()))
                    .await;
            }
        };
        let room = match (asked.room, &query.room) {
            // Two rooms at once: nothing is in both.
            (Some(a), Some(b)) if &a != b => {
                let none = ServerFrame::SearchResults {
                    reference,
                    hits: Vec::new(),
                    more: false,
                    next: None,
                };
                return self.reply(&none).await;
            }
            (a, b) => a.or_else(|| b.clone()),
        };
        if room.as_deref().is_some_and(|r| !limits::valid_room(r)) {
            let e = refuse(ErrorCode::BadRoom, "room names are 1-64 of a-z 0-9 _ - .");
            return self.reply(&e).await;
        }
        if asked.before.is_some() && room.is_none() {
            let e = refuse(ErrorCode::BadFrame, "`before` is a seq: it needs a `room`");
            return self.reply(&e).await;
        }
        let page = match asked.page.as_deref().map(SearchCursor::parse) {
            Some(None) => {
                let e = refuse(ErrorCode::BadFrame, "`page` is not one this server gave");
                return self.reply(&e).await;
            }
            Some(page) => page,
            None => None,
        };
        let limit = asked.limit.unwrap_or(SEARCH_DEFAULT).clamp(1, SEARCH_MAX) as usize;
        let request = SearchRequest {
            user: self.user.to_string(),
            query,
            room,
            before: asked.before,
            page,
            limit,
        };
        self.queue(Outbound::Search {
            reference,
            request: Box::new(request),
        })
        .await;
    }
}

/// The `search_results` frame of a page: long bodies cut the page short (like history), and
/// `next` then continues after the last hit sent. `None`: a `page` the store did not write.
pub(super) fn results(reference: String, found: Option<SearchPage>) -> ServerFrame {
    let Some(SearchPage { mut hits, mut more }) = found else {
        return ServerFrame::error(
            ErrorCode::BadFrame,
            "`page` is not one this server gave",
            Some(reference),
        );
    };
    let mut bytes = 0;
    if let Some(at) = hits.iter().position(|(_, h)| {
        bytes += h.body.len() + 16 * h.highlights.len() + 64;
        bytes > limits::HISTORY_MAX_BYTES
    }) {
        hits.truncate(at.max(1));
        more = true;
    }
    let next = if more {
        hits.last().map(|(place, _)| place.to_string())
    } else {
        None
    };
    ServerFrame::SearchResults {
        reference,
        more: next.is_some(),
        next,
        hits: hits.into_iter().map(|(_, h)| h).collect(),
    }
}
