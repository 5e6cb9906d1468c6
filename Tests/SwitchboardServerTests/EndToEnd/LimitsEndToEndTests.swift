import Foundation
import SwitchboardProtocol
import SwitchboardTestSupport
import SwitchboardWebSocket
import Testing
@testable import SwitchboardServer

/// The limits that keep one client or one address from taking the node down, end to end: rate limit,
/// channels per client, connections per address, and clients that stop reading.
@Suite struct LimitsEndToEndTests {
    /// A bucket that never refills, so the counts are exact however long the sends take; refilling (and
    /// a refill resetting the strikes) is checked on a test clock in ``SessionTimerTests``.
    @Test(arguments: TestTransport.all) func aFloodingClientGetsError201ThenIsClosedWith4004(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport, {
            $0.limits.commandsPerSecond = 0
            $0.limits.commandBurst = 5
            $0.limits.rateLimitStrikes = 3
        }) { node in
            let flooder = try await node.connectedClient("mallory")
            let bystander = try await node.connectedClient("alice")
            for _ in 0..<20 {
                guard (try? await flooder.send(.ping)) != nil else { break }
            }
            let status = try #require(try await flooder.closed())
            #expect(status.code == CloseCode(4004))
            let messages = flooder.received
            let answered = messages.filter { if case .reply(_, .ping) = $0 { true } else { false } }.count
            let limited = messages.filter { if case .error(_?, let error) = $0, error.code == .rateLimited { true } else { false } }.count
            // Burst 5, one spent on connect; 3 strikes: the third excess command closes the connection.
            #expect(answered == 4, "\(answered) pings answered")
            // Two strikes answered with 201 before the third closes.
            #expect(limited == 2, "\(limited) errors 201")
            guard case .disconnect(let disconnect)? = messages.last else {
                throw EndToEndFailure("expected a disconnect push last, got \(messages.suffix(3))")
            }
            #expect(disconnect.code == .rateLimited)
            // The limit is per client.
            #expect(try await bystander.expectReply(.ping) == .ping)
            await bystander.close()
        }
    }

    @Test(arguments: TestTransport.all) func aThirdChannelIsRefusedWith108WhenTheLimitIsTwo(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport, { $0.limits.maxChannelsPerClient = 2 }) { node in
            let client = try await node.connectedClient("alice")
            _ = try await client.subscribe("chat:one")
            _ = try await client.subscribe("chat:two")
            #expect(try await client.expectError(.subscribe(.init(channel: "chat:three"))).code == .limitExceeded)
            // Leaving one makes room.
            _ = try await client.expectReply(.unsubscribe(.init(channel: "chat:one")))
            _ = try await client.subscribe("chat:three")
            await client.close()
        }
    }

    @Test(arguments: TestTransport.all) func aThirdConnectionFromOneAddressGets429WhenTheLimitIsTwo(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport, { $0.limits.maxConnectionsPerIP = 2 }) { node in
            let token = try await node.token("alice")
            let first = try await node.client(token: token)
            let second = try await node.client(token: token)
            let third = try await RawWebSocketPeer.connect(port: node.port)
            #expect(try await third.upgrade("/connection/websocket?token=\(token)") == 429)
            await third.close()
            // Plain HTTP is not a connection that counts.
            #expect(try await node.http("GET", "/health").status == 200)
            // A closed connection frees its slot (once the node has seen the close: ask until it has).
            await first.close()
            let freed = try await eventually {
                let retry = try await RawWebSocketPeer.connect(port: node.port)
                let status = try await retry.upgrade("/connection/websocket?token=\(token)")
                await retry.close()
                return status == 101
            }
            #expect(freed)
            await second.close()
        }
    }

    /// Behind a trusted reverse proxy the limit counts the addresses in `X-Forwarded-For`, not the proxy's.
    @Test(arguments: TestTransport.all) func behindATrustedProxyEachForwardedAddressHasItsOwnLimit(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport, { $0.limits.maxConnectionsPerIP = 1; $0.trustedProxies = ["127.0.0.1"] }) { node in
            let token = try await node.token("alice")
            func upgrade(forwardedFor: String) async throws -> (RawWebSocketPeer, Int) {
                let peer = try await RawWebSocketPeer.connect(port: node.port)
                return (peer, try await peer.upgrade("/connection/websocket?token=\(token)", headers: [("X-Forwarded-For", forwardedFor)]))
            }
            let (first, firstStatus) = try await upgrade(forwardedFor: "203.0.113.1")
            let (second, secondStatus) = try await upgrade(forwardedFor: "203.0.113.2")
            let (third, thirdStatus) = try await upgrade(forwardedFor: "198.51.100.9, 203.0.113.1")
            let statuses: [Int] = [firstStatus, secondStatus, thirdStatus]
            #expect(statuses == [101, 101, 429])
            for peer in [first, second, third] { await peer.close() }
        }
        // Without trustedProxies the header is the client's word and changes nothing.
        try await TestNode.with(transport: transport, { $0.limits.maxConnectionsPerIP = 1 }) { node in
            let token = try await node.token("alice")
            let first = try await RawWebSocketPeer.connect(port: node.port)
            #expect(try await first.upgrade("/connection/websocket?token=\(token)", headers: [("X-Forwarded-For", "203.0.113.1")]) == 101)
            let second = try await RawWebSocketPeer.connect(port: node.port)
            #expect(try await second.upgrade("/connection/websocket?token=\(token)", headers: [("X-Forwarded-For", "203.0.113.2")]) == 429)
            await first.close()
            await second.close()
        }
    }

    @Test(arguments: TestTransport.all) func aClientThatStopsReadingIsDisconnectedAndCountedWhileOthersKeepReceiving(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport, { $0.limits.maxOutboundBytes = 256 << 10 }) { node in
            let channel = "short:firehose"
            let reader = try await node.connectedClient("alice")
            _ = try await reader.subscribe(channel)
            let stalled = try await RawWebSocketPeer.connect(port: node.port, receiveBufferSize: 4096)
            #expect(try await stalled.upgrade("/connection/websocket?token=\(try await node.token("bob"))") == 101)
            try await stalled.sendText(#"{"type":"subscribe","id":1,"channel":"\#(channel)"}"#)
            let subscribed = try await node.eventually { $0.subscriptions == 2 }
            try #require(subscribed, "the raw client's subscription never showed in /api/info")
            try await Task.sleep(for: .milliseconds(50))
            try await stalled.stopReading()

            // 16 KB publications until the node lets go of the stalled client (a few hundred KB at most).
            let payload = RawJSON.string(String(repeating: "p", count: 16 << 10))
            var published = 0
            var dropped = false
            while published < 600, !dropped {
                published += try await node.publishAll(Array(repeating: payload, count: 10), to: channel, batch: 10).count
                dropped = try await node.info().connections == 1
            }
            #expect(dropped, "the stalled client was still connected after \(published) publications of 16 KB")
            #expect(try await node.metric("switchboard_slow_consumer_disconnects_total") ?? 0 >= 1)

            // The client that reads got every one, in order.
            let received = try await reader.publications(published, in: channel, within: TestPatience.default)
            #expect(received.map(\.offset) == Array(1...UInt64(published)))
            #expect(reader.isOpen)

            // The stalled connection is over: reading again finds its end.
            try await stalled.resumeReading()
            #expect(try await stalled.ended(within: TestPatience.default))
            await stalled.close()
            await reader.close()
        }
    }

    @Test(arguments: TestTransport.all) func aConnectionOverTheNodesLimitGets503(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport, { $0.limits.maxConnections = 1 }) { node in
            let token = try await node.token("alice")
            let first = try await node.client(token: token)
            let second = try await RawWebSocketPeer.connect(port: node.port)
            #expect(try await second.upgrade("/connection/websocket?token=\(token)") == 503)
            await second.close()
            let stream = try await SSETestStream.open(port: node.port, target: "/connection/sse?token=\(token)&channel=chat:room")
            #expect(try await stream.status() == 503)
            await stream.close()
            await first.close()
        }
    }
}

/// A node that cannot deliver as fast as it is asked to publish refuses new publications instead of queueing
/// without bound, and takes them again once it has caught up.
@Suite struct OverloadEndToEndTests {
    @Test(arguments: TestTransport.all) func publicationsAreRefusedWhileTooManyDeliveriesAreQueued(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport, { $0.limits.maxPendingDeliveries = 1000 }) { node in
            let client = try await node.connectedClient("alice")
            let backlog = node.server.context.hub.pendingDeliveries
            backlog.wrappingIncrement(by: 5000, ordering: .relaxed)  // as if 5,000 deliveries were waiting

            let refused = try await node.api("/api/publish", json: #"{"channel":"feed:a","data":1}"#)
            #expect(refused.status == 503)
            #expect(refused.body.contains("overloaded"))
            #expect(try await client.expectError(.publish(.init(channel: "feed:a", data: 2))).code == .unavailable)

            backlog.wrappingDecrement(by: 5000, ordering: .relaxed)  // caught up
            #expect(try await node.api("/api/publish", json: #"{"channel":"feed:a","data":3}"#).status == 200)
            await client.close()
        }
    }
}
