#!/usr/bin/env bash
# Installs dependencies, builds a Release build/squall and runs `squall server` in the foreground with the
# embedded Redis and the bundled packs. Extra arguments go to `squall server` (see deploy/squall.sample.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSQUALL_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target squall

# Python actions, sensors and pack virtualenvs use Debian's interpreter, which sees the Debian packages deps.sh
# installed (python3-bs4, python3-eventlet, ... satisfy StackStorm packs' requirements.txt offline), not whatever
# python3 comes first on PATH (a pyenv shim does not see them).
if [ -z "${SQUALL_PYTHON:-}" ] && [ -x /usr/bin/python3 ]; then export SQUALL_PYTHON=/usr/bin/python3; fi

exec build/squall server "$@"
