//! Bad input gets its documented answer, loses nothing, and leaves other clients alone.

use crate::error_code;
use confab_protocol::{ServerFrame, close};
use confab_test_support::TestServer;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn every_bad_frame_gets_its_error_and_the_connection_survives() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let mut bob = server.client("bob").await;
    alice.join("general", None).await;
    bob.join("general", None).await;

    let cases: &[(&str, &str, Option<&str>)] = &[
        ("{not json", "invalid_json", None),
        ("[1,2,3]", "invalid_json", None),
        (r#"{"type":"dance","id":"d1"}"#, "unknown_type", Some("d1")),
        (r#"{"room":"general"}"#, "bad_frame", None),
        (
            r#"{"type":"send","id":"s1","room":"general"}"#,
            "bad_frame",
            Some("s1"),
        ),
        (
            r#"{"type":"send","id":"s2","room":"elsewhere","body":"x"}"#,
            "not_joined",
            Some("s2"),
        ),
        (
            r#"{"type":"send","id":"s3","room":"Bad Room!","body":"x"}"#,
            "bad_room",
            Some("s3"),
        ),
        (r#"{"type":"join","room":"Bad Room!"}"#, "bad_room", None),
        (
            r#"{"type":"send","id":"","room":"general","body":"x"}"#,
            "bad_id",
            Some(""),
        ),
        (
            r#"{"type":"send","id":"s4","room":"general","body":"   "}"#,
            "empty_body",
            Some("s4"),
        ),
        (
            r#"{"type":"typing","room":"elsewhere"}"#,
            "not_joined",
            None,
        ),
        (
            r#"{"type":"history","room":"elsewhere"}"#,
            "not_joined",
            None,
        ),
        (r#"{"type":"auth","token":"again"}"#, "bad_frame", None),
    ];
    for (text, code, reference) in cases {
        alice.send_text(*text).await;
        let err = alice.recv_error().await;
        assert_eq!(error_code(&err), *code, "for {text}");
        if let ServerFrame::Error {
            reference: r,
            message,
            ..
        } = &err
        {
            assert_eq!(r.as_deref(), *reference, "ref for {text}");
            assert!(!message.is_empty());
        }
    }
    let long = "x".repeat(server.config.limits.max_body_bytes + 1);
    alice
        .send_json(json!({"type": "send", "id": "big", "room": "general", "body": long}))
        .await;
    assert_eq!(error_code(&alice.recv_error().await), "body_too_long");
    alice.send_raw(Message::binary(vec![1u8, 2, 3])).await;
    assert_eq!(
        error_code(&alice.recv_error().await),
        "binary_not_supported"
    );

    // Nothing bad was stored, the connection still works, and Bob only ever saw the good one.
    assert_eq!(alice.send_msg("ok", "general", "still here").await, 1);
    let first = bob
        .recv_until(|f| matches!(f, ServerFrame::Message(_)))
        .await;
    assert!(matches!(first, ServerFrame::Message(m) if m.id == "ok"));
}

#[tokio::test]
async fn oversized_frame_closes_with_1009_and_others_are_unaffected() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    let mut bob = server.client("bob").await;
    bob.join("general", None).await;
    let huge = "x".repeat(confab_protocol::limits::MAX_FRAME_BYTES + 1);
    alice
        .try_send_text(
            json!({"type": "send", "id": "h", "room": "general", "body": huge}).to_string(),
        )
        .await;
    assert_eq!(alice.closed().await.code, close::TOO_BIG);
    assert_eq!(bob.send_msg("b", "general", "fine").await, 1);
}

#[tokio::test]
async fn a_flood_gets_rate_limited_then_closed_with_1008() {
    let server = TestServer::start_with(|c| {
        c.limits.rate_burst = 5;
        c.limits.rate_per_sec = 2;
        c.limits.flood_strikes = 5;
    })
    .await;
    let mut alice = server.client("alice").await;
    let mut bob = server.client("bob").await;
    bob.join("general", None).await;
    alice.join("general", None).await;
    // 4 more frames pass (the join took one token), then the limit answers with a retry hint.
    for i in 0..30 {
        if !alice
            .try_send_text(
                json!({"type": "send", "id": format!("f{i}"), "room": "general", "body": "spam"})
                    .to_string(),
            )
            .await
        {
            break;
        }
    }
    let mut limited = 0;
    let closed = loop {
        match alice.next_frame().await {
            Ok(ServerFrame::Error {
                code, reference, ..
            }) if code.as_str() == "resend_required" => {
                // A token came back mid-flood: the send was admitted but held back behind the
                // refused ones, never stored out of order.
                assert!(reference.is_some_and(|r| r.starts_with('f')));
            }
            Ok(ServerFrame::Error {
                code,
                retry_after_ms,
                reference,
                ..
            }) => {
                assert_eq!(code.as_str(), "rate_limited");
                assert!(retry_after_ms.is_some_and(|ms| ms > 0 && ms <= 1000));
                assert!(
                    reference.is_some_and(|r| r.starts_with('f')),
                    "says which send was refused"
                );
                limited += 1;
            }
            Ok(_) => {}
            Err(closed) => break closed,
        }
    };
    assert_eq!(closed.code, close::POLICY);
    assert_eq!(
        limited, 5,
        "one rate_limited error per strike before the close"
    );

    // Bob saw exactly the sends that were acknowledged, and is still connected.
    assert_eq!(bob.send_msg("b", "general", "fine").await, 5);
    let mut seen = vec![];
    loop {
        if let ServerFrame::Message(m) = bob.recv().await {
            if m.id == "b" {
                break;
            }
            seen.push(m.id);
        }
    }
    assert_eq!(seen, ["f0", "f1", "f2", "f3"]);
}

#[tokio::test]
async fn a_full_disk_refuses_sends_without_acking_or_losing_earlier_ones() {
    let server = TestServer::start_with(|c| {
        c.max_db_bytes = Some(256 * 1024);
        c.limits.rate_burst = 10_000;
    })
    .await;
    let mut alice = server.client("alice").await;
    alice.join("general", None).await;
    let body = "z".repeat(12 * 1024);
    let mut acked = vec![];
    let failed = loop {
        let id = format!("m{}", acked.len() + 1);
        alice
            .send_json(json!({"type": "send", "id": id, "room": "general", "body": body}))
            .await;
        match alice
            .recv_until(|f| matches!(f, ServerFrame::Ack { .. } | ServerFrame::Error { .. }))
            .await
        {
            ServerFrame::Ack { seq, .. } => acked.push(seq),
            err => break err,
        }
        assert!(acked.len() < 100, "the database cap was never hit");
    };
    match failed {
        ServerFrame::Error {
            code,
            reference,
            retry_after_ms,
            ..
        } => {
            assert_eq!(code.as_str(), "storage_failed");
            assert_eq!(reference, Some(format!("m{}", acked.len() + 1)));
            assert!(retry_after_ms.is_some());
        }
        _ => unreachable!(),
    }
    assert!(!acked.is_empty());
    // Everything acknowledged is there, nothing else, and the connection still answers.
    let mut carol = server.client("carol").await;
    let (last_seq, replay) = carol.join("general", None).await;
    assert_eq!(crate::seqs(&replay), acked);
    assert_eq!(last_seq, *acked.last().unwrap_or(&0));
    alice
        .send_json(json!({"type": "history", "room": "general", "limit": 1}))
        .await;
    assert!(matches!(
        alice
            .recv_until(|f| matches!(f, ServerFrame::History { .. }))
            .await,
        ServerFrame::History { .. }
    ));
}

#[tokio::test]
async fn http_bad_input_gets_json_errors() {
    let server = TestServer::start().await;
    let http = reqwest::Client::new();
    let raw = |path: &str, body: Vec<u8>| {
        let req = http
            .post(server.http_url(path))
            .header("content-type", "application/json")
            .body(body);
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
            (status, body["code"].as_str().unwrap_or("").to_owned())
        }
    };
    assert_eq!(
        raw("/api/login", b"{nope".to_vec()).await,
        (400, "bad_request".into())
    );
    assert_eq!(
        raw("/api/login", br#"{"username":"a"}"#.to_vec()).await,
        (400, "bad_request".into())
    );
    assert_eq!(
        raw("/api/register", vec![b' '; 64 * 1024]).await,
        (413, "payload_too_large".into())
    );
    assert_eq!(
        raw("/api/nothing-here", b"{}".to_vec()).await,
        (404, "not_found".into())
    );
    assert_eq!(
        raw("/api/refresh", br#"{"refresh_token":"forged"}"#.to_vec()).await,
        (401, "invalid_token".into())
    );
}

/// Once a send is refused for now, later sends on the connection are held back, so a client
/// that resends in order can never see its messages stored out of order.
#[tokio::test]
async fn after_a_refused_send_later_sends_are_held_back_until_reconnect() {
    let server = TestServer::start_with(|c| {
        c.max_db_bytes = Some(256 * 1024);
        c.limits.rate_burst = 10_000;
    })
    .await;
    let tokens = server.user("alice").await;
    let mut alice =
        confab_test_support::WsClient::connect_authed(&server.ws_url(), &tokens.access_token).await;
    alice.join("general", None).await;
    let big = "z".repeat(12 * 1024);
    // Fill the database to its cap.
    for i in 0.. {
        alice
            .send_json(
                json!({"type": "send", "id": format!("fill{i}"), "room": "general", "body": big}),
            )
            .await;
        let answer = alice
            .recv_until(|f| matches!(f, ServerFrame::Ack { .. } | ServerFrame::Error { .. }))
            .await;
        if matches!(answer, ServerFrame::Error { .. }) {
            break;
        }
        assert!(i < 100, "the cap was never hit");
    }
    let stored_before = server.client("carol").await.join("general", None).await.0;
    // That refusal holds this connection's later sends back: start a fresh one.
    alice
        .send_json(json!({"type": "send", "id": "later", "room": "general", "body": "x"}))
        .await;
    assert_eq!(error_code(&alice.recv_error().await), "resend_required");
    let mut alice =
        confab_test_support::WsClient::connect_authed(&server.ws_url(), &tokens.access_token).await;
    alice.join("general", None).await;
    // A big one that cannot fit, then a tiny one that could: both pipelined.
    alice
        .send_json(json!({"type": "send", "id": "big", "room": "general", "body": big}))
        .await;
    alice
        .send_json(json!({"type": "send", "id": "tiny", "room": "general", "body": "x"}))
        .await;
    let first = alice.recv_error().await;
    let second = alice.recv_error().await;
    assert_eq!(error_code(&first), "storage_failed");
    // Held back, or (when both fell in the group SQLite rolled back) failed with it: either
    // way refused, and, what matters, not stored ahead of the big one.
    assert!(
        ["resend_required", "storage_failed"].contains(&error_code(&second).as_str()),
        "{second:?}"
    );
    assert!(matches!(second, ServerFrame::Error { reference: Some(ref r), .. } if r == "tiny"));
    let (last_seq, _) = server.client("dave").await.join("general", None).await;
    assert_eq!(
        last_seq, stored_before,
        "the tiny one did not jump the queue"
    );

    // A new connection starts clean.
    let mut again =
        confab_test_support::WsClient::connect_authed(&server.ws_url(), &tokens.access_token).await;
    again.join("general", None).await;
    assert_eq!(
        again.send_msg("tiny", "general", "x").await,
        stored_before + 1
    );
}

#[tokio::test]
async fn errors_never_echo_large_input_and_huge_integers_are_bad_frames() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.join("general", None).await;
    // serde's message for a wrong type quotes the value: 60 KB in, a short error out.
    let big = "x".repeat(60_000);
    alice
        .send_json(
            json!({"type": "send", "id": "s1", "room": "general", "body": "b", "reply_to": big}),
        )
        .await;
    let err = alice.recv_error().await;
    assert_eq!(error_code(&err), "bad_frame");
    let size = serde_json::to_string(&err).map_or(0, |s| s.len());
    assert!(size < 1024, "a {size}-byte error for a bad field");
    // An id longer than any id is not echoed back.
    let long_id = "i".repeat(10_000);
    alice
        .send_json(json!({"type": "dance", "id": long_id}))
        .await;
    let err = alice.recv_error().await;
    assert_eq!(error_code(&err), "unknown_type");
    assert!(
        matches!(
            err,
            ServerFrame::Error {
                reference: None,
                ..
            }
        ),
        "{err:?}"
    );
    // Integers above 2^53 - 1 are refused where the frame is read, everywhere one is taken,
    // and the connection stays open (before: 1011 and an ERROR in the log).
    for frame in [
        json!({"type": "history", "room": "general", "before": 9_223_372_036_854_775_808u64}),
        json!({"type": "history", "room": "general", "around": 9_007_199_254_740_992u64}),
        json!({"type": "join", "room": "general", "after": 9_007_199_254_740_992u64}),
        json!({"type": "read", "room": "general", "seq": 18_446_744_073_709_551_615u64}),
        json!({"type": "react", "id": "r1", "room": "general", "target": 9_007_199_254_740_992u64, "emoji": "👍", "on": true}),
        json!({"type": "search", "ref": "q1", "query": "x", "before": 9_007_199_254_740_992u64}),
    ] {
        alice.send_json(frame.clone()).await;
        let err = alice.recv_error().await;
        assert_eq!(error_code(&err), "bad_frame", "{frame}");
    }
    // The largest safe integer is an integer like any other.
    alice
        .send_json(
            json!({"type": "history", "room": "general", "before": 9_007_199_254_740_991u64}),
        )
        .await;
    assert!(matches!(
        alice
            .recv_until(|f| matches!(f, ServerFrame::History { .. } | ServerFrame::Error { .. }))
            .await,
        ServerFrame::History { .. }
    ));
    assert_eq!(alice.send_msg("ok", "general", "still here").await, 1);
}
