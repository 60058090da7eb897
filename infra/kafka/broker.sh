#!/usr/bin/env bash
# A throwaway Kafka-protocol broker for `seglake ingest` / `produce` and
# their tests: Tansu (Apache-2.0, a Kafka-compatible broker written in Rust,
# installed from crates.io with `cargo install`), keeping its topics in
# memory, listening on 127.0.0.1 only. Throwaway: a restart of the broker
# loses every topic.
#
#   infra/kafka/broker.sh start DIR   start a broker; prints `port=P pid=N`,
#                                     and DIR holds `port` and `pid`
#   infra/kafka/broker.sh stop DIR    stop the broker started from DIR, by
#                                     the pid it recorded
#   infra/kafka/broker.sh install     only install the broker, if missing
#                                     (`start` does too)
#
# Settings (environment):
#   SEGLAKE_KAFKA_BROKER_BIN   the broker's binary (default: installed under
#                              $SEGLAKE_TOOLS, ~/.cache/seglake by default)
#   SEGLAKE_KAFKA_PORT         the port (default: a free one)
#
# Both commands are idempotent: `start` on a running broker prints its port
# and returns at once; `stop` on a stopped one does nothing.
set -euo pipefail

action="${1:-}"
dir="${2:-}"
host=127.0.0.1
# shellcheck source=../lib/service.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/service.sh"
# Pinned: the version the tests were written against.
tansu_version=0.6.0
tools="${SEGLAKE_TOOLS:-$HOME/.cache/seglake}/kafka"
bin="${SEGLAKE_KAFKA_BROKER_BIN:-$tools/bin/tansu}"

usage() {
    echo "usage: $0 start|stop DIR, or $0 install" >&2
    exit 2
}

# Builds Tansu with its in-memory storage only (the `dynostore` feature; no
# PostgreSQL, S3 or lake back ends), in a target folder of its own so that
# seglake's build is untouched. A few minutes, once per machine.
install_broker() {
    [ -x "$bin" ] && return 0
    echo "== installing the Tansu Kafka broker $tansu_version (cargo install, once)" >&2
    CARGO_TARGET_DIR="$tools/target" cargo install tansu --version "$tansu_version" \
        --no-default-features --features dynostore --locked --root "$tools" >&2
    rm -rf "$tools/target"
}

# The pid of the broker started from DIR, if it still runs.
running_pid() {
    [ -s "$dir/pid" ] || return 1
    local pid
    pid="$(cat "$dir/pid")"
    kill -0 "$pid" 2>/dev/null || return 1
    # A recycled pid is not the broker.
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(readlink -f "$bin")" ] || return 1
    echo "$pid"
}

# Starts the broker on $1; 0 once it accepts connections, 1 if it exited
# (its log says why).
launch() {
    local port="$1" pid url="tcp://$host:$1"
    setsid "$bin" broker --listener-url "$url" --advertised-listener-url "$url" \
        --storage-engine memory://tansu/ >"$dir/broker.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$dir/pid"
    echo "$port" >"$dir/port"
    for _ in $(seq 1 300); do
        if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
            echo "port=$port pid=$pid"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
    return 1
}

start() {
    [ -n "$dir" ] || usage
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    report_running && return 0
    install_broker
    launch_on_a_free_port "$dir/broker.log" "${SEGLAKE_KAFKA_PORT:-}" \
        "${SEGLAKE_KAFKA_PORT:-$(free_port)}" launch
}

# SIGTERM, up to 10 s to exit, then SIGKILL.
stop() {
    stop_server TERM 10
}

case "$action" in
    start) start ;;
    stop) stop ;;
    install) install_broker; echo "broker: $bin" ;;
    *) usage ;;
esac
