#!/usr/bin/env bash
# StackStorm compatibility suite: the real `st2` CLI (StackStorm's st2client, unmodified) against a real Squall
# server and a real redis-server, both on 127.0.0.1, running everyday commands and checking what they PRINT.
# Builds nothing: the squall binary comes from $SQUALL_BIN, else the test build (deploy/test.sh), else build/.
# The CLI is looked up next to the repo ($(dirname "$0")/../../shared/tools/st2client); without it the suite is
# skipped with a message. Commands that cannot pass yet are listed as known gaps, with the reason.
# docs/api.md "The st2 compatibility suite" describes it.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
st2dir="$here/../../shared/tools/st2client"
if [ ! -d "$st2dir" ]; then
  echo "compat: SKIPPED: StackStorm's st2 CLI is not at $st2dir (it lives outside this repository)"
  exit 0
fi
st2dir="$(cd "$st2dir" && pwd)"

squall="${SQUALL_BIN:-}"
if [ -z "$squall" ]; then
  for candidate in "$root/${SQUALL_TEST_BUILD_DIR:-build-test}/squall" "$root/build/squall"; do
    if [ -x "$candidate" ]; then squall="$candidate"; break; fi
  done
fi
if [ -z "$squall" ] || [ ! -x "$squall" ]; then
  echo "compat: no squall binary (build with deploy/test.sh or deploy/run.sh, or set SQUALL_BIN)" >&2
  exit 2
fi
command -v redis-server >/dev/null || { echo "compat: redis-server is not installed" >&2; exit 2; }

work="$(mktemp -d)"
redis_pid=""
squall_pid=""
cleanup() {
  [ -n "$squall_pid" ] && kill "$squall_pid" 2>/dev/null && wait "$squall_pid" 2>/dev/null
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- a real redis-server and a real squall server ---------------------------------------------------------------
redis_port="$(free_port)"
redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$work" --save "" --appendonly no \
  --logfile "$work/redis.log" &
redis_pid=$!
for _ in $(seq 100); do
  redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null | grep -q PONG && break
  sleep 0.1
done

# Leak reports of an ASan build at exit are not what this suite checks.
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" "$squall" server --data-dir "$work/data" --listen 127.0.0.1:0 \
  --redis "redis://127.0.0.1:$redis_port/0" --log-level warn >"$work/squall.log" 2>&1 &
squall_pid=$!
api_url=""
for _ in $(seq 300); do
  api_url="$(grep -o 'http://127\.0\.0\.1:[0-9]*/api/v1' "$work/squall.log" | head -1)"
  [ -n "$api_url" ] && break
  kill -0 "$squall_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$api_url" ]; then
  echo "compat: the squall server did not start:" >&2
  cat "$work/squall.log" >&2
  exit 1
fi
base="${api_url%/api/v1}"
export ST2_BASE_URL="$base" ST2_API_URL="$base/api/v1" ST2_AUTH_URL="$base/auth/v1" ST2_STREAM_URL="$base/stream/v1"
# Squall writes the admin key to DATA/admin-api-key on first start.
ST2_API_KEY="$(cat "$work/data/admin-api-key")"
export ST2_API_KEY
echo "compat: squall $("$squall" --version 2>/dev/null | head -1) at $base, st2 CLI from $st2dir"

# --- the checks -------------------------------------------------------------------------------------------------
pass=0
fail=0
gaps=0
failed_names=()
out=""

# With AS_USER_HOME set, st2 runs without the admin key, with that HOME (its ~/.st2 config and token cache):
# what a user who logged in with `st2 login` gets.
st2() {
  if [ -n "${AS_USER_HOME:-}" ]; then
    timeout 60 env -u ST2_API_KEY HOME="$AS_USER_HOME" "$st2dir/st2" "$@" 2>&1
  else
    timeout 60 "$st2dir/st2" "$@" 2>&1
  fi
}

