//! An open, authenticated connection: resume every room, flush the outbox in order at a paced
//! rate, and turn server frames into events. It owns only what lives as long as the socket
//! (what is written but not acknowledged, waiting history requests); everything durable is the
//! [`Core`]'s, which every method is handed. `conversations` handles the frames about rooms
//! and members.

mod conversations;
mod search;
mod uploads;

use crate::auth::Ready;
use crate::command::Reply;
use crate::core::{self, Core};
use crate::error::{ClientCode, Code};
use crate::event::{Event, Events, OutgoingStatus, Stopping};
use crate::history::HistoryAt;
use crate::outbox::{Draft, Queued};
use crate::pacer::Pacer;
use crate::transport::Ws;
use confab_protocol::{
    ClientFrame, ErrorCode, MessageData, MessageId, RoomName, ServerFrame, close,
};
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tracing::{debug, warn};

/// Why a connection attempt or an open connection ended, and so what the actor does next.
#[derive(Debug)]
pub(crate) enum Ended {
    /// Wait (at least `hint`), then reconnect; `now` skips the wait.
    Retry {
        reason: String,
        hint: Option<Duration>,
        now: bool,
    },
    AuthFailed(String),
    Shutdown(Option<Reply<()>>),
}

impl Ended {
    pub(crate) fn lost(reason: impl Into<String>) -> Self {
        Self::Retry {
            reason: reason.into(),
            hint: None,
            now: false,
        }
    }

    pub(crate) fn now(reason: impl Into<String>) -> Self {
        Self::Retry {
            reason: reason.into(),
            hint: None,
            now: true,
        }
    }

    /// The local database failed: try again in a while rather than spin.
    pub(crate) fn storage(e: crate::Error) -> Self {
        Self::Retry {
            reason: format!("local storage failed: {e}"),
            hint: Some(Duration::from_secs(5)),
            now: false,
        }
    }
}

impl From<Stopping> for Ended {
    fn from(_: Stopping) -> Self {
        Self::Shutdown(None)
    }
}

type Step = std::result::Result<(), Ended>;

/// Someone waiting for a page of history: what they asked for, so the cache can answer instead.
#[derive(Debug)]
struct HistoryWaiter {
    at: HistoryAt,
    limit: u32,
    reply: Reply<Vec<MessageData>>,
}

/// Codes that will never succeed for this message: drop it from the outbox and say so.
fn permanent(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::BodyTooLong
            | ErrorCode::NotJoined
            | ErrorCode::EmptyBody
            | ErrorCode::BadId
            | ErrorCode::BadRoom
            | ErrorCode::BadFrame
            // A change aimed at a message that is gone, or a reaction that is no emoji.
            | ErrorCode::BadTarget
            | ErrorCode::BadEmoji
            // Not (or no longer) a member of the room: that will not change by resending.
            | ErrorCode::Forbidden
            // A file the server does not have for this user.
            | ErrorCode::BadAttachment
    )
}

pub(crate) struct Link {
    sink: SplitSink<Ws, Message>,
    events: Events,
    /// Outbox messages not yet written to this socket, oldest first.
    unsent: VecDeque<Queued>,
    /// Written to this socket, awaiting their ack: id → the message.
    in_flight: HashMap<MessageId, Queued>,
    max_in_flight: usize,
    pacer: Pacer,
    history: HashMap<String, VecDeque<HistoryWaiter>>,
    last_heard: Instant,
    dead_after: Duration,
    /// Who this connection is signed in as.
    me: String,
    /// Joins of private rooms and dms waiting for the server's room list (see `Core::resume`);
    /// nothing is sent from the outbox until it came.
    held: Option<Vec<(String, ClientFrame)>>,
    /// Rooms this connection asked to create: the server joins us to them.
    creating: HashSet<String>,
    /// Searches waiting for their answer, by `ref`.
    searches: HashMap<String, search::SearchWaiter>,
    next_search: u64,
    /// A message with files was stored since the owner last looked: its staged copies can go.
    settled_files: bool,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("unsent", &self.unsent.len())
            .field("in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl Link {
    pub(crate) fn new(
        sink: SplitSink<Ws, Message>,
        ready: &Ready,
        events: Events,
        max_in_flight: usize,
        dead_after: Duration,
    ) -> Self {
        Self {
            sink,
            events,
            unsent: VecDeque::new(),
            in_flight: HashMap::new(),
            max_in_flight,
            pacer: Pacer::for_server(ready.rate_burst, ready.rate_per_sec),
            history: HashMap::new(),
            last_heard: Instant::now(),
            dead_after,
            me: ready.user.clone(),
            held: None,
            creating: HashSet::new(),
            searches: HashMap::new(),
            next_search: 0,
            settled_files: false,
        }
    }

    pub(crate) fn is_sending(&self, id: &str) -> bool {
        self.in_flight.contains_key(id)
    }

    async fn write(&mut self, frame: &ClientFrame) -> Step {
        let text = serde_json::to_string(frame).map_err(|e| Ended::lost(e.to_string()))?;
        self.send_raw(Message::text(text)).await
    }

    /// Writes one frame, bounded by the dead-peer limit: on a dead path the kernel buffer fills
    /// and a write would otherwise wait for TCP to give up, minutes later.
    async fn send_raw(&mut self, msg: Message) -> Step {
        match tokio::time::timeout(self.dead_after, self.sink.send(msg)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Ended::lost(e.to_string())),
            Err(_) => Err(Ended::now("the server stopped reading")),
        }
    }

