//! One connection's reader: authentication, flood control and frame handling.

use super::ratelimit::{FloodGuard, Verdict};
use super::writer;
use crate::AppState;
use crate::backlog::Backlog;
use crate::metrics::{AuthFailure, SessionState};
use crate::rooms::{Outbound, text};
use crate::seats::Seat;
use crate::store::{AccessCheck, SendOrder, SendOutcome};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use confab_protocol::{ClientFrame, ErrorCode, Secret, ServerFrame, close};
use futures_util::stream::{FuturesOrdered, StreamExt};
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval_at, timeout};
use tracing::{Instrument, debug, info, warn};

pub(super) type SendResult = (String, Arc<str>, crate::Result<SendOutcome>);
pub(super) type Pending = Pin<Box<dyn Future<Output = SendResult> + Send>>;

/// Why the reader stopped, which decides how the connection is closed.
enum End {
    /// The peer closed or vanished; nothing more to say.
    PeerGone,
    /// We close with this code.
    Close(u16, String),
}

/// Runs one upgraded connection to its end.
pub(crate) async fn serve(socket: WebSocket, state: Arc<AppState>, header_token: Option<Secret>) {
    let id = state.next_session_id();
    let span = tracing::info_span!("ws", session = %format_args!("{id:016x}"));
    async move {
        let mut socket = socket;
        let authenticating = state.metrics.session(SessionState::Authenticating);
        // Boxed, like every rare await below: a task's future is as large as its largest await
        // point, and an idle connection would otherwise carry this one's (a database read) for
        // its whole life.
        let Some((user, login, _seat)) =
            Box::pin(authenticate(&mut socket, &state, header_token, id)).await
        else {
            return;
        };
        drop(authenticating);
        let _open = state.metrics.session(SessionState::Open);
        info!(%user, "connected");
        run(socket, state, id, Arc::from(user), login).await;
        debug!("disconnected");
    }
    .instrument(span)
    .await;
}

async fn close_now(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Waits for a valid token (from the upgrade header or the first frame), takes one of the
/// account's connection seats and sends `ready`.
async fn authenticate(
    socket: &mut WebSocket,
    state: &AppState,
    header_token: Option<Secret>,
    id: u64,
) -> Option<(String, i64, Seat<String>)> {
    let token = match header_token {
        Some(token) => token,
        None => match timeout(state.config.limits.auth_timeout, first_auth_frame(socket)).await {
            Ok(Ok(token)) => token,
            Ok(Err(Some((code, reason)))) => {
                close_now(socket, code, reason).await;
                return None;
            }
            Ok(Err(None)) => return None,
            Err(_) => {
                debug!("no auth frame in time");
                close_now(socket, close::AUTH_TIMEOUT, "auth timeout").await;
                return None;
            }
        },
    };
    let (code, reason) = match state.auth.check(&token).await {
        Ok(AccessCheck::Valid { username, login }) => {
            let Some(seat) = state.user_seats.take(username.to_ascii_lowercase()) else {
                let cap = state.config.limits.max_connections_per_user;
                info!(user = %username, cap, "too many connections for one account; refusing");
                let reason = format!("too many connections for this account (at most {cap})");
                close_now(socket, close::POLICY, &reason).await;
                return None;
            };
            let ready = ServerFrame::Ready {
                user: username.clone(),
                session: format!("{id:016x}"),
                heartbeat_ms: state.config.limits.heartbeat.as_millis() as u64,
                max_body_bytes: state.config.limits.max_body_bytes,
                rate_burst: state.config.limits.rate_burst,
                rate_per_sec: state.config.limits.rate_per_sec,
                max_file_bytes: state.config.files.max_file_bytes,
            };
            return match socket.send(Message::Text(text(&ready))).await {
                Ok(()) => Some((username, login, seat)),
                Err(_) => None,
            };
        }
        Ok(AccessCheck::Invalid) => {
            state.metrics.auth_failed(AuthFailure::Token);
            (close::AUTH_FAILED, "invalid or expired token")
        }
        Ok(AccessCheck::Forbidden) => {
            state.metrics.auth_failed(AuthFailure::Disabled);
            (close::FORBIDDEN, "account disabled")
        }
        Err(err) => {
            warn!(error = %err, "token check failed");
            (close::TRY_AGAIN_LATER, "server busy; retry_after_ms=1000")
        }
    };
    debug!(code, "authentication refused");
    close_now(socket, code, reason).await;
    None
}

/// The first data frame, which must be `auth`. `Err(Some(close))` to refuse, `Err(None)` if
/// the peer went away.
async fn first_auth_frame(socket: &mut WebSocket) -> Result<Secret, Option<(u16, &'static str)>> {
    loop {
        match socket.recv().await {
            Some(Ok(Message::Text(t))) => {
                return match ClientFrame::parse(&t) {
                    Ok(ClientFrame::Auth { token }) => Ok(token),
                    _ => Err(Some((close::AUTH_TIMEOUT, "the first frame must be auth"))),
                };
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Binary(_))) => {
                return Err(Some((close::AUTH_TIMEOUT, "the first frame must be auth")));
            }
            Some(Err(e)) if writer::is_too_big(&e) => {
                return Err(Some((close::TOO_BIG, "frame too big")));
            }
            Some(Ok(Message::Close(_)) | Err(_)) | None => return Err(None),
        }
    }
}

