//! The connection actor: the one place that connects, authenticates and decides when to retry.
//!
//! ```text
//!            ┌────────────── retry_now / network change / wake ──────────────┐
//!            ▼                                                               │
//!   ┌─► Connecting ──ready──► Open ──socket lost / dead / 1001──► Reconnecting{attempt, retry_at}
//!   │        │   4001: refresh once, reconnect at once                       │
//!   │        └──error────────────────────────────────────────────────────────┘
//!   │        │   4003, refresh refused, no tokens
//!   │        ▼
//!   └── AuthFailed (no retries) ◄── signed_in / retry_now
//! ```
//! Reconnection is driven only from [`Actor::run`]'s loop, so at most one socket exists at once.

use crate::api::{Api, is_auth_rejection};
use crate::backoff::Backoff;
use crate::local::Local;
use crate::session::Session;
use crate::transport::{Dial, Ws};
use crate::wake::{ClockWatch, network_fingerprint};
use crate::{ClientConfig, ConnState, Error, Event, Result, TokenStore};
use confab_protocol::api::TokenPair;
use confab_protocol::{MessageData, ServerFrame, close};
use futures_util::{SinkExt, StreamExt};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info};

/// What the handle asks for.
#[derive(Debug)]
pub enum Command {
    Send {
        room: String,
        body: String,
        reply: oneshot::Sender<Result<String>>,
    },
    Join {
        room: String,
        after: Option<u64>,
        reply: oneshot::Sender<Result<()>>,
    },
    Leave {
        room: String,
        reply: oneshot::Sender<Result<()>>,
    },
    Typing {
        room: String,
    },
    History {
        room: String,
        before: Option<u64>,
        limit: u32,
        reply: oneshot::Sender<Result<Vec<MessageData>>>,
    },
    Queued {
        reply: oneshot::Sender<Result<usize>>,
    },
    Rooms {
        reply: oneshot::Sender<Result<Vec<(String, u64)>>>,
    },
    RetryNow,
    NetworkChanged,
    Shutdown {
        reply: oneshot::Sender<Result<()>>,
    },
}

/// How a connection attempt or session ended, and so what to do next.
#[derive(Debug)]
pub(crate) enum Next {
    /// Wait (at least `hint`), then reconnect; `now` skips the wait.
    Retry {
        reason: String,
        hint: Option<Duration>,
        now: bool,
    },
    AuthFailed(String),
    Shutdown(Option<oneshot::Sender<Result<()>>>),
}

/// Whether an offline wait should end.
enum Wake {
    Retry,
    Shutdown(Option<oneshot::Sender<Result<()>>>),
}

pub(crate) struct Actor {
    pub cfg: ClientConfig,
    pub api: Api,
    dial: Arc<dyn Dial>,
    tokens: Arc<dyn TokenStore>,
    pub local: Local,
    pub cmds: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    backoff: Backoff,
    rng: StdRng,
    pub clock: ClockWatch,
    pub net: u64,
    /// The longest body the server accepts (from `ready`; the protocol default until then).
    pub max_body: usize,
    /// The newest token pair. Kept here so a refresh whose save to the store failed is not
    /// undone by reloading the spent pair (which the server would take as token theft).
    current: Option<TokenPair>,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Actor {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: ClientConfig,
        api: Api,
        dial: Arc<dyn Dial>,
        tokens: Arc<dyn TokenStore>,
        local: Local,
        cmds: mpsc::Receiver<Command>,
        events: mpsc::Sender<Event>,
        clock: ClockWatch,
    ) -> Self {
        let backoff = Backoff::new(cfg.backoff.clone());
        Self {
            cfg,
            api,
            dial,
            tokens,
            local,
            cmds,
            events,
            backoff,
            rng: StdRng::from_os_rng(),
            clock,
            net: network_fingerprint(),
            max_body: confab_protocol::limits::MAX_BODY_BYTES,
            current: None,
        }
    }

    /// Reports an event. The future does not borrow the actor (whose SQLite handle is not
    /// `Sync`). A consumer that dropped its receiver must not stop the connection — the outbox
    /// still has to drain — so a closed channel is ignored.
    pub fn emit(&self, event: Event) -> impl Future<Output = ()> + Send + use<> {
        let events = self.events.clone();
        async move {
            let _ = events.send(event).await;
        }
    }

