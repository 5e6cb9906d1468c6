import NIOCore
import NIOPosix
import SwitchboardWebSocket
import SwitchboardWebSocketNIO

/// The Autobahn client protocol against a fuzzing server (`kosoku -m fuzzingserver`, or Autobahn's wstest):
/// ask for the case count, run each case by echoing what arrives, then ask for the report. The conformance
/// test runs this same code, so what CI checks is what `autobahn-client` does.
enum AutobahnRunner {
    /// How each case connects.
    ///
    /// - Echo on the event loop (``WebSocketEchoHandler``): a message is echoed in the read batch that carried
    ///   it, so the echo goes out before a protocol error later in the same batch fails the connection, which
    ///   cases 3.2–3.4, 4.1.3–4.2.5 and 5.15 check.
    /// - permessage-deflate offered with `client_max_window_bits` and `client_no_context_takeover`: Autobahn's
    ///   server accepts deflate in 13.2, 13.5 and 13.6 only from a client that announced it (RFC 7692 §7.1.1.2),
    ///   and reports UNIMPLEMENTED otherwise. Context takeover itself is covered by the server cases.
    static var configuration: WebSocketClientConfiguration {
        var configuration = WebSocketClientConfiguration()
        configuration.connection.limits = .echoServer
        configuration.connection.deflate = PerMessageDeflateConfiguration(requestClientNoContextTakeover: true)
        configuration.connection.heartbeat = nil
        configuration.connection.maximumOutboundBufferSize = 64 << 20
        configuration.connectTimeout = .seconds(10)
        return configuration
    }

    static func caseCount(base: String) async throws -> Int {
        let connection = try await WebSocketClient.connect(to: "\(base)/getCaseCount", configuration: self.configuration)
        var count = 0
        for await message in connection.inbound {
            count = Int(message.text ?? "") ?? 0
        }
        return count
    }

    /// Runs one case to its end; nil when the connection could not be opened (kosoku reports the case).
    static func runCase(_ index: Int, base: String, agent: String) async -> WebSocketCloseStatus? {
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let closed = eventLoop.makePromise(of: WebSocketCloseStatus?.self)
        let echo = WebSocketEchoHandler { status in closed.succeed(status) }
        WebSocketClient.connect(to: "\(base)/runCase?case=\(index)&agent=\(agent)", configuration: self.configuration,
                                eventLoop: eventLoop, handler: echo)
            .whenFailure { _ in closed.succeed(nil) }
        return try? await closed.futureResult.get()
    }

    /// Asks the fuzzing server to write its reports. kosoku answers by writing them and exiting, possibly
    /// without completing the handshake: the connect then ends with an error, which is fine here.
    static func requestReports(base: String, agent: String) async {
        guard let connection = try? await WebSocketClient.connect(to: "\(base)/updateReports?agent=\(agent)",
                                                                   configuration: self.configuration) else { return }
        for await _ in connection.inbound {}
    }
}
