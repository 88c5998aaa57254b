#!/usr/bin/env bash
# Workflow engine overhead (docs/workflows.md, issue 14's bar): starts a server of its own (embedded Redis, all roles)
# with a bench pack, then measures, from each workflow execution's start_timestamp to its end_timestamp:
#   - a sequential workflow of N core.noop tasks (a task that loops on itself N times): per-task overhead;
#   - with-items over M items at concurrency C, core.noop.
#   bench/workflows.sh [squall binary] [N=100] [M=1000] [C=50] [workers=8]
set -euo pipefail
squall=${1:-squall}
n=${2:-100}
m=${3:-1000}
c=${4:-50}
workers=${5:-8}
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
