//! The Confab desktop app: thin Tauri glue around the client core (`confab-client`).
//!
//! - [`commands`]: what the UI can ask for, thin wrappers over the client core's accounts and
//!   client; [`DesktopState`] holds the profile and the one [`signed_in`] account.
//! - [`signed_in`]: the running client core of the signed-in account, and the task forwarding
//!   its events to the UI over a `Channel` the UI created (so no event is emitted before anyone
//!   listens).
//! - [`tray`]: the tray icon (online / offline / unread) and its menu; closing the window hides
//!   it there, and a second launch shows the running instance instead.
//! - [`update`]: self-update from the user's server, signed, with progress and a clear refusal
//!   of bad signatures and downgrades.
//! - [`errors`]: `{code, message}` for the UI, in words a user understands.
//!
//! [`app`] builds the app for any runtime, so the real app and the mock-runtime tests share it.

#[cfg(test)]
mod bindings;
pub mod commands;
pub mod errors;
pub mod files;
pub mod signed_in;
pub mod tray;
pub mod update;

pub use commands::DesktopState;

use tauri::{Manager, Runtime, WindowEvent};

/// The app, generic over the runtime (tests use Tauri's mock runtime). `data_root` overrides
/// the platform's app data folder (`--data-dir`, `CONFAB_APP_DATA`, and tests).
pub fn app<R: Runtime>(
    builder: tauri::Builder<R>,
    data_root: Option<std::path::PathBuf>,
) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        // Used from Rust only (files.rs): the page has no dialog permission.
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(tauri::generate_handler![
            files::pick_files,
            files::send_files,
            files::file_bytes,
            files::save_file,
            files::open_file,
            commands::subscribe,
            commands::snapshot,
            commands::sign_in,
            commands::sign_out,
            commands::send_message,
            commands::change_message,
            commands::join_room,
            commands::leave_room,
            commands::history,
            commands::search,
            commands::typing,
            commands::set_unread,
            commands::set_mute_all,
            commands::update_status,
            commands::check_update,
            commands::install_update,
            commands::restart_to_update,
            commands::retry_now,
            commands::conversation,
            commands::me,
            commands::set_display_name,
            commands::search_users,
            commands::painted,
        ])
        .setup(move |app| {
            startup_step("setup");
            let root = match data_root {
                Some(dir) => dir,
                None => app.path().app_data_dir()?,
            };
            // No tray host (some desktops, CI) is not a reason to fail: the window still works.
            let status = tray::build(app.handle()).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "no system tray");
                tray::TrayStatus::detached()
            });
            let state = DesktopState::new(root, status);
            state.resume();
            app.manage(state);
            app.manage(update::Updates::default());
            app.manage(files::Picked::default());
            lean_webview(app.handle());
            startup_step("setup done");
            Ok(())
        })
        .on_page_load(|_, payload| startup_step(&format!("page load {:?}", payload.event())))
        .on_window_event(|window, event| {
            // Closing the window keeps Confab running in the tray, connected and notifying.
            match event {
                WindowEvent::CloseRequested { api, .. } => {
                    api.prevent_close();
                    let _ = window.hide();
                }
                WindowEvent::DragDrop(tauri::DragDropEvent::Drop { paths, .. }) => {
                    files::dropped(window.app_handle(), paths.clone());
                }
                _ => {}
            }
        })
}

/// The window is an app, not a browser: WebKitGTK's default cache model keeps pages and
/// resources for back/forward and revisits, which an app never makes (docs/bench.md).
fn lean_webview<R: Runtime>(app: &tauri::AppHandle<R>) {
    #[cfg(target_os = "linux")]
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.with_webview(|webview| {
            use webkit2gtk::{CacheModel, WebContextExt, WebViewExt};
            if let Some(context) = webview.inner().context() {
                context.set_cache_model(CacheModel::DocumentViewer);
            }
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = app;
}

/// A step of starting up, logged (debug) with the time since start: where the time to first
/// paint goes.
fn startup_step(step: &str) {
    let ms = STARTED.get().map_or(0, |t| t.elapsed().as_millis());
    tracing::debug!(ms, step, "startup");
}

/// When `run` began: the zero of the first-paint figure.
static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Builds and runs the app until the user quits from the tray.
pub fn run() {
    STARTED.get_or_init(std::time::Instant::now);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONFAB_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .try_init();
    // A second launch focuses the running instance (it must be the first plugin).
    let builder = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            tray::show(app)
        }))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        // Only the real app: the updater needs the build's `plugins.updater` config.
        .plugin(tauri_plugin_updater::Builder::new().build());
    let data_root = data_dir_arg(std::env::args_os().skip(1))
        .or_else(|| std::env::var_os("CONFAB_APP_DATA").map(Into::into));
    startup_step("building");
    let app = match app(builder, data_root).build(tauri::generate_context!()) {
        Ok(app) => app,
        Err(err) => {
            eprintln!("confab-desktop failed to start: {err}");
            std::process::exit(1);
        }
    };
    startup_step("built");
    // Logging out of the desktop (SIGTERM) or Ctrl+C in a terminal is a quit like the tray's:
    // the client closes its connection cleanly and the window's size and position are saved.
    let handle = app.handle().clone();
    tauri::async_runtime::spawn(async move {
        if terminated().await {
            handle.exit(0);
        }
    });
    app.run(|app, event| match event {
        // With the window hidden there are no windows left; only Quit (an explicit exit code)
        // ends the app.
        tauri::RunEvent::ExitRequested {
            api, code: None, ..
        } => api.prevent_exit(),
        tauri::RunEvent::Exit => {
            if let Some(state) = app.try_state::<DesktopState>() {
                state.close_client();
            }
        }
        _ => {}
    });
}

/// `--data-dir DIR` (or `--data-dir=DIR`): a separate profile, e.g. a second account or a test.
fn data_dir_arg(mut args: impl Iterator<Item = std::ffi::OsString>) -> Option<std::path::PathBuf> {
    while let Some(arg) = args.next() {
        if arg == "--data-dir" {
            return args.next().map(Into::into);
        }
        if let Some(dir) = arg.to_str().and_then(|a| a.strip_prefix("--data-dir=")) {
            return Some(dir.into());
        }
    }
    None
}

/// Resolves to true on SIGTERM or SIGINT (false where signals cannot be watched).
#[cfg(unix)]
async fn terminated() -> bool {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return false;
    };
    tokio::select! {
        _ = term.recv() => true,
        _ = int.recv() => true,
    }
}

/// Resolves to true on Ctrl+C (Windows has no SIGTERM; a logoff closes the window).
#[cfg(not(unix))]
async fn terminated() -> bool {
    tokio::signal::ctrl_c().await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::data_dir_arg;
    use std::path::PathBuf;

    #[test]
    fn data_dir_comes_from_either_spelling_of_the_flag() {
        let args = |v: &[&str]| {
            v.iter()
                .map(Into::into)
                .collect::<Vec<std::ffi::OsString>>()
        };
        assert_eq!(
            data_dir_arg(args(&["--data-dir", "/p"]).into_iter()),
            Some(PathBuf::from("/p"))
        );
        assert_eq!(
            data_dir_arg(args(&["-x", "--data-dir=/q"]).into_iter()),
            Some(PathBuf::from("/q"))
        );
        assert_eq!(data_dir_arg(args(&["--data-dir"]).into_iter()), None);
        assert_eq!(data_dir_arg(args(&[]).into_iter()), None);
    }
}
