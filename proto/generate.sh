#!/usr/bin/env bash
# Generates the Swift code of the `switchboard.v1.protobuf` subprotocol from proto/switchboard/v1/switchboard.proto
# into Sources/SwitchboardProtocol/Protobuf/switchboard.pb.swift, and records both files' SHA-256 in
# proto/switchboard/v1/switchboard.sha256, which a test checks: a schema changed without regenerating, or
# generated code edited by hand, fails `swift test`.
#
#   proto/generate.sh                       # protoc and protoc-gen-swift on PATH
#   PROTOC_GEN_SWIFT=/path/to/protoc-gen-swift proto/generate.sh
#
# protoc: `apt-get install protobuf-compiler`. protoc-gen-swift: `swift build -c release --product
# protoc-gen-swift` in a checkout of apple/swift-protobuf at the version Package.swift names (about 10
# minutes, which is why CI never runs this and the generated file is committed).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
plugin="${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift || true)}"
if [[ -z "$plugin" ]]; then
    echo "generate: protoc-gen-swift not found: put it on PATH or set PROTOC_GEN_SWIFT" >&2
    exit 1
fi
out="$root/Sources/SwitchboardProtocol/Protobuf"
protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Internal --swift_opt=FileNaming=DropPath \
    --swift_out="$out" -I "$root/proto" switchboard/v1/switchboard.proto
cd "$root"
sha256sum proto/switchboard/v1/switchboard.proto Sources/SwitchboardProtocol/Protobuf/switchboard.pb.swift > proto/switchboard/v1/switchboard.sha256
echo "generate: wrote $out/switchboard.pb.swift"
