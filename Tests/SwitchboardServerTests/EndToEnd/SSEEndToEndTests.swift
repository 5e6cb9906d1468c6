import Foundation
import SwitchboardProtocol
import SwitchboardTestSupport
import Testing

/// The Server-Sent Events fallback, end to end over raw TCP: the stream's events, resuming with
/// `Last-Event-ID`, and commands sent over plain HTTP with the session's token.
@Suite struct SSEEndToEndTests {
    /// Opens a stream for `user` on `channel` and reads its connect and subscribe replies.
    private func openStream(_ node: TestNode, user: String, channel: String, token: String? = nil, lastEventID: String? = nil)
        async throws -> (stream: SSETestStream, client: String, subscribed: ServerMessage.SubscribeResult)
    {
        var token = token
        if token == nil { token = try await node.token(user) }
        let stream = try await SSETestStream.open(port: node.port, target: "/connection/sse?token=\(token!)&channel=\(channel)",
                                                  headers: lastEventID.map { [("Last-Event-ID", $0)] } ?? [])
        #expect(try await stream.status() == 200)
        #expect(stream.header("Content-Type")?.hasPrefix("text/event-stream") == true)
        guard case .reply(0, .connect(let connected))? = try await stream.nextEvent().message else {
            throw EndToEndFailure("the stream did not start with the connect reply")
        }
        #expect(connected.user == user)
        guard case .reply(1, .subscribe(let subscribed))? = try await stream.nextEvent().message else {
            throw EndToEndFailure("the connect reply was not followed by the subscribe reply")
        }
        return (stream, connected.client, subscribed)
    }

    /// The next `count` publication events of the stream, with their event ids.
    private func publications(_ count: Int, from stream: SSETestStream) async throws -> [(id: String?, publication: Publication)] {
        var collected: [(id: String?, publication: Publication)] = []
        while collected.count < count {
            collected.append(try await stream.nextEvent(within: TestPatience.default, "a publication event") { event, message in
                if case .publication(let publication) = message { return (event.id, publication) }
                return nil
            })
        }
        return collected
    }

