//! The client's own SQLite database: the durable outbox, per-room resume points, and a cache of
//! received messages for offline reading and searching (`search`).
//!
//! WAL with `synchronous=NORMAL`: a commit survives the process being killed at any instant
//! (the data is in the OS before `commit` returns); only a power cut may lose the last moments,
//! and then the message was never acknowledged either, so nothing is silently lost.

use crate::Result;
use confab_protocol::MessageData;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

mod outbox;
mod search;

pub(crate) use search::CacheSearch;

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

/// The local database.
#[derive(Debug)]
pub struct Database {
    conn: Connection,
    limits: OutboxLimits,
}

pub(super) const SCHEMA: &str = r#"
    -- What waits to be sent, in order (see outbox.rs for the columns of changes).
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

/// Version 1: the outbox holds changes as well as messages (see `outbox`), and cached messages
/// keep what changed about them.
pub(super) const TO_V1: &str = "
    ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'message';
    ALTER TABLE outbox ADD COLUMN target_seq INTEGER;
    ALTER TABLE outbox ADD COLUMN target_id TEXT;
    ALTER TABLE outbox ADD COLUMN reply_to INTEGER;
    ALTER TABLE outbox ADD COLUMN emoji TEXT;
    ALTER TABLE outbox ADD COLUMN reaction_on INTEGER;
    CREATE INDEX outbox_target ON outbox (target_id) WHERE target_id IS NOT NULL;
    ALTER TABLE messages ADD COLUMN reply_to INTEGER;
    ALTER TABLE messages ADD COLUMN edited_ts INTEGER;
    -- Who reacted with what: a JSON object of emoji to sorted user names.
    ALTER TABLE messages ADD COLUMN reactions TEXT;
    PRAGMA user_version = 1;
";

/// Brings an older file up to date; what waits in its outbox stays.
fn migrate(conn: &Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < 1 {
        conn.execute_batch(&format!("BEGIN; {TO_V1} COMMIT;"))?;
    }
    if version < 2 {
        conn.execute_batch(&format!("BEGIN; {} COMMIT;", search::TO_V2))?;
    }
    if version < 3 {
        conn.execute_batch(&format!(
            "BEGIN; {} {} PRAGMA user_version = 3; COMMIT;",
            outbox::TO_V3,
            search::FILE_NAMES
        ))?;
    }
    Ok(())
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
        migrate(&conn)?;
        Ok(Self { conn, limits })
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
        advance(&self.conn, room, seq)
    }

    /// Entry `seq` of `room` changes a message: the cache takes it and the resume point moves
    /// past it in one transaction, so a kill between the two can neither skip the change (seen,
    /// never shown) nor apply it twice. `false` if it was seen before.
    pub(crate) fn apply_change(
        &mut self,
        room: &str,
        seq: u64,
        change: Change<'_>,
    ) -> Result<bool> {
        let tx = self.conn.transaction()?;
        if !advance(&tx, room, seq)? {
            return Ok(false);
        }
        match change {
            Change::Edit { body: None, .. } => {}
            Change::Edit {
                target,
                body: Some(body),
                ts,
            } => {
                tx.prepare_cached(
                    "UPDATE messages SET body = ?3, edited_ts = ?4 WHERE room = ?1 AND seq = ?2",
                )?
                .execute(params![room, target, body, ts])?;
            }
            Change::Delete { target } => {
                tx.prepare_cached("DELETE FROM messages WHERE room = ?1 AND seq = ?2")?
                    .execute(params![room, target])?;
            }
            Change::React {
                target,
                user,
                emoji,
                on,
            } => fold_react(&tx, room, target, user, emoji, on)?,
        }
        tx.commit()?;
        Ok(true)
    }

    /// The seq of message `id` of `room`, if it is cached.
    pub(crate) fn seq_of(&self, room: &str, id: &str) -> Result<Option<u64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT seq FROM messages WHERE room = ?1 AND id = ?2")?
            .query_row(params![room, id], |r| r.get(0))
            .optional()?)
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

    /// Caches older messages (from `history`, in their current state) without moving the
    /// resume point; a message deleted since it was cached leaves the cache.
    pub(crate) fn cache(&mut self, messages: &[MessageData]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for m in messages {
            if m.deleted {
                tx.prepare_cached("DELETE FROM messages WHERE room = ?1 AND seq = ?2")?
                    .execute(params![m.room, m.seq])?;
            } else {
                tx.prepare_cached(
                    "INSERT INTO messages (room, seq, id, author, body, ts, reply_to, edited_ts, reactions, attachments)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT (room, seq) DO UPDATE SET body = excluded.body,
                         edited_ts = excluded.edited_ts, reactions = excluded.reactions
                     -- Only what changed is written: a page is cached on every room opened.
                     WHERE body IS NOT excluded.body OR edited_ts IS NOT excluded.edited_ts
                         OR reactions IS NOT excluded.reactions",
                )?
                .execute(params![
                    m.room,
                    m.seq,
                    m.id,
                    m.author,
                    m.body,
                    m.ts,
                    m.reply_to,
                    m.edited_ts,
                    reactions_json(&m.reactions),
                    attachments_json(&m.attachments)
                ])?;
            }
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
        self.page(room, before, false, limit)
    }

    /// Cached messages of `room` with seq > `after`, ascending, at most `limit`.
    pub(crate) fn history_after(
        &self,
        room: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<MessageData>> {
        self.page(room, after, true, limit)
    }

    fn page(&self, room: &str, from: u64, newer: bool, limit: usize) -> Result<Vec<MessageData>> {
        let (side, order) = if newer {
            ("seq > ?2", "")
        } else {
            ("seq < ?2", "DESC")
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT seq, id, author, body, ts, reply_to, edited_ts, reactions, attachments FROM messages
             WHERE room = ?1 AND {side} ORDER BY seq {order} LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![room, from, limit as i64], |r| {
            Ok(MessageData {
                room: room.to_owned(),
                seq: r.get(0)?,
                id: r.get(1)?,
                author: r.get(2)?,
                body: r.get(3)?,
                ts: r.get(4)?,
                reply_to: r.get(5)?,
                edited_ts: r.get(6)?,
                reactions: parse_reactions(r.get(7)?),
                attachments: parse_attachments(r.get(8)?),
                ..MessageData::default()
            })
        })?;
        let mut out: Vec<MessageData> = rows.collect::<Result<_, _>>()?;
        if !newer {
            out.reverse();
        }
        Ok(out)
    }
}

type Reactions = std::collections::BTreeMap<String, Vec<String>>;

/// The cache's reactions column; anything unreadable counts as none (history repairs it).
fn parse_reactions(json: Option<String>) -> Reactions {
    json.and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default()
}

fn reactions_json(reactions: &Reactions) -> Option<String> {
    (!reactions.is_empty()).then(|| serde_json::to_string(reactions).unwrap_or_default())
}

/// Attachments as stored: written only by this module, so a damaged value reads as none.
pub(super) fn parse_attachments(json: Option<String>) -> Vec<confab_protocol::Attachment> {
    json.and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default()
}

fn attachments_json(attachments: &[confab_protocol::Attachment]) -> Option<String> {
    (!attachments.is_empty()).then(|| serde_json::to_string(attachments).unwrap_or_default())
}

fn insert_message(conn: &Connection, m: &MessageData) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO messages (room, seq, id, author, body, ts, reply_to, attachments)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        m.room,
        m.seq,
        m.id,
        m.author,
        m.body,
        m.ts,
        m.reply_to,
        attachments_json(&m.attachments)
    ])?;
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
    fn a_change_that_cannot_be_folded_is_not_marked_seen() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open(dir.path(), OutboxLimits::default()).unwrap();
        db.record(&msg(1)).unwrap();
        let react = Change::React {
            target: 1,
            user: "u",
            emoji: "👍",
            on: true,
        };
        // The fold fails half way (as a kill between two statements would leave it): the
        // entry must stay unseen, so its replay applies it.
        db.conn
            .execute_batch(
                "CREATE TEMP TRIGGER fail BEFORE UPDATE OF reactions ON messages
                 BEGIN SELECT RAISE(ABORT, 'disk gone'); END;",
            )
            .unwrap();
        assert!(db.apply_change("r", 2, react).is_err());
        assert_eq!(db.last_seq("r").ok(), Some(1), "seen but never shown");
        db.conn.execute_batch("DROP TRIGGER fail").unwrap();
        assert_eq!(db.apply_change("r", 2, react).ok(), Some(true));
        assert_eq!(db.apply_change("r", 2, react).ok(), Some(false), "once");
        let shown = db.history("r", u64::MAX >> 1, 10).unwrap();
        assert_eq!(shown[0].reactions.get("👍").map(Vec::len), Some(1));
        assert_eq!(db.last_seq("r").ok(), Some(2));
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

