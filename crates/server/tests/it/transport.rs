//! The transport edge: handshake deadlines, the Origin allowlist and TLS.

use confab_protocol::ServerFrame;
use confab_test_support::{DEADLINE, TestServer, WsClient};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// Reads until the server closes the socket; fails the test if it never does.
async fn server_hangs_up(mut tcp: TcpStream) {
    let mut buf = [0u8; 1024];
    let wait = async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .unwrap_or_else(|_| panic!("the server kept the socket open"));
}

#[tokio::test]
async fn half_sent_or_silent_handshakes_are_cut() {
    let server =
        TestServer::start_with(|c| c.limits.handshake_timeout = Duration::from_millis(300)).await;
    let silent = TcpStream::connect(server.addr).await.unwrap();
    let mut partial = TcpStream::connect(server.addr).await.unwrap();
    partial
        .write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        .await
        .unwrap();
    tokio::join!(server_hangs_up(silent), server_hangs_up(partial));
    // A well-behaved client right after is served normally.
    server.client("alice").await;
}

#[tokio::test]
async fn foreign_origins_are_refused_and_native_clients_allowed() {
    let server =
        TestServer::start_with(|c| c.allowed_origins = vec!["https://chat.example.org".into()])
            .await;
    let tokens = server.user("alice").await;
    let url = server.ws_url();

    assert_eq!(
        WsClient::connect_with(&url, &[("origin", "https://evil.example")])
            .await
            .err(),
        Some(403)
    );
    let bearer = format!("Bearer {}", tokens.access_token.expose());
    let mut ok = WsClient::connect_with(
        &url,
        &[
            ("origin", "https://chat.example.org"),
            ("authorization", &bearer),
        ],
    )
    .await
    .unwrap_or_else(|s| panic!("allowed origin refused: {s}"));
    assert!(matches!(ok.recv().await, ServerFrame::Ready { .. }));
    WsClient::connect_authed(&url, &tokens.access_token).await; // no Origin: a native client

    let resp = reqwest::Client::new()
        .post(server.http_url("/api/login"))
        .header("origin", "https://evil.example")
        .json(&json!({"username": "alice", "password": "password-of-alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    assert_eq!(body["code"], "origin_not_allowed");
}

#[tokio::test]
async fn wss_works_with_a_certificate() {
    let cert = confab_test_support::TestCert::localhost();
    let files = cert.files.clone();
    let server = TestServer::start_with(|c| c.tls = Some(files)).await;

    // HTTPS login.
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.pem.as_bytes()).unwrap())
        .resolve("localhost", server.addr)
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", server.addr.port());
    let creds = json!({"username": "alice", "password": "password-of-alice"});
    let reg = http
        .post(format!("{base}/api/register"))
        .json(&creds)
        .send()
        .await
        .unwrap();
    assert_eq!(reg.status().as_u16(), 201);
    let pair: confab_protocol::api::TokenPair = http
        .post(format!("{base}/api/login"))
        .json(&creds)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // wss:// over a rustls client that trusts only this certificate.
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(cert.der.clone()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    let (mut ws, _) =
        tokio_tungstenite::client_async(format!("wss://localhost:{}/ws", server.addr.port()), tls)
            .await
            .unwrap();
    let auth = json!({"type": "auth", "token": pair.access_token.expose()}).to_string();
    ws.send(Message::text(auth)).await.unwrap();
    let reply = tokio::time::timeout(DEADLINE, ws.next())
        .await
        .ok()
        .flatten();
    let Some(Ok(Message::Text(text))) = reply else {
        panic!("no reply over wss: {reply:?}")
    };
    let ready: ServerFrame = serde_json::from_str(&text).unwrap();
    assert!(
        matches!(ready, ServerFrame::Ready { ref user, .. } if user == "alice"),
        "{ready:?}"
    );

    // A plain-text client gets nothing from a TLS-only server.
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    server_hangs_up(plain).await;
}

#[tokio::test]
async fn a_dribbled_request_body_is_cut() {
    let server =
        TestServer::start_with(|c| c.limits.request_timeout = Duration::from_millis(300)).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = async {
        let mut buf = [0u8; 1024];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                        return;
                    }
                }
            }
        }
    };
    tokio::time::timeout(DEADLINE, read)
        .await
        .unwrap_or_else(|_| panic!("the request was never cut"));
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_and_others_keep_working() {
    let server = TestServer::start_with(|c| c.limits.max_connections = 2).await;
    let tokens = server.user("alice").await;
    let mut first = WsClient::connect_authed(&server.ws_url(), &tokens.access_token).await;
    let _second = WsClient::connect_authed(&server.ws_url(), &tokens.access_token).await;
    assert_eq!(
        WsClient::connect_with(&server.ws_url(), &[]).await.err(),
        Some(503)
    );
    first.join("general", None).await;
    assert_eq!(first.send_msg("ok", "general", "still fine").await, 1);
}

#[tokio::test]
async fn health_and_readiness_answer_for_load_balancers() {
    let server = TestServer::start().await;
    let health = reqwest::get(server.http_url("/healthz")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let ready = reqwest::get(server.http_url("/readyz")).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["database"], true);
    assert!(body["pubsub"].is_null(), "one node: no pub/sub to wait for");
}
