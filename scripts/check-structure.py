#!/usr/bin/env python3
"""Structure rules of ../shared/STYLE.md that no compiler checks, run by scripts/test.sh:
no source file over 600 lines, and no two modules of a Rust crate importing each other."""
import itertools
import os
import re
import sys

MAX_LINES = 600
failures = []

sources = [os.path.join(root, f)
           for top in ("crates", "src-tauri", "ui/src", "tests", "scripts")
           for root, dirs, files in os.walk(top)
           if "node_modules" not in root and "/dist" not in root
           for f in files if f.endswith((".rs", ".ts", ".svelte", ".mjs", ".py", ".sh"))]
for path in sources:
    with open(path, encoding="utf-8") as f:
        n = sum(1 for _ in f)
    if n > MAX_LINES and not path.endswith("bindings.ts"):
        failures.append(f"{path}: {n} lines (at most {MAX_LINES})")

crates = [os.path.join("crates", c, "src") for c in sorted(os.listdir("crates"))] + ["src-tauri/src"]
for src in crates:
    if not os.path.isdir(src):
        continue
    uses = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            rel = os.path.relpath(os.path.join(root, f), src)[:-3]
            top = rel.split("/")[0]
            if top in ("lib", "main"):
                continue
            with open(os.path.join(root, f), encoding="utf-8") as fh:
                code = "\n".join(l for l in fh if not l.strip().startswith("//"))
            uses.setdefault(top, set()).update(re.findall(r"crate::([a-z_][a-z0-9_]*)", code))
    for a, b in itertools.combinations(sorted(uses), 2):
        if b in uses[a] and a in uses[b]:
            failures.append(f"{src}: modules {a} and {b} import each other")

for f in failures:
    print(f"structure: {f}")
sys.exit(1 if failures else 0)
