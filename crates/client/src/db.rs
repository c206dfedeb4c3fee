//! The client's own SQLite database: the durable outbox, per-room resume points, and a cache of
//! received messages for offline reading.
//!
//! WAL with `synchronous=NORMAL`: a commit survives the process being killed at any instant
//! (the data is in the OS before `commit` returns); only a power cut may lose the last moments,
//! and then the message was never acknowledged either, so nothing is silently lost.

use crate::event::{Outgoing, OutgoingStatus};
use crate::{Error, Result};
use confab_protocol::{MessageData, MessageId};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Bounds on what may wait in the outbox.
#[derive(Debug, Clone)]
pub struct OutboxLimits {
    pub max_messages: usize,
    pub max_bytes: usize,
}

impl Default for OutboxLimits {
    fn default() -> Self {
        Self {
            max_messages: 10_000,
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

/// A message waiting to be acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Queued {
    pub(crate) id: MessageId,
    pub(crate) room: String,
    pub(crate) body: String,
    pub(crate) created_ms: u64,
}

impl Queued {
    /// How the owner sees it.
    pub(crate) fn outgoing(&self, status: OutgoingStatus) -> Outgoing {
        Outgoing {
            id: self.id.clone(),
            room: self.room.clone(),
            body: self.body.clone(),
            status,
            created_ms: self.created_ms,
        }
    }
}

/// The local database.
#[derive(Debug)]
pub struct Database {
    conn: Connection,
    limits: OutboxLimits,
}

const SCHEMA: &str = r#"
    CREATE TABLE IF NOT EXISTS outbox (
        ord        INTEGER PRIMARY KEY AUTOINCREMENT,
        id         TEXT NOT NULL UNIQUE,
        room       TEXT NOT NULL,
        body       TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS rooms (
        room     TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL DEFAULT 0,
        joined   INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE IF NOT EXISTS messages (
        room   TEXT NOT NULL,
        seq    INTEGER NOT NULL,
        id     TEXT NOT NULL,
        author TEXT NOT NULL,
        body   TEXT NOT NULL,
        ts     INTEGER NOT NULL,
        PRIMARY KEY (room, seq)
    ) WITHOUT ROWID;
    -- Rooms the user joined that have not had a replay yet: only their first join may start
    -- at the newest messages (ClientConfig::first_join_latest). A last_seq of 0 alone cannot
    -- say this: a room joined while empty has one too, and must later replay from its start.
    CREATE TABLE IF NOT EXISTS fresh_rooms (room TEXT PRIMARY KEY) WITHOUT ROWID;
    -- What the server said a room is (public, private, dm). A private room or dm is joined on
    -- a new connection only once the server's room list says the user is still a member.
    CREATE TABLE IF NOT EXISTS room_visibility (
        room       TEXT PRIMARY KEY,
        visibility TEXT NOT NULL
    ) WITHOUT ROWID;
"#;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Database {
    /// Opens (creating) `dir/client.db`.
    pub fn open(dir: &Path, limits: OutboxLimits) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let conn = Connection::open(dir.join("client.db"))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self { conn, limits })
    }

    /// Writes a new message to the outbox and returns it with its fresh id. Refuses, without
    /// writing, when the outbox is at its limits.
    pub(crate) fn enqueue(&mut self, room: &str, body: &str) -> Result<Queued> {
        let (count, bytes): (usize, usize) = self.conn.query_row(
            "SELECT count(*), coalesce(sum(length(CAST(body AS BLOB))), 0) FROM outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if count >= self.limits.max_messages {
            return Err(Error::OutboxFull(format!("{count} messages waiting")));
        }
        if bytes + body.len() > self.limits.max_bytes {
            return Err(Error::OutboxFull(format!("{bytes} bytes waiting")));
        }
        let item = Queued {
            id: MessageId::random(),
            room: room.to_owned(),
            body: body.to_owned(),
            created_ms: now_ms(),
        };
        self.conn.execute(
            "INSERT INTO outbox (id, room, body, created_ms) VALUES (?1, ?2, ?3, ?4)",
            params![item.id.as_str(), item.room, item.body, item.created_ms],
        )?;
        Ok(item)
    }

    /// Everything waiting, oldest first.
    pub(crate) fn pending(&self) -> Result<Vec<Queued>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, room, body, created_ms FROM outbox ORDER BY ord")?;
        let rows = stmt.query_map([], |r| {
            let id: String = r.get(0)?;
            Ok(Queued {
                // Only ever written from a MessageId; anything else is a damaged file.
                id: MessageId::try_from(id).map_err(|code| {
                    rusqlite::Error::FromSqlConversionFailure(
                        0,
                        rusqlite::types::Type::Text,
                        code.to_string().into(),
                    )
                })?,
                room: r.get(1)?,
                body: r.get(2)?,
                created_ms: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    #[cfg(test)]
    pub(crate) fn pending_count(&self) -> Result<usize> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?)
    }

    /// Removes a message from the outbox (acknowledged, or refused for good).
    pub(crate) fn remove(&mut self, id: &MessageId) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM outbox WHERE id = ?1", [id.as_str()])?
            == 1)
    }

    /// Remembers whether the user is in `room`, so reconnects re-join it.
    pub(crate) fn set_joined(&mut self, room: &str, joined: bool) -> Result<()> {
        self.conn.execute(
            "INSERT INTO rooms (room, joined) VALUES (?1, ?2)
             ON CONFLICT(room) DO UPDATE SET joined = excluded.joined",
            params![room, joined],
        )?;
        Ok(())
    }

    /// Rooms to join on every connection: the joined ones, and any room a queued message is
    /// waiting for (the user may have left it after writing), with the last seq received.
    pub(crate) fn rooms_to_resume(&self) -> Result<Vec<(String, u64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT room, last_seq FROM rooms
             WHERE joined = 1 OR room IN (SELECT room FROM outbox) ORDER BY room",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Joined rooms and the last seq received in each.
    pub(crate) fn joined_rooms(&self) -> Result<Vec<(String, u64)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT room, last_seq FROM rooms WHERE joined = 1 ORDER BY room")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether `room` is one the user has joined (one row, not the whole list).
    pub(crate) fn is_joined(&self, room: &str) -> Result<bool> {
        let joined = self
            .conn
            .prepare_cached("SELECT 1 FROM rooms WHERE room = ?1 AND joined = 1")?
            .exists([room])?;
        Ok(joined)
    }

    /// Marks or clears `room` as joined but never replayed (see `fresh_rooms`).
    pub(crate) fn set_fresh(&mut self, room: &str, fresh: bool) -> Result<()> {
        let sql = if fresh {
            "INSERT INTO fresh_rooms (room) VALUES (?1) ON CONFLICT(room) DO NOTHING"
        } else {
            "DELETE FROM fresh_rooms WHERE room = ?1"
        };
        self.conn.prepare_cached(sql)?.execute([room])?;
        Ok(())
    }

    /// Whether `room` was joined and has not had a replay yet.
    pub(crate) fn is_fresh(&self, room: &str) -> Result<bool> {
        let fresh = self
            .conn
            .prepare_cached("SELECT 1 FROM fresh_rooms WHERE room = ?1")?
            .exists([room])?;
        Ok(fresh)
    }

    pub fn last_seq(&self, room: &str) -> Result<u64> {
        let seq = self
            .conn
            .query_row("SELECT last_seq FROM rooms WHERE room = ?1", [room], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(seq.unwrap_or(0))
    }

    /// Sets where to resume `room` from (e.g. `confab tail --after N`).
    pub(crate) fn set_last_seq(&mut self, room: &str, seq: u64) -> Result<()> {
        self.conn.execute(
            "INSERT INTO rooms (room, last_seq) VALUES (?1, ?2)
             ON CONFLICT(room) DO UPDATE SET last_seq = excluded.last_seq",
            params![room, seq],
        )?;
        Ok(())
    }

    /// Records a message received live or in a replay. Returns `false` for one already seen
    /// (seq at or below the resume point), which the caller must not deliver again.
    pub(crate) fn record(&mut self, m: &MessageData) -> Result<bool> {
        let tx = self.conn.transaction()?;
        let last: u64 = tx
            .query_row(
                "SELECT last_seq FROM rooms WHERE room = ?1",
                [&m.room],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        if m.seq <= last {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO rooms (room, last_seq) VALUES (?1, ?2)
             ON CONFLICT(room) DO UPDATE SET last_seq = excluded.last_seq",
            params![m.room, m.seq],
        )?;
        // A deleted message keeps its place in the stream, and nothing of it on this disk.
        if !m.deleted {
            insert_message(&tx, m)?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// Moves `room`'s resume point past an entry that is no message (a membership event).
    /// `false` if it was seen before.
    pub(crate) fn advance(&mut self, room: &str, seq: u64) -> Result<bool> {
        let moved = self.conn.execute(
            "INSERT INTO rooms (room, last_seq) VALUES (?1, ?2)
             ON CONFLICT(room) DO UPDATE SET last_seq = excluded.last_seq
             WHERE excluded.last_seq > rooms.last_seq",
            params![room, seq],
        )?;
        Ok(moved == 1)
    }

    /// The cached message `seq` of `room` has a new body.
    pub(crate) fn fold_edit(&mut self, room: &str, seq: u64, body: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE messages SET body = ?3 WHERE room = ?1 AND seq = ?2")?
            .execute(params![room, seq, body])?;
        Ok(())
    }

    /// The cached message `seq` of `room` was deleted: its text leaves this disk too.
    pub(crate) fn fold_delete(&mut self, room: &str, seq: u64) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM messages WHERE room = ?1 AND seq = ?2")?
            .execute(params![room, seq])?;
        Ok(())
    }

    /// Remembers what kind of room `room` is.
    pub(crate) fn set_visibility(&mut self, room: &str, visibility: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO room_visibility (room, visibility) VALUES (?1, ?2)
                 ON CONFLICT(room) DO UPDATE SET visibility = excluded.visibility",
            )?
            .execute(params![room, visibility])?;
        Ok(())
    }

    /// What kind of room `room` is, if the server ever said.
    pub(crate) fn visibility(&self, room: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT visibility FROM room_visibility WHERE room = ?1")?
            .query_row([room], |r| r.get(0))
            .optional()?)
    }

    /// Caches older messages (from `history`) without moving the resume point.
    pub(crate) fn cache(&mut self, messages: &[MessageData]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for m in messages {
            insert_message(&tx, m)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Cached messages of `room` with seq < `before`, ascending, at most `limit`.
    pub(crate) fn history(
        &self,
        room: &str,
        before: u64,
        limit: usize,
    ) -> Result<Vec<MessageData>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, id, author, body, ts FROM messages WHERE room = ?1 AND seq < ?2
             ORDER BY seq DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![room, before, limit as i64], |r| {
            Ok(MessageData {
                room: room.to_owned(),
                seq: r.get(0)?,
                id: r.get(1)?,
                author: r.get(2)?,
                body: r.get(3)?,
                ts: r.get(4)?,
                ..MessageData::default()
            })
        })?;
        let mut out: Vec<MessageData> = rows.collect::<Result<_, _>>()?;
        out.reverse();
        Ok(out)
    }
}

fn insert_message(conn: &Connection, m: &MessageData) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO messages (room, seq, id, author, body, ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![m.room, m.seq, m.id, m.author, m.body, m.ts],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(seq: u64) -> MessageData {
        MessageData {
            room: "r".into(),
            seq,
            id: format!("i{seq}"),
            author: "a".into(),
            body: "b".into(),
            ts: 1,
            ..MessageData::default()
        }
    }

    #[test]
    fn outbox_survives_reopen_in_order_and_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let limits = OutboxLimits {
            max_messages: 3,
            max_bytes: 1000,
        };
        let ids: Vec<MessageId> = {
            let mut db = Database::open(dir.path(), limits.clone()).unwrap();
            (0..3)
                .map(|i| db.enqueue("r", &format!("m{i}")).unwrap().id)
                .collect()
        };
        let mut db = Database::open(dir.path(), limits).unwrap();
        let pending: Vec<MessageId> = db.pending().unwrap().into_iter().map(|q| q.id).collect();
        assert_eq!(pending, ids);
        let full = db.enqueue("r", "one too many");
        assert!(
            matches!(full, Err(Error::OutboxFull(_))),
            "a clear error, not a silent drop"
        );
        assert_eq!(
            db.pending_count().ok(),
            Some(3),
            "nothing written when full"
        );
        assert!(db.remove(&ids[0]).unwrap_or(false));
        assert!(db.enqueue("r", "fits again").is_ok());
    }

    #[test]
    fn outbox_bytes_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open(
            dir.path(),
            OutboxLimits {
                max_messages: 100,
                max_bytes: 10,
            },
        )
        .unwrap();
        assert!(db.enqueue("r", "12345678").is_ok());
        assert!(matches!(db.enqueue("r", "123"), Err(Error::OutboxFull(_))));
    }

    #[test]
    fn record_rejects_what_was_already_seen() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open(dir.path(), OutboxLimits::default()).unwrap();
        assert_eq!(db.record(&msg(1)).ok(), Some(true));
        assert_eq!(db.record(&msg(2)).ok(), Some(true));
        assert_eq!(db.record(&msg(2)).ok(), Some(false));
        assert_eq!(db.record(&msg(1)).ok(), Some(false));
        assert_eq!(db.last_seq("r").ok(), Some(2));
        let seqs: Vec<u64> = db
            .history("r", u64::MAX >> 1, 10)
            .unwrap_or_default()
            .iter()
            .map(|m| m.seq)
            .collect();
        assert_eq!(seqs, [1, 2]);
    }
}
