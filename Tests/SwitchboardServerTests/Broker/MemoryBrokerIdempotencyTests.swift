import SwitchboardProtocol
import Testing
@testable import SwitchboardServer

/// Idempotency keys on the embedded broker: a key publishes once per channel within its window.
@Suite struct MemoryBrokerIdempotencyTests {
    typealias Handler = MemoryBrokerTests.RecordingHandler
    let retention = HistoryRetention(size: 100, seconds: 600)

    func request(_ n: Int64, key: String?, channel: String = "chat:a", seconds: Int = 300) -> PublishRequest {
        PublishRequest(channel: channel, data: .integer(n), info: nil, history: self.retention,
                       idempotency: key.map { PublishIdempotency(key: $0, seconds: seconds) })
    }

    @Test func aKeyUsedAgainPublishesNothingAndGetsTheFirstPosition() async throws {
        let broker = MemoryBroker()
        let handler = Handler()
        try await broker.start(handler: handler)
        let first = await broker.publish([self.request(1, key: "k1")])
        let outcomes = await broker.publish([self.request(2, key: nil), self.request(3, key: "k1"), self.request(4, key: "k2")])
        #expect(try first[0].get().offset == 1)
        #expect(try outcomes[0].get().offset == 2)
        #expect(throws: DuplicatePublication(position: StreamPosition(offset: 1, epoch: try first[0].get().epoch))) { try outcomes[1].get() }
        #expect(try outcomes[2].get().offset == 3)
        #expect(handler.publications.withLockedValue { $0.map(\.data) } == [.integer(1), .integer(2), .integer(4)])
        // The same key in another channel is another publication.
        #expect(try await broker.publish([self.request(5, key: "k1", channel: "chat:b")])[0].get().offset == 1)
    }

    @Test func aKeyIsForgottenWhenItsWindowEnds() async throws {
        let clock = MemoryBrokerTests.ManualClock()
        let broker = MemoryBroker(clock: clock.read)
        try await broker.start(handler: Handler())
        #expect(try await broker.publish([self.request(1, key: "k", seconds: 5)])[0].get().offset == 1)
        clock.advance(seconds: 4)
        await #expect(throws: DuplicatePublication.self) { try await broker.publish([self.request(2, key: "k", seconds: 5)])[0].get() }
        clock.advance(seconds: 1)
        #expect(try await broker.publish([self.request(3, key: "k", seconds: 5)])[0].get().offset == 2)
    }

    @Test func concurrentRetriesWithOneKeyPublishOnce() async throws {
        let broker = MemoryBroker()
        let handler = Handler()
        try await broker.start(handler: handler)
        let offsets = await withTaskGroup(of: UInt64.self) { group in
            for n in 0..<16 {
                group.addTask {
                    switch await broker.publish([self.request(Int64(n), key: "same")])[0] {
                    case .success(let publication): publication.offset
                    case .failure(let duplicate as DuplicatePublication): duplicate.position.offset
                    case .failure: 0
                    }
                }
            }
            return await group.reduce(into: [UInt64]()) { $0.append($1) }
        }
        #expect(offsets == Array(repeating: 1, count: 16))
        #expect(handler.publications.withLockedValue { $0.count } == 1)
    }

    @Test func idleStreamsKeepTheirKeysUntilTheWindowEnds() async throws {
        let clock = MemoryBrokerTests.ManualClock()
        let broker = MemoryBroker(clock: clock.read)
        try await broker.start(handler: Handler())
        let noHistory = PublishRequest(channel: "chat:a", data: .integer(1), info: nil, history: HistoryRetention(size: 0, seconds: 0),
                                       idempotency: PublishIdempotency(key: "k", seconds: 60))
        _ = try await broker.publish([noHistory])[0].get()
        broker.removeIdleStreams()
        await #expect(throws: DuplicatePublication.self) { try await broker.publish([noHistory])[0].get() }
        clock.advance(seconds: 61)
        broker.removeIdleStreams()
        #expect(try await broker.publish([noHistory])[0].get().offset == 1, "a new stream after the old one was dropped")
    }
}
