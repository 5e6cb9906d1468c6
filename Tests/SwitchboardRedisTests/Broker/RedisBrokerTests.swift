import Logging
import NIOConcurrencyHelpers
import SwitchboardBrokerContract
import SwitchboardProtocol
import SwitchboardServer
import SwitchboardTestSupport
import Testing
@testable import SwitchboardRedis

/// The `Broker` contract on Redis, against a real redis-server. The memory broker's contract tests drive
/// time with a manual clock and call `removeIdleStreams`, neither of which exists here (Redis keeps time and
/// expires keys itself), so these are the same promises checked the Redis way.
@Suite(.enabled(if: RedisServerProcess.shouldRun, RedisServerProcess.missingMessage))
struct RedisBrokerTests {
    typealias RecordingHandler = RecordingBrokerHandler

    let retention = HistoryRetention(size: 100, seconds: 60)

    static func broker(_ servers: [RedisServerProcess], prefix: String = "switchboard") -> RedisBroker {
        RedisBroker(configuration: RedisBrokerConfiguration(addresses: servers.map(\.address), keyPrefix: prefix, client: RedisClientTests.fast),
                    logger: Logger(label: "test"))
    }

    static func started(_ servers: [RedisServerProcess], handler: RecordingHandler = RecordingHandler()) async throws -> RedisBroker {
        let broker = Self.broker(servers)
        try await broker.start(handler: handler)
        return broker
    }

