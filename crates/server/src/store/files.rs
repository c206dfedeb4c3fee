//! Attachments' records, whatever the backend: one row per uploader and content, and which
//! messages carry which file. The bytes themselves are in [`crate::files`]' blob store.

use confab_protocol::Attachment;
use std::borrow::Cow;

/// A file just uploaded, its bytes already in the blob store.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// Its record, under a fresh random id that is used only if this uploader has not stored
    /// these bytes before.
    pub record: FileRecord,
    /// Bytes this uploader's files may take, this one included.
    pub quota: u64,
}

/// A stored file's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub id: String,
    pub uploader: String,
    pub sha256: String,
    pub size: u64,
    pub mime: String,
    pub name: String,
}

/// What storing a file's record did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilePut {
    /// A new record.
    Stored(FileRecord),
    /// This uploader had stored the same bytes: that record, nothing new.
    Existing(FileRecord),
    /// The uploader's files would take more than the quota; `used` is what they take now.
    QuotaExceeded { used: u64 },
    /// The uploader's account is gone.
    NoSuchUser,
}

/// Who may read a file: its uploader, and the members (now) of a room where a message that
/// is not deleted carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAccess {
    /// No such file.
    Missing,
    /// It exists, but this user may not read it (answered 403).
    Forbidden,
    Allowed(FileRecord),
}

impl FileRecord {
    /// The record as a message carries it, under the name the sender gave it.
    pub fn attachment(&self, name: &str) -> Attachment {
        Attachment {
            file_id: self.id.clone(),
            name: confab_protocol::files::clean_name(name),
            size: self.size,
            mime: self.mime.clone(),
        }
    }
}

/// The stored form of a message's attachments (`messages.data` of a message row).
pub(crate) fn to_data(attachments: &[Attachment]) -> crate::Result<Option<String>> {
    if attachments.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(attachments)
        .map(Some)
        .map_err(|e| crate::Error::Commit(e.to_string()))
}

/// A message row's attachments, from its `data`.
pub(crate) fn from_data(data: Option<&str>) -> Vec<Attachment> {
    data.and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default()
}

/// The text a message is found by: its body and its files' names (the body itself, not a
/// copy, for the many messages without files: this runs on every send).
pub(crate) fn search_text<'a>(body: &'a str, attachments: &[Attachment]) -> Cow<'a, str> {
    if attachments.is_empty() {
        return Cow::Borrowed(body);
    }
    let mut text = body.to_owned();
    for a in attachments {
        text.push(' ');
        text.push_str(&a.name);
    }
    Cow::Owned(text)
}
