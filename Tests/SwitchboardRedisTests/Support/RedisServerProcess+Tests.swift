import Foundation
import NIOCore
import NIOPosix
import SwitchboardTestSupport
import Testing
@testable import SwitchboardRedis

/// What the Redis tests add to the shared `redis-server` of SwitchboardTestSupport: a server without
/// persistence (a restart loses every key), its address for our client, and one-off commands.
///
/// Without `redis-server` these tests skip, unless `SWITCHBOARD_REQUIRE_REDIS=1` makes that a failure.
extension RedisServerProcess {
    static var shouldRun: Bool { self.tool.shouldRun }
    static var missingMessage: Comment { Comment(rawValue: self.tool.missingMessage) }

    static func start() async throws -> RedisServerProcess {
        try await self.start(durable: false)
    }

    var address: RedisAddress { RedisAddress(host: "127.0.0.1", port: self.port) }

    /// Stops the server by its PID (SIGKILL).
    func stop() {
        self.kill()
    }

    /// A restart on the same port; without persistence every key is gone.
    func restart() async throws {
        self.kill()
        try await self.launch()
    }

    /// Runs one command on a short-lived connection (what `redis-cli` would do).
    @discardableResult
    func command(_ arguments: String...) async throws -> RESPValue {
        let connection = try await RedisConnection.connect(to: self.address, on: MultiThreadedEventLoopGroup.singleton.next(),
                                                           configuration: RedisClientConfiguration(), onPush: { _ in })
        defer { connection.close() }
        return try await connection.send(RedisCommand(arguments: arguments))
    }
}
