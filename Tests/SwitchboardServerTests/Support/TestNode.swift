import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SwitchboardProtocol
import SwitchboardTestSupport
@testable import SwitchboardServer

/// A ``RealtimeServer`` on 127.0.0.1 with an ephemeral port, started for one test and shut down after it,
/// with what end-to-end tests need: tokens, clients, and the HTTP API.
final class TestNode: Sendable {
    static let secret = TestKeys.hmacSecret
    static let apiKey = "end-to-end-api-key"

    let server: RealtimeServer
    let port: Int
    /// The clock the server judges tokens with; tokens are minted with it too.
    let now: @Sendable () -> Date
    private let stopped = NIOLockedValueBox(false)

    private init(server: RealtimeServer, port: Int, now: @escaping @Sendable () -> Date) {
        self.server = server
        self.port = port
        self.now = now
    }

    /// What every end-to-end node starts from: an HS256 secret, an API key, a short shutdown grace, and
    /// besides the default namespaces `feed` (history 2,000, any authenticated client may publish) and
    /// `short` (history 10).
    static var baseConfiguration: ServerConfiguration {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.auth.hmacSecrets = [Self.secret]
        configuration.apiKeys = [Self.apiKey]
        configuration.shutdownGracePeriod = 2
        configuration.reconnectDelayMax = 3
        configuration.namespaces["feed"] = NamespaceOptions(subscribe: .authenticated, publish: .authenticated, historySize: 2000)
        configuration.namespaces["short"] = NamespaceOptions(subscribe: .authenticated, publish: .authenticated, historySize: 10)
        return configuration
    }

    /// Starts a node with `baseConfiguration` changed by `configure`, runs `body`, and shuts the node down
    /// whatever happens.
    static func with(transport: TestTransport = .nio, eventLoopGroup: (any EventLoopGroup)? = nil,
                     _ configure: (inout ServerConfiguration) -> Void = { _ in }, broker: (any Broker)? = nil,
                     developmentSecret: String? = nil, now: @escaping @Sendable () -> Date = { Date() },
                     logger: Logger? = nil, _ body: (TestNode) async throws -> Void) async throws {
        var configuration = Self.baseConfiguration
        configure(&configuration)
        let logger = logger ?? {
            var quiet = Logger(label: "test.end-to-end")
            quiet.logLevel = .critical
            return quiet
        }()
        let server = try await RealtimeServer(configuration: configuration, broker: broker, eventLoopGroup: eventLoopGroup ?? transport.group,
                                              logger: logger, developmentSecret: developmentSecret, now: now)
        try await server.start()
        let node = TestNode(server: server, port: server.localAddress!.port!, now: now)
        do {
            try await body(node)
        } catch {
            await node.shutdown()
            throw error
        }
        await node.shutdown()
    }

    /// Drains the node (once; later calls return at once).
    func shutdown() async {
        let first = self.stopped.withLockedValue { stopped -> Bool in
            defer { stopped = true }
            return !stopped
        }
        if first { await self.server.shutdown() }
    }

    // MARK: - Tokens and clients

    func token(_ user: String, ttl: Int = 3600, channels: [String] = [], secret: String = TestNode.secret, issuedAt: Date? = nil) async throws -> String {
        try TokenMinter(secret: secret).mint(user: user, ttl: ttl, channels: channels, now: issuedAt ?? self.now())
    }

    func webSocketURL(token: String? = nil) -> String {
        "ws://127.0.0.1:\(self.port)/connection/websocket" + (token.map { "?token=\($0)" } ?? "")
    }

    /// A WebSocket client, with `token` in the URL when given; not yet sent `connect`.
    func client(token: String? = nil, origin: String? = nil, subprotocols: [String] = []) async throws -> RealtimeTestClient {
        try await RealtimeTestClient.connect(to: self.webSocketURL(token: token), origin: origin, subprotocols: subprotocols)
    }

    /// A WebSocket client with `ticket` in the URL; not yet sent `connect`.
    func client(ticket: String) async throws -> RealtimeTestClient {
        try await RealtimeTestClient.connect(to: "ws://127.0.0.1:\(self.port)/connection/websocket?ticket=\(ticket)")
    }

    /// `POST /connection/ticket` with `authorization`, or with `body` (an API key's request) `POST /api/ticket`:
    /// the response.
    func ticketResponse(authorization: String?, body: String? = nil) async throws -> LoopbackHTTPConnection.Response {
        var headers = authorization.map { [("Authorization", $0)] } ?? []
        if body != nil { headers.append(("Content-Type", "application/json")) }
        return try await self.http("POST", body == nil ? "/connection/ticket" : "/api/ticket", headers: headers, body: body ?? "")
    }

    /// A ticket for the user of `token`.
    func ticket(token: String) async throws -> String {
        let response = try await self.ticketResponse(authorization: "Bearer \(token)")
        guard response.status == 200 else { throw EndToEndFailure("POST /connection/ticket answered \(response.status): \(response.body)") }
        return try JSONDecoder().decode(Minted.self, from: Data(response.body.utf8)).ticket
    }

    struct Minted: Decodable {
        var ticket: String
        var expires: Int
    }

