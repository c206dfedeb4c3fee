//! Users, logins and tokens. Token values never enter this module: callers pass SHA-256 hashes.

use crate::Result;
use crate::store::{AccessCheck, RefreshOutcome, TokenPairHashes, UserRecord, now_ms};
use rusqlite::{Connection, OptionalExtension, params};

const ACCESS: i64 = 0;
const REFRESH: i64 = 1;

/// Looks a user up by name, in any case.
pub(super) fn find_user(conn: &Connection, username: &str) -> Result<Option<UserRecord>> {
    Ok(conn
        .query_row(
            "SELECT id, username, password_hash, disabled, admin, display_name FROM users
             WHERE username = ?1",
            [username],
            |r| {
                Ok(UserRecord {
                    id: r.get(0)?,
                    username: r.get(1)?,
                    password_hash: r.get(2)?,
                    disabled: r.get(3)?,
                    admin: r.get(4)?,
                    display_name: r.get(5)?,
                })
            },
        )
        .optional()?)
}

/// Disables or re-enables an account; disabling also revokes every login. `false` if no such user.
pub(super) fn set_disabled(conn: &Connection, username: &str, disabled: bool) -> Result<bool> {
    let n = conn.execute(
        "UPDATE users SET disabled = ?2 WHERE username = ?1",
        params![username, disabled],
    )?;
    if disabled {
        conn.execute(
            "UPDATE logins SET revoked = 1 WHERE user_id = (SELECT id FROM users WHERE username = ?1)",
            [username],
        )?;
    }
    Ok(n == 1)
}

/// Starts a new login for `user_id` and stores its first token pair.
pub(super) fn start_login(conn: &Connection, user_id: i64, tokens: &TokenPairHashes) -> Result<()> {
    let now = now_ms();
    conn.execute(
        "INSERT INTO logins (user_id, created_ms) VALUES (?1, ?2)",
        params![user_id, now],
    )?;
    let login = conn.last_insert_rowid();
    store_pair(conn, login, tokens)?;
    // Housekeeping rides on logins: drop tokens that expired, so the table does not grow forever.
    conn.execute("DELETE FROM tokens WHERE expires_ms < ?1", [now])?;
    Ok(())
}

fn store_pair(conn: &Connection, login: i64, tokens: &TokenPairHashes) -> Result<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO tokens (hash, login_id, kind, expires_ms) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let (access, refresh) = (&tokens.access, &tokens.refresh);
    insert.execute(params![access.hash, login, ACCESS, access.expires_ms])?;
    insert.execute(params![refresh.hash, login, REFRESH, refresh.expires_ms])?;
    Ok(())
}

