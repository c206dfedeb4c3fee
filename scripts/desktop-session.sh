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
# The daemon takes its bus name a moment after it forks: wait for it (bounded). Ask the bus
# whether the name has an owner; a call to the name itself would have D-Bus start a second,
# locked daemon if it came first, and every keyring write would then wait for a prompt.
for _ in $(seq 200); do
  dbus-send --session --dest=org.freedesktop.DBus --print-reply /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q "boolean true" && break
  sleep 0.05
done
exec "$@"
