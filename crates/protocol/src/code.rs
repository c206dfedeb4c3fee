//! Stable error codes and WebSocket close codes.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The `code` of an `error` frame or of an HTTP error body `{"code","message"}`.
///
/// Codes are part of the contract: they are never renamed, only added. Clients must treat an
/// unknown code as [`ErrorCode::Unknown`] rather than fail, which `#[serde(other)]` provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    // --- WebSocket frame errors (the connection stays open) ---
    /// The frame was not valid JSON, or not a JSON object.
    InvalidJson,
    /// The frame's `type` is not one this server knows.
    UnknownType,
    /// A known frame with a missing or malformed field.
    BadFrame,
    /// The room name breaks the rules in `limits`.
    BadRoom,
    /// The frame names a room this connection has not joined.
    NotJoined,
    /// The message body is longer than the limit.
    BodyTooLong,
    /// The message body is empty or only white space.
    EmptyBody,
    /// The send `id` is empty, too long, or was already used for another room.
    BadId,
    /// Too many frames: slow down (see `retry_after_ms`).
    RateLimited,
    /// Binary frames are not part of the protocol.
    BinaryNotSupported,
    /// The server could not store the message (e.g. disk full). Nothing was stored; retry later.
    StorageFailed,
    /// An earlier send on this connection was refused for now, so this one was not stored
    /// either (storing it would put it ahead of the earlier one): reconnect and resend both,
    /// in order.
    ResendRequired,

    // --- HTTP API errors ---
    /// The request body is not what the endpoint expects.
    BadRequest,
    /// Username or password do not meet the rules.
    InvalidCredentialsFormat,
    /// Registration with a name that exists.
    UsernameTaken,
    /// Wrong username or password.
    InvalidCredentials,
    /// The token is unknown, expired or revoked.
    InvalidToken,
    /// A refresh token was used twice; the whole login was revoked.
    TokenReused,
    /// Not allowed: the account is disabled, or the request needs a right this user lacks (a
    /// member of the room, its owner or admin, a server administrator).
    Forbidden,
    /// The request's `Origin` is not on the server's allowlist.
    OriginNotAllowed,
    /// The body is larger than the server accepts.
    PayloadTooLarge,
    /// No such endpoint.
    NotFound,
    /// The server is overloaded; retry later.
    Busy,
    /// An unexpected server fault. Details are in the server log, never on the wire.
    Internal,
    /// `create` with the name of a room that exists.
    RoomExists,
    /// The frame names a user that does not exist.
    NoSuchUser,
    /// The user named is not a member of the room.
    NotMember,
    /// An edit, delete, reaction or reply aimed at a seq that is no message of the room, or
    /// at a deleted one.
    BadTarget,
    /// A reaction that is not one emoji.
    BadEmoji,
    /// Registration on this server needs an invite code, and none (or no valid one) was given.
    InviteRequired,
    /// This server takes no registrations; an administrator creates accounts.
    RegistrationClosed,

    /// A `search` query that cannot be run (empty, too long, an unknown filter).
    BadQuery,

    // --- Files ---
    /// An upload larger than the server's largest file.
    FileTooLarge,
    /// The upload would take the uploader's stored files beyond their quota.
    QuotaExceeded,
    /// The server does not take files of this type.
    FileTypeNotAllowed,
    /// An image with more pixels than the server decodes (see `files::MAX_IMAGE_PIXELS`).
    ImageTooLarge,
    /// A `send` names a file that does not exist or that the sender may not post.
    BadAttachment,
    /// Any code this version does not know (sent by a newer server).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The wire spelling, e.g. `"rate_limited"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJson => "invalid_json",
            Self::UnknownType => "unknown_type",
            Self::BadFrame => "bad_frame",
            Self::BadRoom => "bad_room",
            Self::NotJoined => "not_joined",
            Self::BodyTooLong => "body_too_long",
            Self::EmptyBody => "empty_body",
            Self::BadId => "bad_id",
            Self::RateLimited => "rate_limited",
            Self::BinaryNotSupported => "binary_not_supported",
            Self::StorageFailed => "storage_failed",
            Self::ResendRequired => "resend_required",
            Self::BadRequest => "bad_request",
            Self::InvalidCredentialsFormat => "invalid_credentials_format",
            Self::UsernameTaken => "username_taken",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidToken => "invalid_token",
            Self::TokenReused => "token_reused",
            Self::Forbidden => "forbidden",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::NotFound => "not_found",
            Self::Busy => "busy",
            Self::Internal => "internal",
            Self::RoomExists => "room_exists",
            Self::NoSuchUser => "no_such_user",
            Self::NotMember => "not_member",
            Self::BadTarget => "bad_target",
            Self::BadEmoji => "bad_emoji",
            Self::InviteRequired => "invite_required",
            Self::RegistrationClosed => "registration_closed",
            Self::BadQuery => "bad_query",
            Self::FileTooLarge => "file_too_large",
            Self::QuotaExceeded => "quota_exceeded",
            Self::FileTypeNotAllowed => "file_type_not_allowed",
            Self::ImageTooLarge => "image_too_large",
            Self::BadAttachment => "bad_attachment",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// WebSocket close codes the server uses. See docs/protocol.md for when each is sent and what a
