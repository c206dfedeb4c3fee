//! Rooms and members on Postgres: the same rules and statements as `sqlite/rooms.rs`.
//! Changes run in the writer's group transaction, under the room row's lock, like sends.

use crate::Result;
use crate::store::membership::{
    Change, Changed, Committed, Created, DmOpened, Effect, Entry, Refusal, decide, stage,
    visible_up_to,
};
use confab_protocol::{MemberInfo, Role, RoomSummary, Visibility};
use deadpool_postgres::GenericClient;

struct RoomRow {
    id: i64,
    visibility: Visibility,
}

async fn room<C: GenericClient>(c: &C, name: &str) -> Result<Option<RoomRow>> {
    let stmt = c
        .prepare_cached("SELECT id, visibility FROM rooms WHERE name = $1")
        .await?;
    Ok(c.query_opt(&stmt, &[&name]).await?.map(|r| RoomRow {
        id: r.get(0),
        visibility: Visibility::parse(r.get(1)).unwrap_or(Visibility::Private),
    }))
}

/// `(user id, role, removed_seq)` of a user's membership row.
async fn membership<C: GenericClient>(
    c: &C,
    room_id: i64,
    user: &str,
) -> Result<Option<(i64, Role, Option<u64>)>> {
    let stmt = c
        .prepare_cached(
            "SELECT u.id, mb.role, mb.removed_seq FROM users u
             JOIN members mb ON mb.user_id = u.id AND mb.room_id = $1
             WHERE lower(u.username) = lower($2)",
        )
        .await?;
    Ok(c.query_opt(&stmt, &[&room_id, &user]).await?.map(|r| {
        let removed: Option<i64> = r.get(2);
        (
            r.get(0),
            Role::parse(r.get(1)).unwrap_or(Role::Member),
            removed.map(|s| s as u64),
        )
    }))
}

async fn active_role<C: GenericClient>(c: &C, room_id: i64, user: &str) -> Result<Option<Role>> {
    Ok(membership(c, room_id, user)
        .await?
        .and_then(|(_, role, removed)| removed.is_none().then_some(role)))
}

async fn user<C: GenericClient>(c: &C, name: &str) -> Result<Option<(i64, String, bool)>> {
    let stmt = c
        .prepare_cached("SELECT id, username, admin FROM users WHERE lower(username) = lower($1)")
        .await?;
    Ok(c.query_opt(&stmt, &[&name])
        .await?
        .map(|r| (r.get(0), r.get(1), r.get(2))))
}

/// `(room id, last seq user may read)`, if the room exists.
pub(super) async fn visible<C: GenericClient>(
    c: &C,
    room: &str,
    user: &str,
) -> Result<Option<(i64, u64)>> {
    let Some(r) = self::room(c, room).await? else {
        return Ok(None);
    };
    let member = membership(c, r.id, user)
        .await?
        .map(|(_, _, removed)| removed);
    Ok(Some((r.id, visible_up_to(r.visibility, member))))
}

pub(super) async fn entry<C: GenericClient>(
    c: &C,
    room: &str,
    user: &str,
) -> Result<Option<Entry>> {
    let Some(r) = self::room(c, room).await? else {
        return Ok(None);
    };
    match (r.visibility, active_role(c, r.id, user).await?) {
        (v, Some(_)) => Ok(Some(Entry::Member(v))),
        (Visibility::Public, None) => Ok(None),
        (_, None) => Ok(Some(Entry::Forbidden)),
    }
}

pub(super) async fn enter<C: GenericClient>(c: &C, room: &str, user: &str) -> Result<Entry> {
    c.execute(
        "INSERT INTO rooms (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
        &[&room],
    )
    .await?;
    if let Some(entry) = entry(c, room, user).await? {
        return Ok(entry);
    }
    c.execute(
        "INSERT INTO members (room_id, user_id, role)
         SELECT r.id, u.id, 'member' FROM rooms r, users u
         WHERE r.name = $1 AND lower(u.username) = lower($2)
         ON CONFLICT (room_id, user_id) DO UPDATE SET removed_seq = NULL, role = 'member'",
        &[&room, &user],
    )
    .await?;
    Ok(Entry::Member(Visibility::Public))
}

