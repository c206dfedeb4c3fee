//! Three real server processes on one PostgreSQL, joined by Redis, haproxy in front; clients
//! spread over them, some through haproxy and some failing over on their own. Mid-traffic a
//! node is SIGKILLed (and later restarted), Redis restarts, and one node never rings the others
//! (the failpoint between COMMIT and PUBLISH). Then every guarantee is checked against the
//! database: each room numbered 1..N, every client saw every message once and in order, every
//! ack names the stored seq, and presence converges on every node.

use crate::harness::fast_config;
use confab_client::{Client, ConnState, Event, MemoryTokens, TokenStore};
use confab_protocol::MessageData;
use confab_protocol::ServerFrame;
use confab_protocol::api::TokenPair;
use confab_server::store::Database;
use confab_test_support::backend::{self, Backend};
use confab_test_support::{NodeProcess, NodeSpec, TestHaproxy, TestRedis, WsClient};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const CLIENTS: usize = 6;
const ROOMS: [&str; 2] = ["ops", "dev"];
const PER_ROOM: usize = 10;
/// The whole run, from the first send to every check passing.
const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// One client and what it saw.
struct Seen {
    client: Client,
    events: mpsc::Receiver<Event>,
    _dir: tempfile::TempDir,
    user: String,
    messages: BTreeMap<String, Vec<MessageData>>,
    acks: HashMap<String, u64>,
    open: bool,
}

impl Seen {
    fn take(&mut self, ev: Event) {
        match ev {
            Event::State(state) => self.open = matches!(state, ConnState::Open { .. }),
            Event::Message(m) => self.messages.entry(m.room.clone()).or_default().push(m),
            Event::Sent { id, seq, .. } => {
                self.acks.insert(id.to_string(), seq);
            }
            _ => {}
        }
    }

    /// Takes events until `done` holds, within the run's deadline.
    async fn until(&mut self, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + RUN_DEADLINE;
        while !done(self) {
            let ev = tokio::time::timeout_at(deadline, self.events.recv()).await;
            let ev = ev.unwrap_or_else(|_| panic!("{}: timed out waiting for {what}", self.user));
            self.take(ev.unwrap_or_else(|| panic!("{}: event stream ended", self.user)));
        }
    }
}

async fn login(node: &str, user: &str) -> TokenPair {
    let http = reqwest::Client::new();
    let creds = serde_json::json!({"username": user, "password": format!("password-of-{user}")});
    let reg = http
        .post(format!("{node}/api/register"))
        .json(&creds)
        .send()
        .await;
    assert_eq!(reg.map(|r| r.status().as_u16()).unwrap_or(0), 201);
    let resp = http
        .post(format!("{node}/api/login"))
        .json(&creds)
        .send()
        .await;
    let resp = resp.unwrap_or_else(|e| panic!("login {user}: {e}"));
    resp.json()
        .await
        .unwrap_or_else(|e| panic!("login {user}: {e}"))
}

