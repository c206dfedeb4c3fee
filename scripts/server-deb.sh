#!/usr/bin/env bash
# Builds the confab-server .deb: the release binary, a hardened systemd unit, the settings file
# /etc/confab/server.toml (a conffile: upgrades keep local edits) and a dedicated `confab` user.
#   scripts/server-deb.sh OUT_DIR        → OUT_DIR/confab-server_<version>_<arch>.deb
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?output folder}"
target="${CARGO_TARGET_DIR:-$PWD/target}"
version="$(cargo metadata --no-deps --format-version 1 --locked |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "confab-server"))')"
arch="$(dpkg --print-architecture)"

cargo build --release --locked -p confab-server
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
pkg=crates/server/package
install -D -m 0755 "$target/release/confab-server" "$root/usr/bin/confab-server"
install -D -m 0644 "$pkg/confab-server.service" "$root/lib/systemd/system/confab-server.service"
install -D -m 0640 "$pkg/server.toml" "$root/etc/confab/server.toml"
install -D -m 0644 docs/deploy.md "$root/usr/share/doc/confab-server/deploy.md"
install -d "$root/DEBIAN"
install -m 0755 "$pkg/postinst" "$pkg/prerm" "$pkg/postrm" "$root/DEBIAN/"
echo /etc/confab/server.toml >"$root/DEBIAN/conffiles"
size_kb="$(du -sk "$root" | cut -f1)"
cat >"$root/DEBIAN/control" <<CONTROL
Package: confab-server
Version: $version
Architecture: $arch
Maintainer: Confab developers <confab@localhost>
Depends: adduser, libc6 (>= 2.31)
Suggests: postgresql, redis-server, haproxy
Section: net
Priority: optional
Installed-Size: $size_kb
Description: Confab chat server
 HTTP sign-in and WebSocket chat rooms that never lose or duplicate a message.
 Runs on its embedded SQLite, or as several nodes on PostgreSQL and Redis.
CONTROL
mkdir -p "$out"
deb="$out/confab-server_${version}_${arch}.deb"
dpkg-deb --build --root-owner-group "$root" "$deb" >/dev/null
echo "$deb"
