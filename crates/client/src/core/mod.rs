//! The client core: the one owner of the local database, of what input is valid, of which rooms
//! are joined and where each resumes, and of the outbox. Synchronous and socket-free: the
//! connection actor ([`crate::actor`]) calls it the same way whether a connection is open or
//! not, and the open connection ([`crate::link`]) asks it what to send and tells it what came.

pub(crate) use crate::db::Change;
use crate::db::{CacheSearch, Database};
use crate::event::{Outgoing, OutgoingStatus};
use crate::files::LocalFile;
use crate::history::HistoryAt;
use crate::outbox::{Draft, Queued, Target};
use crate::search::{self, Found, SearchResults, SearchSource};
use crate::{Error, Result};
use confab_protocol::changes::valid_emoji;
use confab_protocol::files::MAX_ATTACHMENTS;
use confab_protocol::{
    Body, ClientFrame, ErrorCode, MessageData, MessageId, RoomName, Visibility, limits,
};
use std::collections::{BTreeMap, HashMap, HashSet};

mod conversations;
pub use conversations::Conversation;

/// What queuing new work did.
#[derive(Debug)]
pub(crate) enum Queuing {
    /// It waits in the outbox; its room was joined just now when `joined_now` (the `join` is
    /// then still to be sent).
    Added { queued: Queued, joined_now: bool },
    /// It was an edit of a queued message no connection had taken: that message has the new
    /// body, and nothing else was queued.
    Rewritten(Queued),
    /// It was the deletion of such a message: the message left the outbox unsent, and with it
    /// the changes aimed at it (`orphans`).
    Withdrawn {
        message: Queued,
        orphans: Vec<Queued>,
    },
}

/// A queued message a change is aimed at.
enum QueuedTarget {
    Waiting(Queued),
    Stored(u64),
}

/// How many of our recently stored messages are remembered by id (a change may name one by id
/// just after its ack, before the owner heard of the seq).
const STORED_REMEMBERED: usize = 4096;

/// A joined room, as the owner lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedRoom {
    pub name: String,
    /// The newest message received in it.
    pub last_seq: u64,
    /// What the server said the room is (before it said: `None`, most likely public).
    pub visibility: Option<Visibility>,
}

#[derive(Debug)]
pub(crate) struct Core {
    db: Database,
    /// The longest body the server accepts (from `ready`; the protocol default until then).
    max_body: usize,
    /// See `ClientConfig::first_join_latest`.
    first_join_latest: Option<u32>,
    /// Read positions given while offline, sent on the next connection.
    unsent_reads: BTreeMap<String, u64>,
    /// See `ClientConfig::follow_rooms`.
    follow_rooms: bool,
    /// Our messages acknowledged in this run: id → (room, seq).
    stored: HashMap<MessageId, (String, u64)>,
    /// Queued messages a connection may have delivered without our hearing the ack: those
    /// written to one that was lost, and all found queued at start (a run killed after writing
    /// them). The server keeps the first copy it stored and drops a resend as a duplicate, so
    /// an edit or deletion of one of these must go out as a change of its own, never be
    /// folded into the resend.
    maybe_stored: HashSet<MessageId>,
}

/// How a new connection resumes: joins to send at once, and joins of private rooms and dms
/// held until the server's room list says the user is still in them.
#[derive(Debug, Default)]
pub(crate) struct Resume {
    pub now: Vec<ClientFrame>,
    pub held: Vec<(String, ClientFrame)>,
    pub reads: Vec<ClientFrame>,
}

/// A room name the user gave, checked.
pub(crate) fn room(input: &str) -> Result<RoomName> {
    RoomName::from_input(input).map_err(|code| Error::rejected(code, input))
}

impl Core {
    pub(crate) fn new(
        db: Database,
        first_join_latest: Option<u32>,
        follow_rooms: bool,
    ) -> Result<Self> {
        let maybe_stored = db
            .pending()?
            .into_iter()
            .filter(|q| matches!(q.draft, Draft::Message { .. }))
            .map(|q| q.id)
            .collect();
        Ok(Self {
            db,
            max_body: limits::MAX_BODY_BYTES,
            first_join_latest,
            unsent_reads: BTreeMap::new(),
            follow_rooms,
            stored: HashMap::new(),
            maybe_stored,
        })
    }

    /// Our message `id` was written to a connection that was lost before its ack.
    pub(crate) fn may_be_stored(&mut self, id: &MessageId) {
        self.maybe_stored.insert(id.clone());
    }

    /// The server's limit, from its `ready`.
    pub(crate) fn set_max_body(&mut self, max: usize) {
        self.max_body = max;
    }

