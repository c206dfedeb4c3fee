//! The statements of the Postgres backend: the same reads and writes as `sqlite/messages.rs` and
//! `sqlite/users.rs`, each on a client or a transaction given by the caller. Statements that run
//! per message or per connection are prepared once per pooled connection (`prepare_cached`).

use crate::Result;
use crate::store::types::Inserted;
use crate::store::{
    AccessCheck, NewMessage, RefreshOutcome, SendOutcome, TokenPairHashes, UserRecord, now_ms,
};
use confab_protocol::MessageData;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

const ACCESS: i16 = 0;
const REFRESH: i16 = 1;

/// What this author stored under this client id before, if anything.
pub(super) async fn prior_send<C: GenericClient>(
    c: &C,
    author: &str,
    client_id: &str,
    room: &str,
) -> Result<Option<SendOutcome>> {
    let stmt = c
        .prepare_cached(
            "SELECT r.name, m.seq FROM messages m JOIN rooms r ON r.id = m.room_id
             WHERE m.author = $1 AND m.client_id = $2",
        )
        .await?;
    Ok(c.query_opt(&stmt, &[&author, &client_id])
        .await?
        .map(|row| {
            let (name, seq): (String, i64) = (row.get(0), row.get(1));
            if name == room {
                SendOutcome::Duplicate { seq: seq as u64 }
            } else {
                SendOutcome::IdReused { room: name }
            }
        }))
}

/// Stores `msg` with the room's next seq, unless its id was seen before. The room row must
/// exist; the caller's transaction holds its lock until commit (see `super::writer`).
pub(super) async fn insert<C: GenericClient>(c: &C, msg: &NewMessage) -> Result<Inserted> {
    if let Some(outcome) = prior_send(c, &msg.author, &msg.client_id, &msg.room).await? {
        return Ok(Inserted::Not(outcome));
    }
    let bump = c
        .prepare_cached(
            "UPDATE rooms SET last_seq = last_seq + 1 WHERE name = $1 RETURNING id, last_seq",
        )
        .await?;
    let row = c.query_one(&bump, &[&msg.room]).await?;
    let (room_id, seq): (i64, i64) = (row.get(0), row.get(1));
    let ts = now_ms();
    let store = c
        .prepare_cached(
            "INSERT INTO messages (room_id, seq, client_id, author, body, ts_ms)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await?;
    c.execute(
        &store,
        &[
            &room_id,
            &seq,
            &msg.client_id,
            &msg.author,
            &msg.body,
            &(ts as i64),
        ],
    )
    .await?;
    Ok(Inserted::New(MessageData {
        room: msg.room.clone(),
        seq: seq as u64,
        id: msg.client_id.clone(),
        author: msg.author.clone(),
        body: msg.body.clone(),
        ts,
    }))
}

pub(super) async fn last_seq<C: GenericClient>(c: &C, room: &str) -> Result<u64> {
    let stmt = c
        .prepare_cached("SELECT last_seq FROM rooms WHERE name = $1")
        .await?;
    let seq = c.query_opt(&stmt, &[&room]).await?;
    Ok(seq.map_or(0, |row| row.get::<_, i64>(0) as u64))
}

pub(super) async fn last_seqs<C: GenericClient>(
    c: &C,
    rooms: &[&str],
) -> Result<Vec<(String, u64)>> {
    let stmt = c
        .prepare_cached("SELECT name, last_seq FROM rooms WHERE name = ANY($1)")
        .await?;
    let rows = c.query(&stmt, &[&rooms]).await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
        .collect())
}

pub(super) async fn after<C: GenericClient>(
    c: &C,
    room: &str,
    after: u64,
    limit: usize,
) -> Result<Vec<MessageData>> {
    let stmt = c
        .prepare_cached(
            "SELECT m.seq, m.client_id, m.author, m.body, m.ts_ms FROM messages m
             JOIN rooms r ON r.id = m.room_id
             WHERE r.name = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3",
        )
        .await?;
    let rows = c
        .query(&stmt, &[&room, &(after as i64), &(limit as i64)])
        .await?;
    Ok(rows.iter().map(|r| message(room, r)).collect())
}

