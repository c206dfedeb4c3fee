#!/usr/bin/env bash
# Checks every crate in Cargo.lock and crates/fuzz/Cargo.lock against the RustSec advisory
# database with cargo-audit. Advisories we accept are listed, each with its reason, in
# .cargo/audit.toml; any other one fails.
#   scripts/audit.sh                         the database from GitHub (fetched by cargo audit)
#   CONFAB_ADVISORY_DB=DIR scripts/audit.sh  a local copy of github.com/rustsec/advisory-db
# Exit status: 0 clean, 1 an advisory, 2 no database to check against (GitHub unreachable and
# no local copy): then nothing was checked, and it says so.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
export PATH="$HOME/.cargo/bin:$PATH"

db_args=()
if [ -n "${CONFAB_ADVISORY_DB:-}" ]; then
  [ -d "$CONFAB_ADVISORY_DB/crates" ] || {
    echo "audit: $CONFAB_ADVISORY_DB is not a copy of the advisory database (no crates/)" >&2
    exit 2
  }
  # A copy is as old as it is; its last change is printed so that a reader can judge.
  db_args=(--no-fetch --db "$CONFAB_ADVISORY_DB")
  echo "audit: advisory database $CONFAB_ADVISORY_DB" \
    "($(git -C "$CONFAB_ADVISORY_DB" log -1 --format='%h of %cs' 2>/dev/null || echo 'no git history'))"
elif ! timeout 20 git ls-remote https://github.com/RustSec/advisory-db.git HEAD >/dev/null 2>&1; then
  echo "audit: NOT CHECKED — github.com/RustSec/advisory-db is unreachable from this machine" \
    "and CONFAB_ADVISORY_DB is not set (the last audit is in docs/reliability.md)" >&2
  exit 2
fi

if ! command -v cargo-audit >/dev/null; then
  echo "==> installing cargo-audit"
  cargo install cargo-audit --locked
fi
status=0
for lock in Cargo.lock crates/fuzz/Cargo.lock; do
  echo "==> cargo audit $lock"
  cargo audit "${db_args[@]}" --file "$lock" || status=1
done
exit "$status"
