//! The outbox table: what waits to be sent, in the order it was made. A change aimed at a
//! message still queued stores that message's id (`target_id`) until its ack turns it into a
//! seq (`target_seq`), in the transaction that removes the acknowledged message.

use super::Database;
use crate::files::LocalFile;
use crate::outbox::{Draft, Queued, Target};
use crate::{Error, Result};
use confab_protocol::MessageId;
use rusqlite::{OptionalExtension, Row, params};
use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

const COLUMNS: &str =
    "id, room, body, created_ms, kind, target_seq, target_id, reply_to, emoji, reaction_on, files";

/// Version 3: a queued message's files (a JSON array of `LocalFile`), and a cached message's
/// attachments (a JSON array of `Attachment`).
pub(super) const TO_V3: &str = "
    ALTER TABLE outbox ADD COLUMN files TEXT;
    ALTER TABLE messages ADD COLUMN attachments TEXT;
";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A value only ever written by this module is damaged: say so rather than guess.
fn damaged(what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("damaged outbox entry: {what}").into(),
    )
}

fn files_json(draft: &Draft) -> Option<String> {
    match draft {
        Draft::Message { files, .. } if !files.is_empty() => serde_json::to_string(files).ok(),
        _ => None,
    }
}

fn id_of(text: String) -> rusqlite::Result<MessageId> {
    MessageId::try_from(text).map_err(|_| damaged("id"))
}

fn read(r: &Row<'_>) -> rusqlite::Result<Queued> {
    let kind: String = r.get(4)?;
    let target = match (r.get::<_, Option<u64>>(5)?, r.get::<_, Option<String>>(6)?) {
        (Some(seq), _) => Some(Target::Seq(seq)),
        (None, Some(id)) => Some(Target::Queued(id_of(id)?)),
        (None, None) => None,
    };
    let body: String = r.get(2)?;
    let target = || target.clone().ok_or_else(|| damaged("target"));
    let draft = match kind.as_str() {
        "message" => Draft::Message {
            body,
            reply_to: r.get(7)?,
            files: match r.get::<_, Option<String>>(10)? {
                Some(json) => serde_json::from_str(&json).map_err(|_| damaged("files"))?,
                None => Vec::new(),
            },
        },
        "edit" => Draft::Edit {
            target: target()?,
            body,
        },
        "delete" => Draft::Delete { target: target()? },
        "react" => Draft::React {
            target: target()?,
            emoji: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
            on: r.get::<_, Option<bool>>(9)?.unwrap_or(true),
        },
        _ => return Err(damaged("kind")),
    };
    Ok(Queued {
        id: id_of(r.get(0)?)?,
        room: r.get(1)?,
        draft,
        created_ms: r.get(3)?,
    })
}

impl Database {
    /// Writes new work to the outbox and returns it with its fresh id. Refuses, without
    /// writing, when the outbox is at its limits.
    pub(crate) fn enqueue(&mut self, room: &str, draft: Draft) -> Result<Queued> {
        let (count, bytes): (usize, usize) = self.conn.query_row(
            "SELECT count(*), coalesce(sum(length(CAST(body AS BLOB))), 0) FROM outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if count >= self.limits.max_messages {
            return Err(Error::OutboxFull(format!("{count} messages waiting")));
        }
        if bytes + draft.text().len() > self.limits.max_bytes {
            return Err(Error::OutboxFull(format!("{bytes} bytes waiting")));
        }
        let item = Queued {
            id: MessageId::random(),
            room: room.to_owned(),
            draft,
            created_ms: now_ms(),
        };
        let (target_seq, target_id) = match item.draft.target() {
            Some(Target::Seq(s)) => (Some(*s), None),
            Some(Target::Queued(id)) => (None, Some(id.as_str())),
            None => (None, None),
        };
        let files = files_json(&item.draft);
        let (body, reply_to, emoji, on) = match &item.draft {
            Draft::Message { body, reply_to, .. } => (body.as_str(), *reply_to, None, None),
            Draft::Edit { body, .. } => (body.as_str(), None, None, None),
            Draft::Delete { .. } => ("", None, None, None),
            Draft::React { emoji, on, .. } => ("", None, Some(emoji.as_str()), Some(*on)),
        };
        self.conn.execute(
            &format!(
                "INSERT INTO outbox ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ),
            params![
                item.id.as_str(),
                item.room,
                body,
                item.created_ms,
                item.draft.kind(),
                target_seq,
                target_id,
                reply_to,
                emoji,
                on,
                files
            ],
        )?;
        Ok(item)
    }

    /// Message `id`'s files got their server ids. `false` if it is no longer queued.
    pub(crate) fn set_files(&mut self, id: &MessageId, files: &[LocalFile]) -> Result<bool> {
        let json = serde_json::to_string(files).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(self
            .conn
            .prepare_cached("UPDATE outbox SET files = ?2 WHERE id = ?1 AND kind = 'message'")?
            .execute(params![id.as_str(), json])?
            == 1)
    }

    /// The hashes of every file a queued message names: the staged copies to keep.
    pub(crate) fn staged_in_use(&self) -> Result<HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT files FROM outbox WHERE files IS NOT NULL")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut hashes = HashSet::new();
        for json in rows {
            let files: Vec<LocalFile> = serde_json::from_str(&json?).unwrap_or_default();
            hashes.extend(files.into_iter().map(|f| f.sha256));
        }
        Ok(hashes)
    }

