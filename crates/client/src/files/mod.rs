//! Files the user attaches, and files they fetch.
//!
//! - Staging ([`stage`]): an attached file is copied into the data folder's `outbox-files/`,
//!   named by its SHA-256, before its message enters the outbox. A file moved, edited or pasted
//!   from the clipboard is still there, as attached, after a restart.
//! - Upload (`transfer::upload`): when a connection is open, the first message of the outbox
//!   with files not yet uploaded holds the queue (order is kept) while its files go up, one by
//!   one, streamed from the staged copy. The server answers the same `file_id` for the same
//!   uploader and bytes, so an upload cut by a kill or a lost network is simply made again and
//!   nothing is stored twice. The ids are written to the outbox entry; then the message is sent.
//! - Download (`transfer::download`): into a `.part` file beside the target, resumed with
//!   `Range` from where it stopped, renamed into place only when whole.

pub(crate) mod transfer;

use crate::{Error, Result};
use confab_protocol::{Attachment, ErrorCode, files};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// A file attached to a queued message: staged on this disk, uploaded once `file_id` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LocalFile {
    /// Lower-case hex SHA-256 of the bytes: the staged copy's name, and what the server's
    /// answer is checked against.
    pub sha256: String,
    pub name: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
    pub mime: String,
    /// The server's id for it, once uploaded.
    pub file_id: Option<String>,
}

impl LocalFile {
    /// As the `send` frame names it; `None` until uploaded.
    pub(crate) fn attachment(&self) -> Option<Attachment> {
        Some(Attachment {
            file_id: self.file_id.clone()?,
            name: self.name.clone(),
            size: self.size,
            mime: self.mime.clone(),
        })
    }
}

/// How the upload of a queued message's files ended: the files with their ids, or why the
/// message cannot go out.
#[derive(Debug)]
pub(crate) struct Uploaded {
    pub(crate) id: confab_protocol::MessageId,
    pub(crate) result: Result<Vec<LocalFile>>,
}

/// What the owner attaches: a file on disk, or bytes it holds (a pasted image).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attach {
    Path(PathBuf),
    Bytes {
        name: String,
        /// `None`: guessed from the name.
        mime: Option<String>,
        bytes: Vec<u8>,
    },
}

/// Where staged files live in a data folder.
pub(crate) fn staged_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("outbox-files")
}

/// The staged copy of `sha256`.
pub(crate) fn staged(dir: &Path, sha256: &str) -> PathBuf {
    dir.join(sha256)
}

fn too_large(size: u64, max: u64) -> Error {
    Error::Rejected {
        code: ErrorCode::FileTooLarge,
        message: format!(
            "the file is {}; this server takes files up to {}",
            files::human_size(size),
            files::human_size(max)
        ),
    }
}

fn guess_mime(name: &str) -> String {
    mime_guess::from_path(name)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_owned()
}

/// A copy made by [`stage`], not yet under its final name: deleted if dropped. Only the actor
/// gives it its name ([`Staged::keep`]), in the step that queues its message, so a sweep (also
/// the actor's) never sees a named file that no queued message names yet.
#[derive(Debug)]
pub(crate) struct Staged {
    pub(crate) file: LocalFile,
    tmp: tempfile::TempPath,
}

impl Staged {
    pub(crate) fn keep(self, dir: &Path) -> Result<()> {
        self.tmp
            .persist(staged(dir, &self.file.sha256))
            .map_err(|e| Error::Io(e.error))
    }
}

/// Copies `attach` into `dir` (blocking: run it off the async threads). Refuses a file over
/// `max` bytes before copying it, and an empty one.
pub(crate) fn stage(dir: &Path, attach: Attach, max: u64) -> Result<Staged> {
    std::fs::create_dir_all(dir)?;
    let (name, mime, mut source): (String, String, Box<dyn Read>) = match attach {
        Attach::Path(path) => {
            let file = std::fs::File::open(&path).map_err(|e| Error::Rejected {
                code: ErrorCode::BadAttachment,
                message: format!("cannot read {}: {e}", path.display()),
            })?;
            let meta = file.metadata()?;
            if !meta.is_file() {
                return Err(Error::Rejected {
                    code: ErrorCode::BadAttachment,
                    message: format!("{} is not a file", path.display()),
                });
            }
            if meta.len() > max {
                return Err(too_large(meta.len(), max));
            }
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let name = files::clean_name(&name.unwrap_or_default());
            let mime = guess_mime(&name);
            (name, mime, Box::new(file))
        }
        Attach::Bytes { name, mime, bytes } => {
            let name = files::clean_name(&name);
            let mime = mime.unwrap_or_else(|| guess_mime(&name));
            (name, mime, Box::new(std::io::Cursor::new(bytes)))
        }
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(TMP_PREFIX)
        .tempfile_in(dir)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = source.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        // The file may have grown since it was measured.
        if size > max {
            return Err(too_large(size, max));
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n])?;
    }
    if size == 0 {
        return Err(Error::Rejected {
            code: ErrorCode::BadAttachment,
            message: format!("{name} is empty"),
        });
    }
    // On disk before the outbox names it: a crash after the outbox commit finds the file.
    tmp.as_file().sync_all()?;
    Ok(Staged {
        file: LocalFile {
            sha256: hex::encode(hasher.finalize()),
            name,
            size,
            mime,
            file_id: None,
        },
        tmp: tmp.into_temp_path(),
    })
}

/// How copies in progress are named; a sweep leaves them alone for a day (a crash's leftover).
const TMP_PREFIX: &str = ".staging-";

/// Deletes staged files no queued message names any more (and leftovers of a copy a crash
/// interrupted). Errors are ignored: a file left behind is found on the next sweep.
pub(crate) fn sweep(dir: &Path, keep: &HashSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let day = std::time::Duration::from_secs(24 * 3600);
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let fresh_copy = name.starts_with(TMP_PREFIX)
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().unwrap_or_default() < day);
        if !fresh_copy && !keep.contains(name.as_ref()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
