//! Errors as the UI receives them: `{code, message}`, in words a user understands.

use confab_client::Error;
use confab_protocol::ErrorCode;
use serde::Serialize;

/// What a failed command returns to the UI. `code` is stable for the UI's logic; `message` is
/// shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct UiError {
    pub code: String,
    pub message: String,
}

impl UiError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
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
            Error::NotSignedIn => "You are signed out. Sign in again.".to_owned(),
            Error::OutboxFull(_) => {
                "Too many messages are waiting to be sent. Wait until you are back online.".to_owned()
            }
            Error::Keyring(_) => "Your system keyring is unavailable, so Confab can't remember you. \
                 Unlock it, or sign in without \u{201c}Remember me\u{201d}."
                .to_owned(),
            Error::Storage(_) | Error::Io(_) => "Confab couldn't save to disk. Is the disk full?".to_owned(),
            Error::Invalid(m) => m.clone(),
            Error::Closed => "Confab is shutting down.".to_owned(),
            _ => err.to_string(),
        };
        Self {
            code: err.code().to_owned(),
            message,
        }
    }
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
        assert_eq!(k.code, "keyring_unavailable");
        assert!(
            !k.message.contains("DBus"),
            "no jargon for the user: {}",
            k.message
        );
    }
}
