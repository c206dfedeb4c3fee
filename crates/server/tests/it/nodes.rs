//! Several server nodes on one PostgreSQL database. These need the Postgres backend (SQLite is
//! one node by design); on SQLite they say so and pass.

use crate::seqs;
use confab_protocol::{ServerFrame, close};
use confab_test_support::{Backend, TestServer, WsClient};
use serde_json::json;
use std::time::Duration;

pub(crate) fn postgres_only() -> bool {
    if Backend::current() == Backend::Postgres {
        return true;
    }
    eprintln!("several nodes share PostgreSQL only; run with CONFAB_TEST_POSTGRES set");
    false
}

/// Sends `n` messages pipelined (all written before any answer is read) and returns the seqs of
/// their acks, in send order.
async fn pipelined_sends(ws: &mut WsClient, prefix: &str, n: usize) -> Vec<u64> {
    for i in 0..n {
        ws.send_json(
            json!({"type": "send", "id": format!("{prefix}{i}"), "room": "general",
            "body": format!("{prefix} {i}")}),
        )
        .await;
    }
    let mut acks = Vec::with_capacity(n);
    while acks.len() < n {
        match ws
            .recv_until(|f| matches!(f, ServerFrame::Ack { .. } | ServerFrame::Error { .. }))
            .await
        {
            ServerFrame::Ack { id, seq, .. } => {
                assert_eq!(
                    id,
                    format!("{prefix}{}", acks.len()),
                    "acks come in send order"
                );
                acks.push(seq);
            }
            other => panic!("send refused: {other:?}"),
        }
    }
    acks
}

#[tokio::test]
async fn two_nodes_writing_one_room_number_it_without_gaps() {
    if !postgres_only() {
        return;
    }
    let a = TestServer::start_with(|c| c.limits.rate_burst = 10_000).await;
    let b = a.another_node().await;
    let mut alice = a.client("alice").await;
    let tokens = b.user("bob").await;
    let mut bob = WsClient::connect_authed(&b.ws_url(), &tokens.access_token).await;
    alice.join("general", None).await;
    bob.join("general", None).await;

    let (at_a, at_b) = tokio::join!(
        pipelined_sends(&mut alice, "a", 150),
        pipelined_sends(&mut bob, "b", 150)
    );
    assert!(
        at_a.is_sorted() && at_b.is_sorted(),
        "each sender's order kept"
    );
    let mut all: Vec<u64> = at_a.iter().chain(&at_b).copied().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=300).collect::<Vec<u64>>(),
        "every seq once, no gap"
    );

    // Both nodes replay the same room, message for message.
    let mut carol_a = a.client("carol").await;
    let mut carol_b =
        WsClient::connect_authed(&b.ws_url(), &a.login("carol").await.access_token).await;
    let (last_a, replay_a) = carol_a.join("general", None).await;
    let (last_b, replay_b) = carol_b.join("general", None).await;
    assert_eq!((last_a, last_b), (300, 300));
    assert_eq!(seqs(&replay_a), (1..=300).collect::<Vec<u64>>());
    assert_eq!(replay_a, replay_b);
    let alice_ids: Vec<&str> = replay_a
        .iter()
        .filter(|m| m.author == "alice")
        .map(|m| m.id.as_str())
        .collect();
    let sent: Vec<String> = (0..150).map(|i| format!("a{i}")).collect();
    assert_eq!(alice_ids, sent, "stored in the order sent");
}

#[tokio::test]
async fn a_message_resent_through_another_node_is_stored_once() {
    if !postgres_only() {
        return;
    }
    let a = TestServer::start().await;
    let b = a.another_node().await;
    let tokens = a.user("alice").await;
    let mut on_a = WsClient::connect_authed(&a.ws_url(), &tokens.access_token).await;
    on_a.join("general", None).await;
    let seq = on_a.send_msg("m-1", "general", "once").await;
    on_a.close().await;

    // The client failed over and resends what it had not seen acknowledged.
    let mut on_b = WsClient::connect_authed(&b.ws_url(), &tokens.access_token).await;
    on_b.join("general", None).await;
    assert_eq!(on_b.send_msg("m-1", "general", "once").await, seq);
    assert_eq!(on_b.send_msg("m-2", "general", "next").await, seq + 1);
    let mut reader = WsClient::connect_authed(&a.ws_url(), &tokens.access_token).await;
    let (last, replay) = reader.join("general", None).await;
    assert_eq!(last, seq + 1);
    assert_eq!(
        replay.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["m-1", "m-2"]
    );
}

#[tokio::test]
async fn an_account_registered_on_one_node_signs_in_on_another_and_logout_reaches_both() {
    if !postgres_only() {
        return;
    }
    let a = TestServer::start_with(|c| c.limits.heartbeat = Duration::from_millis(100)).await;
    let b = a.another_node().await;
    a.register("dora").await;
    let tokens = b.login("dora").await;
    let mut on_a = WsClient::connect_authed(&a.ws_url(), &tokens.access_token).await;
    on_a.join("general", None).await;
    let resp = reqwest::Client::new()
        .post(b.http_url("/api/logout"))
        .bearer_auth(tokens.access_token.expose())
        .send()
        .await
        .unwrap_or_else(|e| panic!("logout: {e}"));
    assert_eq!(resp.status().as_u16(), 204);
    let (status, _) = a
        .post(
            "/api/refresh",
            json!({"refresh_token": tokens.refresh_token.expose()}),
        )
        .await;
    assert_eq!(status, 401, "the login is revoked on every node");
    assert_eq!(
        on_a.closed().await.code,
        close::AUTH_FAILED,
        "and the connection open on the other node ends"
    );
}
