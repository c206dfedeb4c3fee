//! The cache's full-text index: FTS5 over the cached messages, kept in step by triggers (a
//! message cached, edited or deleted), by the same rules as the
//! server's index (`confab_protocol::search`).

use super::Database;
use crate::Result;
use confab_protocol::SearchHit;
use confab_protocol::search::Query;
use rusqlite::params;

/// Version 2: the index, filled from what is cached already.
pub(super) const TO_V2: &str = "
    CREATE TABLE search_docs (
        id   INTEGER PRIMARY KEY,
        room TEXT NOT NULL,
        seq  INTEGER NOT NULL,
        UNIQUE (room, seq)
    );
    CREATE VIRTUAL TABLE message_search USING fts5(
        body, content = '', contentless_delete = 1, prefix = '3',
        tokenize = 'unicode61 remove_diacritics 0'
    );
    CREATE TRIGGER messages_indexed AFTER INSERT ON messages BEGIN
        INSERT INTO search_docs (room, seq) VALUES (new.room, new.seq);
        INSERT INTO message_search (rowid, body) VALUES (last_insert_rowid(), new.body);
    END;
    CREATE TRIGGER messages_reindexed AFTER UPDATE OF body ON messages BEGIN
        DELETE FROM message_search WHERE rowid =
            (SELECT id FROM search_docs WHERE room = old.room AND seq = old.seq);
        INSERT INTO message_search (rowid, body)
            SELECT id, new.body FROM search_docs WHERE room = new.room AND seq = new.seq;
    END;
    CREATE TRIGGER messages_unindexed AFTER DELETE ON messages BEGIN
        DELETE FROM message_search WHERE rowid =
            (SELECT id FROM search_docs WHERE room = old.room AND seq = old.seq);
        DELETE FROM search_docs WHERE room = old.room AND seq = old.seq;
    END;
    INSERT INTO search_docs (room, seq) SELECT room, seq FROM messages ORDER BY ts;
    INSERT INTO message_search (rowid, body)
        SELECT d.id, m.body FROM search_docs d JOIN messages m ON m.room = d.room AND m.seq = d.seq;
    PRAGMA user_version = 2;
";

/// Version 3 (with `outbox::TO_V3`): a message's file names are indexed with its words, as on
/// the server.
pub(super) const FILE_NAMES: &str = "
    DROP TRIGGER messages_indexed;
    DROP TRIGGER messages_reindexed;
    CREATE TRIGGER messages_indexed AFTER INSERT ON messages BEGIN
        INSERT INTO search_docs (room, seq) VALUES (new.room, new.seq);
        INSERT INTO message_search (rowid, body) VALUES (last_insert_rowid(),
            new.body || coalesce(' ' || (SELECT group_concat(json_extract(value, '$.name'), ' ')
                FROM json_each(new.attachments)), ''));
    END;
    CREATE TRIGGER messages_reindexed AFTER UPDATE OF body ON messages BEGIN
        DELETE FROM message_search WHERE rowid =
            (SELECT id FROM search_docs WHERE room = old.room AND seq = old.seq);
        INSERT INTO message_search (rowid, body)
            SELECT id, new.body || coalesce(' ' || (SELECT group_concat(json_extract(value, '$.name'), ' ')
                FROM json_each(new.attachments)), '')
            FROM search_docs WHERE room = new.room AND seq = new.seq;
    END;
";

/// A search of the cache: what it holds of the joined rooms, newest first.
#[derive(Debug)]
pub(crate) struct CacheSearch<'a> {
    pub query: &'a Query,
    pub room: Option<&'a str>,
    /// Continue after this (ts, room, seq).
    pub after: Option<(u64, String, u64)>,
    pub limit: u32,
}

impl Database {
    /// Up to `limit` hits and whether there are more.
    pub(crate) fn search(&self, s: &CacheSearch<'_>) -> Result<(Vec<SearchHit>, bool)> {
        let text = if s.query.has_text() {
            "JOIN message_search f ON f.rowid = d.id WHERE message_search MATCH ?1"
        } else {
            "WHERE ?1 IS NOT NULL"
        };
        let sql = format!(
            "SELECT m.room, m.seq, m.author, m.body, m.ts FROM search_docs d
             JOIN messages m ON m.room = d.room AND m.seq = d.seq {text}
               AND m.room IN (SELECT room FROM rooms WHERE joined = 1)
               AND (?2 IS NULL OR m.room = ?2)
               AND (?3 IS NULL OR lower(m.author) = ?3)
               AND (?4 IS NULL OR (m.ts, m.room, m.seq) < (?4, ?5, ?6))
               AND (?8 = 0 OR m.attachments IS NOT NULL)
             ORDER BY m.ts DESC, m.room DESC, m.seq DESC LIMIT ?7"
        );
        let after = s.after.as_ref();
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![
                s.query.fts5(),
                s.room,
                s.query.from,
                after.map(|a| a.0),
                after.map(|a| a.1.as_str()),
                after.map(|a| a.2),
                i64::from(s.limit) + 1,
                s.query.has_file,
            ],
            |r| {
                Ok(SearchHit {
                    room: r.get(0)?,
                    seq: r.get(1)?,
                    author: r.get(2)?,
                    body: r.get(3)?,
                    ts: r.get(4)?,
                    highlights: Vec::new(),
                })
            },
        )?;
        let mut hits = Vec::new();
        for row in rows {
            let mut hit = row?;
            hit.highlights = s.query.highlights(&hit.body);
            hits.push(hit);
        }
        let more = hits.len() > s.limit as usize;
        hits.truncate(s.limit as usize);
        Ok((hits, more))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::OutboxLimits;

    #[test]
    fn a_cache_from_before_search_is_indexed_when_opened() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        {
            let conn = rusqlite::Connection::open(dir.path().join("client.db"))
                .unwrap_or_else(|e| panic!("{e}"));
            conn.execute_batch(super::super::SCHEMA)
                .and_then(|_| conn.execute_batch(super::super::TO_V1))
                .and_then(|_| {
                    conn.execute_batch(
                        "INSERT INTO rooms (room, last_seq, joined) VALUES ('general', 2, 1);
                         INSERT INTO messages (room, seq, id, author, body, ts) VALUES
                            ('general', 1, 'a', 'alice', 'old news', 1),
                            ('general', 2, 'b', 'bob', 'newer news', 2);",
                    )
                })
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let db =
            Database::open(dir.path(), OutboxLimits::default()).unwrap_or_else(|e| panic!("{e}"));
        let query = Query::parse("news").unwrap_or_else(|e| panic!("{e}"));
        let search = CacheSearch {
            query: &query,
            room: None,
            after: None,
            limit: 10,
        };
        let (hits, more) = db.search(&search).unwrap_or_else(|e| panic!("{e}"));
        let bodies: Vec<&str> = hits.iter().map(|h| h.body.as_str()).collect();
        assert_eq!((bodies, more), (vec!["newer news", "old news"], false));
    }
}
