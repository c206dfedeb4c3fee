//! The account and login statements of the Postgres backend: the same reads and writes as
//! `sqlite/users.rs`, each on a client or a transaction given by the caller. Statements that run
//! per message or per connection are prepared once per pooled connection (`prepare_cached`).

use crate::Result;
use crate::store::{AccessCheck, RefreshOutcome, TokenPairHashes, UserRecord, now_ms};
use deadpool_postgres::GenericClient;

const ACCESS: i16 = 0;
const REFRESH: i16 = 1;

pub(super) async fn find_user<C: GenericClient>(
    c: &C,
    username: &str,
) -> Result<Option<UserRecord>> {
    let stmt = c
        .prepare_cached(
            "SELECT id, username, password_hash, disabled, admin, display_name FROM users
             WHERE lower(username) = lower($1)",
        )
        .await?;
    Ok(c.query_opt(&stmt, &[&username]).await?.map(|r| UserRecord {
        id: r.get(0),
        username: r.get(1),
        password_hash: r.get(2),
        disabled: r.get(3),
        admin: r.get(4),
        display_name: r.get(5),
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

/// See the SQLite twin: a live access token or an unspent refresh token names the login.
pub(super) async fn logout<C: GenericClient>(c: &C, token: &[u8]) -> Result<bool> {
    let login = c
        .query_opt(
            "SELECT t.login_id FROM tokens t JOIN logins l ON l.id = t.login_id
             WHERE t.hash = $1 AND (t.kind = $2 OR (t.kind = $3 AND NOT t.used))
               AND NOT l.revoked AND t.expires_ms > $4",
            &[&token, &ACCESS, &REFRESH, &(now_ms() as i64)],
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

pub(super) async fn set_display_name<C: GenericClient>(
    c: &C,
    username: &str,
    name: Option<&str>,
) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE users SET display_name = $2 WHERE lower(username) = lower($1)",
            &[&username, &name],
        )
        .await?;
    Ok(n == 1)
}

pub(super) async fn search_users<C: GenericClient>(
    c: &C,
    prefix: &str,
    limit: usize,
) -> Result<Vec<confab_protocol::api::Profile>> {
    let pattern = format!(
        "{}%",
        prefix
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let rows = c
        .query(
            "SELECT username, display_name FROM users WHERE NOT disabled
             AND (username ILIKE $1 OR display_name ILIKE $1)
             ORDER BY lower(username) LIMIT $2",
            &[&pattern, &(limit as i64)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| confab_protocol::api::Profile {
            username: r.get(0),
            display_name: r.get(1),
        })
        .collect())
}
