#!/usr/bin/env bash
# End-to-end load: webhook POSTs → matched rule → core.noop executions, on this machine, loopback only.
# Reports accepted/s (HTTP 202), completed executions/s, and p50/p99 trigger-to-completion latency.
#
#   bench/webhook_load.sh [DURATION_S=10] [CONNECTIONS=16] [ACTION=core.noop] [ACTION_PARAMS_JSON={}]
#   e.g. bench/webhook_load.sh 10 16 core.local '{"cmd": "true"}'   (one process per event)
#
# IDLE_RSS_S=N (default 0): after the backlog, print the server's RSS every 10 s for N s of idleness.
# SSE_CLIENTS=N (default 0): N clients of GET /stream/v1/stream (bench/sse_clients.cpp, compiled here; filters
# from SSE_QUERY, default none: every event) are connected before the load starts and read until the backlog is
# done; the script then also prints events received, clients dropped and the event delivery p50/p99.
#
# Needs: a Release build (build/squall; deploy/run.sh makes one), wrk (apt-get install wrk).
# The load is bounded: wrk runs DURATION_S seconds, then the script waits (at most 120 s) for the backlog.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNS=${2:-16}
ACTION=${3:-core.noop}
PARAMS=${4:-"{}"}
BIN=${SQUALL_BIN:-build/squall}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
[ -x "$BIN" ] || { echo "$BIN is missing: cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build --target squall" >&2; exit 2; }

DATA=$(mktemp -d /tmp/squall-bench.XXXXXX)
LOG=$DATA/server.log
cleanup() {
  [ -n "${SSE_PID:-}" ] && kill "$SSE_PID" 2>/dev/null
  [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$DATA"
}
trap cleanup EXIT

SSE_CLIENTS=${SSE_CLIENTS:-0}
"$BIN" server --data-dir "$DATA/d" --listen 127.0.0.1:0 --log-level warn --http-threads "$((CONNS + 4 + SSE_CLIENTS))" \
  ${SQUALL_SERVER_ARGS:-} >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 1 300); do grep -q "API:" "$LOG" && break; sleep 0.1; done
API=$(grep -o 'http://127.0.0.1:[0-9]*/api/v1' "$LOG" | head -1)
[ -n "$API" ] || { cat "$LOG"; exit 1; }
export SQUALL_API_KEY=$(cat "$DATA/d/admin-api-key")
H=(-H "St2-Api-Key: $SQUALL_API_KEY" -H "Content-Type: application/json")

curl -sf "${H[@]}" -X POST "$API/rules" -d "{\"name\": \"bench\", \"pack\": \"bench\",
  \"trigger\": {\"type\": \"core.st2.webhook\", \"parameters\": {\"url\": \"bench\"}},
  \"criteria\": {\"trigger.body.ref\": {\"type\": \"equals\", \"pattern\": \"refs/heads/main\"}},
  \"action\": {\"ref\": \"$ACTION\", \"parameters\": $PARAMS}}" >/dev/null
sleep 1.5  # the API's rule cache refreshes within a second

if [ "$SSE_CLIENTS" -gt 0 ]; then
  c++ -O2 -std=c++20 -o "$DATA/sse_clients" bench/sse_clients.cpp
  HOSTPORT=${API#http://}; HOSTPORT=${HOSTPORT%%/*}
  "$DATA/sse_clients" "${HOSTPORT%:*}" "${HOSTPORT#*:}" "$SSE_CLIENTS" "${SSE_QUERY:-}" >"$DATA/sse.out" 2>&1 &
  SSE_PID=$!
  for _ in $(seq 1 300); do grep -q '^connected' "$DATA/sse.out" && break; sleep 0.1; done
  grep -q '^connected' "$DATA/sse.out" || { echo "the SSE clients did not connect:"; cat "$DATA/sse.out"; exit 1; }
fi

RSS_BEFORE=$(ps -o rss= -p "$PID")

# CPU time (user + system, clock ticks) of the server and its embedded Redis, with their waited-for children (the
# actions' processes; Redis's AOF rewrites): unlike throughput, the CPU spent per execution hardly moves when
# something else runs on the machine, so it is the figure to compare builds with.
REDIS_PID=$(pgrep -P "$PID" redis-server | head -1 || true)
cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat" 2>/dev/null || echo 0; }
CPU0_S=$(cpu_ticks "$PID"); CPU0_R=$(cpu_ticks "${REDIS_PID:-0}")
WRK_OUT=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s bench/webhook_post.lua "$API/webhooks/bench")
TOTAL=$(echo "$WRK_OUT" | awk '/requests in/ {print $1}')
NON2XX=$(echo "$WRK_OUT" | awk '/Non-2xx/ {print $NF}')
# The HTTP answer's latency as wrk saw it (the webhook's 202: stored and on the stream).
HTTP_LAT=$(echo "$WRK_OUT" | awk '$1=="50%" {p50=$2} $1=="99%" {p99=$2} END {print "p50 " p50 ", p99 " p99}')
ACCEPTED=$((TOTAL - ${NON2XX:-0}))

