//! Attachments' bytes: a content-addressed blob store ([`blobs`]) and the images the server
//! makes thumbnails of ([`images`]). Their records (who uploaded what, which messages carry
//! it) are in the database, behind [`crate::store::Store`]; the HTTP endpoints are in
//! `http::files`.

pub(crate) mod blobs;
pub(crate) mod images;

pub use blobs::Blobs;

use crate::FilesConfig;
use tokio::sync::Semaphore;

/// What the file endpoints share.
#[derive(Debug)]
pub(crate) struct Files {
    pub config: FilesConfig,
    pub blobs: Blobs,
    /// Images decoded at once: each may take up to [`images::MAX_DECODE_BYTES`].
    pub decoders: Semaphore,
}

impl Files {
    pub(crate) fn new(config: FilesConfig, blobs: Blobs) -> Self {
        Self {
            config,
            blobs,
            decoders: Semaphore::new(1),
        }
    }
}
