//! Search through the client core: online the server answers (every hit marked as the
//! server's), offline the cache answers by the same rules (marked as the cache's) with what
//! this device received — current text, deletions gone, only rooms still joined — and a bad
//! query is refused before anything is sent.

use crate::harness::{TestClient, fast_config};
use confab_client::{
    ConnState, Event, HistoryAt, MemoryTokens, SearchRequest, SearchResults, SearchSource,
};
use confab_test_support::TestServer;
use serde_json::json;
use std::sync::Arc;

fn ask(query: &str) -> SearchRequest {
    SearchRequest {
        query: query.into(),
        ..SearchRequest::default()
    }
}

/// (room, body, source) of each hit.
fn seen(r: &SearchResults) -> Vec<(String, String, SearchSource)> {
    r.hits
        .iter()
        .map(|f| (f.hit.room.clone(), f.hit.body.clone(), f.source))
        .collect()
}

#[tokio::test]
async fn the_server_answers_online_and_the_cache_offline_by_the_same_rules() {
    let mut server = TestServer::start().await;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let cfg = fast_config(&server.http_url(""), dir.path());
    let tokens = Arc::new(MemoryTokens::new(Some(server.user("alice").await)));
    let mut alice = TestClient::start_in(cfg, dir, tokens);
    for room in ["general", "random"] {
        alice.join_synced(room).await;
    }
    let mut bob = server.client("bob").await;
    bob.join("general", None).await;
    bob.join("random", None).await;
    bob.send_msg("b-1", "general", "the release is on Friday")
        .await;
    let typo = bob.send_msg("b-2", "general", "relaese notes").await;
    let gone = bob.send_msg("b-3", "random", "release party secret").await;
    bob.send_msg("b-4", "random", "release checklist").await;
    bob.send_json(json!({"type": "edit", "id": "b-5", "room": "general", "target": typo, "body": "release notes, fixed"}))
        .await;
    bob.send_json(json!({"type": "delete", "id": "b-6", "room": "random", "target": gone}))
        .await;
    alice
        .until(
            "the deletion",
            |e| matches!(e, Event::Delete(d) if d.target == gone),
        )
        .await;

    use SearchSource::{Cache, Server};
    let hit = |room: &str, body: &str, source| (room.to_owned(), body.to_owned(), source);
    let online = alice.client.search(ask("release")).await.unwrap();
    assert_eq!(
        seen(&online),
        [
            hit("random", "release checklist", Server),
            hit("general", "release notes, fixed", Server),
            hit("general", "the release is on Friday", Server),
        ]
    );

    // Offline: the same search, from what this device holds.
    server.stop().await;
    alice
        .until("offline", |e| {
            matches!(e, Event::State(ConnState::Reconnecting { .. }))
        })
        .await;
    let offline = alice.client.search(ask("release")).await.unwrap();
    let cached: Vec<_> = seen(&online)
        .into_iter()
        .map(|(room, body, _)| (room, body, Cache))
        .collect();
    assert_eq!(
        seen(&offline),
        cached,
        "the cache finds what the server found"
    );
    assert!(
        alice
            .client
            .search(ask("relaese"))
            .await
            .unwrap()
            .hits
            .is_empty(),
        "the old text of an edit is gone"
    );
    assert!(
        alice
            .client
            .search(ask("secret"))
            .await
            .unwrap()
            .hits
            .is_empty(),
        "so is a deleted message"
    );
    let marks = &offline.hits[1].hit;
    assert_eq!(
        (marks.body.as_str(), marks.highlights.as_slice()),
        ("release notes, fixed", &[[0, 7]][..])
    );

    // The jump to a hit works offline too: the cache's page around it.
    let around = alice
        .client
        .history_at("general", HistoryAt::Around(typo), 4)
        .await
        .unwrap();
    assert_eq!(
        around.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(),
        ["the release is on Friday", "release notes, fixed"]
    );
    let after = alice
        .client
        .history_at("general", HistoryAt::After(typo - 1), 10)
        .await
        .unwrap();
    assert_eq!(
        after.first().map(|m| m.body.as_str()),
        Some("release notes, fixed")
    );

    // Paging through the cache, and its filters.
    let mut first = ask("release from:bob");
    first.limit = 2;
    let page = alice.client.search(first.clone()).await.unwrap();
    assert_eq!((page.hits.len(), page.more), (2, true));
    first.page = page.next;
    let rest = alice.client.search(first).await.unwrap();
    assert_eq!(
        seen(&rest),
        [hit("general", "the release is on Friday", Cache)]
    );
    assert_eq!(
        alice
            .client
            .search(ask("release in:random"))
            .await
            .unwrap()
            .hits
            .len(),
        1
    );

    // A room left is not searched, even though its messages are still on this disk.
    alice.client.leave("random").await.unwrap();
    let left = alice.client.search(ask("release")).await.unwrap();
    assert!(
        left.hits.iter().all(|f| f.hit.room == "general"),
        "{left:?}"
    );

    // A bad query never leaves the client.
    let bad = alice.client.search(ask("   ")).await.unwrap_err();
    assert_eq!(bad.code().to_string(), "bad_query");
    let _ = server.restart().await;
}

#[tokio::test]
async fn the_servers_refusal_of_a_search_is_the_callers_error() {
    let server = TestServer::start().await;
    let mut alice = TestClient::start(&server.http_url(""), server.user("alice").await);
    alice.join_synced("general").await;
    let mut bogus = ask("x");
    bogus.page = Some("not-a-page".into());
    let refused = alice.client.search(bogus).await.unwrap_err();
    assert_eq!(refused.code().to_string(), "bad_frame");
    let ok = alice.client.search(ask("anything")).await.unwrap();
    assert!(ok.hits.is_empty() && !ok.more, "the connection goes on");
}