    /// Waits for the pacer: control frames (join, leave, history) must stay under the server's
    /// rate too, or a user in many rooms would be refused on every reconnect.
    async fn pace(&mut self) {
        tokio::time::sleep_until(self.pacer.ready_at()).await;
        self.pacer.take_anyway();
    }

    /// Asks for the room list, re-joins every public room from its resume point (private rooms
    /// and dms once the list came), then starts flushing the outbox.
    pub(crate) async fn resume(&mut self, core: &mut Core) -> Step {
        let plan = core.resume().map_err(Ended::storage)?;
        self.pace().await;
        self.write(&ClientFrame::Rooms).await?;
        for frame in plan.now.iter().chain(&plan.reads) {
            self.pace().await;
            self.write(frame).await?;
        }
        self.held = Some(plan.held);
        self.unsent = core.pending().map_err(Ended::storage)?.into();
        self.pump().await
    }

    /// Whether the outbox has something the in-flight window would take now. A change aimed
    /// at a message still waiting for its ack waits too (and everything after it, in order).
    pub(crate) fn can_pump(&self) -> bool {
        self.held.is_none()
            && self
                .unsent
                .front()
                .is_some_and(|q| !q.waits_for_target() && !q.waits_for_upload())
            && self.in_flight.len() < self.max_in_flight
    }

    pub(crate) fn pace_at(&mut self) -> Instant {
        self.pacer.ready_at()
    }

    /// Writes queued messages while the in-flight window and the pacer allow.
    pub(crate) async fn pump(&mut self) -> Step {
        while self.can_pump() && self.pacer.try_take() {
            let Some(frame) = self.unsent.front().and_then(Queued::frame) else {
                break;
            };
            let Some(q) = self.unsent.pop_front() else {
                break;
            };
            let sending = q.outgoing(OutgoingStatus::Sending);
            self.in_flight.insert(q.id.clone(), q);
            self.write(&frame).await?;
            self.events.emit(Event::Outgoing(sending)).await?;
        }
        Ok(())
    }

    /// A message just queued: join its room first if that is new, then send it in turn.
    /// Queued whatever happens next: a failed join write only means the next connection joins
    /// and sends it.
    pub(crate) async fn push(&mut self, core: &mut Core, q: Queued, joined_now: bool) -> Step {
        if joined_now && let Ok(room) = RoomName::parse(&q.room) {
            self.join(core, &room).await?;
        }
        self.unsent.push_back(q);
        self.pump().await
    }

    /// A queued message no connection took got a new body: it goes out with that one.
    pub(crate) fn rewrite(&mut self, message: &Queued) {
        if let Some(q) = self.unsent.iter_mut().find(|q| q.id == message.id) {
            q.draft.clone_from(&message.draft);
        }
    }

    /// Queued work left the outbox unsent.
    pub(crate) fn withdraw(&mut self, gone: &[&Queued]) {
        self.unsent.retain(|q| !gone.iter().any(|g| g.id == q.id));
    }

    pub(crate) async fn join(&mut self, core: &mut Core, room: &RoomName) -> Step {
        let frame = core.join_frame(room).map_err(Ended::storage)?;
        self.pace().await;
        self.write(&frame).await
    }

    pub(crate) async fn leave(&mut self, room: RoomName) -> Step {
        self.pace().await;
        self.write(&ClientFrame::Leave { room: room.into() }).await
    }

