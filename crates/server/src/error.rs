//! The server crate's one error type.

/// Everything that can go wrong inside the server. Nothing here carries a secret: token and
/// password values never enter an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("PostgreSQL error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No pooled PostgreSQL connection could be had (the database is down or overloaded).
    #[error("PostgreSQL connection pool: {0}")]
    Pool(String),
    /// The pub/sub link between nodes (Redis) is misconfigured.
    #[error("pub/sub: {0}")]
    Pubsub(String),
    #[error("the database schema is version {found}, newer than this server ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("another confab-server is running on {0}; stop it first")]
    InUse(String),
    #[error("backup: {0}")]
    Backup(String),
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("the storage thread has stopped")]
    StoreClosed,
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// Too much work is queued (password hashes); the caller should answer "try again soon".
    #[error("the server is busy")]
    Busy,
    #[error("a background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Pool(e.to_string())
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
