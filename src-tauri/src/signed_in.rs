//! The signed-in account: its login, its running client core, and the task forwarding the
//! core's events to the UI.
//!
//! Events go to the UI over a `Channel` the UI creates (`subscribe`), in batches of whatever is
//! queued at that moment: a room's replay is thousands of events, and every channel message is
//! a script the web view evaluates (memory and CPU in the web process; measured in
//! docs/bench.md). Until a channel exists events are not lost for the UI: it asks for a
//! snapshot when ready, and everything in the snapshot comes from the client's local database.

use crate::tray::TrayStatus;
use confab_client::{Client, ConnState, Event, Login, Profile};
use std::sync::{Arc, Mutex, PoisonError};
use tauri::ipc::Channel;

/// The UI's current event channel (replaced when the page reloads).
pub type UiChannel = Arc<Mutex<Option<Channel<Vec<Event>>>>>;

/// Messages a room's first join brings (one server replay batch); older ones are history.
const FIRST_JOIN_LATEST: u32 = 200;

/// Most events in one message to the UI (the server replays in batches of 200).
const MAX_BATCH: usize = 256;

/// A running client core for one login.
pub struct SignedIn {
    pub login: Login,
    pub client: Client,
    state: Arc<Mutex<ConnState>>,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("account", &self.login.account)
            .finish_non_exhaustive()
    }
}

impl SignedIn {
    /// Starts the client core and the task that forwards its events to the UI.
    pub fn start(
        profile: &Profile,
        login: Login,
        ui: UiChannel,
        tray: Arc<TrayStatus>,
    ) -> confab_client::Result<Self> {
        // A window shows the newest messages and pages back on demand: joining a big room
        // must not download (and hand the UI) its whole past.
        let (client, mut events) = profile.start(&login, |cfg| {
            cfg.first_join_latest = Some(FIRST_JOIN_LATEST);
            // The sidebar lists every room of the user's: each one flows on this device.
            cfg.follow_rooms = true;
        })?;
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
                let channel = ui.lock().unwrap_or_else(PoisonError::into_inner).clone();
                let sent = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
                if let Some(channel) = channel {
                    // A closed channel means the page is reloading; it resubscribes and reads a
                    // snapshot, so nothing is lost for the user.
                    let _ = channel.send(sent);
                }
            }
        });
        Ok(Self {
            login,
            client,
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
