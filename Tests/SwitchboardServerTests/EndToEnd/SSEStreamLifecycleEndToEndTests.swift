import Foundation
import SwitchboardProtocol
import SwitchboardTestSupport
import Testing

/// When an SSE stream ends and where it resumes: a closed stream is released as a WebSocket is, and an id
/// the node cannot read is answered plainly instead of being ignored.
@Suite struct SSEStreamLifecycleEndToEndTests {
    /// Opens a stream on `channel`, returning it after its subscribe reply.
    private func open(_ node: TestNode, user: String, channel: String, lastEventID: String? = nil)
        async throws -> (SSETestStream, ServerMessage.SubscribeResult)
    {
        let token = try await node.token(user)
        let stream = try await SSETestStream.open(port: node.port, target: "/connection/sse?token=\(token)&channel=\(channel)",
                                                  headers: lastEventID.map { [("Last-Event-ID", $0)] } ?? [])
        #expect(try await stream.status() == 200)
        guard case .reply(0, .connect)? = try await stream.nextEvent().message,
              case .reply(1, .subscribe(let subscribed))? = try await stream.nextEvent().message else {
            throw EndToEndFailure("the stream did not start with its connect and subscribe replies")
        }
        return (stream, subscribed)
    }

    private func presence(_ node: TestNode, _ channel: String) async throws -> [String] {
        let response = try await node.api("/api/presence", json: #"{"channel":"\#(channel)"}"#)
        let result = try JSONDecoder().decode(ServerMessage.PresenceResult.self, from: Data(response.body.utf8))
        return result.clients.map(\.user)
    }

    /// The heartbeat is an hour away, so only noticing the closed connection can release the stream: its
    /// slot under `maxConnectionsPerIP` (1 here) and its presence entry.
    @Test func aStreamTheClientClosesIsReleasedWithoutWaitingForAHeartbeat() async throws {
        try await TestNode.with({
            $0.pingInterval = 3600
            $0.limits.maxConnectionsPerIP = 1
        }) { node in
            let channel = "chat:sse-release"
            let (first, _) = try await open(node, user: "alice", channel: channel)
            #expect(try await presence(node, channel) == ["alice"])
            await first.close()
            let released = await eventually { (try? await presence(node, channel)) == [] }
            #expect(released, "the closed stream's presence entry is still there")
            // Its connection slot is free again: the only one this address has.
            let (second, _) = try await open(node, user: "bob", channel: channel)
            #expect(try await presence(node, channel) == ["bob"])
            await second.close()
        }
    }

    /// A `Last-Event-ID` that is not one of the node's ids (or has a malformed entry for the channel) must not
    /// look like a fresh start: the channel is answered `recovered: false` and continues live.
    @Test(arguments: [
        "garbage!!!",
        "-1",
        "eyJjaGF0OmJhZC1pZCI6Wy0zLCJlcG9jaCJdfQ",  // {"chat:bad-id":[-3,"epoch"]}
        "eyJjaGF0OmJhZC1pZCI6WzIuNSwiZXBvY2giXX0",  // {"chat:bad-id":[2.5,"epoch"]}
        "eyJjaGF0OmJhZC1pZCI6IjQyIn0",  // {"chat:bad-id":"42"}
        "WzEsMl0",  // [1,2]
    ])
    func anUnreadableLastEventIDIsAnsweredRecoveredFalse(_ lastEventID: String) async throws {
        try await TestNode.with { node in
            let channel = "chat:bad-id"
            _ = try await node.publishAll(["before 1", "before 2"], to: channel)
            let (stream, subscribed) = try await open(node, user: "alice", channel: channel, lastEventID: lastEventID)
            #expect(subscribed.recovered == false)
            #expect(subscribed.publications?.isEmpty == true)
            #expect(subscribed.offset == 2)
            let next = try await node.publish("live", to: channel)
            let live = try await stream.nextEvent(within: TestPatience.default, "the live publication") { _, message -> Publication? in
                if case .publication(let publication) = message { return publication }
                return nil
            }
            #expect(live.offset == next.offset)
            await stream.close()
        }
    }
}
