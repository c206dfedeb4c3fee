//! Errors as the UI receives them: `{code, message}`, in words a user understands. The code is
//! the client core's [`Code`] (its own, or the protocol's), or one of the app's own.

use confab_client::{ClientCode, Code, Error};
use confab_protocol::ErrorCode;
use serde::Serialize;

/// Codes of errors only the app has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum AppCode {
    /// "Install update" with no update found.
    NoUpdate,
}

/// Any code the UI can be given; serialises as the bare string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(untagged)]
pub enum UiCode {
    Core(Code),
    App(AppCode),
}

impl From<Code> for UiCode {
    fn from(c: Code) -> Self {
        Self::Core(c)
    }
}

impl From<ClientCode> for UiCode {
    fn from(c: ClientCode) -> Self {
        Self::Core(c.into())
    }
}

impl From<AppCode> for UiCode {
    fn from(c: AppCode) -> Self {
        Self::App(c)
    }
}

/// What a failed command returns to the UI. `code` is stable for the UI's logic; `message` is
/// shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct UiError {
    pub code: UiCode,
    pub message: String,
}

impl UiError {
    pub fn new(code: impl Into<UiCode>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl From<Error> for UiError {
    fn from(err: Error) -> Self {
        let message = match &err {
            Error::Network(_) => {
                "Can't reach the server. Check the address and your connection.".to_owned()
            }
            Error::Api { code: ErrorCode::InvalidCredentials, .. } => "Wrong username or password.".to_owned(),
            Error::Api { code: ErrorCode::UsernameTaken, .. } => "That username is taken.".to_owned(),
            Error::Api { code: ErrorCode::InvalidCredentialsFormat, .. } => {
                "Usernames use letters, digits, _ - and . (up to 32); passwords need at least 8 characters."
                    .to_owned()
            }
            Error::Api { code: ErrorCode::Forbidden, .. } => "This account is disabled.".to_owned(),
            Error::Api { message, .. } => format!("The server said: {message}"),
            Error::NotSignedIn | Error::AuthFailed(_) => "You are signed out. Sign in again.".to_owned(),
            Error::OutboxFull(_) => {
                "Too many messages are waiting to be sent. Wait until you are back online.".to_owned()
            }
            Error::Keyring(_) => "Your system keyring is unavailable, so Confab can't remember you. \
                 Unlock it, or sign in without \u{201c}Remember me\u{201d}."
                .to_owned(),
            Error::Storage(_) | Error::Io(_) => "Confab couldn't save to disk. Is the disk full?".to_owned(),
            Error::Rejected { code: ErrorCode::BadRoom, .. } => {
                "Room names use a-z, 0-9, _ - and . (up to 64).".to_owned()
            }
            Error::Rejected { code: ErrorCode::EmptyBody, .. } => "Type a message first.".to_owned(),
            Error::Rejected { message, .. } => capitalised(message),
            Error::BadServerUrl(_) => {
                "Enter the server address, like chat.example.org or 127.0.0.1:8080.".to_owned()
            }
            Error::Closed => "Confab is shutting down.".to_owned(),
            _ => err.to_string(),
        };
        Self {
            code: err.code().into(),
            message,
        }
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect::<String>() + ".")
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_reach_the_ui_as_code_and_words() {
        let e = UiError::from(Error::Api {
            status: 401,
            code: ErrorCode::InvalidCredentials,
            message: "wrong username or password".into(),
        });
        assert_eq!(
            serde_json::to_string(&e).ok().as_deref(),
            Some(r#"{"code":"invalid_credentials","message":"Wrong username or password."}"#)
        );
        let k = UiError::from(Error::Keyring(
            "org.freedesktop.DBus.Error.ServiceUnknown".into(),
        ));
        assert_eq!(
            serde_json::to_value(&k)
                .ok()
                .and_then(|v| v["code"].as_str().map(str::to_owned)),
            Some("keyring_unavailable".into())
        );
        assert!(
            !k.message.contains("DBus"),
            "no jargon for the user: {}",
            k.message
        );
        let app = UiError::new(AppCode::NoUpdate, "none");
        assert_eq!(
            serde_json::to_string(&app).ok().as_deref(),
            Some(r#"{"code":"no_update","message":"none"}"#)
        );
    }
}
