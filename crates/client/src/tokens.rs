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
        Some(lock_path(
            &self.key,
            std::env::var_os("XDG_RUNTIME_DIR").map(std::path::PathBuf::from),
            crate::Profile::default_root(),
        ))
    }

    fn clear(&self) -> Result<()> {
        match self.entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(e)),
        }
    }
}

/// Where the refresh lock of the login `key` lives: the per-user runtime folder (0700, the
/// user's alone), else the user's data folder — never the shared temp folder, where another
/// user could take the name first (a symlink, or a file that they hold locked).
fn lock_path(
    key: &str,
    runtime_dir: Option<std::path::PathBuf>,
    data_root: std::path::PathBuf,
) -> std::path::PathBuf {
    let name: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    runtime_dir
        .filter(|d| d.is_absolute())
        .unwrap_or(data_root)
        .join(format!("confab-refresh-{name}.lock"))
}

/// Opens the refresh lock at `path` as a plain file of ours, created 0600 in a folder created
/// 0700. An existing symlink (or anything else that is not the file it names) is refused: the
/// lock is only ever locked, never written, but it must not reach a file somewhere else.
pub(crate) fn open_lock(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::fs::OpenOptions;
    if let Some(dir) = path.parent() {
        let mut folder = std::fs::DirBuilder::new();
        folder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
        folder.create(dir)?;
    }
    let mut create = OpenOptions::new();
    create.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut create, 0o600);
    // `create_new` never follows a link; an existing name is opened and then checked to be the
    // very file that the name (not followed) is.
    let file = match create.open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            OpenOptions::new().write(true).open(path)?
        }
        other => other?,
    };
    let named = std::fs::symlink_metadata(path)?;
    let opened = file.metadata()?;
    let same = {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            (named.dev(), named.ino()) == (opened.dev(), opened.ino())
        }
        #[cfg(not(unix))]
        {
            opened.is_file()
        }
    };
    if !named.file_type().is_file() || !same {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a plain file; remove it", path.display()),
        ));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn the_lock_is_in_the_users_own_folders_never_in_tmp() {
        let data = PathBuf::from("/home/u/.local/share/confab");
        let run = Some(PathBuf::from("/run/user/1000"));
        let key = "alice@chat.example.org:443";
        assert_eq!(
            lock_path(key, run, data.clone()),
            PathBuf::from("/run/user/1000/confab-refresh-alice_chat_example_org_443.lock")
        );
        let without = lock_path(key, None, data.clone());
        assert!(without.starts_with(&data), "{without:?}");
        let relative = lock_path(key, Some(PathBuf::from("run")), data.clone());
        assert!(
            relative.starts_with(&data),
            "a relative runtime dir is no such folder"
        );
        assert!(!without.starts_with(std::env::temp_dir()));
    }

    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_is_refused_and_its_target_untouched() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        let lock = dir.path().join("confab-refresh-x.lock");
        std::os::unix::fs::symlink(&victim, &lock).unwrap();
        let refused = open_lock(&lock);
        assert!(refused.is_err(), "a symlink was taken as the lock");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");

        let fresh = dir.path().join("sub/confab-refresh-y.lock");
        let file = open_lock(&fresh).unwrap();
        file.lock().unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&fresh), 0o600);
        assert_eq!(mode(&dir.path().join("sub")), 0o700);
        drop(file);
        open_lock(&fresh).unwrap();
    }
}