pub(super) struct Session {
    pub(super) id: u64,
    pub(super) user: Arc<str>,
    pub(super) state: Arc<AppState>,
    pub(super) out: mpsc::Sender<Outbound>,
    /// What is queued for the writer, in bytes, shared with the fan-out.
    pub(super) backlog: Arc<Backlog>,
    /// Held once a send of this connection is refused for now (rate, storage): every later
    /// send is held back too, so a resend can never be overtaken. Cleared by reconnecting.
    pub(super) order: SendOrder,
    /// Whether holding `order` was queued already.
    hold_requested: bool,
    pub(super) joined: HashSet<Arc<str>>,
    guard: FloodGuard,
    pub(super) inflight: FuturesOrdered<Pending>,
}

/// Heartbeats between checks that the login is still valid (logout and disabled accounts end
/// open connections too, not only new ones).
const RECHECK_EVERY: u32 = 4;

async fn run(socket: WebSocket, state: Arc<AppState>, id: u64, user: Arc<str>, login: i64) {
    let limits = state.config.limits.clone();
    let (sink, mut stream) = socket.split();
    let (out, rx) = mpsc::channel(limits.send_queue.max(16));
    let backlog = Arc::new(Backlog::new(limits.send_queue_bytes));
    let mut writer = tokio::spawn(
        writer::run(
            sink,
            rx,
            Arc::clone(&state),
            Arc::clone(&backlog),
            (Arc::clone(&user), id),
        )
        .in_current_span(),
    );
    state.hub.register(crate::rooms::Member {
        session: id,
        user: Arc::clone(&user),
        tx: out.clone(),
        backlog: Arc::clone(&backlog),
    });
    let opened = Instant::now();
    // Up to a tenth early, at random: connections opened together (a restart) must not all
    // come back together at their maximum age.
    let max_age = limits
        .session_max_age
        .mul_f64(1.0 - rand::random::<f64>() / 10.0);
    let mut s = Session {
        id,
        user,
        guard: FloodGuard::new(
            limits.rate_burst,
            limits.rate_per_sec,
            limits.flood_strikes,
            opened,
        ),
        state: Arc::clone(&state),
        out,
        backlog,
        order: SendOrder::default(),
        hold_requested: false,
        joined: HashSet::new(),
        inflight: FuturesOrdered::new(),
    };
    let mut heartbeat = interval_at(opened + limits.heartbeat, limits.heartbeat);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_heard = opened;
    let mut writer_done = false;
    let mut ticks: u32 = 0;

    let end = loop {
        tokio::select! {
            biased;
            () = state.shutdown.cancelled() => {
                break End::Close(close::GOING_AWAY, close::retry_hint(1000));
            }
            _ = &mut writer => { writer_done = true; break End::PeerGone; }
            Some(done) = s.inflight.next(), if !s.inflight.is_empty() => s.finish_send(done).await,
            frame = stream.next(), if s.inflight.len() < limits.max_inflight_sends => {
                last_heard = Instant::now();
                match frame {
                    Some(Ok(Message::Text(t))) => {
                        // Boxed: handling a frame may read the database, and that future is
                        // allocated only while a frame is in flight, not in every idle connection.
                        if let Some(end) = Box::pin(s.on_text(&t)).await { break end; }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        if let Some(end) = s.on_binary().await { break end; }
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | None => break End::PeerGone,
                    Some(Err(e)) if writer::is_too_big(&e) => {
                        break End::Close(close::TOO_BIG, "frame too big".into());
                    }
                    Some(Err(e)) => { debug!(error = %e, "read failed"); break End::PeerGone; }
                }
            }
            _ = heartbeat.tick() => {
                // With the most sends in flight this connection is not read (backpressure until
                // the database catches up): whatever the peer said meanwhile is unread, not
                // unsaid. Dropping it as silent then made every client of a slow database
                // reconnect and resend its whole outbox, every two heartbeats, which kept the
                // database slow: the soak's nodes never caught up again.
                if s.inflight.len() >= limits.max_inflight_sends {
                    last_heard = Instant::now();
                }
                if last_heard.elapsed() > limits.heartbeat * 2 {
                    info!("peer silent for two heartbeats; dropping it");
                    break End::PeerGone;
                }
                // A sign-in is checked again at least this often: the client refreshes (where
                // an expired or revoked login is caught) and resumes where it was.
                if opened.elapsed() >= max_age {
                    info!(user = %s.user, "session at its maximum age; closing");
                    break End::Close(close::AUTH_FAILED, "session expired; refresh and reconnect".into());
                }
                let _ = s.out.try_send(Outbound::Ping);
                ticks += 1;
                if ticks.is_multiple_of(RECHECK_EVERY)
                    && let Some(end) = Box::pin(s.recheck_login(login)).await
                {
                    break end;
                }
            }
        }
    };

    s.leave_all();
    state.hub.unregister(&s.user, s.id);
    if let End::Close(code, reason) = end {
        // Acks for sends already in the database still go out before the close.
        let drain = async {
            while let Some(done) = s.inflight.next().await {
                s.finish_send(done).await;
            }
        };
        let _ = timeout(limits.shutdown_grace / 2, drain).await;
        let _ = timeout(
            limits.shutdown_grace / 2,
            s.out.send(Outbound::Close { code, reason }),
        )
        .await;
    }
    drop(s);
    if !writer_done && timeout(limits.shutdown_grace, &mut writer).await.is_err() {
        writer.abort();
    }
}

/// The flood-control decision for one frame.
enum Admit {
    Proceed,
    /// Answered with `rate_limited`; the frame is dropped.
    Refused,
    Close(End),
}

impl Session {
    /// Queues a frame for this connection, waiting if its queue is full (backpressure on reading).
    pub(super) async fn reply(&mut self, frame: &ServerFrame) {
        self.queue(Outbound::Frame(text(frame))).await;
    }

    /// Queues work for the writer, waiting while its queue is full in frames or in bytes
    /// (backpressure on reading), but never past shutdown or the writer's end: a reader stuck
    /// behind a peer that stopped reading must still notice it is time to close.
    pub(super) async fn queue(&mut self, item: Outbound) {
        let n = item.weight();
        if !self.backlog.try_take(n) && !self.room_for(n).await {
            return;
        }
        tokio::select! {
            sent = self.out.send(item) => if sent.is_err() { self.backlog.release(n) },
            () = self.state.shutdown.cancelled() => self.backlog.release(n),
        }
    }

    /// Waits for room for `n` bytes in the backlog; `false` if the connection ends first. Boxed:
    /// it is rare, and every handler's future would otherwise carry its state, in every idle
    /// connection's memory.
    fn room_for(&self, n: usize) -> Pin<Box<dyn Future<Output = bool> + Send + '_>> {
        // Only the fields: the session itself is not `Sync`.
        let (backlog, out, shutdown) = (&self.backlog, &self.out, &self.state.shutdown);
        Box::pin(async move {
            tokio::select! {
                () = backlog.take(n) => true,
                () = out.closed() => false,
                () = shutdown.cancelled() => false,
            }
        })
    }

    /// Ends the connection if its login was revoked (logout, refresh-token reuse) or the
    /// account disabled since it opened.
    async fn recheck_login(&mut self, login: i64) -> Option<End> {
        let check = self.state.store.check_login(login).await;
        match check {
            Ok(AccessCheck::Valid { .. }) | Err(_) => None,
            Ok(AccessCheck::Invalid) => {
                info!(user = %self.user, "login revoked; closing");
                Some(End::Close(close::AUTH_FAILED, "signed out".into()))
            }
            Ok(AccessCheck::Forbidden) => {
                info!(user = %self.user, "account disabled; closing");
                Some(End::Close(close::FORBIDDEN, "account disabled".into()))
            }
        }
    }

    /// Holds back every send admitted after now. The flag is set by a job in the writer's
    /// queue, so sends admitted before the refusal are still stored, in order.
    async fn hold_later_sends(&mut self) {
        if std::mem::replace(&mut self.hold_requested, true) {
            return;
        }
        if self.state.store.hold(&self.order).await.is_err() {
            // No writer: nothing can be stored anyway.
            self.order.hold();
        }
    }

    /// Flood control for one incoming frame.
    async fn admit(&mut self, reference: Option<&str>) -> Admit {
        match self.guard.check(Instant::now()) {
            Verdict::Allow => Admit::Proceed,
            Verdict::Limited(wait) => {
                self.reply(&ServerFrame::Error {
                    code: ErrorCode::RateLimited,
                    message: "too many frames; slow down".into(),
                    reference: confab_protocol::frame::echoed(reference),
                    retry_after_ms: Some(wait.as_millis().max(1) as u64),
                    room: None,
                })
                .await;
                Admit::Refused
            }
            Verdict::Flood => {
                warn!(user = %self.user, "sustained flood; closing");
                Admit::Close(End::Close(close::POLICY, "flood".into()))
            }
        }
    }

    async fn on_binary(&mut self) -> Option<End> {
        match self.admit(None).await {
            Admit::Proceed => {
                let err = ServerFrame::error(
                    ErrorCode::BinaryNotSupported,
                    "send JSON text frames",
                    None,
                );
                self.reply(&err).await;
                None
            }
            Admit::Refused => None,
            Admit::Close(end) => Some(end),
        }
    }

    async fn on_text(&mut self, t: &str) -> Option<End> {
        let parsed = ClientFrame::parse(t);
        let reference = match &parsed {
            Ok(frame) => frame.stream_id(),
            Err(e) => e.reference.as_deref(),
        };
        match self.admit(reference).await {
            Admit::Proceed => {}
            Admit::Refused => {
                if parsed.as_ref().is_ok_and(|f| f.stream_id().is_some()) {
                    self.hold_later_sends().await;
                }
                return None;
            }
            Admit::Close(end) => return Some(end),
        }
        match parsed {
            Ok(frame) => self.on_frame(frame).await,
            Err(e) => self.reply(&e.to_frame()).await,
        }
        None
    }
}