    /// Checks new work (a message, or a change to one) and writes it to the outbox, joining its
    /// room for good. Anything the server would refuse for good is refused here, before it is
    /// queued: queued work that can never be delivered would hold up everything behind it.
    /// An edit or deletion of a queued message that no connection has taken yet (`taken` says
    /// which are written) rewrites the outbox instead of queuing anything.
    pub(crate) fn queue(
        &mut self,
        room_input: &str,
        mut draft: Draft,
        taken: impl Fn(&MessageId) -> bool,
    ) -> Result<Queuing> {
        let room = room(room_input)?;
        match &mut draft {
            Draft::Message { files, .. } if files.len() > MAX_ATTACHMENTS => {
                return Err(Error::Rejected {
                    code: ErrorCode::BadAttachment,
                    message: format!("a message carries at most {MAX_ATTACHMENTS} files"),
                });
            }
            // Files alone make a message: the body may be empty then.
            Draft::Message { body, files, .. } if !files.is_empty() && body.trim().is_empty() => {
                body.clear();
            }
            Draft::Message { body, .. } | Draft::Edit { body, .. } => {
                *body = Body::within(body, self.max_body)
                    .map_err(|code| Error::rejected(code, body))?
                    .as_str()
                    .to_owned();
            }
            Draft::React { emoji, .. } if !valid_emoji(emoji) => {
                return Err(Error::Rejected {
                    code: ErrorCode::BadEmoji,
                    message: format!("\"{emoji}\" is not one emoji"),
                });
            }
            Draft::React { .. } | Draft::Delete { .. } => {}
        }
        if let Some(Target::Queued(id)) = draft.target().cloned() {
            match self.queued_target(&room, &id)? {
                QueuedTarget::Stored(seq) => draft.retarget(Target::Seq(seq)),
                QueuedTarget::Waiting(message)
                    if !taken(&id) && !self.maybe_stored.contains(&id) =>
                {
                    if let Some(done) = self.revise(message, &draft)? {
                        return Ok(done);
                    }
                }
                QueuedTarget::Waiting(_) => {}
            }
        }
        // JSON escaping can grow a body up to six times; the frame must fit the server's limit.
        let probe = Queued {
            id: MessageId::random(),
            room: room.to_string(),
            draft: draft.clone(),
            created_ms: 0,
        };
        let frame_len = probe
            .frame_for_size()
            .and_then(|f| serde_json::to_string(&f).ok())
            .map_or(usize::MAX, |s| s.len());
        if frame_len > limits::MAX_FRAME_BYTES {
            return Err(Error::Rejected {
                code: ErrorCode::BodyTooLong,
                message: "the message is too long once encoded".into(),
            });
        }
        let joined_now = !self.is_joined(&room);
        self.db.set_joined(room.as_str(), true)?;
        let queued = self.db.enqueue(room.as_str(), draft)?;
        Ok(Queuing::Added { queued, joined_now })
    }

    /// Where a change aimed at our message `id` must wait, or the seq it already has.
    fn queued_target(&self, room: &RoomName, id: &MessageId) -> Result<QueuedTarget> {
        let bad = || Error::Rejected {
            code: ErrorCode::BadTarget,
            message: "that message is neither queued nor stored".into(),
        };
        if let Some(q) = self.db.queued(id)? {
            return match q.draft {
                Draft::Message { .. } if q.room == room.as_str() => Ok(QueuedTarget::Waiting(q)),
                _ => Err(bad()),
            };
        }
        let seq = match self.stored.get(id) {
            Some((r, seq)) if r == room.as_str() => Some(*seq),
            _ => self.db.seq_of(room.as_str(), id.as_str())?,
        };
        seq.map(QueuedTarget::Stored).ok_or_else(bad)
    }

    /// An edit or deletion of `message`, which no connection has taken: applied to the outbox.
    /// `None` for a change that must be queued (a reaction waits for the message's seq).
    fn revise(&mut self, mut message: Queued, draft: &Draft) -> Result<Option<Queuing>> {
        Ok(match draft {
            Draft::Edit { body, .. } => {
                self.db.rewrite(&message.id, body)?;
                if let Draft::Message { body: old, .. } = &mut message.draft {
                    old.clone_from(body);
                }
                Some(Queuing::Rewritten(message))
            }
            Draft::Delete { .. } => {
                let orphans = self.db.withdraw(&message.id)?;
                Some(Queuing::Withdrawn { message, orphans })
            }
            _ => None,
        })
    }

    /// Remembers a join (kept across restarts) and, with `after`, where to resume the room from.
    pub(crate) fn join(&mut self, room_input: &str, after: Option<u64>) -> Result<RoomName> {
        let room = room(room_input)?;
        let name = room.as_str();
        match after {
            Some(a) => {
                self.db.set_fresh(name, false)?;
                self.db.set_last_seq(name, a)?;
            }
            // A room new to this client: its first join may start at the newest messages.
            None if !self.db.is_joined(name)? && self.db.last_seq(name)? == 0 => {
                self.db.set_fresh(name, true)?;
            }
            None => {}
        }
        self.db.set_joined(name, true)?;
        Ok(room)
    }

