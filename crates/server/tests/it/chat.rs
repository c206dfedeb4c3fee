//! Rooms: messages with shared seqs, idempotent sends, typing, presence and history.

use crate::{error_code, seqs};
use confab_protocol::ServerFrame;
use confab_test_support::TestServer;
use serde_json::json;

fn presence_users(f: &ServerFrame) -> Option<Vec<String>> {
    match f {
        ServerFrame::Presence { users, .. } => Some(users.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn two_clients_see_each_others_messages_with_the_same_seq() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let mut bob = server.client("bob").await;
    assert_eq!(alice.join("general", None).await, (0, vec![]));
    bob.join("general", None).await;

    let seq = alice.send_msg("a-1", "general", "hi bob").await;
    assert_eq!(seq, 1);
    let at_alice = alice.recv_message("a-1").await;
    let at_bob = bob.recv_message("a-1").await;
    assert_eq!(at_alice, at_bob, "everyone sees the same message");
    assert_eq!(
        (at_bob.seq, at_bob.author.as_str(), at_bob.body.as_str()),
        (1, "alice", "hi bob")
    );
    assert!(at_bob.ts > 1_600_000_000_000, "server timestamp in ms");

    assert_eq!(bob.send_msg("b-1", "general", "hi alice").await, 2);
    assert_eq!(alice.recv_message("b-1").await.seq, 2);
}

#[tokio::test]
async fn a_resent_id_is_stored_and_broadcast_once() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let mut bob = server.client("bob").await;
    alice.join("general", None).await;
    bob.join("general", None).await;

    let first = alice.send_msg("dup-1", "general", "once").await;
    let again = alice.send_msg("dup-1", "general", "once").await;
    assert_eq!(first, again, "same ack for the resend");
    let marker = alice.send_msg("marker", "general", "after").await;
    assert_eq!(marker, first + 1, "the resend took no seq");

    // Bob sees dup-1 once, then the marker.
    let mut seen = vec![];
    loop {
        if let ServerFrame::Message(m) = bob.recv().await {
            seen.push(m.id.clone());
            if m.id == "marker" {
                break;
            }
        }
    }
    assert_eq!(seen, ["dup-1", "marker"]);

    // The same id in another room is a client bug and is refused, not silently acked.
    alice.join("random", None).await;
    alice
        .send_json(json!({"type": "send", "id": "dup-1", "room": "random", "body": "x"}))
        .await;
    let err = alice.recv_error().await;
    assert_eq!(error_code(&err), "bad_id");

    // Another user may use the same id: ids are per author.
    assert_eq!(
        bob.send_msg("dup-1", "general", "bob's own").await,
        marker + 1
    );
}

/// Frames up to and including the message with `id`.
async fn frames_until_message(c: &mut confab_test_support::WsClient, id: &str) -> Vec<ServerFrame> {
    let mut seen = vec![];
    loop {
        let f = c
            .next_frame()
            .await
            .unwrap_or_else(|e| panic!("closed: {e:?}"));
        let done = matches!(&f, ServerFrame::Message(m) if m.id == id);
        seen.push(f);
        if done {
            return seen;
        }
    }
}

#[tokio::test]
async fn a_second_device_changes_nobodys_presence_but_the_last_one_leaving_does() {
    let server = TestServer::start().await;
    let alice_tokens = server.user("alice").await;
    let mut bob = server.client("bob").await;
    let mut phone =
        confab_test_support::WsClient::connect_authed(&server.ws_url(), &alice_tokens.access_token)
            .await;
    bob.join("general", None).await;
    phone.join("general", None).await;
    bob.recv_until(|f| presence_users(f).is_some_and(|u| u.len() == 2))
        .await;
    bob.forget_skipped(); // his own earlier lists

    // Alice's laptop joins too: it is told who is there; bob hears of no change. (A frame for
    // bob would be queued before the laptop's message, so seeing the message settles it.)
    let mut laptop =
        confab_test_support::WsClient::connect_authed(&server.ws_url(), &alice_tokens.access_token)
            .await;
    laptop.join("general", None).await;
    let p = laptop.recv_until(|f| presence_users(f).is_some()).await;
    assert_eq!(
        presence_users(&p),
        Some(vec!["alice".to_owned(), "bob".to_owned()])
    );
    laptop.send_msg("from-laptop", "general", "hi").await;
    let seen = frames_until_message(&mut bob, "from-laptop").await;
    assert!(
        !seen.iter().any(|f| presence_users(f).is_some()),
        "bob got {seen:?}"
    );

    // The phone goes: alice is still there on the laptop.
    phone.close().await;
    laptop.send_msg("still-here", "general", "still here").await;
    let seen = frames_until_message(&mut bob, "still-here").await;
    assert!(
        !seen.iter().any(|f| presence_users(f).is_some()),
        "bob got {seen:?}"
    );

    // Her last connection goes: now the list changes.
    laptop.close().await;
    let p = bob.recv_until(|f| presence_users(f).is_some()).await;
    assert_eq!(presence_users(&p), Some(vec!["bob".to_owned()]));
}

#[tokio::test]
async fn typing_and_presence() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let mut bob = server.client("bob").await;
    alice.join("general", None).await;
    let p = alice.recv_until(|f| presence_users(f).is_some()).await;
    assert_eq!(presence_users(&p), Some(vec!["alice".to_owned()]));

    bob.join("general", None).await;
    let p = alice
        .recv_until(|f| presence_users(f).is_some_and(|u| u.len() == 2))
        .await;
    assert_eq!(
        presence_users(&p),
        Some(vec!["alice".to_owned(), "bob".to_owned()])
    );

    alice
        .send_json(json!({"type": "typing", "room": "general"}))
        .await;
    let t = bob
        .recv_until(|f| matches!(f, ServerFrame::Typing { .. }))
        .await;
    assert_eq!(
        t,
        ServerFrame::Typing {
            room: "general".into(),
            user: "alice".into()
        }
    );

    // Alice does not hear her own typing: the next thing she gets is Bob's message.
    bob.send_msg("b-1", "general", "hello").await;
    let next = alice
        .recv_until(|f| !matches!(f, ServerFrame::Presence { .. }))
        .await;
    assert!(
        matches!(next, ServerFrame::Message(ref m) if m.id == "b-1"),
        "got {next:?}"
    );

    bob.send_json(json!({"type": "leave", "room": "general"}))
        .await;
    assert_eq!(
        bob.recv_until(|f| matches!(f, ServerFrame::Left { .. }))
            .await,
        ServerFrame::Left {
            room: "general".into()
        }
    );
    let p = alice.recv_until(|f| presence_users(f).is_some()).await;
    assert_eq!(presence_users(&p), Some(vec!["alice".to_owned()]));

    // Not stored: a newcomer's replay has the message but no typing.
    let mut carol = server.client("carol").await;
    let (_, replay) = carol.join("general", None).await;
    assert_eq!(replay.len(), 1);

    bob.join("general", None).await;
    alice
        .recv_until(|f| presence_users(f).is_some_and(|u| u.contains(&"bob".to_owned())))
        .await;
    bob.close().await;
    let p = alice
        .recv_until(|f| presence_users(f).is_some_and(|u| !u.contains(&"bob".to_owned())))
        .await;
    assert_eq!(
        presence_users(&p),
        Some(vec!["alice".to_owned(), "carol".to_owned()]),
        "disconnect leaves"
    );
}

