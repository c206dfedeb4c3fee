//! The system tray: an icon that shows online, offline, unread or mentioned (a message that
//! names you is waiting: its own icon, and the count in the status line), and a menu with the
//! connection status, show/hide, mute all and quit. Closing the window hides it here.

use confab_client::ConnState;
use std::sync::{Mutex, PoisonError};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem};
use tauri::tray::{MouseButton, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Emitter, Manager, Runtime};

/// Which icon the tray shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    Online,
    Offline,
    Unread,
    /// Unread messages that mention the user.
    Mention,
}

/// Draws a status text and icon on the real tray.
pub type Draw = Box<dyn Fn(&str, Look) + Send + Sync>;

/// What the tray shows, derived from the connection state and the unread count. The drawing is
/// behind a closure so this works (and is tested) without a tray.
pub struct TrayStatus {
    now: Mutex<Now>,
    draw: Draw,
    check_mute: Box<dyn Fn(bool) + Send + Sync>,
}

/// The connection's words, whether it is open, and the unread and mention counts.
#[derive(Debug, Default)]
struct Now {
    text: String,
    online: bool,
    unread: u32,
    mentions: u32,
}

impl std::fmt::Debug for TrayStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrayStatus").finish_non_exhaustive()
    }
}

impl TrayStatus {
    pub fn new(draw: Draw) -> Self {
        Self {
            now: Mutex::new(Now {
                text: "Signed out".into(),
                ..Now::default()
            }),
            draw,
            check_mute: Box::new(|_| {}),
        }
    }

    /// Also ticks or clears the menu's "Mute all" when the UI reports its setting.
    pub fn with_mute_check(mut self, check: impl Fn(bool) + Send + Sync + 'static) -> Self {
        self.check_mute = Box::new(check);
        self
    }

    /// The UI owns the "mute all" setting (it raises the notifications); at start it tells the
    /// tray, so the menu's tick matches what is really muted.
    pub fn set_mute_all(&self, muted: bool) {
        (self.check_mute)(muted);
    }

    /// A status with nothing to draw on (tests, or no tray on this desktop).
    pub fn detached() -> Self {
        Self::new(Box::new(|_, _| {}))
    }

    fn redraw(&self, now: &Now) {
        let look = match now {
            Now { mentions: 1.., .. } => Look::Mention,
            Now { unread: 1.., .. } => Look::Unread,
            Now { online: true, .. } => Look::Online,
            _ => Look::Offline,
        };
        let text = match (now.unread, now.mentions) {
            (0, 0) => now.text.clone(),
            (n, 0) => format!("{} · {n} unread", now.text),
            (n, 1) => format!("{} · {n} unread, 1 mention", now.text),
            (n, m) => format!("{} · {n} unread, {m} mentions", now.text),
        };
        (self.draw)(&text, look);
    }

    pub fn set_state(&self, state: &ConnState) {
        let (text, online) = match state {
            ConnState::Open { user } => (format!("Online as {user}"), true),
            ConnState::Connecting { .. } => ("Connecting…".to_owned(), false),
            ConnState::Reconnecting { .. } => ("Offline — retrying".to_owned(), false),
            ConnState::Offline => ("Offline".to_owned(), false),
            ConnState::AuthFailed { .. } => ("Signed out".to_owned(), false),
        };
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        now.text = text;
        now.online = online;
        self.redraw(&now);
    }

    /// Unread messages, and how many of them mention the user.
    pub fn set_unread(&self, unread: u32, mentions: u32) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        now.unread = unread;
        now.mentions = mentions;
        self.redraw(&now);
    }
}

fn icon(look: Look) -> tauri::Result<Image<'static>> {
    let bytes: &'static [u8] = match look {
        Look::Online => include_bytes!("../../icons/tray-online.png"),
        Look::Offline => include_bytes!("../../icons/tray-offline.png"),
        Look::Unread => include_bytes!("../../icons/tray-unread.png"),
        Look::Mention => include_bytes!("../../icons/tray-mention.png"),
    };
    Image::from_bytes(bytes)
}

