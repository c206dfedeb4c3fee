//! The three tasks of a node's link with the others: the publisher (rings doorbells), the
//! subscriber (hears the others') and the checker (catches members up from the database and
//! keeps presence in Redis current).

use super::{ClusterConfig, Ring};
use crate::metrics::Metrics;
use crate::rooms::Hub;
use crate::store::{Store, now_ms};
use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt as _;
use redis::aio::ConnectionManager;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio::time::{Instant, MissedTickBehavior, timeout};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// Longest wait for one Redis command; a doorbell later than this is dropped.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);
/// Wait before reconnecting after Redis went away (plus up to as much again, at random, so
/// nodes do not all come back at once).
const RECONNECT_AFTER: Duration = Duration::from_millis(500);
/// Rooms whose presence the subscriber asks the checker to recompute, waiting at once.
const RECOMPUTE_QUEUE: usize = 1024;

const ROOM_PREFIX: &str = "confab:room:";
const TYPING_PREFIX: &str = "confab:typing:";
const PRESENCE_PREFIX: &str = "confab:presence:";
const USER_PREFIX: &str = "confab:user:";

pub(super) struct Node {
    /// Random per process: a restarted node is a new node, and its old entries just expire.
    pub(super) id: String,
    pub(super) client: redis::Client,
    pub(super) hub: Arc<Hub>,
    pub(super) store: Store,
    pub(super) metrics: Arc<Metrics>,
    pub(super) config: ClusterConfig,
    pub(super) subscribed: Arc<AtomicBool>,
    pub(super) shutdown: CancellationToken,
    /// This node's own doorbells, for what the subscriber must ring in turn.
    pub(super) rings: mpsc::Sender<Ring>,
}

impl Node {
    pub(super) fn spawn(self, rings: mpsc::Receiver<Ring>) {
        let node = Arc::new(self);
        let check_now = Arc::new(Notify::new());
        let (recompute, recompute_rx) = mpsc::channel(RECOMPUTE_QUEUE);
        tokio::spawn(Arc::clone(&node).publish(rings));
        tokio::spawn(Arc::clone(&node).subscribe(Arc::clone(&check_now), recompute));
        tokio::spawn(node.check(check_now, recompute_rx));
    }

    fn presence_member(&self, user: &str) -> String {
        format!("{}/{user}", self.id)
    }

    fn presence_expiry(&self) -> u64 {
        now_ms() + self.config.presence_ttl.as_millis() as u64
    }

    /// A connection for commands, or `None` while Redis cannot be reached.
    async fn connect(&self) -> Option<ConnectionManager> {
        match timeout(REDIS_TIMEOUT, ConnectionManager::new(self.client.clone())).await {
            Ok(Ok(conn)) => Some(conn),
            Ok(Err(e)) => {
                debug!(error = %e, "redis not reachable");
                None
            }
            Err(_) => None,
        }
    }

    /// Rings what this node has to say, in order, until shutdown.
    async fn publish(self: Arc<Self>, mut rings: mpsc::Receiver<Ring>) {
        let mut conn: Option<ConnectionManager> = None;
        let mut retry_at = Instant::now();
        loop {
            let ring = tokio::select! {
                ring = rings.recv() => ring,
                () = self.shutdown.cancelled() => None,
            };
            let Some(ring) = ring else { return };
            if conn.is_none() && Instant::now() >= retry_at {
                conn = self.connect().await;
                retry_at = Instant::now() + RECONNECT_AFTER;
            }
            // Without Redis the ring is dropped: the others' check covers messages, expiry
            // and the next refresh cover presence.
            let Some(c) = conn.as_mut() else { continue };
            let pipe = self.ring_commands(ring);
            match timeout(REDIS_TIMEOUT, pipe.query_async::<()>(c)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => debug!(error = %e, "ringing failed"),
                Err(_) => debug!("ringing timed out"),
            }
        }
    }

    fn ring_commands(&self, ring: Ring) -> redis::Pipeline {
        let mut pipe = redis::pipe();
        match ring {
            Ring::Message { room, seq, frame } => {
                let payload = format!("{} {seq} {} {}", self.id, now_ms(), frame.as_str());
                pipe.publish(format!("{ROOM_PREFIX}{room}"), payload);
            }
            Ring::Typing { room, user } => {
                let payload = format!("{} {user}", self.id);
                pipe.publish(format!("{TYPING_PREFIX}{room}"), payload);
            }
            Ring::Presence {
                room,
                user,
                present,
            } => {
                let key = format!("{PRESENCE_PREFIX}{room}");
                let member = self.presence_member(&user);
                if present {
                    pipe.zadd(&key, member, self.presence_expiry());
                    pipe.pexpire(&key, self.config.presence_ttl.as_millis() as i64);
                } else {
                    pipe.zrem(&key, member);
                }
                pipe.publish(&key, self.id.as_str());
            }
            Ring::User { user, frame } => {
                let payload = format!("{} {}", self.id, frame.as_str());
                pipe.publish(format!("{USER_PREFIX}{user}"), payload);
            }
        }
        pipe.ignore();
        pipe
    }

