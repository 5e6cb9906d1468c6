import NIOCore
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// `reusePort`: several servers (as several processes would) listen on one port and the kernel spreads new
/// connections across them; without it, a second server cannot bind the port.
@Suite struct ReusePortEndToEndTests {
    /// Answers every message with the server's name.
    static func naming(_ name: String) -> WebSocketServer.Handler {
        .async { connection in
            for await _ in connection.inbound { try? await connection.send(.text(name)) }
        }
    }

    @Test func twoServersShareAPortAndBothGetConnections() async throws {
        var configuration = WebSocketServerConfiguration(host: "127.0.0.1", port: 0, reusePort: true)
        let first = WebSocketServer(configuration: configuration, handler: Self.naming("first"))
        try await first.start()
        let port = try #require(first.localAddress?.port)
        configuration.port = port
        let second = WebSocketServer(configuration: configuration, handler: Self.naming("second"))
        do {
            try await second.start()
            var answers: [String] = []
            for _ in 0..<40 {
                let connection = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/")
                try await connection.send(.text("who"))
                let iterator = connection.inbound.makeAsyncIterator()
                if let answer = await iterator.next()?.text { answers.append(answer) }
                _ = await connection.close()
            }
            #expect(answers.count == 40)
            // The kernel hashes each connection's addresses: 40 all on one listener would be a 1 in 2^39 chance.
            #expect(Set(answers) == ["first", "second"], "\(answers)")
        } catch {
            await second.shutdown(gracePeriod: .seconds(1))
            await first.shutdown(gracePeriod: .seconds(1))
            throw error
        }
        await second.shutdown(gracePeriod: .seconds(1))
        await first.shutdown(gracePeriod: .seconds(1))
    }

    @Test func withoutItASecondServerCannotBindThePort() async throws {
        let first = WebSocketServer(configuration: WebSocketServerConfiguration(host: "127.0.0.1", port: 0), handler: Self.naming("first"))
        try await first.start()
        let port = try #require(first.localAddress?.port)
        let second = WebSocketServer(configuration: WebSocketServerConfiguration(host: "127.0.0.1", port: port), handler: Self.naming("second"))
        await #expect(throws: (any Error).self) { try await second.start() }
        await first.shutdown(gracePeriod: .seconds(1))
    }
}
