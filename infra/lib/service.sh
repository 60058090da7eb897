# Sourced by the scripts that start a throwaway server on $host from a
# folder $dir holding its `pid` (infra/postgres/server.sh,
# infra/kafka/broker.sh); each defines `running_pid` and `usage`.

# A port nothing listens on (the server's bind is checked again at start).
free_port() {
    local port
    for _ in $(seq 1 50); do
        # Below the kernel's ephemeral range (32768 and up on Linux), where
        # the tests' own outgoing connections take local ports that a
        # connect probe cannot see (a broker once failed to bind one), and
        # above the cluster tests' fixed ports (24350..26424).
        port=$((27000 + RANDOM % 5700))
        if ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "no free port found on $host" >&2
    exit 2
}

# Stops the server started from $dir: SIGNAL, up to SECONDS for it to exit,
# then SIGKILL. Nothing to do when it is not running.
stop_server() {
    local signal="$1" seconds="$2" pid
    [ -n "$dir" ] || usage
    if ! pid="$(running_pid)"; then
        rm -f "$dir/pid"
        return 0
    fi
    kill "-$signal" "$pid"
    for _ in $(seq 1 $((seconds * 10))); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$dir/pid"; return 0; }
        sleep 0.1
    done
    echo "the server (pid $pid) did not stop in $seconds s: killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
}

# Prints "port=PORT pid=PID" of the server of $dir when it is already
# running (then there is nothing to start); fails otherwise.
report_running() {
    local pid
    pid="$(running_pid)" || return 1
    echo "port=$(cat "$dir/port") pid=$pid"
}

# Runs `COMMAND... PORT` until the server starts. A port free_port found
# unused can be taken before the server binds it (another server starting at
# the same moment): when LOG says so, another port is tried, up to five in
# all, unless the port was asked for (ASKED not empty; a port asked for
# that something already answers on is refused). Sets started_port;
# on failure prints LOG's last lines and exits 2.
launch_on_a_free_port() {
    local log="$1" asked="$2" port="$3" attempt
    shift 3
    for attempt in 1 2 3 4 5; do
        # A server already answering there would pass for the new one.
        if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
            [ -z "$asked" ] || { echo "port $port is already in use on $host" >&2; exit 2; }
            port="$(free_port)"
        fi
        if "$@" "$port"; then
            started_port="$port"
            return 0
        fi
        if [ -n "$asked" ] || [ "$attempt" = 5 ] || ! grep -q "Address already in use" "$log"; then
            break
        fi
        echo "port $port was taken meanwhile; trying another" >&2
        port="$(free_port)"
    done
    echo "the server did not start; see $log:" >&2
    tail -n 20 "$log" >&2
    exit 2
}
