//! WebSocket frames: JSON text objects tagged by `type`.

use crate::changes::{DeleteEvent, EditEvent, ReactEvent};
use crate::conversation::{MemberEvent, MemberInfo, Role, RoomSummary, Visibility};
use crate::search::SearchHit;
use crate::{ErrorCode, Secret, limits};
use serde::{Deserialize, Serialize};

/// A frame sent by a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientFrame {
    /// Must be the first frame unless the upgrade carried `Authorization: Bearer`.
    Auth { token: Secret },
    /// Subscribe to a room (created on first use) and replay what was missed after `after`.
    Join {
        room: String,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "crate::int::safe_opt"
        )]
        after: Option<u64>,
        /// Without `after`: replay only the newest `latest` messages; older ones are a
        /// `history` request away. A room's first join need not download its whole past.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latest: Option<u32>,
    },
    /// Unsubscribe from a room.
    Leave { room: String },
    /// Post a message. `id` is the client's idempotency key: resending it is harmless.
    Send {
        id: String,
        room: String,
        /// May be empty (`""`) when the message carries attachments.
        body: String,
        /// The seq of the message (in the same room) this one answers.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "crate::int::safe_opt"
        )]
        reply_to: Option<u64>,
        /// Files uploaded before (`POST /api/files`), up to [`crate::files::MAX_ATTACHMENTS`].
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<crate::files::Attachment>,
    },
    /// Replace the body of your message `target`. Answered with `ack`, like `send`.
    Edit {
        id: String,
        room: String,
        #[serde(deserialize_with = "crate::int::safe")]
        target: u64,
        body: String,
    },
    /// Delete message `target` (yours; any, for an owner or admin of the room).
    Delete {
        id: String,
        room: String,
        #[serde(deserialize_with = "crate::int::safe")]
        target: u64,
    },
    /// Add (`on`) or take back your reaction `emoji` on message `target`.
    React {
        id: String,
        room: String,
        #[serde(deserialize_with = "crate::int::safe")]
        target: u64,
        emoji: String,
        on: bool,
    },
    /// "I am typing" — forwarded to the other members, never stored.
    Typing { room: String },
    /// A page of messages in their current state, oldest first: up to `limit` with seq <
    /// `before` (scrollback; the newest when none of the three is given), with seq > `after`,
    /// or `around` a seq (that message and its neighbours on both sides: a jump to it).
    History {
        room: String,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "crate::int::safe_opt"
        )]
        before: Option<u64>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "crate::int::safe_opt"
        )]
        after: Option<u64>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "crate::int::safe_opt"
        )]
        around: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Create a room with you as its `owner`, then join it (answered as `join` is).
    Create {
        room: String,
        visibility: Visibility,
    },
    /// Add `user` to the room (its owner or admin only).
    Invite { room: String, user: String },
    /// Remove `user` from the room (its owner or admin only).
    Kick { room: String, user: String },
    /// Leave the room as a member, on every device (unlike `leave`).
    Part { room: String },
    /// Give `user` a role in the room (its owner only).
    SetRole {
        room: String,
        user: String,
        role: Role,
    },
    /// Open the direct conversation with these users (1–8, besides you), then join it.
    Dm { users: Vec<String> },
    /// Your rooms, with read state.
    Rooms,
    /// You have read the room up to `seq`.
    Read {
        room: String,
        #[serde(deserialize_with = "crate::int::safe")]
        seq: u64,
    },
    /// Who is a member of the room, with their roles.
    Members { room: String },
    /// Full-text search over the rooms you are a member of (see [`crate::search`]), newest
    /// hits first. `room` (or `in:` in the query) keeps to one room, where `before` pages by
    /// seq; any search pages with the `next` of its last results as `page`.
    Search {
        /// Chosen by the client; the answer carries it back.
        #[serde(rename = "ref")]
        reference: String,
        query: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "crate::int::safe_opt"
        )]
        before: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        page: Option<String>,
    },
}

/// Every `type` a client may send; anything else is `unknown_type`.
pub const CLIENT_TYPES: &[&str] = &[
    "auth", "join", "leave", "send", "typing", "history", "create", "invite", "kick", "part",
    "set_role", "dm", "rooms", "read", "members", "edit", "delete", "react", "search",
];

