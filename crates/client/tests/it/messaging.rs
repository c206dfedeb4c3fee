//! Everyday behaviour: send, receive, history, outbox bounds.

use crate::harness::{TestClient, fast_config};
use confab_client::{Error, Event, MemoryTokens, OutboxLimits};
use confab_test_support::TestServer;
use std::sync::Arc;

#[tokio::test]
async fn two_clients_exchange_messages_exactly_once() {
    let server = TestServer::start().await;
    let url = server.http_url("");
    let mut alice = TestClient::start(&url, server.user("alice").await);
    let mut bob = TestClient::start(&url, server.user("bob").await);
    alice.until_open().await;
    bob.until_open().await;
    bob.client
        .join("general")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    bob.until("bob synced", |e| matches!(e, Event::Synced { .. }))
        .await;

    let id = alice
        .client
        .send("general", "hello bob")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let sent = alice
        .until("ack", |e| matches!(e, Event::Sent { .. }))
        .await;
    assert!(matches!(sent, Event::Sent { id: ref i, seq: 1, .. } if *i == id));
    bob.until_received(1).await;
    assert_eq!(bob.received[0].body, "hello bob");
    assert_eq!(bob.received[0].author, "alice");

    // History works from the cache when offline too.
    let hist = bob
        .client
        .history("general", None, 10)
        .await
        .unwrap_or_default();
    assert_eq!(hist.len(), 1);
}

#[tokio::test]
async fn a_full_outbox_is_a_clear_error_not_a_silent_drop() {
    let server = TestServer::start().await;
    let tokens = server.user("alice").await;
    let dir = Arc::new(tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")));
    // Nothing listens at this port: the client stays offline and queues.
    let mut cfg = fast_config("http://127.0.0.1:9", dir.path());
    cfg.outbox = OutboxLimits {
        max_messages: 3,
        max_bytes: 1 << 20,
    };
    let alice = TestClient::start_in(cfg, dir, Arc::new(MemoryTokens::new(Some(tokens))));
    for i in 0..3 {
        alice
            .client
            .send("general", &format!("m{i}"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let err = alice.client.send("general", "one too many").await;
    assert!(matches!(err, Err(Error::OutboxFull(_))), "{err:?}");
    assert_eq!(err.err().map(|e| e.code()), Some("outbox_full"));
    assert_eq!(alice.client.queued().await.ok(), Some(3));
}
