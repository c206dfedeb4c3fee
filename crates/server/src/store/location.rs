//! Where the data lives: a SQLite file or a PostgreSQL URL (`--db`, `CONFAB_DB`).

use std::fmt;
use std::path::{Path, PathBuf};

/// The database a server uses.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// An embedded SQLite file, created with its folder if missing.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://` or `postgresql://`); it may hold a password,
    /// so it is never printed whole.
    Postgres(String),
}

impl Database {
    /// A URL with a `postgres://` or `postgresql://` scheme names PostgreSQL; anything else is a
    /// SQLite file path.
    pub fn parse(s: &str) -> Self {
        let lower = s.get(..13).unwrap_or(s).to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Self::Postgres(s.to_owned())
        } else {
            Self::Sqlite(PathBuf::from(s))
        }
    }
}

impl From<PathBuf> for Database {
    fn from(path: PathBuf) -> Self {
        Self::Sqlite(path)
    }
}

impl From<&Path> for Database {
    fn from(path: &Path) -> Self {
        Self::Sqlite(path.to_owned())
    }
}

/// Shows a PostgreSQL URL without its user info (which may carry a password).
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
                let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                let rest = rest.split_once('?').map_or(rest, |(path, _)| path);
                write!(f, "{scheme}://{rest}")
            }
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Database({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_postgres_and_anything_else_is_a_file() {
        assert!(matches!(
            Database::parse("postgres://u@h/db"),
            Database::Postgres(_)
        ));
        assert!(matches!(
            Database::parse("PostgreSQL://h/db"),
            Database::Postgres(_)
        ));
        assert_eq!(
            Database::parse("/var/lib/confab/confab.db"),
            Database::Sqlite("/var/lib/confab/confab.db".into())
        );
        assert_eq!(
            Database::parse("postgres.db"),
            Database::Sqlite("postgres.db".into())
        );
    }

    #[test]
    fn a_password_in_the_url_is_never_shown() {
        let db = Database::parse("postgres://confab:s3cret@db.example:5432/chat?sslmode=require");
        let shown = format!("{db} {db:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("sslmode"), "{shown}");
        assert!(shown.contains("postgres://db.example:5432/chat"), "{shown}");
    }
}