impl ClientFrame {
    /// The client id of a frame that takes a seq (`send`, `edit`, `delete`, `react`): its
    /// idempotency key, and the `ref` of its errors.
    pub fn stream_id(&self) -> Option<&str> {
        match self {
            Self::Send { id, .. }
            | Self::Edit { id, .. }
            | Self::Delete { id, .. }
            | Self::React { id, .. } => Some(id),
            _ => None,
        }
    }
}

/// A stored chat message as it travels to clients.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MessageData {
    pub room: String,
    /// Per-room sequence number: 1, 2, 3, … with no gaps, stable across server restarts.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seq: u64,
    /// The client-generated id the author sent it with.
    pub id: String,
    pub author: String,
    /// Plain text. Clients must render it as text, never as HTML.
    pub body: String,
    /// Server time of storage, Unix milliseconds.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub ts: u64,
    /// Members the body mentions as `@name`, lower case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<String>>", optional))]
    pub mentions: Vec<String>,
    /// The seq of the message this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "number", optional))]
    pub reply_to: Option<u64>,
    /// In `history`: when the body was last edited (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(type = "number", optional))]
    pub edited_ts: Option<u64>,
    /// Deleted: `body` is empty and never served again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>", optional))]
    pub deleted: bool,
    /// In `history`: who reacted with what, users sorted.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    #[cfg_attr(
        feature = "ts",
        ts(
            as = "Option<std::collections::BTreeMap<String, Vec<String>>>",
            optional
        )
    )]
    pub reactions: std::collections::BTreeMap<String, Vec<String>>,
    /// The files it carries (none once deleted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(
        feature = "ts",
        ts(as = "Option<Vec<crate::files::Attachment>>", optional)
    )]
    pub attachments: Vec<crate::files::Attachment>,
}

/// A frame sent by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ServerFrame {
    /// Authentication succeeded.
    Ready {
        user: String,
        /// Opaque id of this connection, for support and logs.
        session: String,
        /// How often the server pings; a client that hears nothing for two intervals may assume
        /// the connection is dead.
        heartbeat_ms: u64,
        /// Longest body this server accepts, in bytes of UTF-8.
        max_body_bytes: usize,
        /// Frames a connection may send in a burst before `rate_limited`.
        rate_burst: u32,
        /// Frames per second a connection may send sustained. Clients pace themselves below
        /// these so the server never has to refuse (and so reorder) their sends.
        rate_per_sec: u32,
        /// Largest file this server takes, in bytes (`POST /api/files`). Absent from servers
        /// older than files: [`crate::files::MAX_FILE_BYTES`].
        #[serde(default = "crate::files::default_max_file_bytes")]
        max_file_bytes: u64,
    },
    /// Answer to `join`; the replay follows.
    Joined {
        room: String,
        last_seq: u64,
    },
    /// A chat message, live or replayed.
    Message(MessageData),
    /// End of one replay batch; `more` says whether another batch follows.
    Synced {
        room: String,
        up_to: u64,
        more: bool,
    },
    /// The message with this `id` is durably stored as `seq`.
    Ack {
        id: String,
        room: String,
        seq: u64,
    },
    /// Who is in the room now (distinct usernames, sorted).
    Presence {
        room: String,
        users: Vec<String>,
    },
    /// `user` is typing in `room`.
    Typing {
        room: String,
        user: String,
    },
    /// Answer to `leave`.
    Left {
        room: String,
    },
    /// Answer to `history`: messages in ascending seq; `more` if older ones exist (asked
    /// `before` or `around`), `newer` if newer ones do (asked `after` or `around`).
    History {
        room: String,
        messages: Vec<MessageData>,
        more: bool,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        newer: bool,
    },
    /// A membership change, in the room's seq stream like a message.
    Member(MemberEvent),
    Edit(EditEvent),
    Delete(DeleteEvent),
    React(ReactEvent),
    /// You were added to a room (invited, or someone opened a dm with you).
    RoomAdded {
        room: String,
        visibility: Visibility,
        by: String,
        /// For a dm: everyone in it, sorted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        users: Option<Vec<String>>,
    },
    /// You are no longer a member of the room; nothing more of it reaches you.
    RoomRemoved {
        room: String,
        by: String,
    },
    /// Answer to `invite`: `user` is a member now.
    Invited {
        room: String,
        user: String,
    },
    /// Answer to `kick` and `set_role`: done (the `member` event follows in the stream).
    Changed {
        room: String,
        user: String,
    },
    /// Answer to `dm`: its room and everyone in it, sorted; the join sequence follows.
    Dm {
        room: String,
        users: Vec<String>,
    },
    /// Answer to `rooms`.
    Rooms {
        rooms: Vec<RoomSummary>,
    },
    /// Your read position in `room` moved (from any of your devices).
    Read {
        room: String,
        seq: u64,
    },
    /// Answer to `members`, sorted by username.
    Members {
        room: String,
        members: Vec<MemberInfo>,
    },
    /// Answer to `search`: hits newest first; `more` if older ones exist, and then `next`
    /// continues the search (as `page`).
    SearchResults {
        #[serde(rename = "ref")]
        reference: String,
        hits: Vec<SearchHit>,
        more: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    },
    /// A request failed; the connection stays open.
    Error {
        code: ErrorCode,
        message: String,
        /// The `id` of the `send` this error is about, when there is one.
        #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        /// With `rate_limited` and `storage_failed`: when a retry may succeed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        /// With `forbidden` answering a `join`: the room you are not (or no longer) a member of.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
}

