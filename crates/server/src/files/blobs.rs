//! Where attachments' bytes live: one file per content, named by its SHA-256, so the same
//! bytes uploaded by many people (or many times) are stored once.
//!
//! [`Blobs`] is the interface the server uses. Its one store today is a folder
//! ([`Blobs::Dir`]), which several nodes share when it is on a shared disk; an S3-compatible
//! service would be another variant with the same calls.

use crate::Result;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tempfile::TempPath;
use tokio::io::AsyncWriteExt as _;

/// Unfinished uploads older than this are left-overs of a crash, removed at start.
const STALE_UPLOAD: Duration = Duration::from_secs(24 * 3600);

/// A content-addressed store of attachments' bytes.
#[derive(Debug, Clone)]
pub enum Blobs {
    /// A folder: `blobs/ab/<sha256>`, `thumbnails/ab/<sha256>.png`, and `uploads/` for bytes
    /// still arriving.
    Dir(PathBuf),
}

/// An upload being received: its bytes go to a temporary file in the store's own folder, so
/// that keeping it is a rename.
#[derive(Debug)]
pub struct Incoming {
    file: tokio::fs::File,
    path: TempPath,
}

impl Incoming {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        Ok(self.file.write_all(chunk).await?)
    }

    /// Where the bytes are while the upload is checked (images are decoded from here).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Blobs {
    /// Opens the folder store at `dir`, creating it, and removes stale unfinished uploads.
    pub fn open_dir(dir: &Path) -> Result<Self> {
        crate::private::own_dir(dir)?;
        for sub in ["blobs", "thumbnails", "uploads"] {
            crate::private::own_dir(&dir.join(sub))?;
        }
        // Another node may be receiving into a shared folder now: only old files are removed.
        if let Ok(entries) = std::fs::read_dir(dir.join("uploads")) {
            for entry in entries.flatten() {
                let old = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .is_some_and(|age| age > STALE_UPLOAD);
                if old {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(Self::Dir(dir.to_owned()))
    }

    fn blob_path(dir: &Path, sha256: &str) -> PathBuf {
        dir.join("blobs").join(&sha256[..2]).join(sha256)
    }

    fn thumbnail_path(dir: &Path, sha256: &str) -> PathBuf {
        dir.join("thumbnails")
            .join(&sha256[..2])
            .join(format!("{sha256}.png"))
    }

    /// Starts receiving an upload.
    pub async fn incoming(&self) -> Result<Incoming> {
        let Self::Dir(dir) = self;
        let uploads = dir.join("uploads");
        let temp = tokio::task::spawn_blocking(move || {
            tempfile::Builder::new()
                .prefix("upload-")
                .tempfile_in(uploads)
        })
        .await??;
        let (file, path) = temp.into_parts();
        Ok(Incoming {
            file: tokio::fs::File::from_std(file),
            path,
        })
    }

    /// Keeps a complete upload as the blob `sha256` (lower-case hex), durably; bytes stored
    /// before under that hash are kept and the new copy dropped.
    pub async fn keep(&self, incoming: Incoming, sha256: &str) -> Result<()> {
        let Self::Dir(dir) = self;
        let Incoming { mut file, path } = incoming;
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        let dest = Self::blob_path(dir, sha256);
        tokio::task::spawn_blocking(move || -> Result<()> {
            if dest.exists() {
                return Ok(());
            }
            let parent = dest.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(parent)?;
            path.persist(&dest).map_err(|e| e.error)?;
            // The rename is durable only once the folder is.
            std::fs::File::open(parent)?.sync_all()?;
            Ok(())
        })
        .await?
    }

    /// The blob's bytes, opened, and their length; `None` if it is not stored.
    pub async fn open(&self, sha256: &str) -> Result<Option<(tokio::fs::File, u64)>> {
        let Self::Dir(dir) = self;
        match tokio::fs::File::open(Self::blob_path(dir, sha256)).await {
            Ok(file) => {
                let len = file.metadata().await?.len();
                Ok(Some((file, len)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores the thumbnail of blob `sha256`.
    pub async fn put_thumbnail(&self, sha256: &str, png: Vec<u8>) -> Result<()> {
        let Self::Dir(dir) = self;
        let dest = Self::thumbnail_path(dir, sha256);
        tokio::task::spawn_blocking(move || -> Result<()> {
            let parent = dest.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(parent)?;
            let mut temp = tempfile::NamedTempFile::new_in(parent)?;
            temp.write_all(&png)?;
            temp.as_file().sync_all()?;
            temp.persist(&dest).map_err(|e| e.error)?;
            Ok(())
        })
        .await?
    }

    /// The thumbnail of blob `sha256`, if one was made.
    pub async fn thumbnail(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        let Self::Dir(dir) = self;
        match tokio::fs::read(Self::thumbnail_path(dir, sha256)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
