//! Shutdown, heartbeats, and the real binary: signals and what it logs.

use confab_protocol::{ServerFrame, close};
use confab_server::store::Database;
use confab_test_support::{DEADLINE, TestServer, WsClient};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn shutdown_sends_1001_and_loses_nothing_acked() {
    let mut server = TestServer::start_with(|c| c.limits.rate_burst = 10_000).await;
    let mut alice = server.client("alice").await;
    let mut bob = server.client("bob").await;
    alice.join("general", None).await;
    bob.join("general", None).await;
    for i in 1..=50 {
        alice
            .send_json(
                json!({"type": "send", "id": format!("m{i}"), "room": "general", "body": "x"}),
            )
            .await;
    }
    server.stop().await;
    // Every ack Alice got before the close names a message that survives the restart.
    let mut acked = vec![];
    let closed = loop {
        match alice.next_frame().await {
            Ok(ServerFrame::Ack { seq, .. }) => acked.push(seq),
            Ok(_) => {}
            Err(closed) => break closed,
        }
    };
    assert_eq!(closed.code, close::GOING_AWAY);
    assert_eq!(
        close::parse_retry_hint(&closed.reason),
        Some(1000),
        "carries a retry hint"
    );
    assert_eq!(bob.closed().await.code, close::GOING_AWAY);

    let server = server.restart().await;
    let tokens = server.login("alice").await;
    let mut alice = WsClient::connect_authed(&server.ws_url(), &tokens.access_token).await;
    let (_, replay) = alice.join("general", None).await;
    let stored = crate::seqs(&replay);
    assert!(
        acked.iter().all(|s| stored.contains(s)),
        "acked {acked:?} but stored {stored:?}"
    );
    assert_eq!(
        stored,
        (1..=stored.len() as u64).collect::<Vec<_>>(),
        "no gaps"
    );
}

/// Holds the database's write lock from outside the server until released: a row lock on the
/// room in PostgreSQL (another session), the write lock in SQLite (another process, as
/// `confab-server admin` beside a live server). The node's sends wait for it meanwhile.
enum HeldLock {
    Postgres(tokio_postgres::Client),
    Sqlite(rusqlite::Connection),
}

