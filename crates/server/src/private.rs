//! Files only the server's own user may read. The database holds password and token hashes and
//! every message; the files folder everyone's attachments. On Unix, folders the server creates
//! are 0700 and the database, its WAL and its backups 0600, whatever the umask says; elsewhere
//! the platform's defaults apply.

use std::io;
use std::path::Path;

/// Creates `dir` and any missing parents as private folders. Folders that exist are left as
/// they are: the operator may have chosen a shared parent (their home, `/var/lib`) on purpose.
pub(crate) fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates `dir` if needed and makes it private even if it existed: for folders that are the
/// server's alone (the files folder), not for a parent the operator chose.
pub(crate) fn own_dir(dir: &Path) -> io::Result<()> {
    create_dir(dir)?;
    set_mode(dir, 0o700)
}

/// Makes the file at `path` readable by the server's user only; a missing file is no error
/// (SQLite creates its `-wal` and `-shm` lazily, with the database file's mode).
pub(crate) fn restrict(path: &Path) -> io::Result<()> {
    match set_mode(path, 0o600) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}
