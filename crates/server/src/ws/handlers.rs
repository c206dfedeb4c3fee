//! What each client frame does, once authenticated and admitted by flood control.

use super::session::{Pending, SendResult, Session};
use crate::metrics::{SendResult as MetricSend, StoreOp};
use crate::rooms::{HistoryPage, Member, Outbound};
use crate::store::membership::{ChangeKind, Entry};
use crate::store::{NewMessage, Payload, SendOutcome};
use confab_protocol::changes::valid_emoji;
use confab_protocol::conversation::DM_PREFIX;
use confab_protocol::{ClientFrame, ErrorCode, ServerFrame, files, limits};
use std::sync::Arc;
use tracing::error;

impl Session {
    pub(super) async fn on_frame(&mut self, frame: ClientFrame) {
        match frame {
            ClientFrame::Auth { .. } => {
                let e = ServerFrame::error(ErrorCode::BadFrame, "already authenticated", None);
                self.reply(&e).await;
            }
            ClientFrame::Join {
                room,
                after,
                latest,
            } => {
                // `latest` only counts without `after`: a resume point always wins.
                let latest = if after.is_none() { latest } else { None };
                self.join(room, after.unwrap_or(0), latest.map(u64::from))
                    .await
            }
            ClientFrame::Leave { room } => self.leave(&room).await,
            ClientFrame::Send {
                id,
                room,
                body,
                reply_to,
                attachments,
            } => {
                let payload = Payload::Message {
                    body,
                    reply_to,
                    attachments,
                };
                self.send(id, room, payload).await
            }
            ClientFrame::Edit {
                id,
                room,
                target,
                body,
            } => self.send(id, room, Payload::Edit { target, body }).await,
            ClientFrame::Delete { id, room, target } => {
                self.send(id, room, Payload::Delete { target }).await
            }
            ClientFrame::React {
                id,
                room,
                target,
                emoji,
                on,
            } => {
                self.send(id, room, Payload::React { target, emoji, on })
                    .await
            }
            ClientFrame::Typing { room } => {
                if self.require_joined(&room, None).await.is_some() {
                    self.state.typing(&room, &self.user);
                }
            }
            ClientFrame::History {
                room,
                before,
                after,
                around,
                limit,
            } => self.history(room, (before, after, around), limit).await,
            ClientFrame::Create { room, visibility } => self.create(room, visibility).await,
            ClientFrame::Invite { room, user } => self.change(room, user, ChangeKind::Invite).await,
            ClientFrame::Kick { room, user } => self.change(room, user, ChangeKind::Kick).await,
            ClientFrame::Part { room } => {
                let me = self.user.to_string();
                self.change(room, me, ChangeKind::Part).await
            }
            ClientFrame::SetRole { room, user, role } => {
                self.change(room, user, ChangeKind::SetRole(role)).await
            }
            ClientFrame::Dm { users } => self.dm(users).await,
            ClientFrame::Rooms => self.rooms().await,
            ClientFrame::Read { room, seq } => self.read(room, seq).await,
            ClientFrame::Members { room } => self.members(room).await,
            ClientFrame::Search {
                reference,
                query,
                room,
                before,
                limit,
                page,
            } => {
                let asked = super::search::Asked {
                    reference,
                    query,
                    room,
                    before,
                    limit,
                    page,
                };
                self.search(asked).await
            }
            // Frames added to the protocol later are parsed but not handled by this version.
            #[allow(unreachable_patterns)]
            _ => {
                let e = ServerFrame::error(
                    ErrorCode::UnknownType,
                    "not supported by this server",
                    None,
                );
                self.reply(&e).await;
            }
        }
    }

    /// The room's shared name if this connection has joined it and is still in it; otherwise
    /// answers `forbidden` (a private room or dm the user is not a member of, or was removed
    /// from), `not_joined` or `bad_room`.
    pub(super) async fn require_joined(
        &mut self,
        room: &str,
        reference: Option<&str>,
    ) -> Option<Arc<str>> {
        if let Some(r) = self.joined.get(room) {
            // Removal from the room takes this connection out of the hub, not out of `joined`.
            if self.state.hub.is_member(room, self.id) {
                return Some(Arc::clone(r));
            }
            self.joined.remove(room);
        }
        let (code, message) = if !limits::valid_room(room) {
            (ErrorCode::BadRoom, "room names are 1-64 of a-z 0-9 _ - .")
        } else if matches!(
            self.state.store.entry(room, &self.user).await,
            Ok(Some(Entry::Forbidden))
        ) {
            (ErrorCode::Forbidden, "you are not a member of this room")
        } else {
            (ErrorCode::NotJoined, "join the room first")
        };
        self.reply(&ServerFrame::error(
            code,
            message,
            reference.map(str::to_owned),
        ))
        .await;
        None
    }

