//! An open, authenticated connection: resume, flush, and turn frames into events.

use crate::actor::{Actor, Command, Next, Ready};
use crate::local::Queued;
use crate::pacer::Pacer;
use crate::transport::Ws;
use crate::{Error, Event, Result};
use confab_protocol::{ClientFrame, ErrorCode, MessageData, ServerFrame, close};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tracing::{debug, warn};

/// Someone waiting for a page of history: what they asked for, so the cache can answer instead.
struct HistoryWaiter {
    before: Option<u64>,
    limit: u32,
    reply: oneshot::Sender<Result<Vec<MessageData>>>,
}

pub(crate) struct Session<'a> {
    actor: &'a mut Actor,
    sink: SplitSink<Ws, Message>,
    /// Outbox messages not yet written to this socket, oldest first.
    queue: VecDeque<Queued>,
    /// Sent on this socket, awaiting their ack.
    inflight: HashMap<String, String>,
    pacer: Pacer,
    history: HashMap<String, VecDeque<HistoryWaiter>>,
    last_heard: Instant,
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
    )
}

impl<'a> Session<'a> {
    pub async fn serve(actor: &'a mut Actor, ws: Ws, ready: &Ready) -> Next {
        let (sink, mut stream) = ws.split();
        let mut s = Session {
            actor,
            sink,
            queue: VecDeque::new(),
            inflight: HashMap::new(),
            pacer: Pacer::for_server(ready.rate_burst, ready.rate_per_sec),
            history: HashMap::new(),
            last_heard: Instant::now(),
        };
        let next = match s.resume().await {
            Ok(()) => s.run(&mut stream).await,
            Err(next) => next,
        };
        // Whoever waits for history gets the cache instead of an error.
        for (room, waiters) in s.history.drain() {
            for w in waiters {
                let _ = w
                    .reply
                    .send(s.actor.cached_history(&room, w.before, w.limit));
            }
        }
        next
    }

    async fn write(&mut self, frame: &ClientFrame) -> std::result::Result<(), Next> {
        let text = serde_json::to_string(frame).map_err(|e| lost(e.to_string()))?;
        self.send_raw(Message::text(text)).await
    }

    /// Writes one frame, bounded by the dead-peer limit: on a dead path the kernel buffer fills
    /// and a write would otherwise wait for TCP to give up, minutes later.
    async fn send_raw(&mut self, msg: Message) -> std::result::Result<(), Next> {
        match tokio::time::timeout(self.actor.cfg.dead_after, self.sink.send(msg)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(lost(e.to_string())),
            Err(_) => Err(Next::Retry {
                reason: "the server stopped reading".into(),
                hint: None,
                now: true,
            }),
        }
    }

    /// Waits for the pacer: control frames (join, leave, history) must stay under the server's
    /// rate too, or a user in many rooms would be refused on every reconnect.
    async fn pace(&mut self) {
        tokio::time::sleep_until(self.pacer.ready_at()).await;
        self.pacer.take_anyway();
    }

    /// Re-joins every room from its resume point, then starts flushing the outbox.
    async fn resume(&mut self) -> std::result::Result<(), Next> {
        let rooms = self.actor.local.rooms_to_resume().map_err(storage)?;
        for (room, after) in rooms {
            self.pace().await;
            let frame = self.join(room, after).map_err(storage)?;
            self.write(&frame).await?;
        }
        self.queue = self.actor.local.pending().map_err(storage)?.into();
        self.pump().await
    }

    /// Writes queued messages while the in-flight window and the pacer allow.
    async fn pump(&mut self) -> std::result::Result<(), Next> {
        while self.inflight.len() < self.actor.cfg.max_in_flight
            && !self.queue.is_empty()
            && self.pacer.try_take()
        {
            let Some(q) = self.queue.pop_front() else {
                break;
            };
            self.inflight.insert(q.id.clone(), q.room.clone());
            self.write(&ClientFrame::Send {
                id: q.id,
                room: q.room,
                body: q.body,
            })
            .await?;
        }
        Ok(())
    }