    /// A client of `user` that has connected (token in the URL, then `connect` for the result).
    func connectedClient(_ user: String, encoding: WireEncoding? = nil, compression: Bool = false) async throws -> RealtimeTestClient {
        let client = try await RealtimeTestClient.connect(to: self.webSocketURL(token: try await self.token(user)),
                                                          subprotocols: encoding.map { [$0.subprotocol] } ?? [], compression: compression)
        let result = try await client.connect()
        guard result.user == user else { throw EndToEndFailure("connected as '\(result.user)', not '\(user)'") }
        return client
    }

    // MARK: - HTTP

    /// One request on a fresh connection (closed afterwards).
    func http(_ method: String, _ target: String, headers: [(String, String)] = [], body: String? = nil) async throws -> LoopbackHTTPConnection.Response {
        let connection = try await LoopbackHTTPConnection.connect(port: self.port)
        defer { Task { await connection.close() } }
        try await connection.write(Self.request(method, target, headers: headers, body: body))
        guard let response = try await connection.response() else {
            throw EndToEndFailure("the server closed the connection without answering \(method) \(target)")
        }
        return response
    }

    /// A back-end API call with the node's API key.
    func api(_ path: String, json: String) async throws -> LoopbackHTTPConnection.Response {
        try await self.http("POST", path, headers: [("Authorization", "apikey \(Self.apiKey)"), ("Content-Type", "application/json")], body: json)
    }

    /// Publishes through the HTTP API.
    @discardableResult
    func publish(_ data: RawJSON, to channel: String) async throws -> ServerMessage.PublishResult {
        let response = try await self.api("/api/publish", json: Self.json(PublishBody(channel: channel, data: data)))
        guard response.status == 200 else { throw EndToEndFailure("publish answered \(response.status): \(response.body)") }
        return try JSONDecoder().decode(ServerMessage.PublishResult.self, from: Data(response.body.utf8))
    }

    /// Publishes every element of `data`, in order, through the HTTP API on one keep-alive connection
    /// (pipelined in batches, so a thousand take well under a second).
    func publishAll(_ data: [RawJSON], to channel: String, batch: Int = 50) async throws -> [ServerMessage.PublishResult] {
        let connection = try await LoopbackHTTPConnection.connect(port: self.port)
        defer { Task { await connection.close() } }
        var results: [ServerMessage.PublishResult] = []
        var start = 0
        while start < data.count {
            let slice = data[start..<min(start + batch, data.count)]
            var requests = ""
            for element in slice {
                requests += Self.request("POST", "/api/publish", headers: [("Authorization", "apikey \(Self.apiKey)"), ("Content-Type", "application/json")],
                                         body: try Self.json(PublishBody(channel: channel, data: element)), keepAlive: true)
            }
            try await connection.write(requests)
            for _ in slice {
                guard let response = try await connection.response(), response.status == 200 else {
                    throw EndToEndFailure("a pipelined publish failed after \(results.count) publications")
                }
                results.append(try JSONDecoder().decode(ServerMessage.PublishResult.self, from: Data(response.body.utf8)))
            }
            start += slice.count
        }
        return results
    }

    /// What `/api/info` reports: the node's own count of connections, subscriptions and channels.
    struct Info: Decodable {
        var connections: Int
        var subscriptions: Int
        var channels: Int
    }

    func info() async throws -> Info {
        let response = try await self.http("GET", "/api/info", headers: [("Authorization", "apikey \(Self.apiKey)")])
        guard response.status == 200 else { throw EndToEndFailure("/api/info answered \(response.status): \(response.body)") }
        return try JSONDecoder().decode(Info.self, from: Data(response.body.utf8))
    }

    /// Asks `/api/info` until `condition` holds (true) or `timeout` passes (false).
    func eventually(within timeout: Duration = TestPatience.default, _ condition: (Info) -> Bool) async throws -> Bool {
        try await SwitchboardTestSupport.eventually(within: timeout) { condition(try await self.info()) }
    }

    /// The value of a Prometheus sample in `/metrics` (the unlabelled one, or the series whose labels are
    /// exactly `labels`), nil when absent.
    func metric(_ name: String, labels: String? = nil) async throws -> Double? {
        let series = labels.map { "\(name){\($0)}" } ?? name
        let body = try await self.http("GET", "/metrics").body
        for line in body.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, parts[0] == series { return Double(parts[1]) }
        }
        return nil
    }

    struct PublishBody: Encodable {
        var channel: String
        var data: RawJSON
    }

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    static func request(_ method: String, _ target: String, headers: [(String, String)] = [], body: String? = nil, keepAlive: Bool = false) -> String {
        var request = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if !keepAlive { request += "Connection: close\r\n" }
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        if let body { request += "Content-Length: \(body.utf8.count)\r\n" }
        request += "\r\n"
        return request + (body ?? "")
    }
}

/// A clock tests move by hand.
final class ManualClock: Sendable {
    private let date: NIOLockedValueBox<Date>
    init(_ date: Date) { self.date = NIOLockedValueBox(date) }
    var now: @Sendable () -> Date { { self.date.withLockedValue { $0 } } }
    func advance(by seconds: TimeInterval) { self.date.withLockedValue { $0 += seconds } }
}
