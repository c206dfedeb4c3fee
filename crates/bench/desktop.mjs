// The desktop app as a user runs it, measured (run by confab-bench inside Xvfb, a private D-Bus
// session and an unlocked keyring; see scripts/bench.sh):
// - memory of all its processes (the app, WebKit's web and network processes) with a
//   10,000-message room open, and their CPU while idle with it open: focused (the caret
//   blinking in the composer) and unfocused (the user is in another app);
// - socket → screen: another user sends CONFAB_BURST messages into the open room at 200 a
//   second (crates/bench/burst.py); each is timed from the server's time of storage (its `ts`,
//   set before the fan-out sends it) to its row being in the app's DOM;
// - start → first paint: launches of the signed-in app, timed from spawn to the "first paint"
//   line it logs once the UI's first frame is drawn.
// Prints one JSON line on stdout. Settings from the environment: CONFAB_APP (the app binary),
// CONFAB_BIN_DIR (confab-server), CONFAB_IDLE_SECS, CONFAB_SETTLE_SECS, CONFAB_LAUNCHES,
// CONFAB_BURST, CONFAB_BURST_RATE, CONFAB_PYTHON (a Python with `websockets`).

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { Session, startDriver, waitFor } from "../../tests/e2e/webdriver.mjs";
import { seedRoom, signIn, startServer } from "../../tests/e2e/services.mjs";

const app = process.env.CONFAB_APP;
const idleSecs = Number(process.env.CONFAB_IDLE_SECS ?? 60);
const launches = Number(process.env.CONFAB_LAUNCHES ?? 5);
const settleSecs = Number(process.env.CONFAB_SETTLE_SECS ?? 10);
const burst = Number(process.env.CONFAB_BURST ?? 2000);
// Messages a second: the goal's load (issue #16); other rates show where the time goes.
const BURST_RATE = Number(process.env.CONFAB_BURST_RATE ?? 200);
const TICKS = 100; // USER_HZ: /proc reports CPU time in 1/100 s on Linux

/** The app's process and every descendant (WebKit's helpers), from /proc. */
function tree(root) {
  const parent = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {} // gone meanwhile
  }
  const all = [root];
  for (let i = 0; i < all.length; i++) for (const [pid, pp] of parent) if (pp === all[i]) all.push(pid);
  return all;
}

function kb(file, field) {
  const line = readFileSync(file, "utf8").split("\n").find((l) => l.startsWith(field));
  return Number(line.split(/\s+/)[1]) * 1024;
}

/** Memory of `pids` together: RSS ("VmRSS:") counts shared libraries once per process, PSS
 * ("Pss:") shares them out among the processes mapping them. */
function memory(pids, field) {
  return pids.reduce((t, p) => t + kb(field === "Pss:" ? `/proc/${p}/smaps_rollup` : `/proc/${p}/status`, field), 0);
}

/** CPU seconds (user + kernel) of `pid` so far. */
function cpu(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

/** The app's main process: the binary WebKitWebDriver started. */
function appPid() {
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0")[0] === app) return Number(d);
    } catch {}
  }
  return null;
}

