import NIOCore
import SwitchboardTestSupport
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// Graceful shutdown: every connection gets 1001; shutdown waits for peers that answer and no longer
/// than the grace period for those that do not. Outcomes and lower bounds only: a grace period long
/// enough that no test waits it out shows shutdown ended because the peers closed.
@Suite struct ShutdownEndToEndTests {
    private func startServer(_ configuration: WebSocketServerConfiguration = WebSocketServerConfiguration(),
                             on transport: TestTransport) async throws -> WebSocketServer {
        var configuration = configuration
        configuration.host = "127.0.0.1"
        configuration.port = 0
        let server = WebSocketServer(configuration: configuration, eventLoopGroup: transport.group, handler: asyncEcho)
        try await server.start()
        return server
    }

    @Test(arguments: TestTransport.all)
    func everyClientSees1001AndShutdownEndsOnceAllHaveClosed(transport: TestTransport) async throws {
        let server = try await startServer(on: transport)
        let url = "ws://127.0.0.1:\(server.localAddress!.port!)/"
        var clients: [WebSocketConnection] = []
        for _ in 0..<3 { clients.append(try await WebSocketClient.connect(to: url)) }
        #expect(await eventually { server.connectionCount == 3 })

        // Had shutdown waited for the grace period rather than for the clients, the guard would fail.
        try await withTimeout(TestPatience.default, "shutdown although every client answered") {
            await server.shutdown(gracePeriod: .hours(1))
        }
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

    @Test(arguments: TestTransport.all)
    func shutdownGivesUpOnAPeerThatNeverAnswersAfterTheGracePeriod(transport: TestTransport) async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.connection.closeTimeout = .seconds(30)  // so only the grace period can end the wait
        let server = try await startServer(configuration, on: transport)
        let answering = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.localAddress!.port!)/")
        let raw = try await RawConnection.connect(port: server.localAddress!.port!)
        _ = try await raw.upgrade()
        #expect(await eventually { server.connectionCount == 2 })

        let started = ContinuousClock.now
        try await withTimeout(TestPatience.default, "shutdown") {
            await server.shutdown(code: .serviceRestart, reason: "restart", gracePeriod: .milliseconds(500))
        }
        // It waited for the silent peer until the grace period ended, not less.
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(450), "shutdown took \(elapsed), less than the grace period")
        #expect(server.connectionCount == 0)
        // The raw peer got the close frame (with the code asked for), then the end of the stream.
        let close = try await raw.nextFrame()
        #expect(close?.closeCode == 1012)
        try await raw.readToEnd()
        #expect(await answering.closeStatus.code == .serviceRestart)
    }
}