    pub async fn run(mut self) {
        if let Ok(n) = self.local.pending_count() {
            self.emit(Event::Outbox { queued: n }).await;
        }
        let shutdown_reply = loop {
            match self.connect_and_serve().await {
                Next::Shutdown(reply) => break reply,
                Next::AuthFailed(reason) => {
                    info!(%reason, "authentication failed; waiting for a new sign-in");
                    self.current = None;
                    self.emit(Event::State(ConnState::AuthFailed { reason }))
                        .await;
                    match self.wait_offline(None).await {
                        Wake::Retry => self.backoff.reset(),
                        Wake::Shutdown(reply) => break reply,
                    }
                }
                Next::Retry { reason, hint, now } => {
                    debug!(%reason, "connection lost");
                    if now {
                        continue;
                    }
                    let delay = self
                        .backoff
                        .next_delay(&mut self.rng)
                        .max(hint.unwrap_or_default());
                    let state = ConnState::Reconnecting {
                        attempt: self.backoff.attempt(),
                        retry_in_ms: delay.as_millis() as u64,
                        retry_at_ms: unix_ms() + delay.as_millis() as u64,
                        reason,
                    };
                    self.emit(Event::State(state)).await;
                    if let Wake::Shutdown(reply) = self.wait_offline(Some(delay)).await {
                        break reply;
                    }
                }
            }
        };
        self.emit(Event::State(ConnState::Offline)).await;
        if let Some(reply) = shutdown_reply {
            let _ = reply.send(Ok(()));
        }
    }

    /// Serves commands while not connected, until `delay` passes (or forever with `None`), a
    /// retry is asked for, the machine wakes or the network changes, or shutdown.
    async fn wait_offline(&mut self, delay: Option<Duration>) -> Wake {
        let deadline = delay.map(|d| Instant::now() + d);
        let mut tick = tokio::time::interval(self.cfg.tick);
        loop {
            tokio::select! {
                () = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => return Wake::Retry,
                _ = tick.tick() => {
                    if self.watch_says_reconnect() && delay.is_some() {
                        return Wake::Retry;
                    }
                }
                cmd = self.cmds.recv() => match cmd {
                    None => return Wake::Shutdown(None),
                    Some(Command::Shutdown { reply }) => return Wake::Shutdown(Some(reply)),
                    Some(Command::RetryNow | Command::NetworkChanged) => return Wake::Retry,
                    Some(other) => self.offline_command(other).await,
                },
            }
        }
    }

    /// True when the machine slept or the network changed since the last look.
    pub fn watch_says_reconnect(&mut self) -> bool {
        let jumped = self.clock.jumped();
        let net = network_fingerprint();
        let changed = net != self.net;
        self.net = net;
        if jumped || changed {
            info!(
                jumped,
                changed, "woke up or the network changed; reconnecting now"
            );
        }
        jumped || changed
    }

    /// A command while there is no socket: everything works on the local store.
    pub async fn offline_command(&mut self, cmd: Command) {
        match cmd {
            Command::Send { room, body, reply } => {
                let _ = reply.send(self.queue_message(&room, &body).map(|q| q.id));
                if let Ok(n) = self.local.pending_count() {
                    self.emit(Event::Outbox { queued: n }).await;
                }
            }
            Command::Join { room, after, reply } => {
                let _ = reply.send(self.note_join(&room, after));
            }
            Command::Leave { room, reply } => {
                let _ = reply.send(self.local.set_joined(&room, false));
            }
            Command::History {
                room,
                before,
                limit,
                reply,
            } => {
                let _ = reply.send(self.cached_history(&room, before, limit));
            }
            Command::Queued { reply } => {
                let _ = reply.send(self.local.pending_count());
            }
            Command::Rooms { reply } => {
                let _ = reply.send(self.local.joined_rooms());
            }
            Command::Typing { .. } | Command::RetryNow | Command::NetworkChanged => {}
            Command::Shutdown { reply } => {
                let _ = reply.send(Ok(()));
            }
        }
    }

    /// Remembers a join (kept across restarts) and, with `after`, where to resume the room from.
    pub fn note_join(&mut self, room: &str, after: Option<u64>) -> Result<()> {
        match after {
            Some(a) => {
                self.local.set_fresh(room, false)?;
                self.local.set_last_seq(room, a)?;
            }
            // A room new to this client: its first join may start at the newest messages.
            None if !self.local.is_joined(room)? && self.local.last_seq(room)? == 0 => {
                self.local.set_fresh(room, true)?;
            }
            None => {}
        }
        self.local.set_joined(room, true)
    }

