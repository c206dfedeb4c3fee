//! The connection actor: the one place that connects, authenticates and decides when to retry.
//! Every request of the handle goes through one [`Actor::dispatch`], whatever the connection's
//! phase; only what a request does on the wire depends on whether a [`Link`] is open.
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

use crate::api::Api;
use crate::auth::{Handshake, authenticate};
use crate::backoff::Backoff;
use crate::command::Request;
use crate::core::{self, Core, Queuing};
use crate::event::{ConnState, Event, Events, Outgoing, OutgoingStatus};
use crate::link::{Ended, Link};
use crate::refresh::Refresher;
use crate::transport::{Dial, Ws};
use crate::wake::{ClockWatch, network_fingerprint};
use std::sync::atomic::{AtomicU64, Ordering};
use uploads::Uploads;

mod uploads;
use crate::{ClientConfig, Error, TokenStore};
use confab_protocol::api::TokenPair;
use confab_protocol::{ClientFrame, MessageId, close};
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

/// Where the connection is, for [`Actor::dispatch`].
enum Phase<'l> {
    /// No socket, waiting to retry (or for a new sign-in).
    Offline,
    /// Dialling or authenticating.
    Connecting,
    Open(&'l mut Link),
}

pub(crate) struct Actor {
    cfg: ClientConfig,
    core: Core,
    refresher: Refresher,
    dial: Arc<dyn Dial>,
    requests: mpsc::Receiver<Request>,
    events: Events,
    stop: CancellationToken,
    backoff: Backoff,
    rng: StdRng,
    clock: ClockWatch,
    net: u64,
    uploads: Uploads,
    /// The server's file size limit, shared with the handle (which stages files).
    max_file_bytes: Arc<AtomicU64>,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The parts of the actor every phase needs, passed to [`Actor::new`].
pub(crate) struct Parts {
    pub(crate) cfg: ClientConfig,
    pub(crate) core: Core,
    pub(crate) api: Api,
    pub(crate) dial: Arc<dyn Dial>,
    pub(crate) tokens: Arc<dyn TokenStore>,
    pub(crate) requests: mpsc::Receiver<Request>,
    pub(crate) events: Events,
    pub(crate) stop: CancellationToken,
    pub(crate) clock: ClockWatch,
    pub(crate) max_file_bytes: Arc<AtomicU64>,
}

impl Actor {
    pub(crate) fn new(p: Parts) -> Self {
        let files_dir = crate::files::staged_dir(&p.cfg.data_dir);
        // Copies no queued message names (its message went out, or a crash came between the
        // copy and the queuing) are left from an earlier run.
        if let Ok(keep) = p.core.staged_in_use() {
            crate::files::sweep(&files_dir, &keep);
        }
        Self {
            uploads: Uploads::new(files_dir),
            max_file_bytes: p.max_file_bytes,
            backoff: Backoff::new(p.cfg.backoff.clone()),
            cfg: p.cfg,
            core: p.core,
            refresher: Refresher::new(p.api, p.tokens),
            dial: p.dial,
            requests: p.requests,
            events: p.events,
            stop: p.stop,
            rng: StdRng::from_os_rng(),
            clock: p.clock,
            net: network_fingerprint(),
        }
    }

    /// Reports an event. The future does not borrow the actor (whose SQLite handle is not
    /// `Sync`).
    fn emit(&self, event: Event) -> impl Future<Output = Result<(), Ended>> + Send + use<> {
        let events = self.events.clone();
        async move { events.emit(event).await.map_err(Ended::from) }
    }

    pub(crate) async fn run(mut self) {
        let shutdown_reply = loop {
            match self.connect_and_serve().await {
                Ended::Shutdown(reply) => break reply,
                Ended::AuthFailed(reason) => {
                    info!(%reason, "authentication failed; waiting for a new sign-in");
                    self.refresher.forget();
                    let _ = self
                        .emit(Event::State(ConnState::AuthFailed { reason }))
                        .await;
                    match self.wait_offline(None).await {
                        Ended::Shutdown(reply) => break reply,
                        _ => self.backoff.reset(),
                    }
                }
                Ended::Retry { reason, hint, now } => {
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
                    let _ = self.emit(Event::State(state)).await;
                    if let Ended::Shutdown(reply) = self.wait_offline(Some(delay)).await {
                        break reply;
                    }
                }
            }
        };
        let _ = self.emit(Event::State(ConnState::Offline)).await;
        if let Some(reply) = shutdown_reply {
            let _ = reply.send(Ok(()));
        }
        // A shutdown that ended the wait for the owner's queue may have left its request here.
        self.requests.close();
        while let Ok(request) = self.requests.try_recv() {
            if let Request::Shutdown { reply } = request {
                let _ = reply.send(Ok(()));
            }
        }
    }

