//! Rooms and members on SQLite: visibility, membership changes as stream events, dms, read
//! positions and the room list. Writes run as writer jobs, so each is atomic with its event.

use crate::Result;
use crate::store::membership::{
    Change, Changed, Committed, Created, DmOpened, Effect, Entry, Refusal, decide, stage,
    visible_up_to,
};
use confab_protocol::{MemberInfo, Role, RoomSummary, Visibility};
use rusqlite::{Connection, OptionalExtension, params};

/// A room row.
pub(super) struct RoomRow {
    pub id: i64,
    pub visibility: Visibility,
}

pub(super) fn room(c: &Connection, name: &str) -> Result<Option<RoomRow>> {
    Ok(
        c.prepare_cached("SELECT id, visibility FROM rooms WHERE name = ?1")?
            .query_row([name], |r| {
                let v: String = r.get(1)?;
                Ok(RoomRow {
                    id: r.get(0)?,
                    visibility: Visibility::parse(&v).unwrap_or(Visibility::Private),
                })
            })
            .optional()?,
    )
}

/// A user's membership row: `(user id, role, removed_seq)`.
fn membership(
    c: &Connection,
    room_id: i64,
    user: &str,
) -> Result<Option<(i64, Role, Option<u64>)>> {
    Ok(c.prepare_cached(
        "SELECT u.id, mb.role, mb.removed_seq FROM users u
             JOIN members mb ON mb.user_id = u.id AND mb.room_id = ?1 WHERE u.username = ?2",
    )?
    .query_row(params![room_id, user], |r| {
        let role: String = r.get(1)?;
        Ok((
            r.get(0)?,
            Role::parse(&role).unwrap_or(Role::Member),
            r.get(2)?,
        ))
    })
    .optional()?)
}

/// The role of an active member.
fn active_role(c: &Connection, room_id: i64, user: &str) -> Result<Option<Role>> {
    Ok(membership(c, room_id, user)?
        .and_then(|(_, role, removed)| removed.is_none().then_some(role)))
}

