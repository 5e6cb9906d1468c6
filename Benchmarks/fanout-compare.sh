#!/usr/bin/env bash
# Fan-out side by side, this build against peers and (optionally) an earlier commit, in one run: a thin
# wrapper over the shared harness (`fanout-compare.sh` beside the `wsload` load generator), which pins each
# server to core 0 and wsload to core 1 and checks every delivery for gaps, duplicates and order.
#
#   Benchmarks/fanout-compare.sh                              # 1,000 subscribers, 50 pub/s and closed loop, vs node ws
#   Benchmarks/fanout-compare.sh --subs 10000 --rates 0
#   BEFORE=HEAD~3 Benchmarks/fanout-compare.sh --rates 0      # also an earlier commit, built in a worktree
#   COMPARE_NIO=1 Benchmarks/fanout-compare.sh --rates 0      # also this build with --transport nio
#
# Arguments go to the harness (`--subs`, `--rates`, `--size`, `--servers`, `--out`, ...); defaults below.
# Environment: HARNESS (default ../shared/bench/fanout-compare.sh beside the repository), SKIP_BUILD=1 to
# reuse the last release build, BEFORE=<commit> to add that commit's build as server `before`, COMPARE_NIO=1
# to add this build on NIO channels as server `nio`, SB_CONFIG (default Benchmarks/fanout-bench.json).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
harness="${HARNESS:-$root/../shared/bench/fanout-compare.sh}"
if [[ ! -x "$harness" ]]; then
    echo "fanout-compare: no harness at $harness (set HARNESS to the shared bench's fanout-compare.sh)" >&2
    exit 2
fi

cd "$root"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    swift build -c release --product switchboard
fi

extra=()
if [[ -n "${BEFORE:-}" ]]; then
    # A worktree and a build folder of its own, so the comparison never disturbs this checkout's build.
    revision="$(git rev-parse --short "$BEFORE")"
    worktree="$root/.build-before/$revision"
    if [[ ! -x "$worktree/.build/release/switchboard" ]]; then
        rm -rf "$worktree"
        mkdir -p "$root/.build-before"
        git worktree add --force --detach "$worktree" "$revision" >/dev/null
        (cd "$worktree" && swift build -c release --product switchboard)
    fi
    extra+=(--server "before=$worktree/.build/release/switchboard serve --config {config} --host 127.0.0.1 --port {port} --threads 1 --log-level warning"
            --server-url "before=ws://127.0.0.1:{port}/connection/websocket")
fi

if [[ "${COMPARE_NIO:-0}" == 1 ]]; then
    # This build with its connections on NIO channels, beside the default epoll transport.
    extra+=(--server "nio=$root/.build/release/switchboard serve --config {config} --host 127.0.0.1 --port {port} --threads 1 --transport nio --log-level warning"
            --server-url "nio=ws://127.0.0.1:{port}/connection/websocket")
fi

defaults=(--subs 1000 --size 100 --rates 50,0 --servers switchboard,node-ws)
# Admission control (2,000 connects/s by default) would turn a 10,000-subscriber ramp into 503s.
SB_CONFIG="${SB_CONFIG:-$root/Benchmarks/fanout-bench.json}" SWITCHBOARD_BIN="$root/.build/release/switchboard" exec "$harness" "${defaults[@]}" "$@" "${extra[@]}"
