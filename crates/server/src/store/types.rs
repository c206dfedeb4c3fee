//! What goes in and out of the storage interface, whatever the backend.

use confab_protocol::MessageData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::oneshot;

/// A message as a client sent it.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub room: String,
    pub client_id: String,
    pub author: String,
    pub body: String,
}

/// What storing a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Stored now, with this sequence number.
    Stored { seq: u64 },
    /// This author already stored this id in this room: the original seq, nothing new stored.
    Duplicate { seq: u64 },
    /// This author already used this id in another room.
    IdReused { room: String },
    /// Not attempted: an earlier send of the same connection failed, and storing this one
    /// would put it ahead of that one.
    HeldBack,
}

/// One connection's sends, in the order it made them. Once one of them fails, every later one
/// is held back ([`SendOutcome::HeldBack`]) rather than stored ahead of it: the client resends
/// all of them, in order, after reconnecting. Each backend checks and sets the flag in the same
/// order as it stores the sends, so "later" means later in storage order, not in wall time.
#[derive(Debug, Clone, Default)]
pub struct SendOrder(Arc<AtomicBool>);

impl SendOrder {
    pub(crate) fn is_held(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    pub(crate) fn hold(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// A send accepted by the store; its outcome is known once the storage has committed it.
#[derive(Debug)]
pub struct PendingSend(pub(crate) oneshot::Receiver<crate::Result<SendOutcome>>);

impl PendingSend {
    /// The outcome, once durable (or the failure).
    pub async fn outcome(self) -> crate::Result<SendOutcome> {
        self.0.await.unwrap_or(Err(crate::Error::StoreClosed))
    }
}

/// A user row as login needs it.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub disabled: bool,
}

/// The verdict on an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessCheck {
    Valid {
        username: String,
        /// The login (token family) it belongs to, rechecked while a connection lives.
        login: i64,
    },
    /// Unknown, expired or revoked.
    Invalid,
    /// Valid token of a disabled account.
    Forbidden,
}

/// The result of exchanging a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was good and is now spent; new tokens were stored for the same login.
    Rotated,
    Invalid,
    /// The token was already spent: the whole login has been revoked.
    Reused,
    Forbidden,
}

/// A token as stored: its SHA-256 hash (never the token) and when it expires.
#[derive(Debug, Clone)]
pub struct StoredToken {
    pub hash: Vec<u8>,
    pub expires_ms: u64,
}

/// The access and refresh token of one issue.
#[derive(Debug, Clone)]
pub struct TokenPairHashes {
    pub access: StoredToken,
    pub refresh: StoredToken,
}

/// What a backend's insert did: stored a new message, or found an answer without storing.
#[derive(Debug)]
pub(crate) enum Inserted {
    New(MessageData),
    Not(SendOutcome),
}

impl Inserted {
    /// The outcome for the sender, and the message for the fan-out if one was stored.
    pub(crate) fn split(
        result: crate::Result<Self>,
    ) -> (crate::Result<SendOutcome>, Option<MessageData>) {
        match result {
            Ok(Self::New(m)) => (Ok(SendOutcome::Stored { seq: m.seq }), Some(m)),
            Ok(Self::Not(outcome)) => (Ok(outcome), None),
            Err(e) => (Err(e), None),
        }
    }
}
