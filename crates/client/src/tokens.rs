//! Where tokens live between runs: the OS keyring in production.

use crate::{Error, Result};
use confab_protocol::api::TokenPair;
use std::sync::{Mutex, PoisonError};

/// Storage for one login's token pair. Calls may block (the keyring talks D-Bus), so the client
/// calls them on the blocking pool.
pub trait TokenStore: Send + Sync + 'static {
    fn load(&self) -> Result<Option<TokenPair>>;
    fn save(&self, pair: &TokenPair) -> Result<()>;
    fn clear(&self) -> Result<()>;

    /// A file to lock while refreshing, shared by every process using this store, so two of
    /// them (the app and `confab tail`, say) never spend the same refresh token: the server
    /// takes a second use as theft and revokes the login. `None`: only this process uses it.
    fn refresh_lock(&self) -> Option<std::path::PathBuf> {
        None
    }
}

/// Runs a blocking [`TokenStore`] call (the keyring talks D-Bus) off the runtime's threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
}

/// Tokens in memory only: for tests and for sessions the user chose not to remember.
#[derive(Debug, Default)]
pub struct MemoryTokens(Mutex<Option<TokenPair>>);

impl MemoryTokens {
    pub fn new(pair: Option<TokenPair>) -> Self {
        Self(Mutex::new(pair))
    }
}

impl TokenStore for MemoryTokens {
    fn load(&self) -> Result<Option<TokenPair>> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }
    fn save(&self, pair: &TokenPair) -> Result<()> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(pair.clone());
        Ok(())
    }
    fn clear(&self) -> Result<()> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(())
    }
}

/// The OS keyring (Secret Service on Linux, Credential Manager on Windows, Keychain on macOS).
/// There is no fallback: if the keyring is unavailable every call fails with
/// [`Error::Keyring`], and the caller must tell the user.
pub struct KeyringTokens {
    entry: keyring::Entry,
    key: String,
}

impl std::fmt::Debug for KeyringTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyringTokens")
    }
}

const SERVICE: &str = "org.confab.client";

fn keyring_error(e: keyring::Error) -> Error {
    // keyring errors describe the backend, never the secret.
    Error::Keyring(e.to_string())
}

impl KeyringTokens {
    /// The entry named `key`: an account's [`crate::Account::key`], so that every client of
    /// the account (the CLI, the app) shares its tokens and refresh lock.
    pub(crate) fn new(key: &str) -> Result<Self> {
        let entry = keyring::Entry::new(SERVICE, key).map_err(keyring_error)?;
        Ok(Self {
            entry,
            key: key.to_owned(),
        })
    }
}

impl TokenStore for KeyringTokens {
    fn load(&self) -> Result<Option<TokenPair>> {
        match self.entry.get_password() {
            Ok(json) => serde_json::from_str(&json).map(Some).map_err(|_| {
                Error::Keyring("the stored tokens are unreadable; sign in again".into())
            }),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error(e)),
        }
    }

    fn save(&self, pair: &TokenPair) -> Result<()> {
        let json = serde_json::to_string(pair).map_err(|e| Error::Internal(e.to_string()))?;
        self.entry.set_password(&json).map_err(keyring_error)
    }

    fn refresh_lock(&self) -> Option<std::path::PathBuf> {
        // The login's key, made file-name safe, in the per-user runtime (or temp) folder.
        let name: String = self
            .key
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let dir = std::env::var_os("XDG_RUNTIME_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        Some(dir.join(format!("confab-refresh-{name}.lock")))
    }

    fn clear(&self) -> Result<()> {
        match self.entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(e)),
        }
    }
}
