import NIOConcurrencyHelpers
import NIOCore
import SwitchboardTestSupport
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// The server's heartbeat over a real socket: a silent peer is dropped, a live one is kept.
///
/// Outcomes only, and lower bounds ("not before the timeout"): how soon after its deadline a peer is
/// dropped depends on the machine's load. The deadlines themselves are checked on a clock the test moves,
/// in ``ConnectionTimerTests``.
@Suite struct HeartbeatEndToEndTests {
    private static func configuration(timeout: TimeAmount = .seconds(1)) -> WebSocketServerConfiguration {
        var configuration = WebSocketServerConfiguration()
        configuration.connection.heartbeat = .init(interval: .milliseconds(200), timeout: timeout)
        return configuration
    }

    @Test(arguments: TestTransport.all) func aPeerThatNeverAnswersPingsIsDroppedAfterTheTimeout(transport: TestTransport) async throws {
        try await withServer(transport: transport, configuration: Self.configuration(), handler: asyncEcho) { server, _ in
            let raw = try await RawConnection.connect(port: server.localAddress!.port!)
            // Timed from before the upgrade: the server's heartbeat cannot start earlier.
            let opened = ContinuousClock.now
            _ = try await raw.upgrade()
            // The raw client reads (to see the ping and the end) but never answers.
            let ping = try await raw.receive(RawFrame.parse)
            #expect(ping?.opcode == RawFrame.ping)
            try await raw.readToEnd()
            let elapsed = ContinuousClock.now - opened
            #expect(elapsed >= .milliseconds(1150), "dropped after \(elapsed), before interval + timeout")
            #expect(await eventually { server.connectionCount == 0 })
        }
    }

    @Test(arguments: TestTransport.all) func aPeerThatAnswersPingsStaysConnected(transport: TestTransport) async throws {
        let pongsSeenByServer = NIOLockedValueBox(0)
        final class Echo: WebSocketEventLoopHandler {
            let pongs: NIOLockedValueBox<Int>
            init(pongs: NIOLockedValueBox<Int>) { self.pongs = pongs }
            func webSocket(_ connection: WebSocketEventLoopConnection, didReceive message: WebSocketMessage) {
                try? connection.send(message)
            }
            func webSocket(_ connection: WebSocketEventLoopConnection, didReceivePong data: ByteBuffer) {
                self.pongs.withLockedValue { $0 += 1 }
            }
        }
        let handler = WebSocketServer.Handler.eventLoop { _ in Echo(pongs: pongsSeenByServer) }
        // A timeout no loaded machine misses: this test is about the pongs crossing a real socket; that an
        // answering peer outlasts any number of timeouts is checked on a test clock (ConnectionTimerTests).
        try await withServer(transport: transport, configuration: Self.configuration(timeout: .seconds(60)), handler: handler) { server, url in
            var client = WebSocketClientConfiguration()
            client.connection.heartbeat = nil  // only the server pings
            let connection = try await WebSocketClient.connect(to: url, configuration: client)
            // Idle: pinged whenever silent for an interval, and the client's library answers each ping.
            #expect(await eventually { pongsSeenByServer.withLockedValue { $0 } >= 3 }, "the client answers the server's pings")
            #expect(server.connectionCount == 1)
            try await connection.send(.text("alive"))
            let iterator = connection.inbound.makeAsyncIterator()
            #expect(await iterator.next() == .text("alive"))
            let status = await connection.close()
            #expect(status.code == .normalClosure)
        }
    }

    #if os(Linux)
    /// The application stops reading, so the server holds reading too; the peer goes on answering pings,
    /// and its pongs wait in the kernel. They count: a peer is judged silent by what it sent, not by what
    /// the server got round to reading (a busy loop is the same case). NIO channels do not say whether
    /// bytes wait, so this holds on the epoll transport.
    @Test func aPeerWhosePongsWaitUnreadWhileReadingIsHeldStaysConnected() async throws {
        // A timeout a loaded machine's client meets (its library answers each ping on its event loop); the
        // wait below outlasts two of them, so a server that judged by what it read would have closed.
        var configuration = Self.configuration(timeout: .seconds(2))
        configuration.connection.inboundBufferSize = 1
        let (gate, open) = AsyncStream<Void>.makeStream()
        let handler = WebSocketServer.Handler.async { connection in
            for await _ in gate { break }
            var received = 0
            for await _ in connection.inbound {
                received += 1
                if received == 3 { try? await connection.send(.text("got \(received)")) }
            }
        }
        try await withServer(transport: .epoll, configuration: configuration, handler: handler) { server, url in
            var client = WebSocketClientConfiguration()
            client.connection.heartbeat = nil  // only the server pings; the client's library answers
            let connection = try await WebSocketClient.connect(to: url, configuration: client)
            for index in 0..<3 { try await connection.send(.text("message \(index)")) }
            // Two heartbeat timeouts pass while the application reads nothing.
            try await Task.sleep(for: .seconds(5))
            #expect(server.connectionCount == 1, "dropped while its pongs waited unread")
            open.yield()
            let iterator = connection.inbound.makeAsyncIterator()
            #expect(await iterator.next() == .text("got 3"))
            let status = await connection.close()
            #expect(status.code == .normalClosure)
        }
    }
    #endif

    @Test func aClientDropsAServerThatNeverAnswersPings() async throws {
        let server = try await RawServer.start(.upgradeThenSilent)
        var client = WebSocketClientConfiguration()
        client.connection.heartbeat = .init(interval: .milliseconds(200), timeout: .seconds(1))
        // Timed from before connecting: the client's heartbeat cannot start earlier (resuming after
        // `connect` may lag on a loaded machine).
        let opened = ContinuousClock.now
        let connection = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/", configuration: client)
        let status = try await withTimeout(TestPatience.default, "the heartbeat close") { await connection.closeStatus }
        let elapsed = ContinuousClock.now - opened
        #expect(status.code == .abnormalClosure)
        #expect(status.initiatedLocally)
        #expect(elapsed >= .milliseconds(1150), "closed after \(elapsed), before interval + timeout: \(status)")
        await server.stop()
    }
}
