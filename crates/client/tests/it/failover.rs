//! A client given several servers moves to the next when the one in use goes away, and the
//! resume protocol makes the move invisible: nothing lost, nothing twice.

use crate::harness::{TestClient, fast_config};
use confab_client::{ConnState, Event, MemoryTokens};
use confab_server::cluster::ClusterConfig;
use confab_test_support::{Backend, FaultProxy, Mode, TestRedis, TestServer};
use std::sync::Arc;

fn bodies(received: &[confab_protocol::MessageData]) -> Vec<String> {
    received.iter().map(|m| m.body.clone()).collect()
}

/// Two paths to one server stand for two nodes: the one in use starts refusing connections.
#[tokio::test]
async fn when_the_server_in_use_refuses_the_next_one_is_used() {
    let server = TestServer::start().await;
    let (first, second) = (
        FaultProxy::start(server.addr).await,
        FaultProxy::start(server.addr).await,
    );
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut cfg = fast_config(&first.http_url(), dir.path());
    cfg.fallback_servers = vec![second.http_url().parse().unwrap()];
    let tokens = Arc::new(MemoryTokens::new(Some(server.user("alice").await)));
    let mut alice = TestClient::start_in(cfg, dir, tokens);
    let mut bob = TestClient::start(&server.http_url(""), server.user("bob").await);
    alice.until_open().await;
    bob.until_open().await;
    alice.join_synced("general").await;
    bob.join_synced("general").await;
    assert_eq!(second.accepted(), 0, "the first server is used first");

    first.set_mode(Mode::Refuse);
    first.cut();
    let sent: Vec<String> = (1..=5).map(|i| format!("during the move {i}")).collect();
    for body in &sent {
        alice.client.send("general", body).await.unwrap();
    }
    alice
        .until("open again", |e| {
            matches!(e, Event::State(ConnState::Open { .. }))
        })
        .await;
    assert!(second.accepted() > 0, "it moved to the second server");
    alice.until_flushed().await;
    bob.until_received(5).await;
    assert_eq!(bodies(&bob.received), sent, "once each, in order");
}

/// Real nodes on one PostgreSQL, joined by Redis: the node in use is stopped.
#[tokio::test]
async fn when_a_node_stops_its_clients_carry_on_through_another() {
    if Backend::current() != Backend::Postgres {
        eprintln!("several nodes share PostgreSQL only; run with CONFAB_TEST_POSTGRES set");
        return;
    }
    let redis = TestRedis::start().await;
    let url = redis.url();
    let mut a = TestServer::start_with(move |c| c.cluster = Some(ClusterConfig::new(url))).await;
    let b = a.another_node().await;
    a.until_ready().await;
    b.until_ready().await;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut cfg = fast_config(&a.http_url(""), dir.path());
    cfg.fallback_servers = vec![b.http_url("").parse().unwrap()];
    let tokens = Arc::new(MemoryTokens::new(Some(a.user("alice").await)));
    let mut alice = TestClient::start_in(cfg, dir, tokens);
    let mut bob = TestClient::start(&b.http_url(""), b.user("bob").await);
    alice.until_open().await;
    bob.until_open().await;
    alice.join_synced("general").await;
    bob.join_synced("general").await;

    alice.client.send("general", "before").await.unwrap();
    bob.until_received(1).await;
    a.stop().await;
    alice.client.send("general", "after").await.unwrap();
    alice.until_flushed().await;
    bob.until_received(2).await;
    assert_eq!(bodies(&bob.received), ["before", "after"]);
    let seqs: Vec<u64> = bob.received.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, [1, 2], "one room, numbered across both nodes");
}
