//! Documented limits that had no test of their own (docs/reliability.md listed them): each one,
//! reached, gets the answer docs/protocol.md gives, and nothing else breaks.

use crate::error_code;
use confab_protocol::ServerFrame;
use confab_server::store::RegistrationPolicy;
use confab_test_support::{TestServer, WsClient};
use serde_json::json;
use std::time::Duration;

/// The room past `max_rooms_per_connection` is refused with `bad_room`; the joined ones work.
#[tokio::test]
async fn joining_more_rooms_than_a_connection_may_is_bad_room() {
    let server = TestServer::start_with(|c| c.limits.max_rooms_per_connection = 3).await;
    let mut alice = server.client("alice").await;
    for room in ["general", "ops", "random"] {
        alice.join(room, None).await;
    }
    alice
        .send_json(json!({"type": "join", "room": "one-more"}))
        .await;
    match alice.recv_error().await {
        ServerFrame::Error { code, .. } => assert_eq!(code.as_str(), "bad_room"),
        other => panic!("{other:?}"),
    }
    assert_eq!(alice.send_msg("m1", "ops", "still fine").await, 1);
}

/// An id over 128 bytes is `bad_id`, and is not echoed back as a `ref`.
#[tokio::test]
async fn an_id_over_128_bytes_is_bad_id() {
    let server = TestServer::start().await;
    let mut alice = server.client("alice").await;
    alice.join("general", None).await;
    let long = "i".repeat(129);
    alice
        .send_json(json!({"type": "send", "id": long, "room": "general", "body": "x"}))
        .await;
    let err = alice.recv_error().await;
    assert_eq!(error_code(&err), "bad_id");
    assert!(
        matches!(
            err,
            ServerFrame::Error {
                reference: None,
                ..
            }
        ),
        "an id longer than any id is not echoed: {err:?}"
    );
    let ok = "i".repeat(128);
    assert_eq!(alice.send_msg(&ok, "general", "fits").await, 1);
}

/// A refresh token past its lifetime is `401 invalid_token` (not `token_reused`).
#[tokio::test]
async fn an_expired_refresh_token_is_invalid_token() {
    let server = TestServer::start_with(|c| c.refresh_ttl = Duration::ZERO).await;
    let pair = server.user("alice").await;
    let (status, body) = server
        .post(
            "/api/refresh",
            json!({"refresh_token": pair.refresh_token.expose()}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_token"))
    );
}

/// Names past their lengths: a username over 32 bytes cannot register, a display name over 64
/// characters cannot be set.
#[tokio::test]
async fn names_over_their_lengths_are_refused() {
    let server = TestServer::start().await;
    let (status, body) = server
        .post(
            "/api/register",
            json!({"username": "a".repeat(33), "password": "long-enough-password"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_credentials_format"))
    );
    let (status, _) = server
        .post(
            "/api/register",
            json!({"username": "a".repeat(32), "password": "long-enough-password"}),
        )
        .await;
    assert_eq!(status, 201, "32 bytes is a name");

    let token = server.user("alice").await.access_token;
    let patch = |name: String| {
        reqwest::Client::new()
            .patch(server.http_url("/api/me"))
            .bearer_auth(token.expose())
            .json(&json!({"display_name": name}))
            .send()
    };
    let resp = patch("é".repeat(65)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    assert_eq!(body["code"], "bad_request");
    let resp = patch("é".repeat(64)).await.unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "64 characters (128 bytes) is a name"
    );
}

/// An invite's `expires_in` outside 1–31,536,000 seconds is `400 bad_request`.
#[tokio::test]
async fn an_invite_lifetime_out_of_range_is_bad_request() {
    let server = TestServer::start_with(|c| c.registration = RegistrationPolicy::Invite).await;
    let admin = server.user("root").await.access_token;
    for expires_in in [0, 31_536_001] {
        let body = json!({"uses": 1, "expires_in": expires_in});
        let (status, answer) = server.post_as(&admin, "/api/invites", body).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("bad_request")),
            "expires_in {expires_in}"
        );
    }
    let body = json!({"uses": 1, "expires_in": 31_536_000});
    assert_eq!(server.post_as(&admin, "/api/invites", body).await.0, 201);
}

/// An account's seats are taken when a connection authenticates, not at the upgrade: sockets
/// that never authenticate (the auth timeout cuts them) cannot lock the account out.
#[tokio::test]
async fn unauthenticated_sockets_do_not_take_an_accounts_seats() {
    let server = TestServer::start_with(|c| c.limits.max_connections_per_user = 1).await;
    let tokens = server.user("alice").await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(WsClient::connect(&server.ws_url()).await);
    }
    WsClient::connect_authed(&server.ws_url(), &tokens.access_token).await;
}
