//! Requests about conversations (create, invite, kick, part, roles, dms, read positions): the
//! names the owner typed, checked into the frame that carries them.

use super::{Core, room};
use crate::{Error, Result};
use confab_protocol::{ClientFrame, ErrorCode, Role, Visibility, limits};

/// A request about conversations, as the owner gives it (names as typed).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Conversation {
    Create {
        room: String,
        private: bool,
    },
    Invite {
        room: String,
        user: String,
    },
    Kick {
        room: String,
        user: String,
    },
    Part {
        room: String,
    },
    SetRole {
        room: String,
        user: String,
        role: Role,
    },
    Dm {
        users: Vec<String>,
    },
    /// The server's list of the user's rooms, with read state.
    Rooms,
    /// Who is in a room, with their roles.
    Members {
        room: String,
    },
    Read {
        room: String,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        seq: u64,
    },
}

fn user(input: &str) -> Result<String> {
    let name = input.trim().trim_start_matches('@');
    if limits::valid_username(name) {
        Ok(name.to_owned())
    } else {
        Err(Error::Rejected {
            code: ErrorCode::NoSuchUser,
            message: format!("\"{input}\" is not a username"),
        })
    }
}

impl Core {
    /// The frame for a conversation request, its names checked.
    pub(crate) fn conversation_frame(&self, request: Conversation) -> Result<ClientFrame> {
        Ok(match request {
            // A room this client is in exists: said here, or the resumed room's own replay
            // would be taken for the new room's.
            Conversation::Create { room: r, .. } if self.is_joined(&room(&r)?) => {
                return Err(Error::Rejected {
                    code: ErrorCode::RoomExists,
                    message: format!("a room named {} exists", room(&r)?),
                });
            }
            Conversation::Create { room: r, private } => ClientFrame::Create {
                room: room(&r)?.into(),
                visibility: if private {
                    Visibility::Private
                } else {
                    Visibility::Public
                },
            },
            Conversation::Invite { room: r, user: u } => ClientFrame::Invite {
                room: room(&r)?.into(),
                user: user(&u)?,
            },
            Conversation::Kick { room: r, user: u } => ClientFrame::Kick {
                room: room(&r)?.into(),
                user: user(&u)?,
            },
            Conversation::Part { room: r } => ClientFrame::Part {
                room: room(&r)?.into(),
            },
            Conversation::SetRole {
                room: r,
                user: u,
                role,
            } => ClientFrame::SetRole {
                room: room(&r)?.into(),
                user: user(&u)?,
                role,
            },
            Conversation::Dm { users } => ClientFrame::Dm {
                users: users.iter().map(|u| user(u)).collect::<Result<_>>()?,
            },
            Conversation::Rooms => ClientFrame::Rooms,
            Conversation::Members { room: r } => ClientFrame::Members {
                room: room(&r)?.into(),
            },
            Conversation::Read { room: r, seq } => ClientFrame::Read {
                room: room(&r)?.into(),
                seq,
            },
        })
    }
}
