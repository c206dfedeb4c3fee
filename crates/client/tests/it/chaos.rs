//! Chaos: several clients talk while the proxy cuts connections and the server restarts at
//! random. Every message must reach every client exactly once, in each sender's order.

use crate::harness::{TestClient, fast_config};
use confab_client::Event;
use confab_test_support::{FaultProxy, TestServer};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::time::Duration;

const CLIENTS: usize = 3;
const PER_CLIENT: usize = 250;

/// A server that takes bursts, a fault proxy in front of it, and `n` clients (`user0`…) that
/// joined `chaos` through the proxy.
pub(crate) async fn chaos_room(n: usize) -> (TestServer, FaultProxy, Vec<TestClient>) {
    let server = TestServer::start_with(|c| {
        c.limits.rate_burst = 1000;
        c.limits.rate_per_sec = 1000;
    })
    .await;
    let proxy = FaultProxy::start(server.addr).await;
    let mut clients = vec![];
    for i in 0..n {
        // The tests read events only at the end, so let them pile up instead of stalling the
        // client (a real consumer reads as it goes).
        let dir = std::sync::Arc::new(tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")));
        let mut cfg = fast_config(&proxy.http_url(), dir.path());
        cfg.event_buffer = 1 << 16;
        let user = server.user(&format!("user{i}")).await;
        let tokens = std::sync::Arc::new(confab_client::MemoryTokens::new(Some(user)));
        let c = TestClient::start_in(cfg, dir, tokens);
        c.client
            .join("chaos")
            .await
            .unwrap_or_else(|e| panic!("join: {e}"));
        clients.push(c);
    }
    (server, proxy, clients)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_survive_cuts_and_restarts_exactly_once_in_order() {
    let (mut server, proxy, mut clients) = chaos_room(CLIENTS).await;
    let seed: u64 = rand::rng().random();
    eprintln!("chaos seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    // Senders: each client queues its messages in bursts with pauses.
    let mut senders = vec![];
    for (i, c) in clients.iter().enumerate() {
        let client = c.client.clone();
        let pauses: Vec<u64> = (0..PER_CLIENT).map(|_| rng.random_range(0..4)).collect();
        senders.push(tokio::spawn(async move {
            for (k, pause) in pauses.into_iter().enumerate() {
                client
                    .send("chaos", &format!("{i}:{k}"))
                    .await
                    .unwrap_or_else(|e| panic!("send: {e}"));
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        }));
    }
    // Chaos: cut connections often, restart the server twice.
    for round in 0..12 {
        tokio::time::sleep(Duration::from_millis(rng.random_range(50..250))).await;
        if round == 4 || round == 9 {
            server = server.restart().await;
        } else {
            proxy.cut();
        }
    }
    for s in senders {
        s.await.unwrap_or_else(|e| panic!("sender: {e}"));
    }
    let total = CLIENTS * PER_CLIENT;
    for c in &mut clients {
        c.until_flushed().await;
    }
    for c in &mut clients {
        c.until_received(total).await;
    }
    // One marker per client flushes out any late duplicate before we count.
    for (i, c) in clients.iter_mut().enumerate() {
        c.client.send("chaos", &format!("end:{i}")).await.unwrap();
    }
    for c in &mut clients {
        while !c
            .received
            .iter()
            .filter(|m| m.body.starts_with("end:"))
            .count()
            .eq(&CLIENTS)
        {
            c.until("end markers", |e| matches!(e, Event::Message(_)))
                .await;
        }
        let mut per_sender: HashMap<String, Vec<usize>> = HashMap::new();
        let mut seqs = vec![];
        for m in &c.received {
            seqs.push(m.seq);
            if let Some((who, k)) = m.body.split_once(':').filter(|(w, _)| *w != "end") {
                per_sender
                    .entry(who.to_owned())
                    .or_default()
                    .push(k.parse().unwrap_or(usize::MAX));
            }
        }
        assert_eq!(
            seqs,
            (1..=seqs.len() as u64).collect::<Vec<_>>(),
            "seed {seed}: gap or duplicate in seqs"
        );
        for (who, ks) in per_sender {
            assert_eq!(
                ks,
                (0..PER_CLIENT).collect::<Vec<_>>(),
                "seed {seed}: sender {who} out of order or lost"
            );
        }
    }
}
