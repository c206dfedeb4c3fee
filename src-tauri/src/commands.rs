//! Commands the UI calls. Each takes what it needs from [`AppState`] and releases the lock
//! before awaiting: the client handle is cheap to clone.

use crate::errors::UiError;
use crate::session::{self, Account, Session, Sink};
use crate::tray::TrayStatus;
use crate::update::{self, UpdateStatus, Updates};
use confab_client::{ConnState, Event, api::Api};
use confab_protocol::{MessageData, Secret};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use url::Url;

/// Everything the app shares between commands.
pub struct AppState {
    /// The app's data folder (accounts, outboxes, message caches).
    pub root: PathBuf,
    pub session: Mutex<Option<Session>>,
    pub sink: Sink,
    /// Something the user should know at start-up (e.g. the keyring could not be read).
    pub notice: Mutex<Option<UiError>>,
    pub tray: Arc<TrayStatus>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(root: PathBuf, tray: TrayStatus) -> Self {
        Self {
            root,
            session: Mutex::new(None),
            sink: Sink::default(),
            notice: Mutex::new(None),
            tray: Arc::new(tray),
        }
    }

    /// The server of the signed-in account, if any.
    pub fn server(&self) -> Option<Url> {
        let session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        session.as_ref().map(|s| s.account.server.clone())
    }

    fn client(&self) -> Result<confab_client::Client, UiError> {
        let session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        session
            .as_ref()
            .map(|s| s.client.clone())
            .ok_or_else(|| UiError::new("not_signed_in", "You are signed out."))
    }

    /// Closes the connection cleanly (close 1000) as the app exits. Bounded: a dead network
    /// must not hold the exit.
    pub fn close_client(&self) {
        let Ok(client) = self.client() else {
            return;
        };
        tauri::async_runtime::block_on(async {
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(2), client.shutdown()).await;
        });
    }

    /// Signs in silently from the remembered account, if there is one.
    pub fn resume(&self) {
        let Some(account) = session::load_account(&self.root) else {
            return;
        };
        // `setup` runs outside the async runtime; the client core spawns its actor on it.
        let runtime = tauri::async_runtime::handle();
        let _entered = runtime.inner().enter();
        let started = session::token_store(&account, true).and_then(|tokens| {
            Session::start(
                &self.root,
                account,
                tokens,
                self.sink.clone(),
                Arc::clone(&self.tray),
            )
        });
        match started {
            Ok(s) => *self.session.lock().unwrap_or_else(PoisonError::into_inner) = Some(s),
            Err(e) => *self.notice.lock().unwrap_or_else(PoisonError::into_inner) = Some(e.into()),
        }
    }
}

/// What the UI needs to draw itself from scratch.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Snapshot {
    pub account: Option<Account>,
    pub state: ConnState,
    pub rooms: Vec<RoomView>,
    pub queued: usize,
    pub notice: Option<UiError>,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RoomView {
    pub name: String,
    #[cfg_attr(test, ts(type = "number"))]
    pub last_seq: u64,
}

/// Starts streaming events to the UI. Call before `snapshot` so nothing falls in between.
#[tauri::command]
pub fn subscribe(state: State<'_, AppState>, on_event: Channel<Vec<Event>>) {
    *state.sink.lock().unwrap_or_else(PoisonError::into_inner) = Some(on_event);
}

#[tauri::command]
pub async fn snapshot(state: State<'_, AppState>) -> Result<Snapshot, UiError> {
    let notice = state
        .notice
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let current = {
        let session = state.session.lock().unwrap_or_else(PoisonError::into_inner);
        session
            .as_ref()
            .map(|s| (s.account.clone(), s.state(), s.client.clone()))
    };
    let Some((account, conn, client)) = current else {
        return Ok(Snapshot {
            account: None,
            state: ConnState::Offline,
            rooms: vec![],
            queued: 0,
            notice,
        });
    };
    let rooms = client
        .rooms()
        .await?
        .into_iter()
        .map(|(name, last_seq)| RoomView { name, last_seq })
        .collect();
    let queued = client.queued().await?;
    Ok(Snapshot {
        account: Some(account),
        state: conn,
        rooms,
        queued,
        notice,
    })
}

