import Logging
import NIOConcurrencyHelpers
import NIOCore
import SwitchboardTestSupport
import Testing
@testable import SwitchboardRedis

/// Pub/sub on a RESP3 connection: pushes, ordered subscribe/unsubscribe, resubscribing after a restart.
@Suite(.enabled(if: RedisServerProcess.shouldRun, RedisServerProcess.missingMessage))
struct RedisSubscriberTests {
    final class Inbox: Sendable {
        let messages = NIOLockedValueBox<[(String, String)]>([])
        func payloads(on name: String) -> [String] { self.messages.withLockedValue { $0.filter { $0.0 == name }.map(\.1) } }
    }

    static func subscriber(_ server: RedisServerProcess, inbox: Inbox) -> RedisSubscriber {
        let client = RedisClient(address: server.address, configuration: RedisClientTests.fast)
        let subscriber = RedisSubscriber(client: client, logger: Logger(label: "test")) { name, payload in
            inbox.messages.withLockedValue { $0.append((name, String(buffer: payload))) }
        }
        subscriber.start()
        return subscriber
    }

    @Test func messagesArriveInPublishOrderAndStopAfterUnsubscribe() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let inbox = Inbox()
        let subscriber = Self.subscriber(server, inbox: inbox)
        let publisher = RedisClientTests.client(server)
        defer { Task { await subscriber.shutdown(); await publisher.shutdown() } }
        #expect(await eventually { (try? await subscriber.subscribe(["a", "b"])) != nil })
        for index in 0..<500 { try await publisher.send(RedisCommand("PUBLISH", [index % 2 == 0 ? "a" : "b", String(index)])) }
        #expect(await eventually { inbox.messages.withLockedValue { $0.count } == 500 })
        #expect(inbox.payloads(on: "a") == stride(from: 0, to: 500, by: 2).map(String.init))
        #expect(inbox.payloads(on: "b") == stride(from: 1, to: 500, by: 2).map(String.init))

        await subscriber.unsubscribe(["a"])
        // Once Redis handled the UNSUBSCRIBE (PUBLISH answers 0 receivers), nothing more arrives on "a".
        #expect(await eventually { (try? await publisher.send(RedisCommand("PUBLISH", ["a", "late"])))?.int64 == 0 })
        try await publisher.send(RedisCommand("PUBLISH", ["b", "still"]))
        #expect(await eventually { inbox.payloads(on: "b").last == "still" })
        #expect(!inbox.payloads(on: "a").contains("late"))
    }

    /// Unsubscribe then subscribe at once: the subscribe returns only after its own confirmation, so a
    /// publication right after it is received.
    @Test func aQuickUnsubscribeSubscribeLeavesTheChannelSubscribed() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let inbox = Inbox()
        let subscriber = Self.subscriber(server, inbox: inbox)
        let publisher = RedisClientTests.client(server)
        defer { Task { await subscriber.shutdown(); await publisher.shutdown() } }
        #expect(await eventually { (try? await subscriber.subscribe(["flip"])) != nil })
        for round in 0..<50 {
            await subscriber.unsubscribe(["flip"])
            try await subscriber.subscribe(["flip"])
            #expect(try await publisher.send(RedisCommand("PUBLISH", ["flip", String(round)])).int64 == 1)
            // Received before the next unsubscribe: a message that arrives after it is dropped, as it should be.
            #expect(await eventually { inbox.payloads(on: "flip").count == round + 1 })
        }
        #expect(inbox.payloads(on: "flip") == (0..<50).map(String.init))
        // Counted interest: two subscribes need two unsubscribes.
        try await subscriber.subscribe(["flip"])
        await subscriber.unsubscribe(["flip"])
        #expect(await subscriber.isSubscribed("flip"))
    }

    @Test func subscribesAgainAfterRedisRestarts() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let inbox = Inbox()
        let subscriber = Self.subscriber(server, inbox: inbox)
        let publisher = RedisClientTests.client(server)
        defer { Task { await subscriber.shutdown(); await publisher.shutdown() } }
        #expect(await eventually { (try? await subscriber.subscribe(["news"])) != nil })
        try await publisher.send(RedisCommand("PUBLISH", ["news", "before"]))
        #expect(await eventually { inbox.payloads(on: "news") == ["before"] })
        try await server.restart()
        // Once both connections are back, a publication reaches the subscriber again.
        #expect(await eventually { (try? await publisher.send(RedisCommand("PUBLISH", ["news", "after"])))?.int64 == 1 })
        #expect(await eventually { inbox.payloads(on: "news").last == "after" })
    }

    @Test func subscribingWhileRedisIsDownFailsFast() async throws {
        let server = try await RedisServerProcess.start()
        let inbox = Inbox()
        let subscriber = Self.subscriber(server, inbox: inbox)
        defer { Task { await subscriber.shutdown() } }
        #expect(await eventually { (try? await subscriber.subscribe(["x"])) != nil })
        server.stop()
        let error = await #expect(throws: RedisClientError.self) { try await subscriber.subscribe(["y"]) }
        #expect(error?.isTimeout == false, "must fail at once, not at the command timeout: \(String(describing: error))")
    }
}
