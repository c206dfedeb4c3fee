//! A raw protocol client: JSON frames in, [`ServerFrame`]s out, every wait with a deadline.

use crate::DEADLINE;
use confab_protocol::{MessageData, Secret, ServerFrame};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How the server ended a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub code: u16,
    pub reason: String,
}

/// One WebSocket connection. Frames skipped by [`WsClient::recv_until`] are kept, in order, and
/// handed out by later calls, so helpers can be combined without losing frames.
#[derive(Debug)]
pub struct WsClient {
    ws: Ws,
    backlog: std::collections::VecDeque<ServerFrame>,
}

impl WsClient {
    /// Opens `/ws` without authenticating.
    pub async fn connect(url: &str) -> Self {
        let (ws, _) = connect_async(url)
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e}"));
        Self::from_stream(ws)
    }

    /// Wraps an already upgraded stream (e.g. over TLS).
    pub fn from_stream(ws: Ws) -> Self {
        Self {
            ws,
            backlog: Default::default(),
        }
    }

    /// Opens `/ws` with extra request headers (e.g. `Origin`, `Authorization`), returning the
    /// HTTP status of a refused upgrade as `Err`.
    pub async fn connect_with(url: &str, headers: &[(&str, &str)]) -> Result<Self, u16> {
        let mut req = url
            .into_client_request()
            .unwrap_or_else(|e| panic!("request: {e}"));
        for (k, v) in headers {
            let name: tokio_tungstenite::tungstenite::http::HeaderName =
                k.parse().unwrap_or_else(|e| panic!("header name: {e}"));
            req.headers_mut().insert(
                name,
                v.parse().unwrap_or_else(|e| panic!("header value: {e}")),
            );
        }
        match connect_async(req).await {
            Ok((ws, _)) => Ok(Self::from_stream(ws)),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
            Err(e) => panic!("connect: {e}"),
        }
    }

    /// Like [`WsClient::connect_authed`], over a socket with a tiny receive buffer, so a client
    /// that stops reading makes the server's writes block quickly (a slow reader).
    pub async fn connect_authed_small_buffer(addr: std::net::SocketAddr, token: &Secret) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap_or_else(|e| panic!("socket: {e}"));
        socket
            .set_recv_buffer_size(4096)
            .unwrap_or_else(|e| panic!("SO_RCVBUF: {e}"));
        let tcp = socket
            .connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        let url = format!("ws://{addr}/ws");
        let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp))
            .await
            .unwrap_or_else(|e| panic!("upgrade: {e}"));
        let mut c = Self::from_stream(ws);
        c.send_json(json!({"type": "auth", "token": token.expose()}))
            .await;
        match c.recv().await {
            ServerFrame::Ready { .. } => c,
            other => panic!("expected ready, got {other:?}"),
        }
    }

    /// Connects, sends `auth` and waits for `ready`.
    pub async fn connect_authed(url: &str, token: &Secret) -> Self {
        let mut c = Self::connect(url).await;
        c.send_json(json!({"type": "auth", "token": token.expose()}))
            .await;
        match c.recv().await {
            ServerFrame::Ready { .. } => c,
            other => panic!("expected ready, got {other:?}"),
        }
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        let text: String = text.into();
        self.ws
            .send(Message::text(text))
            .await
            .unwrap_or_else(|e| panic!("send: {e}"));
    }

    /// Sends a frame, ignoring a failure because the server already closed (the next `recv`
    /// or `closed` reports what happened).
    pub async fn try_send_text(&mut self, text: impl Into<String>) -> bool {
        let text: String = text.into();
        self.ws.send(Message::text(text)).await.is_ok()
    }

    pub async fn send_raw(&mut self, msg: Message) {
        self.ws
            .send(msg)
            .await
            .unwrap_or_else(|e| panic!("send: {e}"));
    }

    pub async fn send_json(&mut self, value: serde_json::Value) {
        self.send_text(value.to_string()).await;
    }

    /// The next frame; fails on close or after the deadline. Pings are answered by tungstenite.
    pub async fn recv(&mut self) -> ServerFrame {
        match self.next_frame().await {
            Ok(frame) => frame,
            Err(closed) => panic!("connection closed while waiting for a frame: {closed:?}"),
        }
    }

    /// The next frame, or how the connection was closed.
    pub async fn next_frame(&mut self) -> Result<ServerFrame, Closed> {
        if let Some(frame) = self.backlog.pop_front() {
            return Ok(frame);
        }
        loop {
            let msg = tokio::time::timeout(DEADLINE, self.ws.next()).await;
            let msg = msg.unwrap_or_else(|_| panic!("no frame within {DEADLINE:?}"));
            match msg {
                Some(Ok(Message::Text(t))) => {
                    return Ok(
                        serde_json::from_str(&t).unwrap_or_else(|e| panic!("bad frame {t}: {e}"))
                    );
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Err(Closed { code, reason });
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => {
                    return Err(Closed {
                        code: 1006,
                        reason: String::new(),
                    });
                }
            }
        }
    }

    /// Frames until one matches `pred`, which is returned; others are skipped.
    pub async fn recv_until(&mut self, mut pred: impl FnMut(&ServerFrame) -> bool) -> ServerFrame {
        if let Some(i) = self.backlog.iter().position(&mut pred)
            && let Some(f) = self.backlog.remove(i)
        {
            return f;
        }
        let mut skipped = vec![];
        loop {
            let f = match self.next_unbuffered().await {
                Ok(f) => f,
                Err(closed) => panic!("connection closed while waiting for a frame: {closed:?}"),
            };
            if pred(&f) {
                self.backlog.extend(skipped);
                return f;
            }
            skipped.push(f);
        }
    }

    async fn next_unbuffered(&mut self) -> Result<ServerFrame, Closed> {
        let backlog = std::mem::take(&mut self.backlog);
        let result = self.next_frame().await;
        self.backlog = backlog;
        result
    }

    /// Waits for the server to close, skipping frames; returns the close code and reason.
    pub async fn closed(&mut self) -> Closed {
        loop {
            if let Err(closed) = self.next_frame().await {
                return closed;
            }
        }
    }

    /// Joins `room` and collects the replay up to the last `synced` with `more: false`.
    /// Returns `(last_seq, replayed messages)`.
    pub async fn join(&mut self, room: &str, after: Option<u64>) -> (u64, Vec<MessageData>) {
        let mut frame = json!({"type": "join", "room": room});
        if let Some(after) = after {
            frame["after"] = after.into();
        }
        self.send_json(frame).await;
        let last_seq = match self
            .recv_until(|f| matches!(f, ServerFrame::Joined { .. }))
            .await
        {
            ServerFrame::Joined { last_seq, .. } => last_seq,
            _ => unreachable!(),
        };
        let mut messages = vec![];
        loop {
            match self.recv().await {
                ServerFrame::Message(m) if m.room == room => messages.push(m),
                ServerFrame::Synced { more: false, .. } => return (last_seq, messages),
                _ => {}
            }
        }
    }

    /// Sends a message and waits for its ack; returns the seq.
    pub async fn send_msg(&mut self, id: &str, room: &str, body: &str) -> u64 {
        self.send_json(json!({"type": "send", "id": id, "room": room, "body": body}))
            .await;
        match self
            .recv_until(|f| {
                matches!(f, ServerFrame::Ack { id: a, .. } if a == id)
                    || matches!(f, ServerFrame::Error { .. })
            })
            .await
        {
            ServerFrame::Ack { seq, .. } => seq,
            other => panic!("send {id}: expected ack, got {other:?}"),
        }
    }

    /// Waits for the `message` frame with this id.
    pub async fn recv_message(&mut self, id: &str) -> MessageData {
        match self
            .recv_until(|f| matches!(f, ServerFrame::Message(m) if m.id == id))
            .await
        {
            ServerFrame::Message(m) => m,
            _ => unreachable!(),
        }
    }

    /// Forgets frames skipped so far, so later waits only see what arrives from now on.
    pub fn forget_skipped(&mut self) {
        self.backlog.clear();
    }

    /// Waits for the next `error` frame and returns it.
    pub async fn recv_error(&mut self) -> ServerFrame {
        self.recv_until(|f| matches!(f, ServerFrame::Error { .. }))
            .await
    }

    /// Closes the connection normally.
    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}
