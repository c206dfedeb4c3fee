//! `/updates/{file}`: the desktop app's update manifest (`latest.json`) and its signed
//! artifacts, served from a directory the operator fills (`--updates-dir`). The server only
//! serves bytes: integrity comes from the minisign signatures inside the manifest, which the
//! app checks against the key built into it.

use crate::AppState;
use crate::http_error::HttpError;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use confab_protocol::ErrorCode;
use std::sync::Arc;
use tokio_util::io::ReaderStream;

/// The manifest's name. Without one the answer is 204: "no update", not an error, so apps
/// signed in to a server that publishes no updates stay quiet.
const MANIFEST: &str = "latest.json";

/// A plain file name: no folders, no dot files, nothing to escape the directory with.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
}

/// Opens a regular file that is really in the directory: a symlink (to `/etc/passwd`, or to the
/// database beside it) is not served. The file opened must be the one looked at without
/// following links, so a link swapped in between the two calls is caught too.
async fn open_in_place(path: &std::path::Path) -> Option<(tokio::fs::File, u64)> {
    let seen = tokio::fs::symlink_metadata(path).await.ok()?;
    if !seen.file_type().is_file() {
        return None;
    }
    let file = tokio::fs::File::open(path).await.ok()?;
    let opened = file.metadata().await.ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (opened.dev(), opened.ino()) != (seen.dev(), seen.ino()) {
            return None;
        }
    }
    let len = opened.len();
    opened.is_file().then_some((file, len))
}

pub(crate) async fn serve(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Response {
    let not_found = || {
        if name == MANIFEST {
            StatusCode::NO_CONTENT.into_response()
        } else {
            HttpError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such file")
                .into_response()
        }
    };
    let Some(dir) = state.config.updates_dir.as_ref() else {
        return not_found();
    };
    if !plain_name(&name) {
        return not_found();
    }
    let Some((file, len)) = open_in_place(&dir.join(&name)).await else {
        return not_found();
    };
    let kind = if name.ends_with(".json") {
        "application/json"
    } else {
        "application/octet-stream"
    };
    (
        [
            (header::CONTENT_TYPE, kind.to_owned()),
            // The length lets the app show download progress.
            (header::CONTENT_LENGTH, len.to_string()),
            // A new release replaces the manifest in place.
            (header::CACHE_CONTROL, "no-cache".to_owned()),
        ],
        Body::from_stream(ReaderStream::new(file)),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::plain_name;

    #[test]
    fn only_plain_file_names_are_served() {
        for ok in [
            "latest.json",
            "Confab_0.2.0_amd64.deb",
            "Confab_0.2.0_amd64.deb.sig",
            "a+b-c",
        ] {
            assert!(plain_name(ok), "{ok}");
        }
        for bad in ["", "..", "../x", ".hidden", "a/b", "a\\b", "x%2f..", "é"] {
            assert!(!plain_name(bad), "{bad}");
        }
    }
}