/// Checks an access token hash.
pub(super) fn check_access(conn: &Connection, hash: &[u8]) -> Result<AccessCheck> {
    // Every connection runs this: compiling the join took more than a third of the server's
    // instructions per authentication. Pooled reader connections keep it prepared.
    let row: Option<(String, bool, bool, u64, i64)> = conn
        .prepare_cached(
            "SELECT u.username, u.disabled, l.revoked, t.expires_ms, l.id FROM tokens t
             JOIN logins l ON l.id = t.login_id JOIN users u ON u.id = l.user_id
             WHERE t.hash = ?1 AND t.kind = ?2",
        )?
        .query_row(params![hash, ACCESS], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    Ok(match row {
        None => AccessCheck::Invalid,
        Some((_, true, ..)) => AccessCheck::Forbidden,
        Some((_, _, revoked, expires, _)) if revoked || expires <= now_ms() => AccessCheck::Invalid,
        Some((username, _, _, _, login)) => AccessCheck::Valid { username, login },
    })
}

/// Whether a login is still good for an open connection: not revoked, account not disabled.
/// Expiry does not matter here: a token is checked when a connection opens, not while it lives.
pub(super) fn check_login(conn: &Connection, login: i64) -> Result<AccessCheck> {
    let row: Option<(String, bool, bool)> = conn
        .prepare_cached(
            "SELECT u.username, u.disabled, l.revoked FROM logins l JOIN users u ON u.id = l.user_id
             WHERE l.id = ?1",
        )?
        .query_row([login], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    Ok(match row {
        // Disabling also revokes every login: the account state decides the close code.
        Some((_, true, _)) => AccessCheck::Forbidden,
        None | Some((_, _, true)) => AccessCheck::Invalid,
        Some((username, ..)) => AccessCheck::Valid { username, login },
    })
}

/// Spends a refresh token and stores the new pair in the same login. Reuse of a spent token is
/// taken as theft: the login is revoked, so neither the thief nor the victim keeps access.
pub(super) fn refresh(
    conn: &Connection,
    old: &[u8],
    tokens: &TokenPairHashes,
) -> Result<RefreshOutcome> {
    let row: Option<(i64, bool, u64, bool, bool)> = conn
        .query_row(
            "SELECT t.login_id, t.used, t.expires_ms, l.revoked, u.disabled FROM tokens t
             JOIN logins l ON l.id = t.login_id JOIN users u ON u.id = l.user_id
             WHERE t.hash = ?1 AND t.kind = ?2",
            params![old, REFRESH],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((login, used, expires, revoked, disabled)) = row else {
        return Ok(RefreshOutcome::Invalid);
    };
    if disabled {
        return Ok(RefreshOutcome::Forbidden);
    }
    if revoked || expires <= now_ms() {
        return Ok(RefreshOutcome::Invalid);
    }
    if used {
        revoke_login(conn, login)?;
        return Ok(RefreshOutcome::Reused);
    }
    conn.execute("UPDATE tokens SET used = 1 WHERE hash = ?1", [old])?;
    store_pair(conn, login, tokens)?;
    Ok(RefreshOutcome::Rotated)
}

/// Revokes the login a live access token or an unspent refresh token belongs to. `false` if
/// the token is neither. A spent refresh token does not count: whoever holds one is not the
/// client that signs out (reuse is handled by refresh, which revokes too).
pub(super) fn logout(conn: &Connection, token: &[u8]) -> Result<bool> {
    let login: Option<i64> = conn
        .query_row(
            "SELECT t.login_id FROM tokens t JOIN logins l ON l.id = t.login_id
             WHERE t.hash = ?1 AND (t.kind = ?2 OR (t.kind = ?3 AND t.used = 0))
               AND l.revoked = 0 AND t.expires_ms > ?4",
            params![token, ACCESS, REFRESH, now_ms()],
            |r| r.get(0),
        )
        .optional()?;
    match login {
        Some(login) => revoke_login(conn, login).map(|()| true),
        None => Ok(false),
    }
}

fn revoke_login(conn: &Connection, login: i64) -> Result<()> {
    conn.execute("UPDATE logins SET revoked = 1 WHERE id = ?1", [login])?;
    // Spent tokens stay until expiry so that reuse of one is still recognised as reuse.
    conn.execute(
        "DELETE FROM tokens WHERE login_id = ?1 AND used = 0",
        [login],
    )?;
    Ok(())
}

/// Sets (or with `None` clears) a user's display name; `false` if no such user.
pub(super) fn set_display_name(
    conn: &Connection,
    username: &str,
    name: Option<&str>,
) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE users SET display_name = ?2 WHERE username = ?1",
        rusqlite::params![username, name],
    )? == 1)
}

/// Up to `limit` users whose name or display name starts with `prefix` (any case), by name.
pub(super) fn search_users(
    conn: &Connection,
    prefix: &str,
    limit: usize,
) -> Result<Vec<confab_protocol::api::Profile>> {
    // LIKE's own wildcards in the prefix are taken literally.
    let pattern = format!(
        "{}%",
        prefix
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let mut stmt = conn.prepare_cached(
        "SELECT username, display_name FROM users WHERE NOT disabled
         AND (username LIKE ?1 ESCAPE '\\' OR display_name LIKE ?1 ESCAPE '\\')
         ORDER BY lower(username) LIMIT ?2",
    )?;
    let rows = stmt.query_map(rusqlite::params![pattern, limit as i64], |r| {
        Ok(confab_protocol::api::Profile {
            username: r.get(0)?,
            display_name: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
