//! A page of history, read by the writer: older than a seq (scrollback), newer than one (back
//! down after a jump), or around one (a jump to a search hit), bounded in bytes.

use crate::AppState;
use crate::metrics::StoreOp;
use crate::rooms::HistoryPage;
use confab_protocol::{MessageData, ServerFrame, limits};

/// Reads the page and makes its `history` frame.
pub(super) async fn read(
    state: &AppState,
    user: &str,
    room: &str,
    page: HistoryPage,
    limit: usize,
) -> crate::Result<ServerFrame> {
    let started = std::time::Instant::now();
    let store = &state.store;
    let (mut messages, mut more, mut newer) = match page {
        HistoryPage::Before(before) => {
            let (m, more) = store.before(room, before, limit, user).await?;
            (m, more, false)
        }
        HistoryPage::After(after) => {
            let (m, newer) = store.newer(room, after, limit, user).await?;
            (m, false, newer)
        }
        // The message itself and the older half, then the newer half.
        HistoryPage::Around(seq) => {
            let older = limit - limit / 2;
            let (mut m, more) = store
                .before(room, seq.saturating_add(1), older, user)
                .await?;
            let (after, newer) = store.newer(room, seq, limit / 2, user).await?;
            m.extend(after);
            (m, more, newer)
        }
    };
    state.metrics.store(StoreOp::History, started.elapsed());
    // Keep a page to a bounded size: drop from the far end (the oldest; the newest of a page
    // going down), and say more exist there.
    let cut = |messages: &mut Vec<MessageData>, from_oldest: bool| {
        let mut bytes = 0;
        let mut over = |m: &MessageData| {
            bytes += m.body.len() + m.id.len() + 64;
            bytes > limits::HISTORY_MAX_BYTES
        };
        if from_oldest {
            let keep = messages.iter().rev().position(&mut over)?;
            messages.drain(..messages.len() - keep.max(1));
        } else {
            let keep = messages.iter().position(&mut over)?;
            messages.truncate(keep.max(1));
        }
        Some(())
    };
    match page {
        HistoryPage::After(_) => newer |= cut(&mut messages, false).is_some(),
        _ => more |= cut(&mut messages, true).is_some(),
    }
    Ok(ServerFrame::History {
        room: room.to_owned(),
        messages,
        more,
        newer,
    })
}
