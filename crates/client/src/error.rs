//! The client crate's one error type, and [`Code`]: the stable machine code of every error the
//! client reports, shared by the CLI (its exit codes) and the app (`{code, message}`).

use confab_protocol::ErrorCode;
use serde::Serialize;

/// What can go wrong in the client. Messages are written for people; [`Error::code`] gives the
/// stable code. No variant ever carries a token or password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot reach the server: {0}")]
    Network(String),
    /// The server refused a request (HTTP API) with one of the protocol's codes.
    #[error("{message}")]
    Api {
        status: u16,
        code: ErrorCode,
        message: String,
    },
    #[error("not signed in")]
    NotSignedIn,
    /// The server refused our credentials and refreshing did not help.
    #[error("signed out: {0}")]
    AuthFailed(String),
    #[error("the outbox is full ({0}); wait until queued messages are delivered")]
    OutboxFull(String),
    #[error("local storage failed: {0}")]
    Storage(#[from] rusqlite::Error),
    #[error("the system keyring is unavailable: {0}")]
    Keyring(String),
    /// Input the server would refuse for good (a room name, a message body), refused here
    /// first with the code the server would have used.
    #[error("{message}")]
    Rejected { code: ErrorCode, message: String },
    #[error("not a server address: {0}")]
    BadServerUrl(String),
    #[error("the CA certificate is unusable: {0}")]
    BadCertificate(String),
    #[error("the client has shut down")]
    Closed,
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A bug or an impossible state (a task that panicked, a value that does not encode).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The refusal of `input` with the wire `code`, in words a user understands.
    pub(crate) fn rejected(code: ErrorCode, input: &str) -> Self {
        let message = match code {
            ErrorCode::BadRoom => format!(
                "\"{input}\" is not a room name: use a-z, 0-9, _ - and . (up to 64 characters)"
            ),
            ErrorCode::EmptyBody => "the message is empty".to_owned(),
            ErrorCode::BodyTooLong => format!(
                "the message is too long ({} bytes; the server takes fewer)",
                input.len()
            ),
            other => other.as_str().replace('_', " "),
        };
        Self::Rejected { code, message }
    }

    /// The stable code for scripts and UIs.
    pub fn code(&self) -> Code {
        use ClientCode as C;
        match self {
            Self::Network(_) => C::Network.into(),
            Self::Api { code, .. } | Self::Rejected { code, .. } => Code::Protocol(*code),
            Self::NotSignedIn => C::NotSignedIn.into(),
            Self::AuthFailed(_) => C::AuthFailed.into(),
            Self::OutboxFull(_) => C::OutboxFull.into(),
            Self::Storage(_) | Self::Io(_) => C::Storage.into(),
            Self::Keyring(_) => C::KeyringUnavailable.into(),
            Self::BadServerUrl(_) => C::BadServerUrl.into(),
            Self::BadCertificate(_) => C::BadCertificate.into(),
            Self::Closed => C::Closed.into(),
            Self::Internal(_) => C::Internal.into(),
        }
    }

    /// Whether this means "sign in again" (as opposed to "try again later").
    pub fn needs_sign_in(&self) -> bool {
        self.code().needs_sign_in()
    }
}

/// Codes of errors that arise in the client itself (the server's own are [`ErrorCode`]s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ClientCode {
    /// The server cannot be reached.
    Network,
    /// No account is signed in here.
    NotSignedIn,
    /// The server refused the credentials, and refreshing did not help.
    AuthFailed,
    /// The system keyring could not be read or written.
    KeyringUnavailable,
    /// The outbox is at its limit.
    OutboxFull,
    /// The local database or data folder failed (often: the disk is full).
    Storage,
    BadServerUrl,
    BadCertificate,
    /// The server's history of a room is shorter than ours: it was reset.
    RoomReset,
    /// The client was shut down.
    Closed,
    Internal,
}

/// Every error's stable code: one of the client's own, or one of the protocol's (a refusal by
/// the server, or input the client refused for the server's reason). Serialises as the bare
/// string, e.g. `"keyring_unavailable"` or `"bad_room"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(untagged)]
pub enum Code {
    Client(ClientCode),
    Protocol(ErrorCode),
}

impl From<ClientCode> for Code {
    fn from(c: ClientCode) -> Self {
        Self::Client(c)
    }
}

impl Code {
    /// Whether the user must sign in again for this to go away.
    pub fn needs_sign_in(self) -> bool {
        matches!(
            self,
            Self::Client(ClientCode::NotSignedIn | ClientCode::AuthFailed)
                | Self::Protocol(
                    ErrorCode::InvalidCredentials
                        | ErrorCode::InvalidToken
                        | ErrorCode::TokenReused
                        | ErrorCode::Forbidden
                )
        )
    }

    /// The wire spelling, e.g. `"keyring_unavailable"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Protocol(c) => c.as_str(),
            Self::Client(c) => match c {
                ClientCode::Network => "network",
                ClientCode::NotSignedIn => "not_signed_in",
                ClientCode::AuthFailed => "auth_failed",
                ClientCode::KeyringUnavailable => "keyring_unavailable",
                ClientCode::OutboxFull => "outbox_full",
                ClientCode::Storage => "storage",
                ClientCode::BadServerUrl => "bad_server_url",
                ClientCode::BadCertificate => "bad_certificate",
                ClientCode::RoomReset => "room_reset",
                ClientCode::Closed => "closed",
                ClientCode::Internal => "internal",
            },
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_their_bare_spelling() {
        let json = |c: Code| serde_json::to_string(&c).unwrap_or_default();
        assert_eq!(
            json(ClientCode::KeyringUnavailable.into()),
            "\"keyring_unavailable\""
        );
        assert_eq!(json(Code::Protocol(ErrorCode::BadRoom)), "\"bad_room\"");
        for c in [
            ClientCode::Network,
            ClientCode::RoomReset,
            ClientCode::Internal,
        ] {
            assert_eq!(json(c.into()), format!("\"{}\"", Code::from(c).as_str()));
        }
    }

    #[test]
    fn refused_input_carries_the_servers_code() {
        let e = Error::rejected(ErrorCode::BadRoom, "General Chat");
        assert_eq!(e.code(), Code::Protocol(ErrorCode::BadRoom));
        assert!(e.to_string().contains("General Chat"), "{e}");
    }
}