# check NAME REGEX... -- ARGS: runs `st2 ARGS`; passes when the output matches every extended REGEX (a REGEX
# starting with ! must not match).
check() {
  local name="$1"
  shift
  local patterns=()
  while [ "$1" != "--" ]; do patterns+=("$1"); shift; done
  shift
  out="$(st2 "$@")"
  local ok=1 p
  for p in "${patterns[@]}"; do
    if [[ $p == '!'* ]]; then
      grep -Eq -- "${p:1}" <<<"$out" && ok=0
    else
      grep -Eq -- "$p" <<<"$out" || ok=0
    fi
  done
  if [ $ok -eq 1 ]; then
    pass=$((pass + 1))
    echo "  ok    st2 $name"
  else
    fail=$((fail + 1))
    failed_names+=("$name")
    echo "  FAIL  st2 $name  (st2 $*; wanted: ${patterns[*]})"
    sed 's/^/        | /' <<<"$out" | head -40
  fi
}

gap() {
  gaps=$((gaps + 1))
  echo "  gap   st2 $1: $2"
}

# The id an async run printed ("st2 execution get <id>").
run_id() { grep -Eo 'execution get [0-9a-f]+' <<<"$out" | awk '{print $3}' | head -1; }

wait_status() {  # wait_status ID REGEX: up to 30 s
  local i
  for i in $(seq 60); do
    st2 execution get "$1" -j | grep -Eq "\"status\": \"($2)\"" && return 0
    sleep 0.5
  done
  return 1
}

echo "actions and runs"
check "run (sync)" 'status: succeeded' 'stdout: compat-hello' -- run core.local cmd="echo compat-hello"
ok_id="$(st2 execution list -n 1 -a id -j | grep -Eo '[0-9a-f]{24}' | head -1)"
check "run -a" 'st2 execution get [0-9a-f]{24}' -- run -a core.local cmd="echo compat-async"
async_id="$(run_id)"
check "run with params" 'timeout: 42' 'stdout: p1-p2' -- run core.local cmd="echo p1-p2" timeout=42
check "run (failing action)" 'status: failed' 'return_code: 3' -- run core.local cmd="exit 3"
fail_id="$(st2 execution list -n 1 -a id -j | grep -Eo '[0-9a-f]{24}' | head -1)"
check "run -h (action parameter help)" 'cmd' 'Arbitrary Linux command' -- run core.local -h
check "action list" 'core\.local' 'core\.noop' -- action list
check "action list -p" 'core\.echo' '!examples\.' -- action list -p core
check "action get" 'local-shell-cmd' 'core\.local' -- action get core.local

echo "executions"
wait_status "$async_id" succeeded
check "execution list" "$ok_id" "$async_id" -- execution list
check "execution list --action" 'core\.local' "$fail_id" -- execution list --action core.local
check "execution list --status" "$fail_id" "!$ok_id" -- execution list --status failed
check "execution list -n" "$fail_id" "!$ok_id" -- execution list -n 1
check "execution list -a" 'status' '!action\.ref' "$ok_id" -- execution list -a id status
check "execution get" 'status: succeeded' 'compat-hello' -- execution get "$ok_id"
check "execution get -d" 'action\.ref +\| core\.local' 'succeeded' '"stdout": "compat-hello"' -- execution get -d "$ok_id"
check "execution get -j" "\"id\": \"$ok_id\"" '"stdout": "compat-hello' -- execution get -j "$ok_id"
check "execution get -k" 'compat-hello' '!return_code' -- execution get "$ok_id" -k stdout
check "execution get (failed)" 'status: failed' 'exited with code 3' -- execution get "$fail_id"
check "run -a (long)" 'st2 execution get' -- run -a core.local cmd="echo tail-one; sleep 2; echo tail-two"
tail_id="$(run_id)"
check "execution tail (live)" 'tail-two' "Execution $tail_id has completed \\(status=succeeded\\)" -- execution tail "$tail_id"
check "run --tail" 'tail-three' 'has completed \(status=succeeded\)' -- run --tail core.local cmd="sleep 1; echo tail-three"
out="$(st2 run -a core.local cmd="sleep 30")"
cancel_id="$(run_id)"
wait_status "$cancel_id" running
check "execution cancel" "$cancel_id" 'cancel' -- execution cancel "$cancel_id"
wait_status "$cancel_id" canceled
check "execution get (canceled)" 'status: canceled' -- execution get "$cancel_id"
check "execution cancel (ended ones)" 'cannot be canceled\. State = succeeded' "$cancel_id canceled" \
  -- execution cancel "$ok_id" "$cancel_id"
