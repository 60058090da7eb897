#!/usr/bin/env bash
# A local Ballista cluster of seglake processes: one scheduler and two
# executors, every one listening on 127.0.0.1 only.
#
#   infra/cluster/local.sh start [DIR]   start it; pids and logs go to DIR
#                                        (default .seglake-cluster)
#   infra/cluster/local.sh stop  [DIR]   stop the processes started there,
#                                        by the pids it recorded
#
# Ports: SEGLAKE_SCHEDULER_PORT (default 50050) for the scheduler, the next
# four for the executors (Flight and task service of each); an executor
# silent for SEGLAKE_EXECUTOR_TIMEOUT seconds (default 30) is taken out and
# its tasks rerun on the other. The binary is
# SEGLAKE_BIN, or target/release/seglake (built with `cargo build --release`).
# Then: seglake run jobs/demo.toml --engine ballista://127.0.0.1:50050
set -euo pipefail

action="${1:-}"
dir="${2:-.seglake-cluster}"
port="${SEGLAKE_SCHEDULER_PORT:-50050}"
host=127.0.0.1
# The cluster's processes log what they do (executors joining, jobs, tasks).
export RUST_LOG="${RUST_LOG:-info}"

start() {
    local bin="${SEGLAKE_BIN:-${CARGO_TARGET_DIR:-target}/release/seglake}"
    if [ ! -x "$bin" ]; then
        echo "no seglake binary at $bin: run \`cargo build --release\` or set SEGLAKE_BIN" >&2
        exit 2
    fi
    mkdir -p "$dir"
    if [ -s "$dir/pids" ]; then
        echo "$dir/pids exists: a cluster was started from $dir (stop it first)" >&2
        exit 2
    fi
    "$bin" cluster scheduler --bind "$host:$port" \
        --executor-timeout "${SEGLAKE_EXECUTOR_TIMEOUT:-30}" >"$dir/scheduler.log" 2>&1 &
    echo "$! scheduler" >>"$dir/pids"
    wait_for_port "$port" "$dir/scheduler.log" "$!"
    local pids=()
    for i in 1 2; do
        local flight=$((port + 2 * i - 1))
        "$bin" cluster executor --scheduler "$host:$port" --bind "$host:$flight" \
            --grpc-port $((flight + 1)) --work-dir "$dir/executor-$i" \
            >"$dir/executor-$i.log" 2>&1 &
        echo "$! executor-$i" >>"$dir/pids"
        pids+=("$!")
        mkdir -p "$dir/executor-$i"
    done
    for i in 1 2; do
        wait_for_port $((port + 2 * i - 1)) "$dir/executor-$i.log" "${pids[$((i - 1))]}"
    done
    echo "cluster up: ballista://$host:$port (pids and logs in $dir)"
}

# Waits until something listens on 127.0.0.1:$1, giving up when process $3
# (logging to $2) has exited, e.g. because its port was taken, or after
# SEGLAKE_CLUSTER_START_TIMEOUT seconds (default 120: a loaded machine can
# take a while to load the binary).
wait_for_port() {
    local limit="${SEGLAKE_CLUSTER_START_TIMEOUT:-120}"
    local started=$SECONDS
    local pid="$3"
    while (( SECONDS - started < limit )); do
        if (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$(basename "$2" .log) exited before listening on $host:$1; see $2:" >&2
            tail -n 20 "$2" >&2
            stop
            exit 2
        fi
        sleep 0.1
    done
    echo "nothing listens on $host:$1 after $limit s; see $2:" >&2
    tail -n 20 "$2" >&2
    stop
    exit 2
}

stop() {
    [ -f "$dir/pids" ] || { echo "no cluster was started from $dir" >&2; return 0; }
    while read -r pid role; do
        if kill "$pid" 2>/dev/null; then
            echo "stopped $role (pid $pid)"
        fi
    done <"$dir/pids"
    # Executors finish their running tasks on SIGTERM; give them 10 s.
    for _ in $(seq 1 100); do
        local alive=0
        while read -r pid _; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done <"$dir/pids"
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    while read -r pid _; do
        kill -9 "$pid" 2>/dev/null || true
    done <"$dir/pids"
    rm -f "$dir/pids"
}

case "$action" in
    start) start ;;
    stop) stop ;;
    *)
        sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
