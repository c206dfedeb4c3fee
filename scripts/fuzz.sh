#!/usr/bin/env bash
# The cargo-fuzz targets in crates/fuzz (libFuzzer; cargo fuzz needs a nightly toolchain, which
# scripts/prereqs.sh installs beside the stable one).
#   scripts/fuzz.sh smoke         30 s per target, on a throw-away copy of the kept corpus
#                                 (the README test command runs this)
#   scripts/fuzz.sh long [secs] [target…]
#                                 secs (600) per target (all, or those named) into the kept
#                                 corpus, then minimises it; prints one markdown row per target
#                                 (scripts/reliability.sh)
# A crash fails the run and leaves its input in crates/fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-smoke}"
secs="${2:-600}"
targets=(frames server_frames client_frames)
[ "$#" -gt 2 ] && targets=("${@:3}")
# Instrumented builds must not share the product's target folder.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}-fuzz"
fuzz=(cargo +nightly fuzz)

for t in "${targets[@]}"; do
  build_log="$(mktemp)"
  "${fuzz[@]}" build --fuzz-dir crates/fuzz "$t" >"$build_log" 2>&1 ||
    { tail -n 40 "$build_log"; rm -f "$build_log"; exit 1; }
  rm -f "$build_log"
  kept="crates/fuzz/corpus/$t"
  mkdir -p "$kept"
  if [ "$mode" = smoke ]; then
    scratch="$(mktemp -d)"
    # New inputs go to the first folder (the scratch one); the kept corpus is only read.
    "${fuzz[@]}" run --fuzz-dir crates/fuzz "$t" "$scratch" "$kept" -- \
      -max_total_time=30 -print_final_stats=1 2>"$scratch.log" ||
      { tail -n 40 "$scratch.log"; rm -rf "$scratch" "$scratch.log"; exit 1; }
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch.log")"
    echo "fuzz $t: ${runs:-?} runs in 30 s, no crash"
    rm -rf "$scratch" "$scratch.log"
  else
    log="$(mktemp)"
    "${fuzz[@]}" run --fuzz-dir crates/fuzz "$t" "$kept" -- \
      -max_total_time="$secs" -print_final_stats=1 2>"$log" ||
      { tail -n 40 "$log"; exit 1; }
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
    "${fuzz[@]}" cmin --fuzz-dir crates/fuzz "$t" "$kept" >/dev/null 2>&1
    echo "| \`$t\` | $secs s | $runs | $(find "$kept" -type f | wc -l) | 0 |"
    rm -f "$log"
  fi
done