    /// Typing is the first thing to give up when the rate is tight.
    pub(crate) async fn typing(&mut self, room: RoomName) -> Step {
        if self.pacer.try_take() {
            self.write(&ClientFrame::Typing { room: room.into() })
                .await?;
        }
        Ok(())
    }

    /// Asks the server for a page; the answer goes to `reply` when it comes (or the cache's,
    /// if the connection ends first). Rooms not joined are answered from the cache.
    pub(crate) async fn history(
        &mut self,
        core: &mut Core,
        room: RoomName,
        at: HistoryAt,
        limit: u32,
        reply: Reply<Vec<MessageData>>,
    ) -> Step {
        let limit = core::history_limit(limit);
        if !core.is_joined(&room) {
            let _ = reply.send(core.cached_history(&room, at, limit));
            return Ok(());
        }
        self.pace().await;
        self.history
            .entry(room.to_string())
            .or_default()
            .push_back(HistoryWaiter { at, limit, reply });
        let (before, after, around) = at.fields();
        self.write(&ClientFrame::History {
            room: room.into(),
            before,
            after,
            around,
            limit: Some(limit),
        })
        .await
    }

    /// `Err` when the server has said nothing for too long; else a ping keeps it talking.
    pub(crate) async fn keep_alive(&mut self) -> Step {
        if self.last_heard.elapsed() > self.dead_after {
            warn!("the server stopped answering; replacing the connection");
            return Err(Ended::now("the server stopped answering"));
        }
        self.send_raw(Message::Ping(Default::default())).await
    }

