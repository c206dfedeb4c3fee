#!/usr/bin/env bash
# Runs a command inside a throw-away desktop session, as the end-to-end tests and the desktop
# benchmark need it: a virtual X display (Xvfb), a private D-Bus session bus and an unlocked
# Secret Service keyring (gnome-keyring) on it.
#   scripts/desktop-session.sh COMMAND [ARGS…]
set -euo pipefail
if [ -z "${CONFAB_IN_DESKTOP_SESSION:-}" ]; then
  export CONFAB_IN_DESKTOP_SESSION=1
  exec xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" dbus-run-session -- "$0" "$@"
fi
echo -n session | gnome-keyring-daemon --unlock --components=secrets >/dev/null
# The daemon answers on the bus a moment after it forks: wait for it (bounded).
for _ in $(seq 200); do
  dbus-send --session --dest=org.freedesktop.secrets --print-reply \
    /org/freedesktop/secrets org.freedesktop.DBus.Peer.Ping >/dev/null 2>&1 && break
  sleep 0.05
done
exec "$@"
