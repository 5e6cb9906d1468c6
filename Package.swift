// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "switchboard",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "SwitchboardWebSocket", targets: ["SwitchboardWebSocket"]),
        .library(name: "SwitchboardWebSocketNIO", targets: ["SwitchboardWebSocketNIO"]),
        .library(name: "SwitchboardProtocol", targets: ["SwitchboardProtocol"]),
        .library(name: "SwitchboardClient", targets: ["SwitchboardClient"]),
        .library(name: "SwitchboardRedis", targets: ["SwitchboardRedis"]),
        .library(name: "SwitchboardServer", targets: ["SwitchboardServer"]),
        // The Broker contract's checks, for a broker's own tests (ours and third parties').
        .library(name: "SwitchboardBrokerContract", targets: ["SwitchboardBrokerContract"]),
        .executable(name: "switchboard", targets: ["switchboard"]),
        .executable(name: "autobahn-client", targets: ["AutobahnClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // jwt-kit 5 (the tests' independent token signer) needs swift-crypto 4; our own use works with 3 and 4.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Already in the graph through Hummingbird, which re-exports only some of its types.
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        // Already in the graph through Hummingbird: the HTTP types codec of the handed-over connections' pipeline.
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        // Lock-free counters on the hot path; Synchronization.Atomic would need macOS 15.
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.2.0"),
        // The runtime of the `switchboard.v1.protobuf` subprotocol's code, generated once from proto/ and committed.
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        // `swift package generate-documentation`: the library products' DocC catalogs, built in CI.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // The sans-I/O RFC 6455 + RFC 7692 engine: bytes in, events out. No sockets, clocks or randomness.
        .target(
            name: "SwitchboardWebSocket",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ]
        ),
        // epoll, eventfd and the socket calls Glibc's module leaves out (the epoll transport; Linux only).
        .target(name: "CSwitchboardEpoll"),
        // The SwiftNIO transport: server upgrade, client connect, TLS, heartbeat, backpressure, async API.
        .target(
            name: "SwitchboardWebSocketNIO",
            dependencies: [
                "SwitchboardWebSocket",
                "CSwitchboardEpoll",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        // The real-time wire schema shared by the server and the clients: Codable commands, replies, pushes, codes.
        .target(
            name: "SwitchboardProtocol",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // The real-time server (issue 3, in progress): channels, history and recovery, auth, limits, transports.
        .target(
            name: "SwitchboardServer",
            dependencies: [
                "SwitchboardProtocol",
                "SwitchboardWebSocket",
                "SwitchboardWebSocketNIO",
                .product(name: "Hummingbird", package: "hummingbird"),
                // HTTP1Channel and ResponseWriter: serving HTTP connections the WebSocket server hands over.
                .product(name: "HummingbirdCore", package: "hummingbird"),
                // Token signatures (HS256, ES256; RS256 from the extras), and SHA-256 for comparing API keys in
                // constant time.
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                // HTTPParserError: a malformed request body is answered 400, not 500.
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // The HTTP/1.1 pipeline the HTTP bridge builds (so that it can take it down for an upgrade).
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            resources: [.copy("Resources/public")]
        ),
        // The Swift client SDK: reconnect with backoff, recovery by offset, typed messages (docs/CLIENTS.md).
        .target(
            name: "SwitchboardClient",
            dependencies: [
                "SwitchboardProtocol",
                // CloseCode and WebSocketLimits, which the NIO layer's API uses.
                "SwitchboardWebSocket",
                "SwitchboardWebSocketNIO",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                // The Server-Sent Events transport's HTTP requests.
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "SwitchboardBrokerContract",
            dependencies: [
                "SwitchboardServer",
                "SwitchboardProtocol",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // Examples/EmbeddedNode: a Hummingbird app with a node inside, which publishes to its users in-process.
        .target(
            name: "EmbeddedNodeExample",
            dependencies: [
                "SwitchboardServer",
                "SwitchboardProtocol",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Examples/EmbeddedNode/Sources/EmbeddedNodeExample"
        ),
        .executableTarget(
            name: "embedded-node-example",
            dependencies: [
                "EmbeddedNodeExample",
                "SwitchboardServer",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Examples/EmbeddedNode/Sources/embedded-node-example"
        ),
        // The Redis broker for many nodes, on a RESP3 client of its own (no Swift Redis package is available).
        .target(
            name: "SwitchboardRedis",
            dependencies: [
                "SwitchboardServer",
                "SwitchboardProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "switchboard",
            dependencies: [
                "SwitchboardWebSocket",
                "SwitchboardWebSocketNIO",
                "SwitchboardServer",
                "SwitchboardRedis",
                // connect's protocol mode (RealtimeClient) and publish's request body.
                "SwitchboardClient",
                "SwitchboardProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // publish's one HTTP/1.1 request to the HTTP API.
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .executableTarget(
            name: "AutobahnClient",
            dependencies: ["SwitchboardWebSocket", "SwitchboardWebSocketNIO"],
            path: "Examples/AutobahnClient"
        ),
        // Shared by the test targets (which cannot import each other): child processes and external tools.
        .target(
            name: "SwitchboardTestSupport",
            dependencies: [
                // TestTransport: the event loops test servers run on.
                "SwitchboardWebSocketNIO",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/SwitchboardTestSupport"
        ),
        // A node to test against, for the targets that test what talks to one (client, browser, CLI).
        .target(
            name: "SwitchboardNodeTestSupport",
            dependencies: [
                "SwitchboardServer",
                "SwitchboardProtocol",
                "SwitchboardTestSupport",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/SwitchboardNodeTestSupport"
        ),
        .testTarget(
            name: "SwitchboardWebSocketTests",
            dependencies: ["SwitchboardWebSocket", "SwitchboardTestSupport"]
        ),
        .testTarget(
            name: "SwitchboardWebSocketNIOTests",
            dependencies: [
                "SwitchboardWebSocket",
                "SwitchboardWebSocketNIO",
                "AutobahnClient",
                "SwitchboardTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // The HTTP handover tests answer plain HTTP with a tiny NIOHTTP1 responder.
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // EmbeddedChannel: the connection handler's timers on a clock the tests move.
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SwitchboardProtocolTests",
            dependencies: [
                "SwitchboardProtocol",
                // SHA-256: the generated protobuf code is checked against the schema it came from.
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "SwitchboardClientTests",
            dependencies: [
                "SwitchboardClient",
                "SwitchboardProtocol",
                "SwitchboardServer",
                // A silent fake server for the heartbeat test.
                "SwitchboardWebSocketNIO",
                // chromedriver for the browser tests of switchboard.js and the demo page; the node to test against.
                "SwitchboardTestSupport",
                "SwitchboardNodeTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                // The loopback TCP proxy that cuts connections without a close frame.
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The command-line tool: its pure parts in-process, and the built binary against a node on loopback.
        .testTarget(
            name: "switchboardTests",
            dependencies: [
                "switchboard",
                "SwitchboardClient",
                "SwitchboardProtocol",
                "SwitchboardServer",
                "SwitchboardNodeTestSupport",
                "SwitchboardTestSupport",
                // A server that answers late, for raw connect's end of stdin.
                "SwitchboardWebSocketNIO",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // RESP3 vectors, and the client and broker against a real redis-server (skipped when there is none).
        .testTarget(
            name: "SwitchboardRedisTests",
            dependencies: [
                "SwitchboardRedis",
                "SwitchboardBrokerContract",
                "SwitchboardServer",
                "SwitchboardProtocol",
                // Seeded random splits for the RESP vectors.
                "SwitchboardTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                // EmbeddedEventLoop for the subscription table's promises.
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Three `switchboard serve` processes on one durable redis-server (and nginx in front): fan-out across
        // nodes, a node crash, a Redis restart. Skipped without redis-server / nginx unless required.
        .testTarget(
            name: "SwitchboardScaleOutTests",
            dependencies: [
                // Built by `swift test`, and started as a process by the tests.
                "switchboard",
                "SwitchboardClient",
                "SwitchboardProtocol",
                // TokenMinter: the nodes' tokens.
                "SwitchboardServer",
                "SwitchboardTestSupport",
                // Single-attempt WebSocket connects through nginx (a client's retries would hide refusals).
                "SwitchboardWebSocket",
                "SwitchboardWebSocketNIO",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "EmbeddedNodeExampleTests",
            dependencies: [
                "EmbeddedNodeExample",
                "SwitchboardServer",
                "SwitchboardClient",
                "SwitchboardTestSupport",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Examples/EmbeddedNode/Tests/EmbeddedNodeExampleTests"
        ),
        .testTarget(
            name: "SwitchboardServerTests",
            dependencies: [
                "SwitchboardServer",
                "SwitchboardBrokerContract",
                "SwitchboardProtocol",
                "SwitchboardWebSocket",
                "SwitchboardWebSocketNIO",
                // TestPatience and the poll helpers shared by every suite.
                "SwitchboardTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // NIOAsyncTestingEventLoop: a session's timers on a clock the tests move.
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                // The README's embedding example runs a node in a ServiceGroup.
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // Signs the tests' tokens: an implementation independent of the verifier under test.
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // Keys generated in the tests (P-256, RSA) and a hand-built HMAC vector.
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
    ]
)
