#!/usr/bin/env bash
# Installs what Confab needs on Debian/Ubuntu, skipping whatever is already there.
#   scripts/prereqs.sh run    build and run the server and the desktop app
#   scripts/prereqs.sh test   also everything the test suite drives (Xvfb, WebDriver, keyring, …)
set -euo pipefail
mode="${1:-run}"

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

# Build dependencies of Tauri (WebKitGTK, tray, secrets) — see ../shared/notes in the team docs.
packages=(build-essential pkg-config curl file ca-certificates libwebkit2gtk-4.1-dev libxdo-dev
  libssl-dev libayatana-appindicator3-dev librsvg2-dev libsecret-1-dev libdbus-1-dev xvfb xauth
  # Reactions and the emoji picker draw in colour, not as empty boxes.
  fonts-noto-color-emoji)
if [ "$mode" = test ]; then
  packages+=(webkit2gtk-driver dbus-x11 at-spi2-core gnome-keyring dunst libnotify-bin imagemagick xdg-utils
    python3-venv systemd procps sudo debootstrap postgresql redis-server haproxy)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
command -v node >/dev/null || missing+=(nodejs npm)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> installing: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "==> installing Rust (rustup)"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

if [ "$mode" = test ] && ! command -v tauri-driver >/dev/null; then
  echo "==> installing tauri-driver"
  cargo install tauri-driver --locked
fi

# Fuzzing: cargo fuzz builds with libFuzzer's instrumentation, which needs a nightly rustc.
if [ "$mode" = test ] && ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "==> installing a nightly Rust toolchain (for cargo fuzz only)"
  rustup toolchain install nightly --profile minimal
fi
if [ "$mode" = test ] && ! command -v cargo-fuzz >/dev/null; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
