//! Self-update (tauri-plugin-updater). The manifest comes from `CONFAB_UPDATE_URL`, else the
//! build's configured endpoints, else the user's own confab-server (`/updates/latest.json`).
//! The artifact must carry a minisign signature made with the key whose public half is built
//! in (`plugins.updater.pubkey`, set per release build: see docs/release.md), and the signed
//! version must match the manifest's. A build without a key, or a copy that was not installed
//! from a package, does not offer updates at all.
//!
//! The status goes to the UI (the `update` event, and [`Updates::status`] for a UI that starts
//! later) and to the tray. Check → available → download (progress) → verify → install →
//! "restart to update"; any failure leaves the running version as it was.

use crate::errors::UiError;
use serde::Serialize;
use std::sync::{Arc, Mutex, PoisonError};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_updater::{Error, Update, UpdaterExt};
use url::Url;

/// Longest an update request (the manifest, or the whole package) may take.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Where an update stands, as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UpdateStatus {
    /// Nothing to show (no check yet, or a silent check at start found nothing).
    Idle,
    Checking,
    UpToDate {
        version: String,
    },
    Available {
        version: String,
        notes: Option<String>,
    },
    Downloading {
        version: String,
        #[cfg_attr(test, ts(type = "number"))]
        received: u64,
        #[cfg_attr(test, ts(type = "number | null"))]
        total: Option<u64>,
    },
    /// Installed; the new version runs after a restart.
    Ready {
        version: String,
    },
    Failed {
        message: String,
    },
    /// This build or copy cannot update itself; `reason` says why.
    Unavailable {
        reason: String,
    },
}

/// The app's update state. One check or install runs at a time.
pub struct Updates {
    status: Mutex<UpdateStatus>,
    pending: tokio::sync::Mutex<Option<Update>>,
}

impl std::fmt::Debug for Updates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Updates")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Default for Updates {
    fn default() -> Self {
        Self {
            status: Mutex::new(UpdateStatus::Idle),
            pending: tokio::sync::Mutex::new(None),
        }
    }
}

impl Updates {
    pub fn status(&self) -> UpdateStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn set<R: Runtime>(app: &AppHandle<R>, status: UpdateStatus) {
    *app.state::<Updates>()
        .status
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = status.clone();
    let _ = app.emit("update", &status);
}

/// A field of the build's `plugins.updater` config.
fn setting<R: Runtime>(app: &AppHandle<R>, name: &str) -> Option<serde_json::Value> {
    app.config().plugins.0.get("updater")?.get(name).cloned()
}

/// Why this copy can't update itself, if it can't.
fn unavailable<R: Runtime>(app: &AppHandle<R>) -> Option<String> {
    let key = setting(app, "pubkey")
        .and_then(|k| k.as_str().map(str::to_owned))
        .unwrap_or_default();
    if key.trim().is_empty() {
        return Some(
            "This build of Confab has no update key, so it does not update itself.".into(),
        );
    }
    // Installing over a copy that no package manager knows would overwrite a file in a build
    // folder (or fail): only packaged copies update themselves.
    if cfg!(target_os = "linux") && tauri::utils::platform::bundle_type().is_none() {
        return Some(
            "This copy of Confab was not installed from a package; update it the way you installed it."
                .into(),
        );
    }
    None
}

/// The manifest address: an explicit override, else the build's endpoints (None), else the
/// user's own server. Updates travel over https; plain http only from this machine itself.
fn endpoint(
    overridden: Option<String>,
    configured: bool,
    server: Option<&Url>,
) -> Result<Option<Url>, String> {
    let url = if let Some(url) = overridden {
        Url::parse(&url).map_err(|e| format!("CONFAB_UPDATE_URL is not a valid address: {e}"))?
    } else if configured {
        return Ok(None);
    } else {
        match server {
            Some(server) => server
                .join("updates/latest.json")
                .map_err(|e| e.to_string())?,
            None => return Err("Sign in to a server to look for updates.".into()),
        }
    };
    secure(&url)?;
    Ok(Some(url))
}

/// Refuses a plain-http address off this machine. The signature would still catch a changed
/// package, but not a network that withholds updates or watches which version is fetched; the
/// plugin's own switch (`dangerousInsecureTransportProtocol`) is on only so that a server on
/// loopback can be tested, and this check is what keeps it there.
fn secure(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if confab_client::is_loopback(url) => Ok(()),
        _ => Err(format!(
            "Updates come only over https; {} is not.",
            url.origin().ascii_serialization()
        )),
    }
}

