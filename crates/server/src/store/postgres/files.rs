//! File records and who may read them on PostgreSQL (as `sqlite/files.rs`).

use crate::Result;
use crate::store::files::{FileAccess, FilePut, FileRecord, NewFile};
use confab_protocol::Attachment;
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;

/// A record, and whether `$2` may read it: its uploader, or a member now of a room where a
/// message that is not deleted carries it.
const ACCESS: &str = "SELECT f.id, u.username, f.sha256, f.size, f.mime, f.name,
        lower(u.username) = lower($2) OR EXISTS (
            SELECT 1 FROM attachments a
            JOIN members mb ON mb.room_id = a.room_id AND mb.removed_seq IS NULL
            JOIN users v ON v.id = mb.user_id
            WHERE a.file_id = f.id AND lower(v.username) = lower($2))
    FROM files f JOIN users u ON u.id = f.uploader_id WHERE f.id = $1";

fn record(r: &Row) -> FileRecord {
    FileRecord {
        id: r.get(0),
        uploader: r.get(1),
        sha256: r.get(2),
        size: r.get::<_, i64>(3) as u64,
        mime: r.get(4),
        name: r.get(5),
    }
}

/// The file `id` as `viewer` may see it.
pub(super) async fn access<C: GenericClient>(c: &C, id: &str, viewer: &str) -> Result<FileAccess> {
    let stmt = c.prepare_cached(ACCESS).await?;
    Ok(match c.query_opt(&stmt, &[&id, &viewer]).await? {
        None => FileAccess::Missing,
        Some(r) if r.get::<_, bool>(6) => FileAccess::Allowed(record(&r)),
        Some(_) => FileAccess::Forbidden,
    })
}

/// Stores a record unless the uploader has these bytes already, within their quota. The
/// uploader's row is locked first, so two uploads of one user on two nodes take turns and
/// cannot both fit a quota that has room for one.
pub(super) async fn put(tx: &Transaction<'_>, file: &NewFile) -> Result<FilePut> {
    let Some(user) = tx
        .query_opt(
            "SELECT id FROM users WHERE lower(username) = lower($1) FOR UPDATE",
            &[&file.record.uploader],
        )
        .await?
    else {
        return Ok(FilePut::NoSuchUser);
    };
    let uploader_id: i64 = user.get(0);
    let existing = tx
        .query_opt(
            "SELECT id FROM files WHERE uploader_id = $1 AND sha256 = $2",
            &[&uploader_id, &file.record.sha256],
        )
        .await?;
    if let Some(row) = existing
        && let FileAccess::Allowed(record) =
            access(tx, row.get::<_, &str>(0), &file.record.uploader).await?
    {
        return Ok(FilePut::Existing(record));
    }
    let used: i64 = tx
        .query_one(
            "SELECT coalesce(sum(size), 0)::bigint FROM files WHERE uploader_id = $1",
            &[&uploader_id],
        )
        .await?
        .get(0);
    let used = used as u64;
    if used.saturating_add(file.record.size) > file.quota {
        return Ok(FilePut::QuotaExceeded { used });
    }
    tx.execute(
        "INSERT INTO files (id, uploader_id, sha256, size, mime, name, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &file.record.id,
            &uploader_id,
            &file.record.sha256,
            &(file.record.size as i64),
            &file.record.mime,
            &file.record.name,
            &(crate::store::now_ms() as i64),
        ],
    )
    .await?;
    Ok(FilePut::Stored(file.record.clone()))
}

/// The attachments as the message will carry them (see `sqlite/files.rs::resolve`).
pub(super) async fn resolve<C: GenericClient>(
    c: &C,
    author: &str,
    asked: &[Attachment],
) -> Result<Option<Vec<Attachment>>> {
    let mut resolved = Vec::with_capacity(asked.len());
    for a in asked {
        match access(c, &a.file_id, author).await? {
            FileAccess::Allowed(record) => resolved.push(record.attachment(&a.name)),
            FileAccess::Missing | FileAccess::Forbidden => return Ok(None),
        }
    }
    Ok(Some(resolved))
}

/// Records that message `seq` of the room carries these files.
pub(super) async fn attach<C: GenericClient>(
    c: &C,
    room_id: i64,
    seq: i64,
    attachments: &[Attachment],
) -> Result<()> {
    for a in attachments {
        let stmt = c
            .prepare_cached(
                "INSERT INTO attachments (room_id, seq, file_id) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .await?;
        c.execute(&stmt, &[&room_id, &seq, &a.file_id]).await?;
    }
    Ok(())
}
