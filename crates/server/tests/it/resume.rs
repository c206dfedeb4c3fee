//! Resume after a gap: replay after a server restart, batching, and exactly-once delivery while
//! messages race with joins and slow readers.

use crate::seqs;
use confab_protocol::ServerFrame;
use confab_test_support::TestServer;
use serde_json::json;

#[tokio::test]
async fn resume_after_restart_returns_exactly_the_missed_messages() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let mut bob = server.client("bob").await;
    alice.join("general", None).await;
    bob.join("general", None).await;
    alice.send_msg("m1", "general", "one").await;
    let seen = bob.recv_message("m1").await.seq;
    bob.close().await;
    alice.send_msg("m2", "general", "two").await;
    alice.send_msg("m3", "general", "three").await;

    let server = server.restart().await;
    let tokens = server.login("bob").await;
    let mut bob =
        confab_test_support::WsClient::connect_authed(&server.ws_url(), &tokens.access_token).await;
    let (last_seq, replay) = bob.join("general", Some(seen)).await;
    assert_eq!(last_seq, 3);
    assert_eq!(seqs(&replay), [2, 3]);
    assert_eq!(replay[1].body, "three");

    // Sequence numbers carry on after the restart.
    let tokens = server.login("alice").await;
    let mut alice =
        confab_test_support::WsClient::connect_authed(&server.ws_url(), &tokens.access_token).await;
    alice.join("general", Some(3)).await;
    assert_eq!(alice.send_msg("m4", "general", "four").await, 4);
    assert_eq!(bob.recv_message("m4").await.seq, 4);
}

#[tokio::test]
async fn long_replays_come_in_batches() {
    let server = TestServer::start_with(|c| c.limits.rate_burst = 10_000).await;
    let mut alice = server.client("alice").await;
    alice.join("general", None).await;
    let total = 450u64;
    for i in 1..=total {
        alice
            .send_json(
                json!({"type": "send", "id": format!("m{i}"), "room": "general", "body": "x"}),
            )
            .await;
    }
    alice
        .recv_until(|f| matches!(f, ServerFrame::Ack { seq, .. } if *seq == total))
        .await;

    let mut bob = server.client("bob").await;
    bob.send_json(json!({"type": "join", "room": "general", "after": 10}))
        .await;
    let mut got = vec![];
    let mut batches = vec![];
    loop {
        match bob.recv().await {
            ServerFrame::Message(m) => got.push(m.seq),
            ServerFrame::Synced { up_to, more, .. } => {
                batches.push((up_to, more));
                if !more {
                    break;
                }
            }
            _ => {}
        }
    }
    assert_eq!(got, (11..=total).collect::<Vec<_>>());
    assert_eq!(batches, [(210, true), (410, true), (total, false)]);
}

/// Messages are committed while another client joins: it must see every seq once, in order.
#[tokio::test]
async fn joining_during_a_burst_misses_nothing_and_duplicates_nothing() {
    let server = TestServer::start_with(|c| c.limits.rate_burst = 10_000).await;
    let mut alice = server.client("alice").await;
    alice.join("general", None).await;
    let mut bob = server.client("bob").await;
    let total = 300u64;
    for i in 1..=total {
        alice
            .send_json(
                json!({"type": "send", "id": format!("m{i}"), "room": "general", "body": "x"}),
            )
            .await;
        if i == 100 {
            bob.send_json(json!({"type": "join", "room": "general"}))
                .await;
        }
    }
    let mut got = vec![];
    while got.last() != Some(&total) {
        if let ServerFrame::Message(m) = bob.recv().await {
            got.push(m.seq);
        }
    }
    assert_eq!(got, (1..=total).collect::<Vec<_>>());
}

/// A reader that stops reading overflows its bounded queue; it is caught up from the database.
#[tokio::test]
async fn a_slow_reader_is_resynced_not_dropped_or_buffered() {
    let server = TestServer::start_with(|c| {
        c.limits.rate_burst = 10_000;
        c.limits.send_queue = 16;
    })
    .await;
    let mut alice = server.client("alice").await;
    let bob_tokens = server.user("bob").await;
    let mut bob = confab_test_support::WsClient::connect_authed_small_buffer(
        server.addr,
        &bob_tokens.access_token,
    )
    .await;
    alice.join("general", None).await;
    bob.join("general", None).await;
    let body = "y".repeat(8 * 1024);
    let total = 1000u64;
    // Bob reads nothing while ~8 MB are sent: more than his tiny receive buffer and the
    // server's send buffer hold, so his queue overflows. Alice sends in
    // chunks and reads her acks, as a real client reads while it writes.
    for chunk in 0..total / 50 {
        for i in chunk * 50 + 1..=chunk * 50 + 50 {
            alice
                .send_json(
                    json!({"type": "send", "id": format!("m{i}"), "room": "general", "body": body}),
                )
                .await;
        }
        let last = chunk * 50 + 50;
        alice
            .recv_until(|f| matches!(f, ServerFrame::Ack { seq, .. } if *seq == last))
            .await;
    }
    let mut got = vec![];
    while got.last() != Some(&total) {
        if let ServerFrame::Message(m) = bob.recv().await {
            assert_eq!(m.body.len(), body.len());
            got.push(m.seq);
        }
    }
    assert_eq!(got, (1..=total).collect::<Vec<_>>());
}

/// A first join with `latest` gets only the newest messages, then live ones; the older ones
/// are a `history` request away. A resume point (`after`) wins over `latest`.
#[tokio::test]
async fn a_join_with_latest_replays_only_the_newest_messages() {
    let server = TestServer::start_with(|c| c.limits.rate_burst = 10_000).await;
    let mut alice = server.client("alice").await;
    alice.join("general", None).await;
    for i in 1..=30 {
        alice.send_msg(&format!("m{i}"), "general", "x").await;
    }
    let replay = |frames: &mut Vec<u64>, f: ServerFrame| match f {
        ServerFrame::Message(m) => {
            frames.push(m.seq);
            false
        }
        ServerFrame::Synced { more, .. } => !more,
        _ => false,
    };

    let mut bob = server.client("bob").await;
    bob.send_json(json!({"type": "join", "room": "general", "latest": 5}))
        .await;
    let mut got = vec![];
    while !replay(&mut got, bob.recv().await) {}
    assert_eq!(got, [26, 27, 28, 29, 30]);
    alice.send_msg("m31", "general", "live").await;
    assert_eq!(bob.recv_message("m31").await.seq, 31);
    bob.send_json(json!({"type": "history", "room": "general", "before": 26, "limit": 3}))
        .await;
    match bob
        .recv_until(|f| matches!(f, ServerFrame::History { .. }))
        .await
    {
        ServerFrame::History { messages, .. } => assert_eq!(seqs(&messages), [23, 24, 25]),
        _ => unreachable!(),
    }

    let mut carol = server.client("carol").await;
    carol
        .send_json(json!({"type": "join", "room": "general", "after": 28, "latest": 1}))
        .await;
    let mut got = vec![];
    while !replay(&mut got, carol.recv().await) {}
    assert_eq!(got, [29, 30, 31]);
}