# Wait for the backlog (bounded).
DONE=0
for _ in $(seq 1 600); do
  DONE=$(curl -sfI "${H[@]}" "$API/executions?status=succeeded&limit=1" | awk -F': ' 'tolower($1)=="x-total-count" {print $2+0}')
  [ "${DONE:-0}" -ge "$ACCEPTED" ] && break
  sleep 0.2
done
RSS_AFTER=$(ps -o rss= -p "$PID")
echo "server peak RSS: $(awk '/VmHWM/ {printf "%.0f MB", $2 / 1024}' "/proc/$PID/status")" >&2
# IDLE_RSS_S=N: the server's RSS each 10 s for N s of idleness after the backlog is done (memory given back).
if [ "${IDLE_RSS_S:-0}" -gt 0 ]; then
  for t in $(seq 10 10 "$IDLE_RSS_S"); do sleep 10; echo "idle ${t} s: RSS $(( $(ps -o rss= -p "$PID") / 1024 )) MB" >&2; done
fi
if [ -n "${SSE_PID:-}" ]; then
  sleep 1  # the last events reach the clients
  kill -INT "$SSE_PID"; wait "$SSE_PID" || true; SSE_PID=
  grep -v '^connected' "$DATA/sse.out" >&2
fi
CPU_S=$(( $(cpu_ticks "$PID") - CPU0_S )); CPU_R=$(( $(cpu_ticks "${REDIS_PID:-0}") - CPU0_R ))
TICK=$(getconf CLK_TCK)
# What one execution leaves in Redis (memory) and how many AOF rewrites (a forked child each) the run caused.
if command -v redis-cli >/dev/null; then
  RCLI=(redis-cli -s "$DATA/d/redis/redis.sock")
  echo "redis: $("${RCLI[@]}" info memory | tr -d '\r' | grep '^used_memory_human'), $("${RCLI[@]}" info persistence | tr -d '\r' | grep -E '^aof_rewrites:'), $("${RCLI[@]}" dbsize) keys" >&2
fi
# BENCH_COMMANDSTATS=1: where the embedded Redis spent its time (calls, usec, usec per call), busiest first.
if [ "${BENCH_COMMANDSTATS:-0}" = 1 ] && command -v redis-cli >/dev/null; then
  redis-cli -s "$DATA/d/redis/redis.sock" info commandstats | tr -d '\r' | grep '^cmdstat_' |
    sed -E 's/^cmdstat_([^:]*):calls=([0-9]*),usec=([0-9]*),usec_per_call=([0-9.]*).*/\3 \1 calls=\2 usec_per_call=\4/' |
    sort -rn | head -15 >&2
fi

python3 - "$API" "$SQUALL_API_KEY" "$ACCEPTED" "$DURATION" "$DONE" "$RSS_BEFORE" "$RSS_AFTER" "$CPU_S" "$CPU_R" "$TICK" "$HTTP_LAT" <<'PY'
import json, sys, urllib.request, datetime
api, key, accepted, duration, done, rss0, rss1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
cpu_server, cpu_redis, tick, http_lat = int(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10]), sys.argv[11]
def get(path):
    req = urllib.request.Request(api + path, headers={"St2-Api-Key": key})
    return json.load(urllib.request.urlopen(req, timeout=60))
def ts(s):
    return datetime.datetime.strptime(s.replace("Z", ""), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
lat, starts, ends, offset = [], [], [], 0
while True:
    page = get(f"/executions?status=succeeded&limit=1000&offset={offset}")
    if not page: break
    for e in page:
        ti = e.get("trigger_instance") or {}
        if "end_timestamp" in e and ti.get("occurrence_time"):
            lat.append(ts(e["end_timestamp"]) - ts(ti["occurrence_time"]))
            starts.append(ts(ti["occurrence_time"])); ends.append(ts(e["end_timestamp"]))
    offset += len(page)
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")
span = (max(ends) - min(starts)) if ends else float("nan")
print(f"accepted:            {accepted} in {duration:.0f} s = {accepted / duration:.0f} req/s (HTTP answer {http_lat})")
print(f"completed:           {done} of {accepted} ({'none lost' if done >= accepted else str(accepted - done) + ' missing'})")
print(f"completed execs/s:   {len(lat) / span:.0f} (first trigger to last completion: {span:.1f} s)")
print(f"trigger→completion:  p50 {pct(0.50):.1f} ms, p99 {pct(0.99):.1f} ms")
if done:
    print(f"CPU per execution:   {1e6 * (cpu_server + cpu_redis) / tick / done:.0f} us "
          f"(server {1e6 * cpu_server / tick / done:.0f} us, its Redis {1e6 * cpu_redis / tick / done:.0f} us)")
print(f"server RSS:          {rss0 / 1024:.0f} MB before, {rss1 / 1024:.0f} MB after")
PY
