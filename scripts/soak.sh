#!/usr/bin/env bash
# The chaos soak (crates/soak; results in docs/reliability.md): 16 client cores and 4 CLI bots
# in public rooms, a private room and a dm, sending, editing and reacting under fault cycles —
# on one node (SQLite; as root its disk really fills up, on a tmpfs of its own) and on three
# (PostgreSQL + Redis, node kills and Redis restarts; needs CONFAB_TEST_POSTGRES, e.g. from
# scripts/services.sh). Accounts keep their tokens in a real keyring (a throw-away session).
#   scripts/soak.sh smoke           a short run of each, debug build (the README test command)
#   scripts/soak.sh long [CYCLES]   CYCLES (1000) of each, release build; prints the table rows
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-smoke}"
case "$mode" in
smoke) single=40 multi=25 profile=debug ;;
long) single="${2:-1000}" multi="${2:-1000}" profile=release ;;
*) echo "usage: $0 smoke | long [CYCLES]" >&2; exit 2 ;;
esac
target="${CARGO_TARGET_DIR:-$PWD/target}"
flags=(--locked -p confab-soak -p confab-server -p confab-client --bins)
[ "$profile" = release ] && flags+=(--release)
cargo build "${flags[@]}" >&2
soak="$target/$profile/confab-soak"
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
# Root fills a real disk: a tmpfs mounted in a mount namespace of the soak's own, so nothing
# is left mounted whatever happens to it.
wrap=() disk=()
if [ "$(id -u)" -eq 0 ]; then wrap=(unshare -m --propagation private) disk=(--full-disk); fi
# One JSON result per setup; a markdown row each on stdout.
row() {
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"| {r['mode']} | {r['clients']} | {r['cycles']} ({r['faults']}) | {r['messages']:,} ({r['unknown']} cut off mid-call) "
      f"| {r['edits']:,} | {r['reactions']:,} | {r['lost']} | {r['duplicated']} | {r['order_violations']} "
      f"| {r['wrong_state']} | {r['clients_differing']} | {r['cli_runs']:,} ({r['cli_killed']} killed) | {r['secs']:.0f} s |")
PY
}
run() {
  local out="$home/$1.json"; shift
  XDG_DATA_HOME="$home/keyring" "${wrap[@]}" scripts/desktop-session.sh "$soak" run --out "$out" "$@"
  row "$out"
}
run single --cycles "$single" "${disk[@]}"
if [ -n "${CONFAB_TEST_POSTGRES:-}" ]; then
  run multi --cycles "$multi" --postgres "$CONFAB_TEST_POSTGRES"
else
  echo "soak: no CONFAB_TEST_POSTGRES, several nodes left out" >&2
fi
