import Foundation

/// A `redis-server` of the test's own on a free loopback port, with its data in a temporary directory, that a
/// test can crash (SIGKILL) and bring back on the same port with the same data.
///
/// `durable` turns on the append-only file with an fsync before every reply (`appendfsync always`): only then
/// is a write Redis acknowledged still there after a crash, which is what "no publication that got a success
/// reply is lost across a Redis restart" rests on. Without it nothing is persisted.
public final class RedisServerProcess: @unchecked Sendable {
    public static let tool = ExternalTool(
        name: "redis-server", pathVariable: "SWITCHBOARD_REDIS_SERVER", requiredVariable: "SWITCHBOARD_REQUIRE_REDIS",
        missingMessage: "redis-server not found (apt-get install redis-server, or set SWITCHBOARD_REDIS_SERVER); Redis tests skipped")

    public let port: Int
    public let directory: URL
    public let durable: Bool
    private let lock = NSLock()
    private var process: ChildProcess?
    private var launches = 0

    public var url: String { "redis://127.0.0.1:\(self.port)" }

    private init(port: Int, directory: URL, durable: Bool) {
        self.port = port
        self.directory = directory
        self.durable = durable
    }

    /// Starts a server on a free port; a port taken in the meantime is retried with another.
    public static func start(durable: Bool) async throws -> RedisServerProcess {
        var lastError: (any Error)?
        for _ in 0..<5 {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-redis-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let server = RedisServerProcess(port: try LoopbackPort.free(), directory: directory, durable: durable)
            do {
                try await server.launch()
                return server
            } catch {
                lastError = error
                server.kill()
                try? FileManager.default.removeItem(at: directory)
            }
        }
        throw lastError!
    }

    /// Starts the server (again) on the same port and directory: with `durable`, it reloads its data first.
    public func launch() async throws {
        guard let executable = Self.tool.executable else { throw RedisServerError(Self.tool.missingMessage) }
        let launch = self.lock.withLock { () -> Int in
            precondition(self.process == nil, "redis-server is already running")
            self.launches += 1
            return self.launches
        }
        var arguments = ["--port", String(self.port), "--bind", "127.0.0.1", "--dir", self.directory.path,
                         "--logfile", "", "--save", ""]
        arguments += self.durable ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"]
        let process = try ChildProcess(executable, arguments, log: self.directory.appendingPathComponent("redis-\(launch).log"))
        self.lock.withLock { self.process = process }
        // Logged once the data set is loaded and the port is bound.
        guard try await process.waitForLog("(Ready to accept connections)", timeout: TestPatience.default) != nil else {
            let tail = process.logTail(10)
            self.kill()
            throw RedisServerError("redis-server on port \(self.port) did not become ready: \(tail)")
        }
    }

    /// A crash: SIGKILL, no chance to write anything more.
    public func kill() {
        let process = self.lock.withLock { () -> ChildProcess? in
            defer { self.process = nil }
            return self.process
        }
        process?.kill()
    }

    public var isRunning: Bool { self.lock.withLock { self.process?.isRunning ?? false } }

    deinit {
        self.kill()
        try? FileManager.default.removeItem(at: self.directory)
    }
}

public struct RedisServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
