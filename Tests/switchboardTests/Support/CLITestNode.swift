import Foundation
import Logging
import NIOConcurrencyHelpers
import SwitchboardProtocol
@testable import SwitchboardServer

/// A ``RealtimeServer`` on 127.0.0.1 for the command-line tests: an HMAC secret, an API key, and a
/// ``MemoryBroker`` that outlives the server, so ``restart()`` is a node restart that keeps history.
///
/// (Test targets do not import each other; this is the part of the other suites' nodes these tests need.)
final class CLITestNode: Sendable {
    static let secret = "a-cli-test-hmac-secret-of-32-bytes-or-more"
    static let apiKey = "cli-test-api-key"
    static let feedRetention = HistoryRetention(size: 1000, seconds: 3600)

    let broker: MemoryBroker
    let configuration: ServerConfiguration
    let port: Int
    private let server: NIOLockedValueBox<RealtimeServer?>

    private init(broker: MemoryBroker, configuration: ServerConfiguration, server: RealtimeServer) {
        self.broker = broker
        self.configuration = configuration
        self.port = configuration.port
        self.server = NIOLockedValueBox(server)
    }

    /// Starts a node, runs `body`, and shuts the node down whatever happens.
    static func with(_ configure: (inout ServerConfiguration) -> Void = { _ in }, _ body: (CLITestNode) async throws -> Void) async throws {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.auth.hmacSecrets = [Self.secret]
        configuration.apiKeys = [Self.apiKey]
        configuration.shutdownGracePeriod = 1
        // The shutdown push's reconnect delay is random up to this: keep restarts quick.
        configuration.reconnectDelayMax = 1
        configuration.namespaces["feed"] = NamespaceOptions(subscribe: .authenticated, publish: .authenticated, historySize: 1000)
        configure(&configuration)
        let broker = MemoryBroker()
        let server = try await Self.startServer(configuration, broker: broker)
        configuration.port = server.localAddress!.port!
        let node = CLITestNode(broker: broker, configuration: configuration, server: server)
        do {
            try await body(node)
        } catch {
            await node.shutdown()
            throw error
        }
        await node.shutdown()
    }

    private static func startServer(_ configuration: ServerConfiguration, broker: MemoryBroker) async throws -> RealtimeServer {
        var logger = Logger(label: "test.cli")
        logger.logLevel = .critical
        let server = try await RealtimeServer(configuration: configuration, broker: broker, logger: logger)
        try await server.start()
        return server
    }

    var webSocketBase: String { "ws://127.0.0.1:\(self.port)" }
    var httpBase: String { "http://127.0.0.1:\(self.port)" }

    func token(_ user: String, ttl: Int = 3600, issuedAt: Date = Date()) async throws -> String {
        try await TokenMinter(secret: Self.secret).mint(user: user, ttl: ttl, now: issuedAt)
    }

    /// Drains the server (clients get 4000 with a delay hint); the broker keeps its streams.
    func shutdown() async {
        let server = self.server.withLockedValue { server in
            defer { server = nil }
            return server
        }
        await server?.shutdown()
    }

    /// A new server on the same port and broker; retries briefly while the port is still held.
    func restart() async throws {
        var lastError: (any Error)?
        for _ in 0..<50 {
            do {
                let server = try await Self.startServer(self.configuration, broker: self.broker)
                self.server.withLockedValue { $0 = server }
                return
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        throw lastError!
    }

    /// Publishes as a back-end would, straight into the broker: works while the server is down, too.
    func publish(_ data: JSONValue, to channel: String) async throws {
        _ = try await self.broker.publish(data, to: channel, info: nil, history: Self.feedRetention)
    }

    /// What `POST /api/disconnect` does: every connection of `user` gets 4501.
    func forceDisconnect(user: String, reason: String) {
        self.server.withLockedValue { $0 }?.context.sessions.forEach(user: user) { session in
            session.disconnect(.init(code: .forced, reason: reason))
        }
    }
}
