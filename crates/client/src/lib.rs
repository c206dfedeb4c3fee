//! confab-client: the connection that never loses a message, shared by the desktop app and the
//! `confab` CLI. No Tauri, no UI.
//!
//! - [`Client`] ([`client`]): the cloneable handle. Every call is a command to one private actor
//!   over a bounded channel; the actor answers on a oneshot and reports everything else as
//!   [`Event`]s ([`event`]) on one ordered stream.
//! - [`actor`]: the only owner of the socket. Connects, authenticates (refreshing once on 4001),
//!   backs off ([`backoff`]), notices sleep and network changes ([`wake`]), and while open runs
//!   [`session`]: resume every room, flush the outbox in order at a paced rate ([`pacer`]), and
//!   turn server frames into events.
//! - [`local`]: the client's SQLite: the durable outbox, per-room resume points, a message cache.
//! - [`tokens`]: where tokens live (the OS keyring in production); [`api`]: the HTTP API;
//!   [`transport`]: TCP/TLS/WebSocket.
//!
//! A sent message travels: `Client::send` → actor writes it to the outbox (only then is the
//! call answered) → frame when open → server `ack` → removed from the outbox, `Event::Sent`.
//! A received message: server frame → recorded in `local` unless its seq was seen → `Event::Message`.

pub mod actor;
pub mod api;
pub mod backoff;
pub mod client;
mod error;
pub mod event;
pub mod local;
mod pacer;
mod session;
pub mod tokens;
pub mod transport;
pub mod wake;

pub use backoff::BackoffConfig;
pub use client::{Client, ClientConfig};
pub use error::{Error, Result};
pub use event::{ConnState, Event};
pub use local::OutboxLimits;
pub use tokens::{KeyringTokens, MemoryTokens, TokenStore};
