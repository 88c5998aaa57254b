#!/usr/bin/env bash
# A multi-process Squall installation on one machine: one Redis and N `squall server` processes per role, all
# sharing that Redis (README "Several processes"). Each role runs in its own processes, as it would across machines.
#
#   deploy/multi.sh start [N]    start Redis and N processes of each role (default 2), wait until the APIs answer
#   deploy/multi.sh stop         SIGTERM every process (Redis last), SIGKILL what is left after 40 s
#   deploy/multi.sh status       which processes are running
#
# Environment:
#   SQUALL_BIN          the squall binary (default build/squall, built by deploy/run.sh)
#   SQUALL_MULTI_DIR    where Redis's data, the shared data dir, logs and pid files go
#                       (default ${SQUALL_HOME:-$HOME/.squall}-multi)
#   SQUALL_MULTI_PORT   the first API port; api process i listens on PORT+i-1 (default 9101)
#   SQUALL_MULTI_ROLES  the roles to start (default: every role)
#   SQUALL_MULTI_POOLS  extra runner pools, each served by one runner process (e.g. "gpu,build")
#   REDIS_SERVER        the redis-server binary (default redis-server)
# Redis listens on a unix socket only (DIR/redis/redis.sock), with AOF (appendfsync everysec), as the embedded one.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${SQUALL_BIN:-build/squall}
DIR=${SQUALL_MULTI_DIR:-${SQUALL_HOME:-$HOME/.squall}-multi}
PORT=${SQUALL_MULTI_PORT:-9101}
ROLES=${SQUALL_MULTI_ROLES:-api sensors rules runner workflow timers notifier gc}
ROLES=${ROLES//,/ }
POOLS=${SQUALL_MULTI_POOLS:-}
REDIS=${REDIS_SERVER:-redis-server}
SOCK=$DIR/redis/redis.sock
RUN=$DIR/run

alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_one() {  # name, then the squall server arguments
    local name=$1
    shift
    if alive "$RUN/$name.pid"; then
        echo "$name already running (pid $(cat "$RUN/$name.pid"))"
        return
    fi
    "$BIN" server --redis "unix://$SOCK" --data-dir "$DIR/data" "$@" >"$DIR/logs/$name.log" 2>&1 &
    echo $! >"$RUN/$name.pid"
}

start() {
    local n=${1:-2}
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "multi.sh: N must be a positive number, got \"$n\"" >&2; exit 2; }
    [[ -x $BIN ]] || { echo "multi.sh: $BIN is not an executable (set SQUALL_BIN or build it)" >&2; exit 2; }
    mkdir -p "$DIR/redis" "$DIR/data" "$DIR/logs" "$RUN"
    chmod 700 "$DIR"
    if ! alive "$RUN/redis.pid"; then
        rm -f "$SOCK"
        "$REDIS" --port 0 --unixsocket "$SOCK" --unixsocketperm 700 --dir "$DIR/redis" \
            --appendonly yes --appendfsync everysec --save "" --daemonize no \
            >"$DIR/logs/redis.log" 2>&1 &
        echo $! >"$RUN/redis.pid"
    fi
    for _ in $(seq 1 200); do
        redis-cli -s "$SOCK" PING 2>/dev/null | grep -q PONG && break
        sleep 0.05
    done
    redis-cli -s "$SOCK" PING 2>/dev/null | grep -q PONG || { echo "multi.sh: Redis did not start (see $DIR/logs/redis.log)" >&2; exit 1; }

    local urls=()
    for role in $ROLES; do
        for i in $(seq 1 "$n"); do
            if [[ $role == api ]]; then
                local port=$((PORT + i - 1))
                start_one "api-$i" --roles api --listen "127.0.0.1:$port"
                urls+=("http://127.0.0.1:$port/api/v1")
            else
                start_one "$role-$i" --roles "$role"
            fi
        done
    done
    for pool in ${POOLS//,/ }; do
        start_one "runner-$pool" --roles runner --pool "$pool"
    done
    # Ready when every API answers its health check (the other roles are ready once they print their banner).
    for url in "${urls[@]}"; do
        for _ in $(seq 1 600); do
            curl -fsS --max-time 2 "$url/health" >/dev/null 2>&1 && break
            sleep 0.1
        done
        if ! curl -fsS --max-time 2 "$url/health" >/dev/null 2>&1; then
            echo "multi.sh: $url did not answer (see $DIR/logs); the API processes' last lines:" >&2
            tail -n 15 "$DIR"/logs/api-*.log >&2
            exit 1
        fi
    done
    echo "Squall (multi-process) is running: $(ls "$RUN" | wc -l) processes, Redis at unix://$SOCK"
    for url in "${urls[@]}"; do echo "  API: $url"; done
    echo "  Admin API key: $DIR/data/admin-api-key   Logs: $DIR/logs/   Stop: deploy/multi.sh stop"
}

stop() {
    [[ -d $RUN ]] || { echo "nothing to stop in $DIR"; return; }
    local pids=()
    for f in "$RUN"/*.pid; do
        [[ -e $f && $(basename "$f") != redis.pid ]] || continue
        if alive "$f"; then
            kill -TERM "$(cat "$f")" 2>/dev/null || true
            pids+=("$(cat "$f")")
        fi
        rm -f "$f"
    done
    wait_gone 40 "${pids[@]}"
    if alive "$RUN/redis.pid"; then
        local r
        r=$(cat "$RUN/redis.pid")
        kill -TERM "$r" 2>/dev/null || true
        wait_gone 20 "$r"
    fi
    rm -f "$RUN/redis.pid"
    echo "stopped"
}

wait_gone() {  # seconds, pids...
    local secs=$1
    shift
    for _ in $(seq 1 $((secs * 10))); do
        local left=0
        for p in "$@"; do kill -0 "$p" 2>/dev/null && left=1; done
        [[ $left == 0 ]] && return
        sleep 0.1
    done
    for p in "$@"; do kill -KILL "$p" 2>/dev/null && echo "multi.sh: killed $p (did not stop in $secs s)" >&2; done
    return 0
}

status() {
    [[ -d $RUN ]] || { echo "nothing runs in $DIR"; return 1; }
    local down=0
    for f in "$RUN"/*.pid; do
        [[ -e $f ]] || continue
        if alive "$f"; then echo "$(basename "$f" .pid): running (pid $(cat "$f"))"; else echo "$(basename "$f" .pid): stopped"; down=1; fi
    done
    return $down
}

case ${1:-} in
    start) start "${2:-2}" ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: deploy/multi.sh start [N] | stop | status" >&2; exit 2 ;;
esac
