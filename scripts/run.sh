#!/usr/bin/env bash
# Sets up and runs Confab locally: confab-server on its embedded SQLite at 127.0.0.1:8080, and
# the desktop app. Ctrl-C (or closing the app) stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prereqs.sh run
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

npm ci --prefix ui --no-audit --no-fund
npm --prefix ui run build
cargo build -p confab-server -p confab-desktop
target="${CARGO_TARGET_DIR:-$PWD/target}"
listen="${CONFAB_LISTEN:-127.0.0.1:8080}"
data="${CONFAB_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/confab-server}"

# A local server for trying Confab out: anyone who reaches it may sign up, so a newcomer can
# create accounts from the app at once. A team's server keeps the default, invite codes
# (docs/deploy.md).
"$target/debug/confab-server" --listen "$listen" --data-dir "$data" --registration open &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null' EXIT
for _ in $(seq 100); do
  curl -fsS "http://$listen/healthz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "confab-server failed to start" >&2; exit 1; }
  sleep 0.1
done
echo "confab-server is up at http://$listen (data in $data); registration is open to anyone who reaches it"

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "no display: running the app under Xvfb (headless)"
  xvfb-run -a "$target/debug/confab-desktop"
else
  "$target/debug/confab-desktop"
fi
