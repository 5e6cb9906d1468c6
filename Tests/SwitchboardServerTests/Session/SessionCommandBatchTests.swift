import NIOCore
import SwitchboardProtocol
import SwitchboardTestSupport
import Testing
@testable import SwitchboardServer

/// Commands that arrive in one read start together: a pipelining publisher's publishes reach the broker
/// (and so the hub, and each subscriber's socket) as one batch, and are answered in order.
@Suite struct SessionCommandBatchTests {
    @Test func publishesReadTogetherGoToTheBrokerAsOneBatchAndAreAnsweredInOrder() async throws {
        let session = try await TestSession.make()
        try await session.open()
        guard case .reply(_, .connect) = try await session.request(.connect(.init(token: try await session.token("alice", ttl: 3600)))) else {
            throw EndToEndFailure("connect refused: \(session.messages)")
        }
        let ids = try await session.sendTogether((0..<8).map { .publish(.init(channel: "feed:batch", data: .integer(Int64($0)))) })
        var offsets: [UInt64] = []
        for id in ids {
            guard case .reply(_, .publish(let result)) = try await session.reply(to: id) else {
                throw EndToEndFailure("publish \(id) refused: \(session.messages)")
            }
            offsets.append(result.offset)
        }
        #expect(offsets == Array(1...8))
        #expect(session.publishBatches == [8])
        // Replies leave in command order.
        let replied = session.messages.compactMap { message -> UInt64? in
            if case .reply(let id, .publish) = message { return id }
            return nil
        }
        #expect(replied == ids)
        await session.shutdown()
    }

    /// Without the read's end (a transport that hands commands over one at a time) each starts at once.
    @Test func aCommandReceivedAloneStartsAtOnce() async throws {
        let session = try await TestSession.make()
        try await session.open()
        guard case .reply(_, .connect) = try await session.request(.connect(.init(token: try await session.token("alice", ttl: 3600)))) else {
            throw EndToEndFailure("connect refused: \(session.messages)")
        }
        guard case .reply(_, .publish) = try await session.request(.publish(.init(channel: "feed:alone", data: "x"))) else {
            throw EndToEndFailure("publish refused: \(session.messages)")
        }
        #expect(session.publishBatches == [1])
        await session.shutdown()
    }
}