check "execution re-run" 'status: succeeded' 'compat-hello' -- execution re-run "$ok_id"
check "execution re-run (params)" 'status: succeeded' 'stdout: rerun-changed' -- execution re-run "$ok_id" cmd="echo rerun-changed"

echo "rules, triggers, enforcements"
cat >"$work/rule.yaml" <<'EOF'
name: compat_rule
pack: default
description: compat suite rule
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: compat
criteria:
  trigger.body.kind:
    type: equals
    pattern: compat
action:
  ref: core.local
  parameters:
    cmd: echo rule-fired-{{ trigger.body.kind }}
EOF
check "rule create" 'default\.compat_rule' 'core\.st2\.webhook' -- rule create "$work/rule.yaml"
check "rule list" 'default\.compat_rule' -- rule list
check "rule list -p" 'default\.compat_rule' '!examples\.' -- rule list -p default
check "rule get" 'compat suite rule' 'core\.local' -- rule get default.compat_rule
check "rule disable" 'enabled +\| False' -- rule disable default.compat_rule
check "rule enable" 'enabled +\| True' -- rule enable default.compat_rule
curl -s -o /dev/null -X POST -H "St2-Api-Key: $ST2_API_KEY" -H 'Content-Type: application/json' \
  -d '{"kind": "compat"}' "$base/api/v1/webhooks/compat"
for _ in $(seq 60); do
  st2 execution list --action core.local -n 5 -j | grep -q 'rule-fired-compat' && break
  sleep 0.5
done
check "trigger list" 'core\.st2\.webhook' 'core\.st2\.IntervalTimer' -- trigger list
check "trigger-instance list" 'core\.st2\.webhook' -- trigger-instance list
ti_id="$(st2 trigger-instance list -j | grep -Eo '"id": "[0-9a-zA-Z_-]+"' | head -1 | cut -d'"' -f4)"
check "trigger-instance list --trigger" 'core\.st2\.webhook' -- trigger-instance list --trigger core.st2.webhook
check "trigger-instance get" "$ti_id" 'compat' -- trigger-instance get "$ti_id"
check "rule-enforcement list" 'default\.compat_rule' -- rule-enforcement list
check "trace list" "$ti_id" -- trace list
check "trace get" 'default\.compat_rule' 'core\.local' "$ti_id" -- trace get "$ti_id"
check "execution list (rule's execution)" 'rule-fired-compat' -- execution list --action core.local -n 5 -a id parameters -j
check "rule delete" 'deleted' -- rule delete default.compat_rule
check "rule get (deleted)" 'not found' -- rule get default.compat_rule

echo "datastore"
check "key set" 'compat_key' 'value-1' -- key set compat_key value-1
check "key get" 'value-1' -- key get compat_key
check "key set --encrypt" 'compat_secret' '!s3cret-v' -- key set compat_secret s3cret-v --encrypt
check "key get (secret masked)" 'compat_secret' '!s3cret-v' -- key get compat_secret
check "key get -d" 's3cret-v' -- key get compat_secret -d
check "key set --scope user" 'compat_user_key' 'user' -- key set compat_user_key uv --scope user
check "key list" 'compat_key' 'compat_secret' -- key list
check "key list --scope user" 'compat_user_key' '!compat_key ' -- key list --scope user
check "key list -d" 's3cret-v' -- key list -d
check "key delete" 'deleted' -- key delete compat_key
check "key get (deleted)" 'not found' -- key get compat_key

