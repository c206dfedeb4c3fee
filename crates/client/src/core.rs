//! The client core: the one owner of the local database, of what input is valid, of which rooms
//! are joined and where each resumes, and of the outbox. Synchronous and socket-free: the
//! connection actor ([`crate::actor`]) calls it the same way whether a connection is open or
//! not, and the open connection ([`crate::link`]) asks it what to send and tells it what came.

use crate::db::{Database, Queued};
use crate::event::{Outgoing, OutgoingStatus};
use crate::{Error, Result};
use confab_protocol::{Body, ClientFrame, ErrorCode, MessageData, MessageId, RoomName, limits};

/// A joined room, as the owner lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedRoom {
    pub name: String,
    /// The newest message received in it.
    pub last_seq: u64,
}

#[derive(Debug)]
pub(crate) struct Core {
    db: Database,
    /// The longest body the server accepts (from `ready`; the protocol default until then).
    max_body: usize,
    /// See `ClientConfig::first_join_latest`.
    first_join_latest: Option<u32>,
}

/// A room name the user gave, checked.
pub(crate) fn room(input: &str) -> Result<RoomName> {
    RoomName::from_input(input).map_err(|code| Error::rejected(code, input))
}

impl Core {
    pub(crate) fn new(db: Database, first_join_latest: Option<u32>) -> Self {
        Self {
            db,
            max_body: limits::MAX_BODY_BYTES,
            first_join_latest,
        }
    }

    /// The server's limit, from its `ready`.
    pub(crate) fn set_max_body(&mut self, max: usize) {
        self.max_body = max;
    }

    /// Checks a new message and writes it to the outbox, joining its room for good. Anything
    /// the server would refuse for good is refused here, before it is queued: a queued message
    /// that can never be delivered would hold up every message behind it.
    /// Also says whether the room was joined just now (its `join` is then still to be sent).
    pub(crate) fn queue(&mut self, room_input: &str, text: &str) -> Result<(Queued, bool)> {
        let room = room(room_input)?;
        let body = Body::within(text, self.max_body).map_err(|code| Error::rejected(code, text))?;
        // JSON escaping can grow a body up to six times; the frame must fit the server's limit.
        let probe = ClientFrame::Send {
            id: "0".repeat(36),
            room: room.to_string(),
            body: body.as_str().to_owned(),
        };
        let frame_len = serde_json::to_string(&probe).map_or(usize::MAX, |s| s.len());
        if frame_len > limits::MAX_FRAME_BYTES {
            return Err(Error::Rejected {
                code: ErrorCode::BodyTooLong,
                message: "the message is too long once encoded".into(),
            });
        }
        let joined_now = !self.is_joined(&room);
        self.db.set_joined(room.as_str(), true)?;
        Ok((self.db.enqueue(room.as_str(), body.as_str())?, joined_now))
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
        self.db.is_joined(room.as_str()).unwrap_or(false)
    }

    /// A page of history from the local cache: messages before `before` (newest when `None`),
    /// ascending.
    pub(crate) fn cached_history(
        &self,
        room: &RoomName,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<MessageData>> {
        self.db.history(
            room.as_str(),
            before.unwrap_or(u64::MAX >> 1),
            history_limit(limit) as usize,
        )
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
            .map(|(name, last_seq)| JoinedRoom { name, last_seq })
            .collect())
    }

    // --- What an open connection needs ---

    /// The `join` frame of every room to resume on a new connection, in name order.
    pub(crate) fn resume_frames(&self) -> Result<Vec<ClientFrame>> {
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

    /// The server stored (or refused for good) message `id`: it leaves the outbox.
    pub(crate) fn settle(&mut self, id: &MessageId) -> Result<()> {
        self.db.remove(id).map(drop)
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