    /// Closes normally (1000); the outbox stays on disk.
    pub(crate) async fn close(&mut self, reply: Option<Reply<()>>) -> Step {
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        };
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            self.sink.send(Message::Close(Some(frame))),
        )
        .await;
        Err(Ended::Shutdown(reply))
    }

    /// The connection is gone: whoever waits for history gets the cache, and what was in
    /// flight is queued again (the next connection resends it; the server deduplicates).
    pub(crate) async fn finish(mut self, core: &mut Core) {
        self.searches_to_cache(core);
        for (room, waiters) in self.history.drain() {
            let Ok(room) = RoomName::parse(&room) else {
                continue;
            };
            for w in waiters {
                let _ = w.reply.send(core.cached_history(&room, w.at, w.limit));
            }
        }
        let mut requeued: Vec<Queued> = self.in_flight.drain().map(|(_, q)| q).collect();
        requeued.sort_by_key(|q| q.created_ms);
        for q in &requeued {
            core.may_be_stored(&q.id);
        }
        for q in requeued {
            if self
                .events
                .emit(Event::Outgoing(q.outgoing(OutgoingStatus::Queued)))
                .await
                .is_err()
            {
                break;
            }
        }
    }

    /// Anything from the socket. `None`: it closed.
    pub(crate) async fn on_socket(
        &mut self,
        core: &mut Core,
        msg: Option<std::result::Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Step {
        self.last_heard = Instant::now();
        match msg {
            Some(Ok(Message::Text(t))) => self.on_text(core, &t).await,
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame
                    .map(|f| (u16::from(f.code), f.reason.to_string()))
                    .unwrap_or((1005, String::new()));
                let hint = close::parse_retry_hint(&reason).map(Duration::from_millis);
                Err(Ended::Retry {
                    reason: format!("closed by the server ({code})"),
                    hint,
                    now: false,
                })
            }
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(Ended::lost(e.to_string())),
            None => Err(Ended::lost("connection closed")),
        }
    }

    async fn on_text(&mut self, core: &mut Core, text: &str) -> Step {
        let frame: ServerFrame = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                debug!(error = %e, "ignoring a frame this version does not understand");
                return Ok(());
            }
        };
        match frame {
            ServerFrame::Message(m) => {
                // Room for the event first, then the record: a message is marked seen only
                // once it is certain to reach the owner (a shutdown may interrupt the wait).
                let slot = self.events.slot().await?;
                if core.record(&m).map_err(Ended::storage)?
                    && let Some(slot) = slot
                {
                    slot.send(Event::Message(m));
                }
            }
            ServerFrame::Ack { id, room, seq } => {
                let id = match self.in_flight.remove_entry(id.as_str()) {
                    Some((id, q)) => {
                        self.settled_files |=
                            matches!(&q.draft, Draft::Message { files, .. } if !files.is_empty());
                        id
                    }
                    // Not written on this socket: the outbox may still hold it.
                    None => match MessageId::try_from(id) {
                        Ok(id) => id,
                        Err(_) => return Ok(()), // never one of ours
                    },
                };
                core.settle(&id, &room, seq).map_err(Ended::storage)?;
                for q in &mut self.unsent {
                    q.resolve(&id, seq);
                }
                self.events.emit(Event::Sent { id, room, seq }).await?;
                self.pump().await?;
            }
            ServerFrame::Synced { room, up_to, .. } => {
                core.synced(&room).map_err(Ended::storage)?;
                self.events.emit(Event::Synced { room, up_to }).await?;
            }
            ServerFrame::Typing { room, user } => {
                self.events.emit(Event::Typing { room, user }).await?;
            }
            ServerFrame::Presence { room, users } => {
                self.events.emit(Event::Presence { room, users }).await?;
            }
            ServerFrame::Joined { room, last_seq } => {
                if self.creating.remove(&room) {
                    let visibility = core
                        .visibility(&room)
                        .unwrap_or(confab_protocol::Visibility::Public);
                    core.adopt(&room, visibility).map_err(Ended::storage)?;
                }
                if let Some(ours) = core.server_end(&room, last_seq).map_err(Ended::storage)? {
                    warn!(%room, ours, last_seq, "the server's room is behind ours; following the server");
                    let message = format!(
                        "The server's history of #{room} was reset; older messages may be missing."
                    );
                    self.events
                        .emit(Event::Error {
                            code: ClientCode::RoomReset.into(),
                            message,
                        })
                        .await?;
                }
            }
            ServerFrame::History { room, messages, .. } => {
                core.cache(&messages).map_err(Ended::storage)?;
                if let Some(w) = self.history.get_mut(&room).and_then(VecDeque::pop_front) {
                    let _ = w.reply.send(Ok(messages));
                }
            }
            // A join refused because the user is no longer in the room (removed while away,
            // from a room this client did not know was private): forgotten, not retried.
            ServerFrame::Error {
                code: ErrorCode::Forbidden,
                room: Some(room),
                ..
            } if core.is_joined_name(&room) => {
                core.forget(&room).map_err(Ended::storage)?;
                self.events
                    .emit(Event::RoomRemoved { room, by: None })
                    .await?;
            }
            ServerFrame::SearchResults {
                reference,
                hits,
                more,
                next,
            } => self.search_results(&reference, hits, more, next),
            ServerFrame::Error {
                code,
                message,
                reference: Some(reference),
                ..
            } if self.search_refused(&reference, code, &message) => {}
            ServerFrame::Error {
                code,
                message,
                reference,
                retry_after_ms,
                ..
            } => {
                return self
                    .on_error(core, code, message, reference, retry_after_ms)
                    .await;
            }
            other => return self.on_conversation(core, other).await,
        }
        Ok(())
    }

    async fn on_error(
        &mut self,
        core: &mut Core,
        code: ErrorCode,
        message: String,
        reference: Option<String>,
        retry_after_ms: Option<u64>,
    ) -> Step {
        // A server from before room lists: join everything, as it always did.
        if code == ErrorCode::UnknownType && reference.is_none() && self.held.is_some() {
            return self.release_held(core, None).await;
        }
        // A server from before search: the cache answers every search waiting for it.
        if code == ErrorCode::UnknownType && reference.is_none() && !self.searches.is_empty() {
            self.searches_to_cache(core);
            return Ok(());
        }
        let in_flight = reference.and_then(|r| self.in_flight.get_key_value(r.as_str()));
        let Some(id) = in_flight.map(|(id, _)| id.clone()) else {
            let code = Code::Protocol(code);
            self.events.emit(Event::Error { code, message }).await?;
            return Ok(());
        };
        // Not joined, though this connection asked to join that room first: the server could
        // not take the join (its disk was full, say), and a new connection joins again.
        let asked_to_join = code == ErrorCode::NotJoined
            && self
                .in_flight
                .get(&id)
                .is_some_and(|q| core.is_joined_name(&q.room));
        if permanent(code) && !asked_to_join {
            let room = self
                .in_flight
                .remove(&id)
                .map(|q| q.room)
                .unwrap_or_default();
            return self.refuse(core, id, room, code, message).await;
        }
        // Refused for now (rate, storage): later messages may already be in flight, so the only
        // way to keep the author's order is to start over from this one after the hint.
        warn!(%code, "a queued message was refused for now; reconnecting to resend in order");
        Err(Ended::Retry {
            reason: format!("the server refused a message for now ({code})"),
            hint: Some(Duration::from_millis(retry_after_ms.unwrap_or(1000))),
            now: false,
        })
    }
}
