//! Commands the UI calls: thin wrappers over the client core. Each takes what it needs from
//! [`DesktopState`] and releases the lock before awaiting: the client handle is cheap to clone.

use crate::errors::UiError;
use crate::signed_in::{SignedIn, UiChannel};
use crate::tray::TrayStatus;
use crate::update::{self, UpdateStatus, Updates};
use confab_client::{
    Account, ClientCode, ConnState, Draft, Event, Login, Outgoing, Profile, SignIn, server_urls,
};
use confab_client::{Conversation, HistoryAt, PeopleCall, SearchRequest, SearchResults};
use confab_protocol::api::Profile as UserProfile;
use confab_protocol::{MessageData, Secret};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use url::Url;

/// How long stopping a client may take before the app moves on (a dead network must not
/// hold a sign-out or the exit).
const STOP_WAIT: Duration = Duration::from_secs(2);

/// Everything the app shares between commands.
pub struct DesktopState {
    /// The app's data folder: its accounts, their outboxes and message caches.
    pub profile: Profile,
    pub signed_in: Mutex<Option<SignedIn>>,
    pub ui: UiChannel,
    /// Something the user should know at start-up (e.g. the keyring could not be read).
    pub notice: Mutex<Option<UiError>>,
    pub tray: Arc<TrayStatus>,
}

