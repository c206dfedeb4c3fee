#!/usr/bin/env bash
# Regenerates the measured parts of docs/reliability.md: the long fuzz runs (FUZZ_SECONDS per
# target, 600 by default) and the chaos soak (SOAK_CYCLES fault cycles per setup, 1000 by
# default; SOAK_MULTI_CYCLES for several nodes, if different), whose tables replace the ones between their markers. Not run in CI; CI runs the
# smokes (scripts/fuzz.sh smoke, scripts/soak.sh smoke).
#   scripts/reliability.sh [all|fuzz|soak]
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
scripts/prereqs.sh test
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
export PATH="$HOME/.cargo/bin:$PATH"

# Replaces the block between <!-- NAME:begin --> and <!-- NAME:end --> with TABLE.
rewrite() {
  NAME="$1" TABLE="$2" python3 - <<'PY'
import os, re
path, name = "docs/reliability.md", os.environ["NAME"]
text = open(path).read()
block = f"<!-- {name}:begin -->\n" + os.environ["TABLE"] + f"\n<!-- {name}:end -->"
text, n = re.subn(rf"<!-- {name}:begin -->.*?<!-- {name}:end -->", lambda _: block, text, flags=re.S)
assert n == 1, f"docs/reliability.md has no {name} markers"
open(path, "w").write(text)
PY
  echo "docs/reliability.md: $1 table rewritten"
}

if [ "$what" = all ] || [ "$what" = fuzz ]; then
  rows="$(scripts/fuzz.sh long "${FUZZ_SECONDS:-600}")"
  rewrite fuzz "$(printf '| target | time | runs | corpus kept | crashes |\n| --- | --- | --- | --- | --- |\n%s' "$rows")"
fi
if [ "$what" = all ] || [ "$what" = soak ]; then
  services="$(mktemp -d)"
  trap 'scripts/services.sh stop "$services"; rm -rf "$services"' EXIT
  scripts/services.sh start "$services" >"$services/env"
  . "$services/env"
  rows="$(scripts/soak.sh long "${SOAK_CYCLES:-1000}" ${SOAK_MULTI_CYCLES:+"$SOAK_MULTI_CYCLES"})"
  header='| setup | clients | fault cycles | messages | edits | reactions | lost | duplicated | order violations | wrong state | clients differing | CLI runs | time |'
  rewrite soak "$(printf '%s\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n%s' "$header" "$rows")"
fi
