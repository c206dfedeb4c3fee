// The desktop around the app, as the user meets it: the tray menu (the StatusNotifierItem
// menu the app exports on the session bus, driven the way a panel drives it), the window as
// X11 sees it (mapped or not, where, how big) and the window manager's close request.

import { spawnSync } from "node:child_process";
import { join } from "node:path";

const PYTHON = process.env.CONFAB_PYTHON ?? "python3";
const X11 = join(import.meta.dirname, "x11.py");

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.status} ${r.stderr}`);
  return r.stdout;
}

/** Ends a WebDriver session and makes sure the app it ran is gone. An app that outlives its
 * session (seen once in CI) keeps the test runner's output pipe open, and the run never ends. */
export async function endSession(s, app) {
  await s?.end();
  const deadline = Date.now() + 5000;
  while (appPids(app).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of appPids(app)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone meanwhile.
    }
  }
}

/** PIDs of the running app binary. */
export function appPids(app) {
  const r = spawnSync("pgrep", ["-f", `^${app}`], { encoding: "utf8" });
  return r.stdout.split("\n").filter(Boolean).map(Number);
}

/** The app window's X11 state: { mapped, x, y, width, height }. */
export function windowState(title = "Confab") {
  return JSON.parse(run(PYTHON, [X11, "state", title]));
}

/** What a title bar's close button does: WM_DELETE_WINDOW to the app. */
export function closeWindow(title = "Confab") {
  run(PYTHON, [X11, "close", title]);
}

/** What dragging the window's frame does. */
export function moveResize(x, y, width, height, title = "Confab") {
  run(PYTHON, [X11, "move-resize", title, String(x), String(y), String(width), String(height)]);
}

const ITEM = /^\/org\/ayatana\/NotificationItem\/[^/]+$/;

/** The app's tray icon on the session bus: { dest, path, menu }. */
export function trayIcon(pid) {
  const names = JSON.parse(run("busctl", ["--user", "--json=short", "list"]));
  for (const { name, pid: owner } of names) {
    if (owner !== pid || !name.startsWith(":")) continue;
    // A connection whose owner is still starting may not answer yet: ask again on the next poll.
    const tree = spawnSync("busctl", ["--user", "--list", "tree", name], { encoding: "utf8", timeout: 2_000 });
    const path = tree.stdout.split("\n").find((p) => ITEM.test(p));
    if (path) return { dest: name, path, menu: `${path}/Menu` };
  }
  return null;
}

/** The tray menu's items: [{ id, label, enabled, checked }]. */
export function trayMenu(icon) {
  const out = JSON.parse(
    run("busctl", ["--user", "--json=short", "call", icon.dest, icon.menu, "com.canonical.dbusmenu", "GetLayout", "iias", "0", "--", "-1", "0"]),
  );
  const [, [, , children]] = out.data;
  return children.map(({ data: [id, props] }) => ({
    id,
    label: props.label?.data ?? "",
    enabled: props.enabled?.data ?? true,
    checked: props["toggle-state"] ? props["toggle-state"].data === 1 : undefined,
  }));
}

/** Clicks the tray menu item whose label starts with `label`, as a panel does. */
export function trayClick(icon, label) {
  const item = trayMenu(icon).find((i) => i.label.startsWith(label));
  if (!item) throw new Error(`no tray menu item "${label}"`);
  try {
    run("busctl", ["--user", "call", icon.dest, icon.menu, "com.canonical.dbusmenu", "Event", "isvu", String(item.id), "clicked", "i", "0", "0"]);
  } catch (e) {
    // "Quit" ends the app under the click: it may leave the bus before it answers the call
    // (seen in CI). The click was delivered; whoever clicked waits for its effect anyway.
    if (!/disconnected from message bus without replying/.test(e.message)) throw e;
  }
}

/** The icon image file the tray currently shows. */
export function trayIconName(icon) {
  const out = JSON.parse(
    run("busctl", ["--user", "--json=short", "get-property", icon.dest, icon.path, "org.kde.StatusNotifierItem", "IconName"]),
  );
  return out.data;
}

/** Which of icons/tray-*.png the tray shows now ("online", "offline", "unread", "mention"), by pixels. */
export function trayLook(icon) {
  const shown = trayIconName(icon);
  for (const look of ["online", "offline", "unread", "mention"]) {
    const ref = join(import.meta.dirname, "..", "..", "icons", `tray-${look}.png`);
    // `compare -metric AE` prints the number of differing pixels (on stderr).
    const r = spawnSync("compare", ["-metric", "AE", shown, ref, "null:"], { encoding: "utf8" });
    if (r.stderr.trim() === "0") return look;
  }
  return null;
}

/** Titles of the windows on screen (the app's, and any the system shows, e.g. a keyring's
 * unlock prompt). */
export function windowTitles() {
  return run(PYTHON, [X11, "titles"]).split("\n").filter(Boolean);
}

const KEYRING = join(import.meta.dirname, "keyring.py");

/** Locks the session's keyring, as the desktop does on a screen lock or after a timeout. */
export function lockKeyring() {
  run(PYTHON, [KEYRING, "lock"]);
}

/** Unlocks it with its password (scripts/desktop-session.sh), as logging in does. */
export function unlockKeyring(password = "session") {
  run(PYTHON, [KEYRING, "unlock", password]);
}

/** Whether the session's keyring is locked. */
export function keyringLocked() {
  return run(PYTHON, [KEYRING, "locked"]).trim() === "true";
}
