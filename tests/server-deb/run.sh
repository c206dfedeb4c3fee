#!/usr/bin/env bash
# The server package tier (called by scripts/test.sh; needs root, as CI is): builds the .deb,
# checks what it declares, installs it, verifies the systemd unit, runs the server from it as
# its own user the way the unit does, then purges it.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" -ne 0 ]; then
  echo "server package tier skipped: it installs the .deb system-wide and needs root (CI runs it)"
  exit 0
fi
if dpkg -s confab-server >/dev/null 2>&1; then
  echo "server package tier skipped: confab-server is installed here already"
  exit 0
fi
work="$(mktemp -d)"
pid=""
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  dpkg --purge confab-server >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "server package: $*"; exit 1; }

deb="$(scripts/server-deb.sh "$work" | tail -1)"
echo "$(basename "$deb"): $(stat -c %s "$deb") bytes"
[ "$(dpkg-deb -f "$deb" Package)" = confab-server ] || fail "wrong package name"
contents="$(dpkg-deb -c "$deb")"
grep -q '/lib/systemd/system/confab-server.service' <<<"$contents" || fail "no unit"
dpkg-deb -e "$deb" "$work/control"
grep -qx /etc/confab/server.toml "$work/control/conffiles" || fail "settings are not a conffile"

dpkg -i "$deb" >/dev/null
getent passwd confab >/dev/null || fail "no confab user"
[ "$(getent passwd confab | cut -d: -f7)" != /bin/bash ] || fail "the service user has a login shell"
[ "$(stat -c '%U %a' /var/lib/confab)" = "confab 700" ] || fail "state folder: $(stat -c '%U %a' /var/lib/confab)"
[ "$(stat -c '%U:%G %a' /etc/confab/server.toml)" = "root:confab 640" ] || fail "settings file permissions"
systemd-analyze verify /lib/systemd/system/confab-server.service || fail "the unit does not verify"
grep -q '^User=confab$' /lib/systemd/system/confab-server.service || fail "the unit runs as root"

# No systemd as PID 1 here: run what the unit runs, as its user, on a free port (setpriv execs
# the server itself, so the signal below reaches it and not a wrapper).
log="$work/server.log"
setpriv --reuid=confab --regid=confab --init-groups -- /usr/bin/confab-server --config /etc/confab/server.toml --listen 127.0.0.1:0 \
  2>"$log" &
pid=$!
addr=""
for _ in $(seq 100); do
  addr="$(grep -o 'addr=[0-9.:]*' "$log" | head -1 | cut -d= -f2 || true)"
  [ -n "$addr" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; fail "the server exited"; }
  sleep 0.1
done
[ -n "$addr" ] || { cat "$log"; fail "the server never listened"; }
ready="$(curl -fsS "http://$addr/readyz")" || fail "readyz failed"
grep -q '"ready"' <<<"$ready" || fail "not ready: $ready"
curl -fsS -X POST -H 'Content-Type: application/json' \
  -d '{"username":"alice","password":"password-of-alice"}' "http://$addr/api/register" >/dev/null ||
  fail "registering failed"
[ "$(stat -c %U /var/lib/confab/confab.db)" = confab ] || fail "the database is not the service user's"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
[ "$status" -eq 0 ] || { cat "$log"; fail "the server did not stop cleanly on SIGTERM (exit $status)"; }
grep -q stopped "$log" || { cat "$log"; fail "no clean stop in the log"; }
pid=""

dpkg --purge confab-server >/dev/null
! getent passwd confab >/dev/null || fail "purge left the confab user"
[ ! -e /var/lib/confab ] || fail "purge left /var/lib/confab"
echo "server package: installs, verifies, serves as its own user, purges cleanly"
