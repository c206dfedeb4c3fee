#!/usr/bin/env bash
# Sets up and runs every Confab test: formatting, lints, dependency advisories, Rust unit and integration tests (real
# server on loopback, on real SQLite and again on a private PostgreSQL), a short chaos soak, a
# short run of each fuzz target, a protocol client written from docs/protocol.md alone, and the desktop app end to end
# in a real window under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prereqs.sh test
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
export PATH="$HOME/.cargo/bin:$PATH"

# CI clones afresh each run; a target dir outside the clone keeps its builds warm.
if [ "${CI:-}" = true ] && [ -z "${CARGO_TARGET_DIR:-}" ]; then
  export CARGO_TARGET_DIR=/var/cache/confab/target
fi
target="${CARGO_TARGET_DIR:-$PWD/target}"
artifacts="$PWD/artifacts"
step() { printf '\n==> %s\n' "$*"; }
services="" e2e_home=""
cleanup() {
  [ -z "$services" ] || { scripts/services.sh stop "$services"; rm -rf "$services"; }
  [ -z "$e2e_home" ] || rm -rf "$e2e_home"
}
trap cleanup EXIT

step "UI: install, type-check, build, unit tests"
npm ci --prefix ui --no-audit --no-fund
npm --prefix ui run build
npm --prefix ui test

step "format"
cargo fmt --all --check

step "structure (no file over 600 lines, no module pair importing each other)"
python3 scripts/check-structure.py

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings
node scripts/lint-workflows.cjs

step "dependency advisories (cargo audit against RustSec's database; where GitHub, which holds it, cannot be reached and CONFAB_ADVISORY_DB names no copy, this says so and checks nothing)"
scripts/audit.sh || [ $? -eq 2 ]

step "Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked
else
  cargo test --workspace --locked
fi

step "server and client integration tests again, on PostgreSQL (a private cluster on loopback; several nodes, each test with a Redis of its own)"
services="$(mktemp -d)"
scripts/services.sh start "$services" >"$services/env"
. "$services/env"
# A test that needs PostgreSQL fails here rather than skipping.
export CONFAB_TEST_REQUIRE_POSTGRES=1
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked -p confab-server -p confab-client --test it
else
  cargo test --locked -p confab-server -p confab-client --test it
fi

step "chaos soak smoke (20 clients under fault cycles, one node on SQLite and three on PostgreSQL + Redis; the long runs are scripts/reliability.sh)"
scripts/soak.sh smoke
unset CONFAB_TEST_POSTGRES CONFAB_BENCH_POSTGRES CONFAB_BENCH_REDIS CONFAB_TEST_REQUIRE_POSTGRES

step "fuzzing smoke (30 s per cargo-fuzz target on a copy of the kept corpus; the long runs are scripts/reliability.sh)"
scripts/fuzz.sh smoke

step "benchmark smoke (tiny configuration; the real run is scripts/bench.sh)"
scripts/bench.sh --quick

step "build the server, the CLI and the app"
cargo build --locked -p confab-server -p confab-client -p confab-desktop

step "protocol conformance: a Python client written from docs/protocol.md alone"
venv="$target/test-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r tests/conformance/requirements.txt \
  -r tests/e2e/requirements.txt
CONFAB_SERVER_BIN="$target/debug/confab-server" "$venv/bin/python" tests/conformance/protocol_client.py

step "desktop end to end (real window under Xvfb, WebDriver)"
mkdir -p "$artifacts/e2e"
# A throw-away home for the app's data, settings and the keyring, unlocked inside a private
# D-Bus session. The tray is driven over that bus, the window through X11 (python-xlib).
e2e_home="$(mktemp -d)"
mkdir -p "$e2e_home/data" "$e2e_home/config"
CONFAB_APP="$target/debug/confab-desktop" CONFAB_BIN_DIR="$target/debug" CONFAB_ARTIFACTS="$artifacts/e2e" \
  CONFAB_PYTHON="$venv/bin/python" XDG_DATA_HOME="$e2e_home/data" XDG_CONFIG_HOME="$e2e_home/config" \
  scripts/desktop-session.sh node --test --test-concurrency=1 --test-timeout=180000 tests/e2e/
echo "screenshots: $artifacts/e2e"

step "packages and self-update (release .debs of N and N+1, installed app updates itself)"
CONFAB_PYTHON="$venv/bin/python" tests/update/run.sh

step "the server package (.deb: systemd unit, service user, settings file; installed, run, purged)"
tests/server-deb/run.sh
