#!/usr/bin/env bash
# GitHub push deliveries with a valid signature at increasing concurrency (issue 13, Performance), loopback only.
# For each number of connections: accepted/s (HTTP 202: the instance is durably on the triggers stream), the p50/p99
# latency of the answer (wrk), and trigger-to-rule-decision p50/p99 (a rule on github.push matches every delivery:
# occurrence_time of the instance to enforced_at of its enforcement, both stamped by the server's clock).
#
#   bench/github_load.sh [DURATION_S=10] [CONNECTIONS="1 4 16 64"] [FIXTURE=tests/fixtures/github/push.branch-updated.json]
#
# Needs: a Release build (build/squall, or SQUALL_BIN), wrk and openssl. A fresh server (embedded Redis) per
# concurrency; the rule runs core.noop, so executions are part of the load as in production.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
LEVELS=${2:-"1 4 16 64"}
FIXTURE=${3:-tests/fixtures/github/push.branch-updated.json}
BIN=${SQUALL_BIN:-build/squall}
SECRET="bench-secret-$$"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
[ -x "$BIN" ] || { echo "$BIN is missing: cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build --target squall" >&2; exit 2; }

WORK=$(mktemp -d /tmp/squall-ghbench.XXXXXX)
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
cp "$FIXTURE" "$WORK/body.json"
export BENCH_BODY_FILE="$WORK/body.json"
export BENCH_SIGNATURE="sha256=$(openssl dgst -sha256 -hmac "$SECRET" -r "$BENCH_BODY_FILE" | cut -d' ' -f1)"
REF=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['ref'])" "$FIXTURE")

printf '%-6s %10s %10s %10s %12s %12s %8s\n' conns "accepted/s" "2xx p50" "2xx p99" "decision p50" "decision p99" "non-2xx"
for CONNS in $LEVELS; do
  DATA="$WORK/d$CONNS"
  LOG="$WORK/server$CONNS.log"
  "$BIN" server --data-dir "$DATA" --listen 127.0.0.1:0 --log-level warn --http-threads "$((CONNS + 4))" \
    --workers 64 ${SQUALL_SERVER_ARGS:-} >"$LOG" 2>&1 &
  PID=$!
  for _ in $(seq 1 300); do grep -q "API:" "$LOG" && break; sleep 0.1; done
  API=$(grep -o 'http://127.0.0.1:[0-9]*/api/v1' "$LOG" | head -1)
  [ -n "$API" ] || { cat "$LOG"; exit 1; }
  KEY=$(cat "$DATA/admin-api-key")
  H=(-H "St2-Api-Key: $KEY" -H "Content-Type: application/json")
  curl -sf "${H[@]}" -X PUT "$API/configs/github" -d "{\"webhook_secret\": \"$SECRET\"}" >/dev/null
  curl -sf "${H[@]}" -X POST "$API/rules" -d "{\"name\": \"on_push\", \"pack\": \"bench\",
    \"trigger\": {\"type\": \"github.push\"},
    \"criteria\": {\"trigger.body.ref\": {\"type\": \"equals\", \"pattern\": \"$REF\"}},
    \"action\": {\"ref\": \"core.noop\"}}" >/dev/null
  sleep 1.5  # caches follow the new config and rule within a second

  WRK_OUT=$(wrk -t"$(( CONNS < 2 ? 1 : 2 ))" -c"$CONNS" -d"${DURATION}s" --latency -s bench/github_push.lua \
    "${API%/api/v1}/api/v1/webhooks/github")
  TOTAL=$(echo "$WRK_OUT" | awk '/requests in/ {print $1}')
  NON2XX=$(echo "$WRK_OUT" | awk '/Non-2xx/ {print $NF}')
  ACCEPTED=$((TOTAL - ${NON2XX:-0}))
  P50=$(echo "$WRK_OUT" | awk '$1 == "50%" {print $2}')
  P99=$(echo "$WRK_OUT" | awk '$1 == "99%" {print $2}')

  # Wait (bounded) until every accepted instance has its enforcement, then pair them up.
  for _ in $(seq 1 600); do
    N=$(curl -sfI "${H[@]}" "$API/ruleenforcements?limit=1" | awk -F': ' 'tolower($1)=="x-total-count" {print $2+0}')
    [ "${N:-0}" -ge "$ACCEPTED" ] && break
    sleep 0.2
  done
  DECISION=$(python3 - "$API" "$KEY" <<'PY'
import json, sys, urllib.request, datetime
api, key = sys.argv[1], sys.argv[2]
def pages(path):
    offset = 0
    while True:
        req = urllib.request.Request(f"{api}{path}?limit=1000&offset={offset}", headers={"St2-Api-Key": key})
        page = json.load(urllib.request.urlopen(req, timeout=60))
        if not page: return
        yield from page
        offset += len(page)
def ts(s):
    return datetime.datetime.strptime(s.replace("Z", ""), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
occurred = {ti["id"]: ts(ti["occurrence_time"]) for ti in pages("/triggerinstances") if ti.get("trigger") == "github.push"}
lat = sorted(ts(e["enforced_at"]) - occurred[e["trigger_instance_id"]]
             for e in pages("/ruleenforcements") if e.get("trigger_instance_id") in occurred)
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")
print(f"{pct(0.5):.1f}ms {pct(0.99):.1f}ms {len(lat)}")
PY
)
  read -r D50 D99 DN <<<"$DECISION"
  printf '%-6s %10.0f %10s %10s %12s %12s %8s\n' "$CONNS" "$(echo "$ACCEPTED / $DURATION" | bc -l)" "$P50" "$P99" "$D50" "$D99" "${NON2XX:-0}"
  [ "$DN" -ge "$ACCEPTED" ] || echo "  (only $DN of $ACCEPTED accepted deliveries have an enforcement)" >&2
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
done
