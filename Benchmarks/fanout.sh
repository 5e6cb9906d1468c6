#!/usr/bin/env bash
# Fan-out benchmark: `switchboard serve` on one core, FanoutBenchmark (N subscribers + an HTTP publisher) on
# another, over loopback. Prints the per-rate table, then the server's warnings and errors, then stops the
# server (only the one it started).
#
#   Benchmarks/fanout.sh                          # 10,000 subscribers, rates 1..1000 pub/s, 10 s steps
#   Benchmarks/fanout.sh --subscribers 1000 --step-seconds 5
#   Benchmarks/fanout.sh --subscribers 1000 --encoding protobuf --deflate   # the node compresses too
#
# Arguments go to FanoutBenchmark (`--help` lists them). Environment: SERVER_CPU (0) and CLIENT_CPU (1),
# the cores to pin to; SERVER_THREADS (1), the server's event loops: one per core it may use, since NIO
# counts the machine's cores, not the taskset mask; SKIP_BUILD=1 to reuse the last release build;
# KEEP_LOGS=1 to keep the temporary directory with the config and the server's log.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
server_cpu="${SERVER_CPU:-0}"
client_cpu="${CLIENT_CPU:-1}"
server_threads="${SERVER_THREADS:-1}"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    (cd "$root" && swift build -c release --product switchboard)
    swift build -c release --package-path "$root/Benchmarks" --product FanoutBenchmark
fi
server_bin="$(cd "$root" && swift build -c release --show-bin-path)/switchboard"
bench_bin="$(swift build -c release --package-path "$root/Benchmarks" --show-bin-path)/FanoutBenchmark"

# One fd per subscriber on each side; the soft limit is often 1024.
ulimit -n 20000

workdir="$(mktemp -d "${TMPDIR:-/tmp}/fanout.XXXXXX")"
server_pid=""

stop_server() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid"
        # SIGTERM drains (shutdownGracePeriod below); give it a little more, then insist.
        for _ in $(seq 1 100); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$server_pid" 2>/dev/null; then
            echo "server $server_pid did not stop after SIGTERM; killing it" >&2
            kill -KILL "$server_pid"
        fi
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}

cleanup() {
    stop_server
    if [[ "${KEEP_LOGS:-0}" == 1 ]]; then
        echo "config and server log kept in $workdir"
    else
        rm -rf "$workdir"
    fi
}
trap cleanup EXIT

# Anonymous subscribers on bench:*, no history (pure fan-out), one key for the HTTP API, limits far above
# the test's connection count. Port 0: the server picks a free port and prints it.
cat >"$workdir/config.json" <<'JSON'
{
  "host": "127.0.0.1",
  "port": 0,
  "auth": {
    "allowAnonymous": true,
    "hmacSecrets": ["fanout-benchmark-secret-not-for-production-0123456789"]
  },
  "apiKeys": ["bench-key"],
  "limits": {
    "maxConnections": 50000,
    "maxConnectionsPerIP": 20000
  },
  "namespaces": {
    "bench": { "subscribe": "anyone", "historySize": 0 }
  },
  "shutdownGracePeriod": 2
}
JSON

# --deflate (FanoutBenchmark's: the subscribers offer permessage-deflate) turns the node's compression on too.
for argument in "$@"; do
    if [[ "$argument" == "--deflate" ]]; then
        sed -i 's/"shutdownGracePeriod": 2/"shutdownGracePeriod": 2, "compression": { "enabled": true }/' "$workdir/config.json"
    fi
done

# taskset execs the server, so $! is the server's own pid.
taskset -c "$server_cpu" "$server_bin" serve --config "$workdir/config.json" --threads "$server_threads" \
    >"$workdir/server.out" 2>"$workdir/server.log" &
server_pid=$!

port=""
for _ in $(seq 1 300); do
    port="$(sed -n 's|^switchboard serving on http://[^ ]*:\([0-9]*\)/$|\1|p' "$workdir/server.out")"
    [[ -n "$port" ]] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "the server exited before listening:" >&2
        cat "$workdir/server.out" "$workdir/server.log" >&2
        exit 1
    fi
    sleep 0.1
done
if [[ -z "$port" ]]; then
    echo "the server did not report its port within 30 s" >&2
    exit 1
fi
echo "server pid $server_pid on 127.0.0.1:$port (cpu $server_cpu, $server_threads thread(s)); benchmark on cpu $client_cpu"

status=0
taskset -c "$client_cpu" "$bench_bin" --port "$port" --server-pid "$server_pid" "$@" || status=$?

# Anything the server complained about while under load.
problems="$(grep -ciE ' (warning|error|critical) |slow consumer|stopped reading' "$workdir/server.log" || true)"
echo "Server log: $problems warning/error/slow-consumer lines"
grep -iE ' (warning|error|critical) |slow consumer|stopped reading' "$workdir/server.log" | head -n 20 || true

stop_server
exit "$status"