    /// A page of history from the local cache: messages before `before` (newest when `None`).
    pub fn cached_history(
        &self,
        room: &str,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<MessageData>> {
        self.local
            .history(room, before.unwrap_or(u64::MAX >> 1), limit as usize)
    }

    /// Checks a new message and writes it to the outbox (joining its room for good). Anything
    /// the server would refuse for good is refused here, before it is queued: a queued message
    /// that can never be delivered would hold up every message behind it.
    pub fn queue_message(&mut self, room: &str, body: &str) -> Result<crate::local::Queued> {
        use confab_protocol::{ClientFrame, limits};
        if !limits::valid_room(room) {
            return Err(Error::Invalid(format!(
                "\"{room}\" is not a valid room name"
            )));
        }
        if body.trim().is_empty() {
            return Err(Error::Invalid("the message is empty".into()));
        }
        if body.len() > self.max_body {
            return Err(Error::Invalid(format!(
                "the message is too long ({} bytes; at most {})",
                body.len(),
                self.max_body
            )));
        }
        // JSON escaping can grow a body up to six times; the frame must fit the server's limit.
        let probe = ClientFrame::Send {
            id: "0".repeat(36),
            room: room.to_owned(),
            body: body.to_owned(),
        };
        let frame_len = serde_json::to_string(&probe)
            .map(|s| s.len())
            .unwrap_or(usize::MAX);
        if frame_len > limits::MAX_FRAME_BYTES {
            return Err(Error::Invalid(
                "the message is too long once encoded".into(),
            ));
        }
        self.local.set_joined(room, true)?;
        self.local.enqueue(room, body)
    }

    /// Runs `fut` while still answering commands offline-style. `Err` ends the attempt.
    async fn alongside<T>(&mut self, fut: impl Future<Output = T>) -> std::result::Result<T, Next> {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                out = &mut fut => return Ok(out),
                cmd = self.cmds.recv() => match cmd {
                    None => return Err(Next::Shutdown(None)),
                    Some(Command::Shutdown { reply }) => return Err(Next::Shutdown(Some(reply))),
                    Some(other) => self.offline_command(other).await,
                },
            }
        }
    }

    async fn load_tokens(&mut self) -> std::result::Result<TokenPair, Next> {
        if let Some(pair) = &self.current {
            return Ok(pair.clone());
        }
        let store = Arc::clone(&self.tokens);
        let loaded = self
            .alongside(tokio::task::spawn_blocking(move || store.load()))
            .await?;
        match loaded
            .map_err(|e| Error::Keyring(e.to_string()))
            .and_then(|r| r)
        {
            Ok(Some(pair)) => {
                self.current = Some(pair.clone());
                Ok(pair)
            }
            Ok(None) => Err(Next::AuthFailed("not signed in".into())),
            Err(e) => {
                // A keyring that is not unlocked yet (just after login to the desktop) comes
                // back by itself: say so, and retry with backoff rather than give up.
                self.emit(Event::Error {
                    code: e.code().into(),
                    message: e.to_string(),
                })
                .await;
                Err(Next::Retry {
                    reason: e.to_string(),
                    hint: Some(Duration::from_secs(5)),
                    now: false,
                })
            }
        }
    }

    async fn connect_and_serve(&mut self) -> Next {
        self.emit(Event::State(ConnState::Connecting {
            attempt: self.backoff.attempt(),
        }))
        .await;
        let mut pair = match self.load_tokens().await {
            Ok(pair) => pair,
            Err(next) => return next,
        };
        let mut refreshed = false;
        let (ws, ready) = loop {
            let ws = match self.alongside(self.dial.dial()).await {
                Ok(Ok(ws)) => ws,
                Ok(Err(e)) => {
                    return Next::Retry {
                        reason: e.to_string(),
                        hint: None,
                        now: false,
                    };
                }
                Err(next) => return next,
            };
            let auth_timeout = self.cfg.auth_timeout;
            let authed = match self.alongside(authenticate(ws, &pair, auth_timeout)).await {
                Ok(a) => a,
                Err(next) => return next,
            };
            match authed {
                Auth::Ready(ws, ready) => break (ws, ready),
                Auth::Closed(close::AUTH_FAILED, _) if !refreshed => {
                    refreshed = true;
                    match self.refresh(&pair).await {
                        Ok(new) => {
                            self.current = Some(new.clone());
                            pair = new;
                        }
                        Err(next) => return next,
                    }
                }
                Auth::Closed(close::AUTH_FAILED, _) => {
                    return Next::AuthFailed("the server refused fresh tokens".into());
                }
                Auth::Closed(close::FORBIDDEN, _) => {
                    return Next::AuthFailed("this account is disabled".into());
                }
                Auth::Closed(code, reason) => {
                    let hint = close::parse_retry_hint(&reason).map(Duration::from_millis);
                    return Next::Retry {
                        reason: format!("closed by the server ({code})"),
                        hint,
                        now: false,
                    };
                }
                Auth::Failed(reason) => {
                    return Next::Retry {
                        reason,
                        hint: None,
                        now: false,
                    };
                }
            }
        };
        self.backoff.reset();
        self.max_body = ready.max_body_bytes;
        info!(user = %ready.user, "connected");
        self.emit(Event::State(ConnState::Open {
            user: ready.user.clone(),
        }))
        .await;
        Session::serve(self, *ws, &ready).await
    }

    /// One refresh, single-flight by construction: only this actor refreshes.
    async fn refresh(&mut self, pair: &TokenPair) -> std::result::Result<TokenPair, Next> {
        // Other processes may share this login: take the lock, then look again — if one of them
        // refreshed meanwhile, its pair is in the store and ours is spent.
        let store = Arc::clone(&self.tokens);
        let ours = pair.refresh_token.clone();
        let locked = self
            .alongside(tokio::task::spawn_blocking(
                move || -> Result<(Option<std::fs::File>, Option<TokenPair>)> {
                    let Some(path) = store.refresh_lock() else {
                        return Ok((None, None));
                    };
                    let file = std::fs::OpenOptions::new()
                        .create(true)
                        .truncate(false)
                        .write(true)
                        .open(path)?;
                    file.lock()?;
                    let theirs = store.load()?.filter(|p| p.refresh_token != ours);
                    Ok((Some(file), theirs))
                },
            ))
            .await?;
        let _lock = match locked
            .map_err(|e| Error::Keyring(e.to_string()))
            .and_then(|r| r)
        {
            Ok((_, Some(theirs))) => {
                debug!("another process refreshed the tokens; using its pair");
                return Ok(theirs);
            }
            Ok((file, None)) => file,
            Err(e) => {
                return Err(Next::Retry {
                    reason: e.to_string(),
                    hint: Some(Duration::from_secs(1)),
                    now: false,
                });
            }
        };
        let api = self.api.clone();
        let old = pair.refresh_token.clone();
        match self
            .alongside(async move { api.refresh(&old).await })
            .await?
        {
            Ok(new) => {
                let store = Arc::clone(&self.tokens);
                let saved = new.clone();
                let stored = self
                    .alongside(tokio::task::spawn_blocking(move || store.save(&saved)))
                    .await?;
                if let Err(e) = stored
                    .map_err(|e| Error::Keyring(e.to_string()))
                    .and_then(|r| r)
                {
                    // The new pair works now but could not be kept: say so, carry on with it.
                    self.emit(Event::Error {
                        code: e.code().into(),
                        message: e.to_string(),
                    })
                    .await;
                }
                debug!("tokens refreshed");
                Ok(new)
            }
            Err(e) if is_auth_rejection(&e) => Err(Next::AuthFailed(format!("signed out: {e}"))),
            Err(e) => Err(Next::Retry {
                reason: e.to_string(),
                hint: None,
                now: false,
            }),
        }
    }
}

