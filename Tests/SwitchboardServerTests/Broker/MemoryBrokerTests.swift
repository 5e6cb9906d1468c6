import NIOConcurrencyHelpers
import SwitchboardProtocol
import SwitchboardBrokerContract
import Testing
@testable import SwitchboardServer

/// The `Broker` contract, checked on the embedded broker: ordering, atomicity, epochs, presence expiry.
@Suite struct MemoryBrokerTests {
    /// Records what the broker hands to the node, in the order it arrives (the contract's own handler).
    typealias RecordingHandler = RecordingBrokerHandler

    /// A clock tests move by hand (milliseconds).
    final class ManualClock: Sendable {
        let milliseconds = NIOLockedValueBox<UInt64>(1_000)
        func advance(seconds: UInt64) { self.milliseconds.withLockedValue { $0 += seconds * 1000 } }
        var read: MemoryBroker.Clock { { self.milliseconds.withLockedValue { $0 } } }
    }

    let retention = HistoryRetention(size: 100, seconds: 60)

    @Test func concurrentPublishersGetContiguousOffsetsAndTheHandlerSeesThemInOrder() async throws {
        let broker = MemoryBroker()
        let handler = RecordingHandler()
        try await broker.start(handler: handler)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for publisher in 0..<8 {
                group.addTask {
                    for index in 0..<250 {
                        _ = try await broker.publish(.integer(Int64(publisher * 1000 + index)), to: "chat:a", info: nil,
                                                     history: HistoryRetention(size: 5000, seconds: 60))
                    }
                }
            }
            try await group.waitForAll()
        }
        let offsets = handler.publications.withLockedValue { $0.map(\.offset) }
        #expect(offsets == Array(1...2000))
        let history = try await broker.history(of: "chat:a", since: nil, limit: 5000, retention: HistoryRetention(size: 5000, seconds: 60))
        guard case .publications(let retained, let current) = history else { Issue.record("no history"); return }
        #expect(retained.map(\.offset) == Array(1...2000))
        #expect(current.offset == 2000)
        // Every publication the handler saw is the one history kept under that offset (atomic assignment).
        #expect(handler.publications.withLockedValue { $0 } == retained)
    }

    @Test func historySinceAPositionIsTheCompleteGapOrNotRecoverable() async throws {
        let broker = MemoryBroker()
        try await broker.start(handler: RecordingHandler())
        let first = try await broker.publish("a", to: "chat:b", info: nil, history: self.retention)
        for _ in 0..<10 { _ = try await broker.publish("b", to: "chat:b", info: nil, history: self.retention) }
        let gap = try await broker.history(of: "chat:b", since: first.position, limit: 1000, retention: self.retention)
        guard case .publications(let missed, let current) = gap else { Issue.record("should recover"); return }
        #expect(missed.map(\.offset) == Array(2...11))
        #expect(current == StreamPosition(offset: 11, epoch: first.epoch))
        // More missed than the caller may take: refused whole, never truncated.
        #expect(try await broker.history(of: "chat:b", since: first.position, limit: 5, retention: self.retention)
                == .notRecoverable(current: current))
        // Another epoch: refused.
        #expect(try await broker.history(of: "chat:b", since: StreamPosition(offset: 1, epoch: "other"), limit: 1000, retention: self.retention)
                == .notRecoverable(current: current))
        // Ahead of the stream: refused.
        #expect(try await broker.history(of: "chat:b", since: StreamPosition(offset: 99, epoch: first.epoch), limit: 1000, retention: self.retention)
                == .notRecoverable(current: current))
    }

    @Test func anIdleStreamWhoseHistoryAgedOutIsDroppedAndComesBackWithANewEpoch() async throws {
        let clock = ManualClock()
        let broker = MemoryBroker(clock: clock.read)
        try await broker.start(handler: RecordingHandler())
        let old = try await broker.publish("x", to: "chat:c", info: nil, history: self.retention)
        clock.advance(seconds: 61)
        broker.removeIdleStreams()
        let fresh = try await broker.publish("y", to: "chat:c", info: nil, history: self.retention)
        #expect(fresh.offset == 1)
        #expect(fresh.epoch != old.epoch)
        #expect(try await broker.history(of: "chat:c", since: old.position, limit: 10, retention: self.retention)
                == .notRecoverable(current: fresh.position))
    }

    @Test func aSubscribedChannelKeepsItsStreamAndEpochWhenIdle() async throws {
        let clock = ManualClock()
        let broker = MemoryBroker(clock: clock.read)
        try await broker.start(handler: RecordingHandler())
        try await broker.subscribe("chat:d")
        let old = try await broker.publish("x", to: "chat:d", info: nil, history: self.retention)
        clock.advance(seconds: 3600)
        broker.removeIdleStreams()
        let next = try await broker.publish("y", to: "chat:d", info: nil, history: self.retention)
        #expect(next.epoch == old.epoch)
        #expect(next.offset == 2)
    }

    @Test func presenceEntriesExpireUnlessRefreshedAndLeaveRemovesThem() async throws {
        let clock = ManualClock()
        let broker = MemoryBroker(clock: clock.read)
        let handler = RecordingHandler()
        try await broker.start(handler: handler)
        let alice = ClientInfo(user: "alice", client: "c1")
        let bob = ClientInfo(user: "bob", client: "c2")
        try await broker.addPresence(alice, to: "chat:e", ttl: 60)
        try await broker.addPresence(bob, to: "chat:e", ttl: 60)
        #expect(try await broker.presence(of: "chat:e") == [alice, bob])
        clock.advance(seconds: 40)
        try await broker.addPresence(alice, to: "chat:e", ttl: 60)  // refresh
        clock.advance(seconds: 30)
        #expect(try await broker.presence(of: "chat:e") == [alice])  // bob's node stopped refreshing
        try await broker.removePresence(client: "c1", from: "chat:e")
        #expect(try await broker.presence(of: "chat:e").isEmpty)
        try await broker.publishPresenceEvent(.join, client: alice, channel: "chat:e")
        #expect(handler.presence.withLockedValue { $0.map(\.0) } == [.join])
    }

    @Test func aChannelWithoutHistoryStillOrdersItsPublications() async throws {
        let broker = MemoryBroker()
        try await broker.start(handler: RecordingHandler())
        let none = HistoryRetention(size: 0, seconds: 0)
        let first = try await broker.publish("a", to: "chat:f", info: nil, history: none)
        let second = try await broker.publish("b", to: "chat:f", info: nil, history: none)
        #expect((first.offset, second.offset) == (1, 2))
        let history = try await broker.history(of: "chat:f", since: nil, limit: 10, retention: none)
        #expect(history == .publications([], current: second.position))
    }

    /// Records each call, a batch as one entry.
    final class BatchRecordingHandler: BrokerEventHandler {
        let calls = NIOLockedValueBox<[[Publication]]>([])
        func broker(didPublish publication: Publication) { self.calls.withLockedValue { $0.append([publication]) } }
        func broker(didPublishBatch publications: [Publication]) { self.calls.withLockedValue { $0.append(publications) } }
        func broker(didChangePresence change: PresenceChange, client: ClientInfo, channel: String) {}
    }

    /// A batch keeps the order of its requests; each run of one channel reaches the handler as one call.
    @Test func aBatchIsPublishedInOrderAndEachChannelRunReachesTheHandlerAsOneCall() async throws {
        let broker = MemoryBroker()
        let handler = BatchRecordingHandler()
        try await broker.start(handler: handler)
        let channels = ["chat:a", "chat:a", "chat:a", "chat:b", "chat:b", "chat:a"]
        let outcomes = await broker.publish(channels.enumerated().map { index, channel in
            PublishRequest(channel: channel, data: .integer(Int64(index)), info: nil, history: self.retention)
        })
        let published = try outcomes.map { try $0.get() }
        #expect(published.map(\.channel) == channels)
        #expect(published.map(\.offset) == [1, 2, 3, 1, 2, 4])
        #expect(published.map(\.data) == (0..<6).map { .integer(Int64($0)) })
        let calls = handler.calls.withLockedValue { $0 }
        #expect(calls.map(\.count) == [3, 2, 1])
        #expect(calls.flatMap { $0 } == published)
        let history = try await broker.history(of: "chat:a", since: nil, limit: 10, retention: self.retention)
        #expect(history == .publications(published.filter { $0.channel == "chat:a" }, current: published[5].position))
    }
}
