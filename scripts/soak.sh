#!/usr/bin/env bash
# The chaos soak (crates/soak; results in docs/reliability.md): 16 client cores and 4 CLI bots
# in public rooms, a private room and a dm, sending, editing and reacting under fault cycles —
# on one node (SQLite; as root its disk really fills up, on a tmpfs of its own) and on three
# (PostgreSQL + Redis, node kills and Redis restarts; needs CONFAB_TEST_POSTGRES, e.g. from
# scripts/services.sh). Accounts keep their tokens in a real keyring (a throw-away session).
#   scripts/soak.sh smoke           a short run of each, debug build (the README test command)
#   scripts/soak.sh long [CYCLES [MULTI]]
#                                   CYCLES (1000) of each (MULTI for several nodes, if given),
#                                   release build, in runs of 250, each in
#                                   a session of its own; prints a table row per run and totals
# gnome-keyring-daemon (42.1, Debian 12) itself dies under this load now and then (a glib
# assertion: "traps: gnome-keyring-d … int3 … libglib"); D-Bus starts a new one, locked, and
# every client waits at its unlock prompt, as on a desktop until the user types the password.
# The soak answers the prompt as the user would and counts the deaths in its table.
set -euo pipefail
cd "$(dirname "$0")/.."

# Inside a session: the soak, with a stand-in for the user at the keyring. When the daemon dies
# and D-Bus starts it again, its unlock prompt is answered with the session's password, as the
# user would (tests/e2e/x11.py types it), and the death is counted.
if [ "${1:-}" = --in-session ]; then
  out="$2" py="$3"; shift 3
  owner() {
    dbus-send --session --dest=org.freedesktop.DBus --print-reply /org/freedesktop/DBus \
      org.freedesktop.DBus.GetNameOwner string:org.freedesktop.secrets 2>/dev/null |
      sed -n 's/.*string "\(.*\)"/\1/p' || true # no owner while it is down
  }
  first="$(owner)"
  (
    seen="$first"
    while sleep 1; do
      now="$(owner)"
      if [ -n "$now" ] && [ "$now" != "$seen" ]; then
        echo "soak: gnome-keyring-daemon died and was started again" >&2
        echo died >>"$out.keyring"
        seen="$now"
      fi
      if "$py" tests/e2e/x11.py titles 2>/dev/null | grep -qx "Unlock Login Keyring"; then
        "$py" tests/e2e/x11.py type "Unlock Login Keyring" session 2>/dev/null || true
      fi
    done
  ) &
  watcher=$!
  rc=0
  "$@" --out "$out" || rc=$?
  kill "$watcher" 2>/dev/null || true
  exit "$rc"
fi

mode="${1:-smoke}"
case "$mode" in
smoke) cycles="40 25" chunk=40 profile=debug ;;
long) cycles="${2:-1000} ${3:-${2:-1000}}" chunk=250 profile=release ;;
*) echo "usage: $0 smoke | long [CYCLES]" >&2; exit 2 ;;
esac
chunk="${SOAK_CHUNK:-$chunk}"
target="${CARGO_TARGET_DIR:-$PWD/target}"
flags=(--locked -p confab-soak -p confab-server -p confab-client --bins)
[ "$profile" = release ] && flags+=(--release)
cargo build "${flags[@]}" >&2
soak="$target/$profile/confab-soak"
# The stand-in for the user types with tests/e2e/x11.py (python-xlib), from the tests' venv.
venv="$target/test-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r tests/e2e/requirements.txt
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
# Root fills a real disk: a tmpfs mounted in a mount namespace of the soak's own, so nothing
# is left mounted whatever happens to it.
wrap=() disk=()
if [ "$(id -u)" -eq 0 ]; then wrap=(unshare -m --propagation private) disk=(--full-disk); fi

# Markdown rows for result files: one per run, and their sum when there are several.
rows() {
  python3 - "$@" <<'PY'
import json, os, sys
runs = [json.load(open(p)) for p in sys.argv[1:]]
def row(r, label):
    print(f"| {label} | {r['clients']} | {r['cycles']:,} ({r['faults']}) | {r['messages']:,} ({r['unknown']} cut off mid-call) "
          f"| {r['edits']:,} | {r['reactions']:,} | {r['lost']} | {r['duplicated']} | {r['order_violations']} "
          f"| {r['wrong_state']} | {r['clients_differing']} | {r['cli_runs']:,} ({r['cli_killed']} killed) | {r['secs']:.0f} s |")
def deaths(path):
    return sum(1 for _ in open(path + ".keyring")) if os.path.exists(path + ".keyring") else 0
for r, path in zip(runs, sys.argv[1:]):
    r["keyring_deaths"] = deaths(path)
    if r["keyring_deaths"]:
        r["faults"] += f", gnome-keyring-daemon died by itself {r['keyring_deaths']}"
for i, r in enumerate(runs):
    row(r, r["mode"] + (f", run {i + 1}" if len(runs) > 1 else ""))
if len(runs) > 1:
    total = {k: sum(r[k] for r in runs) for k in ("cycles", "messages", "unknown", "edits", "reactions", "lost",
             "duplicated", "order_violations", "wrong_state", "clients_differing", "cli_runs", "cli_killed", "secs")}
    kinds = {}
    for r in runs:
        for part in r["faults"].split(", "):
            name, n = part.rsplit(" ", 1)
            kinds[name] = kinds.get(name, 0) + int(n)
    total.update(clients=runs[0]["clients"], faults=", ".join(f"{k} {v}" for k, v in kinds.items()))
    row(total, f"**{runs[0]['mode']}, all {len(runs)} runs**")
PY
}
# `setup NAME TOTAL ARGS…`: TOTAL cycles in runs of at most $chunk, each in a new session.
setup() {
  local name="$1" left="$2" n=0; shift 2
  local outs=()
  while [ "$left" -gt 0 ]; do
    n=$((n + 1))
    local c=$((left < chunk ? left : chunk)) out="$home/$name-$n.json"
    mkdir -p "$home/keyring-$name-$n"
    XDG_DATA_HOME="$home/keyring-$name-$n" "${wrap[@]}" scripts/desktop-session.sh \
      scripts/soak.sh --in-session "$out" "$venv/bin/python" "$soak" run --cycles "$c" "$@"
    outs+=("$out")
    left=$((left - c))
  done
  rows "${outs[@]}"
}
read -r single multi <<<"$cycles"
setup single "$single" "${disk[@]}"
if [ -n "${CONFAB_TEST_POSTGRES:-}" ]; then
  setup multi "$multi" --postgres "$CONFAB_TEST_POSTGRES"
else
  echo "soak: no CONFAB_TEST_POSTGRES, several nodes left out" >&2
fi
