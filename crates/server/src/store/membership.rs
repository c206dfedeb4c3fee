//! Rooms and their members, whatever the backend: what the storage interface takes and returns
//! for them, and the rules every backend applies in the same transaction as the change.

use confab_protocol::conversation::DM_PREFIX;
use confab_protocol::{Event, MemberAction, MemberEvent, Role, ServerFrame, Visibility};
use sha2::{Digest, Sha256};

/// A committed entry of a room's stream on its way to the fan-out, with what one user's
/// connections must hear besides (a room added to or removed from their list). Both go out
/// in commit order, the stream entry first.
#[derive(Debug, Clone)]
pub struct Committed {
    pub event: Event,
    pub notice: Option<Notice>,
}

impl From<Event> for Committed {
    fn from(event: Event) -> Self {
        Self {
            event,
            notice: None,
        }
    }
}

/// A frame for every connection of `user`, wherever it is connected.
#[derive(Debug, Clone)]
pub struct Notice {
    pub user: String,
    pub frame: ServerFrame,
}

/// What joining a room by name found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// The user is a member (a public room makes them one now).
    Member(Visibility),
    /// A private room or dm the user is not a member of.
    Forbidden,
}

/// What creating a room did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    Exists,
}

/// A change of one room's membership, asked for by `actor`.
#[derive(Debug, Clone)]
pub struct Change {
    pub room: String,
    pub actor: String,
    pub target: String,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Invite,
    Kick,
    Part,
    SetRole(Role),
}

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// Stored as the room's `seq`.
    Done {
        seq: u64,
    },
    /// Nothing to do: the user is a member already, or has that role.
    Unchanged,
    Refused(Refusal),
}

/// Why a change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such room, or one the actor may not see: the same answer, so names do not leak.
    Forbidden(&'static str),
    NoSuchUser,
    /// The target is not a member.
    NotMember,
}

/// What a change does once allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Add,
    Remove(MemberAction),
    SetRole(Role),
    Nothing,
}

/// The rules, given the room's visibility, the actor's role (`None`: not a member), whether the
/// actor is a server administrator, and the target's role. Server administrators may manage
/// every room but a dm.
pub(crate) fn decide(
    kind: ChangeKind,
    visibility: Visibility,
    actor: Option<Role>,
    server_admin: bool,
    target: Option<Role>,
    actor_is_target: bool,
) -> Result<Effect, Refusal> {
    use Refusal::{Forbidden, NotMember};
    if visibility == Visibility::Dm {
        return Err(Forbidden("the members of a dm never change"));
    }
    if actor.is_none()
        && !server_admin
        && (visibility != Visibility::Public || kind != ChangeKind::Part)
    {
        return Err(Forbidden("you are not a member of this room"));
    }
    // A server administrator counts as an owner.
    let power = if server_admin {
        Some(Role::Owner)
    } else {
        actor
    };
    let manages =
        power >= Some(Role::Admin) || (visibility == Visibility::Public && actor.is_some());
    match kind {
        ChangeKind::Part => match actor {
            Some(_) => Ok(Effect::Remove(MemberAction::Parted)),
            None => Err(NotMember),
        },
        ChangeKind::Invite if !manages => {
            Err(Forbidden("only an owner or admin of the room may invite"))
        }
        ChangeKind::Invite if target.is_some() => Ok(Effect::Nothing),
        ChangeKind::Invite => Ok(Effect::Add),
        _ if actor_is_target => Err(Forbidden("that is you: use part to leave")),
        ChangeKind::Kick if power < Some(Role::Admin) => Err(Forbidden(
            "only an owner or admin of the room may remove members",
        )),
        ChangeKind::Kick => match target {
            None => Err(NotMember),
            Some(t) if t > power.unwrap_or(Role::Member) => {
                Err(Forbidden("an admin cannot remove an owner"))
            }
            Some(_) => Ok(Effect::Remove(MemberAction::Kicked)),
        },
        ChangeKind::SetRole(_) if power < Some(Role::Owner) => {
            Err(Forbidden("only an owner of the room may set roles"))
        }
        ChangeKind::SetRole(role) => match target {
            None => Err(NotMember),
            Some(t) if t == role => Ok(Effect::Nothing),
            Some(_) => Ok(Effect::SetRole(role)),
        },
    }
}

