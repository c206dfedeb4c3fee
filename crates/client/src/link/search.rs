//! Searches on an open connection: each goes out with its own `ref` and waits for the answer
//! carrying it back; if the connection ends first, the cache answers instead.

use super::{Link, Step};
use crate::Error;
use crate::command::Reply;
use crate::core::Core;
use crate::search::{self, Checked, SearchResults};
use confab_protocol::{ClientFrame, ErrorCode, SearchHit};

/// Someone waiting for a search's answer: what they asked, so the cache can answer instead.
#[derive(Debug)]
pub(super) struct SearchWaiter {
    request: Checked,
    reply: Reply<SearchResults>,
}

impl Link {
    /// Sends the search; the answer goes to `reply` when it comes.
    pub(crate) async fn search(
        &mut self,
        core: &mut Core,
        request: Checked,
        reply: Reply<SearchResults>,
    ) -> Step {
        let Ok(room) = request.room() else {
            let _ = reply.send(core.search_cache(&request));
            return Ok(());
        };
        self.pace().await;
        self.next_search += 1;
        let reference = format!("s{}", self.next_search);
        let frame = ClientFrame::Search {
            reference: reference.clone(),
            query: request.request.query.clone(),
            room,
            before: None,
            limit: Some(request.limit),
            page: request.request.page.clone(),
        };
        self.searches
            .insert(reference, SearchWaiter { request, reply });
        self.write(&frame).await
    }

    /// The server's answer to one of our searches.
    pub(super) fn search_results(
        &mut self,
        reference: &str,
        hits: Vec<SearchHit>,
        more: bool,
        next: Option<String>,
    ) {
        if let Some(w) = self.searches.remove(reference) {
            let _ = w.reply.send(Ok(search::from_server(hits, more, next)));
        }
    }

    /// An error about one of our searches; `false` if `reference` is none of them.
    pub(super) fn search_refused(
        &mut self,
        reference: &str,
        code: ErrorCode,
        message: &str,
    ) -> bool {
        let Some(w) = self.searches.remove(reference) else {
            return false;
        };
        let message = message.to_owned();
        let _ = w.reply.send(Err(Error::Rejected { code, message }));
        true
    }

    /// The connection is gone: every waiting search is answered by the cache.
    pub(super) fn searches_to_cache(&mut self, core: &Core) {
        for (_, w) in self.searches.drain() {
            let _ = w.reply.send(core.search_cache(&w.request));
        }
    }
}
