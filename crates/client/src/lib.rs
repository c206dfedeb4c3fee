//! confab-client: the client core shared by the desktop app and the `confab` CLI — the
//! connection that never loses a message, and the accounts it runs for. No Tauri, no UI.
//!
//! - [`account`]: [`Profile`] (a data folder) and [`Account`]s in it: sign in, register,
//!   remember, sign out, the keyring entry and the one folder layout of every client.
//! - [`Client`] ([`client`]): the cloneable handle. Every call is a request to one private
//!   actor over a bounded channel; the actor answers on a oneshot and reports everything else as
//!   [`Event`]s ([`event`]) on one ordered stream.
//! - `core`: the owner of the local database (`db`), of validation (names and bodies, the
//!   protocol's [`RoomName`](confab_protocol::RoomName) and [`Body`](confab_protocol::Body)),
//!   of joined rooms and resume points, and of the outbox (`outbox`: messages and changes to
//!   them — edits, deletions, reactions — in one ordered queue). No socket.
//! - `actor`: the connection's state machine — connect, authenticate (`auth`; refreshing once
//!   on 4001, `refresh`), back off ([`backoff`]), notice sleep and network changes ([`wake`])
//!   — with one dispatch of every request to the core, whatever the phase.
//! - `link`: an open connection: resume every room, flush the outbox in order at a paced rate
//!   (`pacer`), turn server frames into events.
//! - [`files`]: attachments — staged in the data folder when attached, uploaded by content
//!   before their message goes out (`actor` runs the uploads, `link` holds the message), and
//!   fetched with resume ([`Fetch`]).
//! - [`search`]: searching the user's rooms, on the server or in the cache.
//! - [`people`]: profiles and finding users, over the HTTP API with the login's token.
//! - [`tokens`]: where tokens live (the OS keyring in production); `api`: the HTTP API;
//!   [`transport`]: TCP/TLS/WebSocket; [`error`]: [`Error`] and its stable [`Code`].
//!
//! Imports point one way: `client` → `actor` → `link` → `core` → `db`.
//!
//! A sent message travels: [`Client::send`] → the core writes it to the outbox (only then is
//! the call answered) → [`Event::Outgoing`] (queued) → written when a link is open (sending) →
//! server `ack` → removed from the outbox, [`Event::Sent`]. A received message: server frame →
//! room in the owner's event queue → recorded by the core unless its seq was seen →
//! [`Event::Message`].

pub mod account;
mod actor;
pub mod api;
mod auth;
pub mod backoff;
pub mod client;
mod command;
mod core;
pub mod db;
pub mod error;
pub mod event;
pub mod files;
pub mod history;
mod link;
mod outbox;
mod pacer;
pub mod people;
mod refresh;
pub mod search;
pub mod servers;
pub mod tokens;
pub mod transport;
pub mod wake;

pub use account::{
    Account, Login, Profile, SignIn, SignedOut, is_loopback, server_url, server_urls,
};
pub use backoff::BackoffConfig;
pub use client::{Client, ClientConfig};
pub use core::{Conversation, JoinedRoom};
pub use db::{Database, OutboxLimits};
pub use error::{ClientCode, Code, Error, Result};
pub use event::{ConnState, Event, Outgoing, OutgoingStatus};
pub use files::transfer::{Fetch, Fetched};
pub use files::{Attach, LocalFile};
pub use history::HistoryAt;
pub use outbox::{Draft, Target};
pub use people::PeopleCall;
pub use search::{Found, SearchRequest, SearchResults, SearchSource};
pub use servers::Servers;
pub use tokens::{KeyringTokens, MemoryTokens, TokenStore};
