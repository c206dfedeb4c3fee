//! Schema migrations for PostgreSQL, tracked in `confab_schema`. Several nodes may start at once:
//! a transaction-scoped advisory lock lets one migrate while the others wait, then find nothing
//! to do.

use crate::{Error, Result};
use tokio_postgres::Client;

/// Each entry moves the schema from version `i` to `i + 1`. Append only: never edit a shipped
/// one. The tables mirror the SQLite backend's (see `sqlite/schema.rs`), in Postgres types.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE users (
        id            BIGSERIAL PRIMARY KEY,
        username      TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        disabled      BOOLEAN NOT NULL DEFAULT FALSE,
        created_ms    BIGINT NOT NULL
    );
    -- Usernames are ASCII (protocol rule) and unique in any case, as SQLite's NOCASE makes them.
    CREATE UNIQUE INDEX users_username ON users (lower(username));
    -- A login is one sign-in on one device: a family of rotated tokens revoked together.
    CREATE TABLE logins (
        id         BIGSERIAL PRIMARY KEY,
        user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_ms BIGINT NOT NULL,
        revoked    BOOLEAN NOT NULL DEFAULT FALSE
    );
    -- Only SHA-256 hashes of tokens are stored; a leaked database reveals no usable token.
    CREATE TABLE tokens (
        hash       BYTEA PRIMARY KEY,
        login_id   BIGINT NOT NULL REFERENCES logins(id) ON DELETE CASCADE,
        kind       SMALLINT NOT NULL,  -- 0 access, 1 refresh
        expires_ms BIGINT NOT NULL,
        used       BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE INDEX tokens_login ON tokens(login_id);
    CREATE INDEX tokens_expiry ON tokens(expires_ms);
    -- last_seq is the room's counter: a send increments it under the row lock, so writers on
    -- every node take turns, and a rolled-back send gives its number back (a SEQUENCE would not).
    CREATE TABLE rooms (
        id       BIGSERIAL PRIMARY KEY,
        name     TEXT NOT NULL UNIQUE,
        last_seq BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE messages (
        room_id   BIGINT NOT NULL REFERENCES rooms(id),
        seq       BIGINT NOT NULL,
        client_id TEXT NOT NULL,
        author    TEXT NOT NULL,
        body      TEXT NOT NULL,
        ts_ms     BIGINT NOT NULL,
        PRIMARY KEY (room_id, seq)
    );
    -- Idempotent sends: one author cannot store the same client id twice.
    CREATE UNIQUE INDEX messages_dedup ON messages(author, client_id);
"#,
    r#"
    -- Administrators and invite codes: see the same migration in sqlite/schema.rs.
    ALTER TABLE users ADD COLUMN admin BOOLEAN NOT NULL DEFAULT FALSE;
    UPDATE users SET admin = TRUE WHERE id = (SELECT min(id) FROM users);
    CREATE TABLE invites (
        hash       BYTEA PRIMARY KEY,
        created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
        uses_left  INTEGER NOT NULL,
        expires_ms BIGINT NOT NULL,
        created_ms BIGINT NOT NULL
    );
"#,
    r#"
    -- Conversations: see the same migration in sqlite/schema.rs.
    ALTER TABLE users ADD COLUMN display_name TEXT;
    ALTER TABLE rooms ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public';
    ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'message';
    ALTER TABLE messages ADD COLUMN data TEXT;
    ALTER TABLE messages ADD COLUMN mentions TEXT;
    CREATE TABLE members (
        room_id     BIGINT NOT NULL REFERENCES rooms(id),
        user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        role        TEXT NOT NULL DEFAULT 'member',
        read_seq    BIGINT NOT NULL DEFAULT 0,
        removed_seq BIGINT,
        PRIMARY KEY (room_id, user_id)
    );
    CREATE INDEX members_user ON members(user_id);
    CREATE TABLE mentions (
        user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        room_id BIGINT NOT NULL REFERENCES rooms(id),
        seq     BIGINT NOT NULL,
        PRIMARY KEY (user_id, room_id, seq)
    );
    INSERT INTO members (room_id, user_id, read_seq)
        SELECT DISTINCT m.room_id, u.id, r.last_seq FROM messages m
        JOIN rooms r ON r.id = m.room_id
        JOIN users u ON lower(u.username) = lower(m.author)
        ON CONFLICT DO NOTHING;
"#,
    r#"
    -- Messages that change: see the same migration in sqlite/schema.rs.
    ALTER TABLE messages ADD COLUMN target BIGINT;
    ALTER TABLE messages ADD COLUMN reply_to BIGINT;
    ALTER TABLE messages ADD COLUMN edited_ms BIGINT;
    ALTER TABLE messages ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT FALSE;
    CREATE INDEX messages_target ON messages(room_id, target) WHERE target IS NOT NULL;
    CREATE TABLE reactions (
        room_id BIGINT NOT NULL REFERENCES rooms(id),
        seq     BIGINT NOT NULL,
        user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        emoji   TEXT NOT NULL,
        PRIMARY KEY (room_id, seq, user_id, emoji)
    );
"#,
    r#"
    -- Search: a message's current text as the words the server splits it into (lower case,
    -- joined by spaces, NULL once deleted), so Postgres' parser finds the same words SQLite's
    -- FTS5 does. Older rows get a close approximation.
    ALTER TABLE messages ADD COLUMN search_text TEXT;
    UPDATE messages SET search_text = btrim(lower(regexp_replace(body, '[^[:alnum:]]+', ' ', 'g')))
        WHERE kind = 'message' AND NOT deleted;
    CREATE INDEX messages_search ON messages USING gin (to_tsvector('simple', search_text))
        WHERE search_text IS NOT NULL;
    -- Newest first across rooms, for searches by filters alone.
    CREATE INDEX messages_recent ON messages (ts_ms DESC, room_id DESC, seq DESC)
        WHERE search_text IS NOT NULL;
"#,
    r#"
    -- Attachments (as SQLite's migration 6): a record per uploader and content, and which
    -- messages carry which file.
    CREATE TABLE files (
        id          TEXT PRIMARY KEY,
        uploader_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        sha256      TEXT NOT NULL,
        size        BIGINT NOT NULL,
        mime        TEXT NOT NULL,
        name        TEXT NOT NULL,
        created_ms  BIGINT NOT NULL,
        UNIQUE (uploader_id, sha256)
    );
    CREATE TABLE attachments (
        room_id BIGINT NOT NULL REFERENCES rooms(id),
        seq     BIGINT NOT NULL,
        file_id TEXT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        PRIMARY KEY (room_id, seq, file_id)
    );
    CREATE INDEX attachments_file ON attachments(file_id);
"#,
];

/// Names the advisory lock every node takes to migrate: "confab" in ASCII.
const MIGRATION_LOCK: i64 = 0x636f_6e66_6162;

/// Brings the database up to the newest schema; refuses one written by a newer server.
pub(super) async fn migrate(client: &mut Client) -> Result<()> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS confab_schema (version INTEGER NOT NULL)")
        .await?;
    let found: i64 = match tx
        .query_opt("SELECT version FROM confab_schema", &[])
        .await?
    {
        Some(row) => i64::from(row.get::<_, i32>(0)),
        None => {
            tx.execute("INSERT INTO confab_schema (version) VALUES (0)", &[])
                .await?;
            0
        }
    };
    let supported = MIGRATIONS.len() as i64;
    if found > supported {
        return Err(Error::SchemaTooNew { found, supported });
    }
    for sql in MIGRATIONS.iter().skip(found as usize) {
        tx.batch_execute(sql).await?;
    }
    tx.execute(
        "UPDATE confab_schema SET version = $1",
        &[&(supported as i32)],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
