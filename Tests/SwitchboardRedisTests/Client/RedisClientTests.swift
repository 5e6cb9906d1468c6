import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwitchboardTestSupport
import Testing
@testable import SwitchboardRedis

/// The RESP3 client against a real redis-server: pipelining, error replies, failing fast, reconnecting.
/// (Command timeouts are checked on a clock the test moves, in ``RedisCommandHandlerTests``.)
///
/// "Fails at once" is checked by what the failure is, not by timing it: a command that waited for its
/// timeout fails with `isTimeout`, one that failed at once does not.
@Suite(.enabled(if: RedisServerProcess.shouldRun, RedisServerProcess.missingMessage))
struct RedisClientTests {
    /// Quick reconnects; timeouts that only guard against hangs, so a loaded machine never trips them.
    static let fast = RedisClientConfiguration(connectTimeout: TestPatience.default, commandTimeout: TestPatience.default,
                                               reconnectBackoff: ReconnectBackoff(initial: .milliseconds(50), maximum: .milliseconds(400)))

    static func client(_ server: RedisServerProcess, _ configuration: RedisClientConfiguration = Self.fast) -> RedisClient {
        let client = RedisClient(address: server.address, configuration: configuration)
        client.start()
        return client
    }

    /// A command sent on a connection that has just closed (Redis died; the client has not noticed yet)
    /// fails at once. It used to wait for ever: the write never reached the handler that arms the timeout.
    @Test(.timeLimit(.minutes(1)))
    func aCommandOnAClosedConnectionFailsInsteadOfWaitingForEver() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let connection = try await RedisConnection.connect(to: server.address, on: MultiThreadedEventLoopGroup.singleton.next(),
                                                           configuration: Self.fast, onPush: { _ in })
        try await connection.channel.close()
        let error = await #expect(throws: RedisClientError.self) { try await connection.send(RedisCommand("PING", [])) }
        #expect(error?.isTimeout == false, "\(String(describing: error))")
    }

    /// 2,000 commands from 2,000 tasks on one connection: each gets its own reply, none another's.
    @Test func pipelinedCommandsEachGetTheirOwnReply() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let client = Self.client(server)
        defer { Task { await client.shutdown() } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<2000 {
                group.addTask {
                    let reply = try await client.send(RedisCommand("ECHO", ["message \(index)"]))
                    #expect(reply.string == "message \(index)")
                }
            }
            try await group.waitForAll()
        }
        // Pipelined in order from one task: the replies are in command order.
        async let first = client.send(RedisCommand("INCR", ["counter"]))
        async let second = client.send(RedisCommand("INCR", ["counter"]))
        let values = Set([try await first, try await second].compactMap(\.int64))
        #expect(values == [1, 2])
    }

    @Test func errorRepliesCarryRedisMessageAndTheConnectionGoesOn() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let client = Self.client(server)
        defer { Task { await client.shutdown() } }
        do {
            try await client.send(RedisCommand("NOSUCHCOMMAND", ["x"]))
            Issue.record("an unknown command should fail")
        } catch let error as RedisClientError {
            #expect(error.isServerError)
            #expect(error.serverErrorCode == "ERR")
            #expect(error.serverMessage?.contains("unknown command") == true)
        }
        try await client.send(RedisCommand("SET", ["plain", "value"]))
        do {
            try await client.send(RedisCommand("LPUSH", ["plain", "x"]))
            Issue.record("LPUSH on a string should fail")
        } catch let error as RedisClientError {
            #expect(error.serverErrorCode == "WRONGTYPE")
        }
        #expect(try await client.send(RedisCommand("GET", ["plain"])).string == "value")
    }

    @Test func reconnectsAfterRedisRestartsAndFailsFastMeanwhile() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let client = Self.client(server)
        defer { Task { await client.shutdown() } }
        try await client.send(RedisCommand("SET", ["before", "1"]))
        server.stop()
        #expect(await eventually { !client.isConnected })
        let error = await #expect(throws: RedisClientError.self) { try await client.send(RedisCommand("PING")) }
        #expect(error?.isTimeout == false, "a command while Redis is down must fail at once, not at the command timeout: \(String(describing: error))")
        try await server.launch()
        let back = await eventually { (try? await client.send(RedisCommand("PING"))) == .simpleString("PONG") }
        #expect(back)
        // A restart without persistence lost the key.
        #expect(try await client.send(RedisCommand("GET", ["before"])) == .null)
    }

    @Test func aClientThatCannotConnectFailsFastAndKeepsTrying() async throws {
        let server = try await RedisServerProcess.start()
        server.stop()
        let client = Self.client(server)
        defer { Task { await client.shutdown() } }
        // The first attempt fails (refused); from then on commands fail at once.
        #expect(await eventually { (try? await client.send(RedisCommand("PING"))) == nil && !client.isConnected })
        try await server.launch()
        defer { server.stop() }
        #expect(await eventually { (try? await client.send(RedisCommand("PING"))) == .simpleString("PONG") })
    }

    @Test func shutdownFailsLaterCommands() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let client = Self.client(server)
        try await client.send(RedisCommand("PING"))
        await client.shutdown()
        await #expect(throws: RedisClientError.self) { try await client.send(RedisCommand("PING")) }
    }
}
