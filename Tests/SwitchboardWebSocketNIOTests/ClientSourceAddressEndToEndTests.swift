import NIOCore
import SwitchboardTestSupport
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// `localAddress`: a client connects from the source address it is given, so a load generator can spread its
/// connections over 127.0.0.0/8 beyond the ephemeral ports of one address.
@Suite struct ClientSourceAddressEndToEndTests {
    @Test(arguments: TestTransport.all) func theServerSeesTheSourceAddressTheClientChose(transport: TestTransport) async throws {
        let server = WebSocketServer(configuration: WebSocketServerConfiguration(host: "127.0.0.1", port: 0), handler: .async { connection in
            let peer = connection.remoteAddress?.ipAddress ?? "unknown"
            for await _ in connection.inbound { try? await connection.send(.text(peer)) }
        })
        try await server.start()
        let port = try #require(server.localAddress?.port)
        do {
            for source in ["127.0.0.2", "127.0.3.7"] {
                var configuration = WebSocketClientConfiguration()
                configuration.localAddress = try SocketAddress(ipAddress: source, port: 0)
                let connection = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/", configuration: configuration, eventLoopGroup: transport.group)
                try await connection.send(.text("who am I"))
                let iterator = connection.inbound.makeAsyncIterator()
                #expect(await iterator.next()?.text == source)
                _ = await connection.close()
            }
        } catch {
            await server.shutdown(gracePeriod: .seconds(1))
            throw error
        }
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test(arguments: TestTransport.all) func aSourceAddressThatIsNotLocalFailsTheConnect(transport: TestTransport) async throws {
        var configuration = WebSocketClientConfiguration(connectTimeout: .seconds(5))
        // TEST-NET-1 (RFC 5737): never assigned to this machine, so bind() refuses it.
        configuration.localAddress = try SocketAddress(ipAddress: "192.0.2.1", port: 0)
        await #expect(throws: WebSocketTransportError.self) {
            _ = try await WebSocketClient.connect(to: "ws://127.0.0.1:9/", configuration: configuration, eventLoopGroup: transport.group)
        }
    }
}
