//! Several nodes joined by Redis: live delivery across nodes, and what happens when the
//! doorbell fails (a node that never rings, Redis restarting, a node that died with users in a
//! room). PostgreSQL only, like `nodes`; each test has a Redis of its own.

use crate::nodes::postgres_only;
use confab_protocol::ServerFrame;
use confab_server::Config;
use confab_server::cluster::ClusterConfig;
use confab_test_support::{TestRedis, TestServer, WsClient};
use std::time::Duration;

/// Long enough that a test relying on the doorbell alone cannot be saved by the check.
const NEVER: Duration = Duration::from_secs(3600);

fn clustered(redis: &TestRedis, check_every: Duration) -> impl FnOnce(&mut Config) + use<> {
    let url = redis.url();
    move |c| {
        let mut cluster = ClusterConfig::new(url);
        cluster.check_every = check_every;
        c.cluster = Some(cluster);
    }
}

/// Two ready nodes, alice connected to the first and bob to the second, both in `general`.
async fn alice_and_bob_on_two_nodes(a: &TestServer, b: &TestServer) -> (WsClient, WsClient) {
    a.until_ready().await;
    b.until_ready().await;
    let mut alice = a.client("alice").await;
    let tokens = b.user("bob").await;
    let mut bob = WsClient::connect_authed(&b.ws_url(), &tokens.access_token).await;
    alice.join("general", None).await;
    bob.join("general", None).await;
    (alice, bob)
}

fn presence(f: &ServerFrame) -> Option<Vec<String>> {
    match f {
        ServerFrame::Presence { users, .. } => Some(users.clone()),
        _ => None,
    }
}

async fn until_presence(ws: &mut WsClient, want: &[&str]) {
    ws.recv_until(|f| presence(f).is_some_and(|users| users == want))
        .await;
}

#[tokio::test]
async fn messages_typing_and_presence_cross_nodes_at_once() {
    if !postgres_only() {
        return;
    }
    let redis = TestRedis::start().await;
    let a = TestServer::start_with(clustered(&redis, NEVER)).await;
    let b = a.another_node().await;
    let (mut alice, mut bob) = alice_and_bob_on_two_nodes(&a, &b).await;

    until_presence(&mut bob, &["alice", "bob"]).await;
    let seq = alice.send_msg("m-1", "general", "across").await;
    let got = bob.recv_message("m-1").await;
    assert_eq!(
        (got.seq, got.author.as_str(), got.body.as_str()),
        (seq, "alice", "across")
    );
    let back = bob.send_msg("m-2", "general", "and back").await;
    assert_eq!(alice.recv_message("m-2").await.seq, back);
    let heard = b.metrics().await;
    assert!(
        heard.contains("confab_pubsub_lag_seconds_count 1"),
        "the doorbell's lag is measured: {heard}"
    );

    alice
        .send_json(serde_json::json!({"type": "typing", "room": "general"}))
        .await;
    bob.recv_until(|f| matches!(f, ServerFrame::Typing { user, .. } if user == "alice"))
        .await;

    alice.close().await;
    until_presence(&mut bob, &["bob"]).await;
}