    /// Hears the other nodes until shutdown, resubscribing whenever Redis comes back.
    async fn subscribe(self: Arc<Self>, check_now: Arc<Notify>, recompute: mpsc::Sender<String>) {
        let mut lost = false;
        while !self.shutdown.is_cancelled() {
            match self.listen(&check_now, &recompute).await {
                Ok(()) => {}
                Err(e) => {
                    if !lost {
                        warn!(error = %e, "lost the pub/sub connection; catching up from the database meanwhile");
                    }
                    lost = true;
                }
            }
            self.subscribed.store(false, Ordering::Release);
            let jitter = RECONNECT_AFTER.mul_f64(rand::random::<f64>());
            tokio::select! {
                () = tokio::time::sleep(RECONNECT_AFTER + jitter) => {}
                () = self.shutdown.cancelled() => return,
            }
        }
    }

    async fn listen(
        &self,
        check_now: &Notify,
        recompute: &mpsc::Sender<String>,
    ) -> redis::RedisResult<()> {
        let mut pubsub = match timeout(REDIS_TIMEOUT, self.client.get_async_pubsub()).await {
            Ok(conn) => conn?,
            Err(_) => {
                return Err(redis::RedisError::from(std::io::Error::from(
                    std::io::ErrorKind::TimedOut,
                )));
            }
        };
        for prefix in [ROOM_PREFIX, TYPING_PREFIX, PRESENCE_PREFIX, USER_PREFIX] {
            pubsub.psubscribe(format!("{prefix}*")).await?;
        }
        self.subscribed.store(true, Ordering::Release);
        info!(node = %self.id, "subscribed to the other nodes");
        // Anything rung while this node was not listening is in the database: catch up now.
        check_now.notify_one();
        let mut messages = pubsub.on_message();
        loop {
            let msg = tokio::select! {
                msg = messages.next() => msg,
                () = self.shutdown.cancelled() => return Ok(()),
            };
            let Some(msg) = msg else {
                return Err(redis::RedisError::from(std::io::Error::from(
                    std::io::ErrorKind::ConnectionReset,
                )));
            };
            let Ok(payload) = msg.get_payload::<String>() else {
                continue;
            };
            self.heard(msg.get_channel_name(), payload, recompute);
        }
    }

    /// One doorbell from the pub/sub connection. This node's own are ignored, except presence:
    /// a user's first connection here rings it too, and this node then reads who is there
    /// through the others (it may have no record of the room until now).
    fn heard(&self, channel: &str, payload: String, recompute: &mpsc::Sender<String>) {
        if let Some(room) = channel.strip_prefix(PRESENCE_PREFIX) {
            if self.hub.has_room(room) {
                let _ = recompute.try_send(room.to_owned());
            }
            return;
        }
        let (node, rest) = payload.split_once(' ').unwrap_or((payload.as_str(), ""));
        if node == self.id {
            return;
        }
        if let Some(room) = channel.strip_prefix(ROOM_PREFIX) {
            let mut fields = rest.splitn(3, ' ');
            let (Some(seq), Some(rung), Some(frame)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return;
            };
            let (Ok(seq), Ok(rung)) = (seq.parse::<u64>(), rung.parse::<u64>()) else {
                return;
            };
            // Clocks of different machines: a node behind the ringer counts no lag.
            let lag = now_ms().saturating_sub(rung);
            self.metrics.pubsub_lag(Duration::from_millis(lag));
            let removes = removed_user(frame);
            let frame = Utf8Bytes::from(frame.to_owned());
            if self.hub.publish(room, seq, &frame, removes.as_deref()) {
                self.hub.announce_presence(room);
                if let Some(user) = removes {
                    self.ring_presence_gone(room, user);
                }
            }
        } else if let Some(room) = channel.strip_prefix(TYPING_PREFIX) {
            self.hub.typing(room, rest);
        } else if let Some(user) = channel.strip_prefix(USER_PREFIX) {
            self.hub.to_user(user, &Utf8Bytes::from(rest.to_owned()));
        }
    }