/// What `ready` said: who we are and the rate the server allows.
pub(crate) struct Ready {
    pub user: String,
    pub max_body_bytes: usize,
    pub rate_burst: u32,
    pub rate_per_sec: u32,
}

enum Auth {
    Ready(Box<Ws>, Ready),
    Closed(u16, String),
    Failed(String),
}

/// Sends `auth` and waits for `ready` (or the server's close).
async fn authenticate(mut ws: Ws, pair: &TokenPair, limit: Duration) -> Auth {
    let frame =
        serde_json::json!({"type": "auth", "token": pair.access_token.expose()}).to_string();
    if let Err(e) = ws.send(Message::text(frame)).await {
        return Auth::Failed(e.to_string());
    }
    let wait = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<ServerFrame>(&t) {
                    Ok(ServerFrame::Ready {
                        user,
                        rate_burst,
                        rate_per_sec,
                        max_body_bytes,
                        ..
                    }) => {
                        return Ok(Ready {
                            user,
                            max_body_bytes,
                            rate_burst,
                            rate_per_sec,
                        });
                    }
                    _ => continue,
                },
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Err(Auth::Closed(code, reason));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(Auth::Failed(e.to_string())),
                None => return Err(Auth::Failed("connection closed".into())),
            }
        }
    };
    match timeout(limit, wait).await {
        Ok(Ok(ready)) => Auth::Ready(Box::new(ws), ready),
        Ok(Err(auth)) => auth,
        Err(_) => Auth::Failed("no answer to auth".into()),
    }
}
