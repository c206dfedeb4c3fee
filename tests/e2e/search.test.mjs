// Search in the real window against the real server, with the CLI as the other side: a
// message far back in a long room is found (its words marked), the jump opens the room at it
// with only its neighbourhood loaded, and "Jump to newest" brings the present back. Same
// environment as chat.test.mjs (scripts/test.sh).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session, startDriver, waitFor } from "./webdriver.mjs";
import { cli, signIn, startServer } from "./services.mjs";
import { appPids, endSession } from "./desktop.mjs";

const app = process.env.CONFAB_APP;
const args = ["--data-dir", mkdtempSync(join(tmpdir(), "confab-search-"))];
const hank = mkdtempSync(join(tmpdir(), "confab-hank-"));
let driver;
let server;
let s;

/** Appends `n` messages ("later 2" …) after what `room` holds: a bulk load of the server's
 * database, so the message the test looks for is far back. */
function appendTo(room, n) {
  const r = spawnSync("python3", ["-c", `
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=10)
room, n = sys.argv[2], int(sys.argv[3])
with db:
    rid, last = db.execute("SELECT id, last_seq FROM rooms WHERE name = ?", (room,)).fetchone()
    now = int(time.time() * 1000)
    db.executemany("INSERT INTO messages (room_id, seq, client_id, author, body, ts_ms) VALUES (?, ?, ?, 'hank', ?, ?)",
        [(rid, s, f"bulk-{s}", f"later {s}", now + s) for s in range(last + 1, last + n + 1)])
    db.execute("UPDATE rooms SET last_seq = ? WHERE id = ?", (last + n, rid))
`, join(server.dir, "server.db"), room, String(n)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`appending to ${room}: ${r.stderr}`);
}

const drawnSeqs = () =>
  s.cmd("POST", "/execute/sync", {
    script: "return [...document.querySelectorAll('#messages article[data-seq]')].map(a => Number(a.dataset.seq))",
    args: [],
  });

before(async () => {
  assert.ok(app, "CONFAB_APP must point at the built confab-desktop binary");
  server = await startServer();
  driver = await startDriver();
  await waitFor("no other instance", () => appPids(app).length === 0);
  const reg = cli(hank, ["register", "--server", server.url, "--user", "hank"], "password-of-hank\n");
  assert.equal(reg.status, 0, reg.stderr);
  const sent = cli(hank, ["send", "archive", "we agreed: the deploy is on Friday"]);
  assert.equal(sent.status, 0, sent.stderr);
  appendTo("archive", 400);
  s = await Session.start(app, args);
  await signIn(s, server, "gina", "gina's long password", true);
});

after(async () => {
  await endSession(s, app);
  driver?.kill();
  await server?.stop();
});

test("a search finds a message far back, and the jump opens the room at it, then back to the newest", async () => {
  await s.type("#join-input", "archive\uE007");
  await s.waitText("#room-header h2", (t) => t === "# archive");
  await waitFor("the newest message", async () => (await drawnSeqs()).includes(401));
  assert.ok(!(await drawnSeqs()).includes(1), "the first message is not loaded yet");

  await s.click("#search-open");
  await s.type("#search-input", "deploy friday\uE007");
  const marks = await waitFor("the hit", () =>
    s.cmd("POST", "/execute/sync", {
      script: "return [...document.querySelectorAll('#search-results .hit[data-seq=\"1\"] mark')].map(m => m.textContent)",
      args: [],
    }).then((m) => (m.length ? m : null)));
  assert.deepEqual(marks, ["deploy", "Friday"], "the matched words are marked");
  assert.equal((await s.text("#search-results .group h3")).toLowerCase(), "#archive", "grouped under its room");

  await s.click('#search-results .hit[data-room="archive"][data-seq="1"]');
  await waitFor("the room at the hit", async () => (await drawnSeqs()).includes(1));
  const around = await drawnSeqs();
  assert.ok(!around.includes(401), `only the hit's neighbourhood is loaded: ${around.at(-1)}`);

  await s.click("#search .close");
  await s.click("#jump-newest");
  await waitFor("the newest message again", async () => (await drawnSeqs()).includes(401));
});
