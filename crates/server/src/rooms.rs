//! Room membership and fan-out.
//!
//! The hub maps each room to its members' outbound queues. Fan-out never waits: a frame is
//! `try_send`-ed to every member, and a member whose queue is full is flagged instead. Its writer
//! then catches that member up from the database — a slow reader costs a bounded queue and a
//! database read, never unbounded memory, and never misses a message.
//!
//! The lock is a plain mutex held only for map operations and `try_send`s, never across `.await`.

use crate::backlog::Backlog;
use axum::extract::ws::Utf8Bytes;
use confab_protocol::ServerFrame;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc;

/// What a connection's writer is asked to do, in order.
#[derive(Debug)]
pub enum Outbound {
    /// A frame this connection must get (answers, acks, errors).
    Frame(Utf8Bytes),
    /// A room message from the fan-out; the writer drops it if already delivered and fills gaps.
    Live {
        room: Arc<str>,
        seq: u64,
        frame: Utf8Bytes,
    },
    /// Typing or presence: fine to lose, so only ever `try_send`-ed.
    Ephemeral(Utf8Bytes),
    /// Send `joined` and replay the room after `after`, then deliver it live.
    Replay {
        room: Arc<str>,
        after: u64,
        /// Instead of `after`: only the newest this many.
        latest: Option<u64>,
    },
    /// Read a page of history and send it.
    History {
        room: Arc<str>,
        page: HistoryPage,
        limit: usize,
    },
    /// Run a search and send its `search_results` (read by the writer, as history is).
    Search {
        reference: String,
        request: Box<crate::store::SearchRequest>,
    },
    /// Read back whatever the database has beyond what was delivered (another node stored it
    /// and its doorbell was lost).
    CatchUp { room: Arc<str> },
    /// Stop delivering the room and confirm with `left`.
    Forget { room: Arc<str> },
    /// The user is no longer a member since `seq`: deliver up to it, then nothing more.
    Removed { room: Arc<str>, seq: u64 },
    /// A WebSocket ping (heartbeat).
    Ping,
    /// Close the connection with this code and reason, after what is queued before it.
    Close { code: u16, reason: String },
}

impl Outbound {
    /// Bytes this item holds in the queue, as the connection's [`Backlog`] counts them: the
    /// frames' text; jobs that the writer turns into frames itself count nothing here.
    pub fn weight(&self) -> usize {
        match self {
            Self::Frame(f) | Self::Ephemeral(f) | Self::Live { frame: f, .. } => f.len(),
            _ => 0,
        }
    }
}

/// Which page of a room's history a `history` request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryPage {
    /// Messages with seq below this (scrollback).
    Before(u64),
    /// Messages with seq above this, oldest first (scrolling back down).
    After(u64),
    /// This message and its neighbours on both sides (a jump to it).
    Around(u64),
}

/// One connection's place in a room.
#[derive(Debug, Clone)]
pub struct Member {
    pub session: u64,
    pub user: Arc<str>,
    pub tx: mpsc::Sender<Outbound>,
    /// The bytes queued for the connection, and the flag set when a frame could not be queued
    /// (the writer resyncs and clears it).
    pub(crate) backlog: Arc<Backlog>,
}

impl Member {
    /// Queues `item` without waiting. `false` if it was left out (no room in frames or bytes).
    fn try_queue(&self, item: Outbound) -> bool {
        let n = item.weight();
        if !self.backlog.try_take(n) {
            return false;
        }
        if self.tx.try_send(item).is_err() {
            self.backlog.release(n);
            return false;
        }
        true
    }

    /// A frame the member must get: left out, it is read back from the database. (A closed
    /// queue flags too: the connection is going away and leaves its rooms itself.)
    fn offer(&self, item: Outbound) {
        if !self.try_queue(item) {
            self.backlog.flag_overflow();
        }
    }
}

/// One room's connections, and how many of them each user has.
#[derive(Debug, Default)]
struct Room {
    members: HashMap<u64, Member>,
    /// Sessions per user, sorted by name: presence is its keys. Kept as members come and go so
    /// building the list costs O(users), not a pass over every session, and a user's further
    /// sessions (devices, reconnects) announce nothing to the others.
    users: BTreeMap<Arc<str>, usize>,
    /// The highest seq handed to the members (from a commit here, another node's doorbell, or
    /// a check of the database).
    latest: AtomicU64,
    /// Users present through other nodes only (several nodes; kept by `cluster`).
    remote: BTreeSet<String>,
}

