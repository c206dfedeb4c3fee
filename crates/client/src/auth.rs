//! The handshake on a fresh socket: send `auth`, wait for `ready` or the server's close.

use crate::transport::Ws;
use confab_protocol::ServerFrame;
use confab_protocol::api::TokenPair;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

/// What `ready` said: who we are and the limits the server applies.
#[derive(Debug)]
pub(crate) struct Ready {
    pub(crate) user: String,
    pub(crate) max_body_bytes: usize,
    pub(crate) rate_burst: u32,
    pub(crate) rate_per_sec: u32,
    pub(crate) max_file_bytes: u64,
}

pub(crate) enum Handshake {
    Ready(Box<Ws>, Ready),
    /// The server closed with this code and reason (4001: the token was refused).
    Closed(u16, String),
    Failed(String),
}

/// Sends `auth` and waits, at most `limit`, for `ready` (or the server's close).
pub(crate) async fn authenticate(mut ws: Ws, pair: &TokenPair, limit: Duration) -> Handshake {
    let frame =
        serde_json::json!({"type": "auth", "token": pair.access_token.expose()}).to_string();
    if let Err(e) = ws.send(Message::text(frame)).await {
        return Handshake::Failed(e.to_string());
    }
    let wait = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<ServerFrame>(&t) {
                    Ok(ServerFrame::Ready {
                        user,
                        rate_burst,
                        rate_per_sec,
                        max_body_bytes,
                        max_file_bytes,
                        ..
                    }) => {
                        return Ok(Ready {
                            user,
                            max_body_bytes,
                            rate_burst,
                            rate_per_sec,
                            max_file_bytes,
                        });
                    }
                    _ => continue,
                },
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Err(Handshake::Closed(code, reason));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(Handshake::Failed(e.to_string())),
                None => return Err(Handshake::Failed("connection closed".into())),
            }
        }
    };
    match timeout(limit, wait).await {
        Ok(Ok(ready)) => Handshake::Ready(Box::new(ws), ready),
        Ok(Err(failed)) => failed,
        Err(_) => Handshake::Failed("no answer to auth".into()),
    }
}
