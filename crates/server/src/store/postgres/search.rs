//! Full-text search on PostgreSQL: a GIN index over `to_tsvector('simple', search_text)`, the
//! words the server split each message into (see `confab_protocol::search::index_text`), so it
//! finds what SQLite's FTS5 finds. Hits come newest first by (ts, room, seq); a page's cursor
//! is the last hit's place in that order.

use crate::Result;
use crate::store::{SearchCursor, SearchPage, SearchRequest};
use confab_protocol::SearchHit;
use deadpool_postgres::GenericClient;

/// A page of hits, newest first.
pub(super) async fn search<C: GenericClient>(
    c: &C,
    req: &SearchRequest,
) -> Result<Option<SearchPage>> {
    let after: Option<(i64, i64, i64)> = match &req.page {
        None => None,
        Some(SearchCursor(parts)) => match parts.as_slice() {
            [ts, room, seq] => Some((*ts as i64, *room as i64, *seq as i64)),
            _ => return Ok(None),
        },
    };
    let text = if req.query.has_text() {
        "to_tsvector('simple', m.search_text) @@ to_tsquery('simple', $1)"
    } else {
        "$1::text IS NOT NULL"
    };
    let sql = format!(
        "SELECT m.ts_ms, m.room_id, m.seq, r.name, m.author, m.body
         FROM messages m JOIN rooms r ON r.id = m.room_id
         WHERE m.search_text IS NOT NULL AND {text}
           AND m.room_id IN (
               SELECT mb.room_id FROM members mb JOIN users u ON u.id = mb.user_id
               WHERE lower(u.username) = lower($2) AND mb.removed_seq IS NULL)
           AND ($3::text IS NULL OR r.name = $3)
           AND ($4::text IS NULL OR lower(m.author) = $4)
           AND ($5::bigint IS NULL OR m.seq < $5)
           AND ($6::bigint IS NULL OR (m.ts_ms, m.room_id, m.seq) < ($6, $7, $8))
           AND (NOT $10 OR EXISTS (
               SELECT 1 FROM attachments a WHERE a.room_id = m.room_id AND a.seq = m.seq))
         ORDER BY m.ts_ms DESC, m.room_id DESC, m.seq DESC LIMIT $9"
    );
    let stmt = c.prepare_cached(&sql).await?;
    let before = req.before.map(|s| s as i64);
    let (ts, room, seq) = (after.map(|a| a.0), after.map(|a| a.1), after.map(|a| a.2));
    let rows = c
        .query(
            &stmt,
            &[
                &req.query.tsquery(),
                &req.user,
                &req.room,
                &req.query.from,
                &before,
                &ts,
                &room,
                &seq,
                &(req.limit as i64 + 1),
                &req.query.has_file,
            ],
        )
        .await?;
    let mut hits: Vec<(SearchCursor, SearchHit)> = rows
        .iter()
        .map(|r| {
            let (ts, room, seq): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
            let body: String = r.get(5);
            let hit = SearchHit {
                room: r.get(3),
                seq: seq as u64,
                author: r.get(4),
                highlights: req.query.highlights(&body),
                body,
                ts: ts as u64,
            };
            (SearchCursor(vec![ts as u64, room as u64, seq as u64]), hit)
        })
        .collect();
    let more = hits.len() > req.limit;
    hits.truncate(req.limit);
    Ok(Some(SearchPage { hits, more }))
}
