import NIOCore
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// Graceful shutdown: every connection gets 1001; shutdown waits for peers that answer and no longer
/// than the grace period for those that do not.
@Suite struct ShutdownEndToEndTests {
    private func startServer(_ configuration: WebSocketServerConfiguration = WebSocketServerConfiguration()) async throws -> WebSocketServer {
        var configuration = configuration
        configuration.host = "127.0.0.1"
        configuration.port = 0
        let server = WebSocketServer(configuration: configuration, handler: asyncEcho)
        try await server.start()
        return server
    }

    @Test func everyClientSees1001AndShutdownReturnsPromptly() async throws {
        let server = try await startServer()
        let url = "ws://127.0.0.1:\(server.localAddress!.port!)/"
        var clients: [WebSocketConnection] = []
        for _ in 0..<3 { clients.append(try await WebSocketClient.connect(to: url)) }
        #expect(await eventually { server.connectionCount == 3 })

        let started = ContinuousClock.now
        try await withTimeout(.seconds(6), "shutdown") { await server.shutdown(gracePeriod: .seconds(5)) }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed < .seconds(1), "shutdown took \(elapsed) although every client answered")
        #expect(server.connectionCount == 0)
        for client in clients {
            let status = await client.closeStatus
            #expect(status.code == .goingAway)
            #expect(status.reason == "server shutting down")
            #expect(!status.initiatedLocally)
        }
        // Nobody is listening any more.
        await #expect(throws: WebSocketTransportError.self) { _ = try await WebSocketClient.connect(to: url) }
    }

    @Test func shutdownGivesUpOnAPeerThatNeverAnswersAfterTheGracePeriod() async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.connection.closeTimeout = .seconds(30)  // so only the grace period can end the wait
        let server = try await startServer(configuration)
        let answering = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.localAddress!.port!)/")
        let raw = try await RawConnection.connect(port: server.localAddress!.port!)
        _ = try await raw.upgrade()
        #expect(await eventually { server.connectionCount == 2 })

        let started = ContinuousClock.now
        try await withTimeout(.seconds(4), "shutdown") { await server.shutdown(code: .serviceRestart, reason: "restart", gracePeriod: .milliseconds(500)) }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(450) && elapsed < .milliseconds(1500), "shutdown took \(elapsed)")
        #expect(server.connectionCount == 0)
        // The raw peer got the close frame (with the code asked for), then the end of the stream.
        let close = try await raw.nextFrame()
        #expect(close?.closeCode == 1012)
        try await raw.readToEnd()
        #expect(await answering.closeStatus.code == .serviceRestart)
    }
}
