//! Room streams on Postgres: the same reads and writes as `sqlite/messages.rs`, each on a client
//! or a transaction given by the caller, prepared once per pooled connection.

use super::rooms;
use crate::Result;
use crate::store::membership::{StreamRow, join_mentions};
use crate::store::types::Inserted;
use crate::store::{NewMessage, SendOutcome, now_ms};
use confab_protocol::conversation::mentioned;
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

/// Stores `msg` with the room's next seq, unless its id was seen before or the author may not
/// post there. The room row must exist; the caller's transaction holds its lock until commit
/// (see `super::writer`), so a kick committed first wins over this send.
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
    let bump = c
        .prepare_cached(
            "UPDATE rooms SET last_seq = last_seq + 1 WHERE name = $1 RETURNING id, last_seq",
        )
        .await?;
    let row = c.query_one(&bump, &[&msg.room]).await?;
    let (room_id, seq): (i64, i64) = (row.get(0), row.get(1));
    let mentions = mentioned_members(c, room_id, seq, msg).await?;
    let ts = now_ms();
    let store = c
        .prepare_cached(
            "INSERT INTO messages (room_id, seq, client_id, author, body, ts_ms, mentions)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await?;
    c.execute(
        &store,
        &[
            &room_id,
            &seq,
            &msg.client_id,
            &msg.author,
            &msg.body,
            &(ts as i64),
            &join_mentions(&mentions),
        ],
    )
    .await?;
    Ok(Inserted::New(MessageData {
        room: msg.room.clone(),
        seq: seq as u64,
        id: msg.client_id.clone(),
        author: msg.author.clone(),
        body: msg.body.clone(),
        ts,
        mentions,
    }))
}

/// The members `msg` mentions (lower case), each recorded for their unread count.
async fn mentioned_members<C: GenericClient>(
    c: &C,
    room_id: i64,
    seq: i64,
    msg: &NewMessage,
) -> Result<Vec<String>> {
    let mut members = Vec::new();
    for name in mentioned(&msg.body) {
        let find = c
            .prepare_cached(
                "SELECT u.id FROM users u JOIN members mb ON mb.user_id = u.id
                 WHERE mb.room_id = $1 AND lower(u.username) = $2 AND mb.removed_seq IS NULL",
            )
            .await?;
        let Some(row) = c.query_opt(&find, &[&room_id, &name]).await? else {
            continue;
        };
        if !name.eq_ignore_ascii_case(&msg.author) {
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

const COLUMNS: &str = "seq, client_id, author, body, ts_ms, kind, data, mentions";

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

pub(super) async fn before<C: GenericClient>(
    c: &C,
    room: &str,
    before: u64,
    limit: usize,
    viewer: &str,
) -> Result<(Vec<MessageData>, bool)> {
    let Some((room_id, up_to)) = rooms::visible(c, room, viewer).await? else {
        return Ok((Vec::new(), false));
    };
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM messages WHERE room_id = $1 AND seq < $2 AND seq <= $3
             AND kind = 'message' ORDER BY seq DESC LIMIT $4"
        ))
        .await?;
    let before = before.min(i64::MAX as u64) as i64;
    let rows = c
        .query(
            &stmt,
            &[&room_id, &before, &(up_to as i64), &(limit as i64 + 1)],
        )
        .await?;
    let mut messages: Vec<MessageData> = rows
        .iter()
        .filter_map(|r| match row(r).into_event(room) {
            Event::Message(m) => Some(m),
            Event::Member(_) => None,
        })
        .collect();
    let more = messages.len() > limit;
    messages.truncate(limit);
    messages.reverse();
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
    }
}
