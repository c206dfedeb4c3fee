//! Registration, invite codes and the administrator's account changes.

use crate::Result;
use crate::store::{NewAccount, NewInvite, Registered, now_ms};
use rusqlite::{Connection, params};

/// Creates an account if its admission allows it. Runs on the writer, so "the first account"
/// and spending an invite cannot race another registration.
pub(super) fn register(conn: &Connection, account: &NewAccount) -> Result<Registered> {
    let first: bool =
        conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0))?;
    let taken: bool = conn.query_row(
        &crate::store::lookalike_taken_sql("?1"),
        [&account.username],
        |r| r.get(0),
    )?;
    let spent = match account.admission.invite_to_spend(first, taken) {
        Some(code) => {
            let n = conn.execute(
                "UPDATE invites SET uses_left = uses_left - 1
                 WHERE hash = ?1 AND uses_left > 0 AND expires_ms > ?2",
                params![code, now_ms()],
            )?;
            n == 1
        }
        None => false,
    };
    let outcome = account.admission.decide(first, taken, spent);
    if let Registered::Created { admin } = outcome {
        conn.execute(
            "INSERT INTO users (username, password_hash, created_ms, admin) VALUES (?1, ?2, ?3, ?4)",
            params![account.username, account.password_hash, now_ms(), admin],
        )?;
    }
    Ok(outcome)
}

pub(super) fn create_invite(conn: &Connection, invite: &NewInvite) -> Result<()> {
    let now = now_ms();
    // Housekeeping rides on new invites: spent and expired ones are of no use.
    conn.execute(
        "DELETE FROM invites WHERE uses_left <= 0 OR expires_ms <= ?1",
        [now],
    )?;
    conn.execute(
        "INSERT INTO invites (hash, created_by, uses_left, expires_ms, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            invite.hash,
            invite.created_by,
            invite.uses,
            invite.expires_ms,
            now
        ],
    )?;
    Ok(())
}

/// Makes a user an administrator or not; `false` if no such user.
pub(super) fn set_admin(conn: &Connection, username: &str, admin: bool) -> Result<bool> {
    let n = conn.execute(
        "UPDATE users SET admin = ?2 WHERE username = ?1",
        params![username, admin],
    )?;
    Ok(n == 1)
}

/// Sets a new password and signs every device out; `false` if no such user.
pub(super) fn set_password(conn: &Connection, username: &str, hash: &str) -> Result<bool> {
    let n = conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE username = ?1",
        params![username, hash],
    )?;
    conn.execute(
        "UPDATE logins SET revoked = 1 WHERE user_id = (SELECT id FROM users WHERE username = ?1)",
        [username],
    )?;
    Ok(n == 1)
}
