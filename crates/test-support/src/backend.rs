//! Which storage backend test servers use. SQLite by default; with `CONFAB_TEST_POSTGRES` set
//! to the URL of a PostgreSQL cluster (scripts/services.sh starts a private one), every
//! [`crate::TestServer`] gets a fresh database of its own in that cluster, so the same
//! integration tests prove both backends.

use confab_server::store::Database;
use std::path::Path;

/// The variable naming a PostgreSQL cluster for the tests (any database in it: the tests create
/// their own next to it).
pub const POSTGRES_VAR: &str = "CONFAB_TEST_POSTGRES";

/// The backend the tests were asked to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Set by scripts/test.sh for its PostgreSQL step: without [`POSTGRES_VAR`] the tests then fail
/// instead of running on SQLite (and skipping what needs PostgreSQL) as if all were well.
pub const REQUIRE_VAR: &str = "CONFAB_TEST_REQUIRE_POSTGRES";

impl Backend {
    pub fn current() -> Self {
        match std::env::var_os(POSTGRES_VAR) {
            Some(url) if !url.is_empty() => Self::Postgres,
            _ => {
                assert!(
                    std::env::var_os(REQUIRE_VAR).is_none(),
                    "{REQUIRE_VAR} is set but {POSTGRES_VAR} is not: PostgreSQL did not start"
                );
                Self::Sqlite
            }
        }
    }
}

/// A new, empty database for one test server: a file in `dir`, or a new database in the
/// PostgreSQL cluster.
pub async fn new_database(dir: &Path) -> Database {
    match Backend::current() {
        Backend::Sqlite => Database::Sqlite(dir.join("confab.db")),
        Backend::Postgres => Database::Postgres(create_postgres_database().await),
    }
}

async fn create_postgres_database() -> String {
    create_database(&std::env::var(POSTGRES_VAR).unwrap_or_default()).await
}

/// A new, empty database in the PostgreSQL cluster at `base` (any database URL of it); returns
/// its URL.
pub async fn create_database(base: &str) -> String {
    let (client, connection) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {base}: {e}"));
    tokio::spawn(connection);
    let name = format!("confab_test_{:016x}", rand_u64());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    with_database(base, &name)
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (path, query) = url
        .split_once('?')
        .map_or((url, None), |(p, q)| (p, Some(q)));
    let scheme_end = path.find("://").map_or(0, |i| i + 3);
    let host_end = path[scheme_end..]
        .find('/')
        .map_or(path.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &path[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    RandomState::new().hash_one((nanos, std::process::id()))
}

/// PostgreSQL has no `max_db_bytes`; tests that fill the disk get the same failure from a
/// trigger: an insert that would take the messages' bodies past `cap` bytes fails with
/// `disk_full` (SQLSTATE 53100), as a full tablespace would. Waits for the server to have
/// created its tables.
pub async fn cap_postgres_storage(url: &str, cap: u64) {
    let deadline = tokio::time::Instant::now() + crate::DEADLINE;
    loop {
        let rows = postgres_query(url, "SELECT to_regclass('messages') IS NOT NULL").await;
        if rows.first().is_some_and(|r| r.get::<_, bool>(0)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server never created its tables"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let sql = format!(
        "CREATE FUNCTION confab_test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF (SELECT coalesce(sum(length(body)), 0) FROM messages) + length(NEW.body) > {cap} THEN
             RAISE EXCEPTION 'could not extend file: No space left on device'
               USING ERRCODE = 'disk_full';
           END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER confab_test_disk_full BEFORE INSERT ON messages
           FOR EACH ROW EXECUTE FUNCTION confab_test_disk_full();"
    );
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    tokio::spawn(connection);
    client
        .batch_execute(&sql)
        .await
        .unwrap_or_else(|e| panic!("install the disk-full trigger: {e}"));
}

/// Runs one SQL statement on a test server's PostgreSQL database (fault injection, inspection).
pub async fn postgres_query(url: &str, sql: &str) -> Vec<tokio_postgres::Row> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    tokio::spawn(connection);
    client
        .query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5433/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5433/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h:1/db?sslmode=disable", "t2"),
            "postgres://u:p@h:1/t2?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t3"), "postgres://h/t3");
    }
}
