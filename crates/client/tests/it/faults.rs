//! The network and the server misbehave; nothing is lost or duplicated.

use crate::harness::{TestClient, fast_config};
use confab_client::{ConnState, Event, MemoryTokens, TokenStore};
use confab_test_support::{FaultProxy, Mode, TestServer};
use std::sync::Arc;
use std::time::Duration;

fn ids(received: &[confab_protocol::MessageData]) -> Vec<String> {
    received.iter().map(|m| m.body.clone()).collect()
}

#[tokio::test]
async fn messages_queued_while_the_server_is_down_go_out_once_in_order() {
    let server = TestServer::start().await;
    let url = server.http_url("");
    let mut alice = TestClient::start(&url, server.user("alice").await);
    let mut bob = TestClient::start(&url, server.user("bob").await);
    alice.until_open().await;
    bob.until_open().await;
    alice.join_synced("general").await;
    bob.join_synced("general").await;

    let mut server = server;
    server.stop().await;
    alice
        .until("reconnecting", |e| {
            matches!(e, Event::State(ConnState::Reconnecting { .. }))
        })
        .await;
    let bodies: Vec<String> = (1..=20).map(|i| format!("offline {i}")).collect();
    for b in &bodies {
        alice
            .client
            .send("general", b)
            .await
            .unwrap_or_else(|e| panic!("queued: {e}"));
    }
    assert_eq!(alice.client.queued().await.ok(), Some(20));

    let _server = server.restart().await;
    alice.until_flushed().await;
    bob.until_received(20).await;
    assert_eq!(
        ids(&bob.received),
        bodies,
        "exactly once, in the order typed"
    );
    let seqs: Vec<u64> = bob.received.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
}

#[tokio::test]
async fn flapping_never_leaves_two_sockets_open() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await;
    let mut alice = TestClient::start(&proxy.http_url(), server.user("alice").await);
    for _ in 0..8 {
        alice.until_open().await;
        proxy.cut();
        alice
            .until("reconnecting", |e| {
                matches!(e, Event::State(ConnState::Reconnecting { .. }))
            })
            .await;
    }
    alice.until_open().await;
    // Refused outright for a while: attempts keep failing, then it comes back.
    proxy.set_mode(Mode::Refuse);
    proxy.cut();
    for _ in 0..3 {
        alice
            .until("reconnecting", |e| {
                matches!(e, Event::State(ConnState::Reconnecting { .. }))
            })
            .await;
    }
    proxy.set_mode(Mode::Pass);
    alice.until_open().await;
    assert_eq!(
        proxy.max_active(),
        1,
        "one socket at a time, whatever the flapping"
    );
    assert!(proxy.accepted() >= 9);
}

#[tokio::test]
async fn a_blackholed_connection_is_detected_and_replaced() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await;
    let url = proxy.http_url();
    let mut alice = TestClient::start(&url, server.user("alice").await);
    alice.until_open().await;
    alice.join_synced("general").await;

    // Slow is not dead: with 200 ms each way (under the 600 ms limit) the message goes through
    // on the same connection.
    proxy.set_mode(Mode::Delay(Duration::from_millis(200)));
    alice.client.send("general", "slowly").await.unwrap();
    let first = alice
        .until("the slow ack", |e| {
            matches!(e, Event::Sent { .. } | Event::State(_))
        })
        .await;
    assert!(
        matches!(first, Event::Sent { .. }),
        "a slow path was taken for dead: {first:?}"
    );

    proxy.set_mode(Mode::Blackhole);
    let started = tokio::time::Instant::now();
    // The socket stays open at the TCP level; only the heartbeat can tell it is dead.
    alice
        .until("dead peer detected", |e| {
            matches!(e, Event::State(ConnState::Connecting { .. }))
        })
        .await;
    let detected = started.elapsed();
    assert!(
        detected < Duration::from_secs(3),
        "dead_after is 600 ms; took {detected:?}"
    );

    // While the path is dead a message queues; when it heals it goes out once.
    let id = alice
        .client
        .send("general", "through the storm")
        .await
        .unwrap();
    proxy.set_mode(Mode::Pass);
    proxy.cut();
    let sent = alice
        .until("ack", |e| matches!(e, Event::Sent { .. }))
        .await;
    assert!(matches!(sent, Event::Sent { id: ref i, .. } if *i == id.id));
}

#[tokio::test]
async fn a_reset_in_the_middle_of_a_send_loses_and_duplicates_nothing() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await;
    let mut alice = TestClient::start(&proxy.http_url(), server.user("alice").await);
    let mut bob = TestClient::start(&server.http_url(""), server.user("bob").await);
    alice.until_open().await;
    bob.until_open().await;
    bob.join_synced("general").await;
    alice.join_synced("general").await;

    // The connection dies 40 bytes into the next frame: the send frame is cut in half.
    proxy.set_mode(Mode::ResetAfter(40));
    alice
        .client
        .send("general", &"x".repeat(200))
        .await
        .unwrap();
    alice
        .until("reconnecting", |e| {
            matches!(e, Event::State(ConnState::Reconnecting { .. }))
        })
        .await;
    proxy.set_mode(Mode::Pass);
    alice.client.send("general", "second").await.unwrap();
    alice.until_flushed().await;
    bob.until_received(2).await;
    assert_eq!(
        bob.received
            .iter()
            .map(|m| m.body.len())
            .collect::<Vec<_>>(),
        [200, 6]
    );
}

