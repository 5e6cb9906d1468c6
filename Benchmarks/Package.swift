// swift-tools-version:6.1
// Benchmarks live in their own package so CI's build of the main package does not pay for them.
// Run: swift run -c release --package-path Benchmarks EngineThroughput
// Fan-out against a running server: Benchmarks/fanout.sh (builds, starts `switchboard serve`, runs FanoutBenchmark).
import PackageDescription

let package = Package(
    name: "switchboard-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "switchboard", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // Both already in the root package's graph, at the same minimum versions.
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // What the load generators share: reading pushes from their bytes, publishing over HTTP keep-alive.
        .target(
            name: "BenchmarkSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "EngineThroughput",
            dependencies: [
                .product(name: "SwitchboardWebSocket", package: "switchboard"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // N WebSocket subscribers on one channel, a paced HTTP publisher, delivery latency per rate step.
        .executableTarget(
            name: "FanoutBenchmark",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "SwitchboardWebSocket", package: "switchboard"),
                .product(name: "SwitchboardWebSocketNIO", package: "switchboard"),
                .product(name: "SwitchboardProtocol", package: "switchboard"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // The publisher speaks HTTP/1.1 keep-alive to POST /api/publish.
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
            // The million-user run: `run` drives it, `worker` processes hold ~19,000 clients each (Benchmarks/million.sh).
        .executableTarget(
            name: "MillionLoad",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "SwitchboardWebSocketNIO", package: "switchboard"),
                .product(name: "SwitchboardProtocol", package: "switchboard"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