pub(super) async fn before<C: GenericClient>(
    c: &C,
    room: &str,
    before: u64,
    limit: usize,
) -> Result<(Vec<MessageData>, bool)> {
    let stmt = c
        .prepare_cached(
            "SELECT m.seq, m.client_id, m.author, m.body, m.ts_ms FROM messages m
             JOIN rooms r ON r.id = m.room_id
             WHERE r.name = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3",
        )
        .await?;
    let before = before.min(i64::MAX as u64) as i64;
    let rows = c
        .query(&stmt, &[&room, &before, &(limit as i64 + 1)])
        .await?;
    let mut messages: Vec<MessageData> = rows.iter().map(|r| message(room, r)).collect();
    let more = messages.len() > limit;
    messages.truncate(limit);
    messages.reverse();
    Ok((messages, more))
}

fn message(room: &str, r: &Row) -> MessageData {
    MessageData {
        room: room.to_owned(),
        seq: r.get::<_, i64>(0) as u64,
        id: r.get(1),
        author: r.get(2),
        body: r.get(3),
        ts: r.get::<_, i64>(4) as u64,
    }
}

pub(super) async fn find_user<C: GenericClient>(
    c: &C,
    username: &str,
) -> Result<Option<UserRecord>> {
    let stmt = c
        .prepare_cached(
            "SELECT id, username, password_hash, disabled, admin FROM users
             WHERE lower(username) = lower($1)",
        )
        .await?;
    Ok(c.query_opt(&stmt, &[&username]).await?.map(|r| UserRecord {
        id: r.get(0),
        username: r.get(1),
        password_hash: r.get(2),
        disabled: r.get(3),
        admin: r.get(4),
    }))
}

pub(super) async fn set_disabled<C: GenericClient>(
    c: &C,
    username: &str,
    disabled: bool,
) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE users SET disabled = $2 WHERE lower(username) = lower($1)",
            &[&username, &disabled],
        )
        .await?;
    if disabled {
        c.execute(
            "UPDATE logins SET revoked = TRUE
             WHERE user_id = (SELECT id FROM users WHERE lower(username) = lower($1))",
            &[&username],
        )
        .await?;
    }
    Ok(n == 1)
}

pub(super) async fn start_login<C: GenericClient>(
    c: &C,
    user_id: i64,
    tokens: &TokenPairHashes,
) -> Result<()> {
    let now = now_ms() as i64;
    let login: i64 = c
        .query_one(
            "INSERT INTO logins (user_id, created_ms) VALUES ($1, $2) RETURNING id",
            &[&user_id, &now],
        )
        .await?
        .get(0);
    store_pair(c, login, tokens).await?;
    // Housekeeping rides on logins: drop tokens that expired, so the table does not grow forever.
    c.execute("DELETE FROM tokens WHERE expires_ms < $1", &[&now])
        .await?;
    Ok(())
}

async fn store_pair<C: GenericClient>(c: &C, login: i64, tokens: &TokenPairHashes) -> Result<()> {
    let insert = c
        .prepare_cached(
            "INSERT INTO tokens (hash, login_id, kind, expires_ms) VALUES ($1, $2, $3, $4)",
        )
        .await?;
    for (token, kind) in [(&tokens.access, ACCESS), (&tokens.refresh, REFRESH)] {
        let expires = token.expires_ms as i64;
        c.execute(&insert, &[&token.hash, &login, &kind, &expires])
            .await?;
    }
    Ok(())
}