/// All rooms with at least one member, and every connection by user.
#[derive(Debug, Default)]
pub struct Hub {
    rooms: Mutex<HashMap<Arc<str>, Room>>,
    /// Each user's connections here, by lower-case name: for what reaches all of a user's
    /// devices (a room added or removed, a read position).
    users: Mutex<HashMap<String, HashMap<u64, Member>>>,
}

impl Hub {
    fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Room>> {
        // A panic elsewhere while holding the lock leaves the maps consistent (every operation
        // is a single insert/remove), so poisoning is safe to ignore.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `member` to `room`, returning the room's shared name and whether the room's list
    /// of users changed (this is the user's first connection in it).
    pub fn join(&self, room: &str, member: Member) -> (Arc<str>, bool) {
        let mut rooms = self.rooms();
        let key = match rooms.get_key_value(room) {
            Some((k, _)) => Arc::clone(k),
            None => Arc::from(room),
        };
        let r = rooms.entry(Arc::clone(&key)).or_default();
        let user = Arc::clone(&member.user);
        // A session joining again replaces itself and counts once.
        let changed = r.members.insert(member.session, member).is_none() && {
            let n = r.users.entry(user).or_insert(0);
            *n += 1;
            *n == 1
        };
        (key, changed)
    }

    /// Removes a session from a room; true if that was its user's last connection there.
    pub fn leave(&self, room: &str, session: u64) -> bool {
        let mut rooms = self.rooms();
        let Some(r) = rooms.get_mut(room) else {
            return false;
        };
        let mut changed = false;
        if let Some(m) = r.members.remove(&session)
            && let Some(n) = r.users.get_mut(&m.user)
        {
            *n -= 1;
            if *n == 0 {
                r.users.remove(&m.user);
                changed = true;
            }
        }
        if r.members.is_empty() {
            rooms.remove(room);
        }
        changed
    }

    /// Fans a stored entry out to every member of its room. An entry that `removes` a user
    /// also takes that user's connections out of the room, under the same lock, so no later
    /// entry can reach them; true if the room's presence changed.
    pub fn publish(&self, room: &str, seq: u64, frame: &Utf8Bytes, removes: Option<&str>) -> bool {
        let mut rooms = self.rooms();
        let Some((key, r)) = rooms.get_key_value(room) else {
            return false;
        };
        let key = Arc::clone(key);
        r.latest.fetch_max(seq, Ordering::Relaxed);
        for member in r.members.values() {
            member.offer(Outbound::Live {
                room: Arc::clone(&key),
                seq,
                frame: frame.clone(),
            });
        }
        let Some(user) = removes else { return false };
        let Some(r) = rooms.get_mut(&key) else {
            return false;
        };
        let gone: Vec<u64> = r
            .members
            .values()
            .filter(|m| m.user.eq_ignore_ascii_case(user))
            .map(|m| m.session)
            .collect();
        for session in &gone {
            if let Some(m) = r.members.remove(session) {
                m.offer(Outbound::Removed {
                    room: Arc::clone(&key),
                    seq,
                });
            }
        }
        let changed = !gone.is_empty();
        r.users.retain(|u, _| !u.eq_ignore_ascii_case(user));
        if r.members.is_empty() {
            rooms.remove(&key);
        }
        changed
    }

    /// Whether this connection is (still) in the room.
    pub fn is_member(&self, room: &str, session: u64) -> bool {
        self.rooms()
            .get(room)
            .is_some_and(|r| r.members.contains_key(&session))
    }

    fn users(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<u64, Member>>> {
        self.users.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection of its user opened.
    pub fn register(&self, member: Member) {
        self.users()
            .entry(member.user.to_ascii_lowercase())
            .or_default()
            .insert(member.session, member);
    }

    /// A connection closed.
    pub fn unregister(&self, user: &str, session: u64) {
        let mut users = self.users();
        let key = user.to_ascii_lowercase();
        if let Some(sessions) = users.get_mut(&key) {
            sessions.remove(&session);
            if sessions.is_empty() {
                users.remove(&key);
            }
        }
    }

    /// Queues `frame` for every connection of `user` here.
    pub fn to_user(&self, user: &str, frame: &Utf8Bytes) {
        let users = self.users();
        for member in users
            .get(&user.to_ascii_lowercase())
            .into_iter()
            .flat_map(|s| s.values())
        {
            member.offer(Outbound::Frame(frame.clone()));
        }
    }

    /// Whether any connection of this node is in `room`.
    pub fn has_room(&self, room: &str) -> bool {
        self.rooms().contains_key(room)
    }

    /// The rooms with members here, and their users here.
    pub fn local_rooms(&self) -> Vec<(Arc<str>, Vec<Arc<str>>)> {
        self.rooms()
            .iter()
            .map(|(room, r)| (Arc::clone(room), r.users.keys().cloned().collect()))
            .collect()
    }

    /// The database has `room` up to `last_seq`: members catch up if that is beyond what they
    /// were handed.
    pub fn nudge(&self, room: &str, last_seq: u64) {
        let rooms = self.rooms();
        let Some((key, r)) = rooms.get_key_value(room) else {
            return;
        };
        // Under the lock, like `publish`: the two cannot interleave.
        if r.latest.fetch_max(last_seq, Ordering::Relaxed) >= last_seq {
            return;
        }
        for member in r.members.values() {
            member.offer(Outbound::CatchUp {
                room: Arc::clone(key),
            });
        }
    }

    /// Sets who is in `room` through other nodes; true if the room's presence list changed.
    pub fn set_remote_users(&self, room: &str, users: BTreeSet<String>) -> bool {
        let mut rooms = self.rooms();
        let Some(r) = rooms.get_mut(room) else {
            return false;
        };
        if r.remote == users {
            return false;
        }
        let before = presence_list(r);
        r.remote = users;
        presence_list(r) != before
    }

    /// Sends `typing` to everyone in the room except the typing user's own connections.
    pub fn typing(&self, room: &str, user: &str) {
        let frame = text(&ServerFrame::Typing {
            room: room.to_owned(),
            user: user.to_owned(),
        });
        let rooms = self.rooms();
        for member in rooms.get(room).into_iter().flat_map(|r| r.members.values()) {
            if &*member.user != user {
                let _ = member.try_queue(Outbound::Ephemeral(frame.clone()));
            }
        }
    }

    /// The room's presence frame: distinct usernames, sorted.
    pub fn presence(&self, room: &str) -> ServerFrame {
        presence_of(room, self.rooms().get(room))
    }

    /// Tells every member of the room who is there now (the list changed). The list is built
    /// and queued under one lock, so a later list can never be overtaken by an older one.
    pub fn announce_presence(&self, room: &str) {
        let rooms = self.rooms();
        let r = rooms.get(room);
        let frame = text(&presence_of(room, r));
        for member in r.into_iter().flat_map(|r| r.members.values()) {
            member.offer(Outbound::Ephemeral(frame.clone()));
        }
    }

    /// Tells one session who is in the room (it joined; the list did not change for others).
    pub fn presence_to(&self, room: &str, session: u64) {
        let rooms = self.rooms();
        let r = rooms.get(room);
        if let Some(member) = r.and_then(|r| r.members.get(&session)) {
            member.offer(Outbound::Ephemeral(text(&presence_of(room, r))));
        }
    }
}

fn presence_of(room: &str, r: Option<&Room>) -> ServerFrame {
    ServerFrame::Presence {
        room: room.to_owned(),
        users: r.map(presence_list).unwrap_or_default(),
    }
}

/// Distinct users here and on other nodes, sorted.
fn presence_list(r: &Room) -> Vec<String> {
    let here = r.users.keys().map(|u| u.to_string());
    let all: BTreeSet<String> = here.chain(r.remote.iter().cloned()).collect();
    all.into_iter().collect()
}

/// Serialises a frame once, into a cheaply cloneable text buffer.
pub fn text(frame: &ServerFrame) -> Utf8Bytes {
    Utf8Bytes::from(frame.to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(session: u64, user: &str, cap: usize) -> (Member, mpsc::Receiver<Outbound>) {
        member_with_budget(session, user, cap, usize::MAX)
    }

    fn member_with_budget(
        session: u64,
        user: &str,
        cap: usize,
        bytes: usize,
    ) -> (Member, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(cap);
        let m = Member {
            session,
            user: user.into(),
            tx,
            backlog: Arc::new(Backlog::new(bytes)),
        };
        (m, rx)
    }

    #[test]
    fn the_queue_is_bounded_in_bytes_too() {
        let hub = Hub::default();
        // Room for a thousand frames, but only 250 bytes.
        let (slow, mut rx) = member_with_budget(1, "slow", 1000, 250);
        hub.join("r", slow.clone());
        let frame = Utf8Bytes::from("x".repeat(100));
        for seq in 1..=3 {
            hub.publish("r", seq, &frame, None);
        }
        assert!(
            slow.backlog.overflowed(),
            "the third frame is over the budget"
        );
        let mut queued = 0;
        while rx.try_recv().is_ok() {
            queued += 1;
        }
        assert_eq!(queued, 2);
    }

    #[test]
    fn a_full_queue_flags_the_member_instead_of_blocking() {
        let hub = Hub::default();
        let (slow, mut slow_rx) = member(1, "slow", 1);
        let (fast, mut fast_rx) = member(2, "fast", 8);
        hub.join("r", slow.clone());
        hub.join("r", fast);
        for seq in 1..=3 {
            hub.publish("r", seq, &Utf8Bytes::from_static("{}"), None);
        }
        assert!(slow.backlog.overflowed(), "slow member flagged for resync");
        let mut fast_seqs = vec![];
        while let Ok(Outbound::Live { seq, .. }) = fast_rx.try_recv() {
            fast_seqs.push(seq);
        }
        assert_eq!(fast_seqs, [1, 2, 3], "the fast member is unaffected");
        assert!(matches!(
            slow_rx.try_recv(),
            Ok(Outbound::Live { seq: 1, .. })
        ));
    }

    #[test]
    fn presence_lists_distinct_users_and_empty_rooms_disappear() {
        let hub = Hub::default();
        let (a1, _r1) = member(1, "bob", 4);
        let (a2, _r2) = member(2, "alice", 4);
        let (a3, _r3) = member(3, "bob", 4);
        let changed: Vec<bool> = [a1.clone(), a2, a3]
            .into_iter()
            .map(|m| hub.join("r", m).1)
            .collect();
        assert_eq!(
            changed,
            [true, true, false],
            "bob's second session changes no list"
        );
        assert!(!hub.join("r", a1).1, "a session joining again counts once");
        let users = |f| match f {
            ServerFrame::Presence { users, .. } => users,
            _ => vec![],
        };
        assert_eq!(users(hub.presence("r")), ["alice", "bob"]);
        let left: Vec<bool> = (1..=3).map(|s| hub.leave("r", s)).collect();
        assert_eq!(
            left,
            [false, true, true],
            "bob leaves with his last session"
        );
        assert!(hub.rooms().is_empty());
    }

    #[test]
    fn a_removing_entry_is_the_last_the_removed_user_gets() {
        let hub = Hub::default();
        let (bob, mut bob_rx) = member(1, "bob", 8);
        let (alice, mut alice_rx) = member(2, "alice", 8);
        hub.join("r", bob);
        hub.join("r", alice);
        let frame = Utf8Bytes::from_static("{}");
        assert!(
            hub.publish("r", 1, &frame, Some("BOB")),
            "bob left the presence list"
        );
        hub.publish("r", 2, &frame, None);
        let mut bob_got = vec![];
        while let Ok(item) = bob_rx.try_recv() {
            bob_got.push(match item {
                Outbound::Live { seq, .. } => format!("live {seq}"),
                Outbound::Removed { seq, .. } => format!("removed {seq}"),
                _ => "other".into(),
            });
        }
        assert_eq!(bob_got, ["live 1", "removed 1"]);
        assert!(!hub.is_member("r", 1) && hub.is_member("r", 2));
        let mut alice_seqs = vec![];
        while let Ok(Outbound::Live { seq, .. }) = alice_rx.try_recv() {
            alice_seqs.push(seq);
        }
        assert_eq!(alice_seqs, [1, 2]);
    }
}