impl ServerFrame {
    /// An `error` frame without a retry hint.
    pub fn error(code: ErrorCode, message: impl Into<String>, reference: Option<String>) -> Self {
        let mut message = message.into();
        if limits::cut(&mut message, limits::MAX_ERROR_MESSAGE_BYTES) {
            message.push('…');
        }
        Self::Error {
            code,
            message,
            reference: echoed(reference.as_deref()),
            retry_after_ms: None,
            room: None,
        }
    }

    /// `forbidden` for a join of a room the user is not a member of.
    pub fn not_a_member(room: &str) -> Self {
        Self::Error {
            code: ErrorCode::Forbidden,
            message: format!("you are not a member of {room}"),
            reference: None,
            retry_after_ms: None,
            room: Some(room.to_owned()),
        }
    }

    /// The frame as JSON text. Serialising these types cannot fail (no maps with non-string
    /// keys, no non-finite floats), so an error here is a bug and yields an `internal` frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"type":"error","code":"internal","message":"serialisation failed"}"#.to_owned()
        })
    }
}

/// Why a client frame was rejected: the `error` frame the server answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct FrameError {
    pub code: ErrorCode,
    pub message: String,
    /// The frame's `id`, when it had a string one.
    pub reference: Option<String>,
}

impl FrameError {
    /// The `error` frame to send back.
    pub fn to_frame(&self) -> ServerFrame {
        ServerFrame::error(self.code, self.message.clone(), self.reference.clone())
    }
}

/// A client's `id`/`ref` as an error may echo it: one longer than any id is no client's id
/// to match, and is not sent back (an error must never be a way to amplify input).
pub fn echoed(reference: Option<&str>) -> Option<String> {
    reference
        .filter(|r| r.len() <= limits::MAX_ID_BYTES)
        .map(str::to_owned)
}

impl ClientFrame {
    /// Parses one text frame, classifying failures as `invalid_json`, `unknown_type` or
    /// `bad_frame`. The classification only runs on the error path.
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        serde_json::from_str(text).map_err(|err| classify(text, &err))
    }
}

fn classify(text: &str, err: &serde_json::Error) -> FrameError {
    let fail = |code, message: String, reference| FrameError {
        code,
        message,
        reference,
    };
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return fail(ErrorCode::InvalidJson, format!("not valid JSON: {e}"), None),
    };
    let Some(obj) = value.as_object() else {
        return fail(
            ErrorCode::InvalidJson,
            "a frame must be a JSON object".into(),
            None,
        );
    };
    let reference = obj
        .get("id")
        .or_else(|| obj.get("ref"))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    match obj.get("type") {
        None => fail(
            ErrorCode::BadFrame,
            "missing field `type`".into(),
            reference,
        ),
        Some(serde_json::Value::String(t)) if !CLIENT_TYPES.contains(&t.as_str()) => {
            let shown: String = t.chars().take(40).collect();
            fail(
                ErrorCode::UnknownType,
                format!("unknown frame type `{shown}`"),
                reference,
            )
        }
        Some(serde_json::Value::String(_)) => fail(ErrorCode::BadFrame, err.to_string(), reference),
        Some(_) => fail(
            ErrorCode::BadFrame,
            "`type` must be a string".into(),
            reference,
        ),
    }
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