    pub(crate) fn leave(&mut self, room_input: &str) -> Result<RoomName> {
        let room = room(room_input)?;
        self.db.set_joined(room.as_str(), false)?;
        Ok(room)
    }

    pub(crate) fn is_joined(&self, room: &RoomName) -> bool {
        self.is_joined_name(room.as_str())
    }

    /// [`Self::is_joined`] for a name as the server sent it.
    pub(crate) fn is_joined_name(&self, room: &str) -> bool {
        self.db.is_joined(room).unwrap_or(false)
    }

    /// A page of history from the local cache, ascending (see [`HistoryAt`]).
    pub(crate) fn cached_history(
        &self,
        room: &RoomName,
        at: HistoryAt,
        limit: u32,
    ) -> Result<Vec<MessageData>> {
        let (room, limit) = (room.as_str(), history_limit(limit) as usize);
        match at {
            HistoryAt::Before(b) => self.db.history(room, b.unwrap_or(u64::MAX >> 1), limit),
            HistoryAt::After(a) => self.db.history_after(room, a, limit),
            HistoryAt::Around(seq) => {
                let mut page = self
                    .db
                    .history(room, seq.saturating_add(1), limit - limit / 2)?;
                page.extend(self.db.history_after(room, seq, limit / 2)?);
                Ok(page)
            }
        }
    }

    /// A search of what this device holds, by the server's rules (offline, or when the
    /// connection ended before the server answered).
    pub(crate) fn search_cache(&self, s: &search::Checked) -> Result<SearchResults> {
        let Ok(room) = s.room() else {
            return Ok(SearchResults::default()); // two rooms at once: nothing is in both
        };
        let (hits, more) = self.db.search(&CacheSearch {
            query: &s.query,
            room: room.as_deref(),
            after: s.cache_page(),
            limit: s.limit,
        })?;
        let next = more.then(|| hits.last().map(search::cache_next)).flatten();
        let hits = hits
            .into_iter()
            .map(|hit| Found {
                hit,
                source: SearchSource::Cache,
            })
            .collect();
        Ok(SearchResults { hits, more, next })
    }

    /// Everything in the outbox, oldest first; those in `sending` are on the open connection.
    pub(crate) fn outbox(&self, sending: impl Fn(&str) -> bool) -> Result<Vec<Outgoing>> {
        Ok(self
            .db
            .pending()?
            .iter()
            .map(|q| {
                let status = if sending(q.id.as_str()) {
                    OutgoingStatus::Sending
                } else {
                    OutgoingStatus::Queued
                };
                q.outgoing(status)
            })
            .collect())
    }

    pub(crate) fn rooms(&self) -> Result<Vec<JoinedRoom>> {
        Ok(self
            .db
            .joined_rooms()?
            .into_iter()
            .map(|(name, last_seq)| JoinedRoom {
                visibility: self.visibility(&name),
                name,
                last_seq,
            })
            .collect())
    }

    /// A read position given while offline: kept (the furthest per room) for the next
    /// connection.
    pub(crate) fn read_later(&mut self, room: &str, seq: u64) {
        let at = self.unsent_reads.entry(room.to_owned()).or_default();
        *at = (*at).max(seq);
    }

    /// The user is no longer in `room` (removed, parted): it is not joined again.
    pub(crate) fn forget(&mut self, room: &str) -> Result<()> {
        self.db.set_joined(room, false)
    }

    /// The server joined the user to `room` (created it, opened a dm), or the user is a member
    /// of it on another device and this one follows its rooms. A room new here may start at its
    /// newest messages, as a first join does.
    pub(crate) fn adopt(&mut self, room: &str, visibility: Visibility) -> Result<()> {
        self.db.set_visibility(room, visibility.as_str())?;
        if !self.db.is_joined(room)? && self.db.last_seq(room)? == 0 {
            self.db.set_fresh(room, true)?;
        }
        self.db.set_joined(room, true)
    }

    /// Whether rooms of the user's list are joined on this device too.
    pub(crate) fn follows_rooms(&self) -> bool {
        self.follow_rooms
    }

    pub(crate) fn set_visibility(&mut self, room: &str, visibility: Visibility) -> Result<()> {
        self.db.set_visibility(room, visibility.as_str())
    }

    /// What kind of room this is, if the server said.
    pub(crate) fn visibility(&self, room: &str) -> Option<Visibility> {
        self.db
            .visibility(room)
            .ok()
            .flatten()
            .and_then(|v| Visibility::parse(&v))
    }

