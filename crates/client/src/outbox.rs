//! What waits in the outbox: new messages and changes to messages (edits, deletions,
//! reactions), in one queue so they reach the server in the order the user made them.
//!
//! A change may aim at a message that is itself still queued ([`Target::Queued`]): it goes out
//! only once that message's ack gave it a seq. An edit or deletion of a queued message that no
//! connection has taken yet never reaches the server at all: it rewrites the outbox instead.

use crate::files::LocalFile;
use confab_protocol::{ClientFrame, MessageId};
use serde::{Deserialize, Serialize};

/// The message a change is aimed at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// A stored message, by its seq in the room.
    Seq(#[cfg_attr(feature = "ts", ts(type = "number"))] u64),
    /// One of our messages still in the outbox, by its id.
    Queued(#[cfg_attr(feature = "ts", ts(type = "string"))] MessageId),
}

/// One piece of outgoing work, as the owner asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Draft {
    Message {
        body: String,
        /// The seq of the message this one answers, in the same room.
        #[cfg_attr(feature = "ts", ts(type = "number | null"))]
        reply_to: Option<u64>,
        /// Files it carries (staged on this disk; see `files`). The body may then be empty.
        #[serde(default)]
        files: Vec<LocalFile>,
    },
    Edit {
        target: Target,
        body: String,
    },
    Delete {
        target: Target,
    },
    React {
        target: Target,
        emoji: String,
        on: bool,
    },
}

impl Draft {
    pub(crate) fn target(&self) -> Option<&Target> {
        match self {
            Self::Message { .. } => None,
            Self::Edit { target, .. } | Self::Delete { target } | Self::React { target, .. } => {
                Some(target)
            }
        }
    }

    fn target_mut(&mut self) -> Option<&mut Target> {
        match self {
            Self::Message { .. } => None,
            Self::Edit { target, .. } | Self::Delete { target } | Self::React { target, .. } => {
                Some(target)
            }
        }
    }

    /// Aims the change elsewhere (at the seq its queued target was stored as).
    pub(crate) fn retarget(&mut self, to: Target) {
        if let Some(target) = self.target_mut() {
            *target = to;
        }
    }

    /// The text this draft carries (what the outbox's byte limit counts).
    pub(crate) fn text(&self) -> &str {
        match self {
            Self::Message { body, .. } | Self::Edit { body, .. } => body,
            Self::React { emoji, .. } => emoji,
            Self::Delete { .. } => "",
        }
    }

    /// The name stored in the outbox's `kind` column.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Message { .. } => "message",
            Self::Edit { .. } => "edit",
            Self::Delete { .. } => "delete",
            Self::React { .. } => "react",
        }
    }
}

/// Work of ours in the outbox (a message, or a change to one), as the user should see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Outgoing {
    /// The client-generated id: the idempotency key, and `id` of its `sent`.
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub id: MessageId,
    pub room: String,
    /// What it is: `kind` and its fields.
    #[serde(flatten)]
    #[cfg_attr(feature = "ts", ts(flatten))]
    pub draft: Draft,
    pub status: OutgoingStatus,
    /// When it was written, Unix milliseconds.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub created_ms: u64,
}

/// Where a message of the outbox is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum OutgoingStatus {
    /// On disk, waiting for a connection.
    Queued,
    /// Written to the open connection, waiting for the server's ack.
    Sending,
}

/// An entry of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Queued {
    pub(crate) id: MessageId,
    pub(crate) room: String,
    pub(crate) draft: Draft,
    pub(crate) created_ms: u64,
}

impl Queued {
    /// How the owner sees it.
    pub(crate) fn outgoing(&self, status: OutgoingStatus) -> Outgoing {
        Outgoing {
            id: self.id.clone(),
            room: self.room.clone(),
            draft: self.draft.clone(),
            status,
            created_ms: self.created_ms,
        }
    }

    /// Whether it has files still to upload (it goes out once they are up).
    pub(crate) fn waits_for_upload(&self) -> bool {
        matches!(&self.draft, Draft::Message { files, .. } if files.iter().any(|f| f.file_id.is_none()))
    }

    /// Whether it must wait for the ack of the message it is aimed at.
    pub(crate) fn waits_for_target(&self) -> bool {
        matches!(self.draft.target(), Some(Target::Queued(_)))
    }

    /// Message `id` was stored as `seq`: a change aimed at it now aims at the seq.
    pub(crate) fn resolve(&mut self, id: &MessageId, seq: u64) {
        if let Some(target) = self.draft.target_mut()
            && matches!(target, Target::Queued(t) if t == id)
        {
            *target = Target::Seq(seq);
        }
    }

    /// A frame as long as the one that will carry it (a waiting target counted at the widest
    /// seq, a file not uploaded yet at a file id's length), to check the size limit before
    /// queuing.
    pub(crate) fn frame_for_size(&self) -> Option<ClientFrame> {
        let mut widest = self.clone();
        if widest.waits_for_target() {
            widest.draft.retarget(Target::Seq((1 << 53) - 1));
        }
        if let Draft::Message { files, .. } = &mut widest.draft {
            for f in files.iter_mut().filter(|f| f.file_id.is_none()) {
                f.file_id = Some("0".repeat(32));
            }
        }
        widest.frame()
    }

    /// The frame that carries it; `None` while its target has no seq yet.
    pub(crate) fn frame(&self) -> Option<ClientFrame> {
        let (id, room) = (self.id.to_string(), self.room.clone());
        let seq = |t: &Target| match t {
            Target::Seq(s) => Some(*s),
            Target::Queued(_) => None,
        };
        Some(match &self.draft {
            Draft::Message {
                body,
                reply_to,
                files,
            } => ClientFrame::Send {
                id,
                room,
                body: body.clone(),
                reply_to: *reply_to,
                attachments: files
                    .iter()
                    .map(LocalFile::attachment)
                    .collect::<Option<_>>()?,
            },
            Draft::Edit { target, body } => ClientFrame::Edit {
                id,
                room,
                target: seq(target)?,
                body: body.clone(),
            },
            Draft::Delete { target } => ClientFrame::Delete {
                id,
                room,
                target: seq(target)?,
            },
            Draft::React { target, emoji, on } => ClientFrame::React {
                id,
                room,
                target: seq(target)?,
                emoji: emoji.clone(),
                on: *on,
            },
        })
    }
}