/// Accepts `host:port` or a full URL; plain `http` is only assumed for local addresses.
fn server_url(input: &str) -> Result<Url, UiError> {
    let input = input.trim().trim_end_matches('/');
    let bad = || {
        UiError::new(
            "invalid_server",
            "Enter the server address, like chat.example.org or 127.0.0.1:8080.",
        )
    };
    let with_scheme = if input.contains("://") {
        input.to_owned()
    } else if input.starts_with("127.")
        || input.starts_with("localhost")
        || input.starts_with("[::1]")
    {
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

#[tauri::command]
pub async fn sign_in(
    state: State<'_, AppState>,
    server: String,
    username: String,
    password: String,
    remember: bool,
    create: bool,
) -> Result<Account, UiError> {
    let password = Secret::new(password);
    let account = Account {
        server: server_url(&server)?,
        user: username.trim().to_owned(),
    };
    let tokens = session::token_store(&account, remember)?;
    // A dead keyring is reported before the server is asked, so nothing is left half done.
    let check = std::sync::Arc::clone(&tokens);
    tauri::async_runtime::spawn_blocking(move || check.load())
        .await
        .map_err(|e| UiError::new("internal", e.to_string()))??;
    let api = Api::new(account.server.clone(), None)?;
    if create {
        api.register(&account.user, &password).await?;
    }
    let pair = api.login(&account.user, &password).await?;
    let store = std::sync::Arc::clone(&tokens);
    tauri::async_runtime::spawn_blocking(move || store.save(&pair))
        .await
        .map_err(|e| UiError::new("internal", e.to_string()))??;
    if remember {
        session::save_account(&state.root, &account)
            .map_err(|e| UiError::from(confab_client::Error::Io(e)))?;
    } else {
        session::forget_account(&state.root);
    }
    let old = state
        .session
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    if let Some(old) = old {
        let _ = old.client.shutdown().await;
    }
    let started = Session::start(
        &state.root,
        account.clone(),
        tokens,
        state.sink.clone(),
        Arc::clone(&state.tray),
    )?;
    *state.session.lock().unwrap_or_else(PoisonError::into_inner) = Some(started);
    Ok(account)
}

/// Signs out: revokes the login (best effort), deletes the tokens, forgets the account.
#[tauri::command]
pub async fn sign_out(state: State<'_, AppState>) -> Result<(), UiError> {
    let old = state
        .session
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    session::forget_account(&state.root);
    let Some(old) = old else { return Ok(()) };
    let _ = old.client.shutdown().await;
    let tokens = std::sync::Arc::clone(&old.tokens);
    let pair = tauri::async_runtime::spawn_blocking(move || tokens.load())
        .await
        .ok()
        .and_then(|r| r.ok())
        .flatten();
    if let (Some(pair), Ok(api)) = (pair, Api::new(old.account.server.clone(), None)) {
        // Offline sign-out must still work; the server forgets the login when it expires.
        let _ = api.logout(&pair.access_token).await;
    }
    let tokens = std::sync::Arc::clone(&old.tokens);
    tauri::async_runtime::spawn_blocking(move || tokens.clear())
        .await
        .map_err(|e| UiError::new("internal", e.to_string()))??;
    Ok(())
}

#[tauri::command]
pub async fn send_message(
    state: State<'_, AppState>,
    room: String,
    body: String,
) -> Result<String, UiError> {
    if body.trim().is_empty() {
        return Err(UiError::new("empty_body", "Type a message first."));
    }
    Ok(state.client()?.send(&room, &body).await?)
}

#[tauri::command]
pub async fn join_room(state: State<'_, AppState>, room: String) -> Result<(), UiError> {
    let room = room.trim().to_lowercase();
    if !confab_protocol::limits::valid_room(&room) {
        return Err(UiError::new(
            "bad_room",
            "Room names use a-z, 0-9, _ - and . (up to 64).",
        ));
    }
    Ok(state.client()?.join(&room).await?)
}

#[tauri::command]
pub async fn leave_room(state: State<'_, AppState>, room: String) -> Result<(), UiError> {
    Ok(state.client()?.leave(&room).await?)
}

#[tauri::command]
pub async fn history(
    state: State<'_, AppState>,
    room: String,
    before: Option<u64>,
    limit: u32,
) -> Result<Vec<MessageData>, UiError> {
    Ok(state
        .client()?
        .history(&room, before, limit.clamp(1, 200))
        .await?)
}

#[tauri::command]
pub async fn typing(state: State<'_, AppState>, room: String) -> Result<(), UiError> {
    Ok(state.client()?.typing(&room).await?)
}

/// Where an update stands (the UI asks once when it starts, then follows `update` events).
#[tauri::command]
pub fn update_status(updates: State<'_, Updates>) -> UpdateStatus {
    updates.status()
}

/// Looks for an update on the signed-in server; `silent` (at start) shows only a found one.
#[tauri::command]
pub async fn check_update<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    silent: bool,
) -> Result<(), UiError> {
    update::check(app, state.server(), silent).await;
    Ok(())
}

/// Downloads, verifies and installs the update the last check found.
#[tauri::command]
pub async fn install_update<R: Runtime>(app: AppHandle<R>) -> Result<(), UiError> {
    update::install(app).await
}

/// Restarts into the installed update.
#[tauri::command]
pub fn restart_to_update<R: Runtime>(app: AppHandle<R>) {
    app.restart();
}

/// The UI reports its "mute all" setting, which the tray menu shows ticked.
#[tauri::command]
pub fn set_mute_all(state: State<'_, AppState>, muted: bool) {
    state.tray.set_mute_all(muted);
}

/// The UI reports its total unread count, which the tray icon shows.
#[tauri::command]
pub fn set_unread(state: State<'_, AppState>, count: u32) {
    state.tray.set_unread(count);
}

#[tauri::command]
pub async fn retry_now(state: State<'_, AppState>) -> Result<(), UiError> {
    Ok(state.client()?.retry_now().await?)
}

/// The UI has painted its first view (the sign-in form or the rooms). Logged once (info) with
/// the time since the process started: how long a user waits for the app, the startup figure
/// in docs/bench.md.
#[tauri::command]
pub fn painted() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let ms = crate::STARTED.get().map_or(0, |t| t.elapsed().as_millis());
        tracing::info!(ms, "first paint");
    });
}

#[cfg(test)]
mod tests {
    use super::server_url;

    #[test]
    fn server_addresses_are_normalised() {
        let url = |s: &str| server_url(s).map(|u| u.to_string()).unwrap_or_default();
        assert_eq!(url("127.0.0.1:8080"), "http://127.0.0.1:8080/");
        assert_eq!(url("chat.example.org"), "https://chat.example.org/");
        assert_eq!(
            url("http://chat.example.org:80/"),
            "http://chat.example.org/"
        );
        assert!(server_url("ftp://x").is_err());
        assert!(server_url("").is_err());
    }
}
