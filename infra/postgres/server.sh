#!/usr/bin/env bash
# A throwaway PostgreSQL server for seglake's `postgres` sources and their
# tests: Debian's packaged server, one data directory, listening on
# 127.0.0.1 only, password (scram-sha-256) authentication for every
# connection. Throwaway: it does not fsync (a machine crash may lose its
# data), which makes starting, creating databases and stopping fast.
#
#   infra/postgres/server.sh start DIR   initialise DIR (first call) and start
#                                        the server; prints `port=P pid=N`
#   infra/postgres/server.sh stop DIR    stop the server started from DIR,
#                                        by the pid it recorded
#   infra/postgres/server.sh install     only install the server, if no
#                                        initdb is found (`start` does too)
#
# After `start`, DIR holds `port`, `pid`, `user` and `password` (mode 600):
# connect with postgres://$(cat DIR/user)@127.0.0.1:$(cat DIR/port)/postgres
# and PGPASSWORD=$(cat DIR/password). The user is the server's superuser.
#
# Settings (environment):
#   SEGLAKE_PG_USER      the user to create (default seglake)
#   SEGLAKE_PG_PASSWORD  its password (default: DIR/password if it exists,
#                        else a random one, written there)
#   SEGLAKE_PG_PORT      the port (default: a free one, kept across restarts)
#
# No `initdb` under /usr/lib/postgresql/*/bin: Debian's `postgresql` is
# installed first (apt-get, as root or through sudo). As root, the server
# runs as the `postgres` user the package creates (PostgreSQL refuses to run
# as root), so DIR's parent must be searchable by that user.
#
# Both commands are idempotent: `start` on a running server prints its port
# and returns at once; `stop` on a stopped one does nothing.
set -euo pipefail

action="${1:-}"
dir="${2:-}"
host=127.0.0.1
# shellcheck source=../lib/service.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/service.sh"

usage() {
    echo "usage: $0 start|stop DIR, or $0 install" >&2
    exit 2
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# The newest packaged server's bin directory, installing it when none is.
find_bin() {
    local initdb
    initdb="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -z "$initdb" ]; then
        install_server >&2
        initdb="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)"
        [ -n "$initdb" ] || { echo "no initdb after installing postgresql" >&2; exit 2; }
    fi
    dirname "$initdb"
}

# Installs Debian's postgresql without the `main` cluster the package would
# otherwise create (and may start on port 5432): this script makes its own.
install_server() {
    echo "== installing Debian's postgresql"
    export DEBIAN_FRONTEND=noninteractive
    local apt=(apt-get install -y -q -o Dpkg::Options::=--force-confold)
    as_root "${apt[@]}" postgresql-common ||
        { as_root apt-get update -q && as_root "${apt[@]}" postgresql-common; }
    as_root sed -ri 's/^#?\s*create_main_cluster\s*=.*$/create_main_cluster = false/' \
        /etc/postgresql-common/createcluster.conf
    as_root "${apt[@]}" postgresql
}

# Runs "$@" as the user that owns the server: the current one, or the
# `postgres` system user when root.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# The pid of the server started from DIR, if it still runs.
running_pid() {
    [ -s "$dir/pid" ] || return 1
    local pid
    pid="$(cat "$dir/pid")"
    kill -0 "$pid" 2>/dev/null || return 1
    # A recycled pid is not the server: it must be the postmaster's.
    [ "$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null)" = "$pid" ] || return 1
    echo "$pid"
}

initialise() {
    local bin="$1" user="$2"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 ||
            useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
        chown postgres "$dir"
        as_owner test -x "$dir" || {
            echo "the postgres user cannot enter $dir: make its parent directories searchable" >&2
            exit 2
        }
    fi
    if [ -n "${SEGLAKE_PG_PASSWORD:-}" ]; then
        printf '%s' "$SEGLAKE_PG_PASSWORD" >"$dir/password"
    elif [ ! -s "$dir/password" ]; then
        # 32 hex digits: no quoting trouble in URIs or shells. (od reads a
        # bounded count: a `tr </dev/urandom | head` pipe dies of SIGPIPE
        # under pipefail.)
        od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$dir/password"
    fi
    chmod 600 "$dir/password"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/password"
    echo "$user" >"$dir/user"
    # C locale: the same text ordering on every machine.
    as_owner "$bin/initdb" -D "$dir/data" -U "$user" --pwfile="$dir/password" \
        --auth=scram-sha-256 --encoding=UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 || {
        echo "initdb failed; see $dir/initdb.log:" >&2
        tail -n 20 "$dir/initdb.log" >&2
        exit 2
    }
}

# Starts the server in DIR on port $2 (the log starts afresh, so a failure
# is read from this attempt's lines only).
launch() {
    local bin="$1" port="$2"
    : >"$dir/postgres.log"
    [ "$(id -u)" = 0 ] && chown postgres "$dir/postgres.log"
    # The socket lives in DIR: /var/run/postgresql may not exist or be
    # writable, and nothing else on the machine should find this server.
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
        -o "-p $port -c listen_addresses=$host -c unix_socket_directories=$dir -c fsync=off" \
        start >/dev/null
}

start() {
    [ -n "$dir" ] || usage
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    report_running && return 0
    local bin user="${SEGLAKE_PG_USER:-seglake}"
    bin="$(find_bin)"
    [ -f "$dir/data/PG_VERSION" ] || initialise "$bin" "$user"
    # The asked port, else the last one (the helper moves on if something
    # answers there now), else a free one.
    local port="${SEGLAKE_PG_PORT:-}"
    [ -n "$port" ] || port="$(cat "$dir/port" 2>/dev/null || true)"
    [ -n "$port" ] || port="$(free_port)"
    launch_on_a_free_port "$dir/postgres.log" "${SEGLAKE_PG_PORT:-}" "$port" launch "$bin"
    head -n 1 "$dir/data/postmaster.pid" >"$dir/pid"
    echo "$started_port" >"$dir/port"
    echo "port=$started_port pid=$(cat "$dir/pid")"
}

# A fast shutdown (SIGINT: open transactions are rolled back), waiting up to
# 30 s for the server to exit, then SIGKILL.
stop() {
    stop_server INT 30
}

case "$action" in
    start) start ;;
    stop) stop ;;
    install) echo "initdb: $(find_bin)/initdb" ;;
    *) usage ;;
esac
