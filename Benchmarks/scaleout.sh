#!/usr/bin/env bash
# Scale-out benchmark: three `switchboard serve` nodes on one redis-server, FanoutBenchmark's subscribers
# spread evenly over the three, and its publisher on the HTTP API of the first node (so every publication
# goes through Redis to all three). Then, for comparison, the same load on one node with the embedded memory
# broker. Prints both tables; stops only the processes it started.
#
#   Benchmarks/scaleout.sh                                     # 1,500 subscribers, rates 5..100 pub/s, 5 s steps
#   Benchmarks/scaleout.sh --subscribers 3000 --rates 10,20
#
# Arguments go to FanoutBenchmark (`--help` lists them; --port and --subscriber-ports are set here).
# Environment: SERVER_CPU (0) for Redis and the nodes, CLIENT_CPU (1) for the benchmark; REDIS_FSYNC
# (always), the append-only file's fsync policy (always, everysec, no); SKIP_BUILD=1 to reuse the last
# release build; SKIP_MEMORY=1 to skip the single-node comparison; KEEP_LOGS=1 to keep the logs.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
server_cpu="${SERVER_CPU:-0}"
client_cpu="${CLIENT_CPU:-1}"
fsync="${REDIS_FSYNC:-always}"
defaults=(--subscribers 1500 --rates 5,10,20,50,100 --step-seconds 5 --drain-seconds 3)
arguments=("${defaults[@]}" "$@")

echo "command: Benchmarks/scaleout.sh $*  (FanoutBenchmark ${arguments[*]}; REDIS_FSYNC=$fsync)"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    (cd "$root" && swift build -c release --product switchboard)
    swift build -c release --package-path "$root/Benchmarks" --product FanoutBenchmark
fi
server_bin="$(cd "$root" && swift build -c release --show-bin-path)/switchboard"
bench_bin="$(swift build -c release --package-path "$root/Benchmarks" --show-bin-path)/FanoutBenchmark"
redis_bin="${SWITCHBOARD_REDIS_SERVER:-$(command -v redis-server || echo /usr/bin/redis-server)}"

ulimit -n 20000
workdir="$(mktemp -d "${TMPDIR:-/tmp}/scaleout.XXXXXX")"
pids=()

stop_all() {
    # Nodes first (SIGTERM drains them), Redis last.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        local pid="${pids[$i]}"
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}

cleanup() {
    stop_all
    if [[ "${KEEP_LOGS:-0}" == 1 ]]; then echo "logs kept in $workdir"; else rm -rf "$workdir"; fi
}
trap cleanup EXIT

# Same configuration as fanout.sh: anonymous subscribers on bench:*, no history (pure fan-out).
cat >"$workdir/config.json" <<'JSON'
{
  "auth": { "allowAnonymous": true, "hmacSecrets": ["scaleout-benchmark-secret-not-for-production-0123"] },
  "apiKeys": ["bench-key"],
  "limits": { "maxConnections": 50000, "maxConnectionsPerIP": 20000 },
  "namespaces": { "bench": { "subscribe": "anyone", "historySize": 0 } },
  "shutdownGracePeriod": 2
}
JSON

# Starts a node (arguments after `serve`) pinned to the server core; sets node_port. Not in a subshell, so
# its pid lands in pids.
start_node() {
    local name="$1"; shift
    taskset -c "$server_cpu" "$server_bin" serve --config "$workdir/config.json" --host 127.0.0.1 --port 0 --threads 1 "$@" \
        >"$workdir/$name.out" 2>"$workdir/$name.log" &
    pids+=($!)
    local pid=$! port=""
    for _ in $(seq 1 300); do
        port="$(sed -n 's|^switchboard serving on http://[^ ]*:\([0-9]*\)/$|\1|p' "$workdir/$name.out")"
        [[ -n "$port" ]] && break
        kill -0 "$pid" 2>/dev/null || { echo "$name exited:" >&2; cat "$workdir/$name.log" >&2; exit 1; }
        sleep 0.1
    done
    [[ -n "$port" ]] || { echo "$name did not report its port" >&2; exit 1; }
    node_port="$port"
}

report_logs() {
    local problems
    problems="$(cat "$workdir"/node-*.log "$workdir"/memory.log 2>/dev/null | grep -ciE ' (warning|error|critical) |slow consumer' || true)"
    echo "Node logs: $problems warning/error/slow-consumer lines"
    cat "$workdir"/node-*.log "$workdir"/memory.log 2>/dev/null | grep -iE ' (warning|error|critical) |slow consumer' | head -n 10 || true
}

redis_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
taskset -c "$server_cpu" "$redis_bin" --port "$redis_port" --bind 127.0.0.1 --dir "$workdir" --logfile "$workdir/redis.log" \
    --save "" --appendonly yes --appendfsync "$fsync" &
pids+=($!)
for _ in $(seq 1 100); do grep -q "Ready to accept connections" "$workdir/redis.log" 2>/dev/null && break; sleep 0.1; done

ports=()
for name in node-a node-b node-c; do
    start_node "$name" --broker "redis://127.0.0.1:$redis_port"
    ports+=("$node_port")
done
echo
echo "== 3 nodes on one Redis (127.0.0.1:$redis_port, appendfsync $fsync): nodes on ${ports[*]} and Redis on cpu $server_cpu, benchmark on cpu $client_cpu"
echo "   publisher -> node-a's HTTP API -> Redis -> 3 nodes -> subscribers (a third on each node)"
status=0
taskset -c "$client_cpu" "$bench_bin" --port "${ports[0]}" --subscriber-ports "$(IFS=,; echo "${ports[*]}")" "${arguments[@]}" || status=$?
report_logs
stop_all

if [[ "${SKIP_MEMORY:-0}" != 1 ]]; then
    start_node memory --broker memory
    port="$node_port"
    echo
    echo "== for comparison, 1 node with the memory broker on $port (cpu $server_cpu), same load"
    taskset -c "$client_cpu" "$bench_bin" --port "$port" "${arguments[@]}" || status=$?
    report_logs
    stop_all
fi
exit "$status"
