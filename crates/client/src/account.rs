//! Accounts: who is signed in where, how a login's tokens are kept, and the one data-folder
//! layout every client (the CLI, the app) uses, so they can share an account.
//!
//! ```text
//! <profile root>/                 the CLI's --data-dir, or the app's data folder
//!   account.json                  the remembered account: server and user, no secrets
//!   accounts/<user>@<host>_<port>/client.db    that account's outbox and message cache
//! ```
//! Tokens live in the OS keyring under the entry [`Account::key`] (`user@host:port`), or only
//! in memory for a login the user chose not to remember.

use crate::api::Api;
use crate::servers::Servers;
use crate::tokens::{KeyringTokens, MemoryTokens, blocking};
use crate::{Client, ClientConfig, Error, Event, Result, TokenStore};
use confab_protocol::Secret;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;
use url::Url;

/// Who is signed in where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Account {
    /// The server, or the first node of several: it names the account.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub server: Url,
    pub user: String,
    /// The deployment's other nodes, tried in turn when the one in use cannot be reached.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "Array<string>"))]
    pub fallbacks: Vec<Url>,
}

impl Account {
    pub fn new(server: Url, user: &str) -> Self {
        Self {
            server,
            user: user.trim().to_owned(),
            fallbacks: Vec::new(),
        }
    }

    /// The account on several nodes of one deployment: `server` first, then these.
    pub fn with_fallbacks(mut self, fallbacks: Vec<Url>) -> Self {
        self.fallbacks = fallbacks;
        self
    }

    /// Every server of the account's deployment, in the order they are tried.
    pub fn servers(&self) -> Servers {
        Servers::new(self.server.clone(), &self.fallbacks)
    }

    /// `host:port` of the server (`chat.example.org:443`).
    pub fn host(&self) -> String {
        format!(
            "{}:{}",
            self.server.host_str().unwrap_or("?"),
            self.server.port_or_known_default().unwrap_or(0)
        )
    }

    /// The account's name in the keyring, and so in every process that shares its login:
    /// `user@host:port`.
    pub fn key(&self) -> String {
        format!("{}@{}", self.user, self.host())
    }

    /// The folder of this account's outbox and cache under a profile root.
    pub fn data_dir(&self, root: &Path) -> PathBuf {
        root.join("accounts").join(self.key().replace(':', "_"))
    }

    /// The keyring entry of this account's tokens.
    pub fn keyring(&self) -> Result<KeyringTokens> {
        KeyringTokens::new(&self.key())
    }
}

/// A server address as a person types it: `host:port` or a full URL. Plain `http` is assumed
/// only for this machine's own addresses (see [`is_loopback`]); anything else is `https`,
/// `localhost.evil.com` and `127.0.0.1.nip.io` included.
pub fn server_url(input: &str) -> Result<Url> {
    let input = input.trim().trim_end_matches('/');
    let bad = || Error::BadServerUrl(input.to_owned());
    let with_scheme = if input.contains("://") {
        input.to_owned()
    } else if Url::parse(&format!("http://{input}")).is_ok_and(|u| is_loopback(&u)) {
        format!("http://{input}")
    } else {
        format!("https://{input}")
    };
    let url = Url::parse(&with_scheme).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad());
    }
    Ok(url)
}

/// Whether `url` names this machine itself — the host `localhost`, an address in `127.0.0.0/8`,
/// or `::1` — by its parsed host, never by how the text begins. Only there may plain http carry
/// a password or a token without anyone else on the path.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Several servers as a person types them, separated by commas or spaces (the nodes of one
/// deployment): the first names the account, the others are fallbacks.
pub fn server_urls(input: &str) -> Result<(Url, Vec<Url>)> {
    let mut urls = input
        .split([',', ' ', '\t', '\n'])
        .filter(|s| !s.trim().is_empty())
        .map(server_url);
    let primary = urls
        .next()
        .unwrap_or_else(|| Err(Error::BadServerUrl(input.trim().to_owned())))?;
    Ok((primary, urls.collect::<Result<_>>()?))
}

/// What signing in needs.
#[derive(Debug)]
pub struct SignIn {
    pub account: Account,
    pub password: Secret,
    /// Create the account first.
    pub register: bool,
    /// With `register`: the invite code the server may ask for.
    pub invite: Option<Secret>,
    /// Keep the tokens in the OS keyring and the account in `account.json`; otherwise the
    /// tokens live in memory until the process ends.
    pub remember: bool,
}

