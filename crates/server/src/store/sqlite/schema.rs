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
