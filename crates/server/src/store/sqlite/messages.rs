//! Rooms and messages: sequence numbers, idempotent inserts, replay and history.

use crate::Result;
use crate::store::now_ms;
use crate::store::types::Inserted;
use crate::store::{NewMessage, SendOutcome};
use confab_protocol::MessageData;
use rusqlite::{Connection, OptionalExtension, params};

/// Stores `msg` with the room's next sequence number, unless its id was seen before.
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
    // RETURNING sees the updated row: `last_seq` is already this message's seq.
    let (room_id, seq): (i64, u64) = conn
        .prepare_cached(
            "UPDATE rooms SET last_seq = last_seq + 1 WHERE name = ?1 RETURNING id, last_seq",
        )?
        .query_row([&msg.room], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let ts = now_ms();
    conn.prepare_cached(
        "INSERT INTO messages (room_id, seq, client_id, author, body, ts_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        room_id,
        seq,
        msg.client_id,
        msg.author,
        msg.body,
        ts
    ])?;
    Ok(Inserted::New(MessageData {
        room: msg.room,
        seq,
        id: msg.client_id,
        author: msg.author,
        body: msg.body,
        ts,
    }))
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

/// Up to `limit` messages with seq > `after`, ascending.
pub(super) fn after(
    conn: &Connection,
    room: &str,
    after: u64,
    limit: usize,
) -> Result<Vec<MessageData>> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.seq, m.client_id, m.author, m.body, m.ts_ms FROM messages m
         JOIN rooms r ON r.id = m.room_id
         WHERE r.name = ?1 AND m.seq > ?2 ORDER BY m.seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![room, after, limit as i64], |r| row(room, r))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Up to `limit` messages with seq < `before`, ascending, and whether older ones exist.
pub(super) fn before(
    conn: &Connection,
    room: &str,
    before: u64,
    limit: usize,
) -> Result<(Vec<MessageData>, bool)> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.seq, m.client_id, m.author, m.body, m.ts_ms FROM messages m
         JOIN rooms r ON r.id = m.room_id
         WHERE r.name = ?1 AND m.seq < ?2 ORDER BY m.seq DESC LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![room, before, limit as i64 + 1], |r| row(room, r))?;
    let mut messages: Vec<MessageData> = rows.collect::<Result<_, _>>()?;
    let more = messages.len() > limit;
    messages.truncate(limit);
    messages.reverse();
    Ok((messages, more))
}

fn row(room: &str, r: &rusqlite::Row<'_>) -> rusqlite::Result<MessageData> {
    Ok(MessageData {
        room: room.to_owned(),
        seq: r.get(0)?,
        id: r.get(1)?,
        author: r.get(2)?,
        body: r.get(3)?,
        ts: r.get(4)?,
    })
}
