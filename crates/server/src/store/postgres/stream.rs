//! Room streams on Postgres: the same reads and writes as `sqlite/messages.rs`, each on a client
//! or a transaction given by the caller, prepared once per pooled connection.

use super::{files, rooms};
use crate::Result;
use crate::store::changes;
use crate::store::files as store_files;
use crate::store::membership::{StreamRow, join_mentions};
use crate::store::types::Inserted;
use crate::store::{NewMessage, Payload, SendOutcome, now_ms};
use confab_protocol::conversation::mentioned;
use confab_protocol::search::index_text;
use confab_protocol::{Event, MessageData};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

/// What this author stored under this client id before, if anything.
pub(super) async fn prior_send<C: GenericClient>(
    c: &C,
    author: &str,
    client_id: &str,
    room: &str,
) -> Result<Option<SendOutcome>> {
    let stmt = c
        .prepare_cached(
            "SELECT r.name, m.seq FROM messages m JOIN rooms r ON r.id = m.room_id
             WHERE m.author = $1 AND m.client_id = $2",
        )
        .await?;
    Ok(c.query_opt(&stmt, &[&author, &client_id])
        .await?
        .map(|row| {
            let (name, seq): (String, i64) = (row.get(0), row.get(1));
            if name == room {
                SendOutcome::Duplicate { seq: seq as u64 }
            } else {
                SendOutcome::IdReused { room: name }
            }
        }))
}

/// Stores `msg` with the room's next seq, unless its id was seen before, the author may not
/// post there, or a change's target does not allow it (the rules in `store::changes`). The room
/// row must exist; the caller's transaction holds its lock until commit (see `super::writer`),
/// so a kick committed first wins over this send, and a change is folded into its target at once.
pub(super) async fn insert<C: GenericClient>(c: &C, msg: &NewMessage) -> Result<Inserted> {
    if let Some(outcome) = prior_send(c, &msg.author, &msg.client_id, &msg.room).await? {
        return Ok(Inserted::Not(outcome));
    }
    let allowed = c
        .prepare_cached(
            "SELECT r.visibility = 'public' OR EXISTS (
                SELECT 1 FROM members mb JOIN users u ON u.id = mb.user_id
                WHERE mb.room_id = r.id AND lower(u.username) = lower($2)
                  AND mb.removed_seq IS NULL)
             FROM rooms r WHERE r.name = $1",
        )
        .await?;
    if !c
        .query_one(&allowed, &[&msg.room, &msg.author])
        .await?
        .get::<_, bool>(0)
    {
        return Ok(Inserted::Not(SendOutcome::Forbidden));
    }
    if let Some(target) = msg.payload.target() {
        let row = target_row(c, &msg.room, target).await?;
        let moderates = matches!(msg.payload, Payload::Delete { .. })
            && moderates(c, &msg.room, &msg.author).await?;
        if let Err(refused) = changes::check(&msg.payload, row.as_ref(), &msg.author, moderates) {
            return Ok(Inserted::Not(refused));
        }
    }
    // Only a message with files is copied, to carry them as their records say.
    let with_files;
    let msg = match &msg.payload {
        Payload::Message { attachments, .. } if !attachments.is_empty() => {
            let Some(resolved) = files::resolve(c, &msg.author, attachments).await? else {
                return Ok(Inserted::Not(SendOutcome::BadAttachment));
            };
            let mut copy = msg.clone();
            if let Payload::Message { attachments, .. } = &mut copy.payload {
                *attachments = resolved;
            }
            with_files = copy;
            &with_files
        }
        _ => msg,
    };
    let bump = c
        .prepare_cached(
            "UPDATE rooms SET last_seq = last_seq + 1 WHERE name = $1 RETURNING id, last_seq",
        )
        .await?;
    let row = c.query_one(&bump, &[&msg.room]).await?;
    let (room_id, seq): (i64, i64) = (row.get(0), row.get(1));
    let mentions = match &msg.payload {
        Payload::Message { body, .. } => {
            mentioned_members(c, room_id, seq, &msg.author, body).await?
        }
        _ => Vec::new(),
    };
    let ts = now_ms();
    let (body, target, reply_to, data) = changes::columns(&msg.payload)?;
    let store = c
        .prepare_cached(
            "INSERT INTO messages (room_id, seq, client_id, author, body, ts_ms, mentions, kind,
                                   target, reply_to, data, search_text)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .await?;
    let (target, reply_to) = (target.map(|t| t as i64), reply_to.map(|t| t as i64));
    let search_text = match &msg.payload {
        Payload::Message {
            body, attachments, ..
        } => Some(index_text(&store_files::search_text(body, attachments))),
        _ => None,
    };
    c.execute(
        &store,
        &[
            &room_id,
            &seq,
            &msg.client_id,
            &msg.author,
            &body,
            &(ts as i64),
            &join_mentions(&mentions),
            &msg.payload.kind(),
            &target,
            &reply_to,
            &data,
            &search_text,
        ],
    )
    .await?;
    if let Payload::Message { attachments, .. } = &msg.payload {
        files::attach(c, room_id, seq, attachments).await?;
    }
    fold(c, room_id, ts, msg).await?;
    Ok(Inserted::New(changes::event(
        &msg.room,
        seq as u64,
        msg.client_id.clone(),
        msg.author.clone(),
        ts,
        msg.payload.clone(),
        mentions,
    )))
}

