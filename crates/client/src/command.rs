//! What the handle ([`crate::Client`]) asks the actor for. Each request carries its reply.

use crate::Result;
use crate::core::{Conversation, JoinedRoom};
use crate::event::Outgoing;
use crate::outbox::Draft;
use confab_protocol::{MessageData, RoomName};
use tokio::sync::oneshot;

pub(crate) type Reply<T> = oneshot::Sender<Result<T>>;

#[derive(Debug)]
pub(crate) enum Request {
    /// A message or a change to one, for the outbox.
    Queue {
        room: String,
        draft: Draft,
        /// The copies of the files a new message carries, named once it is queued.
        staged: Vec<crate::files::Staged>,
        reply: Reply<Outgoing>,
    },
    Join {
        room: String,
        after: Option<u64>,
        reply: Reply<RoomName>,
    },
    Leave {
        room: String,
        reply: Reply<()>,
    },
    Typing {
        room: String,
    },
    History {
        room: String,
        at: crate::history::HistoryAt,
        limit: u32,
        reply: Reply<Vec<MessageData>>,
    },
    Search {
        request: crate::search::Checked,
        reply: Reply<crate::search::SearchResults>,
    },
    Outbox {
        reply: Reply<Vec<Outgoing>>,
    },
    Rooms {
        reply: Reply<Vec<JoinedRoom>>,
    },
    /// Needs a connection, except `read` (kept for the next one).
    Conversation {
        request: Conversation,
        reply: Reply<()>,
    },
    People {
        call: crate::people::PeopleCall,
        reply: Reply<crate::people::PeopleAnswer>,
    },
    Fetch {
        fetch: crate::files::transfer::Fetch,
        reply: Reply<crate::files::transfer::Fetched>,
    },
    RetryNow,
    NetworkChanged,
    Shutdown {
        reply: Reply<()>,
    },
}
