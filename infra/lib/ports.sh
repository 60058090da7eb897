# Sourced by the scripts that start a throwaway server on $host
# (infra/postgres/server.sh, infra/kafka/broker.sh).

# A port nothing listens on (the server's bind is checked again at start).
free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "no free port found on $host" >&2
    exit 2
}
