#!/usr/bin/env bash
# Does the .deb install on a *fresh* Debian 12 with apt, from what it declares alone, and does
# the installed app start from its desktop entry? A minimal bookworm (debootstrap, cached as a
# tarball) in a chroot answers both; the app opens its window on this run's Xvfb. Then the UI
# installs, builds and passes its tests there with Debian's own Node (fresh-debian-ui.sh).
#   tests/update/fresh-debian.sh PACKAGE.deb CACHE_DIR ARTIFACTS_DIR
set -euo pipefail
pkg="$1" cache="$2" artifacts="$3"
here="$(cd "$(dirname "$0")" && pwd)"
python="${CONFAB_PYTHON:-python3}"

tarball="$cache/debian12-minbase.tar"
if [ ! -f "$tarball" ]; then
  echo "==> debootstrap: a minimal Debian 12 (once; cached in $tarball)"
  fresh="$(mktemp -d)"
  if ! debootstrap --variant=minbase bookworm "$fresh" http://deb.debian.org/debian >/dev/null; then
    rm -rf --one-file-system "$fresh"
    echo "debootstrap failed"
    exit 1
  fi
  tar -C "$fresh" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf --one-file-system "$fresh"
fi

root="$(mktemp -d)"
cleanup() {
  # Lazily: apt may leave a helper with /proc open for a moment.
  for m in "$root/tmp/.X11-unix" "$root/proc"; do
    mountpoint -q "$m" && umount -l "$m"
  done
  # Never follow a mount that is still there back into the host.
  if ! mountpoint -q "$root/tmp/.X11-unix" && ! mountpoint -q "$root/proc"; then
    rm -rf --one-file-system "$root"
  fi
  return 0
}
trap cleanup EXIT
tar -C "$root" -xf "$tarball"
mount -t proc proc "$root/proc"
# apt's download sandbox user cannot read files root copied in; this is a throw-away root.
echo 'APT::Sandbox::User "root";' >"$root/etc/apt/apt.conf.d/99confab-test"
# No services start inside the chroot; names resolve as they do here today.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d" && chmod +x "$root/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$pkg" "$root/tmp/"
echo "==> apt-get install ./$(basename "$pkg") on a fresh Debian 12"
chroot "$root" bash -c "apt-get update -q >/tmp/install.log 2>&1 &&
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /tmp/$(basename "$pkg") >>/tmp/install.log 2>&1" ||
  { tail -20 "$root/tmp/install.log"; exit 1; }
exec_line="$(sed -n 's/^Exec=//p' "$root/usr/share/applications/Confab.desktop")"
echo "installed; the desktop entry runs: $exec_line"

echo "==> the installed app starts from its desktop entry, in a window on Xvfb"
export ROOT="$root" EXEC_LINE="$exec_line" PYTHON="$python" X11="$here/../e2e/x11.py" SHOT="$artifacts/fresh-debian.png"
xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" bash -c '
  set -euo pipefail
  mkdir -p "$ROOT/tmp/.X11-unix" && mount --bind /tmp/.X11-unix "$ROOT/tmp/.X11-unix"
  cp "$XAUTHORITY" "$ROOT/tmp/xauth"
  chroot "$ROOT" env -i DISPLAY="$DISPLAY" XAUTHORITY=/tmp/xauth HOME=/root PATH=/usr/bin:/bin \
    sh -c "exec $EXEC_LINE" >"$ROOT/tmp/app.log" 2>&1 &
  app=$!
  # (set -e holds inside the trap too: each step must be allowed to find nothing to do.)
  trap "kill $app 2>/dev/null || true; umount \"\$ROOT/tmp/.X11-unix\" 2>/dev/null || true" EXIT
  for _ in $(seq 300); do
    "$PYTHON" "$X11" state Confab 2>/dev/null | grep -q "\"mapped\": true" && break
    kill -0 $app 2>/dev/null || {
      echo "the app exited:"; tail -20 "$ROOT/tmp/app.log"
      # Seen once in CI: GTK could not open the display. What the chroot saw of it:
      echo "DISPLAY=$DISPLAY"; ls -la "$ROOT/tmp/.X11-unix" "$ROOT/tmp/xauth" || true
      exit 1
    }
    sleep 0.1
  done
  "$PYTHON" "$X11" state Confab | grep -q "\"mapped\": true" || { echo "no window"; tail -20 "$ROOT/tmp/app.log"; exit 1; }
  import -window root "$SHOT"
  kill $app; wait $app 2>/dev/null || true
'
echo "the app window opened on a fresh Debian 12: $artifacts/fresh-debian.png"

# The same fresh system builds and tests the UI with its own Node (the .deb was proven first,
# on a system that had no Node).
"$here/fresh-debian-ui.sh" "$root"
