// Real services for the end-to-end tests: confab-server on 127.0.0.1:0 and the confab CLI.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "./webdriver.mjs";

const BIN = process.env.CONFAB_BIN_DIR ?? "target/debug";

/** Starts confab-server on a free port with its database in `dir`; resolves to { url, stop }. */
export async function startServer(dir = mkdtempSync(join(tmpdir(), "confab-e2e-")), port = 0, extra = []) {
  const args = ["--listen", `127.0.0.1:${port}`, "--db", join(dir, "server.db"), ...extra];
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
