//! What every client tried and was told, and the check of the final rooms against it.
//!
//! A client may be killed between asking and being answered, so each operation is one of:
//! confirmed (the core or the CLI said it is durably queued or stored), refused (it said no:
//! nothing may come of it) or unknown (killed in between: it may or may not happen, once). The
//! final state of every message body and every reaction must be the last confirmed operation on
//! it or one tried after it; a confirmed message must be there exactly once; each sender's
//! messages must be in the order it sent them.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One operation, as a worker prints it. Message bodies are their tag (`w3e1k17`: worker 3,
/// its second run, 17th message), with ` v<n>` after the n-th edit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub(crate) enum Op {
    Send {
        room: String,
        tag: String,
    },
    Edit {
        room: String,
        tag: String,
        v: u32,
    },
    React {
        room: String,
        seq: u64,
        emoji: String,
        on: bool,
        user: String,
    },
}

/// What became of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Unknown,
    Confirmed,
    Refused,
}

/// One user's reaction with one emoji to one message: room, seq, emoji, user.
type ReactionOf<'a> = (&'a str, u64, &'a str, &'a str);

/// A room as readers see it: seq → message.
pub(crate) type Room = BTreeMap<u64, Row>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub author: String,
    pub body: String,
    /// emoji → users.
    pub reactions: BTreeMap<String, BTreeSet<String>>,
}

/// Every operation of the run, in the order each client issued them.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    ops: Vec<(Op, Status)>,
    open: HashMap<Op, usize>,
}

/// The verdict on one run.
#[derive(Debug, Default, Clone)]
pub(crate) struct Verdict {
    pub messages: usize,
    pub confirmed: usize,
    pub edits: usize,
    pub reactions: usize,
    pub refused: usize,
    pub unknown: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub order_violations: usize,
    /// Bodies or reactions in a state no operation asked for (or older than a confirmed one).
    pub wrong_state: usize,
    /// Details of every failure, for the log.
    pub problems: Vec<String>,
}

impl Ledger {
    pub(crate) fn tried(&mut self, op: Op) {
        self.open.insert(op.clone(), self.ops.len());
        self.ops.push((op, Status::Unknown));
    }

    pub(crate) fn answered(&mut self, op: &Op, status: Status) {
        if let Some(i) = self.open.remove(op) {
            self.ops[i].1 = status;
        }
    }

    /// Checks the server's final rooms against what was asked.
    pub(crate) fn verify(&self, rooms: &BTreeMap<String, Room>) -> Verdict {
        let mut v = Verdict::default();
        // Where each tag ended up.
        let mut found: HashMap<&str, Vec<(&str, u64)>> = HashMap::new();
        for (name, room) in rooms {
            for (seq, row) in room {
                let tag = row.body.split(' ').next().unwrap_or_default();
                found.entry(tag).or_default().push((name, *seq));
            }
        }
        let mut sent: HashMap<&str, Status> = HashMap::new();
        let mut edits: HashMap<&str, Vec<(u32, Status)>> = HashMap::new();
        let mut reacts: HashMap<ReactionOf<'_>, Vec<(bool, Status)>> = HashMap::new();
        for (op, status) in &self.ops {
            match status {
                Status::Refused => v.refused += 1,
                Status::Unknown => v.unknown += 1,
                Status::Confirmed => {}
            }
            match op {
                Op::Send { tag, .. } => {
                    v.messages += 1;
                    v.confirmed += usize::from(*status == Status::Confirmed);
                    sent.insert(tag, *status);
                }
                Op::Edit { tag, v: n, .. } => {
                    v.edits += 1;
                    edits.entry(tag).or_default().push((*n, *status));
                }
                Op::React {
                    room,
                    seq,
                    emoji,
                    on,
                    user,
                } => {
                    v.reactions += 1;
                    reacts
                        .entry((room, *seq, emoji, user))
                        .or_default()
                        .push((*on, *status));
                }
            }
        }
        for (tag, places) in &found {
            match sent.get(tag) {
                None => v.fail_state(format!("{tag} is in {places:?} but was never sent")),
                Some(Status::Refused) => v.fail_state(format!("{tag} was refused but stored")),
                _ if places.len() > 1 => {
                    v.duplicated += places.len() - 1;
                    v.problems
                        .push(format!("{tag} stored {} times: {places:?}", places.len()));
                }
                _ => {}
            }
        }
        for (tag, status) in &sent {
            if *status == Status::Confirmed && !found.contains_key(tag) {
                v.lost += 1;
                v.problems
                    .push(format!("{tag} was confirmed and is missing"));
            }
        }
        self.check_order(rooms, &mut v);
        // Bodies: the version shown must be allowed by the edits asked for.
        for (name, room) in rooms {
            for (seq, row) in room {
                let mut words = row.body.split(' ');
                let tag = words.next().unwrap_or_default();
                let shown = words
                    .next()
                    .and_then(|w| w.strip_prefix('v'))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0u32);
                let asked = edits.get(tag).map(Vec::as_slice).unwrap_or_default();
                if !allowed(asked, &shown, &0) {
                    v.fail_state(format!(
                        "{name}#{seq} shows {:?}; edits {asked:?}",
                        row.body
                    ));
                }
                for ((room, target, emoji, user), asked) in &reacts {
                    if *room != name.as_str() || *target != *seq {
                        continue;
                    }
                    let on = row.reactions.get(*emoji).is_some_and(|u| u.contains(*user));
                    if !allowed(asked, &on, &false) {
                        v.fail_state(format!(
                            "{name}#{seq} {emoji} by {user} is {on}; asked {asked:?}"
                        ));
                    }
                }
            }
        }
        v
    }

    /// Per sender and room: seqs must grow with the order the sender issued its messages.
    fn check_order(&self, rooms: &BTreeMap<String, Room>, v: &mut Verdict) {
        let issued: HashMap<&str, usize> = self
            .ops
            .iter()
            .filter_map(|(op, _)| match op {
                Op::Send { tag, .. } => Some(tag.as_str()),
                _ => None,
            })
            .enumerate()
            .map(|(i, tag)| (tag, i))
            .collect();
        for (name, room) in rooms {
            let mut last: HashMap<&str, usize> = HashMap::new();
            for (seq, row) in room {
                let tag = row.body.split(' ').next().unwrap_or_default();
                let Some(&at) = issued.get(tag) else { continue };
                let sender = tag.split('e').next().unwrap_or_default();
                if let Some(prev) = last.insert(sender, at)
                    && prev > at
                {
                    v.order_violations += 1;
                    v.problems.push(format!(
                        "{name}#{seq}: {tag} stored after a later message of {sender}"
                    ));
                }
            }
        }
    }
}

