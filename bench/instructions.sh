#!/usr/bin/env bash
# Instructions per execution, webhook → rule → action, for the server and for its Redis, counted by callgrind.
# Unlike req/s, instruction counts hardly move when something else runs on the machine, so two builds can be
# compared on a busy 2-core machine (throughput at saturation follows the CPU spent per execution).
#
#   bench/instructions.sh [EVENTS=2000] [ACTION=core.noop]
#   SQUALL_BIN=/path/to/squall bench/instructions.sh      (default build/squall, a Release build)
#
# Both processes run under valgrind --tool=callgrind with instrumentation switched on only while the events are
# posted and worked off (callgrind_control -i on/off), so start-up and pack loading are not counted.
# Needs: valgrind, redis-server, /usr/bin/python3. Loopback only; everything lives in a temporary dir.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-2000}
ACTION=${2:-core.noop}
BIN=${SQUALL_BIN:-build/squall}
for tool in valgrind callgrind_control callgrind_annotate redis-server; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install valgrind redis-server)" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "$BIN is missing: a Release build of squall" >&2; exit 2; }

DATA=$(mktemp -d /tmp/squall-instr.XXXXXX)
cleanup() {
  for p in ${SPID:-} ${RPID:-}; do kill "$p" 2>/dev/null || true; done
  for p in ${SPID:-} ${RPID:-}; do wait "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$DATA"
}
trap cleanup EXIT
VG=(valgrind --tool=callgrind --instr-atstart=no)

# Redis as the embedded one is configured (AOF, fsync every second), on a unix socket.
mkdir -p "$DATA/redis"
"${VG[@]}" --callgrind-out-file="$DATA/redis.%p.out" redis-server --port 0 --unixsocket "$DATA/redis/redis.sock" \
  --unixsocketperm 700 --dir "$DATA/redis" --appendonly yes --appendfsync everysec --save "" \
  --logfile "$DATA/redis/redis.log" >"$DATA/redis.vg" 2>&1 &
RPID=$!
for _ in $(seq 1 300); do [ -S "$DATA/redis/redis.sock" ] && break; sleep 0.1; done

"${VG[@]}" --callgrind-out-file="$DATA/server.%p.out" "$BIN" server --data-dir "$DATA/d" --listen 127.0.0.1:0 \
  --redis "unix://$DATA/redis/redis.sock" --log-level warn >"$DATA/server.log" 2>&1 &
SPID=$!
for _ in $(seq 1 1200); do grep -q "API:" "$DATA/server.log" && break; sleep 0.1; done
API=$(grep -o 'http://127.0.0.1:[0-9]*/api/v1' "$DATA/server.log" | head -1)
[ -n "$API" ] || { cat "$DATA/server.log"; exit 1; }
KEY=$(cat "$DATA/d/admin-api-key")
curl -sf -H "St2-Api-Key: $KEY" -H "Content-Type: application/json" -X POST "$API/rules" -d "{\"name\": \"bench\",
  \"pack\": \"bench\", \"trigger\": {\"type\": \"core.st2.webhook\", \"parameters\": {\"url\": \"bench\"}},
  \"criteria\": {\"trigger.body.ref\": {\"type\": \"equals\", \"pattern\": \"refs/heads/main\"}},
  \"action\": {\"ref\": \"$ACTION\"}}" >/dev/null
sleep 3  # the rule reaches every role's content cache

callgrind_control -i on "$SPID" >/dev/null 2>&1
callgrind_control -i on "$RPID" >/dev/null 2>&1
/usr/bin/python3 - "$API" "$KEY" "$EVENTS" <<'PY'
import http.client, json, sys, threading, time, urllib.parse
api, key, events = sys.argv[1], sys.argv[2], int(sys.argv[3])
u = urllib.parse.urlparse(api)
body = json.dumps({"ref": "refs/heads/main", "repository": {"full_name": "acme/web"}})
def post(n):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    for _ in range(n):
        c.request("POST", u.path + "/webhooks/bench", body, {"Content-Type": "application/json", "St2-Api-Key": key})
        r = c.getresponse(); r.read()
        assert r.status == 202, r.status
threads = [threading.Thread(target=post, args=(events // 8 + (1 if i < events % 8 else 0),)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
deadline = time.time() + 600
while time.time() < deadline:
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    c.request("GET", u.path + "/executions?status=succeeded&limit=1", headers={"St2-Api-Key": key})
    r = c.getresponse(); r.read()
    if int(r.getheader("X-Total-Count", "0")) >= events: break
    time.sleep(0.5)
else:
    sys.exit("the executions did not all finish within 600 s")
PY
sleep 2  # the notifier and the trimmer work off what the last executions wrote
callgrind_control -i off "$SPID" >/dev/null 2>&1
callgrind_control -i off "$RPID" >/dev/null 2>&1
kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=
kill "$RPID"; wait "$RPID" 2>/dev/null || true; RPID=

# Every process counts: Redis's AOF rewrites run in forked children (their own output files).
total() {
  local sum=0 f n
  for f in "$DATA"/"$1".*.out; do
    n=$(awk '/^totals:/ {print $2}' "$f" | tail -1)
    sum=$((sum + ${n:-0}))
  done
  echo "$sum"
}
S=$(total server); R=$(total redis)
echo "events:               $EVENTS ($ACTION)"
echo "instructions/exec:    $(( (S + R) / EVENTS )) (server $(( S / EVENTS )), its Redis $(( R / EVENTS )), $(ls "$DATA"/redis.*.out | wc -l) Redis processes)"
if [ "${BENCH_TOP:-0}" != 0 ]; then
  echo "-- server, busiest functions (self)"; callgrind_annotate "$DATA"/server.*.out 2>/dev/null | sed -n '/^Ir/,$p' | sed -n "3,$((BENCH_TOP + 2))p"
  echo "-- redis, busiest functions (self)"; callgrind_annotate "$(ls -S "$DATA"/redis.*.out | head -1)" 2>/dev/null | sed -n '/^Ir/,$p' | sed -n "3,$((BENCH_TOP + 2))p"
fi
