import SwitchboardProtocol
import SwitchboardTestSupport
import SwitchboardWebSocket
import Testing

/// Draining a node, end to end: every client is told to reconnect elsewhere after a delay, then closed.
///
/// A grace period no test waits out: a drain that ends shows it ended because its connections closed.
@Suite struct GracefulShutdownEndToEndTests {
    @Test(arguments: TestTransport.all) func aDrainingNodeTellsEachClientToReconnectAfterADelayThenClosesWith4000(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport, { $0.reconnectDelayMax = 3; $0.shutdownGracePeriod = 3600 }) { node in
            let alice = try await node.connectedClient("alice")
            let bob = try await node.connectedClient("bob")
            _ = try await alice.subscribe("chat:room")
            try await withTimeout(TestPatience.default, "the drain (it waited for the grace period)") { await node.shutdown() }
            for client in [alice, bob] {
                let status = try #require(try await client.closed())
                #expect(status.code == CloseCode(4000))
                guard case .disconnect(let disconnect)? = client.receivedPushes.last else {
                    throw EndToEndFailure("expected a disconnect push before the close, got \(client.receivedPushes.suffix(3))")
                }
                #expect(disconnect.code == .shutdown)
                #expect(disconnect.reconnect)
                #expect((0...3000).contains(disconnect.delay ?? -1), "delay: \(String(describing: disconnect.delay))")
            }
            // No longer listening.
            await #expect(throws: (any Error).self) { _ = try await node.client(token: try await node.token("carol")) }
        }
    }

    @Test(arguments: TestTransport.all) func healthReports503OnceDraining(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            // A connected client keeps the node draining for a moment; /health on a kept-alive connection sees it.
            let connection = try await LoopbackHTTPConnection.connect(port: node.port)
            try await connection.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(try await connection.response()?.status == 200)
            let shutdown = Task { await node.shutdown() }
            #expect(await eventually { !node.server.isReady }, "the node never started draining")
            try? await connection.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let status = try? await connection.response()?.status
            // Either told 503, or the connection was closed by the drain: never 200.
            #expect(status == nil || status == 503, "health answered \(String(describing: status)) while draining")
            await connection.close()
            await shutdown.value
        }
    }

    @Test(arguments: TestTransport.all) func aDrainingNodeEndsSSEStreamsWithADisconnectEvent(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport, { $0.shutdownGracePeriod = 3600 }) { node in
            let token = try await node.token("alice")
            let stream = try await SSETestStream.open(port: node.port, target: "/connection/sse?token=\(token)&channel=chat:room")
            _ = try await stream.nextEvent()
            _ = try await stream.nextEvent()
            try await withTimeout(TestPatience.default, "the drain (it waited for the grace period)") { await node.shutdown() }
            let disconnect = try await stream.nextEvent(within: TestPatience.default, "the disconnect event") { _, message -> ServerMessage.Disconnect? in
                if case .disconnect(let disconnect) = message { return disconnect }
                return nil
            }
            #expect(disconnect.code == .shutdown)
            #expect(disconnect.reconnect)
            #expect(await stream.ended(within: TestPatience.default))
            await stream.close()
        }
    }
}