/// Applies a change to its target (see `sqlite/messages.rs::fold`).
async fn fold<C: GenericClient>(c: &C, room_id: i64, ts: u64, msg: &NewMessage) -> Result<()> {
    match &msg.payload {
        Payload::Message { .. } => {}
        Payload::Edit { target, body } => {
            // A message's files stay when its text is edited, and it is still found by them.
            let data: Option<String> = c
                .query_one(
                    "SELECT data FROM messages WHERE room_id = $1 AND seq = $2",
                    &[&room_id, &(*target as i64)],
                )
                .await?
                .get(0);
            let files = store_files::from_data(data.as_deref());
            c.execute(
                "UPDATE messages SET body = $3, edited_ms = $4, search_text = $5
                 WHERE room_id = $1 AND seq = $2",
                &[
                    &room_id,
                    &(*target as i64),
                    body,
                    &(ts as i64),
                    &index_text(&store_files::search_text(body, &files)),
                ],
            )
            .await?;
        }
        Payload::Delete { target } => {
            c.execute(
                "UPDATE messages SET body = '', mentions = NULL, data = NULL, deleted = TRUE,
                        search_text = NULL
                 WHERE room_id = $1 AND (seq = $2 OR (target = $2 AND kind = 'edit'))",
                &[&room_id, &(*target as i64)],
            )
            .await?;
            c.execute(
                "DELETE FROM attachments WHERE room_id = $1 AND seq = $2",
                &[&room_id, &(*target as i64)],
            )
            .await?;
        }
        Payload::React { target, emoji, on } => {
            let sql = if *on {
                "INSERT INTO reactions (room_id, seq, user_id, emoji)
                 SELECT $1, $2, id, $4 FROM users WHERE lower(username) = lower($3)
                 ON CONFLICT DO NOTHING"
            } else {
                "DELETE FROM reactions WHERE room_id = $1 AND seq = $2 AND emoji = $4
                 AND user_id = (SELECT id FROM users WHERE lower(username) = lower($3))"
            };
            c.execute(sql, &[&room_id, &(*target as i64), &msg.author, emoji])
                .await?;
        }
    }
    Ok(())
}

async fn target_row<C: GenericClient>(
    c: &C,
    room: &str,
    seq: u64,
) -> Result<Option<changes::Target>> {
    let stmt = c
        .prepare_cached(
            "SELECT m.author, m.kind, m.deleted FROM messages m JOIN rooms r ON r.id = m.room_id
             WHERE r.name = $1 AND m.seq = $2",
        )
        .await?;
    Ok(
        c.query_opt(&stmt, &[&room, &(seq.min(i64::MAX as u64) as i64)])
            .await?
            .map(|r| changes::Target {
                author: r.get(0),
                kind: r.get(1),
                deleted: r.get(2),
            }),
    )
}

async fn moderates<C: GenericClient>(c: &C, room: &str, user: &str) -> Result<bool> {
    let row = c
        .query_opt(
            "SELECT u.admin OR EXISTS (
                SELECT 1 FROM members mb JOIN rooms r ON r.id = mb.room_id
                WHERE r.name = $1 AND mb.user_id = u.id AND mb.removed_seq IS NULL
                  AND mb.role IN ('owner', 'admin'))
             FROM users u WHERE lower(u.username) = lower($2)",
            &[&room, &user],
        )
        .await?;
    Ok(row.is_some_and(|r| r.get(0)))
}

/// The members a message mentions (lower case), each recorded for their unread count.
async fn mentioned_members<C: GenericClient>(
    c: &C,
    room_id: i64,
    seq: i64,
    author: &str,
    body: &str,
) -> Result<Vec<String>> {
    let mut members = Vec::new();
    for name in mentioned(body) {
        let find = c
            .prepare_cached(
                "SELECT u.id FROM users u JOIN members mb ON mb.user_id = u.id
                 WHERE mb.room_id = $1 AND lower(u.username) = $2 AND mb.removed_seq IS NULL",
            )
            .await?;
        let Some(row) = c.query_opt(&find, &[&room_id, &name]).await? else {
            continue;
        };
        if !name.eq_ignore_ascii_case(author) {
            let id: i64 = row.get(0);
            c.execute(
                "INSERT INTO mentions (user_id, room_id, seq) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&id, &room_id, &seq],
            )
            .await?;
        }
        members.push(name);
    }
    Ok(members)
}

