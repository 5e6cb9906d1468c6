#if os(Linux)
import Glibc
import NIOCore
import SwitchboardTestSupport
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// What only the client on an ``EpollEventLoop`` does itself (the suites shared with NIO's client run it
/// through `TestTransport`, its connect timeout among them): name resolution, and no TLS.
@Suite struct EpollClientEndToEndTests {
    @Test func aHostNameIsResolvedAndEachAddressTriedInTurn() async throws {
        // The server listens on IPv4 only; `localhost` may resolve to ::1 first, which refuses.
        try await withServer(transport: .epoll, handler: asyncEcho) { server, _ in
            let port = try #require(server.localAddress?.port)
            let connection = try await WebSocketClient.connect(to: "ws://localhost:\(port)/echo", eventLoopGroup: TestTransport.epoll.group)
            try await connection.send(.text("by name"))
            let iterator = connection.inbound.makeAsyncIterator()
            #expect(await iterator.next() == .text("by name"))
            await connection.close()
        }
    }

    @Test func aSecureURLIsRefusedWithAMessageNamingTLS() async throws {
        let error = await #expect(throws: WebSocketTransportError.self) {
            _ = try await WebSocketClient.connect(to: "wss://127.0.0.1:9/", eventLoopGroup: TestTransport.epoll.group)
        }
        #expect(error?.code == .unsupportedConfiguration)
        #expect(error?.message.contains("no TLS") == true, "\(String(describing: error))")
    }
}
#endif
