//! The signed-in session: one client core, the account it belongs to, and the event forwarder.
//!
//! Events go to the UI over a `Channel` the UI creates (`subscribe`), in batches of whatever is
//! queued at that moment: a room's replay is thousands of events, and every channel message is
//! a script the web view evaluates (memory and CPU in the web process; measured in
//! docs/bench.md). Until a channel exists events are not lost for the UI: it asks for a
//! snapshot when ready, and everything in the snapshot comes from the client's local database.

use crate::tray::TrayStatus;
use confab_client::{
    Client, ClientConfig, ConnState, Event, KeyringTokens, MemoryTokens, TokenStore,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use tauri::ipc::Channel;
use url::Url;

/// Who is signed in where; saved as `account.json` only with "remember me" (no secrets in it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Account {
    #[cfg_attr(test, ts(type = "string"))]
    pub server: Url,
    pub user: String,
}

impl Account {
    /// `host:port`, the keyring and folder key of this account.
    pub fn host(&self) -> String {
        confab_client::tokens::host_port(&self.server)
    }

    fn data_dir(&self, root: &Path) -> PathBuf {
        root.join("accounts")
            .join(format!("{}@{}", self.user, self.host().replace(':', "_")))
    }
}

/// The UI's current event sink (replaced when the page reloads).
pub type Sink = Arc<Mutex<Option<Channel<Vec<Event>>>>>;

/// Messages a room's first join brings (one server replay batch); older ones are history.
const FIRST_JOIN_LATEST: u32 = 200;

/// Most events in one message to the UI (the server replays in batches of 200).
const MAX_BATCH: usize = 256;

/// A running client for one account.
pub struct Session {
    pub account: Account,
    pub client: Client,
    pub tokens: Arc<dyn TokenStore>,
    pub state: Arc<Mutex<ConnState>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Starts the client core and the task that forwards its events to the UI.
    pub fn start(
        root: &Path,
        account: Account,
        tokens: Arc<dyn TokenStore>,
        sink: Sink,
        tray: Arc<TrayStatus>,
    ) -> confab_client::Result<Self> {
        let mut cfg = ClientConfig::new(account.server.clone(), account.data_dir(root));
        // A window shows the newest messages and pages back on demand: joining a big room
        // must not download (and hand the UI) its whole past.
        cfg.first_join_latest = Some(FIRST_JOIN_LATEST);
        let (client, mut events) = Client::start(cfg, Arc::clone(&tokens))?;
        let state = Arc::new(Mutex::new(ConnState::Connecting { attempt: 0 }));
        let shared = Arc::clone(&state);
        tauri::async_runtime::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            // Takes what is already queued, never waits for more: batching adds no latency.
            while events.recv_many(&mut batch, MAX_BATCH).await > 0 {
                for event in &batch {
                    if let Event::State(s) = event {
                        tray.set_state(s);
                        *shared.lock().unwrap_or_else(PoisonError::into_inner) = s.clone();
                    }
                }
                let channel = sink.lock().unwrap_or_else(PoisonError::into_inner).clone();
                let sent = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
                if let Some(channel) = channel {
                    // A closed channel means the page is reloading; it resubscribes and reads a
                    // snapshot, so nothing is lost for the user.
                    let _ = channel.send(sent);
                }
            }
        });
        Ok(Self {
            account,
            client,
            tokens,
            state,
        })
    }

    pub fn state(&self) -> ConnState {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Token storage for an account: the OS keyring when remembered, memory otherwise.
pub fn token_store(
    account: &Account,
    remember: bool,
) -> confab_client::Result<Arc<dyn TokenStore>> {
    Ok(if remember {
        Arc::new(KeyringTokens::for_server(&account.server, &account.user)?)
    } else {
        Arc::new(MemoryTokens::default())
    })
}

/// Reads the remembered account, if any.
pub fn load_account(root: &Path) -> Option<Account> {
    let text = std::fs::read_to_string(root.join("account.json")).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn save_account(root: &Path, account: &Account) -> std::io::Result<()> {
    std::fs::create_dir_all(root)?;
    let json = serde_json::to_string_pretty(account).map_err(std::io::Error::other)?;
    std::fs::write(root.join("account.json"), json)
}

pub fn forget_account(root: &Path) {
    let _ = std::fs::remove_file(root.join("account.json"));
}
