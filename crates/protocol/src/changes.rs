//! Messages that change: edits, deletions and reactions, each an entry of the room's seq stream
//! with its own client id (so resending it is harmless, as for `send`), aimed at a `target`
//! message by its seq.

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// `edit`: the target message's new body. `body` is absent in a replay once the target has
/// been deleted: deleted text is never sent again, not even an edit of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EditEvent {
    pub room: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seq: u64,
    pub id: String,
    pub author: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub ts: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub target: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub body: Option<String>,
}

/// `delete`: the target message is gone; its text is no longer served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DeleteEvent {
    pub room: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seq: u64,
    pub id: String,
    pub author: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub ts: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub target: u64,
}

/// `react`: `author` added (`on`) or took back a reaction with `emoji`. A user's reaction with
/// one emoji on one message is a set member: adding it twice changes nothing visible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReactEvent {
    pub room: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seq: u64,
    pub id: String,
    pub author: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub ts: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub target: u64,
    pub emoji: String,
    pub on: bool,
}

/// Longest emoji in bytes (a family or a flag with modifiers fits).
pub const MAX_EMOJI_BYTES: usize = 32;

/// A reaction: exactly one grapheme of at most 32 bytes that starts with a pictograph or symbol
/// (so `a`, `é`, `:)` and anything of two characters are refused).
pub fn valid_emoji(emoji: &str) -> bool {
    let mut graphemes = emoji.graphemes(true);
    let one = graphemes.next().is_some() && graphemes.next().is_none();
    one && emoji.len() <= MAX_EMOJI_BYTES
        && emoji.chars().next().is_some_and(pictograph)
        && !emoji
            .chars()
            .any(|c| c.is_ascii() || c.is_control() || c.is_whitespace())
}

/// Code points emoji start with: the pictograph blocks, symbols and dingbats, regional
/// indicators, and the few older symbols presented as emoji.
fn pictograph(c: char) -> bool {
    matches!(u32::from(c),
        0x1F000..=0x1FAFF | 0x2190..=0x21FF | 0x2300..=0x23FF | 0x2460..=0x27BF
        | 0x2900..=0x297F | 0x2B00..=0x2BFF | 0x3030 | 0x303D | 0x3297 | 0x3299
        | 0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122 | 0x2139)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emoji_is_one_grapheme_of_something_other_than_text() {
        for ok in ["👍", "❤️", "👨‍👩‍👧", "🇫🇷", "👍🏽"] {
            assert!(valid_emoji(ok), "{ok}");
        }
        for bad in ["", "a", "é", ":)", "👍👍", "👍 ", &"👍".repeat(20), "\u{7}"] {
            assert!(!valid_emoji(bad), "{bad:?}");
        }
    }
}