    /// An edit, deletion or reaction arrived as entry `seq`: the cache shows it. `false` if
    /// it was seen before (then nothing changes).
    pub(crate) fn apply_change(
        &mut self,
        room: &str,
        seq: u64,
        change: Change<'_>,
    ) -> Result<bool> {
        self.db.apply_change(room, seq, change)
    }

    /// A membership entry of a room's stream arrived: `false` if seen before.
    pub(crate) fn record_entry(&mut self, room: &str, seq: u64) -> Result<bool> {
        self.db.advance(room, seq)
    }

    // --- What an open connection needs ---

    /// What a new connection sends first (see [`Resume`]). Offline read positions go out now.
    pub(crate) fn resume(&mut self) -> Result<Resume> {
        let mut plan = Resume::default();
        for frame in self.resume_frames()? {
            let ClientFrame::Join { room, .. } = &frame else {
                continue;
            };
            match self.visibility(room) {
                Some(Visibility::Private | Visibility::Dm) => {
                    plan.held.push((room.clone(), frame));
                }
                _ => plan.now.push(frame),
            }
        }
        plan.reads = std::mem::take(&mut self.unsent_reads)
            .into_iter()
            .map(|(room, seq)| ClientFrame::Read { room, seq })
            .collect();
        Ok(plan)
    }

    /// The `join` frame of every room to resume on a new connection, in name order.
    fn resume_frames(&self) -> Result<Vec<ClientFrame>> {
        self.db
            .rooms_to_resume()?
            .into_iter()
            .map(|(room, after)| self.join_frame_at(room, after))
            .collect()
    }

    /// The `join` frame for a room from its resume point.
    pub(crate) fn join_frame(&self, room: &RoomName) -> Result<ClientFrame> {
        let after = self.db.last_seq(room.as_str())?;
        self.join_frame_at(room.to_string(), after)
    }

    /// Only its newest messages when the owner asked for that and the room has never had a
    /// replay here, else everything after `after`.
    fn join_frame_at(&self, room: String, after: u64) -> Result<ClientFrame> {
        Ok(match self.first_join_latest {
            Some(latest) if self.db.is_fresh(&room)? => ClientFrame::Join {
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

    /// The outbox, oldest first, to write to a new connection.
    pub(crate) fn pending(&self) -> Result<Vec<Queued>> {
        self.db.pending()
    }

    /// A message arrived (live or replayed). `false`: seen before, not to be delivered again.
    pub(crate) fn record(&mut self, m: &MessageData) -> Result<bool> {
        self.db.record(m)
    }

    /// The server stored `id` as `seq` in `room`: it leaves the outbox, and changes aimed at it
    /// aim at `seq` now.
    pub(crate) fn settle(&mut self, id: &MessageId, room: &str, seq: u64) -> Result<()> {
        if self.stored.len() >= STORED_REMEMBERED {
            self.stored.clear();
        }
        self.stored.insert(id.clone(), (room.to_owned(), seq));
        self.maybe_stored.remove(id);
        self.db.settle(id, seq)
    }

    /// Queued message `id`'s files are uploaded. `false` if it is no longer queued.
    pub(crate) fn uploaded(&mut self, id: &MessageId, files: &[LocalFile]) -> Result<bool> {
        self.db.set_files(id, files)
    }

    /// The hashes of the staged files queued messages name.
    pub(crate) fn staged_in_use(&self) -> Result<std::collections::HashSet<String>> {
        self.db.staged_in_use()
    }

    /// The server refused `id` for good: it leaves the outbox, with the changes aimed at it,
    /// which are returned.
    pub(crate) fn refused(&mut self, id: &MessageId) -> Result<Vec<Queued>> {
        self.maybe_stored.remove(id);
        self.db.withdraw(id)
    }

    /// A room's replay is complete: from now on it resumes after what it holds, even if that
    /// is nothing (a room joined while empty must not skip what comes later).
    pub(crate) fn synced(&mut self, room: &str) -> Result<()> {
        self.db.set_fresh(room, false)
    }

    /// The server says where `room` ends. `Some(ours)` when our resume point was past it (the
    /// server's history was reset): we follow the server, and the caller tells the user.
    pub(crate) fn server_end(&mut self, room: &str, last_seq: u64) -> Result<Option<u64>> {
        let ours = self.db.last_seq(room)?;
        if ours <= last_seq {
            return Ok(None);
        }
        self.db.set_last_seq(room, last_seq)?;
        Ok(Some(ours))
    }

    /// Older messages from `history`, cached without moving the resume point.
    pub(crate) fn cache(&mut self, messages: &[MessageData]) -> Result<()> {
        self.db.cache(messages)
    }
}

/// A history page's size: at least one, at most what a server sends.
pub(crate) fn history_limit(limit: u32) -> u32 {
    limit.clamp(1, limits::HISTORY_MAX)
}
