// A minimal W3C WebDriver client on Node's built-in fetch, for tauri-driver.
// tauri-driver listens on 127.0.0.1:4444 and drives WebKitWebDriver for the real app window.

import { spawn, spawnSync } from "node:child_process";
import { setTimeout as delay } from "node:timers/promises";

const DRIVER = "http://127.0.0.1:4444";
export const DEADLINE_MS = 20_000;
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

async function call(method, path, body) {
  const res = await fetch(DRIVER + path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    // A WebDriver call that hangs (seen once in CI) fails here and is retried by waitFor,
    // instead of waiting out fetch's five-minute default.
    signal: AbortSignal.timeout(15_000),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json.value ?? json)}`);
  }
  return json.value;
}

/** Polls `check` until it returns a truthy value, or fails after the deadline. */
export async function waitFor(what, check, deadlineMs = DEADLINE_MS) {
  const end = Date.now() + deadlineMs;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await delay(100);
  }
}

/** Starts tauri-driver and waits until it answers. A test file cut off by the runner's
 * timeout never runs its `after`, and its drivers keep ports 4444/4445: the next file's driver
 * could not listen and every test in it failed (seen in CI). So leftovers go first. */
export async function startDriver() {
  for (const name of ["tauri-driver", "WebKitWebDriver"]) spawnSync("pkill", ["-KILL", "-x", name]);
  await waitFor("stale drivers to let go of their port", async () => {
    try {
      await fetch(DRIVER + "/status", { signal: AbortSignal.timeout(1_000) });
    } catch {
      return true;
    }
    return false;
  });
  const proc = spawn(process.env.TAURI_DRIVER ?? "tauri-driver", [], { stdio: ["ignore", "inherit", "inherit"] });
  await waitFor("tauri-driver to listen", async () => (await fetch(DRIVER + "/status")).ok);
  return proc;
}

/** A WebDriver session running the app binary. */
export class Session {
  static async start(application, args = []) {
    const caps = { browserName: "wry", "tauri:options": { application, args } };
    const value = await waitFor("a WebDriver session", () =>
      call("POST", "/session", { capabilities: { alwaysMatch: caps } }),
    );
    return new Session(value.sessionId);
  }

  constructor(id) {
    this.id = id;
  }

  cmd(method, path, body) {
    return call(method, `/session/${this.id}${path}`, body);
  }

  title() {
    return this.cmd("GET", "/title");
  }

  async find(css) {
    const el = await this.cmd("POST", "/element", { using: "css selector", value: css });
    return el[ELEMENT];
  }

  async text(css) {
    return this.cmd("GET", `/element/${await this.find(css)}/text`);
  }

  /** Waits until the element exists and its text satisfies `pred`; returns the text. */
  waitText(css, pred, what = css) {
    return waitFor(what, async () => {
      const t = await this.text(css);
      return pred(t) ? t : null;
    });
  }

  /** Replaces the text of the input `css` with `text` (WebDriver key codes allowed). */
  async type(css, text) {
    const el = await this.find(css);
    await this.cmd("POST", `/element/${el}/clear`, {}).catch(() => {});
    await this.cmd("POST", `/element/${el}/value`, { text });
  }

  /** Clicks `css`; the list is redrawn as messages arrive, so a stale node is found again. */
  click(css) {
    return waitFor(`a click on ${css}`, async () => {
      await this.cmd("POST", `/element/${await this.find(css)}/click`, {});
      return true;
    });
  }

  /** Moves the pointer over `css` (a real hover: what shows on hover shows). */
  hover(css) {
    return waitFor(`the pointer over ${css}`, async () => {
      const el = await this.find(css);
      const move = { type: "pointerMove", duration: 0, origin: { [ELEMENT]: el }, x: 0, y: 0 };
      const mouse = { type: "pointer", id: "mouse", parameters: { pointerType: "mouse" }, actions: [move] };
      await this.cmd("POST", "/actions", { actions: [mouse] });
      return true;
    });
  }

  /** PNG screenshot of the window as a Buffer. */
  async screenshot() {
    return Buffer.from(await this.cmd("GET", "/screenshot"), "base64");
  }

  async end() {
    await call("DELETE", `/session/${this.id}`).catch(() => {});
  }
}