    /// Everything waiting, oldest first.
    pub(crate) fn pending(&self) -> Result<Vec<Queued>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM outbox ORDER BY ord"))?;
        let rows = stmt.query_map([], read)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One entry, if it still waits.
    pub(crate) fn queued(&self, id: &MessageId) -> Result<Option<Queued>> {
        Ok(self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM outbox WHERE id = ?1"))?
            .query_row([id.as_str()], read)
            .optional()?)
    }

    #[cfg(test)]
    pub(crate) fn pending_count(&self) -> Result<usize> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?)
    }

    /// The server stored entry `id` as `seq`: it leaves the outbox, and the changes aimed at it
    /// aim at `seq` from now on (one transaction: a kill in between cannot strand them).
    pub(crate) fn settle(&mut self, id: &MessageId, seq: u64) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.prepare_cached("DELETE FROM outbox WHERE id = ?1")?
            .execute([id.as_str()])?;
        tx.prepare_cached(
            "UPDATE outbox SET target_seq = ?2, target_id = NULL WHERE target_id = ?1",
        )?
        .execute(params![id.as_str(), seq])?;
        tx.commit()?;
        Ok(())
    }

    /// Entry `id` leaves the outbox without being stored (refused for good, or taken back
    /// before it was sent), and with it every change aimed at it, which are returned.
    pub(crate) fn withdraw(&mut self, id: &MessageId) -> Result<Vec<Queued>> {
        let tx = self.conn.transaction()?;
        let orphans = {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM outbox WHERE target_id = ?1 ORDER BY ord"
            ))?;
            let rows = stmt.query_map([id.as_str()], read)?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        tx.prepare_cached("DELETE FROM outbox WHERE id = ?1 OR target_id = ?1")?
            .execute([id.as_str()])?;
        tx.commit()?;
        Ok(orphans)
    }

    /// Queued message `id` gets a new body before any connection took it. `false` if it is
    /// no longer queued.
    pub(crate) fn rewrite(&mut self, id: &MessageId, body: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("UPDATE outbox SET body = ?2 WHERE id = ?1 AND kind = 'message'")?
            .execute(params![id.as_str(), body])?
            == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OutboxLimits;
    use rusqlite::Connection;

    fn text(body: &str) -> Draft {
        Draft::Message {
            body: body.into(),
            reply_to: None,
            files: Vec::new(),
        }
    }

    #[test]
    fn outbox_survives_reopen_in_order_and_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let limits = OutboxLimits {
            max_messages: 3,
            max_bytes: 1000,
        };
        let ids: Vec<MessageId> = {
            let mut db = Database::open(dir.path(), limits.clone()).unwrap();
            (0..3)
                .map(|i| db.enqueue("r", text(&format!("m{i}"))).unwrap().id)
                .collect()
        };
        let mut db = Database::open(dir.path(), limits).unwrap();
        let pending: Vec<MessageId> = db.pending().unwrap().into_iter().map(|q| q.id).collect();
        assert_eq!(pending, ids);
        let full = db.enqueue("r", text("one too many"));
        assert!(
            matches!(full, Err(Error::OutboxFull(_))),
            "a clear error, not a silent drop"
        );
        assert_eq!(
            db.pending_count().ok(),
            Some(3),
            "nothing written when full"
        );
        assert!(db.withdraw(&ids[0]).is_ok());
        assert!(db.enqueue("r", text("fits again")).is_ok());
    }

    #[test]
    fn outbox_bytes_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open(
            dir.path(),
            OutboxLimits {
                max_messages: 100,
                max_bytes: 10,
            },
        )
        .unwrap();
        assert!(db.enqueue("r", text("12345678")).is_ok());
        assert!(matches!(
            db.enqueue("r", text("123")),
            Err(Error::OutboxFull(_))
        ));
    }

    #[test]
    fn a_change_aimed_at_a_queued_message_follows_its_ack_or_its_withdrawal() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open(dir.path(), OutboxLimits::default()).unwrap();
        let first = db.enqueue("r", text("hello")).unwrap().id;
        let edit = Draft::Edit {
            target: Target::Queued(first.clone()),
            body: "hello!".into(),
        };
        let edit = db.enqueue("r", edit).unwrap().id;
        db.settle(&first, 7).unwrap();
        let left = db.pending().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].id, edit);
        assert_eq!(left[0].draft.target(), Some(&Target::Seq(7)));

        let second = db.enqueue("r", text("oops")).unwrap().id;
        let react = Draft::React {
            target: Target::Queued(second.clone()),
            emoji: "👍".into(),
            on: true,
        };
        db.enqueue("r", react).unwrap();
        let orphans = db.withdraw(&second).unwrap();
        assert_eq!(orphans.len(), 1, "the reaction goes with its message");
        assert_eq!(db.pending_count().ok(), Some(1));
    }

    #[test]
    fn an_outbox_from_before_changes_keeps_its_messages() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join("client.db")).unwrap();
            conn.execute_batch(
                "CREATE TABLE outbox (ord INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
                 room TEXT NOT NULL, body TEXT NOT NULL, created_ms INTEGER NOT NULL);",
            )
            .unwrap();
            conn.execute(
                "INSERT INTO outbox (id, room, body, created_ms) VALUES (?1, 'r', 'old', 1)",
                [MessageId::random().as_str()],
            )
            .unwrap();
        }
        let db = Database::open(dir.path(), OutboxLimits::default()).unwrap();
        let pending = db.pending().unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].draft, text("old"));
    }
}