pub(super) async fn check_access<C: GenericClient>(c: &C, hash: &[u8]) -> Result<AccessCheck> {
    let stmt = c
        .prepare_cached(
            "SELECT u.username, u.disabled, l.revoked, t.expires_ms, l.id FROM tokens t
             JOIN logins l ON l.id = t.login_id JOIN users u ON u.id = l.user_id
             WHERE t.hash = $1 AND t.kind = $2",
        )
        .await?;
    let row = c.query_opt(&stmt, &[&hash, &ACCESS]).await?;
    Ok(match row {
        None => AccessCheck::Invalid,
        Some(r) if r.get::<_, bool>(1) => AccessCheck::Forbidden,
        Some(r) if r.get::<_, bool>(2) || r.get::<_, i64>(3) as u64 <= now_ms() => {
            AccessCheck::Invalid
        }
        Some(r) => AccessCheck::Valid {
            username: r.get(0),
            login: r.get(4),
        },
    })
}

pub(super) async fn check_login<C: GenericClient>(c: &C, login: i64) -> Result<AccessCheck> {
    let stmt = c
        .prepare_cached(
            "SELECT u.username, u.disabled, l.revoked FROM logins l
             JOIN users u ON u.id = l.user_id WHERE l.id = $1",
        )
        .await?;
    Ok(match c.query_opt(&stmt, &[&login]).await? {
        // Disabling also revokes every login: the account state decides the close code.
        Some(r) if r.get::<_, bool>(1) => AccessCheck::Forbidden,
        None => AccessCheck::Invalid,
        Some(r) if r.get::<_, bool>(2) => AccessCheck::Invalid,
        Some(r) => AccessCheck::Valid {
            username: r.get(0),
            login,
        },
    })
}

/// Run inside a transaction: the token row is locked, so two nodes exchanging the same refresh
/// token at once cannot both see it unspent.
pub(super) async fn refresh<C: GenericClient>(
    c: &C,
    old: &[u8],
    tokens: &TokenPairHashes,
) -> Result<RefreshOutcome> {
    let row = c
        .query_opt(
            "SELECT t.login_id, t.used, t.expires_ms, l.revoked, u.disabled FROM tokens t
             JOIN logins l ON l.id = t.login_id JOIN users u ON u.id = l.user_id
             WHERE t.hash = $1 AND t.kind = $2 FOR UPDATE OF t",
            &[&old, &REFRESH],
        )
        .await?;
    let Some(r) = row else {
        return Ok(RefreshOutcome::Invalid);
    };
    let (login, used, expires): (i64, bool, i64) = (r.get(0), r.get(1), r.get(2));
    let (revoked, disabled): (bool, bool) = (r.get(3), r.get(4));
    if disabled {
        return Ok(RefreshOutcome::Forbidden);
    }
    if revoked || expires as u64 <= now_ms() {
        return Ok(RefreshOutcome::Invalid);
    }
    if used {
        revoke_login(c, login).await?;
        return Ok(RefreshOutcome::Reused);
    }
    c.execute("UPDATE tokens SET used = TRUE WHERE hash = $1", &[&old])
        .await?;
    store_pair(c, login, tokens).await?;
    Ok(RefreshOutcome::Rotated)
}

pub(super) async fn logout<C: GenericClient>(c: &C, access: &[u8]) -> Result<bool> {
    let login = c
        .query_opt(
            "SELECT t.login_id FROM tokens t JOIN logins l ON l.id = t.login_id
             WHERE t.hash = $1 AND t.kind = $2 AND NOT l.revoked AND t.expires_ms > $3",
            &[&access, &ACCESS, &(now_ms() as i64)],
        )
        .await?;
    match login {
        Some(row) => revoke_login(c, row.get(0)).await.map(|()| true),
        None => Ok(false),
    }
}

async fn revoke_login<C: GenericClient>(c: &C, login: i64) -> Result<()> {
    c.execute("UPDATE logins SET revoked = TRUE WHERE id = $1", &[&login])
        .await?;
    // Spent tokens stay until expiry so that reuse of one is still recognised as reuse.
    c.execute(
        "DELETE FROM tokens WHERE login_id = $1 AND NOT used",
        &[&login],
    )
    .await?;
    Ok(())
}