    @Test func concurrentPublishersGetContiguousOffsetsAndTheHandlerSeesThemInOrder() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let handler = RecordingHandler()
        let broker = try await Self.started([server], handler: handler)
        defer { Task { await broker.shutdown() } }
        try await broker.subscribe("chat:a")
        let wide = HistoryRetention(size: 5000, seconds: 60)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for publisher in 0..<8 {
                group.addTask {
                    for index in 0..<250 {
                        _ = try await broker.publish(.integer(Int64(publisher * 1000 + index)), to: "chat:a", info: nil, history: wide)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(await eventually { handler.offsets.count == 2000 })
        #expect(handler.offsets == Array(1...2000))
        let history = try await broker.history(of: "chat:a", since: nil, limit: 5000, retention: wide)
        guard case .publications(let retained, let current) = history else { Issue.record("no history"); return }
        #expect(retained.map(\.offset) == Array(1...2000))
        #expect(current.offset == 2000)
        // What the handler got under each offset is what history kept under it (one atomic step).
        #expect(handler.publications.withLockedValue { $0 } == retained)
    }

    @Test func historySinceAPositionIsTheCompleteGapOrNotRecoverable() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let broker = try await Self.started([server])
        defer { Task { await broker.shutdown() } }
        let alice = ClientInfo(user: "alice", client: "c1", info: ["big": .integer(9_007_199_254_740_993)])
        let first = try await broker.publish("a", to: "chat:b", info: alice, history: self.retention)
        for _ in 0..<10 { _ = try await broker.publish(["n": 1], to: "chat:b", info: nil, history: self.retention) }
        let gap = try await broker.history(of: "chat:b", since: first.position, limit: 1000, retention: self.retention)
        guard case .publications(let missed, let current) = gap else { Issue.record("should recover"); return }
        #expect(missed.map(\.offset) == Array(2...11))
        #expect(missed.allSatisfy { $0.data == ["n": 1] && $0.channel == "chat:b" && $0.epoch == first.epoch })
        #expect(current == StreamPosition(offset: 11, epoch: first.epoch))
        // Integers above 2^53 and client info survive the trip through Redis.
        let all = try await broker.history(of: "chat:b", since: nil, limit: 1, retention: self.retention)
        #expect(all == .publications([missed.last!], current: current))
        let whole = try await broker.history(of: "chat:b", since: StreamPosition(offset: 0, epoch: first.epoch), limit: 100, retention: self.retention)
        guard case .publications(let everything, _) = whole else { Issue.record("should recover from 0"); return }
        #expect(everything.first == first)
        #expect(everything.first?.info?.info == ["big": .integer(9_007_199_254_740_993)])
        // Nothing missed.
        #expect(try await broker.history(of: "chat:b", since: current, limit: 10, retention: self.retention) == .publications([], current: current))
        // More missed than the caller may take: refused whole, never truncated.
        #expect(try await broker.history(of: "chat:b", since: first.position, limit: 5, retention: self.retention) == .notRecoverable(current: current))
        #expect(try await broker.history(of: "chat:b", since: StreamPosition(offset: 1, epoch: "other"), limit: 1000, retention: self.retention)
                == .notRecoverable(current: current))
        #expect(try await broker.history(of: "chat:b", since: StreamPosition(offset: 99, epoch: first.epoch), limit: 1000, retention: self.retention)
                == .notRecoverable(current: current))
    }

    @Test func historyIsBoundedBySizeAndAge() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let broker = try await Self.started([server])
        defer { Task { await broker.shutdown() } }
        let small = HistoryRetention(size: 3, seconds: 60)
        var last: Publication?
        for index in 1...5 { last = try await broker.publish(.integer(Int64(index)), to: "chat:c", info: nil, history: small) }
        let epoch = last!.epoch
        guard case .publications(let kept, _) = try await broker.history(of: "chat:c", since: nil, limit: 10, retention: small) else {
            Issue.record("no history"); return
        }
        #expect(kept.map(\.offset) == [3, 4, 5])
        #expect(try await broker.history(of: "chat:c", since: StreamPosition(offset: 2, epoch: epoch), limit: 10, retention: small) != .notRecoverable(current: last!.position))
        #expect(try await broker.history(of: "chat:c", since: StreamPosition(offset: 1, epoch: epoch), limit: 10, retention: small) == .notRecoverable(current: last!.position))

        // One second of retention: after it, the gap cannot be filled, but the position (and epoch) stay.
        let brief = HistoryRetention(size: 10, seconds: 1)
        let first = try await broker.publish("x", to: "chat:d", info: nil, history: brief)
        let second = try await broker.publish("y", to: "chat:d", info: nil, history: brief)
        try await Task.sleep(for: .milliseconds(2200))
        #expect(try await broker.history(of: "chat:d", since: first.position, limit: 10, retention: brief) == .notRecoverable(current: second.position))
        #expect(try await broker.history(of: "chat:d", since: second.position, limit: 10, retention: brief) == .publications([], current: second.position))
        // Without history, offsets still count.
        let none = HistoryRetention(size: 0, seconds: 0)
        let a = try await broker.publish("a", to: "chat:e", info: nil, history: none)
        let b = try await broker.publish("b", to: "chat:e", info: nil, history: none)
        #expect((a.offset, b.offset) == (1, 2))
        #expect(try await broker.history(of: "chat:e", since: nil, limit: 10, retention: none) == .publications([], current: b.position))
    }

    @Test func theEpochSurvivesABrokerRestartAndChangesWhenRedisLosesTheData() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let first = try await Self.started([server])
        var last: Publication?
        for _ in 0..<3 { last = try await first.publish("x", to: "chat:f", info: nil, history: self.retention) }
        await first.shutdown()

        // A new node process: same epoch, the next offset, and history since the old position.
        let second = try await Self.started([server])
        defer { Task { await second.shutdown() } }
        let next = try await second.publish("y", to: "chat:f", info: nil, history: self.retention)
        #expect(next.epoch == last!.epoch)
        #expect(next.offset == 4)
        guard case .publications(let missed, _) = try await second.history(of: "chat:f", since: last!.position, limit: 10, retention: self.retention) else {
            Issue.record("should recover across a node restart"); return
        }
        #expect(missed == [next])

        try await server.command("FLUSHALL")
        let afterFlush = try await second.publish("z", to: "chat:f", info: nil, history: self.retention)
        #expect(afterFlush.epoch != next.epoch)
        #expect(afterFlush.offset == 1)
        #expect(try await second.history(of: "chat:f", since: next.position, limit: 10, retention: self.retention)
                == .notRecoverable(current: afterFlush.position))
        // A history read of an unknown channel fixes its epoch: the next publish continues it.
        let fresh = try await second.history(of: "chat:new", since: nil, limit: 0, retention: self.retention)
        let firstInFresh = try await second.publish("a", to: "chat:new", info: nil, history: self.retention)
        #expect(firstInFresh.position == StreamPosition(offset: 1, epoch: fresh.current.epoch))
    }

    @Test func scriptsAreReloadedWhenRedisForgotThem() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let broker = try await Self.started([server])
        defer { Task { await broker.shutdown() } }
        _ = try await broker.publish("a", to: "chat:g", info: nil, history: self.retention)
        try await server.command("SCRIPT", "FLUSH")
        let next = try await broker.publish("b", to: "chat:g", info: nil, history: self.retention)
        #expect(next.offset == 2)
    }

    @Test func presenceEntriesExpireUnlessRefreshedAndLeaveRemovesThem() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let handler = RecordingHandler()
        let broker = try await Self.started([server], handler: handler)
        defer { Task { await broker.shutdown() } }
        let alice = ClientInfo(user: "alice", client: "c1", info: ["role": "admin"])
        let bob = ClientInfo(user: "bob", client: "c2")
        // Both listed while their entries live (long enough for any machine to read them back).
        try await broker.addPresence(alice, to: "chat:h", ttl: 60)
        try await broker.addPresence(bob, to: "chat:h", ttl: 60)
        #expect(try await broker.presence(of: "chat:h") == [alice, bob])
        // Bob's node refreshes once more with a short TTL, then "crashes"; alice's keeps refreshing. Redis
        // keeps the time: wait at least bob's TTL (a lower bound), then alice is the only one left.
        try await broker.addPresence(bob, to: "chat:h", ttl: 1)
        try await Task.sleep(for: .milliseconds(1300))
        try await broker.addPresence(alice, to: "chat:h", ttl: 60)
        #expect(try await broker.presence(of: "chat:h") == [alice])
        try await broker.removePresence(client: "c1", from: "chat:h")
        #expect(try await broker.presence(of: "chat:h").isEmpty)

        try await broker.subscribe("chat:h")
        try await broker.publishPresenceEvent(.join, client: alice, channel: "chat:h")
        try await broker.publishPresenceEvent(.leave, client: alice, channel: "chat:h")
        #expect(await eventually { handler.presence.withLockedValue { $0.count } == 2 })
        #expect(handler.presence.withLockedValue { $0.map(\.0) } == [.join, .leave])
        #expect(handler.presence.withLockedValue { $0.map(\.2) } == ["chat:h", "chat:h"])
    }

    @Test func whileRedisIsDownOperationsFailFastAndWorkAgainAfterItIsBack() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let handler = RecordingHandler()
        let broker = try await Self.started([server], handler: handler)
        defer { Task { await broker.shutdown() } }
        try await broker.subscribe("chat:i")
        let before = try await broker.publish("a", to: "chat:i", info: nil, history: self.retention)
        server.stop()
        for operation in 0..<3 {
            do {
                switch operation {
                case 0: _ = try await broker.publish("b", to: "chat:i", info: nil, history: self.retention)
                case 1: _ = try await broker.history(of: "chat:i", since: before.position, limit: 10, retention: self.retention)
                default: _ = try await broker.presence(of: "chat:i")
                }
                Issue.record("operation \(operation) should fail while Redis is down")
            } catch let error as BrokerError {
                #expect(error.description.contains("chat:i"))
                // At once, not at the command timeout (which no test waits out).
                #expect(!error.description.contains("no reply from Redis within"), "operation \(operation): \(error)")
            }
        }
        try await server.launch()
        let back = await eventually { (try? await broker.publish("c", to: "chat:i", info: nil, history: self.retention)) != nil }
        #expect(back)
        // Redis restarted without persistence: a new epoch; the node resubscribed by itself.
        #expect(await eventually {
            _ = try? await broker.publish("d", to: "chat:i", info: nil, history: self.retention)
            return handler.publications.withLockedValue { $0.last?.epoch != before.epoch && $0.last?.epoch != nil }
        })
    }

    /// Two nodes on one Redis: what one publishes reaches the other's handler, in order.
    @Test func aPublicationOnOneNodeReachesTheOtherInOrder() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let handlerA = RecordingHandler()
        let handlerB = RecordingHandler()
        let nodeA = try await Self.started([server], handler: handlerA)
        let nodeB = try await Self.started([server], handler: handlerB)
        defer { Task { await nodeA.shutdown(); await nodeB.shutdown() } }
        try await nodeB.subscribe("chat:j")
        for index in 1...300 { _ = try await nodeA.publish(.integer(Int64(index)), to: "chat:j", info: nil, history: self.retention) }
        #expect(await eventually { handlerB.offsets.count == 300 })
        #expect(handlerB.offsets == Array(1...300))
        #expect(handlerB.publications.withLockedValue { $0.map(\.data) } == (1...300).map { .integer(Int64($0)) })
        // Node A did not subscribe: it gets nothing.
        #expect(handlerA.offsets.isEmpty)
        // After B unsubscribes, nothing more reaches it. A marker in another channel B subscribes to after
        // the unsubscribe (same pub/sub connection, so Redis handles the two in order) is published after
        // "late": had "late" been delivered, it would have arrived first.
        try await nodeB.unsubscribe("chat:j")
        try await nodeB.subscribe("chat:marker")
        _ = try await nodeA.publish("late", to: "chat:j", info: nil, history: self.retention)
        _ = try await nodeA.publish("marker", to: "chat:marker", info: nil, history: self.retention)
        #expect(await eventually { handlerB.publications.withLockedValue { $0.last?.channel } == "chat:marker" })
        #expect(handlerB.publications.withLockedValue { $0.filter { $0.channel == "chat:j" }.count } == 300)
    }

    /// A node whose pub/sub connection is cut (Redis kills it) misses what is published meanwhile; once it is
    /// subscribed again it says so per channel, so sessions send their clients to history even when nothing
    /// more is published.
    @Test func aLostPubSubConnectionIsReportedPerChannelOnceLiveAgain() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let handlerB = RecordingHandler()
        let nodeA = try await Self.started([server])
        let nodeB = try await Self.started([server], handler: handlerB)
        defer { Task { await nodeA.shutdown(); await nodeB.shutdown() } }
        try await nodeB.subscribe("chat:quiet")
        try await nodeB.subscribe("chat:other")
        _ = try await nodeA.publish(1, to: "chat:quiet", info: nil, history: self.retention)
        #expect(await eventually { handlerB.offsets == [1] })
        #expect(handlerB.missed.withLockedValue { $0 }.isEmpty)

        _ = try await server.command("CLIENT", "KILL", "TYPE", "pubsub")
        #expect(await eventually { Set(handlerB.missed.withLockedValue { $0 }) == ["chat:quiet", "chat:other"] })
        // Reported after the subscription is confirmed: what is published now arrives live.
        _ = try await nodeA.publish(2, to: "chat:quiet", info: nil, history: self.retention)
        #expect(await eventually { handlerB.offsets.last == 2 })
        #expect(handlerB.missed.withLockedValue { $0 }.count == 2)
    }

    /// Two Redis servers: channels are spread over both by the hash ring, and each works as with one.
    /// A broker sharding over two fresh Redis servers, stopped after `body`.
    private func withTwoServers(_ body: (RedisServerProcess, RedisServerProcess, RedisBroker, RecordingHandler) async throws -> Void) async throws {
        let one = try await RedisServerProcess.start()
        let two = try await RedisServerProcess.start()
        defer { one.stop(); two.stop() }
        let handler = RecordingHandler()
        let broker = try await Self.started([one, two], handler: handler)
        defer { Task { await broker.shutdown() } }
        try await body(one, two, broker, handler)
    }

    @Test func channelsAreShardedAcrossServers() async throws { try await self.withTwoServers { one, two, broker, handler in
        let channels = (0..<40).map { "room:\($0)" }
        for channel in channels {
            try await broker.subscribe(channel)
            _ = try await broker.publish(.string(channel), to: channel, info: nil, history: self.retention)
        }
        #expect(await eventually { handler.publications.withLockedValue { $0.count } == 40 })
        #expect(Set(handler.publications.withLockedValue { $0.map(\.channel) }) == Set(channels))
        let onFirst = channels.filter { broker.shardIndex(for: $0) == 0 }
        #expect(!onFirst.isEmpty && onFirst.count < 40)
        // Each channel's keys are on its own server only.
        for channel in channels {
            let (mine, other) = broker.shardIndex(for: channel) == 0 ? (one, two) : (two, one)
            #expect(try await mine.command("EXISTS", "switchboard:{\(channel)}:position") == .integer(1))
            #expect(try await other.command("EXISTS", "switchboard:{\(channel)}:position") == .integer(0))
        }
    } }

    /// A batch is pipelined per server, first call by source (no NOSCRIPT retry can reorder it): every
    /// publication gets the offset it would have one by one, in request order, also right after the scripts
    /// were flushed and with another publisher writing to the same channels meanwhile.
    @Test func aBatchIsPipelinedPerServerInRequestOrder() async throws { try await self.withTwoServers { one, two, broker, handler in
        let channels = (0..<6).map { "room:\($0)" }
        for channel in channels { try await broker.subscribe(channel) }
        var expected: [String: [Int64]] = [:]
        for round in 0..<3 {
            if round == 2 {
                try await one.command("SCRIPT", "FLUSH")
                try await two.command("SCRIPT", "FLUSH")
            }
            let requests = (0..<30).map { index in
                PublishRequest(channel: channels[index % channels.count], data: .integer(Int64(round * 100 + index)), info: nil, history: self.retention)
            }
            async let other = broker.publish(.integer(-1), to: channels[0], info: nil, history: self.retention)
            let published = try await broker.publish(requests).map { try $0.get() }
            _ = try await other
            #expect(published.map(\.channel) == requests.map(\.channel))
            for channel in channels {
                let mine = published.filter { $0.channel == channel }
                // In request order, and consecutive unless the other publisher got in between.
                #expect(mine.map(\.offset) == mine.map(\.offset).sorted())
                expected[channel, default: []] += mine.map { try! $0.data.decode(as: Int64.self) }
            }
        }
        #expect(await eventually { handler.publications.withLockedValue { $0.count } == 3 * 31 })
        for channel in channels {
            let seen = handler.publications.withLockedValue { $0.filter { $0.channel == channel } }
            #expect(seen.map(\.offset) == Array(1...UInt64(seen.count)), "\(channel)")
            #expect(seen.compactMap { try? $0.data.decode(as: Int64.self) }.filter { $0 >= 0 } == expected[channel])
        }
    } }
}
