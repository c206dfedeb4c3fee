//! Edits, deletions, reactions and replies through the client's durable outbox: in order with
//! the messages they change, once each, across a dead network path and `kill -9`.

use crate::cli::{in_keyring_session, marker};
use crate::harness::{TestClient, fast_config};
use confab_client::{ConnState, Draft, Event, MemoryTokens, OutgoingStatus, Target};
use confab_protocol::{MessageData, ServerFrame};
use confab_test_support::{FaultProxy, Mode, TestServer};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Everything of `room`'s stream a newcomer replays, and the room's history, as `viewer`.
pub(crate) async fn stream_and_history(
    server: &TestServer,
    room: &str,
) -> (Vec<ServerFrame>, Vec<MessageData>) {
    let mut ws = server
        .client(&format!("viewer{}", rand::random::<u32>()))
        .await;
    ws.send_json(json!({"type": "join", "room": room, "after": 0}))
        .await;
    let mut stream = vec![];
    loop {
        match ws.recv().await {
            f @ (ServerFrame::Message(_)
            | ServerFrame::Edit(_)
            | ServerFrame::Delete(_)
            | ServerFrame::React(_)) => stream.push(f),
            ServerFrame::Synced { more: false, .. } => break,
            _ => {}
        }
    }
    ws.send_json(json!({"type": "history", "room": room, "limit": 200}))
        .await;
    let history = match ws
        .recv_until(|f| matches!(f, ServerFrame::History { .. }))
        .await
    {
        ServerFrame::History { messages, .. } => messages,
        _ => unreachable!(),
    };
    (stream, history)
}

fn kinds(stream: &[ServerFrame]) -> Vec<&'static str> {
    stream
        .iter()
        .map(|f| match f {
            ServerFrame::Message(_) => "message",
            ServerFrame::Edit(_) => "edit",
            ServerFrame::Delete(_) => "delete",
            ServerFrame::React(_) => "react",
            _ => "other",
        })
        .collect()
}

#[tokio::test]
async fn changes_to_queued_messages_wait_for_them_or_rewrite_the_outbox() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut cfg = fast_config(&proxy.http_url(), dir.path());
    // The path goes dead on purpose below; the client must not give up on it meanwhile.
    cfg.dead_after = Duration::from_secs(60);
    let tokens = Arc::new(MemoryTokens::new(Some(server.user("alice").await)));
    let mut alice = TestClient::start_in(cfg, dir, tokens);
    alice.join_synced("general").await;

    // A dead path: what is written stays unacknowledged.
    proxy.set_mode(Mode::Blackhole);
    let taken = alice.client.send("general", "teh plan").await.unwrap();
    alice
        .until("the message on the wire", |e| {
            matches!(e, Event::Outgoing(o) if o.id == taken.id && o.status == OutgoingStatus::Sending)
        })
        .await;
    let fix = alice
        .client
        .queue(
            "general",
            Draft::Edit {
                target: Target::Queued(taken.id.clone()),
                body: "the plan".into(),
            },
        )
        .await
        .unwrap();
    assert_ne!(
        fix.id, taken.id,
        "an edit of a message on the wire waits for its seq"
    );
    // Held behind the edit, so no connection takes these two: changing them rewrites the outbox.
    let later = alice.client.send("general", "draft").await.unwrap();
    let never = alice.client.send("general", "a secret").await.unwrap();
    let rewritten = alice
        .client
        .queue(
            "general",
            Draft::Edit {
                target: Target::Queued(later.id.clone()),
                body: "final".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        rewritten.id, later.id,
        "the queued message itself has the new body"
    );
    let react = Draft::React {
        target: Target::Queued(taken.id.clone()),
        emoji: "👍".into(),
        on: true,
    };
    alice.client.queue("general", react).await.unwrap();
    let doomed = Draft::React {
        target: Target::Queued(never.id.clone()),
        emoji: "🎉".into(),
        on: true,
    };
    let doomed = alice.client.queue("general", doomed).await.unwrap();
    let delete = Draft::Delete {
        target: Target::Queued(never.id.clone()),
    };
    alice.client.queue("general", delete).await.unwrap();
    for gone in [&never.id, &doomed.id] {
        alice
            .until(
                "withdrawn",
                |e| matches!(e, Event::Withdrawn { id, .. } if id == gone),
            )
            .await;
    }
    assert_eq!(
        alice.client.queued().await.ok(),
        Some(4),
        "message, edit, message, reaction"
    );

    proxy.set_mode(Mode::Pass);
    proxy.cut();
    alice.until_flushed().await;

    let (stream, history) = stream_and_history(&server, "general").await;
    assert_eq!(kinds(&stream), ["message", "edit", "message", "react"]);
    let (first, second) = (&history[0], &history[1]);
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(first.body, "the plan");
    assert!(first.edited_ts.is_some());
    assert_eq!(
        first.reactions.get("👍").map(Vec::as_slice),
        Some(&["alice".to_owned()][..])
    );
    assert_eq!((second.body.as_str(), second.edited_ts), ("final", None));
    assert!(
        stream.iter().all(|f| !f.to_json().contains("a secret")),
        "a message deleted while queued never left the machine"
    );
}