#[tokio::test]
async fn history_pages_backwards() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.join("general", None).await;
    for i in 1..=5 {
        alice
            .send_msg(&format!("m{i}"), "general", &format!("message {i}"))
            .await;
    }
    alice
        .send_json(json!({"type": "history", "room": "general", "before": 4, "limit": 2}))
        .await;
    match alice
        .recv_until(|f| matches!(f, ServerFrame::History { .. }))
        .await
    {
        ServerFrame::History { messages, more, .. } => {
            assert_eq!(seqs(&messages), [2, 3]);
            assert!(more);
        }
        _ => unreachable!(),
    }
    alice
        .send_json(json!({"type": "history", "room": "general"}))
        .await;
    match alice
        .recv_until(|f| matches!(f, ServerFrame::History { .. }))
        .await
    {
        ServerFrame::History { messages, more, .. } => {
            assert_eq!(seqs(&messages), [1, 2, 3, 4, 5]);
            assert_eq!(messages[4].body, "message 5");
            assert!(!more);
        }
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn a_history_page_is_capped_in_bytes_and_says_more() {
    let server = TestServer::start_with(|c| c.limits.rate_burst = 1000).await;
    let mut alice = server.client("alice").await;
    alice.join("general", None).await;
    let body = "h".repeat(12 * 1024);
    for i in 1..=30 {
        alice.send_msg(&format!("m{i}"), "general", &body).await;
    }
    alice.forget_skipped();
    alice
        .send_json(json!({"type": "history", "room": "general", "limit": 200}))
        .await;
    match alice
        .recv_until(|f| matches!(f, ServerFrame::History { .. }))
        .await
    {
        ServerFrame::History { messages, more, .. } => {
            let bytes: usize = messages.iter().map(|m| m.body.len()).sum();
            assert!(
                bytes <= confab_protocol::limits::HISTORY_MAX_BYTES,
                "{bytes} bytes in one page"
            );
            assert!(more, "the cut is announced");
            assert_eq!(
                messages.last().map(|m| m.seq),
                Some(30),
                "the newest are kept"
            );
            let n = messages.len() as u64;
            assert_eq!(seqs(&messages), (31 - n..=30).collect::<Vec<_>>());
        }
        _ => unreachable!(),
    }
}
