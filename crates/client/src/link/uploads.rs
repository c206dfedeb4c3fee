//! The open link's side of uploads: which queued message needs its files uploaded before it
//! can go out, what to do when they are up (or refused), and refusing work for good.

use super::{Ended, Link, Step};
use crate::core::Core;
use crate::error::Error;
use crate::event::Event;
use crate::files::Uploaded;
use crate::files::transfer::refused_for_good;
use crate::outbox::{Draft, Queued};
use confab_protocol::{ErrorCode, MessageId};

impl Link {
    /// The next message to go out, when it waits for its files to be uploaded.
    pub(crate) fn wants_upload(&self) -> Option<Queued> {
        if self.held.is_some() {
            return None;
        }
        self.unsent
            .front()
            .filter(|q| q.waits_for_upload())
            .cloned()
    }

    /// Whether a message with files was stored since the last look (then reset).
    pub(crate) fn take_settled_files(&mut self) -> bool {
        std::mem::take(&mut self.settled_files)
    }

    /// An upload ended: the message goes out with its file ids, or is refused for good.
    pub(crate) async fn uploaded(&mut self, core: &mut Core, done: Uploaded) -> Step {
        match done.result {
            Ok(files) => {
                core.uploaded(&done.id, &files).map_err(Ended::storage)?;
                if let Some(Draft::Message { files: ours, .. }) = self
                    .unsent
                    .iter_mut()
                    .find(|q| q.id == done.id)
                    .map(|q| &mut q.draft)
                {
                    *ours = files;
                }
                self.pump().await
            }
            Err(e) if refused_for_good(&e) => {
                let Some(at) = self.unsent.iter().position(|q| q.id == done.id) else {
                    return Ok(()); // taken back meanwhile
                };
                let room = self.unsent.remove(at).map(|q| q.room).unwrap_or_default();
                let (code, message) = match e {
                    Error::Api { code, message, .. } | Error::Rejected { code, message } => {
                        (code, message)
                    }
                    other => (ErrorCode::BadAttachment, other.to_string()),
                };
                self.refuse(core, done.id, room, code, message).await
            }
            // Signed out (or the keyring failed): what every connection does then.
            Err(e) => Err(Ended::from(e)),
        }
    }

    /// Work of ours the server (or its file store) refused for good: it leaves the outbox,
    /// with every change aimed at it, and the owner hears why.
    pub(super) async fn refuse(
        &mut self,
        core: &mut Core,
        id: MessageId,
        room: String,
        code: ErrorCode,
        message: String,
    ) -> Step {
        let orphans = core.refused(&id).map_err(Ended::storage)?;
        self.withdraw(&orphans.iter().collect::<Vec<_>>());
        let failed = Event::SendFailed {
            id,
            room,
            code,
            message,
        };
        self.events.emit(failed).await?;
        for q in orphans {
            let failed = Event::SendFailed {
                id: q.id,
                room: q.room,
                code: ErrorCode::BadTarget,
                message: "the message it was aimed at was refused".into(),
            };
            self.events.emit(failed).await?;
        }
        self.pump().await
    }
}