impl HeldLock {
    async fn take(server: &TestServer, room: &str) -> Self {
        match &server.config.db {
            Database::Postgres(url) => {
                let (pg, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .unwrap_or_else(|e| panic!("connect to the test database: {e}"));
                tokio::spawn(conn);
                pg.batch_execute("BEGIN")
                    .await
                    .unwrap_or_else(|e| panic!("BEGIN: {e}"));
                pg.execute("SELECT 1 FROM rooms WHERE name = $1 FOR UPDATE", &[&room])
                    .await
                    .unwrap_or_else(|e| panic!("lock the room's row: {e}"));
                Self::Postgres(pg)
            }
            Database::Sqlite(path) => {
                let db = rusqlite::Connection::open(path)
                    .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
                db.execute_batch("BEGIN IMMEDIATE")
                    .unwrap_or_else(|e| panic!("take the write lock: {e}"));
                Self::Sqlite(db)
            }
        }
    }

    async fn release(self) {
        let released = match self {
            Self::Postgres(pg) => pg
                .batch_execute("ROLLBACK")
                .await
                .map_err(|e| e.to_string()),
            Self::Sqlite(db) => db.execute_batch("ROLLBACK").map_err(|e| e.to_string()),
        };
        released.unwrap_or_else(|e| panic!("ROLLBACK: {e}"));
    }
}

/// While the most sends are in flight the server stops reading the connection until the
/// database catches up (backpressure), so it hears nothing from the peer meanwhile. That is not
/// the peer falling silent: dropping it made every client of a slow database reconnect and
/// resend its outbox every two heartbeats, and the database never caught up (the soak's nodes).
#[tokio::test]
async fn a_connection_waiting_for_a_slow_database_is_not_dropped_as_silent() {
    let server = TestServer::start_with(|c| {
        c.limits.heartbeat = Duration::from_millis(200);
        c.limits.max_inflight_sends = 2;
    })
    .await;
    let mut alice = server.client("alice").await;
    alice.join("slow", None).await;
    alice.send_msg("m0", "slow", "the room exists").await;
    // Two seconds: ten heartbeats, and well inside SQLite's busy timeout (5 s).
    let held = HeldLock::take(&server, "slow").await;
    for i in 1..=4 {
        let send = json!({"type": "send", "id": format!("m{i}"), "room": "slow", "body": "wait"});
        alice.send_json(send).await;
    }
    // Ten heartbeats while the client reads (and so answers pings): nothing may end it, and
    // nothing is acked before it is stored.
    let held_for = tokio::time::sleep(Duration::from_secs(2));
    tokio::pin!(held_for);
    loop {
        tokio::select! {
            () = &mut held_for => break,
            frame = alice.next_frame() => match frame {
                Ok(ServerFrame::Ack { id, .. }) => panic!("{id} acked while the database was held"),
                Ok(_) => {}
                Err(closed) => panic!("dropped while the database was held: {closed:?}"),
            },
        }
    }
    held.release().await;
    let acks = async {
        let mut acked = Vec::new();
        while acked.len() < 4 {
            match alice.next_frame().await {
                Ok(ServerFrame::Ack { id, .. }) => acked.push(id),
                Ok(_) => {}
                Err(closed) => panic!("closed before every send was stored: {closed:?}"),
            }
        }
        acked
    };
    let acked = tokio::time::timeout(DEADLINE, acks)
        .await
        .expect("every send acked");
    assert_eq!(acked, ["m1", "m2", "m3", "m4"]);
}

/// `confab-server admin` works on the SQLite database beside a live server, so the server's
/// writer meets a write lock held by another process now and then: the sends of that moment wait
/// for it (up to the busy timeout) instead of failing with `storage_failed`.
#[tokio::test]
async fn a_send_waits_while_another_process_holds_the_sqlite_write_lock() {
    let server = TestServer::start().await;
    if !matches!(server.config.db, Database::Sqlite(_)) {
        eprintln!("SQLite's write lock: nothing to hold on PostgreSQL");
        return;
    }
    let mut alice = server.client("alice").await;
    alice.join("busy", None).await;
    let other = HeldLock::take(&server, "busy").await;
    alice
        .send_json(json!({"type": "send", "id": "m1", "room": "busy", "body": "wait for it"}))
        .await;
    // The other process keeps the lock for half a second: no answer may come meanwhile.
    let held_for = tokio::time::sleep(Duration::from_millis(500));
    tokio::pin!(held_for);
    loop {
        tokio::select! {
            () = &mut held_for => break,
            frame = alice.next_frame() => match frame {
                Ok(f @ (ServerFrame::Ack { .. } | ServerFrame::Error { .. })) => {
                    panic!("answered while the lock was held: {f:?}")
                }
                Ok(_) => {}
                Err(closed) => panic!("closed while the lock was held: {closed:?}"),
            },
        }
    }
    other.release().await;
    let answer = alice
        .recv_until(|f| matches!(f, ServerFrame::Ack { .. } | ServerFrame::Error { .. }))
        .await;
    assert!(
        matches!(&answer, ServerFrame::Ack { id, .. } if id == "m1"),
        "{answer:?}"
    );
}

/// A raw client that completes the handshake and auth, then never answers pings.
#[tokio::test]
async fn a_peer_that_stops_answering_pings_is_dropped() {
    let server = TestServer::start_with(|c| c.limits.heartbeat = Duration::from_millis(200)).await;
    let tokens = server.user("alice").await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let upgrade = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    tcp.write_all(upgrade.as_bytes()).await.unwrap();
    // A masked text frame with an all-zero mask (legal, and the payload stays readable).
    let auth = json!({"type": "auth", "token": tokens.access_token.expose()}).to_string();
    let mut frame = vec![0x81u8, 0x80 | 126];
    frame.extend_from_slice(&(auth.len() as u16).to_be_bytes());
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(auth.as_bytes());
    tcp.write_all(&frame).await.unwrap();

    let mut received = vec![];
    let read_all = async {
        let mut buf = [0u8; 4096];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(DEADLINE, read_all)
        .await
        .unwrap_or_else(|_| panic!("silent peer was never dropped"));
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.contains("101 Switching Protocols") && text.contains("\"ready\""),
        "{text}"
    );
    assert!(
        received.windows(2).any(|w| w == [0x89, 0x00]),
        "the server pinged before giving up"
    );
}

fn spawn_binary(
    db: &std::path::Path,
) -> (
    std::process::Child,
    std::net::SocketAddr,
    std::sync::mpsc::Receiver<String>,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_confab-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--db",
            &db.to_string_lossy(),
            "--log",
            "debug",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn confab-server: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let listening = loop {
        let line = rx
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|e| panic!("no 'listening' log line: {e}"));
        if line.contains("listening") {
            break line;
        }
    };
    let addr = listening
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {listening:?}"));
    (child, addr, rx)
}

#[tokio::test]
async fn the_binary_stops_on_sigterm_with_1001_and_never_logs_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, log) = spawn_binary(&dir.path().join("c.db"));
    let http = reqwest::Client::new();
    let password = "a-very-secret-password";
    let creds = json!({"username": "alice", "password": password});
    let url = |p: &str| format!("http://{addr}{p}");
    let status =
        |r: reqwest::Result<reqwest::Response>| r.map(|r| r.status().as_u16()).unwrap_or(0);
    assert_eq!(
        status(http.post(url("/api/register")).json(&creds).send().await),
        201
    );
    let pair: confab_protocol::api::TokenPair = http
        .post(url("/api/login"))
        .json(&creds)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("login: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("pair: {e}"));
    let refreshed = http
        .post(url("/api/refresh"))
        .json(&json!({"refresh_token": pair.refresh_token.expose()}))
        .send()
        .await;
    assert_eq!(status(refreshed), 200);
    let mut ws = WsClient::connect_authed(&format!("ws://{addr}/ws"), &pair.access_token).await;
    ws.send_json(json!({"type": "auth", "token": pair.access_token.expose()}))
        .await;
    ws.recv_error().await;

    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(killed.success());
    assert_eq!(ws.closed().await.code, close::GOING_AWAY);
    let exit = tokio::task::spawn_blocking(move || child.wait()).await;
    assert!(
        exit.is_ok_and(|s| s.is_ok_and(|s| s.success())),
        "exits cleanly on SIGTERM"
    );

    let lines: Vec<String> = log.try_iter().collect();
    let all = lines.join("\n");
    assert!(
        all.contains("logged in") && all.contains("stopped"),
        "debug log was captured:\n{all}"
    );
    for secret in [
        password,
        pair.access_token.expose(),
        pair.refresh_token.expose(),
    ] {
        assert!(!all.contains(secret), "a secret reached the log:\n{all}");
    }
}

