// Messages that change, between the app and the CLI: Markdown drawn as elements (a code block
// included), the CLI's edit, reaction and deletion reaching the window, and the window's reply,
// reaction, Up-arrow edit and deletion reaching the CLI, each once. Same environment as
// chat.test.mjs (scripts/test.sh).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session, startDriver, waitFor } from "./webdriver.mjs";
import { BIN, cli, signIn, startServer } from "./services.mjs";
import { appPids, endSession } from "./desktop.mjs";

const app = process.env.CONFAB_APP;
const args = ["--data-dir", mkdtempSync(join(tmpdir(), "confab-changes-"))];
const hank = mkdtempSync(join(tmpdir(), "confab-hank-"));
const artifacts = process.env.CONFAB_ARTIFACTS ?? "artifacts/e2e";
const FIRST = "teh plan for **friday**:\n```\ncargo test --workspace\n```";
let driver;
let server;
let s;

const js = (script, ...args) => s.cmd("POST", "/execute/sync", { script, args });
/** The row whose text starts with `start`, as a CSS selector on its seq. */
const rowSel = async (start) => {
  const seq = await waitFor(`a row starting "${start}"`, () =>
    js(`for (const m of document.querySelectorAll('#messages .message'))
          if (m.querySelector('.body').textContent.startsWith(arguments[0]) && m.dataset.seq) return m.dataset.seq;
        return null;`, start));
  return `#messages article[data-seq="${seq}"]`;
};

/** Hank's view through `confab tail`: the room's entries as JSON objects, read until `done`. */
function tailUntil(what, done) {
  const dir = hank;
  const p = spawn(join(BIN, "confab"), ["--data-dir", dir, "tail", "general", "--after", "0"]);
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  const lines = () => out.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  return waitFor(what, () => (done(lines()) ? lines() : null)).finally(() => p.kill("SIGINT"));
}

before(async () => {
  assert.ok(app, "CONFAB_APP must point at the built confab-desktop binary");
  server = await startServer();
  driver = await startDriver();
  await waitFor("no other instance", () => appPids(app).length === 0);
  s = await Session.start(app, args);
  await signIn(s, server, "gina", "gina's long password", true);
  const reg = cli(hank, ["register", "--server", server.url, "--user", "hank"], "password-of-hank\n");
  assert.equal(reg.status, 0, reg.stderr);
  assert.equal(cli(hank, ["send", "general", FIRST]).status, 0);
  await s.type("#join-input", "general\uE007");
  await s.waitText("#room-header h2", (t) => t === "# general");
});

after(async () => {
  await endSession(s, app);
  driver?.kill();
  await server?.stop();
});

test("Markdown is drawn as elements: bold and a fenced code block", async () => {
  const row = await rowSel("teh plan");
  assert.equal(await s.text(`${row} .body strong`), "friday");
  assert.equal(await s.text(`${row} .body pre code`), "cargo test --workspace");
  const html = await js("return document.querySelectorAll('#messages .body script, #messages .body img').length");
  assert.equal(html, 0);
});

test("the CLI's edit, reaction and deletion reach the window", async () => {
  assert.equal(cli(hank, ["edit", "general", "1", "the plan for **friday**: ship"]).status, 0);
  const row = await rowSel("the plan");
  await s.waitText(`${row} .edited`, (t) => t === "(edited)");
  assert.equal(cli(hank, ["react", "general", "1", "🎉"]).status, 0);
  await s.waitText(`${row} .reaction`, (t) => t.replace(/\s/g, "") === "🎉1");
  assert.equal(cli(hank, ["send", "general", "never mind this"]).status, 0);
  await rowSel("never mind this");
  assert.equal(cli(hank, ["delete", "general", "4"]).status, 0);
  await waitFor("the deleted message gone", async () =>
    (await js("return [...document.querySelectorAll('#messages .body')].some(b => b.textContent === 'never mind this')")) === false);
});

test("the window's reply, reaction, Up-arrow edit and deletion reach the CLI once each", async () => {
  const first = await rowSel("the plan");
  await s.hover(first);
  await s.click(`${first} .actions .reply`);
  await s.waitText(".context", (t) => t.includes("Replying to hank"));
  await s.type("#composer", "count me in\uE007");
  const reply = await rowSel("count me in");
  await s.waitText(`${reply} .quote`, (t) => t.includes("the plan for friday"));

  await s.hover(first);
  await s.click(`${first} .actions .react`);
  await s.click('.picker button[aria-label="React with 👍"]');
  await waitFor("our chip", async () =>
    (await js(`return [...document.querySelectorAll(arguments[0] + ' .reaction[aria-pressed="true"]')].map(c => c.textContent.replace(/\\s/g, ''))`, first)).includes("👍1"));

  // Up arrow in the empty box edits our newest message.
  await s.type("#composer", "\uE013");
  await s.waitText(".context", (t) => t.includes("Editing"));
  await s.type("#composer", "count me in, **twice**\uE007");
  await s.waitText(`${reply} .body strong`, (t) => t === "twice");

  await s.type("#composer", "oops, wrong room\uE007");
  const oops = await rowSel("oops, wrong room");
  await s.hover(oops);
  await s.click(`${oops} .actions .delete`);
  await s.click(`${oops} .actions .delete`);
  await waitFor("our deleted message gone", async () =>
    (await js("return [...document.querySelectorAll('#messages .body')].some(b => b.textContent === 'oops, wrong room')")) === false);

  // What a person sees: chips, the quoted line, the code block, the action bar on hover.
  await s.hover(first);
  writeFileSync(join(artifacts, "changes.png"), await s.screenshot());

  const entries = await tailUntil("the app's changes on the CLI's side", (l) => l.some((e) => e.type === "delete" && e.author === "gina"));
  const mine = entries.filter((e) => e.author === "gina");
  assert.deepEqual(mine.map((e) => e.type), ["message", "react", "edit", "message", "delete"], JSON.stringify(mine));
  const [answer, react, edit, , del] = mine;
  assert.equal(answer.reply_to, 1);
  // A replay serves a message in its current state; the edit follows in its place.
  assert.equal(answer.body, "count me in, **twice**");
  assert.deepEqual([react.target, react.emoji, react.on], [1, "👍", true]);
  assert.deepEqual([edit.target, edit.body], [answer.seq, "count me in, **twice**"]);
  assert.equal(del.target, mine[3].seq);
  assert.equal(mine[3].deleted, true, "the replay no longer carries the deleted text");
  assert.equal(new Set(entries.map((e) => e.seq)).size, entries.length, "each entry once");
});
