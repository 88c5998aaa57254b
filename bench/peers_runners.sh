#!/usr/bin/env bash
# A SQUALL_BIN for ../shared/peers/run.sh that adds runner processes beside the all-in-one server it starts, so
# that the peers' table can be measured with 1, 2 and 4 runner processes in one sitting:
#
#   cp -r ../shared/peers /tmp/peers && cd /tmp/peers && ./setup.sh
#   SQUALL_REAL=$REPO/build/squall RUNNERS=2 SQUALL_BIN=$REPO/bench/peers_runners.sh \
#     VARIANTS="sq-noop sq-true sq-append" ./run.sh
#
# RUNNERS=N (default 1): the server's own runner role plus N-1 `squall server --roles runner` processes on its
# embedded Redis (unix socket in the data dir). The server keeps the pid run.sh started (this script execs it),
# so run.sh's peak RSS is the all-in-one server's; the extra runners stop when it stops.
set -u
REAL=${SQUALL_REAL:?set SQUALL_REAL to the squall binary}
N=${RUNNERS:-1}
if [ "${1:-}" != server ] || [ "$N" -le 1 ]; then exec "$REAL" "$@"; fi
DATA=""
prev=""
for a in "$@"; do
  [ "$prev" = --data-dir ] && DATA=$a
  prev=$a
done
[ -n "$DATA" ] || { echo "peers_runners.sh: no --data-dir in: $*" >&2; exit 2; }
MAIN=$$
(
  SOCK="$DATA/redis/redis.sock"
  for _ in $(seq 1 300); do [ -S "$SOCK" ] && break; sleep 0.1; done
  pids=()
  for i in $(seq 2 "$N"); do
    "$REAL" server --roles runner --redis "unix://$SOCK" --data-dir "$DATA" --log-level warn \
      >"$DATA/runner-$i.log" 2>&1 &
    pids+=($!)
  done
  while kill -0 "$MAIN" 2>/dev/null; do sleep 0.5; done
  kill "${pids[@]}" 2>/dev/null
  wait
) </dev/null >/dev/null 2>&1 &
exec "$REAL" "$@"