/// Alice, and Bob on a socket with a tiny receive buffer, both in `general`.
async fn alice_and_a_slow_reader(server: &TestServer) -> (WsClient, WsClient) {
    let mut alice = server.client("alice").await;
    let bob_tokens = server.user("bob").await;
    let mut bob =
        WsClient::connect_authed_small_buffer(server.addr, &bob_tokens.access_token).await;
    alice.join("general", None).await;
    bob.join("general", None).await;
    (alice, bob)
}

/// A peer that keeps sending but never reads: its writes stall, and it is dropped instead of
/// holding its connection and queue forever.
#[tokio::test]
async fn a_peer_that_never_reads_is_dropped_when_writes_stall() {
    let server = TestServer::start_with(|c| {
        c.limits.heartbeat = Duration::from_millis(250);
        c.limits.rate_burst = 100_000;
        c.limits.rate_per_sec = 100_000;
        c.limits.send_queue = 16;
    })
    .await;
    let (mut alice, mut bob) = alice_and_a_slow_reader(&server).await;
    alice
        .recv_until(|f| matches!(f, ServerFrame::Presence { users, .. } if users.len() == 2))
        .await;
    alice.forget_skipped();

    // Bob types (so he is never silent) but reads nothing, while Alice fills his pipe.
    let typing = tokio::spawn(async move {
        for _ in 0..400 {
            if !bob
                .try_send_text(json!({"type": "typing", "room": "general"}).to_string())
                .await
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    });
    let body = "w".repeat(8 * 1024);
    let mut i = 0;
    let started = tokio::time::Instant::now();
    let gone = loop {
        i += 1;
        alice
            .send_json(
                json!({"type": "send", "id": format!("m{i}"), "room": "general", "body": body}),
            )
            .await;
        match alice
            .recv_until(|f| matches!(f, ServerFrame::Ack { .. } | ServerFrame::Presence { .. }))
            .await
        {
            ServerFrame::Presence { users, .. } if users == ["alice"] => break true,
            _ => {}
        }
        assert!(started.elapsed() < DEADLINE, "bob was never dropped");
    };
    assert!(gone);
    typing.abort();
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("j.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_confab-server"))
        .args(["--listen", "127.0.0.1:0", "--log-format", "json", "--db"])
        .arg(&db)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn confab-server: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let line = tokio::task::spawn_blocking(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("listening"))
    });
    let line = tokio::time::timeout(DEADLINE, line)
        .await
        .unwrap_or_else(|_| panic!("no 'listening' line"))
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the server ended without 'listening'"));
    let _ = child.kill();
    let _ = child.wait();
    let entry: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    assert_eq!(entry["level"], "INFO", "{entry}");
    assert_eq!(entry["fields"]["message"], "listening", "{entry}");
    assert!(
        entry["fields"]["addr"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:")),
        "{entry}"
    );
}

/// A reader that stalls holds at most `send_queue_bytes` of queued frames, however few frames
/// that is: past it frames are left out and read back from the database when it reads again —
/// every one, once, in order.
#[tokio::test]
async fn a_stalled_reader_is_bounded_in_bytes_and_still_gets_everything_once() {
    let server = TestServer::start_with(|c| {
        c.limits.rate_burst = 10_000;
        c.limits.rate_per_sec = 10_000;
        c.limits.send_queue_bytes = 32 * 1024;
    })
    .await;
    let (mut alice, mut bob) = alice_and_a_slow_reader(&server).await;
    // Far fewer frames than the queue holds (1,024), far more bytes than its byte budget and
    // the socket buffers (up to tcp_wmem's 4 MiB) together.
    let body = "b".repeat(15 * 1024);
    let count = 480;
    for i in 1..=count {
        alice.send_msg(&format!("m{i}"), "general", &body).await;
    }
    let resyncs = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("confab_slow_reader_resyncs_total "))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let mut seqs = Vec::new();
    while seqs.len() < count as usize {
        if let ServerFrame::Message(m) = bob.recv().await {
            assert_eq!(m.body.len(), body.len());
            seqs.push(m.seq);
        }
    }
    assert_eq!(
        seqs,
        (1..=count).collect::<Vec<u64>>(),
        "all, once, in order"
    );
    assert!(
        resyncs(&server.metrics().await) >= 1.0,
        "the byte budget, not the frame count, made bob's writer read back"
    );
}
