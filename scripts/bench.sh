#!/usr/bin/env bash
# Benchmarks Confab against its peers in one run and rewrites the tables in docs/bench.md.
#   scripts/bench.sh           the full configuration (about 15 minutes; release builds)
#   scripts/bench.sh --quick   a smoke run that writes nothing (CI runs it so the bench can't rot)
set -euo pipefail
cd "$(dirname "$0")/.."
# The desktop scenario drives the app like the end-to-end tests: Xvfb, WebDriver, a keyring.
scripts/prereqs.sh test
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
export PATH="$HOME/.cargo/bin:$PATH"
target="${CARGO_TARGET_DIR:-$PWD/target}"

# The peer: a broadcast server on Node's ws, pinned in crates/bench/peers/package-lock.json.
npm ci --prefix crates/bench/peers --no-audit --no-fund >/dev/null
npm ci --prefix ui --no-audit --no-fund >/dev/null
# The desktop scenario's second user (socket → screen) speaks the protocol from Python.
venv="$target/test-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r tests/conformance/requirements.txt
export CONFAB_PYTHON="$venv/bin/python"
# 10,000 idle connections need as many descriptors in the server and in the load generator.
ulimit -n "$(ulimit -Hn)"
# The app under test keeps its settings, data, caches and keyring in a throw-away home.
bench_home="$(mktemp -d)"
# Several nodes need PostgreSQL (fsync on: a benchmark) and Redis, private to this run.
services="$(mktemp -d)"
trap 'scripts/services.sh stop "$services"; rm -rf "$bench_home" "$services"' EXIT
DURABLE=1 scripts/services.sh start "$services" >"$services/env"
. "$services/env"
mkdir -p "$bench_home/config" "$bench_home/data" "$bench_home/cache"
export XDG_CONFIG_HOME="$bench_home/config" XDG_DATA_HOME="$bench_home/data" XDG_CACHE_HOME="$bench_home/cache"

if [ "${1:-}" = --quick ]; then
  npm --prefix ui run build >/dev/null
  cargo build --locked -p confab-server -p confab-bench -p confab-desktop
  scripts/desktop-session.sh "$target/debug/confab-bench" --quick --bin-dir "$target/debug" \
    --app "$target/debug/confab-desktop"
else
  cargo build --release --locked -p confab-server -p confab-bench
  # The app and its package as users get them (no updater key: a benchmark signs nothing).
  rm -rf "$target"/release/bundle/deb/Confab_*
  ui/node_modules/.bin/tauri build --ci --bundles deb
  version="$(node -p 'require("./tauri.conf.json").version')"
  scripts/desktop-session.sh "$target/release/confab-bench" --bin-dir "$target/release" \
    --app "$target/release/confab-desktop" --deb "$target/release/bundle/deb/Confab_${version}_amd64.deb" \
    --out docs/bench.md "$@"
fi