#[tokio::test]
async fn a_node_that_never_rings_loses_nothing_and_duplicates_nothing() {
    if !postgres_only() {
        return;
    }
    let redis = TestRedis::start().await;
    // The first node commits and acks but never publishes: as if killed between the two.
    let a = TestServer::start_with(|c| {
        clustered(&redis, Duration::from_millis(200))(c);
        if let Some(cluster) = c.cluster.as_mut() {
            cluster.drop_doorbells = true;
        }
    })
    .await;
    let b = a
        .another_node_with(|c| {
            if let Some(cluster) = c.cluster.as_mut() {
                cluster.drop_doorbells = false;
            }
        })
        .await;
    let (mut alice, mut bob) = alice_and_bob_on_two_nodes(&a, &b).await;
    for i in 1..=3 {
        alice.send_msg(&format!("m-{i}"), "general", "quiet").await;
    }
    let mut seen = vec![];
    while seen.len() < 3 {
        if let ServerFrame::Message(m) = bob.recv().await {
            seen.push(m.id);
        }
    }
    assert_eq!(seen, ["m-1", "m-2", "m-3"], "all of them, in order, once");
    // Nothing more arrives: a marker from bob comes back to him right after.
    bob.send_msg("marker", "general", "end").await;
    match bob
        .recv_until(|f| matches!(f, ServerFrame::Message(_)))
        .await
    {
        ServerFrame::Message(m) => assert_eq!(m.id, "marker", "no duplicate before it"),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn after_redis_restarts_the_nodes_catch_up_on_what_they_missed() {
    if !postgres_only() {
        return;
    }
    let mut redis = TestRedis::start().await;
    let a = TestServer::start_with(clustered(&redis, NEVER)).await;
    let b = a.another_node().await;
    let (mut alice, mut bob) = alice_and_bob_on_two_nodes(&a, &b).await;

    redis.kill();
    // A load balancer sees the node is cut off from the others (messages still work).
    let deadline = tokio::time::Instant::now() + confab_test_support::DEADLINE;
    loop {
        let resp = reqwest::get(b.http_url("/readyz")).await;
        let resp = resp.unwrap_or_else(|e| panic!("readyz: {e}"));
        if resp.status().as_u16() == 503 {
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            assert_eq!(
                (body["database"].as_bool(), body["pubsub"].as_bool()),
                (Some(true), Some(false))
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "readyz never noticed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Stored and acknowledged while the doorbell is gone; its ring is lost for good.
    let seq = alice.send_msg("while-down", "general", "missed?").await;
    redis.restart().await;
    // Resubscribing runs the check at once (the periodic one is an hour away).
    let got = bob.recv_message("while-down").await;
    assert_eq!(got.seq, seq);
}

#[tokio::test]
async fn a_dead_nodes_users_drop_out_of_presence_when_their_entries_expire() {
    if !postgres_only() {
        return;
    }
    let redis = TestRedis::start().await;
    let a = TestServer::start_with(clustered(&redis, Duration::from_millis(200))).await;
    a.until_ready().await;
    let mut bob = a.client("bob").await;
    bob.join("general", None).await;
    until_presence(&mut bob, &["bob"]).await;

    // What a node that died with ghost in the room leaves behind: an entry nobody renews.
    let expiry = confab_server::store::now_ms() + 1500;
    let socket = redis.url().trim_start_matches("redis+unix://").to_owned();
    let added = std::process::Command::new("redis-cli")
        .args(["-s", &socket, "ZADD", "confab:presence:general"])
        .arg(expiry.to_string())
        .arg("deadnode/ghost")
        .output()
        .unwrap_or_else(|e| panic!("redis-cli: {e}"));
    assert!(added.status.success());
    until_presence(&mut bob, &["bob", "ghost"]).await;
    until_presence(&mut bob, &["bob"]).await;
}

/// A removal's doorbell never rings: the other node reads the removal back from the database,
/// and its member's connection stops there all the same.
#[tokio::test]
async fn a_member_removed_on_a_node_that_never_rings_gets_nothing_more_on_another() {
    if !postgres_only() {
        return;
    }
    let redis = TestRedis::start().await;
    let a = TestServer::start_with(|c| {
        clustered(&redis, Duration::from_millis(200))(c);
        if let Some(cluster) = c.cluster.as_mut() {
            cluster.drop_doorbells = true;
        }
    })
    .await;
    let b = a
        .another_node_with(|c| {
            if let Some(cluster) = c.cluster.as_mut() {
                cluster.drop_doorbells = false;
            }
        })
        .await;
    let (mut alice, mut bob) = alice_and_bob_on_two_nodes(&a, &b).await;
    alice
        .send_json(serde_json::json!({"type": "create", "room": "ops", "visibility": "private"}))
        .await;
    alice
        .recv_until(|f| matches!(f, ServerFrame::Synced { room, .. } if room == "ops"))
        .await;
    alice
        .send_json(serde_json::json!({"type": "invite", "room": "ops", "user": "bob"}))
        .await;
    alice
        .recv_until(|f| matches!(f, ServerFrame::Invited { .. }))
        .await;
    bob.join("ops", None).await;

    alice.send_msg("m-1", "ops", "before").await;
    alice
        .send_json(serde_json::json!({"type": "kick", "room": "ops", "user": "bob"}))
        .await;
    alice
        .recv_until(|f| matches!(f, ServerFrame::Changed { .. }))
        .await;
    alice.send_msg("m-2", "ops", "after the kick").await;
    let mut seen = vec![];
    loop {
        let f = bob.recv().await;
        let kicked = matches!(&f, ServerFrame::Member(e) if e.user == "bob" && e.action.removes());
        seen.push(f);
        if kicked {
            break;
        }
    }
    assert!(
        seen.iter()
            .any(|f| matches!(f, ServerFrame::Message(m) if m.id == "m-1"))
    );
    // Later checks still catch bob up on general, never on ops.
    alice.send_msg("m-3", "ops", "still after").await;
    alice.send_msg("marker", "general", "end").await;
    loop {
        let f = bob.recv().await;
        let done = matches!(&f, ServerFrame::Message(m) if m.id == "marker");
        seen.push(f);
        if done {
            break;
        }
    }
    assert!(
        !seen
            .iter()
            .any(|f| matches!(f, ServerFrame::Message(m) if m.room == "ops" && m.id != "m-1")),
        "nothing of ops after the kick: {seen:?}"
    );
    bob.send_json(serde_json::json!({"type": "history", "room": "ops"}))
        .await;
    assert_eq!(crate::error_code(&bob.recv_error().await), "forbidden");
}
