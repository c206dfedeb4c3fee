//! Registration, invite codes and the administrator's account changes (as
//! `sqlite/accounts.rs`).

use crate::Result;
use crate::store::{NewAccount, NewInvite, Registered, now_ms};
use deadpool_postgres::{GenericClient, Transaction};

/// Names the advisory lock registrations take: two first accounts registering at once on two
/// nodes must not both become administrators.
const REGISTER_LOCK: i64 = 0x7265_6769_7374;

pub(super) async fn register(tx: &Transaction<'_>, account: &NewAccount) -> Result<Registered> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&REGISTER_LOCK])
        .await?;
    let first: bool = tx
        .query_one("SELECT NOT EXISTS (SELECT 1 FROM users)", &[])
        .await?
        .get(0);
    let taken: bool = tx
        .query_one(
            crate::store::lookalike_taken_sql("$1").as_str(),
            &[&account.username],
        )
        .await?
        .get(0);
    let spent = match account.admission.invite_to_spend(first, taken) {
        Some(code) => {
            let n = tx
                .execute(
                    "UPDATE invites SET uses_left = uses_left - 1
                     WHERE hash = $1 AND uses_left > 0 AND expires_ms > $2",
                    &[&code, &(now_ms() as i64)],
                )
                .await?;
            n == 1
        }
        None => false,
    };
    let outcome = account.admission.decide(first, taken, spent);
    if let Registered::Created { admin } = outcome {
        tx.execute(
            "INSERT INTO users (username, password_hash, created_ms, admin) VALUES ($1, $2, $3, $4)",
            &[
                &account.username,
                &account.password_hash,
                &(now_ms() as i64),
                &admin,
            ],
        )
        .await?;
    }
    Ok(outcome)
}

pub(super) async fn create_invite<C: GenericClient>(c: &C, invite: &NewInvite) -> Result<()> {
    let now = now_ms() as i64;
    c.execute(
        "DELETE FROM invites WHERE uses_left <= 0 OR expires_ms <= $1",
        &[&now],
    )
    .await?;
    c.execute(
        "INSERT INTO invites (hash, created_by, uses_left, expires_ms, created_ms)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &invite.hash,
            &invite.created_by,
            &(invite.uses.min(i32::MAX as u32) as i32),
            &(invite.expires_ms.min(i64::MAX as u64) as i64),
            &now,
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn set_admin<C: GenericClient>(
    c: &C,
    username: &str,
    admin: bool,
) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE users SET admin = $2 WHERE lower(username) = lower($1)",
            &[&username, &admin],
        )
        .await?;
    Ok(n == 1)
}

pub(super) async fn set_password(tx: &Transaction<'_>, username: &str, hash: &str) -> Result<bool> {
    let n = tx
        .execute(
            "UPDATE users SET password_hash = $2 WHERE lower(username) = lower($1)",
            &[&username, &hash],
        )
        .await?;
    tx.execute(
        "UPDATE logins SET revoked = TRUE
         WHERE user_id = (SELECT id FROM users WHERE lower(username) = lower($1))",
        &[&username],
    )
    .await?;
    Ok(n == 1)
}
