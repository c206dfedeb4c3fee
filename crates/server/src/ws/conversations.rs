//! The frames that manage conversations: create, invite/kick/part/set_role, dm, the room list
//! and read positions.

use super::session::Session;
use crate::rooms::text;
use crate::store::membership::{Change, ChangeKind, Changed, Created, DmOpened, Refusal, dm_room};
use confab_protocol::conversation::{DM_PREFIX, MAX_DM_USERS};
use confab_protocol::{ErrorCode, ServerFrame, Visibility, limits};

impl Session {
    async fn refuse(&mut self, code: ErrorCode, message: impl Into<String>) {
        self.reply(&ServerFrame::error(code, message, None)).await;
    }

    /// The checks every frame naming a room to manage makes first.
    async fn managed_room(&mut self, room: &str) -> bool {
        if !limits::valid_room(room) {
            self.refuse(ErrorCode::BadRoom, "room names are 1-64 of a-z 0-9 _ - .")
                .await;
            return false;
        }
        true
    }

    pub(super) async fn create(&mut self, room: String, visibility: Visibility) {
        if !self.managed_room(&room).await {
            return;
        }
        if visibility == Visibility::Dm {
            return self
                .refuse(ErrorCode::BadFrame, "open a dm with the `dm` frame")
                .await;
        }
        if room.starts_with(DM_PREFIX) {
            let msg = format!("names starting with {DM_PREFIX} are for direct conversations");
            return self.refuse(ErrorCode::BadRoom, msg).await;
        }
        match self
            .state
            .store
            .create_room(&room, &self.user, visibility)
            .await
        {
            Ok(Created::Created) => self.join_member(room, 0, None).await,
            Ok(Created::Exists) => {
                let msg = format!("a room named {room} exists");
                self.refuse(ErrorCode::RoomExists, msg).await
            }
            Err(e) => self.storage_failed(&e, None).await,
        }
    }

    pub(super) async fn change(&mut self, room: String, user: String, kind: ChangeKind) {
        if !self.managed_room(&room).await {
            return;
        }
        if !limits::valid_username(&user) {
            return self.refuse(ErrorCode::NoSuchUser, "no such user").await;
        }
        let change = Change {
            room: room.clone(),
            actor: self.user.to_string(),
            target: user.clone(),
            kind,
        };
        let answer = match self.state.store.change(change).await {
            Ok(Changed::Done { .. } | Changed::Unchanged) => match kind {
                ChangeKind::Invite => ServerFrame::Invited { room, user },
                // Every connection of this user hears `room_removed`.
                ChangeKind::Part => return,
                ChangeKind::Kick | ChangeKind::SetRole(_) => ServerFrame::Changed { room, user },
            },
            Ok(Changed::Refused(Refusal::Forbidden(why))) => {
                ServerFrame::error(ErrorCode::Forbidden, why, None)
            }
            Ok(Changed::Refused(Refusal::NoSuchUser)) => {
                ServerFrame::error(ErrorCode::NoSuchUser, format!("no user {user}"), None)
            }
            Ok(Changed::Refused(Refusal::NotMember)) => ServerFrame::error(
                ErrorCode::NotMember,
                format!("{user} is not a member of {room}"),
                None,
            ),
            Err(e) => return self.storage_failed(&e, None).await,
        };
        self.reply(&answer).await;
    }

    pub(super) async fn dm(&mut self, users: Vec<String>) {
        let mut others: Vec<String> = users.iter().map(|u| u.to_ascii_lowercase()).collect();
        others.sort_unstable();
        others.dedup();
        others.retain(|u| !u.eq_ignore_ascii_case(&self.user));
        if others.is_empty() || others.len() > MAX_DM_USERS {
            let msg = format!("a dm has 1-{MAX_DM_USERS} other users");
            return self.refuse(ErrorCode::BadFrame, msg).await;
        }
        if let Some(bad) = others.iter().find(|u| !limits::valid_username(u)) {
            let msg = format!("no user {}", bad.chars().take(40).collect::<String>());
            return self.refuse(ErrorCode::NoSuchUser, msg).await;
        }
        let mut all = others.clone();
        all.push(self.user.to_string());
        let room = dm_room(&all);
        match self.state.store.open_dm(&room, all).await {
            Ok(DmOpened::Ready { created, users }) => {
                if created {
                    let added = text(&ServerFrame::RoomAdded {
                        room: room.clone(),
                        visibility: Visibility::Dm,
                        by: self.user.to_string(),
                        users: Some(users.clone()),
                    });
                    for other in users.iter().filter(|u| !u.eq_ignore_ascii_case(&self.user)) {
                        self.state.to_user(other, &added);
                    }
                }
                let answer = ServerFrame::Dm {
                    room: room.clone(),
                    users,
                };
                self.reply(&answer).await;
                self.join_member(room, 0, None).await;
            }
            Ok(DmOpened::NoSuchUser(name)) => {
                self.refuse(ErrorCode::NoSuchUser, format!("no user {name}"))
                    .await
            }
            Err(e) => self.storage_failed(&e, None).await,
        }
    }

    pub(super) async fn rooms(&mut self) {
        match self.state.store.rooms(&self.user).await {
            Ok(rooms) => self.reply(&ServerFrame::Rooms { rooms }).await,
            Err(e) => self.storage_failed(&e, None).await,
        }
    }

    pub(super) async fn members(&mut self, room: String) {
        if !self.managed_room(&room).await {
            return;
        }
        match self.state.store.members(&room, &self.user).await {
            Ok(Some(members)) => self.reply(&ServerFrame::Members { room, members }).await,
            Ok(None) => {
                self.refuse(ErrorCode::Forbidden, "you are not a member of this room")
                    .await
            }
            Err(e) => self.storage_failed(&e, None).await,
        }
    }

    pub(super) async fn read(&mut self, room: String, seq: u64) {
        if !self.managed_room(&room).await {
            return;
        }
        match self.state.store.set_read(&room, &self.user, seq).await {
            // Every device of the user, this connection included, moves its marker.
            Ok(Some(seq)) => {
                let frame = text(&ServerFrame::Read { room, seq });
                self.state.to_user(&self.user, &frame);
            }
            Ok(None) => {
                self.refuse(ErrorCode::Forbidden, "you are not a member of this room")
                    .await
            }
            Err(e) => self.storage_failed(&e, None).await,
        }
    }
}
