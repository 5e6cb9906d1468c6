import SwitchboardProtocol
import SwitchboardServer
import SwitchboardTestSupport
import Testing
@testable import SwitchboardRedis

/// Idempotency keys on Redis, checked and set in the publish script itself: two brokers stand for two nodes.
@Suite(.enabled(if: RedisServerProcess.shouldRun, RedisServerProcess.missingMessage))
struct RedisBrokerIdempotencyTests {
    let retention = HistoryRetention(size: 100, seconds: 60)

    func request(_ n: Int64, key: String?, channel: String = "chat:a") -> PublishRequest {
        PublishRequest(channel: channel, data: .integer(n), info: nil, history: self.retention,
                       idempotency: key.map { PublishIdempotency(key: $0, seconds: 300) })
    }

    static func offset(_ outcome: Result<Publication, any Error>) -> UInt64? {
        switch outcome {
        case .success(let publication): publication.offset
        case .failure(let duplicate as DuplicatePublication): duplicate.position.offset
        case .failure: nil
        }
    }

    @Test func aKeyRetriedOnAnotherNodeGetsTheFirstPositionAndIsDeliveredOnce() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let handler = RedisBrokerTests.RecordingHandler()
        let first = try await RedisBrokerTests.started([server], handler: handler)
        let second = try await RedisBrokerTests.started([server])
        defer { Task { await first.shutdown(); await second.shutdown() } }
        try await first.subscribe("chat:a")

        let published = try await first.publish([self.request(1, key: "k1")])[0].get()
        let retried = await second.publish([self.request(1, key: "k1")])[0]
        #expect(throws: DuplicatePublication(position: StreamPosition(offset: published.offset, epoch: published.epoch))) { try retried.get() }
        // In one pipelined batch too: the second use of a key publishes nothing.
        let batch = await second.publish([self.request(2, key: "k2"), self.request(2, key: "k2"), self.request(3, key: nil)])
        #expect(batch.map(Self.offset) == [2, 2, 3])
        #expect(await eventually { handler.offsets == [1, 2, 3] })
        let history = try await first.history(of: "chat:a", since: nil, limit: 10, retention: self.retention)
        guard case .publications(let retained, _) = history else { Issue.record("no history"); return }
        #expect(retained.map(\.data) == [.integer(1), .integer(2), .integer(3)])
    }

    @Test func concurrentRetriesOnTwoNodesPublishOnce() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let first = try await RedisBrokerTests.started([server])
        let second = try await RedisBrokerTests.started([server])
        defer { Task { await first.shutdown(); await second.shutdown() } }
        let offsets = await withTaskGroup(of: UInt64?.self) { group in
            for index in 0..<16 {
                let broker = index.isMultiple(of: 2) ? first : second
                group.addTask { Self.offset(await broker.publish([self.request(Int64(index), key: "same")])[0]) }
            }
            return await group.reduce(into: [UInt64?]()) { $0.append($1) }
        }
        #expect(offsets == Array(repeating: 1, count: 16))
    }
}
