import Foundation
import Logging
import NIOConcurrencyHelpers
import SwitchboardProtocol
import SwitchboardServer
import SwitchboardTestSupport

/// A ``RealtimeServer`` on 127.0.0.1 for tests of what talks to a node (the Swift client, the browser client,
/// the command-line tool), with an explicit ``MemoryBroker`` that outlives the server: ``restart()`` brings
/// up a new server on the same port and the same broker, so channel history (and epochs) survive, like a
/// node restart with a persistent broker.
///
/// Besides the default namespaces: `feed` (history 2,000, any authenticated client may publish) and `short`
/// (history 5).
public final class RealtimeTestNode: Sendable {
    public static let secret = "a-test-hmac-secret-of-at-least-32-bytes!"
    public static let apiKey = "test-node-api-key"
    /// What `feed:*` keeps, matching the namespace: a publication made through the broker directly must
    /// create the stream with the same retention the server would.
    public static let feedRetention = HistoryRetention(size: 2000, seconds: 7200)

    public let broker: MemoryBroker
    public let configuration: ServerConfiguration
    public let port: Int
    /// Whether `GET /dev/token` mints tokens (as `serve` without keys does), for pages that sign in with it.
    let developmentTokens: Bool
    private let server: NIOLockedValueBox<RealtimeServer?>

    private init(broker: MemoryBroker, configuration: ServerConfiguration, developmentTokens: Bool, server: RealtimeServer) {
        self.broker = broker
        self.configuration = configuration
        self.port = configuration.port
        self.developmentTokens = developmentTokens
        self.server = NIOLockedValueBox(server)
    }

    /// Starts a node, runs `body`, and shuts the node down whatever happens.
    public static func with(_ configure: (inout ServerConfiguration) -> Void = { _ in }, developmentTokens: Bool = false,
                            _ body: (RealtimeTestNode) async throws -> Void) async throws {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.auth.hmacSecrets = [Self.secret]
        configuration.apiKeys = [Self.apiKey]
        configuration.shutdownGracePeriod = 1
        // The shutdown push's `delay` is random up to this many seconds: keep restarts quick.
        configuration.reconnectDelayMax = 1
        configuration.namespaces["feed"] = NamespaceOptions(subscribe: .authenticated, publish: .authenticated,
                                                            historySize: Self.feedRetention.size, historyTTL: Self.feedRetention.seconds)
        configuration.namespaces["short"] = NamespaceOptions(subscribe: .authenticated, publish: .authenticated, historySize: 5)
        configure(&configuration)
        let broker = MemoryBroker()
        let server = try await Self.startServer(configuration, broker: broker, developmentTokens: developmentTokens)
        configuration.port = server.localAddress!.port!
        let node = RealtimeTestNode(broker: broker, configuration: configuration, developmentTokens: developmentTokens, server: server)
        do {
            try await body(node)
        } catch {
            await node.shutdown()
            throw error
        }
        await node.shutdown()
    }

    private static func startServer(_ configuration: ServerConfiguration, broker: MemoryBroker, developmentTokens: Bool) async throws -> RealtimeServer {
        var logger = Logger(label: "test.node")
        logger.logLevel = .critical
        let server = try await RealtimeServer(configuration: configuration, broker: broker, logger: logger,
                                              developmentSecret: developmentTokens ? Self.secret : nil)
        try await server.start()
        return server
    }

    /// The WebSocket endpoint.
    public var url: String { "ws://127.0.0.1:\(self.port)/connection/websocket" }
    /// The node without a path, as `ws://` and `http://`.
    public var webSocketBase: String { "ws://127.0.0.1:\(self.port)" }
    public var httpURL: String { "http://127.0.0.1:\(self.port)" }

    /// Drains the server (clients get 4000 with a delay hint); the broker keeps its streams.
    public func shutdown() async {
        let server = self.server.withLockedValue { server in
            defer { server = nil }
            return server
        }
        await server?.shutdown()
    }

    /// A new server on the same port with the same broker; retries briefly while the port is still held.
    public func restart() async throws {
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

    public func token(_ user: String, ttl: Int = 3600, issuedAt: Date = Date()) async throws -> String {
        try TokenMinter(secret: Self.secret).mint(user: user, ttl: ttl, now: issuedAt)
    }

    /// Publishes as a back-end would, straight into the broker: works while the server is down, too.
    @discardableResult
    public func publish(_ data: RawJSON, to channel: String, retention: HistoryRetention = RealtimeTestNode.feedRetention) async throws -> Publication {
        try await self.broker.publish(data, to: channel, info: nil, history: retention)
    }

    /// `POST /api/publish` with the node's API key (`json` is the publication's data as JSON text).
    public func apiPublish(_ json: String, to channel: String) async throws {
        try await self.api("/api/publish", #"{"channel":"\#(channel)","data":\#(json)}"#)
    }

    /// `POST /api/disconnect`: every connection of `user` gets 4501.
    public func forceDisconnect(user: String, reason: String = "logged out") async throws {
        try await self.api("/api/disconnect", #"{"user":"\#(user)","reason":"\#(reason)"}"#)
    }

    /// The sum of every sample of the Prometheus metric `name` in `GET /metrics` whose labels contain
    /// `labels` (all of its samples when nil); 0 when there is none.
    public func metric(_ name: String, labels: String? = nil) async throws -> Double {
        let response = try await LoopbackHTTPRequest.send("GET", port: self.port, path: "/metrics")
        guard response.status == 200 else { throw LoopbackHTTPError("/metrics answered \(response.status): \(response.text)") }
        return response.text.split(separator: "\n").reduce(0) { sum, line in
            let parts = line.split(separator: " ")
            guard parts.count == 2, let value = Double(parts[1]) else { return sum }
            let series = parts[0]
            guard series == name || series.hasPrefix(name + "{") else { return sum }
            if let labels, !series.contains(labels) { return sum }
            return sum + value
        }
    }

    private func api(_ path: String, _ body: String) async throws {
        let response = try await LoopbackHTTPRequest.send("POST", port: self.port, path: path,
                                                          headers: [("Authorization", "apikey \(Self.apiKey)")], body: Data(body.utf8))
        guard response.status == 200 else { throw LoopbackHTTPError("\(path) answered \(response.status): \(response.text)") }
    }
}