#[tokio::test]
async fn changes_queued_offline_survive_kill_9_and_apply_once_in_order() {
    let server = TestServer::start().await;
    let url = server.http_url("");
    let (home, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let out = in_keyring_session(home.path(), data.path(), &url, r#"
        echo password-of-carol | "$CONFAB" --data-dir "$DIR" register --server "$SERVER" --user carol; echo "register=$?"
        "$CONFAB" --data-dir "$DIR" send general "typo heer"; echo "first=$?"
        "$CONFAB" --data-dir "$DIR" send general "take this back"; echo "second=$?"
    "#).await;
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(marker(&out, "second"), Some(0), "{log}");

    let mut server = server;
    server.stop().await;
    let out = in_keyring_session(
        home.path(),
        data.path(),
        &url,
        r#"
        "$CONFAB" --data-dir "$DIR" edit general 1 "typo here" --wait 1; echo "edit=$?"
        "$CONFAB" --data-dir "$DIR" delete general 2 --wait 1; echo "delete=$?"
        "$CONFAB" --data-dir "$DIR" send general "agreed" --reply-to 1 --wait 1; echo "reply=$?"
        "$CONFAB" --data-dir "$DIR" react general 1 👍 --wait 60 & kill_when_queued 4 $!
    "#,
    )
    .await;
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    for queued in ["edit", "delete", "reply"] {
        assert_eq!(marker(&out, queued), Some(3), "{queued} left queued: {log}");
    }
    assert_eq!(marker(&out, "killed"), Some(137), "{log}");

    let server = server.restart().await;
    let out = in_keyring_session(
        home.path(),
        data.path(),
        &url,
        r#"
        "$CONFAB" --data-dir "$DIR" react general 1 🎉; echo "react=$?"
        "$CONFAB" --data-dir "$DIR" react general 1 🎉; echo "again=$?"
    "#,
    )
    .await;
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(marker(&out, "react"), Some(0), "{log}");
    assert_eq!(marker(&out, "again"), Some(0), "{log}");

    let (stream, history) = stream_and_history(&server, "general").await;
    assert_eq!(
        kinds(&stream),
        [
            "message", "message", "edit", "delete", "message", "react", "react", "react"
        ],
        "each change once, in the order it was made"
    );
    let bodies: Vec<(&str, bool)> = history
        .iter()
        .map(|m| (m.body.as_str(), m.deleted))
        .collect();
    assert_eq!(
        bodies,
        [("typo here", false), ("", true), ("agreed", false)]
    );
    assert_eq!(history[2].reply_to, Some(1));
    let reactions: Vec<(&str, usize)> = history[0]
        .reactions
        .iter()
        .map(|(e, users)| (e.as_str(), users.len()))
        .collect();
    assert_eq!(
        reactions,
        [("🎉", 1), ("👍", 1)],
        "a reaction given twice counts once"
    );
}

/// Found by the chaos soak: a message the server stored but whose ack was lost is queued
/// again; an edit or deletion of it then must not be folded into the outbox (the server keeps
/// the first copy and drops the resend as a duplicate, with the change in it).
#[tokio::test]
async fn changes_to_a_message_whose_ack_was_lost_reach_the_server() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut cfg = fast_config(&proxy.http_url(), dir.path());
    cfg.dead_after = Duration::from_secs(60);
    let tokens = Arc::new(MemoryTokens::new(Some(server.user("alice").await)));
    let mut alice = TestClient::start_in(cfg, dir, tokens);
    alice.join_synced("general").await;
    let mut bob = TestClient::start(&server.http_url(""), server.user("bob").await);
    bob.join_synced("general").await;

    // A slow path: the server has both messages a second before alice could hear the acks.
    proxy.set_mode(Mode::Delay(Duration::from_secs(1)));
    let typo = alice.client.send("general", "teh plan").await.unwrap();
    let oops = alice.client.send("general", "a secret").await.unwrap();
    bob.until_received(2).await;
    // Cut first: a chunk the proxy still holds would go out at once in any other mode.
    proxy.cut();
    proxy.set_mode(Mode::Refuse);
    // The link is gone (its messages queued again) once the client says it is reconnecting.
    alice
        .until("the cut noticed", |e| {
            matches!(
                e,
                Event::State(ConnState::Reconnecting { .. } | ConnState::Connecting { .. })
            )
        })
        .await;
    let edit = Draft::Edit {
        target: Target::Queued(typo.id.clone()),
        body: "the plan".into(),
    };
    alice.client.queue("general", edit).await.unwrap();
    let delete = Draft::Delete {
        target: Target::Queued(oops.id.clone()),
    };
    alice.client.queue("general", delete).await.unwrap();
    proxy.set_mode(Mode::Pass);
    alice.until_flushed().await;

    let (_, history) = stream_and_history(&server, "general").await;
    let shown: Vec<(&str, bool)> = history
        .iter()
        .map(|m| (m.body.as_str(), m.deleted))
        .collect();
    assert_eq!(
        shown,
        [("the plan", false), ("", true)],
        "the edit and the deletion reach the server: {history:?}"
    );
}
