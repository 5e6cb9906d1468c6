import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwitchboardTestSupport
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// Subprotocol negotiation end to end, and a client (on NIO's loops and on epoll) facing servers that are
/// absent or misbehave: every
/// attempt ends with an error, never a hang. "At once" is shown by a connect timeout no test waits out: the
/// attempt ends with its own error, not the timeout's. (The connect timeout itself is checked on a test
/// clock in ``ConnectionTimerTests``.)
@Suite struct ClientEndToEndTests {
    @Test(arguments: [
        (["v1", "v2"], "v2"),        // the server's preference wins
        (["v3", "v1"], "v1"),
        (["v3", "v4"], nil),         // no overlap: no subprotocol, and the connection still opens
        ([], nil),
    ] as [([String], String?)], TestTransport.all)
    func subprotocolNegotiation(negotiation: (offered: [String], expected: String?), transport: TestTransport) async throws {
        let (offered, expected) = negotiation
        var configuration = WebSocketServerConfiguration()
        configuration.subprotocols = ["v2", "v1"]
        let serverSide = NIOLockedValueBox<[String?]>([])
        let handler = WebSocketServer.Handler.async { connection in
            serverSide.withLockedValue { $0.append(connection.subprotocol) }
            for await message in connection.inbound { try? await connection.send(message) }
        }
        try await withServer(configuration: configuration, handler: handler) { _, url in
            var client = WebSocketClientConfiguration()
            client.subprotocols = offered
            let connection = try await WebSocketClient.connect(to: url, configuration: client, eventLoopGroup: transport.group)
            #expect(connection.subprotocol == expected)
            try await connection.send(.text("x"))
            let iterator = connection.inbound.makeAsyncIterator()
            #expect(await iterator.next() == .text("x"))
            #expect(serverSide.withLockedValue { $0 } == [expected])
            await connection.close()
        }
    }

    @Test(arguments: TestTransport.all) func connectingWhereNobodyListensFailsQuickly(transport: TestTransport) async throws {
        // Bind a port, then free it: nobody listens there now.
        let placeholder = try await RawServer.start(.silent)
        let port = placeholder.port
        await placeholder.stop()
        var client = WebSocketClientConfiguration()
        client.connectTimeout = .hours(1)
        let configuration = client
        let error = await #expect(throws: WebSocketTransportError.self) {
            _ = try await withTimeout(TestPatience.default, "connect") {
                try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/", configuration: configuration, eventLoopGroup: transport.group)
            }
        }
        #expect(error?.code == .handshakeFailed)
        #expect(error?.message.contains("cannot connect") == true, "\(String(describing: error))")
    }

    @Test(arguments: [(1000, "within 1 s"), (700, "within 700 ms")] as [(Int64, String)], TestTransport.all)
    func aServerThatNeverAnswersTimesOutAfterTheConnectTimeout(limit: (milliseconds: Int64, described: String), transport: TestTransport) async throws {
        let (milliseconds, described) = limit
        let silent = try await RawServer.start(.silent)
        var client = WebSocketClientConfiguration()
        client.connectTimeout = .milliseconds(milliseconds)
        let configuration = client
        let started = ContinuousClock.now
        let error = await #expect(throws: WebSocketTransportError.self) {
            _ = try await withTimeout(TestPatience.default, "connect") {
                try await WebSocketClient.connect(to: "ws://127.0.0.1:\(silent.port)/", configuration: configuration, eventLoopGroup: transport.group)
            }
        }
        let elapsed = ContinuousClock.now - started
        #expect(error?.isTimeout == true, "\(String(describing: error))")
        #expect(error?.message.hasSuffix(described) == true, "\(String(describing: error))")
        #expect(elapsed >= .milliseconds(milliseconds - 50), "gave up after \(elapsed), before the connect timeout")
        await silent.stop()
    }

    #if os(Linux)
    /// The TCP phase of the same timeout: a listener whose accept queue is full never answers the SYN.
    @Test(arguments: TestTransport.all) func aListenerThatNeverCompletesTheTCPHandshakeTimesOutAtTheConnectTimeout(transport: TestTransport) async throws {
        let listener = try FullListener()
        defer { listener.close() }
        var client = WebSocketClientConfiguration()
        client.connectTimeout = .milliseconds(500)
        let configuration = client
        let error = await #expect(throws: WebSocketTransportError.self) {
            _ = try await withTimeout(TestPatience.default, "connect") {
                try await WebSocketClient.connect(to: "ws://127.0.0.1:\(listener.port)/", configuration: configuration, eventLoopGroup: transport.group)
            }
        }
        #expect(error?.isTimeout == true, "\(String(describing: error))")
        #expect(error?.message == "cannot connect to 127.0.0.1:\(listener.port) within 500 ms", "\(String(describing: error))")
    }
    #endif

    @Test(arguments: TestTransport.all) func aServerThatClosesAtOnceIsAnErrorNotAHang(transport: TestTransport) async throws {
        let closer = try await RawServer.start(.closeImmediately)
        var client = WebSocketClientConfiguration()
        client.connectTimeout = .hours(1)
        let configuration = client
        for _ in 0..<5 {
            let error = await #expect(throws: WebSocketTransportError.self) {
                _ = try await withTimeout(TestPatience.default, "connect") {
                    try await WebSocketClient.connect(to: "ws://127.0.0.1:\(closer.port)/", configuration: configuration, eventLoopGroup: transport.group)
                }
            }
            #expect(error?.code == .handshakeFailed, "\(String(describing: error))")
        }
        await closer.stop()
    }

    @Test(arguments: TestTransport.all) func aServerAnswering403IsAnErrorNamingTheStatus(transport: TestTransport) async throws {
        let body = "go away\n"
        let refuser = try await RawServer.start(.respond(
            "HTTP/1.1 403 Forbidden\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"))
        let error = await #expect(throws: WebSocketTransportError.self) {
            _ = try await withTimeout(TestPatience.default, "connect") {
                try await WebSocketClient.connect(to: "ws://127.0.0.1:\(refuser.port)/", eventLoopGroup: transport.group)
            }
        }
        #expect(error?.code == .handshakeFailed)
        #expect(error?.message.contains("403") == true, "\(String(describing: error))")
        await refuser.stop()
    }

    @Test(arguments: TestTransport.all) func aServerAnsweringAWrongAcceptIsAnError(transport: TestTransport) async throws {
        let liar = try await RawServer.start(.respond(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(RawHTTP.expectedAccept)\r\n\r\n"))
        let error = await #expect(throws: WebSocketTransportError.self) {
            _ = try await withTimeout(TestPatience.default, "connect") {
                try await WebSocketClient.connect(to: "ws://127.0.0.1:\(liar.port)/", eventLoopGroup: transport.group)
            }
        }
        #expect(error?.code == .handshakeFailed)
        await liar.stop()
    }
}
