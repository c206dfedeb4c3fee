//! Conversations through the client core against the real server: a device that was away
//! joins the rooms it was added to and forgets the ones it was removed from, exactly once.

use crate::harness::{TestClient, fast_config};
use confab_client::{Conversation, Event, MemoryTokens};
use confab_protocol::ServerFrame;
use confab_test_support::{TestServer, WsClient};
use serde_json::json;
use std::sync::Arc;

async fn create_private(alice: &mut WsClient, room: &str) {
    alice
        .send_json(json!({"type": "create", "room": room, "visibility": "private"}))
        .await;
    alice
        .recv_until(|f| matches!(f, ServerFrame::Synced { room: r, .. } if r == room))
        .await;
}

#[tokio::test]
async fn a_device_that_was_away_joins_what_it_was_added_to_and_forgets_what_it_lost() {
    let server = TestServer::start().await;
    let url = server.http_url("");
    let mut alice = server.client("alice").await;
    let bob_tokens = Arc::new(MemoryTokens::new(Some(server.user("bob").await)));
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let bob_device = |dir: &Arc<tempfile::TempDir>| {
        let mut cfg = fast_config(&url, dir.path());
        cfg.follow_rooms = true;
        TestClient::start_in(cfg, Arc::clone(dir), Arc::clone(&bob_tokens))
    };

    // While bob's device is off: a private room with him in it, and a message.
    create_private(&mut alice, "ops").await;
    alice
        .send_json(json!({"type": "invite", "room": "ops", "user": "bob"}))
        .await;
    alice
        .recv_until(|f| matches!(f, ServerFrame::Invited { .. }))
        .await;
    alice.send_msg("a-1", "ops", "while you were away").await;

    let mut bob = bob_device(&dir);
    bob.until("the room list", |e| matches!(e, Event::Rooms { .. }))
        .await;
    bob.until_received(1).await;
    assert_eq!(bob.received[0].body, "while you were away");
    let kept = bob.client.rooms().await.unwrap_or_default();
    assert!(kept.iter().any(|r| r.name == "ops"), "{kept:?}");
    bob.client.shutdown().await.unwrap_or_default();
    drop(bob);

    // Removed while away, and the room goes on without him.
    alice
        .send_json(json!({"type": "kick", "room": "ops", "user": "bob"}))
        .await;
    alice
        .recv_until(|f| matches!(f, ServerFrame::Changed { .. }))
        .await;
    alice.send_msg("a-2", "ops", "after the kick").await;

    let mut bob = bob_device(&dir);
    match bob
        .until("the removal", |e| matches!(e, Event::RoomRemoved { .. }))
        .await
    {
        Event::RoomRemoved { room, by } => assert_eq!((room.as_str(), by), ("ops", None)),
        _ => unreachable!(),
    }
    // A dm afterwards is the marker: nothing of ops came before it.
    bob.client
        .conversation(Conversation::Dm {
            users: vec!["alice".into()],
        })
        .await
        .unwrap_or_else(|e| panic!("dm: {e}"));
    bob.until("the dm", |e| matches!(e, Event::Dm { .. })).await;
    bob.until("the dm's replay", |e| matches!(e, Event::Synced { .. }))
        .await;
    assert!(
        bob.received.iter().all(|m| m.id != "a-2"),
        "{:?}",
        bob.received
    );
    let rooms = bob.client.rooms().await.unwrap_or_default();
    assert!(rooms.iter().all(|r| r.name != "ops"), "{rooms:?}");
    bob.client.shutdown().await.unwrap_or_default();
}

#[tokio::test]
async fn a_room_the_server_refuses_to_join_is_forgotten_not_retried_forever() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    create_private(&mut alice, "ops").await;
    let mut eve = TestClient::start(&server.http_url(""), server.user("eve").await);
    eve.until_open().await;
    // A client that does not know the room is private (a data dir from before room lists,
    // a typed name) joins it: the server's refusal names the room, and it is dropped.
    eve.client
        .join("ops")
        .await
        .unwrap_or_else(|e| panic!("join: {e}"));
    match eve
        .until("the refusal", |e| matches!(e, Event::RoomRemoved { .. }))
        .await
    {
        Event::RoomRemoved { room, by } => assert_eq!((room.as_str(), by), ("ops", None)),
        _ => unreachable!(),
    }
    let rooms = eve.client.rooms().await.unwrap_or_default();
    assert!(rooms.iter().all(|r| r.name != "ops"), "{rooms:?}");
}

#[tokio::test]
async fn edits_deletions_and_reactions_reach_the_cache_so_the_offline_view_is_current() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.join("general", None).await;
    let first = alice.send_msg("a-1", "general", "teh plan").await;
    let second = alice.send_msg("a-2", "general", "a secret").await;
    for frame in [
        json!({"type": "edit", "id": "e-1", "room": "general", "target": first, "body": "the plan"}),
        json!({"type": "delete", "id": "d-1", "room": "general", "target": second}),
        json!({"type": "react", "id": "r-1", "room": "general", "target": first, "emoji": "👍", "on": true}),
    ] {
        let id = frame["id"].as_str().unwrap_or_default().to_owned();
        alice.send_json(frame).await;
        alice
            .recv_until(|f| matches!(f, ServerFrame::Ack { id: a, .. } if *a == id))
            .await;
    }
    let tokens = Arc::new(MemoryTokens::new(Some(server.user("bob").await)));
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut bob = TestClient::start_in(
        fast_config(&server.http_url(""), dir.path()),
        Arc::clone(&dir),
        Arc::clone(&tokens),
    );
    bob.join_synced("general").await;
    assert_eq!(
        bob.received
            .iter()
            .map(|m| (m.seq, m.deleted))
            .collect::<Vec<_>>(),
        [(first, false), (second, true)],
        "the deleted message keeps its place, without its text"
    );
    bob.client.shutdown().await.unwrap_or_default();
    drop(bob);
    // Offline (nothing listens there): the cache answers, in its current state.
    let offline = TestClient::start_in(fast_config("http://127.0.0.1:9", dir.path()), dir, tokens);
    let page = offline
        .client
        .history("general", None, 50)
        .await
        .unwrap_or_default();
    assert_eq!(
        page.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["the plan"]
    );
    assert!(page[0].edited_ts.is_some(), "{page:?}");
    assert_eq!(
        page[0].reactions.get("👍").map(Vec::as_slice),
        Some(&["alice".to_owned()][..]),
        "the reaction is in the offline view too"
    );
}