    @Test(arguments: TestTransport.all) func aStreamCarriesTheConnectReplyTheSubscribeReplyAndPublicationsWithEventIDs(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let (stream, client, subscribed) = try await openStream(node, user: "alice", channel: "chat:room")
            #expect(!client.isEmpty)
            _ = try await node.publishAll(["one", "two", "three"], to: "chat:room")
            let events = try await publications(3, from: stream)
            #expect(events.map(\.publication.data) == ["one", "two", "three"])
            #expect(events.map(\.publication.offset) == [subscribed.offset + 1, subscribed.offset + 2, subscribed.offset + 3])
            #expect(events.allSatisfy { $0.id?.isEmpty == false })
            #expect(Set(events.compactMap(\.id)).count == 3, "each publication event has its own id")
            await stream.close()
        }
    }

    @Test(arguments: TestTransport.all) func reconnectingWithLastEventIDDeliversThePublicationsMissedMeanwhile(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let channel = "chat:resume"
            let (first, _, _) = try await openStream(node, user: "alice", channel: channel)
            _ = try await node.publishAll(["seen 1", "seen 2"], to: channel)
            let seen = try await publications(2, from: first)
            let lastEventID = try #require(seen.last?.id)
            await first.close()

            let missed = try await node.publishAll(["missed 1", "missed 2", "missed 3"], to: channel)
            let (second, _, subscribed) = try await openStream(node, user: "alice", channel: channel, lastEventID: lastEventID)
            #expect(subscribed.recovered == true)
            // Missed publications come in the subscribe reply, or as events: together exactly the three.
            var recovered = subscribed.publications ?? []
            if recovered.count < 3 { recovered += try await publications(3 - recovered.count, from: second).map(\.publication) }
            #expect(recovered.map(\.offset) == missed.map(\.offset))
            #expect(recovered.map(\.data) == ["missed 1", "missed 2", "missed 3"])
            // Then live, from the next offset.
            let next = try await node.publish("live", to: channel)
            let live = try #require(try await publications(1, from: second).first)
            #expect(live.publication.offset == next.offset)
            #expect(next.offset == missed.last!.offset + 1)
            await second.close()
        }
    }

    /// `EventSource` resends only the last `id:` it saw. A client whose stream drops before its first
    /// publication has seen only the subscribe reply; that reply must carry an id, or the reconnect starts
    /// from nothing and silently skips what was published while it was away.
    @Test(arguments: TestTransport.all) func aClientWhoseStreamDropsBeforeAnyPublicationStillRecoversLikeEventSource(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let channel = "chat:quiet"
            let token = try await node.token("alice")
            let first = try await SSETestStream.open(port: node.port, target: "/connection/sse?token=\(token)&channel=\(channel)")
            // What EventSource keeps: the id of the last event that had one.
            var lastEventID: String?
            for _ in 0..<2 {
                let event = try await first.nextEvent()
                if let id = event.id { lastEventID = id }
            }
            await first.close()
            let missed = try await node.publishAll(["while away 1", "while away 2"], to: channel)

            let (second, _, subscribed) = try await openStream(node, user: "alice", channel: channel, token: token, lastEventID: lastEventID)
            #expect(lastEventID != nil, "neither the connect nor the subscribe reply event carried an id")
            #expect(subscribed.recovered == true)
            #expect(subscribed.publications?.map(\.offset) == missed.map(\.offset),
                    "published while away: \(missed.map(\.offset)); recovered: \(String(describing: subscribed.publications?.map(\.offset)))")
            await second.close()
        }
    }

    @Test(arguments: TestTransport.all) func aCommandPostedWithTheSessionsBearerTokenIsExecuted(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let token = try await node.token("alice")
            let (stream, client, subscribed) = try await openStream(node, user: "alice", channel: "chat:room", token: token)
            let command = try TestNode.json(ClientCommand(id: 5, .publish(.init(channel: "chat:room", data: ["text": "over HTTP"]))))
            let response = try await node.http("POST", "/connection/sse/command?client=\(client)",
                                               headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")], body: command)
            #expect(response.status == 200)
            let reply = try JSONDecoder().decode(ServerMessage.self, from: Data(response.body.utf8))
            #expect(reply == .reply(id: 5, .publish(.init(offset: subscribed.offset + 1, epoch: subscribed.epoch))))
            let event = try #require(try await publications(1, from: stream).first)
            #expect(event.publication.data == ["text": "over HTTP"])
            #expect(event.publication.info?.user == "alice")
            await stream.close()
        }
    }

    @Test(arguments: TestTransport.all) func aCommandPostedWithAnotherUsersTokenIsRefusedWith403(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let (stream, client, _) = try await openStream(node, user: "alice", channel: "chat:room")
            let command = try TestNode.json(ClientCommand(id: 5, .publish(.init(channel: "chat:room", data: "not alice"))))
            let mallory = try await node.token("mallory")
            let response = try await node.http("POST", "/connection/sse/command?client=\(client)",
                                               headers: [("Authorization", "Bearer \(mallory)")], body: command)
            #expect(response.status == 403)
            // Nothing was published: the next publication is the channel's first.
            let next = try await node.publish("after the refusal", to: "chat:room")
            let history = try await node.api("/api/history", json: #"{"channel":"chat:room"}"#)
            let publications = try JSONDecoder().decode(ServerMessage.HistoryResult.self, from: Data(history.body.utf8)).publications
            #expect(publications.map(\.data) == ["after the refusal"])
            #expect(publications.map(\.offset) == [next.offset])
            await stream.close()
        }
    }

    @Test(arguments: TestTransport.all) func aStreamFromAForeignOriginIsRefusedWith403(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport, { $0.allowedOrigins = ["https://app.example.com"] }) { node in
            let token = try await node.token("alice")
            let foreign = try await SSETestStream.open(port: node.port, target: "/connection/sse?token=\(token)&channel=chat:room",
                                                       headers: [("Origin", "https://evil.example.com")])
            #expect(try await foreign.status() == 403)
            await foreign.close()
            let allowed = try await SSETestStream.open(port: node.port, target: "/connection/sse?token=\(token)&channel=chat:room",
                                                       headers: [("Origin", "https://app.example.com")])
            #expect(try await allowed.status() == 200)
            await allowed.close()
        }
    }

    /// A stalled SSE client must cost the node its queue limit at most, then be let go: the stream closed,
    /// its connection slot freed, and the drop counted.
    @Test(arguments: TestTransport.all) func aStreamThatStopsReadingIsDisconnectedAndCountedWhileOthersKeepReceiving(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport, { $0.limits.maxOutboundBytes = 256 << 10 }) { node in
            let channel = "short:sse-firehose"
            let reader = try await node.connectedClient("alice")
            _ = try await reader.subscribe(channel)
            let token = try await node.token("bob")
            let stalled = try await SSETestStream.open(port: node.port, target: "/connection/sse?token=\(token)&channel=\(channel)",
                                                       receiveBufferSize: 4096)
            _ = try await stalled.nextEvent()
            _ = try await stalled.nextEvent()
            try await stalled.stopReading()

            let payload = RawJSON.string(String(repeating: "s", count: 16 << 10))
            var published = 0
            var dropped = false
            while published < 600, !dropped {
                published += try await node.publishAll(Array(repeating: payload, count: 10), to: channel, batch: 10).count
                dropped = try await node.info().connections == 1
            }
            #expect(dropped, "the stalled SSE stream still held a connection slot after \(published) publications of 16 KB")
            #expect(try await node.metric("switchboard_slow_consumer_disconnects_total") ?? 0 >= 1)
            let received = try await reader.publications(published, in: channel, within: TestPatience.default)
            #expect(received.count == published)
            try await stalled.resumeReading()
            let ended = await stalled.ended(within: TestPatience.default)
            #expect(ended, "the stalled stream was never closed")
            await stalled.close()
            await reader.close()
        }
    }
}
