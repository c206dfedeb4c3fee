//! Schema migrations, tracked in `PRAGMA user_version`.

use crate::{Error, Result};
use rusqlite::Connection;

/// Each entry moves the schema from version `i` to `i + 1`. Append only: never edit a shipped one.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        disabled      INTEGER NOT NULL DEFAULT 0,
        created_ms    INTEGER NOT NULL
    );
    -- A login is one sign-in on one device: a family of rotated tokens revoked together.
    CREATE TABLE logins (
        id         INTEGER PRIMARY KEY,
        user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_ms INTEGER NOT NULL,
        revoked    INTEGER NOT NULL DEFAULT 0
    );
    -- Only SHA-256 hashes of tokens are stored; a leaked database reveals no usable token.
    CREATE TABLE tokens (
        hash       BLOB PRIMARY KEY,
        login_id   INTEGER NOT NULL REFERENCES logins(id) ON DELETE CASCADE,
        kind       INTEGER NOT NULL,  -- 0 access, 1 refresh
        expires_ms INTEGER NOT NULL,
        used       INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE INDEX tokens_login ON tokens(login_id);
    CREATE INDEX tokens_expiry ON tokens(expires_ms);
    CREATE TABLE rooms (
        id       INTEGER PRIMARY KEY,
        name     TEXT NOT NULL UNIQUE,
        last_seq INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE messages (
        room_id   INTEGER NOT NULL REFERENCES rooms(id),
        seq       INTEGER NOT NULL,
        client_id TEXT NOT NULL,
        author    TEXT NOT NULL,
        body      TEXT NOT NULL,
        ts_ms     INTEGER NOT NULL,
        PRIMARY KEY (room_id, seq)
    ) WITHOUT ROWID;
    -- Idempotent sends: one author cannot store the same client id twice.
    CREATE UNIQUE INDEX messages_dedup ON messages(author, client_id);
"#,
    r#"
    -- Who may register: server administrators, and the invite codes they make.
    ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
    -- A server from before administrators existed: its oldest account becomes one.
    UPDATE users SET admin = 1 WHERE id = (SELECT min(id) FROM users);
    CREATE TABLE invites (
        hash       BLOB PRIMARY KEY,  -- SHA-256 of the code; the code itself is shown once
        created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
        uses_left  INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL,
        created_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
"#,
    r#"
    -- Conversations: who may see a room, who is in it, what each member has read.
    ALTER TABLE users ADD COLUMN display_name TEXT;
    ALTER TABLE rooms ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public';
    -- A room's stream holds messages and membership events; `data` is an event's JSON.
    ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'message';
    ALTER TABLE messages ADD COLUMN data TEXT;
    -- The members a message mentions, lower case, space-separated (NULL: none).
    ALTER TABLE messages ADD COLUMN mentions TEXT;
    -- One row per user who was ever a member; `removed_seq` is set while they are not (the
    -- seq of their kick or part), which is where a private room's stream ends for them.
    CREATE TABLE members (
        room_id     INTEGER NOT NULL REFERENCES rooms(id),
        user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        role        TEXT NOT NULL DEFAULT 'member',
        read_seq    INTEGER NOT NULL DEFAULT 0,
        removed_seq INTEGER,
        PRIMARY KEY (room_id, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX members_user ON members(user_id);
    -- Unread mentions are counted from here.
    CREATE TABLE mentions (
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        room_id INTEGER NOT NULL REFERENCES rooms(id),
        seq     INTEGER NOT NULL,
        PRIMARY KEY (user_id, room_id, seq)
    ) WITHOUT ROWID;
    -- Rooms from before membership: whoever posted in one is a member, and has read it.
    INSERT OR IGNORE INTO members (room_id, user_id, read_seq)
        SELECT DISTINCT m.room_id, u.id, r.last_seq FROM messages m
        JOIN rooms r ON r.id = m.room_id
        JOIN users u ON u.username = m.author COLLATE NOCASE;
"#,
    r#"
    -- Messages that change: an edit, delete or reaction row names its `target` message; the
    -- target keeps its current state (body, when edited, deleted), so history reads it as is.
    ALTER TABLE messages ADD COLUMN target INTEGER;
    ALTER TABLE messages ADD COLUMN reply_to INTEGER;
    ALTER TABLE messages ADD COLUMN edited_ms INTEGER;
    ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX messages_target ON messages(room_id, target) WHERE target IS NOT NULL;
    -- Who reacted with what: a set, so adding a reaction twice changes nothing.
    CREATE TABLE reactions (
        room_id INTEGER NOT NULL REFERENCES rooms(id),
        seq     INTEGER NOT NULL,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        emoji   TEXT NOT NULL,
        PRIMARY KEY (room_id, seq, user_id, emoji)
    ) WITHOUT ROWID;
"#,
    r#"
    -- Search: each message's current text in a contentless FTS5 index (the text stays in
    -- `messages` alone). `search_docs` numbers messages as they are stored, and that number is
    -- the index's rowid, so newest first is the index's own order. Accents are kept, as the
    -- PostgreSQL backend keeps them.
    CREATE TABLE search_docs (
        id      INTEGER PRIMARY KEY,
        room_id INTEGER NOT NULL,
        seq     INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX search_docs_message ON search_docs(room_id, seq);
    CREATE VIRTUAL TABLE message_search USING fts5(
        body, content = '', contentless_delete = 1, prefix = '3',
        tokenize = 'unicode61 remove_diacritics 0'
    );
    INSERT INTO search_docs (room_id, seq)
        SELECT room_id, seq FROM messages WHERE kind = 'message' AND deleted = 0
        ORDER BY ts_ms, room_id, seq;
    INSERT INTO message_search (rowid, body)
        SELECT d.id, m.body FROM search_docs d
        JOIN messages m ON m.room_id = d.room_id AND m.seq = d.seq;
"#,
    r#"
    -- Attachments: one record per uploader and content (the bytes are stored once per
    -- content, outside the database), and which messages carry which file, which is who may
    -- download it. A message's attachments as it shows them are in its `data`.
    CREATE TABLE files (
        id          TEXT PRIMARY KEY,
        uploader_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        sha256      TEXT NOT NULL,
        size        INTEGER NOT NULL,
        mime        TEXT NOT NULL,
        name        TEXT NOT NULL,
        created_ms  INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX files_content ON files(uploader_id, sha256);
    CREATE TABLE attachments (
        room_id INTEGER NOT NULL REFERENCES rooms(id),
        seq     INTEGER NOT NULL,
        file_id TEXT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        PRIMARY KEY (room_id, seq, file_id)
    ) WITHOUT ROWID;
    CREATE INDEX attachments_file ON attachments(file_id);
"#,
];

/// The newest schema version this server knows.
pub(super) fn supported() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the database up to the newest schema; refuses one written by a newer server.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let supported = MIGRATIONS.len() as i64;
    if found > supported {
        return Err(Error::SchemaTooNew { found, supported });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database from before administrators and conversations, as an older server left it.
    fn version_1() -> Connection {
        let conn = Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        conn.execute_batch(MIGRATIONS[0])
            .unwrap_or_else(|e| panic!("{e}"));
        conn.pragma_update(None, "user_version", 1)
            .unwrap_or_else(|e| panic!("{e}"));
        conn.execute_batch(
            "INSERT INTO users (username, password_hash, created_ms) VALUES
                ('alice', 'h', 1), ('Bob', 'h', 2), ('lurker', 'h', 3);
             INSERT INTO rooms (name, last_seq) VALUES ('general', 3);
             INSERT INTO messages (room_id, seq, client_id, author, body, ts_ms) VALUES
                (1, 1, 'a', 'alice', 'hi', 1), (1, 2, 'b', 'bob', 'hey', 2),
                (1, 3, 'c', 'alice', 'bye', 3);",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        conn
    }

    #[test]
    fn an_old_database_gains_an_administrator_and_its_posters_as_members_who_have_read_it() {
        let mut conn = version_1();
        migrate(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        let admins: Vec<String> = conn
            .prepare("SELECT username FROM users WHERE admin ORDER BY id")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            admins,
            ["alice"],
            "the oldest account administers the server"
        );
        let members: Vec<(String, String, u64)> = conn
            .prepare(
                "SELECT u.username, mb.role, mb.read_seq FROM members mb
                 JOIN users u ON u.id = mb.user_id ORDER BY u.id",
            )
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            members,
            [
                ("alice".to_owned(), "member".to_owned(), 3),
                ("Bob".to_owned(), "member".to_owned(), 3)
            ],
            "posters are members (in any case) with nothing unread; a reader joins again"
        );
        let (visibility, kind): (String, String) = conn
            .query_row(
                "SELECT r.visibility, m.kind FROM rooms r JOIN messages m ON m.room_id = r.id LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((visibility.as_str(), kind.as_str()), ("public", "message"));
        migrate(&mut conn).unwrap_or_else(|e| panic!("migrating again: {e}"));
    }

    #[test]
    fn an_old_databases_messages_are_indexed_for_search_oldest_first() {
        let mut conn = version_1();
        migrate(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        let found: Vec<(i64, u64)> = conn
            .prepare(
                "SELECT d.id, d.seq FROM message_search s JOIN search_docs d ON d.id = s.rowid
                 WHERE message_search MATCH '\"h\"*' ORDER BY s.rowid DESC",
            )
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            found,
            [(2, 2), (1, 1)],
            "hi and hey, numbered in the order they were stored"
        );
    }
}
