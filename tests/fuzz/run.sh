#!/usr/bin/env bash
# Runs the libFuzzer targets over their seed corpora (docs/fuzzing.md).
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET=30] [TARGET ...]     targets: json template criteria yaml_content yaql http
#   FUZZ_BUILD=build-fuzz (default) holds the clang build; it is configured and built when missing.
#
# Exits non-zero when a target crashes, leaks, hangs (-timeout) or runs out of memory (-rss_limit_mb); the input
# that did it is left in $FUZZ_ARTIFACTS (default build-fuzz/artifacts). The seed corpora in the repo are not
# modified: new inputs go to a temporary copy, and the summary gives each target's executions and coverage.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET=${1:-30}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(json template criteria yaml_content yaql http)
BUILD=${FUZZ_BUILD:-build-fuzz}
ARTIFACTS=${FUZZ_ARTIFACTS:-$BUILD/artifacts}
command -v clang++ >/dev/null || { echo "clang++ is missing (apt-get install clang)" >&2; exit 2; }

# ccache hits across clones in other folders (CI clones afresh): paths relative to the checkout.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS="-O1 -g" \
    -DSQUALL_SANITIZE=fuzzer -DSQUALL_BUILD_FUZZ=ON -DSQUALL_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc)" --target $(printf 'squall_%s_fuzz ' "${TARGETS[@]}") >/dev/null

mkdir -p "$ARTIFACTS"
WORK=$(mktemp -d /tmp/squall-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
for t in "${TARGETS[@]}"; do
  mkdir -p "$WORK/$t"
  cp tests/fuzz/corpus/"$t"/* "$WORK/$t/"
  log="$WORK/$t.log"
  extra=()
  # The http target runs a multi-threaded server: its other threads allocate while an input runs, so libFuzzer's
  # per-input leak check (run whenever mallocs and frees of an input differ) scanned the whole heap after nearly
  # every input, 55 % of the time, and the entropic schedule's bookkeeping of a server's coverage took 12 %.
  # LeakSanitizer still checks the whole process at exit.
  [ "$t" = http ] && extra=(-detect_leaks=0 -entropic=0)
  if "$BUILD/tests/fuzz/squall_${t}_fuzz" "$WORK/$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 \
      -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$t-" \
      "${extra[@]}" >"$log" 2>&1; then
    runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
    # The http target ends before libFuzzer's final stats (tests/fuzz/http_fuzz.cpp): its "Done N runs" line.
    [ -n "$runs" ] || runs=$(awk '/^Done [0-9]+ runs/ {print $2}' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz $t: ok, ${runs:-?} inputs in ${SECONDS_PER_TARGET} s, ${cov:-cov: ?}, corpus $(ls "$WORK/$t" | wc -l)"
  else
    failed=1
    echo "fuzz $t: FAILED (artifacts in $ARTIFACTS)" >&2
    # The whole sanitizer report (its stacks say where), then libFuzzer's own lines about the input.
    awk '/^==[0-9]+==(ERROR|WARNING)|^http_fuzz:|runtime error:/ {on = 1} on && n < 120 {print; n++}' "$log" >&2
    grep -E 'SUMMARY|Test unit written|^Done' "$log" | head -10 >&2
  fi
done
exit $failed
