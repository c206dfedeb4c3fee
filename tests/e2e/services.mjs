// Real services for the end-to-end tests: confab-server on 127.0.0.1:0 and the confab CLI.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "./webdriver.mjs";

export const BIN = process.env.CONFAB_BIN_DIR ?? "target/debug";

/** Starts confab-server on a free port with its database in `dir`; resolves to { url, stop }. */
export async function startServer(dir = mkdtempSync(join(tmpdir(), "confab-e2e-")), port = 0, extra = []) {
  const args = ["--listen", `127.0.0.1:${port}`, "--db", join(dir, "server.db"), "--registration", "open", ...extra];
  const proc = spawn(join(BIN, "confab-server"), args, {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, NO_COLOR: "1", RUST_LOG: "info" },
  });
  let log = "";
  proc.stderr.on("data", (d) => (log += d));
  const addr = await waitFor("the server to listen", () => /addr=(127\.0\.0\.1:\d+)/.exec(log)?.[1]);
  const stop = () =>
    new Promise((resolve) => {
      proc.once("exit", resolve);
      proc.kill("SIGTERM");
    });
  return { url: `http://${addr}`, addr, dir, port: Number(addr.split(":")[1]), stop, log: () => log };
}

/** Runs the confab CLI with its own data dir; returns { status, stdout, stderr }. */
export function cli(dataDir, args, input) {
  const r = spawnSync(join(BIN, "confab"), ["--data-dir", dataDir, ...args], { input, encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Puts `n` messages ("message 1" … "message n", by `author`) into a new room of a stopped or
 * running server's database: a bulk load, not a chat. */
export function seedRoom(server, room, n, author = "bob") {
  const seed = spawnSync("python3", ["-c", `
import sqlite3, sys, time
room, n, author = sys.argv[2], int(sys.argv[3]), sys.argv[4]
db = sqlite3.connect(sys.argv[1], timeout=10)
with db:
    db.execute("INSERT INTO rooms (name, last_seq) VALUES (?, ?)", (room, n))
    rid = db.execute("SELECT id FROM rooms WHERE name = ?", (room,)).fetchone()[0]
    now = int(time.time() * 1000) - 3_600_000
    db.executemany("INSERT INTO messages (room_id, seq, client_id, author, body, ts_ms) VALUES (?, ?, ?, ?, ?, ?)",
        [(rid, i, f"seed-{i}", author, f"message {i}", now + i) for i in range(1, n + 1)])
`, join(server.dir, "server.db"), room, String(n), author], { encoding: "utf8" });
  if (seed.status !== 0) throw new Error(`seeding ${room}: ${seed.stderr}`);
}

/** Signs in through the app's sign-in form (creating the account if `create`). */
export async function signIn(s, server, user, password, create) {
  await s.waitText("h1", (t) => t === "Confab");
  await s.type("#server", server.addr);
  await s.type("#username", user);
  await s.type("#password", password);
  if (create) await s.click("#create");
  await s.click("#sign-in-btn");
  await waitFor("the chat view", () => s.find("#join-input"));
}
