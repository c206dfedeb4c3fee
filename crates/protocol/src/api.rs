//! Bodies of the HTTP API under `/api`. Every error is [`ApiError`] with a non-2xx status.

use crate::{ErrorCode, Secret};
use serde::{Deserialize, Serialize};

/// `POST /api/register` (→ 201) and `POST /api/login` (→ 200 [`TokenPair`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
    /// Register only: the invite code a server with `--registration invite` asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<Secret>,
}

/// `POST /api/invites` (server administrators only) → 201 [`InviteCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteRequest {
    /// How many accounts the code may create [default 1].
    #[serde(default = "one")]
    pub uses: u32,
    /// Seconds until the code expires [default 7 days].
    #[serde(default = "a_week")]
    pub expires_in: u64,
}

fn one() -> u32 {
    1
}

fn a_week() -> u64 {
    7 * 24 * 3600
}

/// A new invite code. It is shown once: the server keeps only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteCode {
    pub code: Secret,
    /// The uses and the expiry (Unix milliseconds) it was made with.
    pub uses: u32,
    pub expires_ms: u64,
}

/// A user as others see them: `GET /api/me`, `PATCH /api/me`, `GET /api/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Profile {
    pub username: String,
    /// The name shown beside the username; `null` when none was set.
    pub display_name: Option<String>,
}

/// Body of `PATCH /api/me`: `null` or `""` clears the display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileUpdate {
    pub display_name: Option<String>,
}

/// Answer to `GET /api/users?q=`: users whose name or display name starts with `q`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Users {
    pub users: Vec<Profile>,
}

/// `201` answer to register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    pub username: String,
}

/// Answer to login and refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPair {
    /// Short-lived; sent in the `auth` frame or `Authorization: Bearer`.
    pub access_token: Secret,
    /// Long-lived and single-use: exchange it at `/api/refresh` for a new pair.
    pub refresh_token: Secret,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
}

/// `POST /api/refresh`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: Secret,
}

/// The body of every HTTP error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_json() {
        let pair = TokenPair {
            access_token: "a".into(),
            refresh_token: "r".into(),
            expires_in: 900,
        };
        assert_eq!(
            serde_json::to_string(&pair).ok().as_deref(),
            Some(r#"{"access_token":"a","refresh_token":"r","expires_in":900}"#)
        );
        let creds: Credentials = serde_json::from_str(r#"{"username":"alice","password":"pw"}"#)
            .unwrap_or_else(|e| panic!("credentials: {e}"));
        assert_eq!(creds.password.expose(), "pw");
        assert_eq!(creds.invite, None, "the invite is optional");
        let invite: InviteRequest =
            serde_json::from_str("{}").unwrap_or_else(|e| panic!("invite: {e}"));
        assert_eq!((invite.uses, invite.expires_in), (1, 7 * 24 * 3600));
        let err = ApiError {
            code: ErrorCode::InvalidCredentials,
            message: "no".into(),
        };
        assert_eq!(
            serde_json::to_string(&err).ok().as_deref(),
            Some(r#"{"code":"invalid_credentials","message":"no"}"#)
        );
        assert!(
            !format!("{creds:?}").contains("pw\""),
            "password is redacted in Debug"
        );
    }
}
