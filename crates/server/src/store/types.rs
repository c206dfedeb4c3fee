//! What goes in and out of the storage interface, whatever the backend.

use confab_protocol::Event;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::oneshot;

/// An entry of a room's stream as a client sent it: a message, or a change aimed at one.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub room: String,
    pub client_id: String,
    pub author: String,
    pub payload: Payload,
}

/// What a client-sent stream entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Message {
        body: String,
        reply_to: Option<u64>,
        /// As the client named them; the store resolves each against its file records.
        attachments: Vec<confab_protocol::Attachment>,
    },
    Edit {
        target: u64,
        body: String,
    },
    Delete {
        target: u64,
    },
    React {
        target: u64,
        emoji: String,
        on: bool,
    },
}

impl Payload {
    /// The message it is aimed at (a reply's too).
    pub fn target(&self) -> Option<u64> {
        match self {
            Self::Message { reply_to, .. } => *reply_to,
            Self::Edit { target, .. } | Self::Delete { target } | Self::React { target, .. } => {
                Some(*target)
            }
        }
    }

    /// The stored `kind` of its row.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Message { .. } => "message",
            Self::Edit { .. } => "edit",
            Self::Delete { .. } => "delete",
            Self::React { .. } => "react",
        }
    }
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
    /// The room is private or a dm, and the author is not (or no longer) a member; or the
    /// change is not the author's to make (an edit of someone else's message).
    Forbidden,
    /// The target is no message of the room, or a deleted one.
    BadTarget,
    /// An attachment names no file, or one the author may not post.
    BadAttachment,
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
    /// A server administrator: creates invites, and may manage every room.
    pub admin: bool,
    pub display_name: Option<String>,
}

/// Who may register (`--registration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationPolicy {
    /// Anyone who reaches the server.
    Open,
    /// Only with an invite code from an administrator (the first account needs none).
    #[default]
    Invite,
    /// Nobody: an administrator creates accounts (`confab-server create-user`).
    Closed,
}

/// Why an account is being created.
#[derive(Debug, Clone)]
pub enum Admission {
    /// Through `POST /api/register` under this policy, with the invite code's hash if one came.
    Register {
        policy: RegistrationPolicy,
        invite: Option<Vec<u8>>,
    },
    /// By an administrator on the server's command line.
    ByAdmin { admin: bool },
}

/// A new account, its password already hashed.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub password_hash: String,
    pub admission: Admission,
}

/// What registering did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    /// Created; `admin` for the first account of a server (and when an administrator said so).
    Created { admin: bool },
    /// The name is taken (in any case). An invite code given was not spent.
    Taken,
    /// No invite code, or one that is unknown, used up or expired.
    InviteRequired,
    /// The server takes no registrations.
    Closed,
}

impl Admission {
    /// The invite code to spend, if this registration needs one spent: only when the policy
    /// asks for invites, the server has accounts already and the name is free.
    pub(crate) fn invite_to_spend(&self, first: bool, taken: bool) -> Option<&[u8]> {
        match self {
            Self::Register {
                policy: RegistrationPolicy::Invite,
                invite: Some(code),
            } if !first && !taken => Some(code),
            _ => None,
        }
    }

    /// The decision every backend makes, given whether the server has no account yet, whether
    /// the name is taken, and whether the invite from [`Self::invite_to_spend`] was spent.
    pub(crate) fn decide(&self, first: bool, taken: bool, invite_spent: bool) -> Registered {
        if taken {
            return Registered::Taken;
        }
        match self {
            Self::ByAdmin { admin } => Registered::Created { admin: *admin },
            Self::Register { policy, .. } => match policy {
                RegistrationPolicy::Closed => Registered::Closed,
                _ if first => Registered::Created { admin: true },
                RegistrationPolicy::Open => Registered::Created { admin: false },
                RegistrationPolicy::Invite if invite_spent => Registered::Created { admin: false },
                RegistrationPolicy::Invite => Registered::InviteRequired,
            },
        }
    }
}

/// A new invite code, as stored: its hash, never the code.
#[derive(Debug, Clone)]
pub struct NewInvite {
    pub hash: Vec<u8>,
    /// The administrator who made it; `None` from the command line.
    pub created_by: Option<i64>,
    pub uses: u32,
    pub expires_ms: u64,
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
    New(Event),
    Not(SendOutcome),
}

impl Inserted {
    /// The outcome for the sender, and the message for the fan-out if one was stored.
    pub(crate) fn split(
        result: crate::Result<Self>,
    ) -> (crate::Result<SendOutcome>, Option<Event>) {
        match result {
            Ok(Self::New(e)) => (Ok(SendOutcome::Stored { seq: e.seq() }), Some(e)),
            Ok(Self::Not(outcome)) => (Ok(outcome), None),
            Err(e) => (Err(e), None),
        }
    }
}

/// A search as the store runs it: the parsed query over `user`'s rooms, newest first.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub user: String,
    pub query: confab_protocol::search::Query,
    /// One room only (the frame's `room` or the query's `in:`; both must agree).
    pub room: Option<String>,
    /// With a room: only messages with seq below this.
    pub before: Option<u64>,
    /// Where the previous page ended, as the store itself wrote it into [`SearchPage::next`].
    pub page: Option<SearchCursor>,
    pub limit: usize,
}

/// A place in a backend's order of search hits: numbers only that backend reads. On the wire
/// it is the numbers joined by dots, opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchCursor(pub Vec<u64>);

impl SearchCursor {
    /// Reads a `page` off the wire; `None` if it is not one a server wrote.
    pub fn parse(text: &str) -> Option<Self> {
        let parts: Option<Vec<u64>> = text.split('.').map(|p| p.parse().ok()).collect();
        parts.filter(|p| !p.is_empty() && p.len() <= 3).map(Self)
    }
}

impl std::fmt::Display for SearchCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u64::to_string).collect();
        f.write_str(&parts.join("."))
    }
}

/// One page of hits, each with its place in the backend's order (a `page` that continues
/// after it), and whether older hits exist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchPage {
    pub hits: Vec<(SearchCursor, confab_protocol::SearchHit)>,
    pub more: bool,
}