/// client should do about it.
pub mod close {
    /// Normal closure (client logout, or client-initiated close).
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down or restarting: reconnect with backoff. The reason may carry a
    /// retry hint, `retry_after_ms=<n>`.
    pub const GOING_AWAY: u16 = 1001;
    /// Policy violation: sustained flood or a protocol breach. Reconnect only after backoff.
    pub const POLICY: u16 = 1008;
    /// A frame or message above the size limit.
    pub const TOO_BIG: u16 = 1009;
    /// The server is overloaded; reconnect later (reason may carry `retry_after_ms=<n>`).
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// No `auth` frame within the auth timeout, or another frame came first.
    pub const AUTH_TIMEOUT: u16 = 4000;
    /// The token is invalid or expired: refresh it, then reconnect.
    pub const AUTH_FAILED: u16 = 4001;
    /// The account is disabled or gone: do not retry; ask the user to sign in again.
    pub const FORBIDDEN: u16 = 4003;

    /// Builds the close reason that carries a retry hint.
    pub fn retry_hint(retry_after_ms: u64) -> String {
        format!("retry_after_ms={retry_after_ms}")
    }

    /// Reads a retry hint out of a close reason, if it carries one.
    pub fn parse_retry_hint(reason: &str) -> Option<u64> {
        reason
            .split(|c: char| c == ';' || c.is_whitespace())
            .find_map(|part| part.strip_prefix("retry_after_ms="))
            .and_then(|n| n.parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_matches_serde() {
        for code in [
            ErrorCode::InvalidJson,
            ErrorCode::UnknownType,
            ErrorCode::BadFrame,
            ErrorCode::BadRoom,
            ErrorCode::NotJoined,
            ErrorCode::BodyTooLong,
            ErrorCode::EmptyBody,
            ErrorCode::BadId,
            ErrorCode::RateLimited,
            ErrorCode::BinaryNotSupported,
            ErrorCode::StorageFailed,
            ErrorCode::ResendRequired,
            ErrorCode::BadRequest,
            ErrorCode::InvalidCredentialsFormat,
            ErrorCode::UsernameTaken,
            ErrorCode::InvalidCredentials,
            ErrorCode::InvalidToken,
            ErrorCode::TokenReused,
            ErrorCode::Forbidden,
            ErrorCode::OriginNotAllowed,
            ErrorCode::PayloadTooLarge,
            ErrorCode::NotFound,
            ErrorCode::Busy,
            ErrorCode::Internal,
            ErrorCode::InviteRequired,
            ErrorCode::RegistrationClosed,
            ErrorCode::RoomExists,
            ErrorCode::NoSuchUser,
            ErrorCode::NotMember,
            ErrorCode::BadTarget,
            ErrorCode::BadEmoji,
            ErrorCode::BadQuery,
            ErrorCode::FileTooLarge,
            ErrorCode::QuotaExceeded,
            ErrorCode::FileTypeNotAllowed,
            ErrorCode::ImageTooLarge,
            ErrorCode::BadAttachment,
            ErrorCode::Unknown,
        ] {
            let json = serde_json::to_string(&code).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn unknown_codes_from_a_newer_server_do_not_fail() {
        let code: Result<ErrorCode, _> = serde_json::from_str("\"a_code_from_the_future\"");
        assert_eq!(code.ok(), Some(ErrorCode::Unknown));
    }

    #[test]
    fn retry_hint_round_trips() {
        assert_eq!(
            close::parse_retry_hint(&close::retry_hint(2500)),
            Some(2500)
        );
        assert_eq!(
            close::parse_retry_hint("shutting down; retry_after_ms=10"),
            Some(10)
        );
        assert_eq!(close::parse_retry_hint("bye"), None);
    }
}
