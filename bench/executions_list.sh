#!/usr/bin/env bash
# GET /api/v1/executions?limit=100 with many stored executions: latency percentiles of the list, as an admin (the
# `executions` index) and as a non-admin user (the user's own index), on a Release build, loopback only.
#
#   bench/executions_list.sh [EXECUTIONS=1000000] [DURATION_S=10] [CONNECTIONS=1] [USERS=100]
#
# A redis-server of its own (no persistence, unix socket) and `squall server --roles api` on it. One real execution
# of core.noop is created through the API, then bench/fill_executions.lua copies it EXECUTIONS times, writing the
# record and every index exactly as the store's scripts do (10,000 per EVAL). wrk then GETs the page for
# DURATION_S seconds over CONNECTIONS connections and reports its latency distribution.
# Needs: build/squall (Release; SQUALL_BIN overrides), wrk, redis-server, redis-cli.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
DURATION=${2:-10}
CONNS=${3:-1}
USERS=${4:-100}
BIN=${SQUALL_BIN:-build/squall}
for tool in wrk redis-server redis-cli; do command -v $tool >/dev/null || { echo "$tool is missing" >&2; exit 2; }; done
[ -x "$BIN" ] || { echo "$BIN is missing: cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build --target squall" >&2; exit 2; }

DATA=$(mktemp -d /tmp/squall-list-bench.XXXXXX)
SOCK=$DATA/redis.sock
cleanup() {
  [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  redis-cli -s "$SOCK" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$DATA"
}
trap cleanup EXIT
redis-server --unixsocket "$SOCK" --port 0 --save '' --appendonly no --dir "$DATA" --daemonize yes \
  --logfile "$DATA/redis.log" >/dev/null
for _ in $(seq 1 100); do redis-cli -s "$SOCK" ping >/dev/null 2>&1 && break; sleep 0.1; done
R=(redis-cli -s "$SOCK")

"$BIN" server --data-dir "$DATA/d" --listen 127.0.0.1:0 --log-level warn --redis "unix://$SOCK" \
  --http-threads "$((CONNS + 4))" ${SQUALL_SERVER_ARGS:-} >"$DATA/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 300); do grep -q "API:" "$DATA/server.log" && break; sleep 0.1; done
API=$(grep -o 'http://127.0.0.1:[0-9]*/api/v1' "$DATA/server.log" | head -1)
[ -n "$API" ] || { cat "$DATA/server.log"; exit 1; }
export SQUALL_API_KEY=$(cat "$DATA/d/admin-api-key")
H=(-H "St2-Api-Key: $SQUALL_API_KEY" -H "Content-Type: application/json")

# One real execution (the API role stores it; nothing runs it here, which does not matter to the list).
ID=$(curl -sf "${H[@]}" -X POST "$API/executions" -d '{"action": "core.noop"}' | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
TEMPLATE=$("${R[@]}" --scan --pattern "*exec:$ID")
PREFIX=${TEMPLATE%exec:$ID}
echo "template: $TEMPLATE ($("${R[@]}" memory usage "$TEMPLATE") bytes in Redis)" >&2

SCRIPT=$(cat bench/fill_executions.lua)
BASE=$(( $(date +%s) * 1000000 - N ))
T0=$(date +%s.%N)
for ((first = 0; first < N; first += 10000)); do
  COUNT=$(( N - first < 10000 ? N - first : 10000 ))
  "${R[@]}" eval "$SCRIPT" 0 "$PREFIX" "$TEMPLATE" "$first" "$COUNT" "$BASE" "$USERS" core.noop >/dev/null
done
T1=$(date +%s.%N)
echo "loaded $N executions in $(/usr/bin/python3 -c "print(round($T1 - $T0, 1))") s; redis: $("${R[@]}" info memory | tr -d '\r' | grep '^used_memory_human'), $("${R[@]}" dbsize) keys" >&2

# A non-admin user's key (user0 owns N / USERS of them).
USER_KEY=$(curl -sf "${H[@]}" -X POST "$API/apikeys" -d '{"user": "user0"}' | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
curl -sfI "${H[@]}" "$API/executions?limit=100" | tr -d '\r' | grep -i '^x-total-count' >&2

cat >"$DATA/get.lua" <<LUA
wrk.headers["St2-Api-Key"] = os.getenv("BENCH_KEY")
LUA
run() {
  local who=$1 key=$2 path=$3
  echo "== $who: GET $path ($CONNS connection(s), ${DURATION} s)"
  BENCH_KEY=$key wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$DATA/get.lua" "${API%/api/v1}$path" |
    grep -E 'Latency  |50%|75%|90%|99%|Requests/sec|Non-2xx'
}
run admin "$SQUALL_API_KEY" "/api/v1/executions?limit=100"
run "user0 (non-admin)" "$USER_KEY" "/api/v1/executions?limit=100"
run admin "$SQUALL_API_KEY" "/api/v1/executions?limit=100&offset=500000"
# What `st2 execution list` asks for (st2client's ActionExecutionListCommand.display_attributes).
run "admin, st2's attributes" "$SQUALL_API_KEY" \
  "/api/v1/executions?limit=100&include_attributes=id,action.ref,context.user,status,start_timestamp,end_timestamp"
