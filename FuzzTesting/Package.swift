// swift-tools-version:5.4
// Tools version 5.4 on purpose: from 5.5 on, SwiftPM renames an executable's `main` to `<Target>_main` (for
// testable executables) and links with `--defsym main=<Target>_main`, which clashes with libFuzzer's own `main`.
// libFuzzer targets for the SwitchboardWebSocket engine (STYLE rule 14). Build and run with ./run.sh;
// see README.md. Not part of the root package, so a normal `swift build` never needs the fuzzer runtime.
import PackageDescription

let package = Package(
    name: "switchboard-fuzz",
    dependencies: [
        .package(name: "switchboard", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "FuzzFrames",
            dependencies: [
                .product(name: "SwitchboardWebSocket", package: "switchboard"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzHandshake",
            dependencies: [
                .product(name: "SwitchboardWebSocket", package: "switchboard"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzDeflate",
            dependencies: [
                .product(name: "SwitchboardWebSocket", package: "switchboard"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
    ]
)