    async fn join(&mut self, room: String, after: u64, latest: Option<u64>) {
        if !limits::valid_room(&room) {
            let e = ServerFrame::error(
                ErrorCode::BadRoom,
                "room names are 1-64 of a-z 0-9 _ - .",
                None,
            );
            return self.reply(&e).await;
        }
        // A dm exists only once opened with `dm`; joining one by name never creates it.
        let entry = if room.starts_with(DM_PREFIX) {
            self.state.store.entry(&room, &self.user).await
        } else {
            self.state.store.enter(&room, &self.user).await.map(Some)
        };
        match entry {
            Ok(Some(Entry::Member(_))) => self.join_member(room, after, latest).await,
            Ok(_) => self.reply(&ServerFrame::not_a_member(&room)).await,
            Err(e) => self.storage_failed(&e, None).await,
        }
    }

    /// Answers a request the database could not serve.
    pub(super) async fn storage_failed(&mut self, err: &crate::Error, reference: Option<String>) {
        error!(error = %err, "a database request failed");
        self.reply(&ServerFrame::Error {
            code: ErrorCode::StorageFailed,
            message: "the server could not read or store that; try again".into(),
            reference,
            retry_after_ms: Some(1000),
            room: None,
        })
        .await;
    }

    /// Joins a room the user is known to be a member of.
    pub(super) async fn join_member(&mut self, room: String, after: u64, latest: Option<u64>) {
        if !self.joined.contains(room.as_str())
            && self.joined.len() >= self.state.config.limits.max_rooms_per_connection
        {
            let e = ServerFrame::error(ErrorCode::BadRoom, "too many rooms joined at once", None);
            return self.reply(&e).await;
        }
        let member = Member {
            session: self.id,
            user: Arc::clone(&self.user),
            tx: self.out.clone(),
            backlog: Arc::clone(&self.backlog),
        };
        // Membership first, then the replay request: a message stored in between reaches the
        // writer before the replay, is ignored there, and is read back by the replay instead.
        if after > 0 {
            self.state.metrics.resumed();
        }
        let (key, changed) = self.state.hub.join(&room, member);
        self.joined.insert(Arc::clone(&key));
        self.queue(Outbound::Replay {
            room: key,
            after,
            latest,
        })
        .await;
        // Everyone hears of a new user; a user's further connection only tells itself.
        if changed {
            self.state.presence_changed(&room, &self.user, true);
        } else {
            self.state.hub.presence_to(&room, self.id);
        }
    }

    async fn leave(&mut self, room: &str) {
        let Some(key) = self.require_joined(room, None).await else {
            return;
        };
        self.joined.remove(room);
        let changed = self.state.hub.leave(room, self.id);
        self.queue(Outbound::Forget { room: key }).await;
        if changed {
            self.state.presence_changed(room, &self.user, false);
        }
    }

    /// Leaves every room (the connection is ending) and tells the others.
    pub(super) fn leave_all(&mut self) {
        for room in self.joined.drain() {
            if self.state.hub.leave(&room, self.id) {
                self.state.presence_changed(&room, &self.user, false);
            }
        }
    }

    /// Queues an entry of the stream (a message, an edit, a delete, a reaction): the same id
    /// rules, pacing, ordering and ack for all of them.
    async fn send(&mut self, id: String, room: String, payload: Payload) {
        let Some(room) = self.require_joined(&room, Some(&id)).await else {
            return;
        };
        let max_body = self.state.config.limits.max_body_bytes;
        let refuse = |code, message: String| ServerFrame::error(code, message, Some(id.clone()));
        if !limits::valid_id(&id) {
            let msg = format!(
                "ids are 1-{} bytes without control characters",
                limits::MAX_ID_BYTES
            );
            return self.reply(&refuse(ErrorCode::BadId, msg)).await;
        }
        let (body, attached) = match &payload {
            Payload::Message {
                body, attachments, ..
            } => (Some(body), attachments.as_slice()),
            Payload::Edit { body, .. } => (Some(body), &[][..]),
            Payload::Delete { .. } | Payload::React { .. } => (None, &[][..]),
        };
        if attached.len() > files::MAX_ATTACHMENTS
            || attached.iter().any(|a| !files::valid_file_id(&a.file_id))
        {
            let msg = format!(
                "up to {} attachments, each a file_id from POST /api/files",
                files::MAX_ATTACHMENTS
            );
            return self.reply(&refuse(ErrorCode::BadAttachment, msg)).await;
        }
        // A message of files alone needs no text; an edit always has some.
        if attached.is_empty() && body.is_some_and(|b| b.trim().is_empty()) {
            return self
                .reply(&refuse(ErrorCode::EmptyBody, "the message is empty".into()))
                .await;
        }
        if body.is_some_and(|b| b.len() > max_body) {
            let msg = format!("the message is longer than {max_body} bytes");
            return self.reply(&refuse(ErrorCode::BodyTooLong, msg)).await;
        }
        if let Payload::React { emoji, .. } = &payload
            && !valid_emoji(emoji)
        {
            let msg = "a reaction is one emoji".to_owned();
            return self.reply(&refuse(ErrorCode::BadEmoji, msg)).await;
        }
        let msg = NewMessage {
            room: room.to_string(),
            client_id: id.clone(),
            author: self.user.to_string(),
            payload,
        };
        let started = std::time::Instant::now();
        let metrics = Arc::clone(&self.state.metrics);
        let pending: Pending = match self.state.store.send(msg, &self.order).await {
            Ok(sent) => Box::pin(async move {
                let outcome = sent.outcome().await;
                metrics.store(StoreOp::Send, started.elapsed());
                (id, room, outcome)
            }),
            Err(e) => Box::pin(async move { (id, room, Err(e)) }),
        };
        self.inflight.push_back(pending);
    }