#[tokio::test]
async fn tokens_that_expire_during_an_outage_are_refreshed_on_reconnect() {
    let server = TestServer::start_with(|c| c.access_ttl = Duration::from_secs(1)).await;
    let tokens = server.user("alice").await;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let store = Arc::new(MemoryTokens::new(Some(tokens.clone())));
    let mut alice = TestClient::start_in(
        fast_config(&server.http_url(""), dir.path()),
        dir,
        Arc::clone(&store),
    );
    alice.until_open().await;

    let mut server = server;
    server.stop().await;
    // The outage outlasts the access token (1 s): wait until the server would refuse it.
    let expires = tokio::time::Instant::now() + Duration::from_millis(1100);
    tokio::time::sleep_until(expires).await;
    let _server = server.restart().await;
    alice.until_open().await;
    let now = store
        .load()
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("tokens gone"));
    assert_ne!(
        now.access_token, tokens.access_token,
        "a refreshed pair was stored"
    );
    assert_ne!(
        now.refresh_token, tokens.refresh_token,
        "and the refresh token rotated"
    );
}

#[tokio::test]
async fn a_disabled_account_stops_retrying() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await;
    let mut alice = TestClient::start(&proxy.http_url(), server.user("alice").await);
    alice.until_open().await;
    server.disable_user("alice").await;
    proxy.cut();
    let failed = alice
        .until("auth_failed", |e| {
            matches!(e, Event::State(ConnState::AuthFailed { .. }))
        })
        .await;
    assert!(
        matches!(failed, Event::State(ConnState::AuthFailed { ref reason }) if reason.contains("disabled"))
    );
}

/// A message written offline to a room the user then left still goes out (the room is joined
/// for it), instead of being refused on every reconnect and blocking the outbox.
#[tokio::test]
async fn a_message_queued_for_a_room_left_offline_is_still_delivered() {
    let mut server = TestServer::start().await;
    let url = server.http_url("");
    let mut alice = TestClient::start(&url, server.user("alice").await);
    let mut bob = TestClient::start(&url, server.user("bob").await);
    alice.until_open().await;
    bob.until_open().await;
    bob.join_synced("side").await;
    server.stop().await;
    alice
        .until("reconnecting", |e| {
            matches!(e, Event::State(ConnState::Reconnecting { .. }))
        })
        .await;
    alice
        .client
        .send("side", "written, then left")
        .await
        .unwrap();
    alice.client.leave("side").await.unwrap();
    alice.client.send("general", "after it").await.unwrap();
    let _server = server.restart().await;
    alice.until_flushed().await;
    bob.until_received(1).await;
    assert_eq!(bob.received[0].body, "written, then left");
}

/// Two clients sharing one login (the app and `confab tail`, say) whose tokens expire during an
/// outage: only one may spend the refresh token; the other must pick up the new pair. Spending
/// it twice would make the server revoke the login for both.
#[tokio::test]
async fn two_clients_sharing_a_login_refresh_once_and_both_reconnect() {
    struct Shared {
        inner: MemoryTokens,
        lock: std::path::PathBuf,
    }
    impl TokenStore for Shared {
        fn load(&self) -> confab_client::Result<Option<confab_protocol::api::TokenPair>> {
            self.inner.load()
        }
        fn save(&self, pair: &confab_protocol::api::TokenPair) -> confab_client::Result<()> {
            self.inner.save(pair)
        }
        fn clear(&self) -> confab_client::Result<()> {
            self.inner.clear()
        }
        fn refresh_lock(&self) -> Option<std::path::PathBuf> {
            Some(self.lock.clone())
        }
    }

    let server = TestServer::start_with(|c| c.access_ttl = Duration::from_secs(1)).await;
    let tokens = server.user("alice").await;
    let lock_dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Shared {
        inner: MemoryTokens::new(Some(tokens)),
        lock: lock_dir.path().join("refresh.lock"),
    });
    let start = |store: Arc<Shared>| {
        let dir = tempfile::tempdir().unwrap();
        let cfg = fast_config(&server.http_url(""), dir.path());
        let shared: Arc<dyn TokenStore> = store;
        let (client, events) = confab_client::Client::start(cfg, shared).unwrap();
        (client, events, dir)
    };
    let (_a, mut a_events, _a_dir) = start(Arc::clone(&store));
    let (_b, mut b_events, _b_dir) = start(Arc::clone(&store));
    until_open(&mut a_events, "a").await;
    until_open(&mut b_events, "b").await;

    let mut server = server;
    server.stop().await;
    tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_millis(1100)).await;
    let _server = server.restart().await;
    until_open(&mut a_events, "a").await;
    until_open(&mut b_events, "b").await;
}

