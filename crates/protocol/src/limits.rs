//! Documented default limits and the validation rules for names, ids and bodies.
//!
//! Servers may be configured with other limits; these are the defaults and the hard rules that
//! every server applies.

/// Largest WebSocket frame or message the server reads (64 KiB). Larger → close 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Longest message body in bytes of UTF-8 (16 KiB). Longer → `body_too_long`.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest client-generated message id in bytes.
pub const MAX_ID_BYTES: usize = 128;
/// Largest integer in a frame (2^53 − 1, exact in every JSON client); larger is `bad_frame`.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;
/// Longest `message` of an error frame in bytes: an error never echoes a large input back.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 256;
/// Longest room name in bytes.
pub const MAX_ROOM_BYTES: usize = 64;
/// Longest username in bytes.
pub const MAX_USERNAME_BYTES: usize = 32;
/// Shortest password in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password in bytes (argon2 has no need for more; it caps hashing cost).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Messages per `synced` batch during a join replay.
pub const REPLAY_BATCH: usize = 200;
/// Default and largest `limit` of a `history` request.
pub const HISTORY_DEFAULT: u32 = 50;
/// Largest `limit` of a `history` request.
pub const HISTORY_MAX: u32 = 200;
/// Largest page of history in bytes of bodies; a page that would be bigger is cut short (its
/// oldest messages left out) with `more: true`.
pub const HISTORY_MAX_BYTES: usize = 256 * 1024;
/// Seconds a new connection has to send `auth`.
pub const AUTH_TIMEOUT_SECS: u64 = 5;

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// A room name: 1–64 bytes of `a-z`, `0-9`, `_`, `-`, `.`, lower case (so `General` and `general`
/// can never be two rooms).
pub fn valid_room(room: &str) -> bool {
    !room.is_empty()
        && room.len() <= MAX_ROOM_BYTES
        && room
            .chars()
            .all(|c| is_name_char(c) && !c.is_ascii_uppercase())
}

/// A username: 1–32 bytes of ASCII letters, digits, `_`, `-`, `.`. Case is kept for display, but
/// names are unique regardless of case.
pub fn valid_username(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_USERNAME_BYTES && name.chars().all(is_name_char)
}

/// Cuts `text` to at most `max` bytes, at a character boundary; `true` if anything was cut.
pub(crate) fn cut(text: &mut String, max: usize) -> bool {
    if text.len() <= max {
        return false;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    true
}

/// A name for a new account: a [`valid_username`] that also begins and ends with a letter or a
/// digit and has no two of `_ - .` in a row, so `.`, `..`, `-` and `a..b` cannot be taken. Names
/// that already exist stay valid ([`valid_username`] is the rule for naming someone).
pub fn valid_new_username(name: &str) -> bool {
    let bytes = name.as_bytes();
    let punct = |b: &u8| !b.is_ascii_alphanumeric();
    valid_username(name)
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && !bytes.windows(2).any(|w| punct(&w[0]) && punct(&w[1]))
}

/// Longest display name in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;

/// A display name, trimmed: 1–64 characters, no control characters. `None`: it is not one.
pub fn display_name(input: &str) -> Option<&str> {
    let name = input.trim();
    (!name.is_empty()
        && name.chars().count() <= MAX_DISPLAY_NAME_CHARS
        && !name.chars().any(char::is_control))
    .then_some(name)
}

/// A password: at least 8 characters, at most 1024 bytes.
pub fn valid_password(password: &str) -> bool {
    password.chars().count() >= MIN_PASSWORD_CHARS && password.len() <= MAX_PASSWORD_BYTES
}

/// A message id: 1–128 bytes with no control characters.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_BYTES && !id.chars().any(char::is_control)
}

/// A message body: not blank, at most `max_bytes` of UTF-8.
pub fn valid_body(body: &str, max_bytes: usize) -> bool {
    !body.trim().is_empty() && body.len() <= max_bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms() {
        assert!(valid_room("general"));
        assert!(valid_room("team-42_a.b"));
        assert!(!valid_room(""));
        assert!(!valid_room("General"));
        assert!(!valid_room("with space"));
        assert!(!valid_room("<script>"));
        assert!(!valid_room(&"a".repeat(MAX_ROOM_BYTES + 1)));
        assert!(valid_room(&"a".repeat(MAX_ROOM_BYTES)));
    }

    #[test]
    fn users_passwords_ids_bodies() {
        assert!(valid_username("Alice_1"));
        assert!(!valid_username("al ice"));
        assert!(!valid_username("ålice"));
        for ok in ["alice", "Alice_1", "a.b-c", "7"] {
            assert!(valid_new_username(ok), "{ok}");
        }
        for bad in [".", "..", "-", "_", ".alice", "alice-", "a..b", "a-_b", ""] {
            assert!(!valid_new_username(bad), "{bad}");
        }
        // Whoever already has such a name can still be named.
        assert!(valid_username("_bob"), "an old name stays addressable");
        assert!(valid_password("correct horse"));
        assert!(!valid_password("short"));
        assert!(!valid_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)));
        assert!(valid_id("6f1c-uuid"));
        assert!(!valid_id(""));
        assert!(!valid_id("a\nb"));
        assert!(valid_body("hi", 10));
        assert!(!valid_body("   ", 10));
        assert!(!valid_body("12345678901", 10));
    }
}
