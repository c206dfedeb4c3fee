//! More answers docs/protocol.md documents that no test checked (docs/reliability.md listed
//! them): each request gets its documented answer over the wire, and the connection goes on.

use crate::error_code;
use confab_protocol::ServerFrame;
use confab_test_support::TestServer;
use serde_json::json;

/// A server that takes a few hundred frames in a burst (these tests fill a room first).
async fn roomy() -> TestServer {
    TestServer::start_with(|c| c.limits.rate_burst = 10_000).await
}

#[tokio::test]
async fn leaving_a_room_not_joined_is_not_joined() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice
        .send_json(json!({"type": "leave", "room": "general"}))
        .await;
    assert_eq!(error_code(&alice.recv_error().await), "not_joined");
    alice.join("general", None).await;
    assert_eq!(alice.send_msg("m1", "general", "still here").await, 1);
}

#[tokio::test]
async fn a_reply_edit_or_delete_aimed_at_no_message_is_bad_target_with_ref() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.join("general", None).await;
    assert_eq!(alice.send_msg("m1", "general", "the one message").await, 1);
    let frames = [
        json!({"type": "send", "id": "r1", "room": "general", "body": "re", "reply_to": 7}),
        json!({"type": "edit", "id": "e1", "room": "general", "target": 7, "body": "x"}),
        json!({"type": "delete", "id": "d1", "room": "general", "target": 7}),
    ];
    for frame in frames {
        let id = frame["id"].as_str().unwrap_or_default().to_owned();
        alice.send_json(frame).await;
        match alice.recv_error().await {
            ServerFrame::Error {
                code, reference, ..
            } => {
                assert_eq!(code.as_str(), "bad_target", "{id}");
                assert_eq!(reference.as_deref(), Some(id.as_str()));
            }
            other => panic!("{other:?}"),
        }
    }
    // Nothing of it was stored: the next message is seq 2.
    assert_eq!(alice.send_msg("m2", "general", "next").await, 2);
}

#[tokio::test]
async fn kicking_someone_who_is_not_a_member_is_not_member() {
    let server = TestServer::start().await;
    server.register("bob").await;
    let mut alice = server.client("alice").await;
    alice
        .send_json(json!({"type": "create", "room": "ops", "visibility": "private"}))
        .await;
    alice
        .recv_until(|f| matches!(f, ServerFrame::Synced { .. }))
        .await;
    alice
        .send_json(json!({"type": "kick", "room": "ops", "user": "bob"}))
        .await;
    assert_eq!(error_code(&alice.recv_error().await), "not_member");
    alice
        .send_json(json!({"type": "kick", "room": "ops", "user": "nobody-here"}))
        .await;
    assert_eq!(error_code(&alice.recv_error().await), "no_such_user");
}

#[tokio::test]
async fn history_pages_are_clamped_to_200() {
    let server = roomy().await;
    let mut alice = server.client("alice").await;
    alice.join("general", None).await;
    for i in 1..=205 {
        alice.send_msg(&format!("m{i}"), "general", "x").await;
    }
    alice
        .send_json(json!({"type": "history", "room": "general", "limit": 1000}))
        .await;
    match alice
        .recv_until(|f| matches!(f, ServerFrame::History { .. }))
        .await
    {
        ServerFrame::History { messages, .. } => {
            assert_eq!(messages.len(), 200, "clamped, not refused and not all");
            assert_eq!(messages.last().map(|m| m.seq), Some(205), "the newest page");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn search_pages_are_clamped_to_50_hits() {
    let server = roomy().await;
    let mut alice = server.client("alice").await;
    alice.join("general", None).await;
    for i in 1..=55 {
        alice
            .send_msg(&format!("m{i}"), "general", &format!("needle {i}"))
            .await;
    }
    alice
        .send_json(json!({"type": "search", "ref": "s1", "query": "needle", "limit": 500}))
        .await;
    match alice
        .recv_until(|f| matches!(f, ServerFrame::SearchResults { .. }))
        .await
    {
        ServerFrame::SearchResults { hits, more, .. } => {
            assert_eq!(hits.len(), 50);
            assert!(more, "the rest is on the next page");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn more_than_ten_attachments_are_bad_attachment() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.join("general", None).await;
    let file = |i: usize| json!({"file_id": format!("f{i}"), "name": "a.txt", "size": 1, "mime": "text/plain"});
    let eleven: Vec<_> = (0..11).map(file).collect();
    alice
        .send_json(json!({"type": "send", "id": "m1", "room": "general", "body": "", "attachments": eleven}))
        .await;
    match alice.recv_error().await {
        ServerFrame::Error {
            code, reference, ..
        } => {
            assert_eq!(code.as_str(), "bad_attachment");
            assert_eq!(reference.as_deref(), Some("m1"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(alice.send_msg("m2", "general", "text only").await, 1);
}

#[tokio::test]
async fn registrations_from_one_address_are_throttled_with_retry_after() {
    let server = TestServer::start_with(|c| {
        c.limits.login_burst_per_ip = 2;
        c.limits.login_per_sec_per_ip = 0.01;
        c.limits.cap_loopback = true;
    })
    .await;
    let http = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 4]))
        .build()
        .unwrap();
    let mut answers = vec![];
    for i in 0..3 {
        let resp = http
            .post(server.http_url("/api/register"))
            .json(&json!({"username": format!("newcomer{i}"), "password": "a good long password"}))
            .send()
            .await
            .unwrap();
        let retry = resp.headers().get("retry-after").is_some();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let field = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
        answers.push((status, retry, field("code"), field("message")));
    }
    assert_eq!(answers[0].0, 201, "{answers:?}");
    assert_eq!(answers[1].0, 201, "{answers:?}");
    let (status, retry, code, message) = &answers[2];
    assert_eq!(
        (*status, *retry, code.as_str()),
        (429, true, "rate_limited")
    );
    assert!(
        !message.contains("failed"),
        "a registration is no failed attempt: {message}"
    );
}
