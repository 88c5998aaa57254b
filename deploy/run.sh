#!/usr/bin/env bash
# Installs dependencies, builds a Release build/squall and runs `squall server` in the foreground with the
# embedded Redis and the bundled packs. Extra arguments go to `squall server` (see deploy/squall.sample.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSQUALL_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target squall

exec build/squall server "$@"
