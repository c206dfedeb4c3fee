//! Room streams: sequence numbers, idempotent inserts, replay and history.

use super::{files, rooms, search};
use crate::Result;
use crate::store::changes;
use crate::store::files as store_files;
use crate::store::membership::{StreamRow, join_mentions};
use crate::store::now_ms;
use crate::store::types::Inserted;
use crate::store::{NewMessage, Payload, SendOutcome};
use confab_protocol::conversation::mentioned;
use confab_protocol::{Event, MessageData};
use rusqlite::{Connection, OptionalExtension, params};

/// Stores `msg` with the room's next sequence number, unless its id was seen before, the author
/// may not post there, or a change's target does not allow it. A change is folded into its
/// target in the same transaction, so history reads messages in their current state.
pub(super) fn insert(conn: &Connection, mut msg: NewMessage) -> Result<Inserted> {
    // Cached statements: this runs for every message, and parsing SQL cost more than storing.
    let prior: Option<(String, u64)> = conn
        .prepare_cached(
            "SELECT r.name, m.seq FROM messages m JOIN rooms r ON r.id = m.room_id
             WHERE m.author = ?1 AND m.client_id = ?2",
        )?
        .query_row(params![msg.author, msg.client_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    if let Some((room, seq)) = prior {
        return Ok(Inserted::Not(if room == msg.room {
            SendOutcome::Duplicate { seq }
        } else {
            SendOutcome::IdReused { room }
        }));
    }
    conn.prepare_cached("INSERT INTO rooms (name) VALUES (?1) ON CONFLICT(name) DO NOTHING")?
        .execute([&msg.room])?;
    // A private room or dm takes messages from its members only, checked in the transaction
    // that stores: a kick committed first wins over a send in flight.
    let allowed: bool = conn
        .prepare_cached(
            "SELECT r.visibility = 'public' OR EXISTS (
                SELECT 1 FROM members mb JOIN users u ON u.id = mb.user_id
                WHERE mb.room_id = r.id AND u.username = ?2 AND mb.removed_seq IS NULL)
             FROM rooms r WHERE r.name = ?1",
        )?
        .query_row(params![msg.room, msg.author], |r| r.get(0))?;
    if !allowed {
        return Ok(Inserted::Not(SendOutcome::Forbidden));
    }
    if let Some(target) = msg.payload.target() {
        let row = target_row(conn, &msg.room, target)?;
        let moderates = matches!(msg.payload, Payload::Delete { .. })
            && moderates(conn, &msg.room, &msg.author)?;
        if let Err(refused) = changes::check(&msg.payload, row.as_ref(), &msg.author, moderates) {
            return Ok(Inserted::Not(refused));
        }
    }
    if let Payload::Message { attachments, .. } = &mut msg.payload
        && !attachments.is_empty()
    {
        match files::resolve(conn, &msg.author, attachments)? {
            Some(resolved) => *attachments = resolved,
            None => return Ok(Inserted::Not(SendOutcome::BadAttachment)),
        }
    }
    // RETURNING sees the updated row: `last_seq` is already this message's seq.
    let (room_id, seq): (i64, u64) = conn
        .prepare_cached(
            "UPDATE rooms SET last_seq = last_seq + 1 WHERE name = ?1 RETURNING id, last_seq",
        )?
        .query_row([&msg.room], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mentions = match &msg.payload {
        Payload::Message { body, .. } => mentioned_members(conn, room_id, seq, &msg.author, body)?,
        _ => Vec::new(),
    };
    let ts = now_ms();
    let (body, target, reply_to, data) = changes::columns(&msg.payload)?;
    conn.prepare_cached(
        "INSERT INTO messages (room_id, seq, client_id, author, body, ts_ms, mentions, kind,
                               target, reply_to, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        room_id,
        seq,
        msg.client_id,
        msg.author,
        body,
        ts,
        join_mentions(&mentions),
        msg.payload.kind(),
        target,
        reply_to,
        data,
    ])?;
    if let Payload::Message {
        body, attachments, ..
    } = &msg.payload
    {
        files::attach(conn, room_id, seq, attachments)?;
        search::index(
            conn,
            room_id,
            seq,
            &store_files::search_text(body, attachments),
        )?;
    }
    fold(conn, room_id, ts, &msg)?;
    Ok(Inserted::New(changes::event(
        &msg.room,
        seq,
        msg.client_id,
        msg.author,
        ts,
        msg.payload,
        mentions,
    )))
}

/// Applies a change to its target: the current body, the deletion (its text and every edit's
/// text erased), the set of reactions.
fn fold(conn: &Connection, room_id: i64, ts: u64, msg: &NewMessage) -> Result<()> {
    match &msg.payload {
        Payload::Message { .. } => {}
        Payload::Edit { target, body } => {
            conn.prepare_cached(
                "UPDATE messages SET body = ?3, edited_ms = ?4 WHERE room_id = ?1 AND seq = ?2",
            )?
            .execute(params![room_id, target, body, ts])?;
            // A message's files stay when its text is edited, and it is still found by them.
            let data: Option<String> = conn
                .prepare_cached("SELECT data FROM messages WHERE room_id = ?1 AND seq = ?2")?
                .query_row(params![room_id, target], |r| r.get(0))?;
            let files = store_files::from_data(data.as_deref());
            search::reindex(
                conn,
                room_id,
                *target,
                &store_files::search_text(body, &files),
            )?;
        }
        Payload::Delete { target } => {
            conn.prepare_cached(
                "UPDATE messages SET body = '', mentions = NULL, data = NULL, deleted = 1
                 WHERE room_id = ?1 AND (seq = ?2 OR (target = ?2 AND kind = 'edit'))",
            )?
            .execute(params![room_id, target])?;
            search::unindex(conn, room_id, *target)?;
            files::detach(conn, room_id, *target)?;
        }
        Payload::React { target, emoji, on } => {
            let sql = if *on {
                "INSERT OR IGNORE INTO reactions (room_id, seq, user_id, emoji)
                 SELECT ?1, ?2, id, ?4 FROM users WHERE username = ?3"
            } else {
                "DELETE FROM reactions WHERE room_id = ?1 AND seq = ?2 AND emoji = ?4
                 AND user_id = (SELECT id FROM users WHERE username = ?3)"
            };
            conn.prepare_cached(sql)?
                .execute(params![room_id, target, msg.author, emoji])?;
        }
    }
    Ok(())
}

/// The message at `seq` of `room`, if any.
fn target_row(conn: &Connection, room: &str, seq: u64) -> Result<Option<changes::Target>> {
    Ok(conn
        .prepare_cached(
            "SELECT m.author, m.kind, m.deleted FROM messages m JOIN rooms r ON r.id = m.room_id
             WHERE r.name = ?1 AND m.seq = ?2",
        )?
        .query_row(params![room, seq], |r| {
            Ok(changes::Target {
                author: r.get(0)?,
                kind: r.get(1)?,
                deleted: r.get(2)?,
            })
        })
        .optional()?)
}

/// Whether `user` may delete others' messages in `room`: its owner or admin, or a server
/// administrator.
fn moderates(conn: &Connection, room: &str, user: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT u.admin OR EXISTS (
                SELECT 1 FROM members mb JOIN rooms r ON r.id = mb.room_id
                WHERE r.name = ?1 AND mb.user_id = u.id AND mb.removed_seq IS NULL
                  AND mb.role IN ('owner', 'admin'))
             FROM users u WHERE u.username = ?2",
        )?
        .query_row(params![room, user], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

/// The members a message mentions (lower case), each recorded for their unread count.
fn mentioned_members(
    conn: &Connection,
    room_id: i64,
    seq: u64,
    author: &str,
    body: &str,
) -> Result<Vec<String>> {
    let mut members = Vec::new();
    // Most messages mention nobody: no statement runs for them.
    for name in mentioned(body) {
        let id: Option<i64> = conn
            .prepare_cached(
                "SELECT u.id FROM users u JOIN members mb ON mb.user_id = u.id
                 WHERE mb.room_id = ?1 AND u.username = ?2 AND mb.removed_seq IS NULL",
            )?
            .query_row(params![room_id, name], |r| r.get(0))
            .optional()?;
        let Some(id) = id else { continue };
        if !name.eq_ignore_ascii_case(author) {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO mentions (user_id, room_id, seq) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![id, room_id, seq])?;
        }
        members.push(name);
    }
    Ok(members)
}

/// The room's highest sequence number (0 for a room with no messages).
pub(super) fn last_seq(conn: &Connection, room: &str) -> Result<u64> {
    let seq = conn
        .query_row("SELECT last_seq FROM rooms WHERE name = ?1", [room], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(seq.unwrap_or(0))
}

const COLUMNS: &str = "seq, client_id, author, body, ts_ms, kind, data, mentions, target, reply_to, edited_ms, deleted";

/// Up to `limit` entries with seq > `after` that `viewer` may read, ascending.
pub(super) fn after(
    conn: &Connection,
    room: &str,
    after: u64,
    limit: usize,
    viewer: &str,
) -> Result<Vec<Event>> {
    let Some((room_id, up_to)) = rooms::visible(conn, room, viewer)? else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM messages WHERE room_id = ?1 AND seq > ?2 AND seq <= ?3
         ORDER BY seq LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![room_id, after, up_to, limit as i64], row)?;
    rows.map(|r| Ok(r?.into_event(room))).collect()
}

/// Up to `limit` messages (not events) that `viewer` may read on one side of `from` (below
/// it; above it when `newer`), ascending, and whether more exist beyond them on that side.
pub(super) fn page(
    conn: &Connection,
    room: &str,
    from: u64,
    newer: bool,
    limit: usize,
    viewer: &str,
) -> Result<(Vec<MessageData>, bool)> {
    let Some((room_id, up_to)) = rooms::visible(conn, room, viewer)? else {
        return Ok((Vec::new(), false));
    };
    let (side, order) = if newer {
        ("seq > ?2", "")
    } else {
        ("seq < ?2", "DESC")
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM messages WHERE room_id = ?1 AND {side} AND seq <= ?3
         AND kind = 'message' ORDER BY seq {order} LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![room_id, from, up_to, limit as i64 + 1], row)?;
    let mut messages = Vec::with_capacity(limit + 1);
    for r in rows {
        if let Event::Message(m) = r?.into_event(room) {
            messages.push(m);
        }
    }
    let more = messages.len() > limit;
    messages.truncate(limit);
    if !newer {
        messages.reverse();
    }
    add_reactions(conn, room_id, &mut messages)?;
    Ok((messages, more))
}

/// Fills in who reacted with what, for a page of messages (ascending).
fn add_reactions(conn: &Connection, room_id: i64, messages: &mut [MessageData]) -> Result<()> {
    let (Some(first), Some(last)) = (messages.first(), messages.last()) else {
        return Ok(());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT x.seq, x.emoji, u.username FROM reactions x JOIN users u ON u.id = x.user_id
         WHERE x.room_id = ?1 AND x.seq BETWEEN ?2 AND ?3 ORDER BY x.seq, x.emoji, lower(u.username)",
    )?;
    let rows = stmt.query_map(params![room_id, first.seq, last.seq], |r| {
        Ok((
            r.get::<_, u64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (seq, emoji, user) = row?;
        if let Ok(at) = messages.binary_search_by_key(&seq, |m| m.seq) {
            messages[at].reactions.entry(emoji).or_default().push(user);
        }
    }
    Ok(())
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StreamRow> {
    Ok(StreamRow {
        seq: r.get(0)?,
        id: r.get(1)?,
        author: r.get(2)?,
        body: r.get(3)?,
        ts: r.get(4)?,
        kind: r.get(5)?,
        data: r.get(6)?,
        mentions: r.get(7)?,
        target: r.get(8)?,
        reply_to: r.get(9)?,
        edited_ms: r.get(10)?,
        deleted: r.get(11)?,
    })
}
