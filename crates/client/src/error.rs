//! The client crate's one error type.

use confab_protocol::ErrorCode;

/// What can go wrong in the client. Messages are written for people; [`Error::code`] gives a
/// stable machine code for UIs. No variant ever carries a token or password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot reach the server: {0}")]
    Network(String),
    #[error("{message}")]
    Api {
        status: u16,
        code: ErrorCode,
        message: String,
    },
    #[error("not signed in")]
    NotSignedIn,
    #[error("the outbox is full ({0}); wait until queued messages are delivered")]
    OutboxFull(String),
    #[error("local storage failed: {0}")]
    Storage(#[from] rusqlite::Error),
    #[error("the system keyring is unavailable: {0}")]
    Keyring(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the client has shut down")]
    Closed,
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// A stable code for the UI (`{code, message}`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Network(_) => "network",
            Self::Api { code, .. } => code.as_str(),
            Self::NotSignedIn => "not_signed_in",
            Self::OutboxFull(_) => "outbox_full",
            Self::Storage(_) => "storage",
            Self::Keyring(_) => "keyring_unavailable",
            Self::Invalid(_) => "invalid",
            Self::Closed => "closed",
            Self::Io(_) => "io",
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
