//! Committed stream entries on their way out: to this node's members, then to the other nodes.

use crate::cluster::Cluster;
use crate::rooms::{Hub, text};
use crate::store::membership::Committed;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Committed entries that may wait for the fan-out before the store waits for it.
pub(crate) const PUBLISH_QUEUE: usize = 4096;

/// Fans committed entries out, in the order the store committed them, from one runtime task
/// until the store drops its sender. The SQLite backend commits on a thread of its own; fanning
/// out there woke every member's writer from outside the runtime — a cross-thread wake-up
/// (futex, eventfd) per delivery; from a worker thread a wake-up is a push onto its run queue.
/// With several nodes, each entry then rings the others' doorbell.
///
/// A membership change may come with a notice for the user it is about (`room_added`,
/// `room_removed`); it goes out after the entry, so a removed member's connections hear of the
/// removal only once the room has stopped reaching them.
pub(crate) fn start(
    hub: Arc<Hub>,
    mut committed: mpsc::Receiver<Committed>,
    cluster: Option<Cluster>,
) {
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(64);
        while committed.recv_many(&mut batch, 64).await > 0 {
            for Committed { event, notice } in batch.drain(..) {
                let (room, seq) = (event.room().to_owned(), event.seq());
                let removes = event.removes().map(str::to_owned);
                let frame = text(&event.into_frame());
                let left = hub.publish(&room, seq, &frame, removes.as_deref());
                if left {
                    hub.announce_presence(&room);
                }
                if let Some(cluster) = &cluster {
                    cluster.message(&room, seq, &frame);
                    if let (true, Some(user)) = (left, &removes) {
                        cluster.presence(&room, user, false);
                    }
                }
                if let Some(notice) = notice {
                    let frame = text(&notice.frame);
                    hub.to_user(&notice.user, &frame);
                    if let Some(cluster) = &cluster {
                        cluster.user(&notice.user, &frame);
                    }
                }
            }
        }
    });
}
