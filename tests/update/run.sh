#!/usr/bin/env bash
# The packaging and self-update tier (called by scripts/test.sh; needs root, as CI is):
#  1. a throw-away minisign key pair (never kept: the release key lives elsewhere, docs/release.md);
#  2. release .debs of version N (this tree's) and N+1, signed, with the key's public half built in;
#  3. the .deb's size and declared dependencies; it installs on a fresh Debian 12 (a chroot) and
#     the app starts from its desktop entry there; then N is installed here;
#  4. tests/update/update.test.mjs: the installed app updates itself from a confab-server.
# The installed package is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$(id -u)" -ne 0 ]; then
  echo "update tier skipped: it installs the .deb system-wide and needs root (CI runs it)"
  exit 0
fi
if dpkg -s confab >/dev/null 2>&1; then
  echo "update tier skipped: a confab package is installed here already and this test would replace it"
  exit 0
fi
target="${CARGO_TARGET_DIR:-$PWD/target}"
artifacts="$PWD/artifacts/update"
work="$(mktemp -d)"
cleanup() {
  rm -rf "$work" # the throw-away private key first
  if dpkg -s confab >/dev/null 2>&1; then apt-get remove -y -q confab >/dev/null || true; fi
}
trap cleanup EXIT
mkdir -p "$artifacts"
tauri=ui/node_modules/.bin/tauri

# 1. Keys for this run only.
"$tauri" signer generate --ci -p "" -w "$work/key" >/dev/null
export TAURI_SIGNING_PRIVATE_KEY="$work/key" TAURI_SIGNING_PRIVATE_KEY_PASSWORD=""

# 2. Version N as committed, N+1 one patch later; only the app crate rebuilds for the second.
n="$(node -p 'require("./tauri.conf.json").version')"
n1="$(node -p 'const [a, b, c] = require("./tauri.conf.json").version.split("."); `${a}.${b}.${+c + 1}`')"
bundles="$target/release/bundle/deb"
for v in "$n" "$n1"; do
  echo "==> release .deb of $v"
  config="{\"version\":\"$v\",\"bundle\":{\"createUpdaterArtifacts\":true},\"plugins\":{\"updater\":{\"pubkey\":\"$(cat "$work/key.pub")\"}}}"
  # An earlier run's packages (signed with its key) must never stand in for this build's.
  rm -rf "$bundles"/Confab_*
  if ! "$tauri" build --ci --bundles deb --config "$config" >"$work/build-$v.log" 2>&1; then
    tail -30 "$work/build-$v.log"
    echo "the release build of $v failed"
    exit 1
  fi
  cp "$bundles/Confab_${v}_amd64.deb" "$bundles/Confab_${v}_amd64.deb.sig" "$work/"
done
unset TAURI_SIGNING_PRIVATE_KEY TAURI_SIGNING_PRIVATE_KEY_PASSWORD

# 3. What the package promises.
pkg="$work/Confab_${n}_amd64.deb"
size=$(stat -c %s "$pkg")
echo "Confab_${n}_amd64.deb: $size bytes"
[ "$size" -le $((10 * 1000 * 1000)) ] || { echo "the .deb is over 10 MB"; exit 1; }
depends="$(dpkg-deb -f "$pkg" Depends)"
for lib in libwebkit2gtk-4.1-0 libgtk-3-0 libayatana-appindicator3-1 libdbus-1-3; do
  grep -q "$lib" <<<"$depends" || { echo "Depends lacks $lib: $depends"; exit 1; }
done
tests/update/fresh-debian.sh "$pkg" "$target" "$artifacts"
dpkg -s confab >/dev/null 2>&1 && apt-get remove -y -q confab >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >/dev/null
[ "$(dpkg-query -W -f='${Version}' confab)" = "$n" ] || { echo "dpkg does not report version $n"; exit 1; }
grep -q '^Exec=confab-desktop' /usr/share/applications/Confab.desktop || { echo "no desktop entry"; exit 1; }

# 4. The installed app updates itself (the real window, WebDriver, a real server).
app_home="$(mktemp -d -p "$work")"
mkdir -p "$app_home/data" "$app_home/config"
CONFAB_UPDATE_WORK="$work" CONFAB_VERSION_N="$n" CONFAB_VERSION_N1="$n1" CONFAB_ARTIFACTS="$artifacts" \
  CONFAB_BIN_DIR="$target/debug" CONFAB_PYTHON="${CONFAB_PYTHON:-python3}" \
  XDG_DATA_HOME="$app_home/data" XDG_CONFIG_HOME="$app_home/config" \
  scripts/desktop-session.sh node --test --test-concurrency=1 --test-timeout=300000 tests/update/
echo "screenshots: $artifacts"
