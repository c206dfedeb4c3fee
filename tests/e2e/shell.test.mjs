// The desktop shell opens a real window and renders the bundled UI.
// Run under Xvfb with a private D-Bus session; see scripts/test.sh.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Session, startDriver } from "./webdriver.mjs";

const app = process.env.CONFAB_APP;
const artifacts = process.env.CONFAB_ARTIFACTS ?? "artifacts/e2e";
let driver;

before(async () => {
  assert.ok(app, "CONFAB_APP must point at the built confab-desktop binary");
  mkdirSync(artifacts, { recursive: true });
  driver = await startDriver();
});

after(() => driver?.kill());

test("the app opens a window showing the Confab UI", async () => {
  const s = await Session.start(app);
  try {
    assert.equal(await s.title(), "Confab");
    const heading = await s.waitText("h1", (t) => t === "Confab");
    assert.equal(heading, "Confab");
    const png = await s.screenshot();
    assert.ok(png.subarray(1, 4).toString() === "PNG" && png.length > 1000, "a real screenshot");
    writeFileSync(join(artifacts, "shell.png"), png);
  } finally {
    await s.end();
  }
});
