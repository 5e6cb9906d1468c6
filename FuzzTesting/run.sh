#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer and AddressSanitizer and runs one of them.
#
#   ./FuzzTesting/run.sh <FuzzFrames|FuzzHandshake|FuzzDeflate> [seconds=600] [extra libFuzzer flags...]
#   ./FuzzTesting/run.sh build                 # build only
#   ./FuzzTesting/run.sh replay                # run every target on its Corpus/ and FailCases/ once
#
# New inputs go to a scratch corpus (.build-fuzz/corpus/<Target>, seeded from Corpus/<Target>) so the
# committed seed corpus stays small; crashes, leaks and timeouts go to FailCases/<Target>/. One job on
# one core: the machine is shared.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
scratch="$here/.build-fuzz"
targets=(FuzzFrames FuzzHandshake FuzzDeflate)

build() {
    # -parse-as-library: the entry point is libFuzzer's main, not top-level code. The package's tools
    # version (5.4) keeps SwiftPM from renaming main (see Package.swift).
    swift build -c debug --scratch-path "$scratch" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
}

# The Swift runtime's own crash handler trips AddressSanitizer while it walks the stack; libFuzzer's
# report (and the fatalError message) is what we want.
export SWIFT_BACKTRACE=enable=no

target="${1:-}"
case "$target" in
    build)
        build
        ;;
    replay)
        build
        for t in "${targets[@]}"; do
            inputs=("Corpus/$t")
            [ -d "FailCases/$t" ] && inputs+=("FailCases/$t")
            echo "== $t"
            "$scratch/debug/$t" -runs=0 -rss_limit_mb=2048 "${inputs[@]}"
        done
        ;;
    FuzzFrames|FuzzHandshake|FuzzDeflate)
        seconds="${2:-600}"
        shift $(( $# >= 2 ? 2 : 1 ))
        build
        mkdir -p "$scratch/corpus/$target" "FailCases/$target"
        "$scratch/debug/$target" \
            -max_total_time="$seconds" \
            -rss_limit_mb=2048 \
            -max_len=4096 \
            -timeout=10 \
            -print_final_stats=1 \
            -artifact_prefix="FailCases/$target/" \
            "$@" \
            "$scratch/corpus/$target" "Corpus/$target"
        ;;
    *)
        echo "usage: $0 <${targets[*]// /|}|build|replay> [seconds] [libFuzzer flags...]" >&2
        exit 2
        ;;
esac