#[tokio::test]
async fn three_nodes_survive_a_kill_a_redis_restart_and_a_silent_node() {
    if Backend::current() != Backend::Postgres {
        eprintln!("several nodes share PostgreSQL only; run with CONFAB_TEST_POSTGRES set");
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let Database::Postgres(db) = backend::new_database(scratch.path()).await else {
        unreachable!("the backend is PostgreSQL")
    };
    let mut redis = TestRedis::start().await;
    let spec = |drop_doorbells| NodeSpec {
        db: db.clone(),
        pubsub: Some(redis.url()),
        drop_doorbells,
    };
    let mut nodes = [
        NodeProcess::start(spec(false)).await,
        NodeProcess::start(spec(false)).await,
        NodeProcess::start(spec(true)).await,
    ];
    let addrs: Vec<_> = nodes.iter().map(|n| n.addr).collect();
    let lb = TestHaproxy::start(&addrs).await;
    let urls: Vec<String> = nodes.iter().map(NodeProcess::http_url).collect();

    // Half the clients go through haproxy; the others name the nodes, each starting elsewhere.
    let mut seen = Vec::new();
    for i in 0..CLIENTS {
        let user = format!("u{i}");
        let tokens = login(&urls[i % 3], &user).await;
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = if i < CLIENTS / 2 {
            fast_config(&lb.http_url(), dir.path())
        } else {
            let mut cfg = fast_config(&urls[i % 3], dir.path());
            cfg.fallback_servers = (1..3).map(|k| urls[(i + k) % 3].parse().unwrap()).collect();
            cfg
        };
        cfg.dead_after = Duration::from_secs(3);
        let store: Arc<dyn TokenStore> = Arc::new(MemoryTokens::new(Some(tokens)));
        let (client, events) = Client::start(cfg, store).unwrap();
        let mut s = Seen {
            client,
            events,
            _dir: dir,
            user,
            messages: BTreeMap::new(),
            acks: HashMap::new(),
            open: false,
        };
        s.until("open", |s| s.open).await;
        for room in ROOMS {
            s.client.join(room).await.unwrap();
        }
        seen.push(s);
    }

    // Traffic, with the faults in the middle of it.
    let mut sent: HashMap<String, (String, String)> = HashMap::new();
    for round in 0..PER_ROOM {
        match round {
            3 => nodes[0].kill(),
            5 => redis.restart().await,
            7 => nodes[0].restart().await,
            _ => {}
        }
        for s in &seen {
            for room in ROOMS {
                let body = format!("{} {room} {round}", s.user);
                let out = s.client.send(room, &body).await.unwrap();
                sent.insert(out.id.to_string(), (s.user.clone(), room.to_owned()));
            }
        }
        // Pacing, so the faults land among sends rather than after them all.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Everyone catches up.
    let total = CLIENTS * PER_ROOM;
    for s in &mut seen {
        s.until("every message and every ack", |s| {
            ROOMS
                .iter()
                .all(|r| s.messages.get(*r).map_or(0, Vec::len) >= total)
                && s.acks.len() == ROOMS.len() * PER_ROOM
        })
        .await;
    }

    // Presence converges: a newcomer on each node sees everyone, whichever node they are on
    // (the killed node's old entries expire; Redis lost all of them and they came back).
    let watcher = login(&urls[1], "watcher").await;
    let mut everyone: Vec<String> = (0..CLIENTS).map(|i| format!("u{i}")).collect();
    everyone.push("watcher".into());
    for url in &urls {
        let ws_url = format!("{}/ws", url.replace("http://", "ws://"));
        let mut ws = WsClient::connect_authed(&ws_url, &watcher.access_token).await;
        ws.join(ROOMS[0], None).await;
        ws.recv_until(|f| matches!(f, ServerFrame::Presence { users, .. } if *users == everyone))
            .await;
    }

    // The database: each room is exactly 1..N, and its order is what everyone saw.
    for room in ROOMS {
        let rows = backend::postgres_query(
            &db,
            &format!(
                "SELECT m.seq, m.client_id, m.author FROM messages m JOIN rooms r ON r.id = m.room_id
                 WHERE r.name = '{room}' ORDER BY m.seq"
            ),
        )
        .await;
        let stored: Vec<(u64, String)> = rows
            .iter()
            .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, String>(1)))
            .collect();
        let seqs: Vec<u64> = stored.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            seqs,
            (1..=total as u64).collect::<Vec<_>>(),
            "{room}: gap-free"
        );
        for s in &seen {
            let got: Vec<(u64, String)> = s.messages[room]
                .iter()
                .map(|m| (m.seq, m.id.clone()))
                .collect();
            assert_eq!(got, stored, "{} saw {room} exactly once, in order", s.user);
        }
        for (seq, id) in &stored {
            let (author, _) = &sent[id];
            let s = seen.iter().find(|s| &s.user == author).unwrap();
            assert_eq!(
                s.acks.get(id),
                Some(seq),
                "{author}'s ack for {id} names the stored seq"
            );
        }
    }
    drop(lb);
}
