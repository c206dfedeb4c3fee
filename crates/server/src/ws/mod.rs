//! WebSocket sessions: authentication, the reader loop, and the writer task.
//!
//! A connection is two tasks. The reader ([`session`]) authenticates, then reads frames, applies
//! flood control, and turns each frame into hub or store calls; sends are pipelined (up to
//! `max_inflight_sends` in the database at once) and acknowledged in order. The writer
//! ([`writer`]) owns the socket's sending half and is the only place frames are written: it
//! replays rooms, drops duplicates, fills gaps from the database and coalesces queued frames
//! into one flush.

mod conversations;
mod handlers;
mod history;
mod ratelimit;
mod search;
mod session;
mod writer;

pub(crate) use session::serve;
