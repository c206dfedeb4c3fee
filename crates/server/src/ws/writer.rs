//! One connection's writer: the only code that writes to the socket.
//!
//! It keeps, per joined room, the highest seq delivered, which makes delivery exactly-once and
//! in order whatever path a message took: a live frame at or below it is a duplicate and is
//! dropped; one that skips ahead means frames were lost to a full queue, and the gap is read
//! back from the database before going on.
//!
//! A room's stream ends for a member who is removed from it: the writer delivers up to the
//! entry that removes its user and then forgets the room, whichever path that entry came by
//! (live, a catch-up, another node's doorbell or the database check).

use crate::backlog::Backlog;
use crate::metrics::StoreOp;
use crate::rooms::{Outbound, text};
use crate::store::SearchRequest;
use crate::store::membership::Entry;
use crate::{AppState, Error};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use confab_protocol::{ServerFrame, close, limits};
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use rustc_hash::FxHashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::timeout;
use tracing::{debug, error, info};

/// Frames fed before a flush is forced even if more are queued.
const MAX_COALESCE: usize = 256;

type Sink = SplitSink<WebSocket, Message>;

enum Stop {
    Socket(axum::Error),
    /// The peer stopped reading: a write made no progress for the stall limit.
    Stalled,
    Store(Error),
    Closed,
}

impl From<axum::Error> for Stop {
    fn from(e: axum::Error) -> Self {
        Self::Socket(e)
    }
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Self::Store(e)
    }
}

/// Whether a read error means the peer sent a frame over the size limit.
pub(crate) fn is_too_big(err: &axum::Error) -> bool {
    use std::error::Error as _;
    use tokio_tungstenite::tungstenite::Error as WsError;
    let mut source = err.source();
    while let Some(e) = source {
        if let Some(WsError::Capacity(_)) = e.downcast_ref::<WsError>() {
            return true;
        }
        source = e.source();
    }
    false
}

struct Writer {
    sink: Sink,
    state: Arc<AppState>,
    /// Whose connection this is: reads are limited to what this user may see.
    user: Arc<str>,
    session: u64,
    /// Highest seq delivered per joined room. Looked up for every delivery; the keys are at
    /// most `max_rooms_per_connection` names, so a fast non-keyed hash is safe here.
    delivered: FxHashMap<Arc<str>, u64>,
    /// How long one socket operation may block. A peer that keeps sending but never reads
    /// would otherwise hold its connection (and its reader, waiting on a full queue) forever.
    stall_limit: Duration,
}

/// Runs one socket operation under the stall limit.
async fn io<T>(
    limit: Duration,
    op: impl Future<Output = Result<T, axum::Error>>,
) -> Result<T, Stop> {
    let mut op = pin!(op);
    // Almost every feed and flush completes at once (room in the socket buffer); only one that
    // has to wait gets a timer. Arming one per frame was a tenth of the writer's instructions.
    let first = std::future::poll_fn(|cx| Poll::Ready(op.as_mut().poll(cx))).await;
    if let Poll::Ready(result) = first {
        return Ok(result?);
    }
    match timeout(limit, op).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(Stop::Stalled),
    }
}

/// Writes everything queued for the connection until the queue closes or `Close` comes.
pub(crate) async fn run(
    sink: Sink,
    mut rx: mpsc::Receiver<Outbound>,
    state: Arc<AppState>,
    backlog: Arc<Backlog>,
    (user, session): (Arc<str>, u64),
) {
    let stall_limit = state.config.limits.heartbeat * 2;
    let mut w = Writer {
        sink,
        state,
        user,
        session,
        delivered: FxHashMap::default(),
        stall_limit,
    };
    let result: Result<(), Stop> = async {
        while let Some(first) = rx.recv().await {
            w.handle_queued(first, &backlog).await?;
            for _ in 1..MAX_COALESCE {
                match rx.try_recv() {
                    Ok(next) => w.handle_queued(next, &backlog).await?,
                    Err(_) => break,
                }
            }
            if backlog.take_overflow() {
                debug!("send queue overflowed; resyncing from the database");
                w.state.metrics.resynced();
                Box::pin(w.resync()).await?;
            }
            io(w.stall_limit, w.sink.flush()).await?;
        }
        Err(Stop::Closed)
    }
    .await;
    match result {
        Ok(()) | Err(Stop::Closed) => {
            let _ = io(w.stall_limit, w.sink.close()).await;
        }
        Err(Stop::Socket(e)) => debug!(error = %e, "write failed"),
        Err(Stop::Stalled) => info!("peer stopped reading; dropping it"),
        Err(Stop::Store(e)) => {
            error!(error = %e, "database read failed while writing; closing");
            let frame = CloseFrame {
                code: 1011,
                reason: Utf8Bytes::from(close::retry_hint(1000)),
            };
            let _ = io(w.stall_limit, w.sink.send(Message::Close(Some(frame)))).await;
        }
    }
}

impl Writer {
    async fn feed(&mut self, frame: Utf8Bytes) -> Result<(), Stop> {
        io(self.stall_limit, self.sink.feed(Message::Text(frame))).await
    }

    /// Handles an item taken from the queue and frees the bytes it held there: they are free
    /// once it is handed to the socket (whose own buffer is bounded by the stall limit).
    async fn handle_queued(&mut self, item: Outbound, backlog: &Backlog) -> Result<(), Stop> {
        let n = item.weight();
        self.handle(item).await?;
        backlog.release(n);
        Ok(())
    }

