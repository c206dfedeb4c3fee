//! Signing out ends the login on the server even when the access token has expired: a client
//! stays connected for hours on one access token and refreshes only on reconnect.

use confab_client::{Account, Login, MemoryTokens, Profile, SignedOut};
use confab_test_support::TestServer;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn sign_out_with_an_expired_access_token_revokes_the_login() {
    let server = TestServer::start_with(|c| c.access_ttl = Duration::ZERO).await;
    let pair = server.user("gina").await;
    let refresh = pair.refresh_token.clone();
    let url = confab_client::server_url(&server.http_url("")).unwrap();
    let login = Login {
        account: Account::new(url, "gina"),
        tokens: Arc::new(MemoryTokens::new(Some(pair))),
    };
    let root = tempfile::tempdir().unwrap();
    let outcome = Profile::new(root.path()).sign_out(&login).await.unwrap();
    assert!(
        matches!(outcome, SignedOut::Revoked),
        "the server took the sign-out: {outcome:?}"
    );
    assert!(login.tokens.load().unwrap().is_none(), "tokens forgotten");
    let (status, _) = server
        .post("/api/refresh", json!({"refresh_token": refresh.expose()}))
        .await;
    assert_eq!(status, 401, "the refresh token no longer works");
}