/// Words for a failure. The running version is untouched in every case.
fn describe(err: &Error, doing: &str) -> String {
    match err {
        Error::Minisign(_)
        | Error::Base64(_)
        | Error::SignatureUtf8(_)
        | Error::SignedVersionMismatch { .. }
        | Error::MissingSignedVersion => "The update is not signed with Confab's release key, \
             so it was not installed. This version keeps working."
            .to_owned(),
        _ => format!("The update could not be {doing} ({err}). This version keeps working."),
    }
}

/// Looks for an update. A `silent` check (at start) shows only an available update; an
/// explicit one (the tray) also says "up to date", "unavailable" and failures.
pub async fn check<R: Runtime>(app: AppHandle<R>, server: Option<Url>, silent: bool) {
    let updates = app.state::<Updates>();
    let mut pending = updates.pending.lock().await;
    if matches!(
        updates.status(),
        UpdateStatus::Downloading { .. } | UpdateStatus::Ready { .. }
    ) {
        // Already on its way; say so again rather than start over.
        set(&app, updates.status());
        return;
    }
    let show = |status: UpdateStatus| {
        if !silent || matches!(status, UpdateStatus::Available { .. }) {
            set(&app, status);
        }
    };
    if let Some(reason) = unavailable(&app) {
        return show(UpdateStatus::Unavailable { reason });
    }
    let endpoints: Vec<String> = setting(&app, "endpoints")
        .and_then(|e| serde_json::from_value(e).ok())
        .unwrap_or_default();
    if let Some(Err(reason)) = endpoints
        .iter()
        .map(|e| {
            Url::parse(e)
                .map_err(|e| e.to_string())
                .and_then(|u| secure(&u))
        })
        .find(Result::is_err)
    {
        return show(UpdateStatus::Unavailable { reason });
    }
    let configured = !endpoints.is_empty();
    let url = match endpoint(
        std::env::var("CONFAB_UPDATE_URL").ok(),
        configured,
        server.as_ref(),
    ) {
        Ok(url) => url,
        Err(reason) => return show(UpdateStatus::Unavailable { reason }),
    };
    if !silent {
        set(&app, UpdateStatus::Checking);
    }
    // The default comparison ignores an older release silently; remember what was offered so
    // a downgrade can be refused in words.
    let offered = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&offered);
    // A server that accepts the request and never answers must not hold every later check.
    let mut builder =
        app.updater_builder()
            .timeout(TIMEOUT)
            .version_comparator(move |current, remote| {
                *seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(remote.version.clone());
                remote.version > current
            });
    if let Some(url) = url {
        builder = match builder.endpoints(vec![url]) {
            Ok(b) => b,
            Err(e) => {
                return show(UpdateStatus::Failed {
                    message: describe(&e, "checked"),
                });
            }
        };
    }
    let current = app.package_info().version.clone();
    let found = match builder.build() {
        Ok(updater) => updater.check().await,
        Err(e) => Err(e),
    };
    match found {
        Ok(Some(update)) => {
            let status = UpdateStatus::Available {
                version: update.version.clone(),
                notes: update.body.clone(),
            };
            *pending = Some(update);
            show(status);
        }
        Ok(None) => {
            let offered = offered
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            show(match offered {
                Some(v) if v < current => UpdateStatus::Failed {
                    message: format!(
                        "The server offers Confab {v}, which is older than this {current}; \
                         it was not installed."
                    ),
                },
                _ => UpdateStatus::UpToDate {
                    version: current.to_string(),
                },
            });
        }
        Err(e) => show(UpdateStatus::Failed {
            message: describe(&e, "checked"),
        }),
    }
}

