// Self-update end to end: the .deb of version N is installed (tests/update/run.sh), a real
// confab-server publishes N+1 from its --updates-dir, and the installed app finds, downloads,
// verifies and installs it; a tampered package and a downgrade are refused.
// Environment: CONFAB_UPDATE_WORK (the built packages), CONFAB_VERSION_N, CONFAB_VERSION_N1.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session, startDriver, waitFor } from "../e2e/webdriver.mjs";
import { signIn, startServer } from "../e2e/services.mjs";
import { appPids, trayClick, trayIcon, trayMenu } from "../e2e/desktop.mjs";

const APP = "/usr/bin/confab-desktop";
const work = process.env.CONFAB_UPDATE_WORK;
const N = process.env.CONFAB_VERSION_N;
const N1 = process.env.CONFAB_VERSION_N1;
const artifacts = process.env.CONFAB_ARTIFACTS ?? "artifacts/update";
const published = mkdtempSync(join(tmpdir(), "confab-updates-"));
const profile = ["--data-dir", mkdtempSync(join(tmpdir(), "confab-update-app-"))];
let driver;
let server;
let s;

const installed = () =>
  spawnSync("dpkg-query", ["-W", "-f=${Version}", "confab"], { encoding: "utf8" }).stdout.trim();
const deb = (v) => `Confab_${v}_amd64.deb`;

/** Publishes version `v` on the server; `tamper` flips one byte of the package after signing. */
function publish(v, { tamper = false } = {}) {
  const file = tamper ? `Confab_${v}_tampered_amd64.deb` : deb(v);
  const bytes = readFileSync(join(work, deb(v)));
  if (tamper) bytes[Math.floor(bytes.length / 2)] ^= 0xff;
  writeFileSync(join(published, file), bytes);
  const manifest = {
    version: v,
    notes: `Confab ${v}`,
    pub_date: new Date().toISOString(),
    platforms: {
      "linux-x86_64-deb": {
        signature: readFileSync(join(work, `${deb(v)}.sig`), "utf8"),
        url: `${server.url}/updates/${file}`,
      },
    },
  };
  writeFileSync(join(published, "latest.json"), JSON.stringify(manifest));
}

const barText = () => s.text("#update-text");

async function launch() {
  await waitFor("no other instance", () => appPids(APP).length === 0);
  s = await Session.start(APP, profile);
  const pid = await waitFor("the app process", () => appPids(APP)[0]);
  return { pid, icon: await waitFor("the tray icon", () => trayIcon(pid)) };
}

async function shot(name) {
  writeFileSync(join(artifacts, `${name}.png`), await s.screenshot());
}

before(async () => {
  assert.ok(work && N && N1, "run through tests/update/run.sh");
  assert.equal(installed(), N, "version N is installed");
  server = await startServer(undefined, 0, ["--updates-dir", published]);
  driver = await startDriver();
  await launch();
});

after(async () => {
  await s?.end();
  driver?.kill();
  await server?.stop();
});

test("a tampered package is refused, and this version keeps working", async () => {
  publish(N1, { tamper: true });
  await signIn(s, server, "erin", "erin's long password", true);
  // Signing in looks for updates quietly: the bar appears because there is one.
  await waitFor("the update bar", async () => (await barText()) === `Update v${N1} available`);
  await shot("update-available");
  await s.click("#update-install");
  await waitFor("the refusal", async () => (await barText()).includes("not signed with Confab's release key"));
  await shot("update-refused");
  assert.equal(installed(), N, "nothing was installed");

  await s.type("#join-input", "general\uE007");
  await s.waitText("#room-header h2", (t) => t === "# general");
  await s.type("#composer", "still here\uE007");
  await waitFor("the ack", async () =>
    (await s.cmd("POST", "/execute/sync", {
      script: "return [...document.querySelectorAll('#messages .message .status')].map(e => e.textContent)",
      args: [],
    })).includes("sent"));
});

test("a signed update downloads with progress, installs, and runs after a restart", async () => {
  publish(N1);
  // Record every text the bar shows: the download on loopback is over in a blink.
  await s.cmd("POST", "/execute/sync", {
    script: `window.__bar = [];
      new MutationObserver(() => {
        const t = document.getElementById("update-text")?.textContent;
        if (t && window.__bar.at(-1) !== t) window.__bar.push(t);
      }).observe(document.getElementById("update-slot"), { childList: true, subtree: true, characterData: true });`,
    args: [],
  });
  const { pid, icon } = { pid: appPids(APP)[0], icon: trayIcon(appPids(APP)[0]) };
  trayClick(icon, "Check for updates");
  await waitFor("the update bar", async () => (await barText()) === `Update v${N1} available`);
  await s.click("#update-install");
  await waitFor("the restart button", () => s.find("#update-restart"));
  await shot("update-ready");
  const seen = await s.cmd("POST", "/execute/sync", { script: "return window.__bar", args: [] });
  assert.ok(seen.some((t) => /^Downloading v.+ \d+ %$/.test(t)), `progress was shown: ${JSON.stringify(seen)}`);
  assert.equal(await barText(), `Confab ${N1} is installed.`);
  assert.equal(installed(), N1, "the package manager has the new version");

  // The app exits under this click: its answer may never come.
  await s.cmd("POST", `/element/${await s.find("#update-restart")}/click`, {}).catch(() => {});
  const next = await waitFor("the restarted app", () => appPids(APP).find((p) => p !== pid));
  const after = await waitFor("its tray icon", () => trayIcon(next));
  await waitFor("the new version running", () =>
    trayMenu(after).some((i) => i.label === `Check for updates (v${N1})…`));
});

test("an older version on the server is refused in words", async () => {
  // The restarted app is not under WebDriver: quit it and open the new version in a session.
  const running = await waitFor("the restarted app", () => trayIcon(appPids(APP)[0]));
  trayClick(running, "Quit");
  await s.end();
  const { icon } = await launch();
  assert.ok(trayMenu(icon).some((i) => i.label === `Check for updates (v${N1})…`));
  publish(N);
  trayClick(icon, "Check for updates");
  await waitFor("the refusal", async () =>
    (await barText()) === `The server offers Confab ${N}, which is older than this ${N1}; it was not installed.`);
  await shot("update-downgrade-refused");
  assert.equal(installed(), N1);
});