/** Asks a launched app to quit (SIGTERM, as a desktop logout does); kills it after 10 s. */
async function quit(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Milliseconds from each burst message's storage on the server to its row in the DOM. Rows
 * are looked for after every change to the message list, not only among added nodes, so that
 * a virtual list reusing a row element is timed too. */
async function socketToScreen(s) {
  await s.cmd("POST", "/execute/sync", {
    script: `window.__shown = new Map();
      // The page's frames while the burst lasts (the UI draws changes at the next frame).
      window.__frames = [];
      const frame = (t) => {
        window.__frames.push(t);
        if (!window.__burstOver) requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);
      const list = document.querySelector('#messages');
      const look = () => {
        const t = Date.now();
        for (const b of list.querySelectorAll('.message .body')) {
          const body = b.textContent;
          if (body.startsWith('burst ') && !window.__shown.has(body)) window.__shown.set(body, t);
        }
      };
      new MutationObserver(look).observe(list, { childList: true, subtree: true, characterData: true });`,
    args: [],
  });
  const sent = spawnSync(
    process.env.CONFAB_PYTHON ?? "python3",
    [new URL("burst.py", import.meta.url).pathname, server.url, "big", String(burst), String(BURST_RATE)],
    { encoding: "utf8", timeout: 120_000 },
  );
  if (sent.status !== 0) throw new Error(`the burst sender failed: ${sent.stderr}`);
  const stored = JSON.parse(sent.stdout.trim().split("\n").at(-1)).ts;
  const last = `burst ${burst - 1}`;
  await waitFor("the burst's last row", async () =>
    s.cmd("POST", "/execute/sync", { script: `return window.__shown.has(${JSON.stringify(last)})`, args: [] }), 30_000);
  const shown = await s.cmd("POST", "/execute/sync", { script: "return Object.fromEntries(window.__shown)", args: [] });
  const frames = await s.cmd("POST", "/execute/sync", { script: "window.__burstOver = true; return window.__frames", args: [] });
  result.frame_interval_ms = frames.slice(1).map((t, i) => t - frames[i]);
  // A row never drawn (scrolled past between two frames) would be a row the user did not see.
  return Object.entries(stored).map(([body, ts]) => (body in shown ? shown[body] - ts : null));
}

let launched = null; // the app of the current timed launch
// The sender's 200 frames a second are over the default per-connection rate.
const server = await startServer(undefined, 0, ["--rate-per-sec", "1000", "--rate-burst", "1000"]);
const driver = await startDriver();
const dataDir = mkdtempSync(join(tmpdir(), "confab-bench-app-"));
const result = {};
try {
  seedRoom(server, "big", 10_000);
  const s = await Session.start(app, ["--data-dir", dataDir]);
  // The floor: the app showing its sign-in form, nothing loaded.
  await waitFor("the sign-in form", () => s.find("#server"));
  await delay(settleSecs * 1000);
  const atSignIn = tree(appPid());
  result.empty_rss_bytes = memory(atSignIn, "VmRSS:");
  result.empty_pss_bytes = memory(atSignIn, "Pss:");
  await signIn(s, server, "bench", "bench-password-123", true);
  await s.type("#join-input", "big\uE007");
  await s.waitText("#room-header h2", (t) => t === "# big");
  const newest = () => s.cmd("POST", "/execute/sync", {
    script: "return [...document.querySelectorAll('#messages .message .body')].map(b => b.textContent).at(-1)",
    args: [],
  });
  await waitFor("the newest message", async () => (await newest()) === "message 10000", 60_000);

  // The load's aftermath (garbage collection, the web process trimming caches) is not idling.
  await delay(settleSecs * 1000);
  const pids = tree(appPid());
  const idle = async () => {
    const before = pids.reduce((t, p) => t + cpu(p), 0);
    await delay(idleSecs * 1000);
    return (100 * (pids.reduce((t, p) => t + cpu(p), 0) - before)) / idleSecs;
  };
  // Idle with the window focused: the caret blinks in the composer.
  await s.click("#composer");
  result.idle_focused_cpu_percent = await idle();
  // Idle with nothing focused in the window, as when the user is in another app (Xvfb has no
  // window manager to take the window's focus away; without a focused field there is no caret).
  await s.cmd("POST", "/execute/sync", { script: "document.activeElement?.blur()", args: [] });
  result.idle_cpu_percent = await idle();
  result.processes = pids.length;
  result.idle_secs = idleSecs;
  result.rss_bytes = memory(pids, "VmRSS:");
  result.pss_bytes = memory(pids, "Pss:");
  result.socket_to_screen_ms = await socketToScreen(s);
  await s.end();
  await waitFor("the app to quit", () => appPid() === null);

  // Start → first paint, signed in (the keyring has the tokens): a user's everyday start.
  result.first_paint_ms = [];
  for (let i = 0; i < launches; i++) {
    const started = performance.now();
    const proc = spawn(app, ["--data-dir", dataDir], {
      stdio: ["ignore", "pipe", "ignore"], // the app logs to stdout
      env: { ...process.env, CONFAB_LOG: "confab_desktop=info", NO_COLOR: "1" },
    });
    let log = "";
    const ms = await new Promise((resolve, reject) => {
      launched = proc;
      const timer = setTimeout(() => reject(new Error(`no first paint in 30 s: ${log}`)), 30_000);
      proc.stdout.on("data", (d) => {
        log += d;
        if (log.includes("first paint")) {
          clearTimeout(timer);
          resolve(performance.now() - started);
        }
      });
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the app exited (${code}) before painting: ${log}`));
      });
    });
    result.first_paint_ms.push(ms);
    await quit(proc);
  }
} finally {
  // Whatever failed, leave no app, driver, server or data behind.
  if (launched) await quit(launched);
  const pid = appPid();
  if (pid) process.kill(pid, "SIGKILL");
  driver.kill();
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(server.dir, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
