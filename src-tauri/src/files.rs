//! Attachments in the app. Files the user picked in the dialog or dropped on the window are
//! remembered here under a random token: the web view attaches them by token and never names
//! a path, so a compromised page cannot upload a file the user did not choose. Saving and
//! opening also happen here (the dialog and the opener plugins, called from Rust), so the page
//! needs no file-system or dialog permission at all.

use crate::DesktopState;
use crate::errors::UiError;
use confab_client::{Attach, Fetch};
use confab_protocol::{ErrorCode, files};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use tauri::ipc::Response;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_opener::OpenerExt;

/// Files the user chose, by token.
#[derive(Debug, Default)]
pub struct Picked(Mutex<HashMap<String, PathBuf>>);

/// A chosen file as the page sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PickedFile {
    pub token: String,
    pub name: String,
    #[cfg_attr(test, ts(type = "number"))]
    pub size: u64,
}

/// Bytes the page holds (an image pasted from the clipboard).
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Pasted {
    pub name: String,
    pub mime: Option<String>,
    pub bytes: Vec<u8>,
}

impl Picked {
    fn remember(&self, paths: Vec<PathBuf>) -> Vec<PickedFile> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        paths
            .into_iter()
            .filter(|p| p.is_file())
            .map(|path| {
                // A random v4 id: the page cannot guess another file's token.
                let token = confab_protocol::MessageId::random().to_string();
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                let file = PickedFile {
                    token: token.clone(),
                    name: files::clean_name(&name.unwrap_or_default()),
                    size: std::fs::metadata(&path).map_or(0, |m| m.len()),
                };
                map.insert(token, path);
                file
            })
            .collect()
    }

    fn path(&self, token: &str) -> Result<PathBuf, UiError> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(token).cloned().ok_or_else(|| {
            UiError::new(
                confab_client::Code::Protocol(ErrorCode::BadAttachment),
                "that file was not chosen in this window; attach it again",
            )
        })
    }

    /// The files went into the outbox (copied): their tokens are spent.
    fn forget(&self, tokens: &[String]) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for t in tokens {
            map.remove(t);
        }
    }
}

/// Files dropped on the window: remembered, and told to the page (`files_dropped`).
pub fn dropped<R: Runtime>(app: &AppHandle<R>, paths: Vec<PathBuf>) {
    if let Some(picked) = app.try_state::<Picked>() {
        let files = picked.remember(paths);
        if !files.is_empty() {
            let _ = app.emit("files_dropped", files);
        }
    }
}

/// The attach button: the system's file dialog; the files chosen (none if cancelled).
#[tauri::command]
pub async fn pick_files<R: Runtime>(
    app: AppHandle<R>,
    picked: State<'_, Picked>,
) -> Result<Vec<PickedFile>, UiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog().file().pick_files(move |chosen| {
        let _ = tx.send(chosen);
    });
    let chosen = rx.await.ok().flatten().unwrap_or_default();
    let paths = chosen.into_iter().filter_map(|p| p.into_path().ok());
    Ok(picked.remember(paths.collect()))
}

/// Queues a message with files: chosen ones by token, pasted ones by their bytes.
#[tauri::command]
pub async fn send_files(
    state: State<'_, DesktopState>,
    picked: State<'_, Picked>,
    room: String,
    body: String,
    reply_to: Option<u64>,
    tokens: Vec<String>,
    pasted: Vec<Pasted>,
) -> Result<String, UiError> {
    let mut attach = tokens
        .iter()
        .map(|t| picked.path(t).map(Attach::Path))
        .collect::<Result<Vec<_>, _>>()?;
    attach.extend(pasted.into_iter().map(|p| Attach::Bytes {
        name: p.name,
        mime: p.mime,
        bytes: p.bytes,
    }));
    let client = state.client()?;
    let queued = client.send_files(&room, &body, reply_to, attach).await?;
    picked.forget(&tokens);
    Ok(queued.id.into())
}

/// A file's bytes (or its thumbnail's), for the page to show as an image: raw, not JSON.
#[tauri::command]
pub async fn file_bytes(
    state: State<'_, DesktopState>,
    file_id: String,
    thumbnail: bool,
) -> Result<Response, UiError> {
    let fetch = Fetch {
        file_id,
        thumbnail,
        to: None,
    };
    let fetched = state.client()?.fetch(fetch).await?;
    Ok(Response::new(fetched.bytes.unwrap_or_default()))
}

/// "Save": the system's save dialog, then the download. `false` if the user cancelled.
#[tauri::command]
pub async fn save_file<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, DesktopState>,
    file_id: String,
    name: String,
) -> Result<bool, UiError> {
    let client = state.client()?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_file_name(files::clean_name(&name))
        .save_file(move |chosen| {
            let _ = tx.send(chosen);
        });
    let Some(to) = rx.await.ok().flatten().and_then(|p| p.into_path().ok()) else {
        return Ok(false);
    };
    let fetch = Fetch {
        file_id,
        thumbnail: false,
        to: Some(to),
    };
    client.fetch(fetch).await?;
    Ok(true)
}

/// "Open": downloads into the app's cache (once) and opens it with the system's program.
#[tauri::command]
pub async fn open_file<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, DesktopState>,
    file_id: String,
    name: String,
) -> Result<(), UiError> {
    let client = state.client()?;
    let internal = |e: &dyn std::fmt::Display| {
        UiError::new(confab_client::ClientCode::Internal, e.to_string())
    };
    let dir = app.path().app_cache_dir().map_err(|e| internal(&e))?;
    // The id in the folder keeps two files of one name apart.
    let to = dir
        .join("files")
        .join(files::clean_name(&file_id))
        .join(files::clean_name(&name));
    if !to.exists() {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| internal(&e))?;
        }
        let fetch = Fetch {
            file_id,
            thumbnail: false,
            to: Some(to.clone()),
        };
        client.fetch(fetch).await?;
    }
    app.opener()
        .open_path(to.to_string_lossy(), None::<&str>)
        .map_err(|e| internal(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_the_user_chose_can_be_attached_and_each_token_once() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("notes.txt");
        std::fs::write(&file, b"hello").unwrap_or_else(|e| panic!("{e}"));
        let picked = Picked::default();
        let chosen = picked.remember(vec![file.clone(), dir.path().to_owned()]);
        assert_eq!(chosen.len(), 1, "a folder is not a file");
        assert_eq!((chosen[0].name.as_str(), chosen[0].size), ("notes.txt", 5));
        assert_eq!(picked.path(&chosen[0].token).ok(), Some(file));
        assert!(picked.path("/etc/passwd").is_err(), "a path is no token");
        let made_up = confab_protocol::MessageId::random().to_string();
        assert!(picked.path(&made_up).is_err(), "nor a made-up one");
        picked.forget(std::slice::from_ref(&chosen[0].token));
        assert!(picked.path(&chosen[0].token).is_err(), "spent once sent");
    }
}
