//! Search on real sockets, whichever backend the run is for: only rooms the searcher is in now
//! (an outsider, a kicked member of a private room), current text (edits found by their new
//! words, deletions never), filters, paging across rooms and within one, highlights, and bad
//! queries answered by name.

use crate::private_room;
use confab_protocol::{SearchHit, ServerFrame};
use confab_test_support::{TestServer, WsClient};
use serde_json::{Value, json};

/// Runs a search; its hits and `next`, or the error's code (carrying the search's `ref`).
async fn search(
    c: &mut WsClient,
    frame: Value,
) -> Result<(Vec<SearchHit>, Option<String>), String> {
    let reference = frame["ref"].as_str().unwrap_or_default().to_owned();
    let mut frame = frame;
    frame["type"] = json!("search");
    c.send_json(frame).await;
    match c
        .recv_until(|f| match f {
            ServerFrame::SearchResults { reference: r, .. } => *r == reference,
            ServerFrame::Error { reference: r, .. } => r.as_deref() == Some(reference.as_str()),
            _ => false,
        })
        .await
    {
        ServerFrame::SearchResults {
            hits, more, next, ..
        } => {
            assert_eq!(more, next.is_some(), "`more` and `next` agree");
            Ok((hits, next))
        }
        ServerFrame::Error { code, .. } => Err(code.as_str().to_owned()),
        _ => unreachable!(),
    }
}

/// Just the hits of a search that must succeed, as (room, body).
async fn found(c: &mut WsClient, query: &str) -> Vec<(String, String)> {
    let (hits, _) = search(c, json!({"ref": "s", "query": query}))
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    hits.into_iter().map(|h| (h.room, h.body)).collect()
}

async fn apply(c: &mut WsClient, frame: Value) {
    let id = frame["id"].as_str().unwrap_or_default().to_owned();
    c.send_json(frame).await;
    c.recv_until(|f| matches!(f, ServerFrame::Ack { id: a, .. } if *a == id))
        .await;
}

#[tokio::test]
async fn search_finds_only_what_the_searcher_may_read_in_its_current_text() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let mut bob = server.client("bob").await;
    let mut eve = server.client("eve").await;
    alice.join("general", None).await;
    bob.join("general", None).await;
    eve.join("lobby", None).await;
    private_room(&mut alice, "ops", "bob").await;
    bob.join("ops", None).await;

    alice
        .send_msg("a-1", "general", "We deploy on Friday")
        .await;
    let typo = alice
        .send_msg("a-2", "general", "the deplyo checklist")
        .await;
    let gone = bob
        .send_msg("b-1", "general", "deploy secrets are in the vault")
        .await;
    alice
        .send_msg("a-3", "ops", "ops deploy window moved")
        .await;
    eve.send_msg("e-1", "lobby", "eve's own deploy notes").await;
    apply(&mut alice, json!({"type": "edit", "id": "a-4", "room": "general", "target": typo, "body": "the deployment checklist"})).await;
    apply(
        &mut bob,
        json!({"type": "delete", "id": "b-2", "room": "general", "target": gone}),
    )
    .await;

    let general = |b: &str| ("general".to_owned(), b.to_owned());
    let ops = |b: &str| ("ops".to_owned(), b.to_owned());
    // Newest first; the edit is found by its new words, the deleted message not at all.
    assert_eq!(
        found(&mut bob, "DEPLOY").await,
        [
            ops("ops deploy window moved"),
            general("the deployment checklist"),
            general("We deploy on Friday")
        ]
    );
    assert!(
        found(&mut bob, "deplyo").await.is_empty(),
        "the old text of an edit is not found"
    );
    assert!(
        found(&mut bob, "vault").await.is_empty(),
        "a deleted message is never found"
    );
    // An outsider finds only their own room's message: neither the public room they did not
    // join nor the private one.
    assert_eq!(
        found(&mut eve, "deploy").await,
        [("lobby".to_owned(), "eve's own deploy notes".to_owned())]
    );

    // Filters and phrases.
    assert_eq!(
        found(&mut bob, "deploy from:alice in:#general").await.len(),
        2
    );
    assert_eq!(
        found(&mut bob, "from:alice in:ops").await,
        [ops("ops deploy window moved")]
    );
    assert_eq!(
        found(&mut bob, "\"on friday\"").await,
        [general("We deploy on Friday")]
    );
    assert!(
        found(&mut bob, "\"friday on\"").await.is_empty(),
        "a phrase keeps its order"
    );
    assert!(
        found(&mut bob, "deploy has:file").await.is_empty(),
        "no attachments yet"
    );
    let (hits, _) = search(
        &mut bob,
        json!({"ref": "h", "query": "deploy friday", "room": "general"}),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(hits.len(), 1);
    let h = &hits[0];
    let marked: Vec<String> = h
        .highlights
        .iter()
        .map(|[s, e]| {
            h.body
                .chars()
                .skip(*s as usize)
                .take((e - s) as usize)
                .collect()
        })
        .collect();
    assert_eq!(marked, ["deploy", "Friday"]);

    // Kicked from the private room: its messages are no longer found.
    alice
        .send_json(json!({"type": "kick", "room": "ops", "user": "bob"}))
        .await;
    bob.recv_until(|f| matches!(f, ServerFrame::RoomRemoved { .. }))
        .await;
    assert!(
        found(&mut bob, "window").await.is_empty(),
        "nothing of a room one was kicked from"
    );
    assert_eq!(
        found(&mut alice, "window").await,
        [ops("ops deploy window moved")]
    );
}

