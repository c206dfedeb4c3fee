//! Messages that change, whatever the backend: whether an edit, delete, reaction or reply may
//! be stored against its target, and the event a stored one becomes.

use super::types::{Payload, SendOutcome};
use confab_protocol::{DeleteEvent, EditEvent, Event, MessageData, ReactEvent};

/// The stored message a change is aimed at.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub author: String,
    pub kind: String,
    pub deleted: bool,
}

/// The rules, checked in the transaction that stores the change: the target is a message of
/// the room that is not deleted; only its author edits it; its author or a moderator (an owner
/// or admin of the room, a server administrator) deletes it; anyone who may post reacts and
/// replies.
pub(crate) fn check(
    payload: &Payload,
    target: Option<&Target>,
    author: &str,
    moderates: bool,
) -> Result<(), SendOutcome> {
    let Some(t) = target.filter(|t| t.kind == "message" && !t.deleted) else {
        return Err(SendOutcome::BadTarget);
    };
    let own = t.author.eq_ignore_ascii_case(author);
    match payload {
        Payload::Edit { .. } if !own => Err(SendOutcome::Forbidden),
        Payload::Delete { .. } if !own && !moderates => Err(SendOutcome::Forbidden),
        _ => Ok(()),
    }
}

/// The stored fields of a reaction (`messages.data`).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct ReactData {
    pub emoji: String,
    pub on: bool,
}

/// A client-sent entry's stored columns, as every backend writes them: `body`, `target`,
/// `reply_to` and `data` (a message's attachments, a reaction's emoji).
pub(crate) type Columns<'a> = (&'a str, Option<u64>, Option<u64>, Option<String>);

pub(crate) fn columns(payload: &Payload) -> crate::Result<Columns<'_>> {
    Ok(match payload {
        Payload::Message {
            body,
            reply_to,
            attachments,
        } => (body, None, *reply_to, super::files::to_data(attachments)?),
        Payload::Edit { target, body } => (body, Some(*target), None, None),
        Payload::Delete { target } => ("", Some(*target), None, None),
        Payload::React { target, emoji, on } => {
            let data = serde_json::to_string(&ReactData {
                emoji: emoji.clone(),
                on: *on,
            })
            .map_err(|e| crate::Error::Commit(e.to_string()))?;
            ("", Some(*target), None, Some(data))
        }
    })
}

/// The event a stored entry becomes.
pub(crate) fn event(
    room: &str,
    seq: u64,
    id: String,
    author: String,
    ts: u64,
    payload: Payload,
    mentions: Vec<String>,
) -> Event {
    let room = room.to_owned();
    match payload {
        Payload::Message {
            body,
            reply_to,
            attachments,
        } => Event::Message(MessageData {
            room,
            seq,
            id,
            author,
            body,
            ts,
            mentions,
            reply_to,
            attachments,
            ..MessageData::default()
        }),
        Payload::Edit { target, body } => Event::Edit(EditEvent {
            room,
            seq,
            id,
            author,
            ts,
            target,
            body: Some(body),
        }),
        Payload::Delete { target } => Event::Delete(DeleteEvent {
            room,
            seq,
            id,
            author,
            ts,
            target,
        }),
        Payload::React { target, emoji, on } => Event::React(ReactEvent {
            room,
            seq,
            id,
            author,
            ts,
            target,
            emoji,
            on,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(author: &str, deleted: bool) -> Target {
        Target {
            author: author.into(),
            kind: "message".into(),
            deleted,
        }
    }

    #[test]
    fn only_the_author_edits_and_moderators_delete_others_messages() {
        let edit = Payload::Edit {
            target: 1,
            body: "x".into(),
        };
        let delete = Payload::Delete { target: 1 };
        let react = Payload::React {
            target: 1,
            emoji: "👍".into(),
            on: true,
        };
        assert_eq!(check(&edit, Some(&msg("Bob", false)), "bob", false), Ok(()));
        assert_eq!(
            check(&edit, Some(&msg("bob", false)), "alice", true),
            Err(SendOutcome::Forbidden)
        );
        assert_eq!(
            check(&delete, Some(&msg("bob", false)), "alice", false),
            Err(SendOutcome::Forbidden)
        );
        assert_eq!(
            check(&delete, Some(&msg("bob", false)), "alice", true),
            Ok(())
        );
        assert_eq!(
            check(&react, Some(&msg("bob", false)), "carol", false),
            Ok(())
        );
        for target in [None, Some(msg("bob", true))] {
            assert_eq!(
                check(&react, target.as_ref(), "bob", true),
                Err(SendOutcome::BadTarget)
            );
        }
        let event = Target {
            kind: "react".into(),
            ..msg("bob", false)
        };
        assert_eq!(
            check(&edit, Some(&event), "bob", false),
            Err(SendOutcome::BadTarget),
            "only a message is a target"
        );
    }
}
