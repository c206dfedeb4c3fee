//! The Confab desktop app: thin Tauri glue around the client core.
//!
//! For now it opens the main window on the bundled UI (`ui/static`); the chat client, tray,
//! notifications and updater are wired in by later work. `run` is the only entry point, so
//! `main.rs` stays a single call.

/// Builds and runs the app until the user quits.
pub fn run() {
    let result = tauri::Builder::default().run(tauri::generate_context!());
    if let Err(err) = result {
        eprintln!("confab-desktop failed to start: {err}");
        std::process::exit(1);
    }
}
