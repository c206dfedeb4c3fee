//! Integration tests of confab-server over real sockets on 127.0.0.1:0, on real SQLite — or on
//! a real PostgreSQL when `CONFAB_TEST_POSTGRES` names a cluster (scripts/test.sh runs them
//! both ways). One test binary for the whole crate keeps link time down.

mod admin;
mod auth;
mod bad_input;
mod changes;
mod chat;
mod cluster;
mod conversations;
mod documented;
mod files;
mod flood;
mod lifecycle;
mod limits;
mod metrics;
mod nodes;
mod registration;
mod resume;
mod search;
mod transport;
mod updates;

use confab_protocol::ServerFrame;

/// The seqs of a list of message frames.
pub fn seqs(frames: &[confab_protocol::MessageData]) -> Vec<u64> {
    frames.iter().map(|m| m.seq).collect()
}

/// The `code` of an error frame, as its wire string.
pub fn error_code(frame: &ServerFrame) -> String {
    match frame {
        ServerFrame::Error { code, .. } => code.as_str().to_owned(),
        other => panic!("expected an error frame, got {other:?}"),
    }
}

/// Has `owner` create the private room `room` and invite `member` into it.
pub async fn private_room(owner: &mut confab_test_support::WsClient, room: &str, member: &str) {
    owner
        .send_json(serde_json::json!({"type": "create", "room": room, "visibility": "private"}))
        .await;
    owner
        .recv_until(|f| matches!(f, ServerFrame::Synced { room: r, more: false, .. } if r == room))
        .await;
    owner
        .send_json(serde_json::json!({"type": "invite", "room": room, "user": member}))
        .await;
    owner
        .recv_until(|f| matches!(f, ServerFrame::Invited { .. }))
        .await;
}
