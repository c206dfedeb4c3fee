// Conversations in the app, with the CLI as the other side: a dm between the two, a mention
// notifying (seen on D-Bus) in a room set to notify on mentions only, and a read on another
// device of the same user (the CLI) clearing the app's badge. Same environment as
// chat.test.mjs (scripts/test.sh).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session, startDriver, waitFor } from "./webdriver.mjs";
import { cli, signIn, startServer } from "./services.mjs";
import { appPids, endSession } from "./desktop.mjs";

const app = process.env.CONFAB_APP;
// Its own data folder: this app instance starts signed out, whatever other tests left.
const args = ["--data-dir", mkdtempSync(join(tmpdir(), "confab-conv-"))];
const frank = mkdtempSync(join(tmpdir(), "confab-frank-"));
// Erin's second device: the CLI signed in as the app's user.
const erinCli = mkdtempSync(join(tmpdir(), "confab-erin-cli-"));
const ERIN_PASSWORD = "erin's long password";
let driver;
let server;
let s;
let daemon;
let monitor;
let notified = "";

const bodies = () =>
  s.cmd("POST", "/execute/sync", {
    script: "return [...document.querySelectorAll('#messages .message .body')].map(b => b.textContent)",
    args: [],
  });
const badge = (room, kind) => s.text(`.room[data-room="${room}"] .${kind}`).catch(() => null);

before(async () => {
  assert.ok(app, "CONFAB_APP must point at the built confab-desktop binary");
  server = await startServer();
  driver = await startDriver();
  daemon = spawn("dunst", [], { stdio: "ignore" });
  monitor = spawn("dbus-monitor", ["--session", "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"]);
  monitor.stdout.on("data", (d) => (notified += d));
  await waitFor("the monitor to listen", () => notified.length > 0);
  await waitFor("no other instance", () => appPids(app).length === 0);
  s = await Session.start(app, args);
  await signIn(s, server, "erin", ERIN_PASSWORD, true);
  const reg = cli(frank, ["register", "--server", server.url, "--user", "frank"], "password-of-frank\n");
  assert.equal(reg.status, 0, reg.stderr);
});

after(async () => {
  monitor?.kill();
  daemon?.kill();
  await endSession(s, app);
  driver?.kill();
  await server?.stop();
});

test("a dm from the CLI appears under Direct messages, and the app answers in it", async () => {
  const sent = cli(frank, ["dm", "erin", "hello erin, just us"]);
  assert.equal(sent.status, 0, sent.stderr);
  const dm = await waitFor("the dm in the sidebar", () =>
    s.cmd("POST", "/execute/sync", {
      script: `const b = document.querySelector('ul[aria-label="Direct messages"] .room');
        return b ? [b.dataset.room, b.querySelector('.name').textContent] : null;`,
      args: [],
    }));
  assert.equal(dm[1], "frank", "a dm is named by the other person");
  await s.click(`.room[data-room="${dm[0]}"]`);
  await s.waitText("#room-header h2", (t) => t.trim() === "frank");
  await waitFor("frank's message", async () => (await bodies()).includes("hello erin, just us"));
  await s.type("#composer", "hi frank, from the app\uE007");
  // Frank sees the answer on his side: his room list counts it unread.
  await waitFor("the answer on the CLI's side", () => {
    const r = cli(frank, ["rooms", "--json"]);
    const rooms = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const theirs = rooms.find((x) => x.room === dm[0]);
    return theirs && theirs.unread === 1 && theirs.users.join(",") === "erin,frank";
  });
});

test("a room set to mentions notifies only for a message that names you", async () => {
  await s.type("#join-input", "team\uE007");
  await s.waitText("#room-header h2", (t) => t === "# team");
  await s.cmd("POST", "/execute/sync", {
    script: "const l = document.getElementById('notify-level'); l.value = 'mentions'; l.dispatchEvent(new Event('change', { bubbles: true }));",
    args: [],
  });
  // Another room in front: team's messages would notify at level "all".
  await s.click('ul[aria-label="Direct messages"] .room');
  await s.waitText("#room-header h2", (t) => t.trim() === "frank");
  assert.equal(cli(frank, ["send", "team", "nothing for erin here"]).status, 0);
  assert.equal(cli(frank, ["send", "team", "hey @erin, can you look?"]).status, 0);
  await waitFor("a Notify call on the bus", () => notified.includes("frank mentioned you in #team"));
  assert.ok(!notified.includes("nothing for erin here"), "a message without a mention stayed quiet");
  await waitFor("the mention badge", async () => (await badge("team", "mentions")) === "@1");
  assert.equal(await badge("team", "unread"), "2");
});

test("reading the room on another device (the CLI) clears the app's badge within a second", async () => {
  const login = cli(erinCli, ["login", "--server", server.url, "--user", "erin"], `${ERIN_PASSWORD}\n`);
  assert.equal(login.status, 0, login.stderr);
  const read = cli(erinCli, ["read", "team"]);
  assert.equal(read.status, 0, read.stderr);
  // The CLI returns once the server has recorded the read and told every device.
  await waitFor("the badges to clear", async () => (await badge("team", "unread")) === null && (await badge("team", "mentions")) === null, 1000);
});