/// `(id, canonical name, server admin)` of a user, in any case.
fn user(c: &Connection, name: &str) -> Result<Option<(i64, String, bool)>> {
    Ok(
        c.prepare_cached("SELECT id, username, admin FROM users WHERE username = ?1")?
            .query_row([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?,
    )
}

/// Whether `user` may read a room, and up to which seq: `(room id, last visible seq)`.
pub(super) fn visible(c: &Connection, room: &str, user: &str) -> Result<Option<(i64, u64)>> {
    let Some(r) = self::room(c, room)? else {
        return Ok(None);
    };
    let member = membership(c, r.id, user)?.map(|(_, _, removed)| removed);
    Ok(Some((r.id, visible_up_to(r.visibility, member))))
}

/// Joining by name, as far as a read can tell: `None` when a write must make the user a
/// member of a public room (or create it).
pub(super) fn entry(c: &Connection, room: &str, user: &str) -> Result<Option<Entry>> {
    let Some(r) = self::room(c, room)? else {
        return Ok(None);
    };
    match (r.visibility, active_role(c, r.id, user)?) {
        (v, Some(_)) => Ok(Some(Entry::Member(v))),
        (Visibility::Public, None) => Ok(None),
        (_, None) => Ok(Some(Entry::Forbidden)),
    }
}

/// Makes `user` a member of the public room `room`, creating it if needed.
pub(super) fn enter(c: &Connection, room: &str, user: &str) -> Result<Entry> {
    c.prepare_cached("INSERT INTO rooms (name) VALUES (?1) ON CONFLICT(name) DO NOTHING")?
        .execute([room])?;
    if let Some(entry) = entry(c, room, user)? {
        return Ok(entry);
    }
    c.prepare_cached(
        "INSERT INTO members (room_id, user_id, role)
         SELECT r.id, u.id, 'member' FROM rooms r, users u WHERE r.name = ?1 AND u.username = ?2
         ON CONFLICT(room_id, user_id) DO UPDATE SET removed_seq = NULL, role = 'member'",
    )?
    .execute(params![room, user])?;
    Ok(Entry::Member(Visibility::Public))
}

/// Creates a room with `owner` as its owner.
pub(super) fn create(
    c: &Connection,
    room: &str,
    owner: &str,
    visibility: Visibility,
) -> Result<Created> {
    let inserted = c
        .prepare_cached(
            "INSERT INTO rooms (name, visibility) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
        )?
        .execute(params![room, visibility.as_str()])?;
    if inserted == 0 {
        return Ok(Created::Exists);
    }
    c.prepare_cached(
        "INSERT INTO members (room_id, user_id, role)
         SELECT r.id, u.id, 'owner' FROM rooms r, users u WHERE r.name = ?1 AND u.username = ?2",
    )?
    .execute(params![room, owner])?;
    Ok(Created::Created)
}

/// Opens (creating if needed) the dm `room` between `users`, who must all exist.
pub(super) fn dm(c: &Connection, room: &str, users: &[String]) -> Result<DmOpened> {
    let mut found = Vec::with_capacity(users.len());
    for name in users {
        match user(c, name)? {
            Some((id, canonical, _)) => found.push((id, canonical)),
            None => return Ok(DmOpened::NoSuchUser(name.clone())),
        }
    }
    let created = c
        .prepare_cached(
            "INSERT INTO rooms (name, visibility) VALUES (?1, 'dm') ON CONFLICT(name) DO NOTHING",
        )?
        .execute([room])?
        == 1;
    if created {
        for (id, _) in &found {
            c.prepare_cached(
                "INSERT INTO members (room_id, user_id) SELECT id, ?2 FROM rooms WHERE name = ?1",
            )?
            .execute(params![room, id])?;
        }
    }
    let mut names: Vec<String> = found.into_iter().map(|(_, n)| n).collect();
    names.sort_by_key(|n| n.to_ascii_lowercase());
    Ok(DmOpened::Ready {
        created,
        users: names,
    })
}

/// Applies a membership change with its event, if the rules allow it.
pub(super) fn change(c: &Connection, change: &Change) -> Result<(Changed, Option<Committed>)> {
    let refused = |r| Ok((Changed::Refused(r), None));
    let Some(room) = self::room(c, &change.room)? else {
        return refused(Refusal::Forbidden("no such room"));
    };
    let Some((_, actor, server_admin)) = user(c, &change.actor)? else {
        return refused(Refusal::NoSuchUser);
    };
    let Some((target_id, target, _)) = user(c, &change.target)? else {
        return refused(Refusal::NoSuchUser);
    };
    let effect = match decide(
        change.kind,
        room.visibility,
        active_role(c, room.id, &actor)?,
        server_admin,
        active_role(c, room.id, &target)?,
        actor.eq_ignore_ascii_case(&target),
    ) {
        Ok(effect) => effect,
        Err(r) => return refused(r),
    };
    if effect.action().is_none() {
        return Ok((Changed::Unchanged, None));
    }
    let seq: u64 = c
        .prepare_cached(
            "UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq",
        )?
        .query_row([room.id], |r| r.get(0))?;
    match effect {
        Effect::Add => c.prepare_cached(
            "INSERT INTO members (room_id, user_id) VALUES (?1, ?2)
             ON CONFLICT(room_id, user_id) DO UPDATE SET removed_seq = NULL, role = 'member'",
        )?
        .execute(params![room.id, target_id])?,
        Effect::Remove(_) => c
            .prepare_cached(
                "UPDATE members SET removed_seq = ?3, role = 'member' WHERE room_id = ?1 AND user_id = ?2",
            )?
            .execute(params![room.id, target_id, seq])?,
        Effect::SetRole(role) => c
            .prepare_cached("UPDATE members SET role = ?3 WHERE room_id = ?1 AND user_id = ?2")?
            .execute(params![room.id, target_id, role.as_str()])?,
        Effect::Nothing => 0,
    };
    let staged = stage(change, effect, room.visibility, seq, (actor, target))?;
    let e = &staged.entry;
    c.prepare_cached(
        "INSERT INTO messages (room_id, seq, client_id, author, body, ts_ms, kind, data)
         VALUES (?1, ?2, ?3, ?4, '', ?5, 'member', ?6)",
    )?
    .execute(params![room.id, seq, e.id, e.author, e.ts, staged.data])?;
    Ok((Changed::Done { seq }, Some(staged.committed)))
}

/// Moves `user`'s read position in `room` forward to `seq` (at most the room's last seq);
/// the position now, or `None` if the user is not a member.
pub(super) fn set_read(c: &Connection, room: &str, user: &str, seq: u64) -> Result<Option<u64>> {
    Ok(c.prepare_cached(
        "UPDATE members SET read_seq = max(read_seq, min(?3, r.last_seq))
             FROM rooms r, users u
             WHERE members.room_id = r.id AND members.user_id = u.id AND r.name = ?1
               AND u.username = ?2 AND members.removed_seq IS NULL
             RETURNING members.read_seq",
    )?
    .query_row(params![room, user, seq], |r| r.get(0))
    .optional()?)
}

/// The rooms `user` is a member of, by name, with read state: one statement, as on Postgres
/// (the counts are correlated subqueries over the primary keys), since every connection asks.
pub(super) fn list(c: &Connection, user: &str) -> Result<Vec<RoomSummary>> {
    let Some((user_id, canonical, _)) = self::user(c, user)? else {
        return Ok(Vec::new());
    };
    let mut stmt = c.prepare_cached(
        "SELECT r.name, r.visibility, mb.role, r.last_seq, mb.read_seq,
            (SELECT count(*) FROM messages m WHERE m.room_id = r.id AND m.seq > mb.read_seq
               AND m.kind = 'message' AND m.author != ?2),
            (SELECT count(*) FROM mentions x WHERE x.user_id = ?1 AND x.room_id = r.id
               AND x.seq > mb.read_seq),
            CASE WHEN r.visibility = 'dm' THEN (
                SELECT group_concat(name, char(10)) FROM (
                    SELECT u.username AS name FROM members o JOIN users u ON u.id = o.user_id
                    WHERE o.room_id = r.id ORDER BY lower(u.username))) END
         FROM members mb JOIN rooms r ON r.id = mb.room_id
         WHERE mb.user_id = ?1 AND mb.removed_seq IS NULL ORDER BY r.name",
    )?;
    let rows = stmt.query_map(params![user_id, canonical], |r| {
        let visibility: String = r.get(1)?;
        let role: String = r.get(2)?;
        let users: Option<String> = r.get(7)?;
        Ok(RoomSummary {
            room: r.get(0)?,
            visibility: Visibility::parse(&visibility).unwrap_or(Visibility::Private),
            role: Role::parse(&role).unwrap_or(Role::Member),
            last_seq: r.get(3)?,
            read_seq: r.get(4)?,
            unread: r.get(5)?,
            mentions: r.get(6)?,
            users: users.map(|u| u.split('\n').map(str::to_owned).collect()),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The members of `room`, if `viewer` may see them (a member, or anyone for a public room).
pub(super) fn members(c: &Connection, room: &str, viewer: &str) -> Result<Option<Vec<MemberInfo>>> {
    let Some(r) = self::room(c, room)? else {
        return Ok(None);
    };
    if r.visibility != Visibility::Public && active_role(c, r.id, viewer)?.is_none() {
        return Ok(None);
    }
    let mut stmt = c.prepare_cached(
        "SELECT u.username, mb.role, u.display_name FROM members mb JOIN users u ON u.id = mb.user_id
         WHERE mb.room_id = ?1 AND mb.removed_seq IS NULL ORDER BY lower(u.username)",
    )?;
    let rows = stmt.query_map([r.id], |row| {
        let role: String = row.get(1)?;
        Ok(MemberInfo {
            user: row.get(0)?,
            role: Role::parse(&role).unwrap_or(Role::Member),
            display_name: row.get(2)?,
        })
    })?;
    Ok(Some(rows.collect::<rusqlite::Result<_>>()?))
}
