//! Several nodes on one PostgreSQL database, joined through Redis (`--pubsub redis://…`).
//!
//! Redis pub/sub is at-most-once, so it is only a doorbell; nothing depends on it, or on any
//! one node's memory:
//! - **Messages**: after its commit (and the ack), a node rings `confab:room:<room>` with the
//!   seq and the frame. Other nodes hand that to their local members like a local commit; each
//!   connection's writer drops what it already delivered and reads any gap back from the
//!   database. A doorbell that never rings (the node died between COMMIT and PUBLISH, Redis
//!   was down) is covered by the check: every `check_every`, each node compares the
//!   `last_seq` of the rooms its members are in with what it has handed out, and has those
//!   members catch up from the database when the database is ahead. Resubscribing after a
//!   lost Redis connection runs the check at once.
//! - **Presence**: each node keeps its users per room in a Redis sorted set scored by expiry,
//!   refreshed every `presence_refresh`; a node that dies stops refreshing, and its users drop
//!   out of everyone's presence when their entries expire (`presence_ttl`). Changes ring
//!   `confab:presence:<room>` so the others recompute at once.
//! - **Typing** rings `confab:typing:<room>`: fine to lose, like typing on one node.
//! - **A user's devices** (a room added or removed, a read position) ring `confab:user:<name>`.
//!   A lost one is covered by the stream itself (a removal is an entry of the room) and by the
//!   room list every client asks for when it connects.
//! - **A member removed** from a room travels as that room's entry; each node takes the
//!   member's connections out of the room when it hands the entry on, whether it heard the
//!   doorbell or read the entry back from the database.
//! - Token revocation needs nothing here: sessions recheck their login in the database.

mod tasks;

use crate::metrics::Metrics;
use crate::rooms::Hub;
use crate::store::Store;
use crate::{Error, Result};
use axum::extract::ws::Utf8Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Doorbells waiting for Redis before new ones are dropped (the check covers dropped ones).
const RING_QUEUE: usize = 8192;

/// How the nodes keep each other informed; the defaults suit a LAN.
#[derive(Clone)]
pub struct ClusterConfig {
    /// The Redis URL (`redis://host:port/`), from `--pubsub`.
    pub url: String,
    /// How often a node checks its rooms' `last_seq` against what it delivered: the longest a
    /// lost doorbell delays a message.
    pub check_every: Duration,
    /// How often a node renews its users' presence entries.
    pub presence_refresh: Duration,
    /// How long a presence entry lives unrenewed: a dead node's users are gone after this.
    pub presence_ttl: Duration,
    /// Test failpoint: commit and ack, but never ring for an entry or a user — as if the node
    /// died between COMMIT and PUBLISH.
    pub drop_doorbells: bool,
}

impl ClusterConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            check_every: Duration::from_secs(1),
            presence_refresh: Duration::from_secs(5),
            presence_ttl: Duration::from_secs(15),
            drop_doorbells: false,
        }
    }
}

/// The URL may carry a password: it is never shown.
impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("check_every", &self.check_every)
            .field("presence_refresh", &self.presence_refresh)
            .field("presence_ttl", &self.presence_ttl)
            .field("drop_doorbells", &self.drop_doorbells)
            .finish_non_exhaustive()
    }
}

/// What a node tells the others.
#[derive(Debug)]
enum Ring {
    Message {
        room: String,
        seq: u64,
        frame: Utf8Bytes,
    },
    Typing {
        room: String,
        user: String,
    },
    Presence {
        room: String,
        user: String,
        present: bool,
    },
    User {
        user: String,
        frame: Utf8Bytes,
    },
}

/// A cloneable handle to this node's link with the others.
#[derive(Debug, Clone)]
pub struct Cluster {
    rings: mpsc::Sender<Ring>,
    subscribed: Arc<AtomicBool>,
    drop_doorbells: bool,
}

impl Cluster {
    /// Starts the publisher, the subscriber and the checker; they run until `shutdown`. A
    /// Redis that is not reachable yet is retried in the background (`/readyz` says so).
    pub fn start(
        config: ClusterConfig,
        hub: Arc<Hub>,
        store: Store,
        metrics: Arc<Metrics>,
        shutdown: CancellationToken,
    ) -> Result<Self> {
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| Error::Pubsub(format!("bad --pubsub URL: {e}")))?;
        let (rings, rx) = mpsc::channel(RING_QUEUE);
        let subscribed = Arc::new(AtomicBool::new(false));
        let node = tasks::Node {
            id: format!("{:016x}", rand::random::<u64>()),
            client,
            hub,
            store,
            metrics,
            config: config.clone(),
            subscribed: Arc::clone(&subscribed),
            shutdown,
            rings: rings.clone(),
        };
        node.spawn(rx);
        Ok(Self {
            rings,
            subscribed,
            drop_doorbells: config.drop_doorbells,
        })
    }

    /// Whether this node is currently subscribed (it hears the others' doorbells).
    pub fn is_connected(&self) -> bool {
        self.subscribed.load(Ordering::Acquire)
    }

    /// Rings for a committed message. Never waits: when Redis lags, the doorbell is dropped
    /// and the others' check delivers the message instead.
    pub fn message(&self, room: &str, seq: u64, frame: &Utf8Bytes) {
        if self.drop_doorbells {
            return;
        }
        let _ = self.rings.try_send(Ring::Message {
            room: room.to_owned(),
            seq,
            frame: frame.clone(),
        });
    }

    pub fn typing(&self, room: &str, user: &str) {
        let _ = self.rings.try_send(Ring::Typing {
            room: room.to_owned(),
            user: user.to_owned(),
        });
    }

    /// A frame for every connection of `user`, on every node.
    pub fn user(&self, user: &str, frame: &Utf8Bytes) {
        if self.drop_doorbells {
            return;
        }
        let _ = self.rings.try_send(Ring::User {
            user: user.to_ascii_lowercase(),
            frame: frame.clone(),
        });
    }

    /// This node's first connection of `user` in `room` arrived, or its last one left.
    pub fn presence(&self, room: &str, user: &str, present: bool) {
        let _ = self.rings.try_send(Ring::Presence {
            room: room.to_owned(),
            user: user.to_owned(),
            present,
        });
    }
}