#[tokio::test]
async fn search_pages_across_rooms_and_within_one_without_gaps_or_repeats() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    for room in ["general", "random"] {
        alice.join(room, None).await;
    }
    let mut sent = Vec::new();
    for i in 0..25 {
        let room = if i % 3 == 0 { "random" } else { "general" };
        let body = format!("release note {i}");
        alice.send_msg(&format!("m-{i}"), room, &body).await;
        sent.push((room.to_owned(), body));
    }
    alice
        .send_msg("other", "general", "unrelated chatter")
        .await;

    // Across rooms: `next` continues where a page ended, newest first, none twice or missed.
    let mut pages = Vec::new();
    let mut all: Vec<SearchHit> = Vec::new();
    let mut page: Option<String> = None;
    loop {
        let mut frame = json!({"ref": "p", "query": "release", "limit": 10});
        if let Some(p) = &page {
            frame["page"] = json!(p);
        }
        let (hits, next) = search(&mut alice, frame)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        pages.push(hits.len());
        all.extend(hits);
        page = next;
        if page.is_none() {
            break;
        }
    }
    assert!(all.windows(2).all(|w| w[0].ts >= w[1].ts), "newest first");
    let mut got: Vec<(String, String)> = all.into_iter().map(|h| (h.room, h.body)).collect();
    got.sort();
    sent.sort();
    assert_eq!(got, sent);
    assert_eq!(pages, [10, 10, 5]);

    // Within one room, `before` pages by seq.
    let (hits, _) = search(
        &mut alice,
        json!({"ref": "r", "query": "release", "room": "random", "limit": 3}),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let last = hits.last().map(|h| h.seq).unwrap_or_default();
    let (older, next) = search(
        &mut alice,
        json!({"ref": "r2", "query": "release", "room": "random", "before": last}),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        hits.len() + older.len(),
        9,
        "random holds every third of 25"
    );
    assert!(older.iter().all(|h| h.seq < last && h.room == "random"));
    assert_eq!(next, None);
}

#[tokio::test]
async fn bad_searches_are_answered_by_name_and_the_connection_goes_on() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.join("general", None).await;
    let bad = [
        (json!({"ref": "1", "query": "   "}), "bad_query"),
        (json!({"ref": "2", "query": "x".repeat(300)}), "bad_query"),
        (json!({"ref": "3", "query": "has:link"}), "bad_query"),
        (
            json!({"ref": "4", "query": "x", "room": "Not A Room"}),
            "bad_room",
        ),
        (json!({"ref": "5", "query": "x", "before": 10}), "bad_frame"),
        (
            json!({"ref": "6", "query": "x", "page": "nonsense"}),
            "bad_frame",
        ),
        (
            json!({"ref": "7", "query": "x", "page": "1.2.3.4"}),
            "bad_frame",
        ),
        (json!({"ref": "8", "query": 5}), "bad_frame"),
    ];
    for (frame, code) in bad {
        let shown = frame.to_string();
        assert_eq!(
            search(&mut alice, frame).await.err().as_deref(),
            Some(code),
            "{shown}"
        );
    }
    // FTS syntax in a query is only words to us.
    assert!(
        found(&mut alice, "NEAR(a b) OR \"x AND col:y*")
            .await
            .is_empty()
    );
    let seq = alice.send_msg("a-1", "general", "still here").await;
    assert_eq!(
        found(&mut alice, "here").await,
        [("general".to_owned(), "still here".to_owned())]
    );
    assert!(seq > 0);
}

/// The seqs of a `history` answer, with its `more` and `newer`.
async fn page(c: &mut WsClient, frame: Value) -> Result<(Vec<u64>, bool, bool), String> {
    c.send_json(frame).await;
    match c
        .recv_until(|f| matches!(f, ServerFrame::History { .. } | ServerFrame::Error { .. }))
        .await
    {
        ServerFrame::History {
            messages,
            more,
            newer,
            ..
        } => Ok((messages.iter().map(|m| m.seq).collect(), more, newer)),
        other => Err(crate::error_code(&other)),
    }
}

#[tokio::test]
async fn a_jump_to_a_hit_opens_its_neighbourhood_and_pages_down_from_there() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.join("general", None).await;
    for i in 1..=30 {
        alice
            .send_msg(&format!("m-{i}"), "general", &format!("message {i}"))
            .await;
    }
    let h = |extra: Value| {
        let mut f = json!({"type": "history", "room": "general", "limit": 10});
        if let (Some(f), Some(extra)) = (f.as_object_mut(), extra.as_object()) {
            f.extend(extra.clone());
        }
        f
    };
    assert_eq!(
        page(&mut alice, h(json!({"around": 15}))).await,
        Ok(((11..=20).collect(), true, true)),
        "the message, the older half with it, the newer half"
    );
    assert_eq!(
        page(&mut alice, h(json!({"after": 20}))).await,
        Ok(((21..=30).collect(), false, false))
    );
    assert_eq!(
        page(&mut alice, h(json!({"after": 15}))).await,
        Ok(((16..=25).collect(), false, true))
    );
    assert_eq!(
        page(&mut alice, h(json!({"around": 2}))).await,
        Ok(((1..=7).collect(), false, true))
    );
    assert_eq!(
        page(&mut alice, h(json!({"around": 30}))).await,
        Ok(((26..=30).collect(), true, false))
    );
    assert_eq!(
        page(&mut alice, h(json!({"around": 15, "before": 9}))).await,
        Err("bad_frame".to_owned())
    );
}