    /// Answers a send once the database has decided about it.
    pub(super) async fn finish_send(&mut self, (id, room, result): SendResult) {
        self.state.metrics.send(match &result {
            Ok(SendOutcome::Stored { .. }) => MetricSend::Stored,
            Ok(SendOutcome::Duplicate { .. }) => MetricSend::Duplicate,
            Ok(
                SendOutcome::HeldBack
                | SendOutcome::IdReused { .. }
                | SendOutcome::Forbidden
                | SendOutcome::BadTarget
                | SendOutcome::BadAttachment,
            ) => MetricSend::Refused,
            Err(_) => MetricSend::Failed,
        });
        let frame = match result {
            Ok(SendOutcome::Stored { seq } | SendOutcome::Duplicate { seq }) => ServerFrame::Ack {
                id,
                room: room.to_string(),
                seq,
            },
            Ok(SendOutcome::HeldBack) => ServerFrame::Error {
                code: ErrorCode::ResendRequired,
                message: "an earlier message was not stored; reconnect and resend in order".into(),
                reference: Some(id),
                retry_after_ms: None,
                room: None,
            },
            Ok(SendOutcome::Forbidden) => ServerFrame::error(
                ErrorCode::Forbidden,
                "not allowed: not a member of this room, or not yours to change",
                Some(id),
            ),
            Ok(SendOutcome::BadTarget) => ServerFrame::error(
                ErrorCode::BadTarget,
                "the target is no message of this room, or it was deleted",
                Some(id),
            ),
            Ok(SendOutcome::BadAttachment) => ServerFrame::error(
                ErrorCode::BadAttachment,
                "an attachment names no file you uploaded or may share",
                Some(id),
            ),
            Ok(SendOutcome::IdReused { room: other }) => {
                let msg = format!("this id was already used for a message in room {other}");
                ServerFrame::error(ErrorCode::BadId, msg, Some(id))
            }
            Err(err) => {
                error!(error = %err, "storing a message failed");
                ServerFrame::Error {
                    code: ErrorCode::StorageFailed,
                    message: "the server could not store the message; it was not sent".into(),
                    reference: Some(id),
                    retry_after_ms: Some(5000),
                    room: None,
                }
            }
        };
        self.reply(&frame).await;
    }

    /// History is read by the writer, like a replay: the queue holds the small request, never
    /// a page of messages, so a client asking a lot and reading nothing costs no memory.
    async fn history(
        &mut self,
        room: String,
        (before, after, around): (Option<u64>, Option<u64>, Option<u64>),
        limit: Option<u32>,
    ) {
        let page = match (before, after, around) {
            (before, None, None) => HistoryPage::Before(before.unwrap_or(u64::MAX >> 1)),
            (None, Some(after), None) => HistoryPage::After(after),
            (None, None, Some(seq)) => HistoryPage::Around(seq),
            _ => {
                let e = ServerFrame::error(
                    ErrorCode::BadFrame,
                    "give one of `before`, `after` and `around`",
                    None,
                );
                return self.reply(&e).await;
            }
        };
        let Some(room) = self.require_joined(&room, None).await else {
            return;
        };
        let limit = limit
            .unwrap_or(limits::HISTORY_DEFAULT)
            .clamp(1, limits::HISTORY_MAX) as usize;
        self.queue(Outbound::History { room, page, limit }).await;
    }
}
