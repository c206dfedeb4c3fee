//! What the client tells its owner (the desktop app, the CLI), in order, and [`Events`], the
//! sending end the core and the connection share.

use crate::error::Code;
pub use crate::outbox::{Outgoing, OutgoingStatus};
use confab_protocol::{
    DeleteEvent, EditEvent, ErrorCode, MemberEvent, MemberInfo, MessageData, MessageId, ReactEvent,
    RoomSummary, Visibility,
};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The connection's state, as a user would describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConnState {
    /// Opening a socket and authenticating (`attempt` failures so far).
    Connecting { attempt: u32 },
    /// Authenticated; messages flow.
    Open { user: String },
    /// Lost or could not connect; the next try is at `retry_at_ms` (Unix ms) unless
    /// `retry_now` is called or the network comes back first.
    Reconnecting {
        attempt: u32,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        retry_in_ms: u64,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        retry_at_ms: u64,
        reason: String,
    },
    /// Not connected and not trying: shut down, or before the first start.
    Offline,
    /// The server refused our credentials and refreshing did not help: sign in again.
    /// No retries until then.
    AuthFailed { reason: String },
}

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    State(ConnState),
    /// A new message (never one delivered before, across reconnects and restarts).
    Message(MessageData),
    /// A room's replay is complete up to `up_to`.
    Synced {
        room: String,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        up_to: u64,
    },
    /// One of our messages entered the outbox, or its delivery moved on (written to a
    /// connection: `sending`; that connection lost before the ack: `queued` again).
    Outgoing(Outgoing),
    /// Our message `id` is stored on the server as `seq`; it has left the outbox.
    Sent {
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        id: MessageId,
        room: String,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        seq: u64,
    },
    /// The files of our queued message `id` are going up: `sent` of `total` bytes so far.
    Uploading {
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        id: MessageId,
        room: String,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        sent: u64,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        total: u64,
    },
    /// Queued work left the outbox unsent because the user took it back (deleted a message
    /// that was still queued, and with it the changes aimed at it).
    Withdrawn {
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        id: MessageId,
        room: String,
    },
    /// Queued work was refused for good (e.g. too long, or its target is gone) and has left
    /// the outbox.
    SendFailed {
        #[cfg_attr(feature = "ts", ts(type = "string"))]
        id: MessageId,
        room: String,
        code: ErrorCode,
        message: String,
    },
    Typing {
        room: String,
        user: String,
    },
    Presence {
        room: String,
        users: Vec<String>,
    },
    /// A membership change in a room (in its stream, like a message; never one seen before).
    Member(MemberEvent),
    /// A message's new body (never one seen before; the cache holds the new body).
    Edit(EditEvent),
    /// A message was deleted (the cache no longer holds it).
    Delete(DeleteEvent),
    /// A reaction added or taken back.
    React(ReactEvent),
    /// The user was added to a room (invited; someone opened a dm with them). It is joined.
    RoomAdded {
        room: String,
        visibility: Visibility,
        by: String,
        /// For a dm: everyone in it.
        users: Option<Vec<String>>,
    },
    /// The user is no longer in the room (removed, parted on some device; `by` is unknown
    /// when this was found on reconnecting). It is no longer joined.
    RoomRemoved {
        room: String,
        by: Option<String>,
    },
    /// Answer to an invite: `user` is a member of `room` now.
    Invited {
        room: String,
        user: String,
    },
    /// Answer to a kick or a role change.
    Changed {
        room: String,
        user: String,
    },
    /// A dm opened on our request: its room (joined) and everyone in it.
    Dm {
        room: String,
        users: Vec<String>,
    },
    /// The user's rooms on the server, with read state: on every connection, and on request.
    Rooms {
        rooms: Vec<RoomSummary>,
    },
    /// Who is in `room` (answer to a members request).
    Members {
        room: String,
        members: Vec<MemberInfo>,
    },
    /// The user's read position in `room` moved, on this device or another.
    Read {
        room: String,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        seq: u64,
    },
    /// An error worth showing that is about no particular message.
    Error {
        code: Code,
        message: String,
    },
}

/// The sending end of the event stream. Waits while the owner's queue is full — a slow UI
/// slows the reading of the socket rather than growing memory — but never past a shutdown
/// request, and ignores an owner that dropped its receiver: the outbox must still drain.
#[derive(Debug, Clone)]
pub(crate) struct Events {
    tx: mpsc::Sender<Event>,
    stop: CancellationToken,
}

/// The owner asked to shut down while an event waited for room in its queue.
#[derive(Debug)]
pub(crate) struct Stopping;

impl Events {
    pub(crate) fn new(tx: mpsc::Sender<Event>, stop: CancellationToken) -> Self {
        Self { tx, stop }
    }

    /// Hands `event` to the owner; drops it if the owner is gone.
    pub(crate) async fn emit(&self, event: Event) -> Result<(), Stopping> {
        let Some(slot) = self.slot().await? else {
            return Ok(());
        };
        slot.send(event);
        Ok(())
    }

    /// Waits for room in the owner's queue (`None`: the owner is gone). Taking the slot before
    /// recording a message as seen means nothing is ever marked seen that the owner did not get.
    pub(crate) async fn slot(&self) -> Result<Option<mpsc::Permit<'_, Event>>, Stopping> {
        tokio::select! {
            biased;
            slot = self.tx.reserve() => Ok(slot.ok()),
            () = self.stop.cancelled() => Err(Stopping),
        }
    }
}