pub(super) async fn create<C: GenericClient>(
    c: &C,
    room: &str,
    owner: &str,
    visibility: Visibility,
) -> Result<Created> {
    let inserted = c
        .execute(
            "INSERT INTO rooms (name, visibility) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&room, &visibility.as_str()],
        )
        .await?;
    if inserted == 0 {
        return Ok(Created::Exists);
    }
    c.execute(
        "INSERT INTO members (room_id, user_id, role)
         SELECT r.id, u.id, 'owner' FROM rooms r, users u
         WHERE r.name = $1 AND lower(u.username) = lower($2)",
        &[&room, &owner],
    )
    .await?;
    Ok(Created::Created)
}

pub(super) async fn dm<C: GenericClient>(c: &C, room: &str, users: &[String]) -> Result<DmOpened> {
    let mut found = Vec::with_capacity(users.len());
    for name in users {
        match user(c, name).await? {
            Some((id, canonical, _)) => found.push((id, canonical)),
            None => return Ok(DmOpened::NoSuchUser(name.clone())),
        }
    }
    let created = c
        .execute(
            "INSERT INTO rooms (name, visibility) VALUES ($1, 'dm') ON CONFLICT (name) DO NOTHING",
            &[&room],
        )
        .await?
        == 1;
    if created {
        for (id, _) in &found {
            c.execute(
                "INSERT INTO members (room_id, user_id) SELECT id, $2 FROM rooms WHERE name = $1",
                &[&room, id],
            )
            .await?;
        }
    }
    let mut names: Vec<String> = found.into_iter().map(|(_, n)| n).collect();
    names.sort_by_key(|n| n.to_ascii_lowercase());
    Ok(DmOpened::Ready {
        created,
        users: names,
    })
}

/// Applies a change with its event; run inside the writer's transaction holding the room lock.
pub(super) async fn change<C: GenericClient>(
    c: &C,
    change: &Change,
) -> Result<(Changed, Option<Committed>)> {
    let refused = |r| Ok((Changed::Refused(r), None));
    let Some(room) = self::room(c, &change.room).await? else {
        return refused(Refusal::Forbidden("no such room"));
    };
    let Some((_, actor, server_admin)) = user(c, &change.actor).await? else {
        return refused(Refusal::NoSuchUser);
    };
    let Some((target_id, target, _)) = user(c, &change.target).await? else {
        return refused(Refusal::NoSuchUser);
    };
    let effect = match decide(
        change.kind,
        room.visibility,
        active_role(c, room.id, &actor).await?,
        server_admin,
        active_role(c, room.id, &target).await?,
        actor.eq_ignore_ascii_case(&target),
    ) {
        Ok(effect) => effect,
        Err(r) => return refused(r),
    };
    if effect.action().is_none() {
        return Ok((Changed::Unchanged, None));
    }
    let seq: i64 = c
        .query_one(
            "UPDATE rooms SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq",
            &[&room.id],
        )
        .await?
        .get(0);
    match effect {
        Effect::Add => {
            c.execute(
                "INSERT INTO members (room_id, user_id) VALUES ($1, $2)
                 ON CONFLICT (room_id, user_id) DO UPDATE SET removed_seq = NULL, role = 'member'",
                &[&room.id, &target_id],
            )
            .await?
        }
        Effect::Remove(_) => {
            c.execute(
                "UPDATE members SET removed_seq = $3, role = 'member'
                 WHERE room_id = $1 AND user_id = $2",
                &[&room.id, &target_id, &seq],
            )
            .await?
        }
        Effect::SetRole(role) => {
            c.execute(
                "UPDATE members SET role = $3 WHERE room_id = $1 AND user_id = $2",
                &[&room.id, &target_id, &role.as_str()],
            )
            .await?
        }
        Effect::Nothing => 0,
    };
    let staged = stage(change, effect, room.visibility, seq as u64, (actor, target))?;
    let e = &staged.entry;
    c.execute(
        "INSERT INTO messages (room_id, seq, client_id, author, body, ts_ms, kind, data)
         VALUES ($1, $2, $3, $4, '', $5, 'member', $6)",
        &[
            &room.id,
            &seq,
            &e.id,
            &e.author,
            &(e.ts as i64),
            &staged.data,
        ],
    )
    .await?;
    Ok((Changed::Done { seq: seq as u64 }, Some(staged.committed)))
}

