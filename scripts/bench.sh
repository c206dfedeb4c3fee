#!/usr/bin/env bash
# Benchmarks Confab against its peers in one run and rewrites the tables in docs/bench.md.
#   scripts/bench.sh           the full configuration (a few minutes; release builds)
#   scripts/bench.sh --quick   a smoke run that writes nothing (CI runs it so the bench can't rot)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prereqs.sh run
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
target="${CARGO_TARGET_DIR:-$PWD/target}"

# The peer: a broadcast server on Node's ws, pinned in crates/bench/peers/package-lock.json.
npm ci --prefix crates/bench/peers --no-audit --no-fund >/dev/null
# 10,000 idle connections need as many descriptors in the server and in the load generator.
ulimit -n "$(ulimit -Hn)"

if [ "${1:-}" = --quick ]; then
  cargo build --locked -p confab-server -p confab-bench
  "$target/debug/confab-bench" --quick --bin-dir "$target/debug"
else
  cargo build --release --locked -p confab-server -p confab-bench
  "$target/release/confab-bench" --bin-dir "$target/release" --out docs/bench.md "$@"
fi