    async fn run(&mut self, stream: &mut SplitStream<Ws>) -> Next {
        let mut tick =
            tokio::time::interval_at(Instant::now() + self.actor.cfg.tick, self.actor.cfg.tick);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let can_pump =
                !self.queue.is_empty() && self.inflight.len() < self.actor.cfg.max_in_flight;
            let pace_at = self.pacer.ready_at();
            let step = tokio::select! {
                msg = stream.next() => {
                    self.last_heard = Instant::now();
                    match msg {
                        Some(Ok(Message::Text(t))) => self.on_text(&t).await,
                        Some(Ok(Message::Close(frame))) => {
                            let (code, reason) = frame.map(|f| (u16::from(f.code), f.reason.to_string())).unwrap_or((1005, String::new()));
                            let hint = close::parse_retry_hint(&reason).map(Duration::from_millis);
                            Err(Next::Retry { reason: format!("closed by the server ({code})"), hint, now: false })
                        }
                        Some(Ok(_)) => Ok(()),
                        Some(Err(e)) => Err(lost(e.to_string())),
                        None => Err(lost("connection closed".into())),
                    }
                }
                cmd = self.actor.cmds.recv() => self.on_command(cmd).await,
                _ = tick.tick() => self.on_tick().await,
                () = tokio::time::sleep_until(pace_at), if can_pump => self.pump().await,
            };
            if let Err(next) = step {
                return next;
            }
        }
    }

    async fn on_tick(&mut self) -> std::result::Result<(), Next> {
        if self.last_heard.elapsed() > self.actor.cfg.dead_after {
            warn!("the server stopped answering; replacing the connection");
            return Err(Next::Retry {
                reason: "the server stopped answering".into(),
                hint: None,
                now: true,
            });
        }
        if self.actor.watch_says_reconnect() {
            return Err(Next::Retry {
                reason: "woke up or the network changed".into(),
                hint: None,
                now: true,
            });
        }
        self.send_raw(Message::Ping(Default::default())).await
    }

    async fn on_command(&mut self, cmd: Option<Command>) -> std::result::Result<(), Next> {
        let Some(cmd) = cmd else {
            return self.close(None).await;
        };
        match cmd {
            Command::Send { room, body, reply } => {
                let was_joined = self.is_joined(&room);
                match self.actor.queue_message(&room, &body) {
                    Ok(q) => {
                        let _ = reply.send(Ok(q.id.clone()));
                        // Queued whatever happens next: a failed join write only means the
                        // next connection joins and sends it.
                        if !was_joined {
                            self.join_frame(&room).await?;
                        }
                        self.queue.push_back(q);
                        self.emit_outbox().await;
                        self.pump().await?;
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Command::Join { room, after, reply } => {
                let _ = reply.send(self.actor.note_join(&room, after));
                self.join_frame(&room).await?;
            }
            Command::Leave { room, reply } => {
                let _ = reply.send(self.actor.local.set_joined(&room, false));
                self.pace().await;
                self.write(&ClientFrame::Leave { room }).await?;
            }
            Command::Typing { room } => {
                // Typing is the first thing to give up when the rate is tight.
                if self.pacer.try_take() {
                    self.write(&ClientFrame::Typing { room }).await?;
                }
            }
            Command::History {
                room,
                before,
                limit,
                reply,
            } => {
                // Only joined rooms can be asked for; anything else comes from the cache.
                if !self.is_joined(&room) {
                    let _ = reply.send(self.actor.cached_history(&room, before, limit));
                    return Ok(());
                }
                self.pace().await;
                self.history
                    .entry(room.clone())
                    .or_default()
                    .push_back(HistoryWaiter {
                        before,
                        limit,
                        reply,
                    });
                self.write(&ClientFrame::History {
                    room,
                    before,
                    limit: Some(limit),
                })
                .await?;
            }
            // Answered from the local database, the same online as offline.
            cmd @ (Command::Queued { .. } | Command::Rooms { .. }) => {
                self.actor.offline_command(cmd).await
            }
            Command::RetryNow => {}
            Command::NetworkChanged => {
                return Err(Next::Retry {
                    reason: "the network changed".into(),
                    hint: None,
                    now: true,
                });
            }
            Command::Shutdown { reply } => return self.close(Some(reply)).await,
        }
        Ok(())
    }

    fn is_joined(&self, room: &str) -> bool {
        self.actor.local.is_joined(room).unwrap_or(false)
    }

    /// The `join` for a room resuming after `after`: only its newest messages when the owner
    /// asked for that and the room has never had a replay here, else everything after `after`.
    fn join(&self, room: String, after: u64) -> Result<ClientFrame> {
        Ok(match self.actor.cfg.first_join_latest {
            Some(latest) if self.actor.local.is_fresh(&room)? => ClientFrame::Join {
                room,
                after: None,
                latest: Some(latest),
            },
            _ => ClientFrame::Join {
                room,
                after: Some(after),
                latest: None,
            },
        })
    }

    /// Sends `join` for a room from its resume point.
    async fn join_frame(&mut self, room: &str) -> std::result::Result<(), Next> {
        let after = self.actor.local.last_seq(room).map_err(storage)?;
        self.pace().await;
        let frame = self.join(room.to_owned(), after).map_err(storage)?;
        self.write(&frame).await
    }

    /// Closes normally (1000); the outbox stays on disk.
    async fn close(
        &mut self,
        reply: Option<oneshot::Sender<Result<()>>>,
    ) -> std::result::Result<(), Next> {
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        };
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            self.sink.send(Message::Close(Some(frame))),
        )
        .await;
        Err(Next::Shutdown(reply))
    }

    async fn emit_outbox(&mut self) {
        if let Ok(n) = self.actor.local.pending_count() {
            self.actor.emit(Event::Outbox { queued: n }).await;
        }
    }

    async fn on_text(&mut self, text: &str) -> std::result::Result<(), Next> {
        let frame: ServerFrame = match serde_json::from_str(text) {
            Ok(f) => f,
            Err(e) => {
                debug!(error = %e, "ignoring a frame this version does not understand");
                return Ok(());
            }
        };
        match frame {
            // Recording filters what was seen before: only new messages become events.
            ServerFrame::Message(m) if self.actor.local.record(&m).map_err(storage)? => {
                self.actor.emit(Event::Message(m)).await;
            }
            ServerFrame::Ack { id, room, seq } => {
                self.inflight.remove(&id);
                self.actor.local.remove(&id).map_err(storage)?;
                self.actor.emit(Event::Sent { id, room, seq }).await;
                self.emit_outbox().await;
                self.pump().await?;
            }
            ServerFrame::Synced { room, up_to, .. } => {
                // Replayed once: from now on the room resumes after what it holds, even if
                // that is nothing (a room joined while empty must not skip what comes later).
                self.actor.local.set_fresh(&room, false).map_err(storage)?;
                self.actor.emit(Event::Synced { room, up_to }).await
            }
            ServerFrame::Typing { room, user } => {
                self.actor.emit(Event::Typing { room, user }).await
            }
            ServerFrame::Presence { room, users } => {
                self.actor.emit(Event::Presence { room, users }).await
            }
            ServerFrame::Joined { room, last_seq } => {
                let ours = self.actor.local.last_seq(&room).map_err(storage)?;
                if ours > last_seq {
                    warn!(%room, ours, last_seq, "the server's room is behind ours; following the server");
                    self.actor
                        .local
                        .set_last_seq(&room, last_seq)
                        .map_err(storage)?;
                    let message = format!(
                        "The server's history of #{room} was reset; older messages may be missing."
                    );
                    self.actor
                        .emit(Event::Error {
                            code: "room_reset".into(),
                            message,
                        })
                        .await;
                }
            }
            ServerFrame::History { room, messages, .. } => {
                self.actor.local.cache(&messages).map_err(storage)?;
                if let Some(w) = self.history.get_mut(&room).and_then(VecDeque::pop_front) {
                    let _ = w.reply.send(Ok(messages));
                }
            }
            ServerFrame::Error {
                code,
                message,
                reference,
                retry_after_ms,
            } => {
                return self
                    .on_error(code, message, reference, retry_after_ms)
                    .await;
            }
            _ => {}
        }
        Ok(())
    }

    async fn on_error(
        &mut self,
        code: ErrorCode,
        message: String,
        reference: Option<String>,
        retry_after_ms: Option<u64>,
    ) -> std::result::Result<(), Next> {
        let Some(id) = reference.filter(|id| self.inflight.contains_key(id)) else {
            self.actor
                .emit(Event::Error {
                    code: code.as_str().into(),
                    message,
                })
                .await;
            return Ok(());
        };
        if permanent(code) {
            let room = self.inflight.remove(&id).unwrap_or_default();
            self.actor.local.remove(&id).map_err(storage)?;
            self.actor
                .emit(Event::SendFailed {
                    id,
                    room,
                    code,
                    message,
                })
                .await;
            self.emit_outbox().await;
            return self.pump().await;
        }
        // Refused for now (rate, storage): later messages may already be in flight, so the only
        // way to keep the author's order is to start over from this one after the hint.
        warn!(%code, "a queued message was refused for now; reconnecting to resend in order");
        let hint = Some(Duration::from_millis(retry_after_ms.unwrap_or(1000)));
        Err(Next::Retry {
            reason: format!("the server refused a message for now ({code})"),
            hint,
            now: false,
        })
    }
}

fn lost(reason: String) -> Next {
    Next::Retry {
        reason,
        hint: None,
        now: false,
    }
}

fn storage(e: Error) -> Next {
    Next::Retry {
        reason: format!("local storage failed: {e}"),
        hint: Some(Duration::from_secs(5)),
        now: false,
    }
}
