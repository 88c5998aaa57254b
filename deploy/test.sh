#!/usr/bin/env bash
# Installs dependencies, builds the test build (Debug, -O1, ASan + UBSan) and runs the whole ctest suite.
# Tests start their own redis-server on unix sockets in temp dirs; nothing else needs to run.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/deps.sh
BUILD_DIR="${SQUALL_TEST_BUILD_DIR:-build-test}"
# ccache hits across clones in other folders (CI clones afresh): paths relative to the checkout.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Debug -DSQUALL_SANITIZE=address -DCMAKE_CXX_FLAGS="-O1 -g" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd "$BUILD_DIR"
# pipefail: ctest's exit status survives the tee.
ctest -j"$(nproc)" --output-on-failure --timeout 300 "$@" 2>&1 | tee ctest.log
# Nothing may be skipped: deploy/deps.sh installs what every test needs (sshd, the JSON-Schema suite, Jinja2...).
if grep -E '\*\*\*Skipped|Not Run' ctest.log; then
  echo "deploy/test.sh: the tests above were skipped or not run; install what they need (deploy/deps.sh)" >&2
  exit 1
fi
