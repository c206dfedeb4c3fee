//! Conversations: who may see a room, who is in it, and what each user has read.
//!
//! Membership changes are events in the room's seq stream ([`MemberEvent`]), so a device that
//! was away replays them in order with the messages, exactly once, like everything else.

use crate::MessageData;
use serde::{Deserialize, Serialize};

/// Who may see a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Anyone may join by name.
    Public,
    /// Members only; an owner or admin of the room invites.
    Private,
    /// A direct conversation between a fixed set of 2–9 users.
    Dm,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
            Self::Dm => "dm",
        }
    }

    /// The stored spelling back; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Self::Public),
            "private" => Some(Self::Private),
            "dm" => Some(Self::Dm),
            _ => None,
        }
    }
}

/// A member's role in one room. Ordered: `Member < Admin < Owner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    /// Invites, kicks members.
    Admin,
    /// Also sets roles.
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "member" => Some(Self::Member),
            "admin" => Some(Self::Admin),
            "owner" => Some(Self::Owner),
            _ => None,
        }
    }
}

/// What happened to a room's membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum MemberAction {
    /// `author` added `user`.
    Invited,
    /// `author` removed `user`.
    Kicked,
    /// `user` left the room on every device (`author` is `user`).
    Parted,
    /// `author` gave `user` the role `role`.
    Role,
}

impl MemberAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invited => "invited",
            Self::Kicked => "kicked",
            Self::Parted => "parted",
            Self::Role => "role",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "invited" => Some(Self::Invited),
            "kicked" => Some(Self::Kicked),
            "parted" => Some(Self::Parted),
            "role" => Some(Self::Role),
            _ => None,
        }
    }

    /// Whether `user` is no longer a member after it.
    pub fn removes(self) -> bool {
        matches!(self, Self::Kicked | Self::Parted)
    }
}

/// A membership change as it travels to clients (frame type `member`). It takes the room's next
/// seq like a message; clients that do not know the type skip it, and `synced.up_to` still
/// moves their resume point past it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MemberEvent {
    pub room: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seq: u64,
    /// Server-chosen id of the change.
    pub id: String,
    /// Who made the change.
    pub author: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub ts: u64,
    /// Whom it is about.
    pub user: String,
    pub action: MemberAction,
    /// With `role`: the role `user` has now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub role: Option<Role>,
}

/// One entry of a room's seq stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Message(MessageData),
    Member(MemberEvent),
    Edit(crate::changes::EditEvent),
    Delete(crate::changes::DeleteEvent),
    React(crate::changes::ReactEvent),
}

impl Event {
    pub fn room(&self) -> &str {
        match self {
            Self::Message(m) => &m.room,
            Self::Member(e) => &e.room,
            Self::Edit(e) => &e.room,
            Self::Delete(e) => &e.room,
            Self::React(e) => &e.room,
        }
    }

    pub fn seq(&self) -> u64 {
        match self {
            Self::Message(m) => m.seq,
            Self::Member(e) => e.seq,
            Self::Edit(e) => e.seq,
            Self::Delete(e) => e.seq,
            Self::React(e) => e.seq,
        }
    }

    /// The user this event takes out of the room, if it does.
    pub fn removes(&self) -> Option<&str> {
        match self {
            Self::Member(e) if e.action.removes() => Some(&e.user),
            _ => None,
        }
    }

    /// The frame that carries it.
    pub fn into_frame(self) -> crate::ServerFrame {
        match self {
            Self::Message(m) => crate::ServerFrame::Message(m),
            Self::Member(e) => crate::ServerFrame::Member(e),
            Self::Edit(e) => crate::ServerFrame::Edit(e),
            Self::Delete(e) => crate::ServerFrame::Delete(e),
            Self::React(e) => crate::ServerFrame::React(e),
        }
    }
}

/// One room in a user's room list (`rooms`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RoomSummary {
    pub room: String,
    pub visibility: Visibility,
    pub role: Role,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub last_seq: u64,
    /// The user's read position, the same on every device.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub read_seq: u64,
    /// Messages after `read_seq` written by others.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub unread: u64,
    /// How many of those mention the user.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub mentions: u64,
    /// For a dm: everyone in it, sorted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub users: Option<Vec<String>>,
}

/// One member of a room (`members`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MemberInfo {
    pub user: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub display_name: Option<String>,
}

/// Usernames mentioned as `@name` in `body`: `@` at the start or after a character that cannot
/// be part of a name, then a name; lower case, deduplicated, in order of appearance. The server
/// keeps only those that are members of the room.
pub fn mentioned(body: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let bytes = body.as_bytes();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    let mut i = 0;
    while let Some(at) = body[i..].find('@').map(|p| p + i) {
        let starts_word = at == 0 || !is_name(bytes[at - 1]);
        let end = bytes[at + 1..]
            .iter()
            .position(|&b| !is_name(b))
            .map_or(bytes.len(), |p| at + 1 + p);
        // A trailing dot ends a sentence, not a name: "thanks @bob."
        let name = body[at + 1..end].trim_end_matches('.');
        if starts_word && crate::limits::valid_username(name) {
            let lower = name.to_ascii_lowercase();
            if !found.contains(&lower) {
                found.push(lower);
            }
        }
        i = end.max(at + 1);
    }
    found
}

/// Most other users in one dm.
pub const MAX_DM_USERS: usize = 8;

/// Room names starting with this are direct conversations, named by the server.
pub const DM_PREFIX: &str = "dm.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_need_a_word_boundary_and_a_valid_name() {
        assert_eq!(mentioned("hi @Bob and @carol."), ["bob", "carol"]);
        assert_eq!(mentioned("mail bob@example.com"), Vec::<String>::new());
        assert_eq!(mentioned("@bob @BOB @bob"), ["bob"]);
        assert_eq!(mentioned("(@dave) @ @"), ["dave"]);
        assert_eq!(mentioned("@é"), Vec::<String>::new());
        assert_eq!(mentioned("@@bob"), ["bob"]);
    }
}
