//! File records and who may read them (see `store::files`).

use crate::Result;
use crate::store::files::{FileAccess, FilePut, FileRecord, NewFile};
use confab_protocol::Attachment;
use rusqlite::{Connection, OptionalExtension, params};

/// A record, and whether `?2` may read it: its uploader, or a member now of a room where a
/// message that is not deleted carries it (a deletion takes its rows out of `attachments`).
const ACCESS: &str = "SELECT f.id, u.username, f.sha256, f.size, f.mime, f.name,
        u.username = ?2 OR EXISTS (
            SELECT 1 FROM attachments a
            JOIN members mb ON mb.room_id = a.room_id AND mb.removed_seq IS NULL
            JOIN users v ON v.id = mb.user_id
            WHERE a.file_id = f.id AND v.username = ?2)
    FROM files f JOIN users u ON u.id = f.uploader_id WHERE f.id = ?1";

fn record(r: &rusqlite::Row<'_>) -> rusqlite::Result<(FileRecord, bool)> {
    Ok((
        FileRecord {
            id: r.get(0)?,
            uploader: r.get(1)?,
            sha256: r.get(2)?,
            size: r.get(3)?,
            mime: r.get(4)?,
            name: r.get(5)?,
        },
        r.get(6)?,
    ))
}

/// The file `id` as `viewer` may see it.
pub(super) fn access(conn: &Connection, id: &str, viewer: &str) -> Result<FileAccess> {
    let found = conn
        .prepare_cached(ACCESS)?
        .query_row(params![id, viewer], record)
        .optional()?;
    Ok(match found {
        None => FileAccess::Missing,
        Some((_, false)) => FileAccess::Forbidden,
        Some((file, true)) => FileAccess::Allowed(file),
    })
}

/// Stores a record unless the uploader has these bytes already, within their quota.
pub(super) fn put(conn: &Connection, file: NewFile) -> Result<FilePut> {
    let Some(uploader_id) = conn
        .prepare_cached("SELECT id FROM users WHERE username = ?1")?
        .query_row([&file.record.uploader], |r| r.get::<_, i64>(0))
        .optional()?
    else {
        return Ok(FilePut::NoSuchUser);
    };
    let existing: Option<String> = conn
        .prepare_cached("SELECT id FROM files WHERE uploader_id = ?1 AND sha256 = ?2")?
        .query_row(params![uploader_id, file.record.sha256], |r| r.get(0))
        .optional()?;
    if let Some(id) = existing
        && let FileAccess::Allowed(record) = access(conn, &id, &file.record.uploader)?
    {
        return Ok(FilePut::Existing(record));
    }
    let used: u64 = conn
        .prepare_cached("SELECT coalesce(sum(size), 0) FROM files WHERE uploader_id = ?1")?
        .query_row([uploader_id], |r| r.get(0))?;
    if used.saturating_add(file.record.size) > file.quota {
        return Ok(FilePut::QuotaExceeded { used });
    }
    conn.prepare_cached(
        "INSERT INTO files (id, uploader_id, sha256, size, mime, name, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        file.record.id,
        uploader_id,
        file.record.sha256,
        file.record.size,
        file.record.mime,
        file.record.name,
        crate::store::now_ms()
    ])?;
    Ok(FilePut::Stored(file.record))
}

/// The attachments as the message will carry them, each checked against its record (the
/// author may post a file they uploaded or may read); `None` if one of them is not.
pub(super) fn resolve(
    conn: &Connection,
    author: &str,
    asked: &[Attachment],
) -> Result<Option<Vec<Attachment>>> {
    let mut resolved = Vec::with_capacity(asked.len());
    for a in asked {
        match access(conn, &a.file_id, author)? {
            FileAccess::Allowed(record) => resolved.push(record.attachment(&a.name)),
            FileAccess::Missing | FileAccess::Forbidden => return Ok(None),
        }
    }
    Ok(Some(resolved))
}

/// Records that message `seq` of the room carries these files.
pub(super) fn attach(
    conn: &Connection,
    room_id: i64,
    seq: u64,
    attachments: &[Attachment],
) -> Result<()> {
    for a in attachments {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO attachments (room_id, seq, file_id) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![room_id, seq, a.file_id])?;
    }
    Ok(())
}

/// The message is deleted: its files are no longer shared through it.
pub(super) fn detach(conn: &Connection, room_id: i64, seq: u64) -> Result<()> {
    conn.prepare_cached("DELETE FROM attachments WHERE room_id = ?1 AND seq = ?2")?
        .execute(params![room_id, seq])?;
    Ok(())
}