    /// This node no longer has `user` in `room` (removed from it): its presence entry goes.
    fn ring_presence_gone(&self, room: &str, user: String) {
        let _ = self.rings.try_send(Ring::Presence {
            room: room.to_owned(),
            user,
            present: false,
        });
    }

    /// Every `check_every`: members catch up where the database is ahead, and presence is
    /// recomputed (a dead node's users expire). Every `presence_refresh`: this node's entries
    /// are renewed.
    async fn check(self: Arc<Self>, check_now: Arc<Notify>, mut recompute: mpsc::Receiver<String>) {
        let mut tick = tokio::time::interval(self.config.check_every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut refresh = tokio::time::interval(self.config.presence_refresh);
        refresh.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut conn: Option<ConnectionManager> = None;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = check_now.notified() => {
                    // Just (re)subscribed: Redis may have restarted empty, so this node's
                    // presence entries go back in before anyone recomputes without them.
                    self.refresh_presence(&mut conn).await;
                }
                _ = refresh.tick() => {
                    self.refresh_presence(&mut conn).await;
                    continue;
                }
                Some(room) = recompute.recv() => {
                    self.recompute_presence(&mut conn, &[Arc::from(room)]).await;
                    continue;
                }
                () = self.shutdown.cancelled() => return,
            }
            let rooms: Vec<Arc<str>> = self.hub.local_rooms().into_iter().map(|(r, _)| r).collect();
            if rooms.is_empty() {
                continue;
            }
            match self.store.last_seqs(&rooms).await {
                Ok(seqs) => {
                    for (room, seq) in seqs {
                        self.hub.nudge(&room, seq);
                    }
                }
                Err(e) => warn!(error = %e, "checking the rooms' last seqs failed"),
            }
            self.recompute_presence(&mut conn, &rooms).await;
        }
    }

    async fn command_conn<'a>(
        &self,
        conn: &'a mut Option<ConnectionManager>,
    ) -> Option<&'a mut ConnectionManager> {
        if conn.is_none() {
            *conn = self.connect().await;
        }
        conn.as_mut()
    }

    /// Renews this node's presence entries and drops everyone's expired ones.
    async fn refresh_presence(&self, conn: &mut Option<ConnectionManager>) {
        let rooms = self.hub.local_rooms();
        if rooms.is_empty() {
            return;
        }
        let Some(c) = self.command_conn(conn).await else {
            return;
        };
        let (expiry, now) = (self.presence_expiry(), now_ms());
        let mut pipe = redis::pipe();
        for (room, users) in &rooms {
            let key = format!("{PRESENCE_PREFIX}{room}");
            for user in users {
                pipe.zadd(&key, self.presence_member(user), expiry);
            }
            pipe.zrembyscore(&key, "-inf", now);
            pipe.pexpire(&key, self.config.presence_ttl.as_millis() as i64);
        }
        pipe.ignore();
        if let Ok(Err(e)) = timeout(REDIS_TIMEOUT, pipe.query_async::<()>(c)).await {
            debug!(error = %e, "renewing presence failed");
        }
    }

    /// Reads who else is in `rooms` (users of other nodes whose entries have not expired) and
    /// tells local members when that changed.
    async fn recompute_presence(&self, conn: &mut Option<ConnectionManager>, rooms: &[Arc<str>]) {
        let Some(c) = self.command_conn(conn).await else {
            return;
        };
        let mut pipe = redis::pipe();
        for room in rooms {
            pipe.zrangebyscore(format!("{PRESENCE_PREFIX}{room}"), now_ms(), "+inf");
        }
        let lists: Vec<Vec<String>> = match timeout(REDIS_TIMEOUT, pipe.query_async(c)).await {
            Ok(Ok(lists)) => lists,
            Ok(Err(e)) => {
                debug!(error = %e, "reading presence failed");
                return;
            }
            Err(_) => return,
        };
        let own = format!("{}/", self.id);
        for (room, members) in rooms.iter().zip(lists) {
            let others: BTreeSet<String> = members
                .iter()
                .filter(|m| !m.starts_with(&own))
                .filter_map(|m| m.split_once('/').map(|(_, user)| user.to_owned()))
                .collect();
            if self.hub.set_remote_users(room, others) {
                self.hub.announce_presence(room);
            }
        }
    }
}

/// The user a doorbell's entry removes from its room, if it is such an entry. Only membership
/// entries are parsed; messages are recognised by their first bytes and passed on untouched.
fn removed_user(frame: &str) -> Option<String> {
    if !frame.starts_with(r#"{"type":"member""#) {
        return None;
    }
    match serde_json::from_str(frame) {
        Ok(confab_protocol::ServerFrame::Member(e)) if e.action.removes() => Some(e.user),
        _ => None,
    }
}