impl Verdict {
    fn fail_state(&mut self, what: String) {
        self.wrong_state += 1;
        self.problems.push(what);
    }

    pub(crate) fn clean(&self) -> bool {
        self.lost + self.duplicated + self.order_violations + self.wrong_state == 0
    }
}

/// Whether `shown` is what operations `asked` (in order) may have left, `initial` before any.
/// Allowed: the value of the last confirmed operation or of any not refused after it; the
/// initial value too when none was confirmed.
fn allowed<T: PartialEq>(asked: &[(T, Status)], shown: &T, initial: &T) -> bool {
    let last = asked.iter().rposition(|(_, s)| *s == Status::Confirmed);
    let from = last.unwrap_or(0);
    if last.is_none() && shown == initial {
        return true;
    }
    asked[from..]
        .iter()
        .any(|(value, s)| *s != Status::Refused && value == shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(rows: &[(u64, &str)]) -> BTreeMap<String, Room> {
        let room = rows
            .iter()
            .map(|(seq, body)| {
                let row = Row {
                    author: "u".into(),
                    body: (*body).into(),
                    reactions: BTreeMap::new(),
                };
                (*seq, row)
            })
            .collect();
        BTreeMap::from([("r".to_owned(), room)])
    }

    fn send(ledger: &mut Ledger, tag: &str, status: Status) {
        let op = Op::Send {
            room: "r".into(),
            tag: tag.into(),
        };
        ledger.tried(op.clone());
        ledger.answered(&op, status);
    }

    #[test]
    fn a_confirmed_message_missing_is_lost_and_an_unknown_one_is_not() {
        let mut ledger = Ledger::default();
        send(&mut ledger, "w0e0k0", Status::Confirmed);
        send(&mut ledger, "w0e0k1", Status::Unknown);
        let v = ledger.verify(&room(&[]));
        assert_eq!((v.lost, v.unknown), (1, 1));
        assert!(!v.clean());
    }

    #[test]
    fn twice_stored_and_out_of_order_are_counted() {
        let mut ledger = Ledger::default();
        send(&mut ledger, "w0e0k0", Status::Confirmed);
        send(&mut ledger, "w0e0k1", Status::Confirmed);
        let v = ledger.verify(&room(&[(1, "w0e0k1"), (2, "w0e0k0"), (3, "w0e0k0")]));
        assert_eq!((v.duplicated, v.order_violations, v.lost), (1, 1, 0));
    }

    #[test]
    fn a_body_older_than_a_confirmed_edit_is_wrong() {
        let mut ledger = Ledger::default();
        send(&mut ledger, "w0e0k0", Status::Confirmed);
        for (n, status) in [
            (1, Status::Confirmed),
            (2, Status::Confirmed),
            (3, Status::Unknown),
        ] {
            let op = Op::Edit {
                room: "r".into(),
                tag: "w0e0k0".into(),
                v: n,
            };
            ledger.tried(op.clone());
            ledger.answered(&op, status);
        }
        assert!(ledger.verify(&room(&[(1, "w0e0k0 v2")])).clean());
        assert!(
            ledger.verify(&room(&[(1, "w0e0k0 v3")])).clean(),
            "tried after the last confirmed"
        );
        assert_eq!(ledger.verify(&room(&[(1, "w0e0k0 v1")])).wrong_state, 1);
        assert_eq!(ledger.verify(&room(&[(1, "w0e0k0")])).wrong_state, 1);
    }

    #[test]
    fn allowed_states_follow_the_last_confirmed_operation() {
        use Status::*;
        assert!(
            allowed(&[(true, Unknown)], &false, &false),
            "maybe never applied"
        );
        assert!(allowed(&[(true, Unknown)], &true, &false));
        assert!(!allowed(&[(true, Confirmed)], &false, &false));
        assert!(allowed(
            &[(true, Confirmed), (false, Unknown)],
            &false,
            &false
        ));
        assert!(!allowed(
            &[(true, Confirmed), (false, Refused)],
            &false,
            &false
        ));
    }
}
