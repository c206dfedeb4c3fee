//! Full-text search on FTS5. `search_docs` numbers each message as it is stored; that number
//! is the message's rowid in the contentless `message_search` index, so newest first is a
//! descending walk of the index that stops at the page's end. The index holds the current
//! text: an edit replaces it, a deletion takes it out, in the storing transaction.

use crate::Result;
use crate::store::{SearchCursor, SearchPage, SearchRequest};
use confab_protocol::SearchHit;
use rusqlite::{Connection, OptionalExtension, params};

/// Indexes a new message.
pub(super) fn index(conn: &Connection, room_id: i64, seq: u64, body: &str) -> Result<()> {
    conn.prepare_cached("INSERT INTO search_docs (room_id, seq) VALUES (?1, ?2)")?
        .execute(params![room_id, seq])?;
    let doc = conn.last_insert_rowid();
    conn.prepare_cached("INSERT INTO message_search (rowid, body) VALUES (?1, ?2)")?
        .execute(params![doc, body])?;
    Ok(())
}

/// The index number of a message, if it is indexed.
fn doc(conn: &Connection, room_id: i64, seq: u64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT id FROM search_docs WHERE room_id = ?1 AND seq = ?2")?
        .query_row(params![room_id, seq], |r| r.get(0))
        .optional()?)
}

/// The message's text is now `body`.
pub(super) fn reindex(conn: &Connection, room_id: i64, seq: u64, body: &str) -> Result<()> {
    let Some(doc) = doc(conn, room_id, seq)? else {
        return index(conn, room_id, seq, body);
    };
    conn.prepare_cached("DELETE FROM message_search WHERE rowid = ?1")?
        .execute([doc])?;
    conn.prepare_cached("INSERT INTO message_search (rowid, body) VALUES (?1, ?2)")?
        .execute(params![doc, body])?;
    Ok(())
}

/// The message is deleted: nothing of it is found again.
pub(super) fn unindex(conn: &Connection, room_id: i64, seq: u64) -> Result<()> {
    if let Some(doc) = doc(conn, room_id, seq)? {
        conn.prepare_cached("DELETE FROM message_search WHERE rowid = ?1")?
            .execute([doc])?;
        conn.prepare_cached("DELETE FROM search_docs WHERE id = ?1")?
            .execute([doc])?;
    }
    Ok(())
}

/// The filters every search shares; `?1` is the text (unused without it).
const FILTERS: &str = "d.room_id IN (
        SELECT mb.room_id FROM members mb JOIN users u ON u.id = mb.user_id
        WHERE u.username = ?2 AND mb.removed_seq IS NULL)
    AND (?3 IS NULL OR r.name = ?3)
    AND (?4 IS NULL OR m.author = ?4 COLLATE NOCASE)
    AND (?5 IS NULL OR m.seq < ?5)
    AND (?6 IS NULL OR d.id < ?6)
    AND (?8 = 0 OR EXISTS (
        SELECT 1 FROM attachments a WHERE a.room_id = d.room_id AND a.seq = d.seq))";

/// A page of hits, newest first.
pub(super) fn search(conn: &Connection, req: &SearchRequest) -> Result<Option<SearchPage>> {
    let page = match &req.page {
        None => None,
        Some(SearchCursor(parts)) => match parts.as_slice() {
            [doc] => Some(*doc as i64),
            _ => return Ok(None),
        },
    };
    let columns = "d.id, r.name, m.seq, m.author, m.body, m.ts_ms";
    let joins = "JOIN messages m ON m.room_id = d.room_id AND m.seq = d.seq
                 JOIN rooms r ON r.id = d.room_id";
    let sql = if req.query.has_text() {
        format!(
            "SELECT {columns} FROM message_search s JOIN search_docs d ON d.id = s.rowid {joins}
             WHERE message_search MATCH ?1 AND {FILTERS} ORDER BY s.rowid DESC LIMIT ?7"
        )
    } else {
        format!(
            "SELECT {columns} FROM search_docs d {joins}
             WHERE ?1 IS NOT NULL AND {FILTERS} ORDER BY d.id DESC LIMIT ?7"
        )
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            req.query.fts5(),
            req.user,
            req.room,
            req.query.from,
            req.before,
            page,
            req.limit as i64 + 1,
            req.query.has_file,
        ],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                SearchHit {
                    room: r.get(1)?,
                    seq: r.get(2)?,
                    author: r.get(3)?,
                    body: r.get(4)?,
                    ts: r.get(5)?,
                    highlights: Vec::new(),
                },
            ))
        },
    )?;
    let mut hits = Vec::with_capacity(req.limit + 1);
    for row in rows {
        let (doc, mut hit) = row?;
        hit.highlights = req.query.highlights(&hit.body);
        hits.push((SearchCursor(vec![doc as u64]), hit));
    }
    let more = hits.len() > req.limit;
    hits.truncate(req.limit);
    Ok(Some(SearchPage { hits, more }))
}
