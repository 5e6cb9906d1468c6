import NIOCore
import SwitchboardTestSupport
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

@Suite struct EchoEndToEndTests {
    /// The client runs on the same transport as the server: NIO to NIO, epoll to epoll.
    @Test(arguments: [true, false], TestTransport.all)
    func asyncClientAndServerEchoOverLoopback(deflate: Bool, transport: TestTransport) async throws {
        var server = WebSocketServerConfiguration()
        server.connection.deflate = deflate ? PerMessageDeflateConfiguration() : nil
        try await withServer(transport: transport, configuration: server, handler: asyncEcho) { _, url in
            var client = WebSocketClientConfiguration()
            client.connection.deflate = deflate ? PerMessageDeflateConfiguration(compressionThreshold: 16) : nil
            let connection = try await WebSocketClient.connect(to: url + "/echo?x=1", configuration: client, eventLoopGroup: transport.group)
            let big = String(repeating: "compressible text ", count: 5000)
            let messages: [WebSocketMessage] = [.text("hello"), .binary([0, 1, 2, 255]), .text(big), .text("")]
            for message in messages { try await connection.send(message) }
            var received: [WebSocketMessage] = []
            let iterator = connection.inbound.makeAsyncIterator()
            while received.count < messages.count, let message = await iterator.next() { received.append(message) }
            #expect(received == messages)
            let status = await connection.close(code: .goingAway, reason: "done")
            #expect(status.code == .goingAway)
            #expect(status.initiatedLocally)
        }
    }
}
