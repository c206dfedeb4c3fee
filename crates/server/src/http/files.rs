//! Files over HTTP: `POST /api/files` (upload), `GET /api/files/{id}` (download, with `Range`)
//! and `GET /api/files/{id}/thumbnail`. Every one needs the bearer token; downloads follow the
//! rooms a file was posted in (`store::files`).
//!
//! Nothing here is ever served as a page a browser would run: every answer carries
//! `X-Content-Type-Options: nosniff` and a sandboxing CSP, a file comes as an attachment
//! (`Content-Disposition`), and only images the server decoded keep their type.

use super::ApiResult;
use super::accounts::signed_in;
use crate::AppState;
use crate::files::images::{self, Inspected};
use crate::http_error::HttpError;
use crate::store::{FileAccess, FilePut, FileRecord, NewFile};
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use confab_protocol::ErrorCode;
use confab_protocol::files::{Uploaded, clean_name, essence, human_size, is_image, valid_file_id};
use futures_util::StreamExt as _;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
use tokio_util::io::ReaderStream;

/// The sandbox every file answer runs in, should a browser ever render one.
const SANDBOX: &str = "default-src 'none'; sandbox";

/// The file routes, with a deadline of their own (a 25 MB upload takes longer than an API call).
pub(super) fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/files",
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/files/{id}", get(download))
        .route("/api/files/{id}/thumbnail", get(thumbnail))
        .layer(middleware::from_fn_with_state(state, deadline))
}

async fn deadline(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let limit = state.files.config.transfer_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => HttpError::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::BadRequest,
            "the transfer took too long",
        )
        .into_response(),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct UploadQuery {
    name: Option<String>,
}

fn too_large(max: u64) -> HttpError {
    HttpError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::FileTooLarge,
        format!("files are at most {} here", human_size(max)),
    )
}

async fn upload(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    query: Result<Query<UploadQuery>, QueryRejection>,
    body: Body,
) -> ApiResult<Response> {
    let user = signed_in(&state, &headers).await?;
    let query = query.map_err(|_| {
        HttpError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            "the query is ?name=<file name>",
        )
    })?;
    let config = &state.files.config;
    let name = clean_name(query.name.as_deref().unwrap_or_default());
    let declared = essence(
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    if !config.allows(&declared) {
        return Err(HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::FileTypeNotAllowed,
            format!("this server does not take files of type {declared}"),
        ));
    }
    let max = config.max_file_bytes;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max) {
        return Err(too_large(max));
    }
    let internal = |e: crate::Error| HttpError::internal(&e);
    let mut incoming = state.files.blobs.incoming().await.map_err(internal)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            HttpError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                "the upload was cut off",
            )
        })?;
        size += chunk.len() as u64;
        if size > max {
            return Err(too_large(max));
        }
        hasher.update(&chunk);
        incoming.write(&chunk).await.map_err(internal)?;
    }
    let sha256 = hex::encode(hasher.finalize());
    // An image is believed only once decoded; what does not decode is served as bytes.
    let (mime, thumbnail) = if declared.starts_with("image/") {
        let permit = state.files.decoders.acquire().await;
        let path = incoming.path().to_owned();
        let inspected = tokio::task::spawn_blocking(move || images::inspect(&path))
            .await
            .map_err(|e| internal(e.into()))?;
        drop(permit);
        match inspected {
            Inspected::Image { mime, thumbnail } => (mime.to_owned(), Some(thumbnail)),
            Inspected::TooLarge { width, height } => {
                return Err(HttpError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::ImageTooLarge,
                    format!(
                        "a {width}×{height} image has more pixels than this server decodes \
                         ({} million)",
                        confab_protocol::files::MAX_IMAGE_PIXELS / 1_000_000
                    ),
                ));
            }
            Inspected::NotImage => ("application/octet-stream".to_owned(), None),
        }
    } else {
        (declared, None)
    };
    // The record first: its quota check is what keeps a user from filling the disk, and a
    // record whose bytes were lost in a crash is mended by uploading them again.
    let record = NewFile {
        record: FileRecord {
            id: hex::encode(rand::random::<[u8; 16]>()),
            uploader: user.username.clone(),
            sha256: sha256.clone(),
            size,
            mime,
            name,
        },
        quota: config.quota_bytes,
    };
    let (status, record) = match state.store.put_file(record).await.map_err(internal)? {
        FilePut::Stored(r) => (StatusCode::CREATED, r),
        FilePut::Existing(r) => (StatusCode::OK, r),
        FilePut::QuotaExceeded { used } => {
            return Err(HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::QuotaExceeded,
                format!(
                    "your files take {} of your {}; delete some or ask an administrator",
                    human_size(used),
                    human_size(config.quota_bytes)
                ),
            ));
        }
        FilePut::NoSuchUser => {
            return Err(HttpError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidToken,
                "this account is gone",
            ));
        }
    };
    state
        .files
        .blobs
        .keep(incoming, &sha256)
        .await
        .map_err(internal)?;
    if let Some(png) = thumbnail {
        state
            .files
            .blobs
            .put_thumbnail(&sha256, png)
            .await
            .map_err(internal)?;
    }
    tracing::info!(user = %user.username, file = %record.id, size, "file uploaded");
    let answer = Uploaded {
        file_id: record.id,
        size: record.size,
        sha256: record.sha256,
        mime: record.mime,
        name: record.name,
    };
    Ok((status, axum::Json(answer)).into_response())
}

