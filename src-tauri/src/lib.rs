//! The Confab desktop app: thin Tauri glue around the client core (`confab-client`).
//!
//! - [`commands`]: what the UI can ask for; [`AppState`] holds the one signed-in [`session`].
//! - [`session`]: one client core per account, and the task forwarding its events to the UI
//!   over a `Channel` the UI created (so no event is emitted before anyone listens).
//! - [`tray`]: the tray icon (online / offline / unread) and its menu; closing the window hides
//!   it there, and a second launch shows the running instance instead.
//! - [`errors`]: `{code, message}` for the UI, in words a user understands.
//!
//! [`app`] builds the app for any runtime, so the real app and the mock-runtime tests share it.

#[cfg(test)]
mod bindings;
pub mod commands;
pub mod errors;
pub mod session;
pub mod tray;

pub use commands::AppState;

use tauri::{Manager, Runtime, WindowEvent};

/// The app, generic over the runtime (tests use Tauri's mock runtime). `data_root` overrides
/// the platform's app data folder (`CONFAB_APP_DATA`, and tests).
pub fn app<R: Runtime>(
    builder: tauri::Builder<R>,
    data_root: Option<std::path::PathBuf>,
) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        .invoke_handler(tauri::generate_handler![
            commands::subscribe,
            commands::snapshot,
            commands::sign_in,
            commands::sign_out,
            commands::send_message,
            commands::join_room,
            commands::leave_room,
            commands::history,
            commands::typing,
            commands::set_unread,
            commands::retry_now,
        ])
        .setup(move |app| {
            let root = match data_root {
                Some(dir) => dir,
                None => app.path().app_data_dir()?,
            };
            // No tray host (some desktops, CI) is not a reason to fail: the window still works.
            let status = tray::build(app.handle()).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "no system tray");
                tray::TrayStatus::detached()
            });
            let state = AppState::new(root, status);
            state.resume();
            app.manage(state);
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window keeps Confab running in the tray, connected and notifying.
            if let WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                let _ = window.hide();
            }
        })
}

/// Builds and runs the app until the user quits from the tray.
pub fn run() {
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
        .plugin(tauri_plugin_window_state::Builder::default().build());
    let data_root = std::env::var_os("CONFAB_APP_DATA").map(Into::into);
    let app = match app(builder, data_root).build(tauri::generate_context!()) {
        Ok(app) => app,
        Err(err) => {
            eprintln!("confab-desktop failed to start: {err}");
            std::process::exit(1);
        }
    };
    app.run(|_, event| {
        // With the window hidden there are no windows left; only Quit (an explicit exit code)
        // ends the app.
        if let tauri::RunEvent::ExitRequested {
            api, code: None, ..
        } = event
        {
            api.prevent_exit();
        }
    });
}