impl std::fmt::Debug for DesktopState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesktopState")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl DesktopState {
    pub fn new(root: PathBuf, tray: TrayStatus) -> Self {
        Self {
            profile: Profile::new(root),
            signed_in: Mutex::new(None),
            ui: UiChannel::default(),
            notice: Mutex::new(None),
            tray: Arc::new(tray),
        }
    }

    /// The server of the signed-in account, if any.
    pub fn server(&self) -> Option<Url> {
        let signed_in = self
            .signed_in
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        signed_in.as_ref().map(|s| s.login.account.server.clone())
    }

    pub(crate) fn client(&self) -> Result<confab_client::Client, UiError> {
        let signed_in = self
            .signed_in
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        signed_in
            .as_ref()
            .map(|s| s.client.clone())
            .ok_or_else(|| UiError::new(ClientCode::NotSignedIn, "You are signed out."))
    }

    fn take(&self) -> Option<SignedIn> {
        self.signed_in
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn start(&self, login: Login) -> confab_client::Result<()> {
        let started = SignedIn::start(
            &self.profile,
            login,
            self.ui.clone(),
            Arc::clone(&self.tray),
        )?;
        *self
            .signed_in
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(started);
        Ok(())
    }

    /// Closes the connection cleanly (close 1000) as the app exits.
    pub fn close_client(&self) {
        let Ok(client) = self.client() else {
            return;
        };
        tauri::async_runtime::block_on(async {
            let _ = tokio::time::timeout(STOP_WAIT, client.shutdown()).await;
        });
    }

    /// Signs in silently from the remembered account, if there is one.
    pub fn resume(&self) {
        // `setup` runs outside the async runtime; the client core spawns its actor on it.
        let runtime = tauri::async_runtime::handle();
        let _entered = runtime.inner().enter();
        let started = match self.profile.resume() {
            Ok(Some(login)) => self.start(login),
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = started {
            *self.notice.lock().unwrap_or_else(PoisonError::into_inner) = Some(e.into());
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
    /// Every message of the outbox, oldest first: a restarted app shows them in their rooms.
    pub outbox: Vec<Outgoing>,
    pub notice: Option<UiError>,
}

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RoomView {
    pub name: String,
    #[cfg_attr(test, ts(type = "number"))]
    pub last_seq: u64,
    /// `null` until the server said (a room from before conversations: public).
    pub visibility: Option<confab_protocol::Visibility>,
}

/// Starts streaming events to the UI. Call before `snapshot` so nothing falls in between.
#[tauri::command]
pub fn subscribe(state: State<'_, DesktopState>, on_event: Channel<Vec<Event>>) {
    *state.ui.lock().unwrap_or_else(PoisonError::into_inner) = Some(on_event);
}

#[tauri::command]
pub async fn snapshot(state: State<'_, DesktopState>) -> Result<Snapshot, UiError> {
    let notice = state
        .notice
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let current = {
        let signed_in = state
            .signed_in
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        signed_in
            .as_ref()
            .map(|s| (s.login.account.clone(), s.state(), s.client.clone()))
    };
    let Some((account, conn, client)) = current else {
        return Ok(Snapshot {
            account: None,
            state: ConnState::Offline,
            rooms: vec![],
            outbox: vec![],
            notice,
        });
    };
    let rooms = client
        .rooms()
        .await?
        .into_iter()
        .map(|r| RoomView {
            name: r.name,
            last_seq: r.last_seq,
            visibility: r.visibility,
        })
        .collect();
    Ok(Snapshot {
        account: Some(account),
        state: conn,
        rooms,
        outbox: client.outbox().await?,
        notice,
    })
}

#[tauri::command]
pub async fn sign_in(
    state: State<'_, DesktopState>,
    server: String,
    username: String,
    password: String,
    remember: bool,
    create: bool,
    invite: Option<String>,
) -> Result<Account, UiError> {
    let request = SignIn {
        account: {
            let (primary, fallbacks) = server_urls(&server)?;
            Account::new(primary, &username).with_fallbacks(fallbacks)
        },
        password: Secret::new(password),
        register: create,
        invite: invite
            .filter(|c| !c.trim().is_empty())
            .map(|c| Secret::new(c.trim())),
        remember,
    };
    let login = state.profile.sign_in(request).await?;
    if let Some(old) = state.take() {
        let _ = tokio::time::timeout(STOP_WAIT, old.client.shutdown()).await;
    }
    let account = login.account.clone();
    state.start(login)?;
    Ok(account)
}

/// Signs out: revokes the login (best effort), deletes the tokens, forgets the account.
#[tauri::command]
pub async fn sign_out(state: State<'_, DesktopState>) -> Result<(), UiError> {
    let Some(old) = state.take() else {
        return Ok(());
    };
    let _ = tokio::time::timeout(STOP_WAIT, old.client.shutdown()).await;
    // Offline sign-out still works; the server forgets the login when it expires.
    state.profile.sign_out(&old.login).await?;
    Ok(())
}

/// Queues a message (a reply with `reply_to`); its progress comes as `outgoing` / `sent` /
/// `send_failed` events.
#[tauri::command]
pub async fn send_message(
    state: State<'_, DesktopState>,
    room: String,
    body: String,
    reply_to: Option<u64>,
) -> Result<String, UiError> {
    let draft = Draft::Message {
        body,
        reply_to,
        files: Vec::new(),
    };
    Ok(state.client()?.queue(&room, draft).await?.id.into())
}

/// Queues an edit, deletion or reaction through the same outbox; answers the outbox entry (for
/// an edit or deletion of a message still queued, that message: see `Client::queue`).
#[tauri::command]
pub async fn change_message(
    state: State<'_, DesktopState>,
    room: String,
    change: Draft,
) -> Result<Outgoing, UiError> {
    Ok(state.client()?.queue(&room, change).await?)
}

/// Joins a room by the name the user typed; answers its name (`#General` is `general`).
#[tauri::command]
pub async fn join_room(state: State<'_, DesktopState>, room: String) -> Result<String, UiError> {
    Ok(state.client()?.join(&room).await?.into())
}

#[tauri::command]
pub async fn leave_room(state: State<'_, DesktopState>, room: String) -> Result<(), UiError> {
    Ok(state.client()?.leave(&room).await?)
}

/// A page of history: before a seq (scrollback), after one (down from a jump) or around one
/// (a jump to a search hit).
#[tauri::command]
pub async fn history(
    state: State<'_, DesktopState>,
    room: String,
    before: Option<u64>,
    after: Option<u64>,
    around: Option<u64>,
    limit: u32,
) -> Result<Vec<MessageData>, UiError> {
    let at = match (after, around) {
        (Some(a), _) => HistoryAt::After(a),
        (None, Some(seq)) => HistoryAt::Around(seq),
        (None, None) => HistoryAt::Before(before),
    };
    Ok(state.client()?.history_at(&room, at, limit).await?)
}

/// Searches the user's rooms: the server online, the cache offline (each hit says which).
#[tauri::command]
pub async fn search(
    state: State<'_, DesktopState>,
    query: String,
    room: Option<String>,
    page: Option<String>,
    limit: u32,
) -> Result<SearchResults, UiError> {
    let request = SearchRequest {
        query,
        room,
        page,
        limit,
    };
    Ok(state.client()?.search(request).await?)
}

#[tauri::command]
pub async fn typing(state: State<'_, DesktopState>, room: String) -> Result<(), UiError> {
    Ok(state.client()?.typing(&room).await?)
}

/// Creates, invites, kicks, parts, sets roles, opens dms, lists rooms or members, marks read:
/// what it did comes as events.
#[tauri::command]
pub async fn conversation(
    state: State<'_, DesktopState>,
    request: Conversation,
) -> Result<(), UiError> {
    Ok(state.client()?.conversation(request).await?)
}

/// The signed-in user's profile.
#[tauri::command]
pub async fn me(state: State<'_, DesktopState>) -> Result<Option<UserProfile>, UiError> {
    Ok(state.client()?.people(PeopleCall::Me).await?.pop())
}

/// Sets (empty: clears) the signed-in user's display name.
#[tauri::command]
pub async fn set_display_name(
    state: State<'_, DesktopState>,
    name: String,
) -> Result<Option<UserProfile>, UiError> {
    let name = Some(name).filter(|n| !n.trim().is_empty());
    let call = PeopleCall::SetDisplayName(name);
    Ok(state.client()?.people(call).await?.pop())
}

/// Users whose name or display name starts with `query` (the dialogs' user search).
#[tauri::command]
pub async fn search_users(
    state: State<'_, DesktopState>,
    query: String,
) -> Result<Vec<UserProfile>, UiError> {
    Ok(state.client()?.people(PeopleCall::Search(query)).await?)
}

#[tauri::command]
pub fn update_status(updates: State<'_, Updates>) -> UpdateStatus {
    updates.status()
}

/// Looks for an update on the signed-in server; `silent` (at start) shows only a found one.
#[tauri::command]
pub async fn check_update<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, DesktopState>,
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
pub fn set_mute_all(state: State<'_, DesktopState>, muted: bool) {
    state.tray.set_mute_all(muted);
}

/// The UI reports its total unread count and how many of those mention the user, which the
/// tray shows (mentions with an icon of their own).
#[tauri::command]
pub fn set_unread(state: State<'_, DesktopState>, count: u32, mentions: Option<u32>) {
    state.tray.set_unread(count, mentions.unwrap_or(0));
}

#[tauri::command]
pub async fn retry_now(state: State<'_, DesktopState>) -> Result<(), UiError> {
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