/// The name of the dm between exactly these users: the same set gives the same name, in any
/// order and case. `users` must include the one asking.
pub fn dm_room(users: &[String]) -> String {
    let mut names: Vec<String> = users.iter().map(|u| u.to_ascii_lowercase()).collect();
    names.sort_unstable();
    names.dedup();
    let digest = Sha256::digest(names.join("\n").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{DM_PREFIX}{hex}")
}

/// What opening a dm found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DmOpened {
    /// Its room, whether it was created now, and everyone in it, sorted.
    Ready {
        created: bool,
        users: Vec<String>,
    },
    NoSuchUser(String),
}

/// The stored fields of a membership event (`messages.data`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct EventData {
    pub user: String,
    pub action: MemberAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

/// One stored row of a room's stream, as both backends read it.
pub(crate) struct StreamRow {
    pub seq: u64,
    pub id: String,
    pub author: String,
    pub body: String,
    pub ts: u64,
    pub kind: String,
    pub data: Option<String>,
    pub mentions: Option<String>,
    pub target: Option<u64>,
    pub reply_to: Option<u64>,
    pub edited_ms: Option<u64>,
    pub deleted: bool,
}

impl StreamRow {
    /// The event it holds. A row this version cannot read (written by a newer server) becomes
    /// a message without a body rather than a gap in the stream.
    pub(crate) fn into_event(self, room: &str) -> Event {
        use confab_protocol::{DeleteEvent, EditEvent, ReactEvent};
        let room_name = room.to_owned();
        match (self.kind.as_str(), self.target) {
            // An edit of a deleted message was blanked when it was deleted: no body.
            ("edit", Some(target)) => {
                return Event::Edit(EditEvent {
                    room: room_name,
                    seq: self.seq,
                    id: self.id,
                    author: self.author,
                    ts: self.ts,
                    target,
                    body: Some(self.body).filter(|b| !b.is_empty()),
                });
            }
            ("delete", Some(target)) => {
                return Event::Delete(DeleteEvent {
                    room: room_name,
                    seq: self.seq,
                    id: self.id,
                    author: self.author,
                    ts: self.ts,
                    target,
                });
            }
            ("react", Some(target)) => {
                if let Some(d) = self
                    .data
                    .as_deref()
                    .and_then(|d| serde_json::from_str::<crate::store::changes::ReactData>(d).ok())
                {
                    return Event::React(ReactEvent {
                        room: room_name,
                        seq: self.seq,
                        id: self.id,
                        author: self.author,
                        ts: self.ts,
                        target,
                        emoji: d.emoji,
                        on: d.on,
                    });
                }
            }
            _ => {}
        }
        if self.kind == "member"
            && let Some(d) = self
                .data
                .as_deref()
                .and_then(|d| serde_json::from_str::<EventData>(d).ok())
        {
            return Event::Member(confab_protocol::MemberEvent {
                room: room.to_owned(),
                seq: self.seq,
                id: self.id,
                author: self.author,
                ts: self.ts,
                user: d.user,
                action: d.action,
                role: d.role,
            });
        }
        Event::Message(confab_protocol::MessageData {
            room: room.to_owned(),
            seq: self.seq,
            id: self.id,
            author: self.author,
            body: if self.deleted {
                String::new()
            } else {
                self.body
            },
            ts: self.ts,
            mentions: split_mentions(self.mentions.as_deref()),
            reply_to: self.reply_to,
            edited_ts: self.edited_ms,
            deleted: self.deleted,
            reactions: Default::default(),
            attachments: if self.deleted || self.kind != "message" {
                Vec::new()
            } else {
                crate::store::files::from_data(self.data.as_deref())
            },
        })
    }
}

/// The stored form of a message's mentions.
pub(crate) fn join_mentions(names: &[String]) -> Option<String> {
    (!names.is_empty()).then(|| names.join(" "))
}