echo "packs, runners, other resources"
check "pack list" 'core' 'examples' -- pack list
check "pack get" 'core' 'version' -- pack get core
# A pack in a local git repository, installed and removed through the API as st2 does it.
mkdir -p "$work/compat_pack/actions"
printf -- '---\nref: compat_pack\nname: compat_pack\ndescription: compat suite pack\nversion: 1.2.3\nauthor: compat\n' \
  >"$work/compat_pack/pack.yaml"
printf -- '---\nname: hello\nrunner_type: local-shell-cmd\nentry_point: ""\nparameters:\n  cmd:\n    default: echo hello-from-compat-pack\n' \
  >"$work/compat_pack/actions/hello.yaml"
# An Orquesta workflow of two tasks, the first slow enough to pause the workflow while it runs.
mkdir -p "$work/compat_pack/actions/workflows"
printf -- '---\nname: slow\nrunner_type: orquesta\nentry_point: workflows/slow.yaml\n' \
  >"$work/compat_pack/actions/slow.yaml"
cat >"$work/compat_pack/actions/workflows/slow.yaml" <<'EOF'
version: 1.0
tasks:
  first:
    action: core.local cmd="sleep 6; echo first-done"
    next:
      - when: <% succeeded() %>
        do: second
  second:
    action: core.local cmd="echo second-done"
EOF
git -C "$work/compat_pack" init -q
git -C "$work/compat_pack" add -A
git -C "$work/compat_pack" -c user.name=compat -c user.email=compat@localhost commit -q -m v1
check "pack install" 'compat_pack' '1\.2\.3' '!ERROR' -- pack install "file://$work/compat_pack"
check "run (installed pack's action)" 'hello-from-compat-pack' -- run compat_pack.hello
# Pause a running workflow: it is paused once its running task ended; resumed, it runs the next task.
out="$(st2 run -a compat_pack.slow)"
wf_id="$(run_id)"
wait_status "$wf_id" running
check "execution pause" "$wf_id" 'status: paus(ing|ed)' -- execution pause "$wf_id"
wait_status "$wf_id" paused
check "execution get (paused)" 'status: paused' -- execution get "$wf_id"
check "execution resume" "$wf_id" 'status: (resuming|running)' -- execution resume "$wf_id"
wait_status "$wf_id" succeeded
check "execution get (resumed)" 'status: succeeded' 'first' 'second' -- execution get "$wf_id"
check "pack remove" 'compat_pack' '!ERROR' '!not been removed' -- pack remove compat_pack
check "pack get (removed)" 'not found' -- pack get compat_pack
check "runner list" 'local-shell-cmd' 'noop' -- runner list
check "runner get" 'local-shell-cmd' 'runner_parameters|cmd' -- runner get local-shell-cmd
check "action-alias list" '!ERROR' '!Traceback' -- action-alias list
out="$(st2 run -a core.ask)"
check "inquiry list" "$(run_id)" -- inquiry list
cat >"$work/timer_rule.yaml" <<'EOF'
name: compat_timer
pack: default
trigger:
  type: core.st2.IntervalTimer
  parameters:
    unit: hours
    delta: 12
action:
  ref: core.noop
EOF
st2 rule create "$work/timer_rule.yaml" >/dev/null
check "timer list" 'core\.st2\.IntervalTim' "'delta': 12" -- timer list
check "timer list --timer-type" '"type": "core\.st2\.IntervalTimer"' -- timer list --timer-type core.st2.IntervalTimer -j
st2 rule delete default.compat_timer >/dev/null
check "sensor list" '!ERROR' '!Traceback' -- sensor list
check "policy list" '!ERROR' '!Traceback' -- policy list
check "policy-type list" 'action\.concurrency' 'action\.retry' -- policy-type list
check "whoami" 'Currently logged in as "admin"' -- whoami
check "apikey list" 'admin' -- apikey list
check "webhook list" 'sample' 'core\.st2\.webhook' -- webhook list
check "webhook get" 'sample' '!ERROR' '!not found' -- webhook get sample

