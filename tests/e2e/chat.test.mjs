// The desktop app end to end: a real window under Xvfb driven through WebDriver, a real
// confab-server, the real Secret Service keyring (gnome-keyring in this D-Bus session) and the
// confab CLI as a second user. See scripts/test.sh for the environment.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session, startDriver, waitFor } from "./webdriver.mjs";
import { cli, seedRoom, startServer } from "./services.mjs";
import { closeWindow, endSession, keyringLocked, lockKeyring, unlockKeyring, windowTitles } from "./desktop.mjs";

const app = process.env.CONFAB_APP;
const artifacts = process.env.CONFAB_ARTIFACTS ?? "artifacts/e2e";
let driver;
let server;
let s;
const bob = mkdtempSync(join(tmpdir(), "confab-bob-"));

async function shot(name) {
  // Let the page paint what the DOM already holds before capturing it.
  await s.cmd("POST", "/execute/async", {
    script: "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(done));",
    args: [],
  });
  writeFileSync(join(artifacts, `${name}.png`), await s.screenshot());
}

/** The status label of our message with this body. */
async function statusOf(body) {
  return s.cmd("POST", "/execute/sync", {
    script: `for (const li of document.querySelectorAll('#messages .message')) {
      if (li.querySelector('.body').textContent === arguments[0]) return li.querySelector('.status')?.textContent ?? null;
    } return null;`,
    args: [body],
  });
}

async function bodies() {
  return s.cmd("POST", "/execute/sync", {
    script: "return [...document.querySelectorAll('#messages .message .body')].map(b => b.textContent)",
    args: [],
  });
}

// A stand-in for the system browser: records the URLs it is asked to open.
const opened = join(mkdtempSync(join(tmpdir(), "confab-browser-")), "opened.txt");

before(async () => {
  assert.ok(app, "CONFAB_APP must point at the built confab-desktop binary");
  mkdirSync(artifacts, { recursive: true });
  const browser = join(tmpdir(), `confab-browser-${process.pid}.sh`);
  writeFileSync(browser, `#!/bin/sh\necho "$1" >> "${opened}"\n`);
  chmodSync(browser, 0o755);
  process.env.BROWSER = browser; // inherited by tauri-driver, WebKitWebDriver and the app
  // xdg-open prefers the desktop's default https handler over $BROWSER (a browser installed on
  // the machine would be launched): make the recorder that default in this throw-away home.
  const data = process.env.XDG_DATA_HOME, config = process.env.XDG_CONFIG_HOME;
  if (data && config) {
    mkdirSync(join(data, "applications"), { recursive: true });
    writeFileSync(join(data, "applications", "confab-test-browser.desktop"),
      `[Desktop Entry]\nType=Application\nName=Test browser\nExec=${browser} %u\nMimeType=x-scheme-handler/http;x-scheme-handler/https;\nNoDisplay=true\n`);
    mkdirSync(config, { recursive: true });
    writeFileSync(join(config, "mimeapps.list"),
      "[Default Applications]\nx-scheme-handler/https=confab-test-browser.desktop\nx-scheme-handler/http=confab-test-browser.desktop\n");
  }
  server = await startServer();
  driver = await startDriver();
  s = await Session.start(app);
});

after(async () => {
  await endSession(s, app);
  driver?.kill();
  await server?.stop();
});

test("register, join a room, send and see it acknowledged", async () => {
  assert.equal(await s.title(), "Confab", "the window opened on the bundled UI");
  await s.waitText("h1", (t) => t === "Confab");
  await s.type("#server", server.addr);
  await s.type("#username", "alice");
  await s.type("#password", "correct horse battery");
  await s.click("#create");
  await shot("sign-in");
  await s.click("#sign-in-btn");
  await waitFor("the chat view", () => s.find("#join-input"));
  await s.type("#join-input", "general\uE007");
  await s.waitText("#room-header h2", (t) => t === "# general");
  await s.type("#composer", "hello from the app\uE007");
  await waitFor("the ack", async () => (await statusOf("hello from the app")) === "sent");
});

test("a message from another client (the CLI) shows up", async () => {
  const reg = cli(bob, ["register", "--server", server.url, "--user", "bob"], "password-of-bob\n");
  assert.equal(reg.status, 0, reg.stderr);
  const sent = cli(bob, ["send", "general", "hi alice, from the CLI"]);
  assert.equal(sent.status, 0, sent.stderr);
  await waitFor("bob's message", async () => (await bodies()).includes("hi alice, from the CLI"));
  await shot("chat");
});

