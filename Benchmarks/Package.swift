// swift-tools-version:6.1
// Benchmarks live in their own package so CI's build of the main package does not pay for them.
// Run: swift run -c release --package-path Benchmarks EngineThroughput
import PackageDescription

let package = Package(
    name: "switchboard-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "switchboard", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "EngineThroughput",
            dependencies: [
                .product(name: "SwitchboardWebSocket", package: "switchboard"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
    ]
)