/// A change an entry of a room's stream makes to a cached message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Change<'a> {
    /// A new body (`None`: an edit whose body this client may not see; only the seq counts).
    Edit {
        target: u64,
        body: Option<&'a str>,
        ts: u64,
    },
    /// The message's text leaves this disk too.
    Delete { target: u64 },
    React {
        target: u64,
        user: &'a str,
        emoji: &'a str,
        on: bool,
    },
}

fn advance(conn: &Connection, room: &str, seq: u64) -> Result<bool> {
    let moved = conn
        .prepare_cached(
            "INSERT INTO rooms (room, last_seq) VALUES (?1, ?2)
             ON CONFLICT(room) DO UPDATE SET last_seq = excluded.last_seq
             WHERE excluded.last_seq > rooms.last_seq",
        )?
        .execute(params![room, seq])?;
    Ok(moved == 1)
}

/// `user` added (`on`) or took back `emoji` on the cached message `seq` of `room`; a message
/// not cached is left to history, which brings its current state.
fn fold_react(
    conn: &Connection,
    room: &str,
    seq: u64,
    user: &str,
    emoji: &str,
    on: bool,
) -> Result<()> {
    let Some(json) = conn
        .prepare_cached("SELECT reactions FROM messages WHERE room = ?1 AND seq = ?2")?
        .query_row(params![room, seq], |r| r.get::<_, Option<String>>(0))
        .optional()?
    else {
        return Ok(());
    };
    let mut reactions = parse_reactions(json);
    let users = reactions.entry(emoji.to_owned()).or_default();
    users.retain(|u| u != user);
    if on {
        users.push(user.to_owned());
        users.sort();
    }
    reactions.retain(|_, users| !users.is_empty());
    conn.prepare_cached("UPDATE messages SET reactions = ?3 WHERE room = ?1 AND seq = ?2")?
        .execute(params![room, seq, reactions_json(&reactions)])?;
    Ok(())
}
