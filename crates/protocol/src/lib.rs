//! The Confab wire protocol, shared by the server and every Rust client.
//!
//! This crate is the executable form of `docs/protocol.md`; it has no async runtime, Tauri or I/O
//! dependency so any client can use it.
//!
//! - [`frame`]: the JSON text frames on `/ws` — [`ClientFrame`] (client → server) and
//!   [`ServerFrame`] (server → client), each an object tagged by `type`.
//! - [`changes`]: edits, deletions and reactions, entries of the stream aimed at a message.
//! - [`files`]: attachments — the file a message carries, upload answers, limits, name rules.
//! - [`conversation`]: room visibility, roles, membership events and the room list.
//! - [`api`]: bodies of the HTTP endpoints under `/api` (register, login, refresh, logout).
//! - [`code`]: stable error codes ([`ErrorCode`]) and WebSocket close codes ([`close`]).
//! - [`limits`]: the documented default limits and the validation rules for names and bodies.
//! - [`names`]: [`RoomName`], [`MessageId`] and [`Body`], values that exist only once they
//!   follow those rules.
//! - [`search`]: the search query language, the words a body is indexed by, hit highlights.
//! - [`secret`]: [`Secret`], a wrapper that keeps tokens and passwords out of logs and panics.
//!
//! Parsing a client frame goes through [`ClientFrame::parse`], which classifies a bad frame into
//! the error code the server answers with, so server and docs cannot drift apart.

pub mod api;
pub mod changes;
pub mod code;
pub mod conversation;
pub mod files;
pub mod frame;
mod int;
pub mod limits;
pub mod names;
pub mod search;
pub mod secret;

pub use changes::{DeleteEvent, EditEvent, ReactEvent};
pub use code::{ErrorCode, close};
pub use conversation::{
    Event, MemberAction, MemberEvent, MemberInfo, Role, RoomSummary, Visibility,
};
pub use files::Attachment;
pub use frame::{ClientFrame, FrameError, MessageData, ServerFrame};
pub use names::{Body, MessageId, RoomName};
pub use search::SearchHit;
pub use secret::Secret;
