#!/usr/bin/env bash
# Regenerates the measured parts of docs/reliability.md: the long fuzz runs (600 s per target by
# default, or the seconds given), whose table replaces the one between the fuzz markers. Not run
# in CI; CI runs the 30-second smoke of each target (scripts/fuzz.sh smoke).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prereqs.sh test
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
export PATH="$HOME/.cargo/bin:$PATH"
rows="$(scripts/fuzz.sh long "${1:-600}")"
table="$(printf '| target | time | runs | corpus kept | crashes |\n| --- | --- | --- | --- | --- |\n%s\n' "$rows")"
TABLE="$table" python3 - <<'PY'
import os, re
path = "docs/reliability.md"
text = open(path).read()
block = "<!-- fuzz:begin -->\n" + os.environ["TABLE"] + "\n<!-- fuzz:end -->"
text, n = re.subn(r"<!-- fuzz:begin -->.*?<!-- fuzz:end -->", block, text, flags=re.S)
assert n == 1, "docs/reliability.md has no fuzz markers"
open(path, "w").write(text)
PY
echo "docs/reliability.md: fuzz table rewritten"
