//! The app's commands through Tauri's IPC on the mock runtime (no window, no WebKit), against a
//! real confab-server on loopback.

use confab_test_support::TestServer;
use serde_json::{Value, json};

mod common;
use common::invoke;

#[test]
fn sign_in_join_send_snapshot_and_sign_out_through_the_commands() {
    let data = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(TestServer::start());
    let url = server.http_url("");

    let (_app, webview) = common::window(data.path());

    let snap = invoke(&webview, "snapshot", json!({})).unwrap();
    assert_eq!(snap["account"], Value::Null, "nobody is signed in yet");

    let wrong = invoke(
        &webview,
        "sign_in",
        json!({"server": url, "username": "alice", "password": "correct horse", "remember": false, "create": false}),
    );
    let err = wrong.err().unwrap_or_default();
    assert_eq!(err["code"], "invalid_credentials", "{err}");
    assert_eq!(err["message"], "Wrong username or password.");

    let account = invoke(
        &webview,
        "sign_in",
        json!({"server": url, "username": "alice", "password": "correct horse", "remember": false, "create": true}),
    )
    .unwrap();
    assert_eq!(account["user"], "alice");

    let bad_room = invoke(&webview, "join_room", json!({"room": "no spaces allowed"}));
    assert_eq!(bad_room.err().unwrap_or_default()["code"], "bad_room");
    invoke(&webview, "join_room", json!({"room": "General"})).unwrap();
    let id = invoke(
        &webview,
        "send_message",
        json!({"room": "general", "body": "hello"}),
    )
    .unwrap();
    assert!(id.as_str().is_some_and(|s| !s.is_empty()));
    let empty = invoke(
        &webview,
        "send_message",
        json!({"room": "general", "body": "  "}),
    );
    assert_eq!(empty.err().unwrap_or_default()["code"], "empty_body");
    // Changes take the same outbox, aimed at a message by seq or, still queued, by its id.
    let react = invoke(
        &webview,
        "change_message",
        json!({"room": "general", "change": {"kind": "react", "target": {"queued": id}, "emoji": "👍", "on": true}}),
    )
    .unwrap();
    assert_eq!(react["kind"], "react", "{react}");
    let bad_emoji = invoke(
        &webview,
        "change_message",
        json!({"room": "general", "change": {"kind": "react", "target": {"seq": 1}, "emoji": ":)", "on": true}}),
    );
    assert_eq!(bad_emoji.err().unwrap_or_default()["code"], "bad_emoji");
    let reply = invoke(
        &webview,
        "send_message",
        json!({"room": "general", "body": "and a reply", "replyTo": 1}),
    );
    assert!(reply.is_ok(), "{reply:?}");
    // Search and the history around a hit: a bad query is refused by name, a good one answers.
    let bad_query = invoke(&webview, "search", json!({"query": "  ", "limit": 5}));
    assert_eq!(bad_query.err().unwrap_or_default()["code"], "bad_query");
    let found = invoke(&webview, "search", json!({"query": "hello", "limit": 5})).unwrap();
    assert!(found["hits"].is_array(), "{found}");
    let around = invoke(
        &webview,
        "history",
        json!({"room": "general", "around": 1, "limit": 10}),
    );
    assert!(around.is_ok_and(|v| v.is_array()));

    let snap = invoke(&webview, "snapshot", json!({})).unwrap();
    assert_eq!(snap["account"]["user"], "alice");
    assert_eq!(snap["rooms"][0]["name"], "general", "{snap}");
    assert!(
        !data.path().join("account.json").exists(),
        "not remembered: nothing on disk"
    );

    invoke(&webview, "sign_out", json!({})).unwrap();
    let snap = invoke(&webview, "snapshot", json!({})).unwrap();
    assert_eq!(snap["account"], Value::Null);
    drop(server);
}