pub(super) async fn last_seq<C: GenericClient>(c: &C, room: &str) -> Result<u64> {
    let stmt = c
        .prepare_cached("SELECT last_seq FROM rooms WHERE name = $1")
        .await?;
    let seq = c.query_opt(&stmt, &[&room]).await?;
    Ok(seq.map_or(0, |row| row.get::<_, i64>(0) as u64))
}

pub(super) async fn last_seqs<C: GenericClient>(
    c: &C,
    rooms: &[&str],
) -> Result<Vec<(String, u64)>> {
    let stmt = c
        .prepare_cached("SELECT name, last_seq FROM rooms WHERE name = ANY($1)")
        .await?;
    let rows = c.query(&stmt, &[&rooms]).await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
        .collect())
}

const COLUMNS: &str = "seq, client_id, author, body, ts_ms, kind, data, mentions, target, reply_to, edited_ms, deleted";

pub(super) async fn after<C: GenericClient>(
    c: &C,
    room: &str,
    after: u64,
    limit: usize,
    viewer: &str,
) -> Result<Vec<Event>> {
    let Some((room_id, up_to)) = rooms::visible(c, room, viewer).await? else {
        return Ok(Vec::new());
    };
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM messages WHERE room_id = $1 AND seq > $2 AND seq <= $3
             ORDER BY seq LIMIT $4"
        ))
        .await?;
    let rows = c
        .query(
            &stmt,
            &[&room_id, &(after as i64), &(up_to as i64), &(limit as i64)],
        )
        .await?;
    Ok(rows.iter().map(|r| row(r).into_event(room)).collect())
}

/// Up to `limit` messages on one side of `from`, ascending (see `sqlite/messages.rs::page`).
pub(super) async fn page<C: GenericClient>(
    c: &C,
    room: &str,
    from: u64,
    newer: bool,
    limit: usize,
    viewer: &str,
) -> Result<(Vec<MessageData>, bool)> {
    let Some((room_id, up_to)) = rooms::visible(c, room, viewer).await? else {
        return Ok((Vec::new(), false));
    };
    let (side, order) = if newer {
        ("seq > $2", "")
    } else {
        ("seq < $2", "DESC")
    };
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM messages WHERE room_id = $1 AND {side} AND seq <= $3
             AND kind = 'message' ORDER BY seq {order} LIMIT $4"
        ))
        .await?;
    let from = from.min(i64::MAX as u64) as i64;
    let rows = c
        .query(
            &stmt,
            &[&room_id, &from, &(up_to as i64), &(limit as i64 + 1)],
        )
        .await?;
    let mut messages: Vec<MessageData> = rows
        .iter()
        .filter_map(|r| match row(r).into_event(room) {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    let more = messages.len() > limit;
    messages.truncate(limit);
    if !newer {
        messages.reverse();
    }
    add_reactions(c, room_id, &mut messages).await?;
    Ok((messages, more))
}

fn row(r: &Row) -> StreamRow {
    StreamRow {
        seq: r.get::<_, i64>(0) as u64,
        id: r.get(1),
        author: r.get(2),
        body: r.get(3),
        ts: r.get::<_, i64>(4) as u64,
        kind: r.get(5),
        data: r.get(6),
        mentions: r.get(7),
        target: r.get::<_, Option<i64>>(8).map(|t| t as u64),
        reply_to: r.get::<_, Option<i64>>(9).map(|t| t as u64),
        edited_ms: r.get::<_, Option<i64>>(10).map(|t| t as u64),
        deleted: r.get(11),
    }
}

/// Fills in who reacted with what, for a page of messages (ascending).
async fn add_reactions<C: GenericClient>(
    c: &C,
    room_id: i64,
    messages: &mut [MessageData],
) -> Result<()> {
    let (Some(first), Some(last)) = (messages.first(), messages.last()) else {
        return Ok(());
    };
    let rows = c
        .query(
            "SELECT x.seq, x.emoji, u.username FROM reactions x JOIN users u ON u.id = x.user_id
             WHERE x.room_id = $1 AND x.seq BETWEEN $2 AND $3
             ORDER BY x.seq, x.emoji, lower(u.username)",
            &[&room_id, &(first.seq as i64), &(last.seq as i64)],
        )
        .await?;
    for r in rows {
        let (seq, emoji, user): (i64, String, String) = (r.get(0), r.get(1), r.get(2));
        if let Ok(at) = messages.binary_search_by_key(&(seq as u64), |m| m.seq) {
            messages[at].reactions.entry(emoji).or_default().push(user);
        }
    }
    Ok(())
}
