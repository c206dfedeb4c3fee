//! Messages that change: edits (the author's only), deletions (the author's, or a moderator's;
//! the text never served again), reactions as sets, replies, `bad_target`, idempotent resends,
//! and history in the current state — on real sockets, whichever backend the run is for.

use confab_protocol::ServerFrame;
use confab_test_support::{TestServer, WsClient};
use serde_json::{Value, json};

/// Sends a frame that takes a seq and returns its ack's seq, or the error's code and ref.
async fn apply(c: &mut WsClient, frame: Value) -> Result<u64, (String, Option<String>)> {
    let id = frame["id"].as_str().unwrap_or_default().to_owned();
    c.send_json(frame).await;
    match c
        .recv_until(|f| match f {
            ServerFrame::Ack { id: a, .. } => *a == id,
            ServerFrame::Error { reference, .. } => reference.as_deref() == Some(id.as_str()),
            _ => false,
        })
        .await
    {
        ServerFrame::Ack { seq, .. } => Ok(seq),
        ServerFrame::Error {
            code, reference, ..
        } => Err((code.as_str().to_owned(), reference)),
        _ => unreachable!(),
    }
}

async fn history(c: &mut WsClient, room: &str) -> Vec<confab_protocol::MessageData> {
    c.send_json(json!({"type": "history", "room": room})).await;
    match c
        .recv_until(|f| matches!(f, ServerFrame::History { .. }))
        .await
    {
        ServerFrame::History { messages, .. } => messages,
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn edits_are_the_authors_deletions_erase_the_text_for_good_and_reactions_are_sets() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let mut bob = server.client("bob").await;
    let mut carol = server.client("carol").await;
    for c in [&mut alice, &mut bob, &mut carol] {
        c.join("general", None).await;
    }
    let first = alice.send_msg("a-1", "general", "teh plan").await;
    let edit = json!({"type": "edit", "id": "e-1", "room": "general", "target": first, "body": "the plan"});
    let edited = apply(&mut alice, edit.clone()).await;
    assert_eq!(edited, Ok(first + 1));
    assert_eq!(
        apply(&mut alice, edit).await,
        edited,
        "a resend is the original ack"
    );
    match bob.recv_until(|f| matches!(f, ServerFrame::Edit(_))).await {
        ServerFrame::Edit(e) => {
            assert_eq!(
                (e.target, e.body.as_deref(), e.author.as_str()),
                (first, Some("the plan"), "alice")
            );
        }
        _ => unreachable!(),
    }
    let bobs_edit = json!({"type": "edit", "id": "b-1", "room": "general", "target": first, "body": "mine now"});
    assert_eq!(
        apply(&mut bob, bobs_edit).await,
        Err(("forbidden".to_owned(), Some("b-1".to_owned())))
    );

    // Reactions: a set per user and emoji.
    let react = |id: &str, emoji: &str, on: bool| json!({"type": "react", "id": id, "room": "general", "target": first, "emoji": emoji, "on": on});
    assert!(apply(&mut bob, react("r-1", "👍", true)).await.is_ok());
    assert!(
        apply(&mut bob, react("r-2", "👍", true)).await.is_ok(),
        "twice changes nothing"
    );
    assert!(apply(&mut carol, react("r-3", "👍", true)).await.is_ok());
    assert!(apply(&mut carol, react("r-4", "🎉", true)).await.is_ok());
    assert!(apply(&mut carol, react("r-5", "🎉", false)).await.is_ok());
    assert_eq!(
        apply(&mut bob, react("r-6", "a", true)).await,
        Err(("bad_emoji".to_owned(), Some("r-6".to_owned())))
    );
    let page = history(&mut carol, "general").await;
    let m = &page[0];
    assert_eq!((m.body.as_str(), m.edited_ts.is_some()), ("the plan", true));
    assert_eq!(
        m.reactions
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect::<Vec<_>>(),
        [("👍", vec!["bob".to_owned(), "carol".to_owned()])]
    );

    // Replies, and targets that are no message.
    let reply = json!({"type": "send", "id": "b-2", "room": "general", "body": "agreed", "reply_to": first});
    assert!(apply(&mut bob, reply).await.is_ok());
    let replied = carol.recv_message("b-2").await;
    assert_eq!(replied.reply_to, Some(first));
    let edit_seq = edited.unwrap_or_default();
    for (id, target) in [("x-1", 999), ("x-2", edit_seq)] {
        let aimed = json!({"type": "react", "id": id, "room": "general", "target": target, "emoji": "👍", "on": true});
        assert_eq!(
            apply(&mut bob, aimed).await,
            Err(("bad_target".to_owned(), Some(id.to_owned())))
        );
    }

    // Only the author or a moderator deletes; then the text is gone from everything.
    let delete = |id: &str| json!({"type": "delete", "id": id, "room": "general", "target": first});
    assert_eq!(
        apply(&mut bob, delete("d-1")).await,
        Err(("forbidden".to_owned(), Some("d-1".to_owned())))
    );
    assert!(apply(&mut alice, delete("d-2")).await.is_ok());
    assert_eq!(
        apply(&mut bob, react("r-7", "👍", true)).await,
        Err(("bad_target".to_owned(), Some("r-7".to_owned()))),
        "a deleted message takes no more changes"
    );
    let page = history(&mut carol, "general").await;
    assert!(page[0].deleted && page[0].body.is_empty(), "{:?}", page[0]);
    // Someone joining later replays every entry in seq order, without the deleted text.
    let mut dave = server.client("dave").await;
    dave.send_json(json!({"type": "join", "room": "general", "after": 0}))
        .await;
    let mut kinds = vec![];
    let mut seen_text = String::new();
    loop {
        let f = dave.recv().await;
        seen_text.push_str(&f.to_json());
        let seq = match &f {
            ServerFrame::Message(m) => Some(("message", m.seq)),
            ServerFrame::Edit(e) => Some(("edit", e.seq)),
            ServerFrame::React(e) => Some(("react", e.seq)),
            ServerFrame::Delete(e) => Some(("delete", e.seq)),
            _ => None,
        };
        kinds.extend(seq);
        if matches!(f, ServerFrame::Synced { more: false, .. }) {
            break;
        }
    }
    let seqs: Vec<u64> = kinds.iter().map(|(_, s)| *s).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "no gaps: {kinds:?}"
    );
    assert_eq!(kinds.last().map(|(k, _)| *k), Some("delete"));
    assert!(
        !seen_text.contains("teh plan") && !seen_text.contains("the plan"),
        "deleted text was served again: {seen_text}"
    );
}

#[tokio::test]
async fn an_owner_or_admin_deletes_anyones_message_in_their_room() {
    let server = TestServer::start().await;
    let mut carol = server.client("carol").await;
    let mut alice = server.client("alice").await;
    carol
        .send_json(json!({"type": "create", "room": "ops", "visibility": "private"}))
        .await;
    carol
        .recv_until(|f| matches!(f, ServerFrame::Synced { .. }))
        .await;
    carol
        .send_json(json!({"type": "invite", "room": "ops", "user": "alice"}))
        .await;
    carol
        .recv_until(|f| matches!(f, ServerFrame::Invited { .. }))
        .await;
    alice.join("ops", None).await;
    let seq = alice.send_msg("a-1", "ops", "oops, a password").await;
    let delete = json!({"type": "delete", "id": "c-1", "room": "ops", "target": seq});
    assert!(apply(&mut carol, delete).await.is_ok());
    match alice
        .recv_until(|f| matches!(f, ServerFrame::Delete(_)))
        .await
    {
        ServerFrame::Delete(e) => assert_eq!((e.target, e.author.as_str()), (seq, "carol")),
        _ => unreachable!(),
    }
    assert!(history(&mut alice, "ops").await[0].deleted);
}