test("message text is never HTML", async () => {
  const evil = "<img src=x onerror=alert(1)> <b>bold?</b>";
  assert.equal(cli(bob, ["send", "general", evil]).status, 0);
  await waitFor("the evil message", async () => (await bodies()).includes(evil));
  const injected = await s.cmd("POST", "/execute/sync", {
    script: "return document.querySelectorAll('#messages img, #messages b').length",
    args: [],
  });
  assert.equal(injected, 0, "shown as text, no element was created");

  // A link is a link, but clicking it never takes the app's window away.
  assert.equal(cli(bob, ["send", "general", "docs at https://example.org/guide"]).status, 0);
  await waitFor("the link", async () => (await bodies()).includes("docs at https://example.org/guide"));
  const before = await s.cmd("GET", "/url");
  await s.click('#messages a[href="https://example.org/guide"]');
  // xdg-open hands the URL to $BROWSER, which the suite points at a recorder.
  await waitFor("the system browser to be asked", () => existsSync(opened) && readFileSync(opened, "utf8").includes("https://example.org/guide"));
  assert.equal(await s.cmd("GET", "/url"), before, "the window did not navigate");
  assert.ok(await s.find("#composer"), "the chat is still there");
});

test("offline: the banner says so, a new message queues, and goes out once when back", async () => {
  const { dir, port } = server;
  await server.stop();
  await s.waitText("#banner-text", (t) => t.startsWith("Offline"), "the offline banner");
  await s.type("#composer", "typed while offline\uE007");
  await waitFor("queued", async () => (await statusOf("typed while offline")) === "queued");
  // Once each: the UI draws the core's outbox, never a pending copy of a message already sent.
  const shown = await bodies();
  assert.equal(shown.filter((b) => b === "hello from the app").length, 1, `one row per message: ${shown}`);
  await shot("offline");
  server = await startServer(dir, port);
  await waitFor("delivered", async () => (await statusOf("typed while offline")) === "sent");
  await waitFor("the banner to go", async () => !(await s.find("#banner").catch(() => null)));
  const all = await bodies();
  assert.equal(all.filter((b) => b === "typed while offline").length, 1, "exactly once");
});

test("a message in another room raises one desktop notification, seen on D-Bus", async () => {
  // A real notification daemon, and a monitor of the Notify calls on this session bus.
  const daemon = spawn("dunst", [], { stdio: "ignore" });
  const monitor = spawn("dbus-monitor", ["--session", "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"]);
  let seen = "";
  monitor.stdout.on("data", (d) => (seen += d));
  try {
    // dbus-monitor prints its own subscription first: once output flows, it is listening.
    await waitFor("the monitor to listen", () => seen.length > 0);
    // Ctrl+K opens the room switcher; a name that is no room yet joins it.
    await s.cmd("POST", `/element/${await s.find("#composer")}/value`, { text: "\uE009k\uE000" });
    await waitFor("the room switcher", () => s.find("#switcher-input"));
    await s.type("#switcher-input", "other\uE007");
    await s.waitText("#room-header h2", (t) => t === "# other");
    assert.equal(cli(bob, ["send", "general", "ping from general"]).status, 0);
    await waitFor("a Notify call on the bus", () => seen.includes("bob in #general"));
    assert.ok(seen.includes("ping from general"), "the body is the message");
    await waitFor("an unread badge on #general", async () =>
      (await s.text('.room[data-room="general"] .unread').catch(() => "")) === "1");
    // The daemon really shows it (the screenshot of the whole screen includes the popup).
    await waitFor("dunst to display it", () =>
      Number(spawnSync("dunstctl", ["count", "displayed"], { encoding: "utf8" }).stdout.trim()) > 0);
    spawnSync("import", ["-window", "root", join(artifacts, "notification.png")]);
  } finally {
    monitor.kill();
    daemon.kill();
  }
  await s.click('.room[data-room="general"]');
  await s.waitText("#room-header h2", (t) => t === "# general");
});

