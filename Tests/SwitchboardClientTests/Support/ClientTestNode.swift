import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SwitchboardProtocol
@testable import SwitchboardServer

/// A ``RealtimeServer`` on 127.0.0.1 for client tests, with an explicit ``MemoryBroker`` that outlives the
/// server: ``restart()`` brings up a new server on the same port and the same broker, so channel history
/// (and epochs) survive, like a node restart with a persistent broker.
///
/// (The small parts of SwitchboardServerTests' `TestNode` these tests need; test targets do not import
/// each other.)
final class ClientTestNode: Sendable {
    static let secret = "a-test-hmac-secret-of-at-least-32-bytes!"
    /// What `feed:*` keeps, matching the namespace below: a publication made through the broker directly
    /// must create the stream with the same retention the server would.
    static let feedRetention = HistoryRetention(size: 2000, seconds: 7200)

    static let apiKey = "client-tests-api-key"

    let broker: MemoryBroker
    let configuration: ServerConfiguration
    let port: Int
    /// Whether `GET /dev/token` mints tokens (as `serve` without keys does), for pages that sign in with it.
    let developmentTokens: Bool
    private let server: NIOLockedValueBox<RealtimeServer?>

    private init(broker: MemoryBroker, configuration: ServerConfiguration, developmentTokens: Bool, server: RealtimeServer, port: Int) {
        self.broker = broker
        self.configuration = configuration
        self.developmentTokens = developmentTokens
        self.server = NIOLockedValueBox(server)
        self.port = port
    }

    /// Starts a node, runs `body`, and shuts the node down whatever happens.
    static func with(_ configure: (inout ServerConfiguration) -> Void = { _ in }, developmentTokens: Bool = false,
                     _ body: (ClientTestNode) async throws -> Void) async throws {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.auth.hmacSecrets = [Self.secret]
        configuration.apiKeys = [Self.apiKey]
        configuration.shutdownGracePeriod = 1
        // The shutdown push's `delay` is random up to this many seconds: keep restarts quick.
        configuration.reconnectDelayMax = 1
        configuration.namespaces["feed"] = NamespaceOptions(subscribe: .authenticated, publish: .authenticated, historySize: 2000)
        configuration.namespaces["short"] = NamespaceOptions(subscribe: .authenticated, publish: .authenticated, historySize: 5)
        configure(&configuration)
        let broker = MemoryBroker()
        let server = try await Self.startServer(configuration, broker: broker, developmentTokens: developmentTokens)
        var bound = configuration
        bound.port = server.localAddress!.port!
        let node = ClientTestNode(broker: broker, configuration: bound, developmentTokens: developmentTokens, server: server, port: bound.port)
        do {
            try await body(node)
        } catch {
            await node.shutdown()
            throw error
        }
        await node.shutdown()
    }

    private static func startServer(_ configuration: ServerConfiguration, broker: MemoryBroker, developmentTokens: Bool) async throws -> RealtimeServer {
        var logger = Logger(label: "test.client")
        logger.logLevel = .critical
        let server = try await RealtimeServer(configuration: configuration, broker: broker, logger: logger,
                                              developmentSecret: developmentTokens ? Self.secret : nil)
        try await server.start()
        return server
    }

    var url: String { "ws://127.0.0.1:\(self.port)/connection/websocket" }
    var httpURL: String { "http://127.0.0.1:\(self.port)" }

    /// Drains the server (clients get 4000 with a delay hint); the broker keeps its streams.
    func shutdown() async {
        let server = self.server.withLockedValue { server in
            defer { server = nil }
            return server
        }
        await server?.shutdown()
    }

    /// A new server on the same port with the same broker; retries briefly while the port is still held.
    func restart() async throws {
        var lastError: (any Error)?
        for _ in 0..<50 {
            do {
                let server = try await Self.startServer(self.configuration, broker: self.broker, developmentTokens: self.developmentTokens)
                self.server.withLockedValue { $0 = server }
                return
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        throw lastError!
    }

    func token(_ user: String, ttl: Int = 3600) async throws -> String {
        try await TokenMinter(secret: Self.secret).mint(user: user, ttl: ttl, now: Date())
    }

    /// Publishes as a back-end would, straight into the broker: works while the server is down, too.
    @discardableResult
    func publish(_ data: JSONValue, to channel: String, retention: HistoryRetention = ClientTestNode.feedRetention) async throws -> Publication {
        try await self.broker.publish(data, to: channel, info: nil, history: retention)
    }

    /// What `POST /api/disconnect` does: every connection of `user` gets 4501.
    func forceDisconnect(user: String, reason: String = "logged out") {
        self.server.withLockedValue { $0 }?.context.sessions.forEach(user: user) { session in
            session.disconnect(.init(code: .forced, reason: reason))
        }
    }
}
