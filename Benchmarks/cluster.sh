#!/usr/bin/env bash
# N `switchboard serve` nodes on one host sharing one port (SO_REUSEPORT: the kernel spreads connections) and
# one redis-server, for as long as a command runs; then everything this script started is stopped by PID.
#
#   Benchmarks/cluster.sh 3 -- ../shared/bench/wsload/wsload pubsub -c 3000 -m 20 -s 100 --token '$TOKEN' \
#       ws://127.0.0.1:'$PORT'/connection/websocket
#   Benchmarks/cluster.sh 3                       # no command: prints the address and waits for Ctrl-C
#
# The command runs under `bash -c` with PORT (the shared port), REDIS_PORT, TOKEN (a JWT for user `bench`,
# valid a day), CLUSTER_DIR (configuration, logs), NODE_PIDS (comma-separated), REDIS_PID and
# SWITCHBOARD_HMAC_SECRETS (to mint more tokens) in its environment, so quote `$PORT` as above.
# Each node: one event loop (`--threads 1`), the configuration below (limits raised, newcomers refused while
# the node's loop runs a second late, namespaces `chat`
# (publish by subscribers), `user` (personal channels) and `news` (published by back-ends), history 100),
# its log in CLUSTER_DIR/node-N.log.
# Redis runs at a higher CPU priority (REDIS_NICE, default -10; needs root, else it runs at the usual one):
# every node waits on that one single-threaded broker, which in a deployment has a machine of its own; here,
# beside a hundred busy processes, it got a hundredth of the CPU in a reconnect storm and answered too late.
# Environment: SKIP_BUILD=1 reuses the last release build; NODE_CPUS (default: all) is the taskset list for
# the nodes and Redis; KEEP_LOGS=1 keeps CLUSTER_DIR. A node's slow start or exit stops the run with its log.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
count="${1:-}"
[[ "$count" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 NODES [-- COMMAND...]" >&2; exit 2; }
shift
if [[ "${1:-}" == "--" ]]; then shift; fi
command_line="$*"

redis_bin="$(command -v redis-server || true)"
[[ -n "$redis_bin" ]] || { echo "cluster: redis-server not found (Debian: apt-get install redis-server)" >&2; exit 2; }
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    (cd "$root" && swift build -c release --product switchboard)
fi
server_bin="$(cd "$root" && swift build -c release --show-bin-path)/switchboard"
cpus="${NODE_CPUS:-0-$(( $(nproc) - 1 ))}"

workdir="$(mktemp -d "${TMPDIR:-/tmp}/cluster.XXXXXX")"
pids=()
stop_all() {
    # Nodes first (they drain), then Redis; only what this script started, by PID.
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 150); do
        local alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [[ "$alive" == 0 ]] && break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    pids=()
}
cleanup() {
    stop_all
    if [[ "${KEEP_LOGS:-0}" == 1 ]]; then echo "cluster: logs kept in $workdir" >&2; else rm -rf "$workdir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

export SWITCHBOARD_HMAC_SECRETS="cluster-benchmark-secret-not-for-production-0123456789"
cat >"$workdir/config.json" <<'JSON'
{
  "apiKeys": ["bench-key"],
  "limits": { "maxConnections": 100000, "maxConnectionsPerIP": 100000, "commandsPerSecond": 1000000,
              "commandBurst": 1000000, "maxOutboundBytes": 16777216, "maxLoopLagMilliseconds": 1000 },
  "namespaces": {
    "chat": { "subscribe": "authenticated", "publish": "subscribers", "historySize": 100 },
    "user": { "subscribe": "authenticated", "publish": "nobody", "personal": true, "historySize": 100 },
    "news": { "subscribe": "authenticated", "publish": "nobody", "historySize": 100 }
  },
  "shutdownGracePeriod": 2
}
JSON

redis_port="$(free_port)"
redis_nice="${REDIS_NICE:--10}"
[[ "$redis_nice" =~ ^-?[0-9]+$ ]] || { echo "cluster: REDIS_NICE must be a niceness (an integer, -20 to 19), not '$redis_nice'" >&2; exit 2; }
if [[ "$redis_nice" -lt 0 && "$(id -u)" != 0 ]]; then redis_nice=0; fi
taskset -c "$cpus" nice -n "$redis_nice" "$redis_bin" --port "$redis_port" --bind 127.0.0.1 --dir "$workdir" --logfile "$workdir/redis.log" --save "" &
pids+=($!)
for _ in $(seq 1 100); do grep -q "Ready to accept connections" "$workdir/redis.log" 2>/dev/null && break; sleep 0.1; done

port="$(free_port)"
for index in $(seq 1 "$count"); do
    taskset -c "$cpus" "$server_bin" serve --config "$workdir/config.json" --host 127.0.0.1 --port "$port" --reuse-port \
        --threads 1 --broker "redis://127.0.0.1:$redis_port" --log-level warning \
        >"$workdir/node-$index.out" 2>"$workdir/node-$index.log" &
    pids+=($!)
done
for index in $(seq 1 "$count"); do
    pid="${pids[$index]}"
    for _ in $(seq 1 300); do
        grep -q "serving on" "$workdir/node-$index.out" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || { echo "cluster: node $index exited:" >&2; cat "$workdir/node-$index.log" >&2; exit 1; }
        sleep 0.1
    done
    grep -q "serving on" "$workdir/node-$index.out" || { echo "cluster: node $index did not start" >&2; exit 1; }
done

token="$("$server_bin" token --sub bench --ttl 86400)"
echo "cluster: $count nodes on ws://127.0.0.1:$port/connection/websocket (PIDs ${pids[*]:1}), Redis on $redis_port (PID ${pids[0]}), logs in $workdir" >&2
status=0
if [[ -n "$command_line" ]]; then
    node_pids="$(IFS=,; echo "${pids[*]:1}")"
    PORT="$port" REDIS_PORT="$redis_port" TOKEN="$token" CLUSTER_DIR="$workdir" NODE_PIDS="$node_pids" REDIS_PID="${pids[0]}" \
        bash -c "$command_line" || status=$?
else
    echo "cluster: Ctrl-C stops it" >&2
    while :; do sleep 3600; done
fi
problems="$(cat "$workdir"/node-*.log | grep -ciE ' (error|critical) ' || true)"
echo "cluster: node logs hold $problems error lines" >&2
exit "$status"