pub(super) async fn set_read<C: GenericClient>(
    c: &C,
    room: &str,
    user: &str,
    seq: u64,
) -> Result<Option<u64>> {
    let seq = seq.min(i64::MAX as u64) as i64;
    let row = c
        .query_opt(
            "UPDATE members mb SET read_seq = GREATEST(mb.read_seq, LEAST($3, r.last_seq))
             FROM rooms r, users u
             WHERE mb.room_id = r.id AND mb.user_id = u.id AND r.name = $1
               AND lower(u.username) = lower($2) AND mb.removed_seq IS NULL
             RETURNING mb.read_seq",
            &[&room, &user, &seq],
        )
        .await?;
    Ok(row.map(|r| r.get::<_, i64>(0) as u64))
}

pub(super) async fn list<C: GenericClient>(c: &C, user: &str) -> Result<Vec<RoomSummary>> {
    let Some((user_id, canonical, _)) = self::user(c, user).await? else {
        return Ok(Vec::new());
    };
    // One statement for the whole list: counts by correlated subqueries over the indexes.
    let rows = c
        .query(
            "SELECT r.name, r.visibility, mb.role, r.last_seq, mb.read_seq,
                (SELECT count(*) FROM messages m WHERE m.room_id = r.id AND m.seq > mb.read_seq
                   AND m.kind = 'message' AND m.author <> $2),
                (SELECT count(*) FROM mentions x WHERE x.user_id = $1 AND x.room_id = r.id
                   AND x.seq > mb.read_seq),
                CASE WHEN r.visibility = 'dm' THEN (
                    SELECT array_agg(u.username ORDER BY lower(u.username)) FROM members o
                    JOIN users u ON u.id = o.user_id WHERE o.room_id = r.id) END
             FROM members mb JOIN rooms r ON r.id = mb.room_id
             WHERE mb.user_id = $1 AND mb.removed_seq IS NULL ORDER BY r.name",
            &[&user_id, &canonical],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| RoomSummary {
            room: r.get(0),
            visibility: Visibility::parse(r.get(1)).unwrap_or(Visibility::Private),
            role: Role::parse(r.get(2)).unwrap_or(Role::Member),
            last_seq: r.get::<_, i64>(3) as u64,
            read_seq: r.get::<_, i64>(4) as u64,
            unread: r.get::<_, i64>(5) as u64,
            mentions: r.get::<_, i64>(6) as u64,
            users: r.get(7),
        })
        .collect())
}

pub(super) async fn members<C: GenericClient>(
    c: &C,
    room: &str,
    viewer: &str,
) -> Result<Option<Vec<MemberInfo>>> {
    let Some(r) = self::room(c, room).await? else {
        return Ok(None);
    };
    if r.visibility != Visibility::Public && active_role(c, r.id, viewer).await?.is_none() {
        return Ok(None);
    }
    let rows = c
        .query(
            "SELECT u.username, mb.role, u.display_name FROM members mb
             JOIN users u ON u.id = mb.user_id
             WHERE mb.room_id = $1 AND mb.removed_seq IS NULL ORDER BY lower(u.username)",
            &[&r.id],
        )
        .await?;
    Ok(Some(
        rows.iter()
            .map(|row| MemberInfo {
                user: row.get(0),
                role: Role::parse(row.get(1)).unwrap_or(Role::Member),
                display_name: row.get(2),
            })
            .collect(),
    ))
}
