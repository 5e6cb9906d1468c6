#if os(Linux)
import Glibc
import NIOCore
import SwitchboardTestSupport
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// What only the client on an ``EpollEventLoop`` does itself (the suites shared with NIO's client run it
/// through `TestTransport`): its own TCP connect with its timeout, name resolution, and no TLS.
@Suite struct EpollClientEndToEndTests {
    @Test func aListenerThatNeverCompletesTheTCPHandshakeFailsTheConnectAtItsTimeout() async throws {
        let listener = try FullListener()
        defer { listener.close() }
        var client = WebSocketClientConfiguration()
        client.connectTimeout = .milliseconds(500)
        let configuration = client
        let error = await #expect(throws: WebSocketTransportError.self) {
            _ = try await withTimeout(TestPatience.default, "connect") {
                try await WebSocketClient.connect(to: "ws://127.0.0.1:\(listener.port)/", configuration: configuration,
                                                  eventLoopGroup: TestTransport.epoll.group)
            }
        }
        #expect(error?.message == "cannot connect to 127.0.0.1:\(listener.port): timed out after 500 ms", "\(String(describing: error))")
    }

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

/// A listening socket that never accepts, with its accept queue already full: the kernel drops further
/// SYNs, so a connect to it stays unanswered until the connector gives up.
private struct FullListener {
    let fd: Int32
    let port: Int
    private var fillers: [Int32] = []

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 0) == 0 else {
            let error = IOError(errnoCode: errno, reason: "bind/listen")
            Glibc.close(fd)
            throw error
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
        // Backlog 0 queues one connection; a few more make sure the queue is full.
        for _ in 0..<4 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            self.fillers.append(filler)
        }
    }

    func close() {
        for filler in self.fillers { Glibc.close(filler) }
        Glibc.close(self.fd)
    }
}
#endif
