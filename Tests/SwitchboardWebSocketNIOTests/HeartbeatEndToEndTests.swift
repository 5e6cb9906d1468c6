import NIOConcurrencyHelpers
import NIOCore
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// The server's heartbeat over a real socket: a silent peer is dropped, a live one is kept.
///
/// Timeouts of a second or more: with every suite, browsers and Redis running at once on two cores, a pong
/// can take longer than 200 ms to be read, which is a loaded machine, not a dead peer.
@Suite struct HeartbeatEndToEndTests {
    private static func configuration(timeout: TimeAmount = .seconds(1)) -> WebSocketServerConfiguration {
        var configuration = WebSocketServerConfiguration()
        configuration.connection.heartbeat = .init(interval: .milliseconds(200), timeout: timeout)
        return configuration
    }

    @Test func aPeerThatNeverAnswersPingsIsDroppedAfterTheTimeout() async throws {
        try await withServer(configuration: Self.configuration(), handler: asyncEcho) { server, _ in
            let raw = try await RawConnection.connect(port: server.localAddress!.port!)
            // Timed from before the upgrade: the server's heartbeat cannot start earlier.
            let opened = ContinuousClock.now
            _ = try await raw.upgrade()
            // The raw client reads (to see the ping and the end) but never answers. The waits are generous
            // (CI runs every suite at once); the bounds below are what the test checks.
            let ping = try await raw.receive(within: .seconds(15), RawFrame.parse)
            #expect(ping?.opcode == RawFrame.ping)
            let pinged = ContinuousClock.now
            try await raw.readToEnd(within: .seconds(15))
            let elapsed = ContinuousClock.now - opened
            #expect(elapsed >= .milliseconds(1150), "dropped after \(elapsed), before interval + timeout")
            // Dropped about `timeout` (1 s) after the unanswered ping, not whenever.
            #expect(ContinuousClock.now - pinged < .seconds(6), "dropped \(ContinuousClock.now - pinged) after the ping")
            #expect(await eventually { server.connectionCount == 0 })
        }
    }

    @Test func aPeerThatAnswersPingsStaysConnected() async throws {
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
        try await withServer(configuration: Self.configuration(timeout: .seconds(3)), handler: handler) { server, url in
            var client = WebSocketClientConfiguration()
            client.connection.heartbeat = nil  // only the server pings
            let connection = try await WebSocketClient.connect(to: url, configuration: client)
            // Idle for several heartbeat periods (a ping every other interval when silent).
            try await Task.sleep(for: .milliseconds(1300))
            #expect(server.connectionCount == 1)
            #expect(pongsSeenByServer.withLockedValue { $0 } >= 2, "the client answers the server's pings")
            try await connection.send(.text("alive"))
            let iterator = connection.inbound.makeAsyncIterator()
            #expect(await iterator.next() == .text("alive"))
            let status = await connection.close()
            #expect(status.code == .normalClosure)
        }
    }

    @Test func aClientDropsAServerThatNeverAnswersPings() async throws {
        let server = try await RawServer.start(.upgradeThenSilent)
        var client = WebSocketClientConfiguration()
        client.connection.heartbeat = .init(interval: .milliseconds(200), timeout: .seconds(1))
        // Timed from before connecting: the client's heartbeat cannot start earlier (resuming after
        // `connect` may lag on a loaded machine).
        let opened = ContinuousClock.now
        let connection = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.port)/", configuration: client)
        let status = try await withTimeout(.seconds(10), "the heartbeat close") { await connection.closeStatus }
        let elapsed = ContinuousClock.now - opened
        #expect(status.code == .abnormalClosure)
        #expect(status.initiatedLocally)
        #expect(elapsed >= .milliseconds(1150) && elapsed < .seconds(6), "closed after \(elapsed): \(status)")
        await server.stop()
    }
}
