//! Committed messages on their way out: to this node's members, then to the other nodes.

use crate::cluster::Cluster;
use crate::rooms::{Hub, text};
use confab_protocol::{MessageData, ServerFrame};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Committed messages that may wait for the fan-out before the store waits for it.
pub(crate) const PUBLISH_QUEUE: usize = 4096;

/// Fans committed messages out, in the order the store committed them, from one runtime task
/// until the store drops its sender. The SQLite backend commits on a thread of its own; fanning
/// out there woke every member's writer from outside the runtime — a cross-thread wake-up
/// (futex, eventfd) per delivery; from a worker thread a wake-up is a push onto its run queue.
/// With several nodes, each message then rings the others' doorbell.
pub(crate) fn start(
    hub: Arc<Hub>,
    mut committed: mpsc::Receiver<MessageData>,
    cluster: Option<Cluster>,
) {
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(64);
        while committed.recv_many(&mut batch, 64).await > 0 {
            for m in batch.drain(..) {
                let (room, seq) = (m.room.clone(), m.seq);
                let frame = text(&ServerFrame::Message(m));
                hub.publish(&room, seq, &frame);
                if let Some(cluster) = &cluster {
                    cluster.message(&room, seq, &frame);
                }
            }
        }
    });
}