/// Shows the main window and brings it to the front.
pub fn show<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

fn toggle<R: Runtime>(app: &AppHandle<R>) {
    if let Some(w) = app.get_webview_window("main") {
        if w.is_visible().unwrap_or(false) {
            let _ = w.hide();
        } else {
            show(app);
        }
    }
}

/// Builds the tray and returns the status that drives it.
pub fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<TrayStatus> {
    let status = MenuItem::with_id(app, "status", "Signed out", false, None::<&str>)?;
    let show_hide = MenuItem::with_id(app, "toggle", "Show / hide Confab", true, None::<&str>)?;
    let mute = CheckMenuItem::with_id(
        app,
        "mute_all",
        "Mute all notifications",
        true,
        false,
        None::<&str>,
    )?;
    // The running version, where a user (and the update test) can read it.
    let update_label = format!("Check for updates (v{})…", app.package_info().version);
    let update = MenuItem::with_id(app, "update", update_label, true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Confab", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&status, &show_hide, &mute, &update, &quit])?;
    let mute_item = mute.clone();
    let mute_check = mute.clone();
    let tray = TrayIconBuilder::with_id("main")
        .icon(icon(Look::Offline)?)
        .tooltip("Confab")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(move |app, event| match event.id().as_ref() {
            "toggle" => toggle(app),
            "mute_all" => {
                let muted = mute_item.is_checked().unwrap_or(false);
                let _ = app.emit("mute_all", muted);
            }
            "update" => {
                // The answer shows in the window's update bar.
                show(app);
                let server = app
                    .try_state::<crate::DesktopState>()
                    .and_then(|s| s.server());
                tauri::async_runtime::spawn(crate::update::check(app.clone(), server, false));
            }
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                ..
            } = event
            {
                show(tray.app_handle());
            }
        })
        .build(app)?;
    // Menu and tray calls made off the main thread wait for the main thread to run them, and
    // the callers hold the status lock, which a command on the main thread may be waiting
    // for: a deadlock (seen in CI). So the drawing is only queued to the main thread, in the
    // order the changes happened, and never waited for.
    let main = app.clone();
    let main_too = app.clone();
    Ok(TrayStatus::new(Box::new(move |text, look| {
        let (status, tray, text) = (status.clone(), tray.clone(), text.to_owned());
        let _ = main.run_on_main_thread(move || {
            let _ = status.set_text(&text);
            if let Ok(image) = icon(look) {
                let _ = tray.set_icon(Some(image));
            }
            let _ = tray.set_tooltip(Some(format!("Confab — {text}")));
        });
    }))
    .with_mute_check(move |muted| {
        let item = mute_check.clone();
        let _ = main_too.run_on_main_thread(move || {
            let _ = item.set_checked(muted);
        });
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_icon_follows_connection_and_unread() {
        let drawn = Arc::new(Mutex::new(Vec::new()));
        let d = Arc::clone(&drawn);
        let status = TrayStatus::new(Box::new(move |text, look| {
            d.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((text.to_owned(), look));
        }));
        status.set_state(&ConnState::Open {
            user: "alice".into(),
        });
        status.set_unread(3, 0);
        status.set_unread(3, 1);
        status.set_state(&ConnState::Reconnecting {
            attempt: 1,
            retry_in_ms: 1,
            retry_at_ms: 1,
            reason: String::new(),
        });
        status.set_unread(0, 0);
        let drawn = drawn.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let looks: Vec<Look> = drawn.iter().map(|(_, l)| *l).collect();
        assert_eq!(
            looks,
            [
                Look::Online,
                Look::Unread,
                Look::Mention,
                Look::Mention,
                Look::Offline
            ]
        );
        assert_eq!(drawn[0].0, "Online as alice");
        assert_eq!(drawn[2].0, "Online as alice · 3 unread, 1 mention");
        assert_eq!(drawn[4].0, "Offline — retrying");
    }
}
