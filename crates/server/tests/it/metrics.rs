//! `GET /metrics` (on its own listener) counts what users did, in the Prometheus text format.

use confab_protocol::ServerFrame;
use confab_test_support::{TestServer, WsClient};
use serde_json::json;

/// The value of one sample line (`name{labels} value`), 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_sends_dedup_resumes_and_refused_sign_ins() {
    let server = TestServer::start().await;
    let tokens = server.user("alice").await;
    let (status, _) = server
        .post(
            "/api/login",
            json!({"username": "alice", "password": "wrong password"}),
        )
        .await;
    assert_eq!(status, 401);
    let mut alice = WsClient::connect_authed(&server.ws_url(), &tokens.access_token).await;
    alice.join("general", None).await;
    let seq = alice.send_msg("m-1", "general", "one").await;
    alice.send_msg("m-2", "general", "two").await;
    assert_eq!(alice.send_msg("m-1", "general", "one").await, seq);
    let mut again = WsClient::connect_authed(&server.ws_url(), &tokens.access_token).await;
    again.join("general", Some(1)).await;
    let mut stranger = WsClient::connect(&server.ws_url()).await;
    stranger
        .send_json(json!({"type": "auth", "token": "not-a-token"}))
        .await;
    stranger.closed().await;
    // The last message was delivered to `again` live or by replay; either way counted.
    alice
        .recv_until(|f| matches!(f, ServerFrame::Message(m) if m.id == "m-2"))
        .await;

    let text = server.metrics().await;
    assert_eq!(
        sample(&text, r#"confab_sends_total{result="stored"}"#),
        2.0,
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"confab_sends_total{result="duplicate"}"#),
        1.0
    );
    assert_eq!(
        sample(&text, r#"confab_auth_failures_total{reason="password"}"#),
        1.0
    );
    assert_eq!(
        sample(&text, r#"confab_auth_failures_total{reason="token"}"#),
        1.0
    );
    assert_eq!(sample(&text, r#"confab_sessions{state="open"}"#), 2.0);
    assert_eq!(sample(&text, "confab_resumes_total"), 1.0);
    assert_eq!(
        sample(&text, "confab_replayed_messages_total"),
        1.0,
        "m-2 after seq 1"
    );
    assert!(sample(&text, "confab_deliveries_total") >= 3.0);
    assert_eq!(
        sample(&text, r#"confab_store_latency_seconds_count{op="send"}"#),
        3.0
    );
    assert!(sample(&text, "confab_connections") >= 2.0);
}
