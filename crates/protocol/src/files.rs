//! Attachments: files uploaded over HTTP (`POST /api/files`) and named by a message.
//!
//! A file is stored once per content (its SHA-256) and known to clients by a `file_id`, one per
//! uploader and content: uploading the same bytes again answers the same id, so a client that
//! restarts an interrupted upload cannot store a file twice. Who may download it follows the
//! rooms it was posted in (see docs/protocol.md, "Files").

use serde::{Deserialize, Serialize};

/// Default largest file in bytes (25 MiB). Larger → 413 `file_too_large`.
pub const MAX_FILE_BYTES: u64 = 25 * 1024 * 1024;
/// Default storage one user's uploads may take, in bytes (1 GiB). Beyond → 413 `quota_exceeded`.
pub const QUOTA_BYTES: u64 = 1024 * 1024 * 1024;
/// [`MAX_FILE_BYTES`], for `ready` frames without `max_file_bytes`.
pub fn default_max_file_bytes() -> u64 {
    MAX_FILE_BYTES
}

/// Most attachments on one message.
pub const MAX_ATTACHMENTS: usize = 10;
/// Longest file name in bytes of UTF-8; longer names are cut (at a character boundary).
pub const MAX_FILE_NAME_BYTES: usize = 255;
/// Largest side of a thumbnail in pixels.
pub const THUMBNAIL_PX: u32 = 320;
/// Images with more pixels than this are refused (`image_too_large`): decoding one would take
/// more memory than a server should give a single upload (a "decompression bomb").
pub const MAX_IMAGE_PIXELS: u64 = 50_000_000;

/// A file as a message carries it. The server fills `size` and `mime` from what it stored,
/// whatever the client said; `name` is the client's, cleaned ([`clean_name`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Attachment {
    pub file_id: String,
    pub name: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
    pub mime: String,
}

impl Attachment {
    /// An image the server decoded and made a thumbnail of (`GET /api/files/{id}/thumbnail`).
    pub fn is_image(&self) -> bool {
        is_image(&self.mime)
    }
}

/// The answer to an upload: `201` for new bytes, `200` when this uploader had stored them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uploaded {
    pub file_id: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    /// What the server will serve it as: the declared type, except that an `image/*` the server
    /// could not decode becomes `application/octet-stream`.
    pub mime: String,
    pub name: String,
}

/// The image types the server makes thumbnails of and the app shows inline.
pub fn is_image(mime: &str) -> bool {
    matches!(
        mime,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// A file id as servers make them: 32 lower-case hex digits.
pub fn valid_file_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A file name safe to show and to save under: the last path component, without control
/// characters, trimmed, at most [`MAX_FILE_NAME_BYTES`]; `"file"` when nothing is left.
pub fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|c| !c.is_control()).collect();
    let mut cleaned = cleaned.trim().trim_start_matches('.').trim().to_owned();
    crate::limits::cut(&mut cleaned, MAX_FILE_NAME_BYTES);
    if cleaned.is_empty() {
        "file".to_owned()
    } else {
        cleaned
    }
}

/// A `Content-Type` reduced to its lower-case `type/subtype` (parameters dropped);
/// `application/octet-stream` for none or one that is not a media type.
pub fn essence(content_type: Option<&str>) -> String {
    let essence = content_type
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let valid = essence.split_once('/').is_some_and(|(t, s)| {
        let token = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
        };
        token(t) && token(s)
    });
    if valid {
        essence
    } else {
        "application/octet-stream".to_owned()
    }
}

/// Whether `mime` matches a pattern of a type list: `image/png`, `image/*` or `*`.
pub fn type_matches(pattern: &str, mime: &str) -> bool {
    let pattern = pattern.trim().to_ascii_lowercase();
    match pattern.strip_suffix("/*") {
        _ if pattern == "*" || pattern == "*/*" => true,
        Some(major) => mime.split('/').next() == Some(major),
        None => pattern == mime,
    }
}

/// A size for people: `812 B`, `14.2 KB`, `3.1 MB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_to_one_safe_component() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\a\\shot.png"), "shot.png");
        assert_eq!(clean_name(" .hidden "), "hidden");
        assert_eq!(clean_name("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(clean_name(""), "file");
        assert_eq!(clean_name(".."), "file");
        let long = format!("{}.txt", "é".repeat(200));
        let cut = clean_name(&long);
        assert!(cut.len() <= MAX_FILE_NAME_BYTES && cut.starts_with('é'));
    }

    #[test]
    fn content_types_reduce_to_their_essence() {
        assert_eq!(essence(Some("Image/PNG; charset=x")), "image/png");
        assert_eq!(essence(Some("text/html")), "text/html");
        assert_eq!(essence(Some("nonsense")), "application/octet-stream");
        assert_eq!(essence(Some("a/b c")), "application/octet-stream");
        assert_eq!(essence(None), "application/octet-stream");
    }

    #[test]
    fn type_lists_match_exactly_or_by_major_type() {
        assert!(type_matches("image/*", "image/png"));
        assert!(!type_matches("image/*", "text/plain"));
        assert!(type_matches("*", "text/plain"));
        assert!(type_matches(
            "application/x-msdownload",
            "application/x-msdownload"
        ));
        assert!(!type_matches("text/plain", "text/html"));
    }

    #[test]
    fn ids_and_sizes() {
        assert!(valid_file_id("0123456789abcdef0123456789abcdef"));
        assert!(!valid_file_id("0123456789ABCDEF0123456789abcdef"));
        assert!(!valid_file_id("../x"));
        assert_eq!(human_size(812), "812 B");
        assert_eq!(human_size(14_200), "14.2 KB");
        assert_eq!(human_size(3_100_000), "3.1 MB");
    }
}