echo "auth: users, tokens, API keys"
# Users are added with the squall CLI in the data dir (password on stdin), as StackStorm's htpasswd file.
printf '%s\n' 'compat-Pw-1' | "$squall" user add compat_user --data-dir "$work/data" >/dev/null
printf '%s\n' 'compat-Admin-2' | "$squall" user add compat_admin --admin --data-dir "$work/data" >/dev/null
check "auth" 'compat_user' 'token' 'expiry' -- auth compat_user -p compat-Pw-1
check "auth (wrong password)" 'Unauthorized|401' '!expiry' -- auth compat_user -p wrong
check "auth -t --ttl" '^[0-9a-f]{64}$' -- auth compat_user -p compat-Pw-1 -t --ttl 300
user_token="$(grep -Eo '^[0-9a-f]{64}$' <<<"$out" | head -1)"
ST2_AUTH_TOKEN="$user_token" AS_USER_HOME="$work/home-token" check "whoami (token)" \
  'Currently logged in as "compat_user"' 'Authentication method: authentication token' -- whoami
mkdir -p "$work/home-login"
AS_USER_HOME="$work/home-login" check "login" 'Logged in as compat_user' -- login compat_user -p compat-Pw-1
AS_USER_HOME="$work/home-login" check "whoami (after login)" 'Currently logged in as "compat_user"' -- whoami
AS_USER_HOME="$work/home-login" check "apikey list (not an admin: 403)" '403' 'listing API keys is for admins only' \
  '!admin +\|' -- apikey list
AS_USER_HOME="$work/home-login" check "run (as the logged-in user)" 'status: succeeded' 'stdout: as-user' \
  -- run core.local cmd="echo as-user"
AS_USER_HOME="$work/home-login" check "execution list (own executions only)" 'core\.local' "!$ok_id" -- execution list
check "apikey create" 'key +\| [0-9a-f]{40}' 'used_by' -- apikey create -m '{"used_by": "compat"}'
check "apikey create -k" '^[0-9a-f]{64}$' -- apikey create -k -u compat_user
new_key="$(grep -Eo '^[0-9a-f]{64}$' <<<"$out" | head -1)"
check "apikey list (created keys)" 'compat_user' 'used_by' '!'"$new_key" -- apikey list
key_id="$(timeout 60 "$st2dir/st2" apikey list -j 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print([k["id"] for k in json.load(sys.stdin) if k["user"] == "compat_user"][0])')"
ST2_API_KEY="$new_key" check "whoami (created key)" 'Currently logged in as "compat_user"' -- whoami
check "apikey get" "$key_id" 'compat_user' -- apikey get "$key_id"
check "apikey disable" 'enabled +\| False' -- apikey disable "$key_id"
# (st2 whoami says "Unable to retrieve currently logged-in user" for a 401: st2client tests the truth of the
# response, which is False for any error status; `action get` shows the server's message.)
ST2_API_KEY="$new_key" check "action get (disabled key)" '401' 'API key is disabled' '!local-shell-cmd' \
  -- action get core.local
check "apikey enable" 'enabled +\| True' -- apikey enable "$key_id"
check "apikey delete" "$key_id" 'deleted' -- apikey delete "$key_id"
ST2_API_KEY="$new_key" check "action get (deleted key)" '401' 'API key is not valid' '!local-shell-cmd' \
  -- action get core.local

total=$((pass + fail))
echo
echo "compat: $pass/$total st2 commands pass, $fail fail, $gaps known gaps listed above"
if [ $fail -gt 0 ]; then
  echo "compat: failing: ${failed_names[*]}" >&2
  echo "--- squall server log (tail) ---" >&2
  tail -40 "$work/squall.log" >&2
  exit 1
fi
