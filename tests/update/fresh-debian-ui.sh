#!/usr/bin/env bash
# Does the UI install, build and pass its tests with the Node that Debian 12 itself ships (18.x,
# like Ubuntu 24.04's)? In the chroot ROOT, a fresh Debian 12 (fresh-debian.sh passes its own,
# after the .deb's check): Debian's nodejs and npm from apt, a copy of ui/ without node_modules
# or dist, then `npm ci` (an EBADENGINE warning fails it), `npm run build` and `npm test`.
# Quiet on success; the log's tail on failure. Can run on its own, as root:
#   tests/update/fresh-debian-ui.sh ROOT
set -euo pipefail
root="$1"
ui="$(cd "$(dirname "$0")/../../ui" && pwd)"

mounted=""
cleanup() {
  if [ -n "$mounted" ] && mountpoint -q "$root/proc"; then umount -l "$root/proc"; fi
  return 0
}
trap cleanup EXIT
# What fresh-debian.sh has set up already, for a run on its own.
if ! mountpoint -q "$root/proc"; then mount -t proc proc "$root/proc" && mounted=1; fi
echo 'APT::Sandbox::User "root";' >"$root/etc/apt/apt.conf.d/99confab-test"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# debootstrap writes no /etc/hosts, an installed system has one; vitest looks up localhost.
grep -qs localhost "$root/etc/hosts" || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >>"$root/etc/hosts"

echo "==> the UI on Debian 12's own Node: npm ci, npm run build, npm test in the chroot"
apt_log="$root/tmp/ui-apt.log" npm_log="$root/tmp/ui-npm.log"
: >"$npm_log"
chroot "$root" bash -c "apt-get update -q &&
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm" >"$apt_log" 2>&1 ||
  { tail -20 "$apt_log"; echo "Debian's nodejs and npm did not install"; exit 1; }
rm -rf "$root/tmp/ui" && mkdir -p "$root/tmp/ui"
tar -C "$ui" --exclude=./node_modules --exclude=./dist -cf - . | tar -C "$root/tmp/ui" -xf -
# The registry is reached through whatever this machine trusts (a proxy's CA, say), not only
# what a fresh system does.
ca="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"
[ -f "$ca" ] && cp "$ca" "$root/tmp/host-ca.crt"
in_root() {
  chroot "$root" env -i HOME=/root PATH=/usr/bin:/bin LANG=C.UTF-8 NODE_EXTRA_CA_CERTS=/tmp/host-ca.crt \
    bash -c "cd /tmp/ui && $1"
}
echo "Debian's node $(in_root 'node --version'), npm $(in_root 'npm --version')"
for step in "npm ci --no-audit --no-fund" "npm run build" "npm test"; do
  echo "\$ $step" >>"$npm_log"
  in_root "$step" >>"$npm_log" 2>&1 || { tail -40 "$npm_log"; echo "'$step' failed on Debian 12's Node"; exit 1; }
done
if grep -q EBADENGINE "$npm_log"; then
  grep -A3 EBADENGINE "$npm_log"
  echo "npm ci warned EBADENGINE: a locked package does not support Debian 12's Node"
  exit 1
fi
echo "the UI installs, builds and passes its tests on Debian 12's Node: $(grep -E '^ +Tests ' "$npm_log" | tr -s ' ')"