fn split_mentions(stored: Option<&str>) -> Vec<String> {
    stored
        .map(|s| {
            s.split(' ')
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The highest seq `viewer` may read in a room: everything of a public room, a member's whole
/// room, a former member's up to their removal, nothing for anyone else.
pub(crate) fn visible_up_to(visibility: Visibility, member: Option<Option<u64>>) -> u64 {
    match (visibility, member) {
        (Visibility::Public, _) | (_, Some(None)) => i64::MAX as u64,
        (_, Some(Some(removed))) => removed,
        (_, None) => 0,
    }
}

/// The frame the target of a change hears on every connection, if any.
fn notice_for(
    effect: Effect,
    room: &str,
    visibility: Visibility,
    change: &Change,
) -> Option<Notice> {
    let frame = match effect {
        Effect::Add => ServerFrame::RoomAdded {
            room: room.to_owned(),
            visibility,
            by: change.actor.clone(),
            users: None,
        },
        Effect::Remove(_) => ServerFrame::RoomRemoved {
            room: room.to_owned(),
            by: change.actor.clone(),
        },
        Effect::SetRole(_) | Effect::Nothing => return None,
    };
    Some(Notice {
        user: change.target.clone(),
        frame,
    })
}

/// A change about to be stored: its stream entry, the entry's stored `data`, and what its
/// target hears. Both backends store `data` and hand `committed` on after the commit.
pub(crate) struct Staged {
    pub entry: MemberEvent,
    pub data: String,
    pub committed: Committed,
}

impl Effect {
    /// The entry's action and role; `None` when there is nothing to store.
    pub(crate) fn action(self) -> Option<(MemberAction, Option<Role>)> {
        match self {
            Self::Nothing => None,
            Self::Add => Some((MemberAction::Invited, None)),
            Self::Remove(action) => Some((action, None)),
            Self::SetRole(role) => Some((MemberAction::Role, Some(role))),
        }
    }
}

/// The entry a change becomes at `seq`, between the canonical `actor` and `target`.
pub(crate) fn stage(
    change: &Change,
    effect: Effect,
    visibility: Visibility,
    seq: u64,
    (actor, target): (String, String),
) -> crate::Result<Staged> {
    let (action, role) = effect.action().unwrap_or((MemberAction::Role, None));
    let entry = MemberEvent {
        room: change.room.clone(),
        seq,
        id: event_id(),
        author: actor,
        ts: super::now_ms(),
        user: target,
        action,
        role,
    };
    let data = serde_json::to_string(&EventData {
        user: entry.user.clone(),
        action,
        role,
    })
    .map_err(|e| crate::Error::Commit(e.to_string()))?;
    let committed = Committed {
        event: Event::Member(entry.clone()),
        notice: notice_for(effect, &change.room, visibility, change),
    };
    Ok(Staged {
        entry,
        data,
        committed,
    })
}

/// A new server-side id for a membership event.
fn event_id() -> String {
    format!("m-{:016x}", rand::random::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChangeKind::*;
    use Role::*;
    use Visibility::*;

    #[test]
    fn private_rooms_are_managed_by_their_owners_and_admins() {
        let d = |kind, actor, target| decide(kind, Private, actor, false, target, false);
        assert_eq!(d(Invite, Some(Admin), None), Ok(Effect::Add));
        assert!(matches!(
            d(Invite, Some(Member), None),
            Err(Refusal::Forbidden(_))
        ));
        assert!(matches!(d(Invite, None, None), Err(Refusal::Forbidden(_))));
        assert_eq!(d(Invite, Some(Owner), Some(Member)), Ok(Effect::Nothing));
        assert_eq!(
            d(Kick, Some(Admin), Some(Member)),
            Ok(Effect::Remove(MemberAction::Kicked))
        );
        assert!(matches!(
            d(Kick, Some(Admin), Some(Owner)),
            Err(Refusal::Forbidden(_))
        ));
        assert_eq!(d(Kick, Some(Owner), None), Err(Refusal::NotMember));
        assert!(matches!(
            d(SetRole(Admin), Some(Admin), Some(Member)),
            Err(Refusal::Forbidden(_))
        ));
        assert_eq!(
            d(SetRole(Admin), Some(Owner), Some(Member)),
            Ok(Effect::SetRole(Admin))
        );
        assert_eq!(
            d(Part, Some(Member), None),
            Ok(Effect::Remove(MemberAction::Parted))
        );
        assert!(matches!(
            decide(Kick, Private, Some(Owner), false, Some(Owner), true),
            Err(Refusal::Forbidden(_))
        ));
    }

    #[test]
    fn server_admins_manage_rooms_but_nobody_changes_a_dm() {
        assert_eq!(
            decide(Invite, Private, None, true, None, false),
            Ok(Effect::Add)
        );
        assert_eq!(
            decide(Kick, Private, None, true, Some(Owner), false),
            Ok(Effect::Remove(MemberAction::Kicked))
        );
        for kind in [Invite, Kick, Part, SetRole(Admin)] {
            assert!(matches!(
                decide(kind, Dm, Some(Member), true, Some(Member), false),
                Err(Refusal::Forbidden(_))
            ));
        }
    }

    #[test]
    fn a_dm_is_named_by_its_set_of_users() {
        let a = dm_room(&["alice".into(), "Bob".into()]);
        let b = dm_room(&["bob".into(), "ALICE".into(), "alice".into()]);
        assert_eq!(a, b);
        assert_ne!(a, dm_room(&["alice".into(), "carol".into()]));
        assert!(confab_protocol::limits::valid_room(&a), "{a}");
    }
}