/// Downloads, verifies and installs the update found by the last check.
pub async fn install<R: Runtime>(app: AppHandle<R>) -> Result<(), UiError> {
    let updates = app.state::<Updates>();
    let mut pending = updates.pending.lock().await;
    let Some(update) = pending.take() else {
        return Err(UiError::new(
            crate::errors::AppCode::NoUpdate,
            "There is no update to install. Check for updates first.",
        ));
    };
    let version = update.version.clone();
    // The manifest names where the package is: the same rule as for the manifest.
    if let Err(message) = secure(&update.download_url) {
        set(&app, UpdateStatus::Failed { message });
        return Ok(());
    }
    let mut received = 0u64;
    let mut shown = 0u64;
    set(
        &app,
        UpdateStatus::Downloading {
            version: version.clone(),
            received: 0,
            total: None,
        },
    );
    let downloaded = update
        .download(
            |chunk, total| {
                received += chunk as u64;
                // Progress in steps of 1 % (or 256 KiB without a length): enough to move a bar.
                let step = total.map_or(256 * 1024, |t| (t / 100).max(1));
                if received - shown >= step || Some(received) == total {
                    shown = received;
                    set(
                        &app,
                        UpdateStatus::Downloading {
                            version: version.clone(),
                            received,
                            total,
                        },
                    );
                }
            },
            || {},
        )
        .await;
    // Installing runs the package manager (pkexec may wait on a password): not on a runtime
    // worker.
    let installed = match downloaded {
        Ok(bytes) => tauri::async_runtime::spawn_blocking(move || update.install(bytes))
            .await
            .unwrap_or_else(|e| Err(Error::Io(std::io::Error::other(e.to_string())))),
        Err(e) => Err(e),
    };
    match installed {
        Ok(()) => set(&app, UpdateStatus::Ready { version }),
        Err(e) => {
            tracing::warn!(error = %e, "update failed");
            set(
                &app,
                UpdateStatus::Failed {
                    message: describe(&e, "installed"),
                },
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{endpoint, secure};
    use url::Url;

    #[test]
    fn the_manifest_comes_from_the_users_own_server_unless_the_build_names_one() {
        let server = Url::parse("https://chat.example.org:8443/").ok();
        assert_eq!(
            endpoint(None, false, server.as_ref())
                .ok()
                .flatten()
                .map(String::from),
            Some("https://chat.example.org:8443/updates/latest.json".to_owned())
        );
        assert_eq!(
            endpoint(None, true, server.as_ref()),
            Ok(None),
            "the build's own endpoints"
        );
        assert!(
            endpoint(None, false, None).is_err(),
            "signed out: nowhere to look"
        );
        let admin = Some("https://updates.example.org/confab.json".to_owned());
        assert_eq!(
            endpoint(admin, true, server.as_ref())
                .ok()
                .flatten()
                .map(String::from),
            Some("https://updates.example.org/confab.json".to_owned()),
            "CONFAB_UPDATE_URL wins"
        );
    }

    #[test]
    fn updates_never_come_over_plain_http_from_another_machine() {
        let plain = Url::parse("http://chat.example.org:8080/").ok();
        let refused = endpoint(None, false, plain.as_ref());
        assert!(
            refused.as_ref().is_err_and(|e| e.contains("https")),
            "{refused:?}"
        );
        let hostile = Some("http://localhost.evil.com/latest.json".to_owned());
        assert!(endpoint(hostile, false, None).is_err(), "not this machine");
        let local = Url::parse("http://127.0.0.1:8080/").ok();
        assert!(
            endpoint(None, false, local.as_ref()).is_ok(),
            "a server on loopback"
        );
        for (url, ok) in [
            ("https://dl.example.org/Confab.deb", true),
            ("http://[::1]:9/Confab.deb", true),
            ("http://dl.example.org/Confab.deb", false),
            ("file:///tmp/Confab.deb", false),
        ] {
            let parsed = Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(secure(&parsed).is_ok(), ok, "{url}");
        }
    }
}
