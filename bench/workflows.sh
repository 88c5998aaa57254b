#!/usr/bin/env bash
# Workflow engine overhead (docs/workflows.md, issue 14's bar): starts a server of its own (embedded Redis, all roles)
# with a bench pack, then measures, from each workflow execution's start_timestamp to its end_timestamp:
#   - a sequential workflow of N core.noop tasks (a task that loops on itself N times): per-task overhead;
#   - with-items over M items at concurrency C, core.noop;
#   - W workflows of T sequential core.noop tasks started at once (W API requests in parallel): the time from the
#     first request to the last workflow's end_timestamp, and the embedded Redis's memory per finished workflow
#     (used_memory after minus before, over W: the workflow, its T task executions, their indexes, the workflow state
#     hash; and the state hash alone, MEMORY USAGE).
#   bench/workflows.sh [squall binary] [N=100] [M=1000] [C=50] [workers=8] [W=100] [T=10]
set -euo pipefail
squall=${1:-squall}
n=${2:-100}
m=${3:-1000}
c=${4:-50}
workers=${5:-8}
w=${6:-100}
t=${7:-10}
dir=$(mktemp -d)
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
p="$dir/data/packs/wfbench"
mkdir -p "$p/actions/workflows"
printf 'name: wfbench\ndescription: workflow benchmarks\nversion: 0.1.0\nauthor: squall\nemail: s@example.com\n' >"$p/pack.yaml"
printf 'name: seq\nrunner_type: orquesta\nentry_point: workflows/seq.yaml\nparameters:\n  n:\n    type: integer\n' >"$p/actions/seq.yaml"
cat >"$p/actions/workflows/seq.yaml" <<'YAML'
version: 1.0
input:
  - n
vars:
  - i: 1
tasks:
  step:
    action: core.noop
    next:
      - when: "{{ ctx('i') < ctx('n') }}"
        publish: i="{{ ctx('i') + 1 }}"
        do: step
output:
  - tasks: "{{ ctx('i') }}"
YAML
printf 'name: items\nrunner_type: orquesta\nentry_point: workflows/items.yaml\nparameters:\n  n:\n    type: integer\n  c:\n    type: integer\n' >"$p/actions/items.yaml"
cat >"$p/actions/workflows/items.yaml" <<'YAML'
version: 1.0
input:
  - n
  - c
tasks:
  many:
    with:
      items: "{{ range(ctx('n')) | list }}"
      concurrency: "{{ ctx('c') }}"
    action: core.noop
    next:
      - publish: items="{{ result() | length }}"
output:
  - items: "{{ ctx('items') }}"
YAML
"$squall" server --data-dir "$dir/data" --listen 127.0.0.1:0 --workers "$workers" --log-level warn >"$dir/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q 'API:' "$dir/server.log" 2>/dev/null && break; sleep 0.1; done
export SQUALL_API_URL=$(grep -o 'http://127.0.0.1:[0-9]*/api/v1' "$dir/server.log" | head -1)
export SQUALL_API_KEY=$(cat "$dir/data/admin-api-key")
elapsed() {
    python3 -c 'import json, sys, datetime as d
e = json.load(sys.stdin)
p = lambda s: d.datetime.fromisoformat(s.replace("Z", "+00:00"))
assert e["status"] == "succeeded", e.get("result")
print("%.3f %s" % ((p(e["end_timestamp"]) - p(e["start_timestamp"])).total_seconds(), json.dumps(e["result"]["output"])))'
}
"$squall" run wfbench.seq n=5 -j >/dev/null  # warm up
read -r s out < <("$squall" run wfbench.seq n="$n" -j | elapsed)
echo "sequential, $n core.noop tasks: $s s total, $(python3 -c "print(f'{$s / $n * 1000:.2f}')") ms per task; output $out"
read -r s out < <("$squall" run wfbench.items n="$m" c="$c" -j | elapsed)
echo "with-items, $m items, concurrency $c: $s s total, $(python3 -c "print(f'{$s / $m * 1000:.2f}')") ms per item; output $out"

# W workflows of T tasks at once.
sock=$(find "$dir/data" -name redis.sock | head -1)
mem() { redis-cli -s "$sock" INFO memory | tr -d '\r' | sed -n 's/^used_memory://p'; }
before=$(mem)
/usr/bin/python3 - "$w" "$t" "$before" "$sock" <<'PY'
import concurrent.futures, datetime as d, json, os, subprocess, sys, time, urllib.request
w, t, before, sock = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
url, key = os.environ["SQUALL_API_URL"], os.environ["SQUALL_API_KEY"]
def call(method, path, body=None):
    req = urllib.request.Request(url + path, method=method, headers={"St2-Api-Key": key, "Content-Type": "application/json"},
                                 data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)
started = time.time()
with concurrent.futures.ThreadPoolExecutor(max_workers=w) as pool:
    ids = list(pool.map(lambda _: call("POST", "/executions", {"action": "wfbench.seq", "parameters": {"n": t}})["id"], range(w)))
deadline = time.time() + 600
while True:
    done = [call("GET", "/executions/" + i) for i in ids]
    if all(e["status"] in ("succeeded", "failed", "canceled") for e in done) or time.time() > deadline:
        break
    time.sleep(0.2)
p = lambda s: d.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
bad = [e["id"] for e in done if e["status"] != "succeeded"]
assert not bad, "not succeeded: %s" % bad
last_end = max(p(e["end_timestamp"]) for e in done)
first_start = min(p(e["start_timestamp"]) for e in done)
per = sorted(p(e["end_timestamp"]) - p(e["start_timestamp"]) for e in done)
cli = lambda *a: subprocess.run(["redis-cli", "-s", sock, *a], capture_output=True, text=True).stdout
after = int([l for l in cli("INFO", "memory").splitlines() if l.startswith("used_memory:")][0].split(":")[1])
state_key = [k for k in cli("--scan", "--pattern", "*wf:" + ids[0]).split() if k][0]
state = int(cli("MEMORY", "USAGE", state_key).strip() or 0)
print("%d workflows x %d core.noop tasks at once: all done %.3f s after the first request (first start to last end %.3f s); "
      "per workflow median %.3f s, max %.3f s" % (w, t, last_end - started, last_end - first_start, per[len(per) // 2], per[-1]))
print("redis memory per finished workflow (workflow + %d task executions, indexes, state): %.1f KiB; its state hash alone: %.1f KiB"
      % (t, (after - before) / w / 1024, state / 1024))
PY