/// A signed-in account and where its tokens are.
#[derive(Clone)]
pub struct Login {
    pub account: Account,
    pub tokens: Arc<dyn TokenStore>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// How signing out went on the server (it always succeeds here).
#[derive(Debug)]
pub enum SignedOut {
    /// The server revoked the login.
    Revoked,
    /// The server could not be told; the login ends there when its tokens expire.
    LocalOnly(Error),
}

/// A profile: one data folder and the accounts in it.
#[derive(Debug, Clone)]
pub struct Profile {
    root: PathBuf,
}

impl Profile {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `$XDG_DATA_HOME/confab` (or `~/.local/share/confab`): the CLI's default.
    pub fn default_root() -> PathBuf {
        std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .map(|d| d.join("confab"))
            .unwrap_or_else(|| PathBuf::from(".confab"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn account_file(&self) -> PathBuf {
        self.root.join("account.json")
    }

    /// The remembered account, if any. A damaged file is an error, not a sign-out.
    pub fn remembered(&self) -> Result<Option<Account>> {
        let text = match std::fs::read_to_string(self.account_file()) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::Io(std::io::Error::other(format!(
                "account.json is damaged: {e}"
            )))
        })
    }

    fn remember(&self, account: &Account) -> Result<()> {
        std::fs::create_dir_all(&self.root)?;
        let json = serde_json::to_string_pretty(account).map_err(std::io::Error::other)?;
        let tmp = self.root.join("account.json.tmp");
        std::fs::write(&tmp, json)?;
        Ok(std::fs::rename(tmp, self.account_file())?)
    }

    fn forget(&self) -> Result<()> {
        match std::fs::remove_file(self.account_file()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// The remembered account with its keyring tokens: what a restart signs in with.
    pub fn resume(&self) -> Result<Option<Login>> {
        let Some(account) = self.remembered()? else {
            return Ok(None);
        };
        let tokens: Arc<dyn TokenStore> = Arc::new(account.keyring()?);
        Ok(Some(Login { account, tokens }))
    }

    /// The client settings of an account in this profile (its data folder; defaults else).
    pub fn config(&self, account: &Account) -> Result<ClientConfig> {
        let dir = account.data_dir(&self.root);
        self.adopt_flat_layout(&dir)?;
        let mut cfg = ClientConfig::new(account.server.clone(), dir);
        cfg.fallback_servers = account.fallbacks.clone();
        Ok(cfg)
    }

    /// Before accounts had folders, the CLI kept its database in the root itself: move it to
    /// the account's folder, so nothing queued there is left behind.
    fn adopt_flat_layout(&self, dir: &Path) -> Result<()> {
        let old = self.root.join("client.db");
        if !old.exists() || dir.join("client.db").exists() {
            return Ok(());
        }
        std::fs::create_dir_all(dir)?;
        for suffix in ["", "-wal", "-shm"] {
            let from = self.root.join(format!("client.db{suffix}"));
            if from.exists() {
                std::fs::rename(from, dir.join(format!("client.db{suffix}")))?;
            }
        }
        Ok(())
    }

    /// Starts the client core for a login, with `tweak` applied to the settings.
    pub fn start(
        &self,
        login: &Login,
        tweak: impl FnOnce(&mut ClientConfig),
    ) -> Result<(Client, mpsc::Receiver<Event>)> {
        let mut cfg = self.config(&login.account)?;
        tweak(&mut cfg);
        Client::start(cfg, Arc::clone(&login.tokens))
    }

    /// Signs in (registering first if asked). A dead keyring is found before the server is
    /// asked, so nothing is left half done; the account is remembered only if asked.
    pub async fn sign_in(&self, s: SignIn) -> Result<Login> {
        let tokens: Arc<dyn TokenStore> = if s.remember {
            Arc::new(s.account.keyring()?)
        } else {
            Arc::new(MemoryTokens::default())
        };
        let probe = Arc::clone(&tokens);
        blocking(move || probe.load()).await?;
        let api = Api::with_servers(s.account.servers(), None)?;
        if s.register {
            api.register(&s.account.user, &s.password, s.invite.as_ref())
                .await?;
        }
        let pair = api.login(&s.account.user, &s.password).await?;
        let store = Arc::clone(&tokens);
        blocking(move || store.save(&pair)).await?;
        if s.remember {
            self.remember(&s.account)?;
        } else {
            self.forget()?;
        }
        Ok(Login {
            account: s.account,
            tokens,
        })
    }

    /// Signs out: the server revokes the login (if it can be reached), the tokens are deleted
    /// and the account is forgotten. Stop the login's client first.
    pub async fn sign_out(&self, login: &Login) -> Result<SignedOut> {
        if self.remembered().ok().flatten().as_ref() == Some(&login.account) {
            self.forget()?;
        }
        let store = Arc::clone(&login.tokens);
        let pair = blocking(move || store.load()).await?;
        let outcome = match pair {
            Some(pair) => {
                let api = Api::with_servers(login.account.servers(), None)?;
                match api.logout(&pair).await {
                    Ok(()) => SignedOut::Revoked,
                    Err(e) => SignedOut::LocalOnly(e),
                }
            }
            None => SignedOut::Revoked,
        };
        let store = Arc::clone(&login.tokens);
        blocking(move || store.clear()).await?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_layout_names_the_keyring_entry_and_the_folder() {
        let account = Account::new(server_url("127.0.0.1:8080").unwrap(), " alice ");
        assert_eq!(account.key(), "alice@127.0.0.1:8080");
        assert_eq!(
            account.data_dir(Path::new("/p")),
            Path::new("/p/accounts/alice@127.0.0.1_8080")
        );
        let tls = Account::new(server_url("chat.example.org").unwrap(), "bob");
        assert_eq!(tls.key(), "bob@chat.example.org:443");
    }

    #[test]
    fn server_addresses_are_normalised() {
        let url = |s: &str| server_url(s).map(|u| u.to_string()).unwrap_or_default();
        assert_eq!(url("127.0.0.1:8080"), "http://127.0.0.1:8080/");
        assert_eq!(url("localhost:8080"), "http://localhost:8080/");
        assert_eq!(url("[::1]:8080"), "http://[::1]:8080/");
        assert_eq!(url("chat.example.org"), "https://chat.example.org/");
        // Names that only begin like this machine's are somebody else's.
        assert_eq!(url("localhost.evil.com"), "https://localhost.evil.com/");
        assert_eq!(
            url("127.0.0.1.nip.io:8080"),
            "https://127.0.0.1.nip.io:8080/"
        );
        assert_eq!(url("localhostile.org"), "https://localhostile.org/");
        assert_eq!(
            url("http://chat.example.org:80/"),
            "http://chat.example.org/"
        );
        assert!(matches!(server_url("ftp://x"), Err(Error::BadServerUrl(_))));
        let (first, rest) =
            server_urls("127.0.0.1:8080, 127.0.0.1:8081 https://c.example").unwrap();
        assert_eq!(first.as_str(), "http://127.0.0.1:8080/");
        let rest: Vec<&str> = rest.iter().map(Url::as_str).collect();
        assert_eq!(rest, ["http://127.0.0.1:8081/", "https://c.example/"]);
        assert!(server_urls(" , ").is_err());
        assert!(server_urls("a.example, ftp://b").is_err());
        assert!(server_url("").is_err());
    }

    #[test]
    fn a_flat_cli_folder_is_adopted_with_its_outbox() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("client.db"), b"db").unwrap();
        std::fs::write(root.path().join("client.db-wal"), b"wal").unwrap();
        let profile = Profile::new(root.path());
        let account = Account::new(server_url("127.0.0.1:1").unwrap(), "alice");
        let cfg = profile.config(&account).unwrap();
        assert_eq!(
            std::fs::read(cfg.data_dir.join("client.db-wal")).unwrap(),
            b"wal"
        );
        assert!(!root.path().join("client.db").exists());
    }

    #[test]
    fn a_damaged_account_file_is_an_error_not_a_sign_out() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("account.json"), b"{").unwrap();
        assert!(Profile::new(root.path()).remembered().is_err());
        assert!(
            Profile::new(root.path().join("none"))
                .remembered()
                .unwrap()
                .is_none()
        );
    }
}