test("a room with 10,000 messages opens with a bounded number of rows and pages back", async () => {
  seedRoom(server, "big", 10_000);

  await s.cmd("POST", `/element/${await s.find("#composer")}/value`, { text: "\uE009k\uE000" });
  await s.type("#switcher-input", "big\uE007");
  await s.waitText("#room-header h2", (t) => t === "# big");
  await waitFor("the newest message", async () => (await bodies()).at(-1) === "message 10000");
  const rows = async () => (await bodies()).length;
  const first = await rows();
  assert.ok(first <= 400, `${first} rows in the DOM for a 10,000-message room`);
  // Scrolling back draws older messages and drops newer ones: the DOM never holds more than
  // 600 rows, however far back the user goes — and it comes back the same way.
  // A viewport at a time, as a user scrolls: only the rows near the viewport are drawn.
  const scroll = (to) => s.cmd("POST", "/execute/sync", {
    script: `const l = document.getElementById('messages'); l.scrollTop += ${to === "top" ? "-" : ""}l.clientHeight; l.dispatchEvent(new Event('scroll'))`,
    args: [],
  });
  const drawn = async () => (await bodies()).filter((b) => b.startsWith("message ")).map((b) => Number(b.slice(8)));
  await waitFor("message 8000 after scrolling back", async () => {
    await scroll("top");
    const seqs = await drawn();
    assert.ok(seqs.length <= 600, `${seqs.length} rows while scrolling back`);
    return seqs.includes(8000);
  }, 120_000);
  assert.ok(!(await drawn()).includes(10000), "the newest rows left the DOM");
  await shot("big-room");
  await waitFor("the newest message after scrolling down again", async () => {
    await scroll("bottom");
    const seqs = await drawn();
    assert.ok(seqs.length <= 600, `${seqs.length} rows while scrolling down`);
    return seqs.at(-1) === 10000;
  }, 120_000);
  await s.click('.room[data-room="general"]');
  await s.waitText("#room-header h2", (t) => t === "# general");
});

test("restarting the app signs in silently and shows what is still queued, in place", async () => {
  const { dir, port } = server;
  await server.stop();
  await s.waitText("#banner-text", (t) => t.startsWith("Offline"), "the offline banner");
  await s.type("#composer", "queued across a restart\uE007");
  await waitFor("queued", async () => (await statusOf("queued across a restart")) === "queued");
  await s.end();
  s = await Session.start(app);
  await waitFor("the chat view without signing in", () => s.find("#join-input"));
  await waitFor("the queued message, in its room", async () => (await statusOf("queued across a restart")) === "queued");
  server = await startServer(dir, port);
  await waitFor("history", async () => (await bodies()).includes("hello from the app"));
  await waitFor("delivered", async () => (await statusOf("queued across a restart")) === "sent");
  const all = await bodies();
  assert.equal(all.filter((b) => b === "queued across a restart").length, 1, "exactly once");
});

test("launching Confab again hands over to the running instance", async () => {
  const second = spawn(app, [], { stdio: "ignore" });
  const exited = new Promise((resolve) => second.once("exit", (code) => resolve(code)));
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("still running"), 15_000))]);
  if (code === "still running") second.kill();
  assert.equal(code, 0, "the second launch exits and the first one stays");
  assert.ok(await s.find("#composer"), "the running window is still there");
});

test("a locked keyring is said where errors go, and once it is unlocked the app connects", async () => {
  await s.end();
  lockKeyring();
  assert.ok(keyringLocked());
  try {
    s = await Session.start(app);
    // The system asks for the keyring's password; the user closes its prompt (again, as each
    // retry asks again) until the app says what is wrong.
    const keyringError = async () => {
      for (const t of windowTitles()) if (t !== "Confab") closeWindow(t);
      return s.cmd("POST", "/execute/sync", {
        script: "return document.querySelector('#errors [data-code=keyring_unavailable]')?.textContent ?? null",
        args: [],
      });
    };
    const said = await waitFor("the keyring error in the errors area", keyringError, 60_000);
    assert.match(said, /keyring/i);
    assert.ok(await s.find("#banner"), "not online meanwhile");
    await shot("keyring-locked");
  } finally {
    unlockKeyring();
  }
  assert.ok(!keyringLocked());
  // Unlocked: the next retry reads the tokens, connects, and the error goes.
  await waitFor("online again", async () => {
    for (const t of windowTitles()) if (t !== "Confab") closeWindow(t);
    const left = await s.cmd("POST", "/execute/sync", {
      script: "return [document.querySelector('#banner') === null, document.querySelector('#errors') === null]",
      args: [],
    });
    return left.every(Boolean);
  }, 60_000);
});
