//! The Confab desktop app: thin Tauri glue around the client core (`confab-client`).
//!
//! - [`commands`]: what the UI can ask for; [`AppState`] holds the one signed-in [`session`].
//! - [`session`]: one client core per account, and the task forwarding its events to the UI
//!   over a `Channel` the UI created (so no event is emitted before anyone listens).
//! - [`errors`]: `{code, message}` for the UI, in words a user understands.
//!
//! [`app`] builds the app for any runtime, so the real app and the mock-runtime tests share it.

pub mod commands;
pub mod errors;
pub mod session;

pub use commands::AppState;

use tauri::{Manager, Runtime};

/// The app, generic over the runtime (tests use Tauri's mock runtime).
pub fn app<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_notification::init())
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
            commands::retry_now,
        ])
        .setup(|app| {
            let root = match std::env::var_os("CONFAB_APP_DATA") {
                Some(dir) => dir.into(),
                None => app.path().app_data_dir()?,
            };
            let state = AppState::new(root);
            state.resume();
            app.manage(state);
            Ok(())
        })
}

/// Builds and runs the app until the user quits.
pub fn run() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONFAB_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .try_init();
    let result = app(tauri::Builder::default()).run(tauri::generate_context!());
    if let Err(err) = result {
        eprintln!("confab-desktop failed to start: {err}");
        std::process::exit(1);
    }
}
