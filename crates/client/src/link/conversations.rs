//! The frames about rooms and members on an open connection: requests written for the owner,
//! and what the server says back or on its own (a room added or removed, a read position).

use super::{Ended, Link, Step};
use crate::core::{Change, Core};
use crate::event::Event;
use confab_protocol::{ClientFrame, ServerFrame, Visibility};
use std::collections::HashSet;

impl Link {
    /// Writes a conversation request for the owner.
    pub(crate) async fn conversation(&mut self, core: &mut Core, frame: ClientFrame) -> Step {
        if let ClientFrame::Create { room, visibility } = &frame {
            core.set_visibility(room, *visibility)
                .map_err(Ended::storage)?;
            self.creating.insert(room.clone());
        }
        self.pace().await;
        self.write(&frame).await
    }

    /// The room list came: the held joins of rooms still listed go out now, the others are
    /// forgotten (the user was removed while away); then the outbox flows. `None`: a server
    /// without room lists, which gets every join.
    pub(super) async fn release_held(
        &mut self,
        core: &mut Core,
        listed: Option<&HashSet<&str>>,
    ) -> Step {
        let Some(held) = self.held.take() else {
            return Ok(());
        };
        for (room, frame) in held {
            if listed.is_none_or(|l| l.contains(room.as_str())) {
                self.pace().await;
                self.write(&frame).await?;
            } else {
                core.forget(&room).map_err(Ended::storage)?;
                let gone = Event::RoomRemoved { room, by: None };
                self.events.emit(gone).await?;
            }
        }
        self.pump().await
    }

    /// The user's own removal from a room, however it was heard: it is no longer joined.
    async fn removed(&mut self, core: &mut Core, room: String, by: Option<String>) -> Step {
        if core.forget(&room).is_ok() {
            self.events.emit(Event::RoomRemoved { room, by }).await?;
        }
        Ok(())
    }

    /// An edit, deletion or reaction: its seq is recorded (emitted once), and the cache takes
    /// an edit's body and a reaction, and forgets a deleted message.
    async fn message_changed(&mut self, core: &mut Core, event: Event) -> Step {
        let (room, seq, change) = match &event {
            Event::Edit(e) => (
                &e.room,
                e.seq,
                Change::Edit {
                    target: e.target,
                    body: e.body.as_deref(),
                    ts: e.ts,
                },
            ),
            Event::Delete(e) => (&e.room, e.seq, Change::Delete { target: e.target }),
            Event::React(e) => (
                &e.room,
                e.seq,
                Change::React {
                    target: e.target,
                    user: &e.author,
                    emoji: &e.emoji,
                    on: e.on,
                },
            ),
            _ => return Ok(()),
        };
        if !core
            .apply_change(room, seq, change)
            .map_err(Ended::storage)?
        {
            return Ok(());
        }
        self.events.emit(event).await?;
        Ok(())
    }

    pub(super) async fn on_conversation(&mut self, core: &mut Core, frame: ServerFrame) -> Step {
        match frame {
            ServerFrame::Member(e) => {
                if !core.record_entry(&e.room, e.seq).map_err(Ended::storage)? {
                    return Ok(());
                }
                let me = e.action.removes() && e.user.eq_ignore_ascii_case(&self.me);
                let (room, by) = (e.room.clone(), e.author.clone());
                self.events.emit(Event::Member(e)).await?;
                if me {
                    self.removed(core, room, Some(by)).await?;
                }
            }
            // Also heard as the stream's entry when the room was joined: said once.
            // Changes to messages: once each, like messages, and folded into the cache.
            ServerFrame::Edit(e) => return self.message_changed(core, Event::Edit(e)).await,
            ServerFrame::Delete(e) => return self.message_changed(core, Event::Delete(e)).await,
            ServerFrame::React(e) => return self.message_changed(core, Event::React(e)).await,
            ServerFrame::RoomRemoved { room, by } if core.is_joined_name(&room) => {
                self.removed(core, room, Some(by)).await?;
            }
            ServerFrame::RoomAdded {
                room,
                visibility,
                by,
                users,
            } => {
                if core.follows_rooms() && !core.is_joined_name(&room) {
                    core.adopt(&room, visibility).map_err(Ended::storage)?;
                    if let Ok(name) = confab_protocol::RoomName::parse(&room) {
                        self.join(core, &name).await?;
                    }
                } else {
                    core.set_visibility(&room, visibility)
                        .map_err(Ended::storage)?;
                }
                let added = Event::RoomAdded {
                    room,
                    visibility,
                    by,
                    users,
                };
                self.events.emit(added).await?;
            }
            ServerFrame::Dm { room, users } => {
                core.adopt(&room, Visibility::Dm).map_err(Ended::storage)?;
                self.events.emit(Event::Dm { room, users }).await?;
            }
            ServerFrame::Rooms { rooms } => {
                let mut new = Vec::new();
                for r in &rooms {
                    core.set_visibility(&r.room, r.visibility)
                        .map_err(Ended::storage)?;
                    if core.follows_rooms() && !core.is_joined_name(&r.room) {
                        new.push(r);
                    }
                }
                if self.held.is_some() {
                    let listed: HashSet<&str> = rooms.iter().map(|r| r.room.as_str()).collect();
                    self.release_held(core, Some(&listed)).await?;
                }
                // Rooms the user is in on another device (joined, invited, a dm opened while
                // this one was away): joined here too.
                for r in new {
                    core.adopt(&r.room, r.visibility).map_err(Ended::storage)?;
                    if let Ok(name) = confab_protocol::RoomName::parse(&r.room) {
                        self.join(core, &name).await?;
                    }
                }
                self.events.emit(Event::Rooms { rooms }).await?;
            }
            ServerFrame::Read { room, seq } => {
                self.events.emit(Event::Read { room, seq }).await?;
            }
            ServerFrame::Members { room, members } => {
                self.events.emit(Event::Members { room, members }).await?;
            }
            ServerFrame::Invited { room, user } => {
                self.events.emit(Event::Invited { room, user }).await?;
            }
            ServerFrame::Changed { room, user } => {
                self.events.emit(Event::Changed { room, user }).await?;
            }
            _ => {}
        }
        Ok(())
    }
}
