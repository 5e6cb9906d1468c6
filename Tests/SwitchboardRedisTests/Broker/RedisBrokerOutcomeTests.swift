import Logging
import SwitchboardProtocol
import SwitchboardServer
import SwitchboardTestSupport
import Testing
@testable import SwitchboardRedis

/// The contract's two kinds of failed publish on Redis: one that did nothing, and one whose outcome is
/// unknown because the reply was lost after the script may have run. The API must not call the second
/// "nothing was published".
@Suite(.enabled(if: RedisServerProcess.shouldRun, RedisServerProcess.missingMessage))
struct RedisBrokerOutcomeTests {
    let retention = HistoryRetention(size: 100, seconds: 60)

    private func broker(_ server: RedisServerProcess, commandTimeout: Duration) async throws -> RedisBroker {
        var client = RedisClientTests.fast
        client.commandTimeout = commandTimeout
        let broker = RedisBroker(configuration: RedisBrokerConfiguration(addresses: [server.address], keyPrefix: "outcome", client: client),
                                 logger: Logger(label: "test"))
        try await broker.start(handler: RedisBrokerTests.RecordingHandler())
        return broker
    }

    /// CLIENT PAUSE holds the publish script in Redis past the broker's command timeout; it runs when the
    /// pause ends. The caller hears "may or may not have happened", and it did happen.
    @Test func aPublishWhoseReplyTimedOutIsOfUnknownOutcomeAndMayHaveHappened() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let broker = try await self.broker(server, commandTimeout: .milliseconds(300))
        defer { Task { await broker.shutdown() } }
        // Connects and loads the script, so the paused call is the publish itself. On a loaded machine the
        // short timeout may cut these first calls short (and some may have run): repeat until one is confirmed.
        #expect(await eventually(within: .seconds(30)) {
            (try? await broker.publish("first", to: "chat:paused", info: nil, history: self.retention)) != nil
        })

        let admin = RedisClientTests.client(server)
        defer { Task { await admin.shutdown() } }
        _ = try await admin.send(RedisCommand("CLIENT", ["PAUSE", "5000", "WRITE"]))
        do {
            _ = try await broker.publish("paused", to: "chat:paused", info: nil, history: self.retention)
            Issue.record("the publish was confirmed although Redis held it past the timeout")
        } catch let error as BrokerError {
            #expect(error.outcomeIsUnknown, "\(error)")
        }
        // Reads fail while the pause lasts (the history script is held too).
        let published = await eventually(within: .seconds(20)) {
            guard case .publications(let publications, _)? = try? await broker.history(of: "chat:paused", since: nil, limit: 10,
                                                                                      retention: self.retention) else { return false }
            return publications.last?.data == "paused" && publications.dropLast().allSatisfy { $0.data == "first" }
        }
        #expect(published, "the script ran after the pause: the publication exists although its caller got an error")
    }

    /// Redis unreachable: the command never left, so nothing was published, and the error says so.
    @Test func aPublishWhileRedisIsDownDidNothing() async throws {
        let server = try await RedisServerProcess.start()
        let broker = try await self.broker(server, commandTimeout: .seconds(5))
        defer { Task { await broker.shutdown() } }
        server.stop()
        var refused: BrokerError?
        _ = await eventually(within: .seconds(20)) {
            do {
                _ = try await broker.publish("lost", to: "chat:down", info: nil, history: self.retention)
            } catch let error as BrokerError where !error.outcomeIsUnknown {
                refused = error
                return true
            } catch {}
            return false
        }
        #expect(refused != nil, "a publish to a stopped Redis should fail as having done nothing")
    }
}
