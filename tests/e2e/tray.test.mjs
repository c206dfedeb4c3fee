// The app as part of the desktop: its tray icon and menu (driven over D-Bus, as a panel does),
// closing the window to the tray, mute all, quit, and the window's size and place across
// launches. Same environment as chat.test.mjs (scripts/test.sh).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session, startDriver, waitFor } from "./webdriver.mjs";
import { cli, signIn, startServer } from "./services.mjs";
import { appPids, closeWindow, endSession, moveResize, trayClick, trayIcon, trayLook, trayMenu, windowState } from "./desktop.mjs";

const app = process.env.CONFAB_APP;
// Its own data folder: this app instance starts signed out, whatever other tests left.
const args = ["--data-dir", mkdtempSync(join(tmpdir(), "confab-tray-"))];
const dave = mkdtempSync(join(tmpdir(), "confab-dave-"));
let driver;
let server;
let s;
let icon;
let daemon;
let monitor;
let notified = "";

const statusLine = () => trayMenu(icon)[0].label;
const muteTicked = () => trayMenu(icon).find((i) => i.label.startsWith("Mute all")).checked;
const uiMutedAll = async () =>
  (await s.cmd("POST", "/execute/sync", { script: "return localStorage.getItem('confab.muted') ?? '[]'", args: [] })).includes('"*"');

async function launch() {
  // A still-running instance (an earlier test's, shutting down) would take this launch over.
  await waitFor("no other instance", () => appPids(app).length === 0);
  s = await Session.start(app, args);
  const pid = await waitFor("the app process", () => appPids(app)[0]);
  icon = await waitFor("the tray icon on the session bus", () => trayIcon(pid));
  return pid;
}

before(async () => {
  assert.ok(app, "CONFAB_APP must point at the built confab-desktop binary");
  server = await startServer();
  driver = await startDriver();
  // A real notification daemon, and a monitor of the Notify calls on this session bus.
  daemon = spawn("dunst", [], { stdio: "ignore" });
  monitor = spawn("dbus-monitor", ["--session", "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"]);
  monitor.stdout.on("data", (d) => (notified += d));
  await waitFor("the monitor to listen", () => notified.length > 0);
  await launch()
  const reg = cli(dave, ["register", "--server", server.url, "--user", "dave"], "password-of-dave\n");
  assert.equal(reg.status, 0, reg.stderr);
});

after(async () => {
  monitor?.kill();
  daemon?.kill();
  await endSession(s, app);
  driver?.kill();
  await server?.stop();
});

test("the tray shows the connection: signed out, then online", async () => {
  assert.equal(statusLine(), "Signed out");
  assert.equal(trayLook(icon), "offline")
  await signIn(s, server, "carol", "carol's long password", true);
  await s.type("#join-input", "lobby\uE007");
  await s.waitText("#room-header h2", (t) => t === "# lobby");
  await waitFor("the tray's status line", () => statusLine() === "Online as carol");
  assert.equal(trayLook(icon), "online");
});

test("closing the window hides it to the tray; Confab stays connected and notifies", async () => {
  const pid = appPids(app)[0];
  assert.ok(windowState().mapped);
  closeWindow();
  await waitFor("the window to hide", () => !windowState().mapped);
  assert.deepEqual(appPids(app), [pid], "still running");

  assert.equal(cli(dave, ["send", "lobby", "while the window is closed"]).status, 0);
  await waitFor("a notification", () => notified.includes("while the window is closed"));
  await waitFor("the unread icon", () => trayLook(icon) === "unread");

  trayClick(icon, "Show / hide");
  await waitFor("the window to come back", () => windowState().mapped);
  await waitFor("the message read, the icon back to online", () => trayLook(icon) === "online");
});

test("mute all from the tray silences notifications until unticked", async () => {
  trayClick(icon, "Mute all");
  await waitFor("the UI to take the setting", uiMutedAll);
  assert.equal(muteTicked(), true);
  // Another room shows, so lobby's messages would notify.
  await s.cmd("POST", `/element/${await s.find("#composer")}/value`, { text: "\uE009k\uE000" });
  await s.type("#switcher-input", "elsewhere\uE007");
  await s.waitText("#room-header h2", (t) => t === "# elsewhere");

  assert.equal(cli(dave, ["send", "lobby", "said while muted"]).status, 0);
  await waitFor("the unread badge", async () =>
    (await s.text('.room[data-room="lobby"] .unread').catch(() => "")) === "1");

  trayClick(icon, "Mute all");
  await waitFor("the UI to unmute", async () => !(await uiMutedAll()));
  assert.equal(cli(dave, ["send", "lobby", "said after unmuting"]).status, 0);
  await waitFor("a notification", () => notified.includes("said after unmuting"));
  assert.ok(!notified.includes("said while muted"), "nothing was raised while muted");
});

test("Quit from the tray ends Confab; the next launch restores window size, place and mute", async () => {
  moveResize(70, 50, 900, 620);
  await waitFor("the window to move", () => {
    const w = windowState();
    return w.x === 70 && w.y === 50 && w.width === 900 && w.height === 620;
  });
  trayClick(icon, "Mute all");
  await waitFor("the UI to take the setting", uiMutedAll);

  trayClick(icon, "Quit");
  await waitFor("the app to exit", () => appPids(app).length === 0);
  await s.end();

  await launch();
  await waitFor("the window where it was left", () => {
    const w = windowState();
    return w.mapped && w.x === 70 && w.y === 50 && w.width === 900 && w.height === 620;
  });
  await waitFor("the tray's tick to match the saved setting", () => muteTicked() === true);
  await waitFor("a silent sign-in", () => statusLine().startsWith("Online as carol"));
});
