#!/usr/bin/env bash
# What running one process per event costs, apart from taking the events in: a server without the runner role takes
# QUEUED webhook events whose rule runs `core.local cmd=/bin/true` (they wait as `scheduled`); then a runner process
# of its own (`squall server --roles runner`) drains them with nothing else to do. Loopback only.
#
#   bench/runner_drain.sh [QUEUED=10000] [RUNNER_ARGS...]      e.g. bench/runner_drain.sh 10000 --workers 8
#
# Prints the drain rate and, per execution: the runner's own CPU, its children's CPU (the action's processes), Redis's
# CPU and the rest of the server's; how busy the machine was; Redis's commands per execution (INFO commandstats,
# commands called by scripts counted as well). PIN="taskset -c 1" runs the runner (and so its children) on one CPU.
# Needs: a Release build (build/squall; deploy/run.sh makes one), wrk and redis-cli (apt-get install wrk redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
QUEUED=${1:-10000}
shift || true
BIN=${SQUALL_BIN:-build/squall}
PORT=${PORT:-19230}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
DATA=$(mktemp -d /tmp/squall-drain.XXXXXX)
P='' RP=''
cleanup() {
  [ -n "$RP" ] && kill "$RP" 2>/dev/null || true
  [ -n "$P" ] && kill "$P" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT
"$BIN" server --data-dir "$DATA/d" --listen "127.0.0.1:$PORT" --log-level warn \
  --roles api,rules,sensors,timers,notifier,gc > "$DATA/server.log" 2>&1 &
P=$!
API=http://127.0.0.1:$PORT/api/v1
for _ in $(seq 1 300); do
  curl -fs "$API/health" >/dev/null 2>&1 && [ -s "$DATA/d/admin-api-key" ] && break
  sleep 0.1
done
export SQUALL_API_KEY; SQUALL_API_KEY=$(cat "$DATA/d/admin-api-key")
curl -fsS -X POST -H "St2-Api-Key: $SQUALL_API_KEY" -H 'Content-Type: application/json' "$API/rules" -d '{
  "name": "drain", "pack": "bench",
  "trigger": {"type": "core.st2.webhook", "parameters": {"url": "bench"}},
  "criteria": {"trigger.body.ref": {"type": "equals", "pattern": "refs/heads/main"}},
  "action": {"ref": "core.local", "parameters": {"cmd": "/bin/true"}}}' >/dev/null
SOCK=$DATA/d/redis/redis.sock
R=(redis-cli -s "$SOCK")
sleep 1
curl -fsS -X POST -H "St2-Api-Key: $SQUALL_API_KEY" -H 'Content-Type: application/json' "$API/webhooks/bench" \
  -d '{"ref": "refs/heads/main"}' >/dev/null
for _ in $(seq 1 100); do
  KEY=$("${R[@]}" --scan --pattern '*executions:status:scheduled' | head -1)
  [ -n "$KEY" ] && break
  sleep 0.1
done
PREFIX=${KEY%executions:status:scheduled}
count() { "${R[@]}" ZCARD "${PREFIX}executions:status:$1"; }

# The queue: load until QUEUED executions wait, then until the rules engine has matched everything.
wrk -t1 -c32 -d120s -s bench/webhook_post.lua "$API/webhooks/bench" >/dev/null &
W=$!
while [ "$(count scheduled)" -lt "$QUEUED" ] && kill -0 "$W" 2>/dev/null; do sleep 0.5; done
kill "$W" 2>/dev/null || true
wait "$W" 2>/dev/null || true
prev=-1
while :; do
  n=$(count scheduled)
  [ "$n" = "$prev" ] && break
  prev=$n
  sleep 1
done
echo "queued: $n executions of core.local cmd=/bin/true"

cpu_redis() { "${R[@]}" INFO cpu | tr -d '\r' | awk -F: '/used_cpu_(sys|user):/{t+=$2} END{print t}'; }
busy() { head -1 /proc/stat | awk '{print $2+$3+$4+$7+$8, $5+$6}'; }
"${R[@]}" CONFIG RESETSTAT >/dev/null
r0=$(cpu_redis)
s0=$(awk '{print $14+$15}' "/proc/$P/stat")
read -r b0 i0 < <(busy)
t0=$(date +%s.%N)
${PIN:-} "$BIN" server --data-dir "$DATA/d" --redis "unix://$SOCK" --log-level warn --roles runner "$@" \
  > "$DATA/runner.log" 2>&1 &
RP=$!
while [ "$(count scheduled)" != 0 ] || [ "$(count running)" != 0 ]; do sleep 0.2; done
t1=$(date +%s.%N)
read -r b1 i1 < <(busy)
s1=$(awk '{print $14+$15}' "/proc/$P/stat")
r1=$(cpu_redis)
read -r ru rs cu cs < <(awk '{print $14, $15, $16, $17}' "/proc/$RP/stat")
awk -v n="$n" -v a="$t0" -v b="$t1" -v hz="$(getconf CLK_TCK)" -v ru="$ru" -v rs="$rs" -v cu="$cu" -v cs="$cs" \
  -v r0="$r0" -v r1="$r1" -v s0="$s0" -v s1="$s1" -v b0="$b0" -v b1="$b1" -v i0="$i0" -v i1="$i1" 'BEGIN {
  printf "drained %d in %.2f s: %.0f executions/s; machine busy %.0f %%\n", n, b - a, n / (b - a),
    100 * (b1 - b0) / ((b1 - b0) + (i1 - i0))
  printf "CPU per execution: runner %.0f us, its children %.0f us, Redis %.0f us, rest of the server %.0f us\n",
    (ru + rs) / hz * 1e6 / n, (cu + cs) / hz * 1e6 / n, (r1 - r0) * 1e6 / n, (s1 - s0) / hz * 1e6 / n }'
"${R[@]}" INFO commandstats | tr -d '\r' | awk -F'[:=,]' -v n="$n" '/^cmdstat_/ {
  sub("cmdstat_", "", $1); if ($3 / n >= 0.05) printf "  %-14s %6.2f per execution %8.2f us\n", $1, $3 / n, $5 / n
  total += $3 } END { printf "  %-14s %6.2f per execution\n", "all", total / n }'
