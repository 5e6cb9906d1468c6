import NIOCore
import SwitchboardTestSupport
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// `maximumOpenSockets`: a server at its limit closes new connections on arrival instead of running its
/// process out of descriptors, and takes connections again once some have closed.
@Suite struct SocketLimitEndToEndTests {
    @Test(arguments: TestTransport.all)
    func aServerAtItsSocketLimitRefusesMoreUntilOneCloses(transport: TestTransport) async throws {
        let configuration = WebSocketServerConfiguration(host: "127.0.0.1", port: 0, maximumOpenSockets: 2)
        let server = WebSocketServer(configuration: configuration, eventLoopGroup: transport.group, handler: .async { connection in
            for await message in connection.inbound { try? await connection.send(message) }
        })
        try await server.start()
        let url = "ws://127.0.0.1:\(try #require(server.localAddress?.port))/"
        do {
            let first = try await WebSocketClient.connect(to: url)
            let second = try await WebSocketClient.connect(to: url)
            await #expect(throws: WebSocketTransportError.self) { _ = try await WebSocketClient.connect(to: url) }
            #expect(server.refusedForSocketLimit == 1)
            // The two admitted connections still work.
            try await second.send(.text("still here"))
            #expect(await second.inbound.makeAsyncIterator().next()?.text == "still here")

            _ = await first.close()
            // The server counts the socket free once its channel has closed: retry until it has.
            var third: WebSocketConnection?
            for _ in 0..<200 where third == nil {
                third = try? await WebSocketClient.connect(to: url)
                if third == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            let reopened = try #require(third, "a socket freed by a close is never offered again")
            try await reopened.send(.text("again"))
            #expect(await reopened.inbound.makeAsyncIterator().next()?.text == "again")
            _ = await reopened.close()
            _ = await second.close()
        } catch {
            await server.shutdown(gracePeriod: .seconds(1))
            throw error
        }
        await server.shutdown(gracePeriod: .seconds(1))
    }
}
