import Foundation
import Testing
import NIOCore
import NIOPosix
@testable import SwitchboardRedis
#if canImport(Glibc)
import Glibc
#endif

/// A `redis-server` of the test's own: a free loopback port, no persistence (`--save "" --appendonly no`),
/// a temporary directory, stopped by its PID at the end.
///
/// Without `redis-server` on PATH the Redis tests skip, unless `SWITCHBOARD_REQUIRE_REDIS=1`, which turns a
/// missing server into a failure (CI sets it where Redis is installed).
final class RedisTestServer: @unchecked Sendable {
    static var isRequired: Bool { ProcessInfo.processInfo.environment["SWITCHBOARD_REQUIRE_REDIS"] == "1" }

    /// Run the tests when the server is there, or when its absence must fail.
    static var shouldRun: Bool { self.executable != nil || self.isRequired }

    static let missingMessage: Comment = "redis-server not found on PATH: Redis tests skipped (SWITCHBOARD_REQUIRE_REDIS=1 makes this a failure)"

    static var executable: String? {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        return directories.map { "\($0)/redis-server" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    let port: Int
    let directory: URL
    private var process: Process?

    var address: RedisAddress { RedisAddress(host: "127.0.0.1", port: self.port) }

    private init(port: Int, directory: URL) {
        self.port = port
        self.directory = directory
    }

    static func start() async throws -> RedisTestServer {
        guard self.executable != nil else { throw TestServerError("redis-server is not on PATH") }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let server = RedisTestServer(port: try await self.freePort(), directory: directory)
        try await server.launch()
        return server
    }

    /// Starts the server (again) on the same port: a restart, with every key lost.
    func launch() async throws {
        precondition(self.process == nil, "the test server is already running")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable!)
        process.arguments = ["--port", String(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", self.directory.path, "--logfile", self.directory.appendingPathComponent("redis.log").path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        try await self.waitForPing()
    }

    /// Stops the server by its PID and waits until it is gone.
    func stop() {
        guard let process = self.process else { return }
        self.process = nil
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func restart() async throws {
        self.stop()
        try await self.launch()
    }

    deinit {
        self.stop()
        try? FileManager.default.removeItem(at: self.directory)
    }

    /// Runs one command on a short-lived connection (what `redis-cli` would do).
    @discardableResult
    func command(_ arguments: String...) async throws -> RESPValue {
        let connection = try await RedisConnection.connect(to: self.address, on: MultiThreadedEventLoopGroup.singleton.next(),
                                                           configuration: RedisClientConfiguration(), onPush: { _ in })
        defer { connection.close() }
        return try await connection.send(RedisCommand(arguments: arguments))
    }

    private func waitForPing() async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if (try? await self.command("PING")) == .simpleString("PONG") { return }
            if let process = self.process, !process.isRunning {
                throw TestServerError("redis-server exited at start (see \(self.directory.path)/redis.log)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestServerError("redis-server on port \(self.port) did not answer PING within 10 s")
    }

    /// A port the kernel just handed out on loopback, released for redis-server to take.
    private static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }
}

struct TestServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Polls until `condition` holds or `timeout` passes; returns whether it held.
func eventually(within timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