/// The record of file `id`, if the signed-in user may read it.
async fn readable(state: &AppState, headers: &HeaderMap, id: &str) -> ApiResult<FileRecord> {
    let user = signed_in(state, headers).await?;
    let missing = || HttpError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such file");
    if !valid_file_id(id) {
        return Err(missing());
    }
    match state
        .store
        .file(id, &user.username)
        .await
        .map_err(|e| HttpError::internal(&e))?
    {
        FileAccess::Allowed(record) => Ok(record),
        FileAccess::Missing => Err(missing()),
        FileAccess::Forbidden => Err(HttpError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "this file was not shared in a room you are a member of",
        )),
    }
}

/// The headers every file answer carries.
fn guarded(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SANDBOX),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    resp
}

/// `attachment; filename="…"; filename*=UTF-8''…`: an ASCII stand-in for old clients and the
/// exact name for the rest.
fn disposition(name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let exact = utf8_percent_encode(name, NON_ALPHANUMERIC);
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{exact}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

async fn download(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let record = readable(&state, &headers, &id).await?;
    let internal = |e: crate::Error| HttpError::internal(&e);
    let Some((mut file, len)) = state
        .files
        .blobs
        .open(&record.sha256)
        .await
        .map_err(internal)?
    else {
        tracing::warn!(file = %record.id, "a file's bytes are missing from the store");
        return Err(HttpError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "the file's bytes are missing; its uploader can upload it again",
        ));
    };
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(text) => {
            match http_range_header::parse_range_header(text).and_then(|r| r.validate(len)) {
                // One range is what resuming asks for; several are answered whole.
                Ok(ranges) if ranges.len() == 1 => ranges.into_iter().next(),
                Ok(_) => None,
                Err(_) => {
                    let resp = (
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        [(header::CONTENT_RANGE, format!("bytes */{len}"))],
                    );
                    return Ok(guarded(resp.into_response()));
                }
            }
        }
    };
    let (status, start, count) = match &range {
        Some(r) => (
            StatusCode::PARTIAL_CONTENT,
            *r.start(),
            r.end() - r.start() + 1,
        ),
        None => (StatusCode::OK, 0, len),
    };
    if start > 0 {
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(|e| internal(e.into()))?;
    }
    // Only the image types the server decoded keep theirs; everything else is bytes.
    let content_type = match record.mime.as_str() {
        "image/png" => "image/png",
        "image/jpeg" => "image/jpeg",
        "image/gif" => "image/gif",
        "image/webp" => "image/webp",
        _ => "application/octet-stream",
    };
    let mut head = HeaderMap::new();
    let value = |v: String| HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static(""));
    head.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    head.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    head.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    head.insert(header::CONTENT_DISPOSITION, disposition(&record.name));
    head.insert(header::ETAG, value(format!("\"{}\"", record.sha256)));
    if let Some(r) = &range {
        let span = format!("bytes {}-{}/{len}", r.start(), r.end());
        head.insert(header::CONTENT_RANGE, value(span));
    }
    let body = Body::from_stream(ReaderStream::new(file.take(count)));
    let resp = (status, head, body).into_response();
    Ok(guarded(resp))
}

async fn thumbnail(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let record = readable(&state, &headers, &id).await?;
    let none = || {
        HttpError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "this file has no thumbnail (not an image)",
        )
    };
    if !is_image(&record.mime) {
        return Err(none());
    }
    let png = state
        .files
        .blobs
        .thumbnail(&record.sha256)
        .await
        .map_err(|e| HttpError::internal(&e))?
        .ok_or_else(none)?;
    let resp = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("inline"),
            ),
        ],
        png,
    )
        .into_response();
    Ok(guarded(resp))
}
