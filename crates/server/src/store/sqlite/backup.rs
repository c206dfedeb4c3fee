//! Online backup and offline restore of the SQLite database, and the lock that tells them
//! apart: a running server holds `<db>.lock`, and a restore refuses while it is held.

use super::schema;
use crate::{Error, Result};
use rusqlite::{Connection, OpenFlags};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Held by a running server for as long as it runs; released when dropped (or when the
/// process dies, however it dies).
#[derive(Debug)]
pub struct ServerLock {
    /// The lock lives as long as the open file.
    _file: File,
}

/// Takes the database's server lock, or says that another server has it.
pub fn lock(db: &Path) -> Result<ServerLock> {
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::private::create_dir(dir)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(db))?;
    match file.try_lock() {
        Ok(()) => Ok(ServerLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::InUse(db.display().to_string())),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

/// Writes a consistent copy of the database to `out` (a new file) while the server may be
/// writing: `VACUUM INTO` reads one snapshot.
pub fn backup(db: &Path, out: &Path) -> Result<()> {
    if !db.exists() {
        return Err(Error::Backup(format!("no database at {}", db.display())));
    }
    if out.exists() {
        return Err(Error::Backup(format!(
            "{} exists; name a new file",
            out.display()
        )));
    }
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let out_name = out
        .to_str()
        .ok_or_else(|| Error::Backup("the backup path is not UTF-8".into()))?;
    conn.execute("VACUUM INTO ?1", [out_name])?;
    // A backup is the whole database: as private as the original.
    crate::private::restrict(out)?;
    Ok(())
}

/// Replaces the database with a checked backup. Refuses while a server runs on it; the old
/// file (and its WAL) is replaced in one rename, so a crash leaves one or the other.
pub fn restore(backup: &Path, db: &Path) -> Result<()> {
    {
        let conn = Connection::open_with_flags(backup, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        if check != "ok" {
            return Err(Error::Backup(format!("the backup is damaged: {check}")));
        }
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found == 0 {
            return Err(Error::Backup("that file is not a confab database".into()));
        }
        let supported = schema::supported();
        if found > supported {
            return Err(Error::SchemaTooNew { found, supported });
        }
    }
    let _held = lock(db)?;
    let mut tmp = db.as_os_str().to_owned();
    tmp.push(".restoring");
    let tmp = PathBuf::from(tmp);
    std::fs::copy(backup, &tmp)?;
    File::open(&tmp)?.sync_all()?;
    for suffix in ["-wal", "-shm"] {
        let mut side = db.as_os_str().to_owned();
        side.push(suffix);
        match std::fs::remove_file(PathBuf::from(side)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    std::fs::rename(&tmp, db)?;
    Ok(())
}
