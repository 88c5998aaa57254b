#!/usr/bin/env bash
# Start-up overhead of a python action: runs core.uuid (a StackStorm-style Action class returning one value)
# N times through a running server and prints the median and p90 of the execution's duration
# (start_timestamp → end_timestamp: spawn the wrapper, import the action, run it, collect the result),
# next to a bare `python3 -c pass` on the same machine (SQUALL_PYTHON names the interpreter, as for the server).
#   SQUALL_API_URL=... SQUALL_API_KEY=... bench/python_startup.sh [N] [squall binary]
set -euo pipefail
n=${1:-30}
squall=${2:-squall}
: "${SQUALL_API_URL:?set SQUALL_API_URL}" "${SQUALL_API_KEY:?set SQUALL_API_KEY}"
durations=()
for ((i = 0; i < n; i++)); do
    out=$("$squall" run core.uuid -j)
    durations+=("$(python3 -c 'import json, sys, datetime as d
e = json.load(sys.stdin)
p = lambda s: d.datetime.fromisoformat(s.replace("Z", "+00:00"))
assert e["status"] == "succeeded", e
print((p(e["end_timestamp"]) - p(e["start_timestamp"])).total_seconds() * 1000)' <<<"$out")")
done
bare=()
for ((i = 0; i < 10; i++)); do
    s=$(date +%s%N); "${SQUALL_PYTHON:-python3}" -c pass; e=$(date +%s%N)
    bare+=("$(((e - s) / 1000))")
done
python3 - "${durations[@]}" -- "${bare[@]}" <<'PY'
import statistics, sys
args = sys.argv[1:]
cut = args.index("--")
runs = sorted(float(x) for x in args[:cut])
bare = [int(x) / 1000 for x in args[cut + 1:]]
p90 = runs[int(0.9 * (len(runs) - 1))]
print(f"python action (core.uuid), {len(runs)} runs: median {statistics.median(runs):.1f} ms, p90 {p90:.1f} ms")
print(f"bare {__import__('os').environ.get('SQUALL_PYTHON', 'python3')} -c pass: median {statistics.median(bare):.1f} ms")
PY
