//! Room streams: sequence numbers, idempotent inserts, replay and history.

use super::rooms;
use crate::Result;
use crate::store::membership::{StreamRow, join_mentions};
use crate::store::now_ms;
use crate::store::types::Inserted;
use crate::store::{NewMessage, SendOutcome};
use confab_protocol::conversation::mentioned;
use confab_protocol::{Event, MessageData};
use rusqlite::{Connection, OptionalExtension, params};

/// Stores `msg` with the room's next sequence number, unless its id was seen before or the
/// author may not post there.
pub(super) fn insert(conn: &Connection, msg: NewMessage) -> Result<Inserted> {
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
    // RETURNING sees the updated row: `last_seq` is already this message's seq.
    let (room_id, seq): (i64, u64) = conn
        .prepare_cached(
            "UPDATE rooms SET last_seq = last_seq + 1 WHERE name = ?1 RETURNING id, last_seq",
        )?
        .query_row([&msg.room], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mentions = mentioned_members(conn, room_id, seq, &msg)?;
    let ts = now_ms();
    conn.prepare_cached(
        "INSERT INTO messages (room_id, seq, client_id, author, body, ts_ms, mentions)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        room_id,
        seq,
        msg.client_id,
        msg.author,
        msg.body,
        ts,
        join_mentions(&mentions),
    ])?;
    Ok(Inserted::New(MessageData {
        room: msg.room,
        seq,
        id: msg.client_id,
        author: msg.author,
        body: msg.body,
        ts,
        mentions,
    }))
}

/// The members `msg` mentions (lower case), each recorded for their unread count.
fn mentioned_members(
    conn: &Connection,
    room_id: i64,
    seq: u64,
    msg: &NewMessage,
) -> Result<Vec<String>> {
    let mut members = Vec::new();
    // Most messages mention nobody: no statement runs for them.
    for name in mentioned(&msg.body) {
        let id: Option<i64> = conn
            .prepare_cached(
                "SELECT u.id FROM users u JOIN members mb ON mb.user_id = u.id
                 WHERE mb.room_id = ?1 AND u.username = ?2 AND mb.removed_seq IS NULL",
            )?
            .query_row(params![room_id, name], |r| r.get(0))
            .optional()?;
        let Some(id) = id else { continue };
        if !name.eq_ignore_ascii_case(&msg.author) {
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

const COLUMNS: &str = "seq, client_id, author, body, ts_ms, kind, data, mentions";

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

/// Up to `limit` messages (not events) with seq < `before` that `viewer` may read, ascending,
/// and whether older ones exist.
pub(super) fn before(
    conn: &Connection,
    room: &str,
    before: u64,
    limit: usize,
    viewer: &str,
) -> Result<(Vec<MessageData>, bool)> {
    let Some((room_id, up_to)) = rooms::visible(conn, room, viewer)? else {
        return Ok((Vec::new(), false));
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM messages WHERE room_id = ?1 AND seq < ?2 AND seq <= ?3
         AND kind = 'message' ORDER BY seq DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(params![room_id, before, up_to, limit as i64 + 1], row)?;
    let mut messages = Vec::with_capacity(limit + 1);
    for r in rows {
        if let Event::Message(m) = r?.into_event(room) {
            messages.push(m);
        }
    }
    let more = messages.len() > limit;
    messages.truncate(limit);
    messages.reverse();
    Ok((messages, more))
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
    })
}
