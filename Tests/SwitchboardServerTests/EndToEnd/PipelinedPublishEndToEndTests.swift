import Foundation
import SwitchboardProtocol
import SwitchboardTestSupport
import Testing

/// Publishes a client sends without waiting run as batches (ClientSession+Publishing): each is checked on
/// its own, they reach the channel in the order sent, and every command still gets its reply in order.
@Suite struct PipelinedPublishEndToEndTests {
    @Test(arguments: TestTransport.all) func pipelinedPublishesKeepTheirOrderTheirOwnRefusalsAndReplyOrder(transport: TestTransport) async throws {
        // Far from the rate limit: its refusals are answered at once, ahead of queued commands.
        try await TestNode.with(transport: transport, { $0.limits.commandsPerSecond = 10_000; $0.limits.commandBurst = 1_000 }) { node in
            let alice = try await node.connectedClient("alice")
            let watcher = try await node.connectedClient("watcher")
            let subscribed = try await watcher.subscribe("feed:pipelined")
            var ids: [UInt64] = []
            for n in 1...150 {
                // One refused in the middle of a batch: clients may not publish in personal channels.
                let channel = n == 70 ? "user:bob" : "feed:pipelined"
                ids.append(try await alice.send(.publish(.init(channel: channel, data: .integer(Int64(n))))))
            }
            let pingID = try await alice.send(.ping)
            _ = try await alice.reply(to: pingID)

            let replies = alice.received.compactMap { message -> UInt64? in
                switch message {
                case .reply(let id, _), .error(let id?, _): id
                default: nil
                }
            }
            #expect(replies.suffix(151) == ids + [pingID], "replies must come in command order")
            var expected = subscribed.offset
            for (index, id) in ids.enumerated() {
                let reply = try await alice.reply(to: id)
                if index + 1 == 70 {
                    guard case .error(_, let error) = reply else { Issue.record("publish 70 was not refused: \(reply)"); continue }
                    #expect(error.code == .notAvailable)
                } else {
                    expected += 1
                    guard case .reply(_, .publish(let result)) = reply else { Issue.record("publish \(index + 1): \(reply)"); continue }
                    #expect(result.offset == expected)
                }
            }
            let delivered = try await watcher.publications(149, in: "feed:pipelined")
            #expect(delivered.map(\.data) == (1...150).filter { $0 != 70 }.map { RawJSON.integer(Int64($0)) })
            #expect(delivered.map(\.offset) == Array((subscribed.offset + 1)...(subscribed.offset + 149)))
            await alice.close()
            await watcher.close()
        }
    }
}
