import NIOConcurrencyHelpers
import SwitchboardProtocol
@testable import SwitchboardServer
import SwitchboardTestSupport
import Testing

/// Recovery, end to end: a client that comes back with the position it had gets exactly what it missed, in
/// order, in the subscribe reply, then live publications from the next offset, without gaps or duplicates;
/// a position that cannot be honoured is refused plainly (`recovered: false`), never half-filled.
@Suite struct RecoveryEndToEndTests {
    /// Subscribes a fresh client of `user` to `channel`, reads a few live publications, and disconnects;
    /// returns the last position it had.
    private func positionAfterLeaving(_ channel: String, node: TestNode, user: String = "alice") async throws -> StreamPosition {
        let client = try await node.connectedClient(user)
        let subscribed = try await client.subscribe(channel)
        var position = StreamPosition(offset: subscribed.offset, epoch: subscribed.epoch)
        _ = try await node.publishAll((1...3).map { .string("before \($0)") }, to: channel)
        for publication in try await client.publications(3, in: channel) {
            #expect(publication.offset == position.offset + 1)
            position = publication.position
        }
        await client.close()
        return position
    }

    @Test(arguments: TestTransport.all) func aClientReturningWithItsPositionRecoversExactlyTheThousandItMissedThenGoesLive(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let channel = "feed:recovery"
            let position = try await positionAfterLeaving(channel, node: node)
            let published = try await node.publishAll((1...1000).map { .integer(Int64($0)) }, to: channel)
            #expect(published.map(\.offset) == Array((position.offset + 1)...(position.offset + 1000)))

            let client = try await node.connectedClient("alice")
            let result = try await client.subscribe(channel, since: position)
            #expect(result.recovered == true)
            #expect(result.epoch == position.epoch)
            #expect(result.offset == position.offset + 1000)
            let recovered = result.publications ?? []
            #expect(recovered.count == 1000)
            #expect(recovered.map(\.offset) == Array((position.offset + 1)...(position.offset + 1000)))
            #expect(recovered.map(\.data) == (1...1000).map { RawJSON.integer(Int64($0)) })
            #expect(recovered.allSatisfy { $0.epoch == position.epoch && $0.channel == channel })

            // Live from the next offset, nothing recovered is sent again.
            _ = try await node.publishAll((1001...1005).map { .integer(Int64($0)) }, to: channel)
            let live = try await client.publications(5, in: channel)
            #expect(live.map(\.offset) == Array((position.offset + 1001)...(position.offset + 1005)))
            #expect(live.map(\.data) == (1001...1005).map { RawJSON.integer(Int64($0)) })
            // A marker published after them arrives after anything sent before it (one channel is delivered
            // in order): once it is here, every push the client will get for the above has arrived.
            try await node.publish("marker", to: channel)
            _ = try await client.publications(1, in: channel)
            let publications = client.receivedPushes.filter { if case .publication = $0 { true } else { false } }
            #expect(publications.count == 6, "expected exactly the 5 live publications and the marker as pushes, got \(publications.count)")
            await client.close()
        }
    }

    /// A broker that lost its live feed (Redis pub/sub reconnected) says so per channel: live subscribers of
    /// the channel get `unsubscribed` at once, even if nothing more is published, and recover with `since`.
    @Test(arguments: TestTransport.all) func aBrokerFeedOutageSendsLiveSubscribersToHistory(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let channel = "feed:outage"
            let client = try await node.connectedClient("alice")
            let start = try await client.subscribe(channel)
            // Published "during the outage": reaches history, and (memory broker) the client too; what
            // matters is what the client is told.
            try await node.publish(.integer(1), to: channel)
            _ = try await client.publications(1, in: channel)
            node.server.context.hub.broker(mayHaveMissedPublicationsIn: channel)
            let ended = try await client.nextPush(within: TestPatience.default, "the unsubscribed push") { push -> ServerMessage.Unsubscribed? in
                if case .unsubscribed(let unsubscribed) = push { return unsubscribed }
                return nil
            }
            #expect(ended.channel == channel)
            let again = try await client.subscribe(channel, since: StreamPosition(offset: start.offset, epoch: start.epoch))
            #expect(again.recovered == true)
            #expect(again.publications?.map(\.data) == [.integer(1)])
            // A channel nobody here subscribes to is not touched.
            node.server.context.hub.broker(mayHaveMissedPublicationsIn: "feed:elsewhere")
            await client.close()
        }
    }

    @Test(arguments: TestTransport.all) func aPositionInAnotherEpochIsNotRecovered(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let channel = "feed:epochs"
            let position = try await positionAfterLeaving(channel, node: node)
            _ = try await node.publishAll(["missed 1", "missed 2"], to: channel)
            let client = try await node.connectedClient("alice")
            let result = try await client.subscribe(channel, since: StreamPosition(offset: position.offset, epoch: "not-" + position.epoch))
            #expect(result.recovered == false)
            #expect(result.publications ?? [] == [])
            // The reply carries the real position, to start again from.
            #expect(result.epoch == position.epoch)
            #expect(result.offset == position.offset + 2)
            // And the subscription is live.
            let next = try await node.publish("after", to: channel)
            #expect(try await client.publications(1, in: channel).first?.offset == next.offset)
            await client.close()

            // A position ahead of the stream (from a lost, longer history) is not recoverable either.
            let ahead = try await node.connectedClient("alice")
            let fromTheFuture = try await ahead.subscribe(channel, since: StreamPosition(offset: next.offset + 5, epoch: position.epoch))
            #expect(fromTheFuture.recovered == false)
            #expect(fromTheFuture.offset == next.offset)
            await ahead.close()
        }
    }

    @Test(arguments: TestTransport.all) func aPositionOlderThanTheRetainedHistoryIsNotRecovered(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            // `short` keeps 10 publications: 20 missed cannot all be returned, so none are.
            let channel = "short:history"
            let position = try await positionAfterLeaving(channel, node: node)
            _ = try await node.publishAll((1...20).map { .integer(Int64($0)) }, to: channel)
            let client = try await node.connectedClient("alice")
            let result = try await client.subscribe(channel, since: position)
            #expect(result.recovered == false)
            #expect(result.publications ?? [] == [])
            #expect(result.offset == position.offset + 20)

            // Exactly as many as are retained is still recoverable.
            let edge = StreamPosition(offset: result.offset, epoch: result.epoch)
            await client.close()
            _ = try await node.publishAll((21...30).map { .integer(Int64($0)) }, to: channel)
            let again = try await node.connectedClient("alice")
            let recovered = try await again.subscribe(channel, since: edge)
            #expect(recovered.recovered == true)
            #expect(recovered.publications?.map(\.data) == (21...30).map { RawJSON.integer(Int64($0)) })
            await again.close()
        }
    }

    @Test(arguments: TestTransport.all) func publicationsFlowingDuringTheResubscribeArriveExactlyOnceInOrder(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let channel = "feed:concurrent"
            let position = try await positionAfterLeaving(channel, node: node)
            // A publisher that keeps publishing, in small pipelined batches, until told to stop.
            let stop = NIOLockedValueBox(false)
            let lastPublished = NIOLockedValueBox(position.offset)
            let publisher = Task { () -> UInt64 in
                var last: UInt64 = 0
                var next: Int64 = 0
                while !stop.withLockedValue({ $0 }) {
                    let batch = (0..<10).map { RawJSON.integer(next + Int64($0)) }
                    next += 10
                    last = try await node.publishAll(batch, to: channel, batch: 10).last!.offset
                    lastPublished.withLockedValue { $0 = last }
                }
                return last
            }
            // Some missed while away, then the resubscribe races the publisher.
            #expect(await eventually { lastPublished.withLockedValue { $0 } >= position.offset + 10 })
            let client = try await node.connectedClient("alice")
            let result = try await client.subscribe(channel, since: position)
            // The publisher goes on after the reply for a while: these arrive live.
            #expect(await eventually { lastPublished.withLockedValue { $0 } >= result.offset + 20 })
            stop.withLockedValue { $0 = true }
            let lastOffset = try await publisher.value

            #expect(result.recovered == true)
            let recovered = result.publications ?? []
            #expect(!recovered.isEmpty, "the publisher published nothing before the resubscribe")
            let liveCount = Int(lastOffset - result.offset)
            let live = try await client.publications(liveCount, in: channel, within: TestPatience.default)
            let offsets = recovered.map(\.offset) + live.map(\.offset)
            #expect(offsets == Array((position.offset + 1)...lastOffset),
                    "gaps or duplicates: \(offsets.count) offsets for \(lastOffset - position.offset) publications")
            // The publisher's values, in the order it published them.
            let values = (recovered + live).map(\.data)
            #expect(values == (0..<Int64(values.count)).map { RawJSON.integer($0) })
            #expect(live.count >= 10, "the publisher should still have been publishing after the reply (\(live.count) live)")
            // Nothing more arrives after the last one: a marker published now is the next and only one.
            let marker = try await node.publish("marker", to: channel)
            _ = try await client.publications(1, in: channel)
            let extra = client.receivedPushes.compactMap { if case .publication(let p) = $0, p.offset > lastOffset { p.offset } else { nil } }
            #expect(extra == [marker.offset])
            await client.close()
        }
    }
}