    /// Serves requests while not connected, until `delay` passes (or forever with `None`), a
    /// retry is asked for, the machine wakes or the network changes, or shutdown.
    async fn wait_offline(&mut self, delay: Option<Duration>) -> Ended {
        let deadline = delay.map(|d| Instant::now() + d);
        let mut tick = tokio::time::interval(self.cfg.tick);
        loop {
            let step = tokio::select! {
                () = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => Err(Ended::now("retry")),
                _ = tick.tick() => {
                    if self.watch_says_reconnect() && delay.is_some() { Err(Ended::now("woke up")) } else { Ok(()) }
                }
                () = self.stop.cancelled() => Err(Ended::Shutdown(None)),
                request = self.requests.recv() => match request {
                    None => Err(Ended::Shutdown(None)),
                    Some(r) => self.dispatch(r, Phase::Offline).await,
                },
            };
            if let Err(ended) = step {
                return ended;
            }
        }
    }

    /// True when the machine slept or the network changed since the last look.
    fn watch_says_reconnect(&mut self) -> bool {
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

    /// One request, in any phase: the core does the work, the open link (if any) tells the
    /// server. `Err` ends the phase.
    async fn dispatch(&mut self, request: Request, phase: Phase<'_>) -> Result<(), Ended> {
        match request {
            Request::Queue {
                room,
                draft,
                staged,
                reply,
            } => {
                // Named before the message that names them is queued, and by the actor that
                // also sweeps: a sweep never meets a named copy that no queued message names.
                let dir = self.uploads.dir();
                if let Err(e) = staged.into_iter().try_for_each(|s| s.keep(dir)) {
                    let _ = reply.send(Err(e));
                    return Ok(());
                }
                let taken =
                    |id: &MessageId| matches!(&phase, Phase::Open(l) if l.is_sending(id.as_str()));
                match self.core.queue(&room, draft, taken) {
                    Ok(done) => return self.queued(done, phase, reply).await,
                    Err(e) => {
                        self.sweep_files();
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Request::Join { room, after, reply } => match self.core.join(&room, after) {
                Ok(room) => {
                    let _ = reply.send(Ok(room.clone()));
                    if let Phase::Open(link) = phase {
                        link.join(&mut self.core, &room).await?;
                    }
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            Request::Leave { room, reply } => match self.core.leave(&room) {
                Ok(room) => {
                    let _ = reply.send(Ok(()));
                    if let Phase::Open(link) = phase {
                        link.leave(room).await?;
                    }
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            // Dropped when offline: stale typing is worse than none.
            Request::Typing { room } => {
                if let (Phase::Open(link), Ok(room)) = (phase, core::room(&room)) {
                    link.typing(room).await?;
                }
            }
            Request::History {
                room,
                at,
                limit,
                reply,
            } => match (phase, core::room(&room)) {
                (Phase::Open(link), Ok(room)) => {
                    link.history(&mut self.core, room, at, limit, reply).await?;
                }
                (_, room) => {
                    let page = room.and_then(|r| self.core.cached_history(&r, at, limit));
                    let _ = reply.send(page);
                }
            },
            Request::Search { request, reply } => match phase {
                Phase::Open(link) if !request.continues_cache() => {
                    link.search(&mut self.core, request, reply).await?;
                }
                _ => {
                    let _ = reply.send(self.core.search_cache(&request));
                }
            },
            Request::Outbox { reply } => {
                let sending = |id: &str| matches!(&phase, Phase::Open(link) if link.is_sending(id));
                let _ = reply.send(self.core.outbox(sending));
            }
            Request::Rooms { reply } => {
                let _ = reply.send(self.core.rooms());
            }
            Request::Conversation { request, reply } => {
                match (self.core.conversation_frame(request), phase) {
                    (Err(e), _) => {
                        let _ = reply.send(Err(e));
                    }
                    (Ok(frame), Phase::Open(link)) => {
                        let _ = reply.send(Ok(()));
                        link.conversation(&mut self.core, frame).await?;
                    }
                    (Ok(ClientFrame::Read { room, seq }), _) => {
                        self.core.read_later(&room, seq);
                        let _ = reply.send(Ok(()));
                    }
                    (Ok(_), _) => {
                        let _ = reply.send(Err(Error::Network("not connected".into())));
                    }
                }
            }
            Request::People { call, reply } => {
                if let Err(e) = crate::people::check(&call) {
                    let _ = reply.send(Err(e));
                } else {
                    let refresher = self.refresher.detached();
                    tokio::spawn(async move {
                        let _ = reply.send(crate::people::call(refresher, call).await);
                    });
                }
            }
            Request::Fetch { fetch, reply } => {
                let refresher = self.refresher.detached();
                tokio::spawn(async move {
                    let got = crate::files::transfer::Counter::default();
                    let fetched = crate::files::transfer::fetch(&refresher, &fetch, &got).await;
                    let _ = reply.send(fetched);
                });
            }
            Request::RetryNow => {
                if let Phase::Offline = phase {
                    return Err(Ended::now("asked to retry now"));
                }
            }
            Request::NetworkChanged => {
                if !matches!(phase, Phase::Connecting) {
                    return Err(Ended::now("the network changed"));
                }
            }
            Request::Shutdown { reply } => {
                return match phase {
                    Phase::Open(link) => link.close(Some(reply)).await,
                    _ => Err(Ended::Shutdown(Some(reply))),
                };
            }
        }
        Ok(())
    }

    /// Answers a request to queue work with what the core did, and tells the owner and the
    /// open link (if any).
    async fn queued(
        &mut self,
        done: Queuing,
        phase: Phase<'_>,
        reply: crate::command::Reply<Outgoing>,
    ) -> Result<(), Ended> {
        let link = match phase {
            Phase::Open(link) => Some(link),
            _ => None,
        };
        match done {
            Queuing::Added { queued, joined_now } => {
                let outgoing = queued.outgoing(OutgoingStatus::Queued);
                let _ = reply.send(Ok(outgoing.clone()));
                self.emit(Event::Outgoing(outgoing)).await?;
                if let Some(link) = link {
                    link.push(&mut self.core, queued, joined_now).await?;
                }
            }
            Queuing::Rewritten(message) => {
                let outgoing = message.outgoing(OutgoingStatus::Queued);
                let _ = reply.send(Ok(outgoing.clone()));
                self.emit(Event::Outgoing(outgoing)).await?;
                if let Some(link) = link {
                    link.rewrite(&message);
                }
            }
            Queuing::Withdrawn { message, orphans } => {
                let _ = reply.send(Ok(message.outgoing(OutgoingStatus::Queued)));
                if let Some(link) = link {
                    link.withdraw(
                        &std::iter::once(&message)
                            .chain(&orphans)
                            .collect::<Vec<_>>(),
                    );
                }
                for q in std::iter::once(message).chain(orphans) {
                    let (id, room) = (q.id, q.room);
                    self.emit(Event::Withdrawn { id, room }).await?;
                }
                // A message taken back with its files: their copies go now.
                self.sweep_files();
            }
        }
        Ok(())
    }

    /// Runs `fut` (a dial, a handshake, a keyring call) while still serving requests.
    async fn connecting<T>(&mut self, fut: impl Future<Output = T>) -> Result<T, Ended> {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                out = &mut fut => return Ok(out),
                () = self.stop.cancelled() => return Err(Ended::Shutdown(None)),
                request = self.requests.recv() => match request {
                    None => return Err(Ended::Shutdown(None)),
                    Some(r) => self.dispatch(r, Phase::Connecting).await?,
                },
            }
        }
    }

    async fn load_tokens(&mut self) -> Result<TokenPair, Ended> {
        let load = self.refresher.load();
        match self.connecting(load).await? {
            Ok(Some(pair)) => {
                self.refresher.remember(pair.clone());
                Ok(pair)
            }
            Ok(None) => Err(Ended::AuthFailed("not signed in".into())),
            Err(e) => {
                // A keyring that is not unlocked yet (just after login to the desktop) comes
                // back by itself: say so, and retry with backoff rather than give up.
                let (code, message) = (e.code(), e.to_string());
                self.emit(Event::Error { code, message }).await?;
                Err(Ended::Retry {
                    reason: e.to_string(),
                    hint: Some(Duration::from_secs(5)),
                    now: false,
                })
            }
        }
    }

    /// Dials and authenticates, refreshing the tokens once if the server refuses them.
    async fn open(&mut self) -> Result<(Ws, crate::auth::Ready), Ended> {
        let mut pair = self.load_tokens().await?;
        let mut refreshed = false;
        loop {
            let ws = match self.connecting(self.dial.dial()).await? {
                Ok(ws) => ws,
                Err(e) => return Err(Ended::lost(e.to_string())),
            };
            let auth_timeout = self.cfg.auth_timeout;
            match self
                .connecting(authenticate(ws, &pair, auth_timeout))
                .await?
            {
                Handshake::Ready(ws, ready) => return Ok((*ws, ready)),
                Handshake::Closed(close::AUTH_FAILED, _) if !refreshed => {
                    refreshed = true;
                    let refresh = self.refresher.refresh(pair.clone());
                    let (fresh, unsaved) = self.connecting(refresh).await??;
                    self.refresher.remember(fresh.clone());
                    if let Some(e) = unsaved {
                        // The new pair works now but could not be kept: say so, carry on.
                        let (code, message) = (e.code(), e.to_string());
                        self.emit(Event::Error { code, message }).await?;
                    }
                    pair = fresh;
                }
                Handshake::Closed(close::AUTH_FAILED, _) => {
                    return Err(Ended::AuthFailed("the server refused fresh tokens".into()));
                }
                Handshake::Closed(close::FORBIDDEN, _) => {
                    return Err(Ended::AuthFailed("this account is disabled".into()));
                }
                Handshake::Closed(code, reason) => {
                    return Err(Ended::Retry {
                        reason: format!("closed by the server ({code})"),
                        hint: close::parse_retry_hint(&reason).map(Duration::from_millis),
                        now: false,
                    });
                }
                Handshake::Failed(reason) => return Err(Ended::lost(reason)),
            }
        }
    }

    async fn connect_and_serve(&mut self) -> Ended {
        let connecting = ConnState::Connecting {
            attempt: self.backoff.attempt(),
        };
        if let Err(ended) = self.emit(Event::State(connecting)).await {
            return ended;
        }
        let (ws, ready) = match self.open().await {
            Ok(open) => open,
            Err(ended) => return ended,
        };
        self.backoff.reset();
        self.core.set_max_body(ready.max_body_bytes);
        self.max_file_bytes
            .store(ready.max_file_bytes, Ordering::Relaxed);
        info!(user = %ready.user, "connected");
        let (sink, mut stream) = ws.split();
        let mut link = Link::new(
            sink,
            &ready,
            self.events.clone(),
            self.cfg.max_in_flight,
            self.cfg.dead_after,
        );
        let user = ready.user;
        let ended = match self.emit(Event::State(ConnState::Open { user })).await {
            Ok(()) => match link.resume(&mut self.core).await {
                Ok(()) => self.serve(&mut link, &mut stream).await,
                Err(ended) => ended,
            },
            Err(ended) => ended,
        };
        self.uploads.stop();
        link.finish(&mut self.core).await;
        ended
    }

    /// Deletes staged copies no queued message names any more.
    fn sweep_files(&self) {
        if let Ok(keep) = self.core.staged_in_use() {
            crate::files::sweep(self.uploads.dir(), &keep);
        }
    }

    async fn serve(&mut self, link: &mut Link, stream: &mut SplitStream<Ws>) -> Ended {
        let mut tick = tokio::time::interval_at(Instant::now() + self.cfg.tick, self.cfg.tick);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            if !self.uploads.is_running()
                && let Some(message) = link.wants_upload()
            {
                let refresher = self.refresher.detached();
                self.uploads.start(message, refresher, self.events.clone());
            }
            let can_pump = link.can_pump();
            let pace_at = link.pace_at();
            let step = tokio::select! {
                msg = stream.next() => {
                    let step = link.on_socket(&mut self.core, msg).await;
                    if link.take_settled_files() {
                        self.sweep_files();
                    }
                    step
                }
                request = self.requests.recv() => match request {
                    None => link.close(None).await,
                    Some(r) => self.dispatch(r, Phase::Open(link)).await,
                },
                () = self.stop.cancelled() => link.close(None).await,
                _ = tick.tick() => {
                    if self.watch_says_reconnect() {
                        Err(Ended::now("woke up or the network changed"))
                    } else {
                        link.keep_alive().await
                    }
                }
                () = tokio::time::sleep_until(pace_at), if can_pump => link.pump().await,
                done = self.uploads.next() => {
                    let step = link.uploaded(&mut self.core, done).await;
                    self.sweep_files();
                    step
                }
            };
            if let Err(ended) = step {
                return ended;
            }
        }
    }
}

impl From<Error> for Ended {
    /// A refresh that failed: sign in again, or try again later (a keyring or lock file that
    /// failed, after a moment; the network, with the usual backoff).
    fn from(e: Error) -> Self {
        let hint = match &e {
            Error::Api {
                status: 401 | 403, ..
            } => return Ended::AuthFailed(format!("signed out: {e}")),
            _ if e.needs_sign_in() => return Ended::AuthFailed(format!("signed out: {e}")),
            Error::Keyring(_) | Error::Io(_) => Some(Duration::from_secs(1)),
            _ => None,
        };
        Ended::Retry {
            reason: e.to_string(),
            hint,
            now: false,
        }
    }
}
