//! What the client tells its owner (the desktop app, the CLI), in order.

use confab_protocol::{ErrorCode, MessageData};
use serde::Serialize;

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
    /// Our message `id` is stored on the server as `seq`.
    Sent {
        id: String,
        room: String,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        seq: u64,
    },
    /// A queued message was refused for good (e.g. too long) and removed from the outbox.
    SendFailed {
        id: String,
        room: String,
        code: ErrorCode,
        message: String,
    },
    /// Messages waiting in the outbox.
    Outbox {
        queued: usize,
    },
    Typing {
        room: String,
        user: String,
    },
    Presence {
        room: String,
        users: Vec<String>,
    },
    /// An error worth showing that is about no particular message.
    Error {
        code: String,
        message: String,
    },
}
