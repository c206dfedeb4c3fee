//! Moving a file's bytes over HTTP with the login's token: an upload streamed from its staged
//! copy, a download resumed with `Range`. Both report progress through a shared counter that
//! the caller turns into events, so the bytes never wait for the owner's event queue.

use super::LocalFile;
use crate::api::Api;
use crate::refresh::{Refresher, with_access};
use crate::{Error, Result};
use confab_protocol::files::Uploaded;
use confab_protocol::{ErrorCode, Secret};
use futures_util::StreamExt;
use reqwest::Method;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// A transfer's deadline: a 25 MB file over a slow link takes minutes, not the API's 30 s.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Bytes moved so far, shared between a transfer and whoever reports it.
pub(crate) type Counter = Arc<AtomicU64>;

/// Whether an upload's failure is for good (the message cannot go out as it is) rather than
/// one to try again: the server's own refusals of the file.
pub(crate) fn refused_for_good(e: &Error) -> bool {
    matches!(
        e,
        Error::Api { code, .. } | Error::Rejected { code, .. } if matches!(
            code,
            ErrorCode::FileTooLarge
                | ErrorCode::QuotaExceeded
                | ErrorCode::FileTypeNotAllowed
                | ErrorCode::ImageTooLarge
                | ErrorCode::BadAttachment
        )
    )
}

/// Uploads `file` from `staged`, adding each byte sent to `sent`. Checks the server's answer
/// against the hash it was staged under.
pub(crate) async fn upload(
    refresher: &Refresher,
    staged: &Path,
    file: &LocalFile,
    sent: &Counter,
) -> Result<Uploaded> {
    let path = format!(
        "/api/files?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("name", &file.name)
            .finish()
    );
    let api = refresher.api();
    let uploaded: Uploaded = with_access(refresher, |token| {
        let path = path.as_str();
        async move {
            // A try after a refused token starts the bytes over.
            let start = sent.load(Ordering::Relaxed);
            let body = stream_file(staged, Arc::clone(sent)).await?;
            let resp = send(api, Method::POST, path, &token, |req| {
                req.header(CONTENT_TYPE, &file.mime)
                    .header(CONTENT_LENGTH, file.size)
                    .body(body)
            })
            .await;
            if resp.is_err() {
                sent.store(start, Ordering::Relaxed);
            }
            let resp = resp?;
            resp.json()
                .await
                .map_err(|e| Error::Network(e.without_url().to_string()))
        }
    })
    .await?;
    if uploaded.sha256 != file.sha256 || uploaded.size != file.size {
        return Err(Error::Network(format!(
            "the server stored {} bytes ({}) for {} bytes ({})",
            uploaded.size, uploaded.sha256, file.size, file.sha256
        )));
    }
    Ok(uploaded)
}

async fn stream_file(path: &Path, sent: Counter) -> Result<reqwest::Body> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::Rejected {
            code: ErrorCode::BadAttachment,
            message: format!("the attached file is gone from this disk: {e}"),
        })?;
    let stream = tokio_util::io::ReaderStream::new(file).inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            sent.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
    });
    Ok(reqwest::Body::wrap_stream(stream))
}

async fn send(
    api: &Api,
    method: Method,
    path: &str,
    token: &Secret,
    build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> Result<reqwest::Response> {
    api.send_with(method, path, Some(token), |req| {
        build(req.timeout(TRANSFER_TIMEOUT))
    })
    .await
}

/// What to fetch of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    pub file_id: String,
    /// The server's thumbnail instead of the file (images only).
    pub thumbnail: bool,
    /// Where to write it; `None`: answer the bytes (a preview, a thumbnail).
    pub to: Option<PathBuf>,
}

/// What a fetch gave: the bytes (when asked for no path) and the size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub bytes: Option<Vec<u8>>,
    pub size: u64,
}

/// Fetches a file. To a path: into `<path>.part`, resuming what an earlier try left there
/// (`Range`), renamed to `path` only once whole.
pub(crate) async fn fetch(refresher: &Refresher, fetch: &Fetch, got: &Counter) -> Result<Fetched> {
    if !confab_protocol::files::valid_file_id(&fetch.file_id) {
        return Err(Error::Rejected {
            code: ErrorCode::NotFound,
            message: format!("\"{}\" is no file id", fetch.file_id),
        });
    }
    let suffix = if fetch.thumbnail { "/thumbnail" } else { "" };
    let path = format!("/api/files/{}{suffix}", fetch.file_id);
    let api = refresher.api();
    with_access(refresher, |token| {
        let path = path.as_str();
        async move {
            match &fetch.to {
                None => {
                    let resp = send(api, Method::GET, path, &token, |r| r).await?;
                    let bytes = resp
                        .bytes()
                        .await
                        .map_err(|e| Error::Network(e.without_url().to_string()))?;
                    got.store(bytes.len() as u64, Ordering::Relaxed);
                    Ok(Fetched {
                        size: bytes.len() as u64,
                        bytes: Some(bytes.to_vec()),
                    })
                }
                Some(to) => to_file(api, path, &token, to, got).await,
            }
        }
    })
    .await
}

async fn to_file(
    api: &Api,
    path: &str,
    token: &Secret,
    to: &Path,
    got: &Counter,
) -> Result<Fetched> {
    let mut part = to.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    let mut have = tokio::fs::metadata(&part).await.map_or(0, |m| m.len());
    let resp = loop {
        let resp = send(api, Method::GET, path, token, |r| {
            if have > 0 {
                r.header(RANGE, format!("bytes={have}-"))
            } else {
                r
            }
        })
        .await;
        match resp {
            // The part is not a beginning of this file (as long as it, or longer: a kill
            // before the rename, or another file's leftover): start over rather than guess.
            Err(Error::Api { status: 416, .. }) if have > 0 => {
                tokio::fs::remove_file(&part).await?;
                have = 0;
            }
            other => break other?,
        }
    };
    // A server that ignored the range sends the whole file: start the part over.
    let resumed = resp.status() == reqwest::StatusCode::PARTIAL_CONTENT
        && resp
            .headers()
            .get(CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with(&format!("bytes {have}-")));
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(resumed)
        .write(true)
        .truncate(!resumed)
        .open(&part)
        .await?;
    let mut size = if resumed { have } else { 0 };
    got.store(size, Ordering::Relaxed);
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Error::Network(e.without_url().to_string()))?;
        file.write_all(&chunk).await?;
        size += chunk.len() as u64;
        got.store(size, Ordering::Relaxed);
    }
    file.sync_all().await?;
    drop(file);
    tokio::fs::rename(&part, to).await?;
    Ok(Fetched { bytes: None, size })
}