    /// Every database read below is boxed: the writer's future is as large as its largest
    /// await point and every idle connection carries it, so a read's future (replay, history,
    /// search, catch-up) is allocated only while it runs. Deliveries stay inline.
    async fn handle(&mut self, item: Outbound) -> Result<(), Stop> {
        match item {
            Outbound::Frame(f) | Outbound::Ephemeral(f) => self.feed(f).await,
            // One lookup per delivery, updated in place: this is the hot path of fan-out.
            Outbound::Live { room, seq, frame } => match self.delivered.get_mut(&room) {
                // Not (yet) replayed: the replay will read this one from the database.
                None => Ok(()),
                Some(d) if seq <= *d => Ok(()),
                Some(d) if seq == *d + 1 => {
                    *d = seq;
                    self.state.metrics.delivered(1);
                    self.feed(frame).await
                }
                Some(_) => Box::pin(self.catch_up(&room, false)).await,
            },
            Outbound::Replay {
                room,
                after,
                latest,
            } => Box::pin(self.replay(room, after, latest)).await,
            Outbound::History { room, page, limit } => {
                let frame = super::history::read(&self.state, &self.user, &room, page, limit);
                let frame = Box::pin(frame).await?;
                self.feed(text(&frame)).await
            }
            Outbound::Search { reference, request } => {
                Box::pin(self.search(reference, *request)).await
            }
            Outbound::CatchUp { room } => Box::pin(self.catch_up(&room, false)).await,
            Outbound::Removed { room, seq } => match self.delivered.get(&room) {
                None => Ok(()),
                // The removing entry was delivered: the room ends here.
                Some(&d) if d >= seq => {
                    self.forget_removed(&room);
                    Ok(())
                }
                // It was lost to a full queue: the catch-up reads it and stops there.
                Some(_) => Box::pin(self.catch_up(&room, false)).await,
            },
            Outbound::Forget { room } => {
                self.delivered.remove(&room);
                self.feed(text(&ServerFrame::Left {
                    room: room.to_string(),
                }))
                .await
            }
            Outbound::Ping => {
                io(
                    self.stall_limit,
                    self.sink.feed(Message::Ping(Default::default())),
                )
                .await
            }
            Outbound::Close { code, reason } => {
                let frame = CloseFrame {
                    code,
                    reason: Utf8Bytes::from(reason),
                };
                io(
                    self.stall_limit,
                    self.sink.send(Message::Close(Some(frame))),
                )
                .await?;
                Err(Stop::Closed)
            }
        }
    }

    async fn replay(
        &mut self,
        room: Arc<str>,
        after: u64,
        latest: Option<u64>,
    ) -> Result<(), Stop> {
        let last_seq = self.state.store.last_seq(&room).await?;
        self.feed(text(&ServerFrame::Joined {
            room: room.to_string(),
            last_seq,
        }))
        .await?;
        // A client ahead of the server (its database was replaced) resumes from the server's end.
        let from = match latest {
            Some(n) => last_seq.saturating_sub(n),
            None => after.min(last_seq),
        };
        self.delivered.insert(Arc::clone(&room), from);
        self.catch_up(&room, true).await
    }

    async fn search(&mut self, reference: String, request: SearchRequest) -> Result<(), Stop> {
        let started = std::time::Instant::now();
        let found = self.state.store.search(request).await?;
        self.state.metrics.store(StoreOp::Search, started.elapsed());
        let frame = super::search::results(reference, found);
        self.feed(text(&frame)).await
    }

    /// Sends everything stored after what was delivered, in batches; with `synced`, each batch
    /// ends with a `synced` frame (the join replay).
    async fn catch_up(&mut self, room: &Arc<str>, synced: bool) -> Result<(), Stop> {
        loop {
            let Some(&from) = self.delivered.get(room) else {
                return Ok(());
            };
            let started = std::time::Instant::now();
            let batch = self
                .state
                .store
                .after(room, from, limits::REPLAY_BATCH, &self.user)
                .await?;
            let metrics = &self.state.metrics;
            metrics.store(StoreOp::Replay, started.elapsed());
            metrics.delivered(batch.len() as u64);
            if synced {
                metrics.replayed(batch.len() as u64);
            }
            let more = batch.len() == limits::REPLAY_BATCH;
            let mut up_to = from;
            let mut removed = false;
            for event in batch {
                up_to = event.seq();
                // An entry removing this user ends the room here, unless they are a member
                // again since (re-invited, or back in a public room): a rare read, only then.
                removed = event
                    .removes()
                    .is_some_and(|u| u.eq_ignore_ascii_case(&self.user))
                    && !matches!(
                        self.state.store.entry(room, &self.user).await?,
                        Some(Entry::Member(_))
                    );
                self.feed(text(&event.into_frame())).await?;
                if removed {
                    break;
                }
            }
            if removed {
                self.forget_removed(room);
                io(self.stall_limit, self.sink.flush()).await?;
                return Ok(());
            }
            self.delivered.insert(Arc::clone(room), up_to);
            if synced {
                let frame = ServerFrame::Synced {
                    room: room.to_string(),
                    up_to,
                    more,
                };
                self.feed(text(&frame)).await?;
            }
            io(self.stall_limit, self.sink.flush()).await?;
            if !more {
                return Ok(());
            }
        }
    }

    /// This user was removed from `room`: nothing more of it is delivered, and this connection
    /// leaves it here too (it may have heard of the removal before this node's hub did).
    fn forget_removed(&mut self, room: &Arc<str>) {
        self.delivered.remove(room);
        if self.state.hub.leave(room, self.session) {
            self.state.presence_changed(room, &self.user, false);
        }
    }

    /// After an overflow: every room caught up, and presence (which may have been dropped) resent.
    async fn resync(&mut self) -> Result<(), Stop> {
        let rooms: Vec<Arc<str>> = self.delivered.keys().cloned().collect();
        for room in rooms {
            self.catch_up(&room, false).await?;
            let presence = text(&self.state.hub.presence(&room));
            self.feed(presence).await?;
        }
        Ok(())
    }
}
