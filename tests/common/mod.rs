//! Calling the app's commands through Tauri's IPC on the mock runtime, as the page does.

use serde_json::Value;
use tauri::WebviewWindow;
use tauri::ipc::{CallbackFn, InvokeBody, InvokeResponseBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response};
use tauri::webview::InvokeRequest;

/// One command with JSON arguments; its answer as the page gets it (JSON or raw bytes).
pub(crate) fn call(
    webview: &WebviewWindow<MockRuntime>,
    cmd: &str,
    args: Value,
) -> Result<InvokeResponseBody, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        // The webview's own URL: a request from anywhere else is not local and needs an ACL.
        url: webview.url().unwrap_or_else(|e| panic!("{e}")),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(webview, request)
}

/// [`call`] for a command that answers JSON.
#[allow(dead_code)] // not every test file uses both
pub(crate) fn invoke(
    webview: &WebviewWindow<MockRuntime>,
    cmd: &str,
    args: Value,
) -> Result<Value, Value> {
    call(webview, cmd, args).map(|r| r.deserialize::<Value>().unwrap_or(Value::Null))
}

/// The app on the mock runtime with its main window. The mock runtime does not run `setup`
/// until its event loop turns: the state `setup` makes is managed here.
pub(crate) fn window(
    data: &std::path::Path,
) -> (tauri::App<MockRuntime>, WebviewWindow<MockRuntime>) {
    use tauri::Manager;
    use tauri::test::{mock_builder, mock_context, noop_assets};
    let app = confab_desktop::app(mock_builder(), Some(data.to_owned()))
        .build(mock_context(noop_assets()))
        .unwrap_or_else(|e| panic!("build: {e}"));
    app.manage(confab_desktop::DesktopState::new(
        data.to_owned(),
        confab_desktop::tray::TrayStatus::detached(),
    ));
    app.manage(confab_desktop::files::Picked::default());
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap_or_else(|e| panic!("webview: {e}"));
    (app, webview)
}