/// Waits for `Open`, failing the test on `AuthFailed` (a revoked login) or after the deadline.
async fn until_open(events: &mut tokio::sync::mpsc::Receiver<Event>, who: &str) {
    let wait = async {
        loop {
            match events.recv().await {
                Some(Event::State(ConnState::Open { .. })) => return,
                Some(Event::State(ConnState::AuthFailed { reason })) => {
                    panic!("{who} signed out: {reason}")
                }
                Some(_) => {}
                None => panic!("{who} stopped"),
            }
        }
    };
    tokio::time::timeout(confab_test_support::DEADLINE, wait)
        .await
        .unwrap_or_else(|_| panic!("{who} never opened"));
}

/// The server ends every connection at its maximum age (4001): the client refreshes, comes back
/// and resumes, and what is sent across those closes arrives once, in order.
#[tokio::test]
async fn sessions_closed_at_their_maximum_age_lose_and_repeat_nothing() {
    let server = TestServer::start_with(|c| {
        c.limits.session_max_age = Duration::from_millis(400);
        c.limits.heartbeat = Duration::from_millis(100);
        // Short-lived access tokens too: every reconnect after the first needs a refresh.
        c.access_ttl = Duration::from_millis(300);
    })
    .await;
    let url = server.http_url("");
    let mut alice = TestClient::start(&url, server.user("alice").await);
    let mut bob = TestClient::start(&url, server.user("bob").await);
    alice.until_open().await;
    bob.until_open().await;
    alice.join_synced("general").await;
    bob.join_synced("general").await;
    let mut sent = Vec::new();
    for round in 0..3 {
        for i in 0..5 {
            let body = format!("r{round}-{i}");
            alice.client.send("general", &body).await.unwrap();
            sent.push(body);
        }
        // Wait for the server to end the session, and for the client to be back.
        alice
            .until("a close at the maximum age", |e| {
                matches!(e, Event::State(ConnState::Connecting { .. }))
            })
            .await;
        alice.until_open().await;
    }
    alice.until_flushed().await;
    bob.until_received(sent.len()).await;
    assert_eq!(ids(&bob.received), sent, "every message once, in order");
}

/// With `full`, the server's database fails to create `room` as a full disk fails a write (a
/// trigger in its own database); without, the trigger goes.
async fn full_disk_for_room(server: &TestServer, room: &str, full: bool) {
    use confab_server::store::Database;
    let sqlite = |path: &std::path::Path, sql: &str| {
        let db = rusqlite::Connection::open(path).unwrap_or_else(|e| panic!("{e}"));
        db.execute_batch(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    };
    match (&server.config.db, full) {
        (Database::Sqlite(path), true) => sqlite(
            path,
            &format!(
                "CREATE TRIGGER room_disk_full BEFORE INSERT ON rooms WHEN NEW.name = '{room}'
                 BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;"
            ),
        ),
        (Database::Sqlite(path), false) => sqlite(path, "DROP TRIGGER room_disk_full"),
        (Database::Postgres(url), true) => {
            let function = format!(
                "CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN IF NEW.name = '{room}' THEN
                   RAISE EXCEPTION 'No space left on device' USING ERRCODE = 'disk_full';
                 END IF; RETURN NEW; END $$"
            );
            confab_test_support::backend::postgres_query(url, &function).await;
            let trigger = "CREATE TRIGGER room_disk_full BEFORE INSERT ON rooms
                 FOR EACH ROW EXECUTE FUNCTION full_disk()";
            confab_test_support::backend::postgres_query(url, trigger).await;
        }
        (Database::Postgres(url), false) => {
            confab_test_support::backend::postgres_query(
                url,
                "DROP TRIGGER room_disk_full ON rooms",
            )
            .await;
        }
    }
}

/// Found by the chaos soak: with the server's disk full, joining a new room fails (a join is a
/// write) and the message sent after it gets `not_joined`, which the client took as final and
/// dropped. The client did ask to join: the server just could not store it, so it tries again.
#[tokio::test]
async fn a_join_the_server_could_not_store_is_retried_and_its_message_goes_out() {
    let server = TestServer::start().await;
    let mut alice = TestClient::start(&server.http_url(""), server.user("alice").await);
    alice.until_open().await;
    full_disk_for_room(&server, "fresh", true).await;
    let hello = alice.client.send("fresh", "hello").await.unwrap();
    let outcome = alice
        .until("a refusal or a retry", |e| {
            matches!(
                e,
                Event::SendFailed { .. } | Event::State(ConnState::Reconnecting { .. })
            )
        })
        .await;
    assert!(
        matches!(outcome, Event::State(_)),
        "a join that failed for now made the message fail for good: {outcome:?}"
    );
    assert_eq!(alice.client.queued().await.ok(), Some(1));

    // Space again: the message goes out, once.
    full_disk_for_room(&server, "fresh", false).await;
    let sent = alice
        .until("the message stored", |e| {
            matches!(e, Event::Sent { .. } | Event::SendFailed { .. })
        })
        .await;
    assert!(
        matches!(sent, Event::Sent { ref id, .. } if *id == hello.id),
        "{sent:?}"
    );
    let (_, history) = crate::changes::stream_and_history(&server, "fresh").await;
    assert_eq!(ids(&history), ["hello"]);
}
