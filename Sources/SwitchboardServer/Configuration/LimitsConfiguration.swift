/// Limits that keep one client, one address or a flood from taking the node down. Every default is safe on
/// the open internet; raise them for trusted deployments.
public struct LimitsConfiguration: Sendable, Hashable, Codable {
    /// The largest message a client may send (bytes); a larger one closes the connection with 1009.
    public var maxMessageSize: Int
    /// Commands per second a client may send on average (token bucket refill rate)...
    public var commandsPerSecond: Double
    /// ...and in a burst (bucket size). A command over the limit gets error 201.
    public var commandBurst: Int
    /// A client that keeps sending this many commands over the limit in a row is disconnected (4004).
    public var rateLimitStrikes: Int
    /// Open connections on this node, all transports together; more are refused (503 before the upgrade).
    public var maxConnections: Int
    /// Open connections from one IP address; more are refused (429 before the upgrade).
    public var maxConnectionsPerIP: Int
    /// Channels one client may be subscribed to at once.
    public var maxChannelsPerClient: Int
    /// Bytes queued for a client that is not reading; past this it is disconnected as a slow consumer.
    public var maxOutboundBytes: Int
    /// The most publications one `history` call or recovery returns.
    public var maxHistoryPerRequest: Int
    /// Seconds a client has to authenticate (`connect`) after the WebSocket opens.
    public var connectTimeout: Int
    /// Seconds a client whose token expired has to send `refresh` before it is disconnected (4003).
    public var tokenRefreshGrace: Int
    /// The largest HTTP API request body (bytes).
    public var maxHTTPBodySize: Int
    /// Deliveries (publications × recipients) the node may have queued and not yet written. Past it new
    /// publications are refused (error 202, HTTP 503) until it catches up: publishing faster than the node
    /// can deliver must not grow memory without bound.
    public var maxPendingDeliveries: Int
    /// Seconds a publish's `idempotencyKey` is remembered in its channel: a retry with the same key within
    /// them publishes nothing and gets the first publish's position.
    public var idempotencyWindow: Int
    /// New connections (WebSocket or SSE) admitted per second; more are refused with 503 and `Retry-After`,
    /// so a reconnect storm queues instead of overloading the node.
    public var maxConnectsPerSecond: Int
    /// Milliseconds an event loop may run its timers late before the node refuses every new connection (503,
    /// `Retry-After` from 2 s, growing while it lasts), so that its users' heartbeats and deliveries keep the
    /// CPU in a reconnect storm. 0 (the default): only `maxConnectsPerSecond` applies.
    public var maxLoopLagMilliseconds: Int
    /// Open connections of one user on this node; one more is closed with 4503 once it authenticates. 0 (the
    /// default): no limit, since many services share one token among many connections.
    public var maxConnectionsPerUser: Int

    public init(maxMessageSize: Int = 64 << 10, commandsPerSecond: Double = 50, commandBurst: Int = 100,
                rateLimitStrikes: Int = 50, maxConnections: Int = 100_000, maxConnectionsPerIP: Int = 200,
                maxChannelsPerClient: Int = 128, maxOutboundBytes: Int = 4 << 20, maxHistoryPerRequest: Int = 10_000,
                connectTimeout: Int = 10, tokenRefreshGrace: Int = 25, maxHTTPBodySize: Int = 1 << 20,
                maxPendingDeliveries: Int = 1_000_000, idempotencyWindow: Int = 300, maxConnectsPerSecond: Int = 2_000,
                maxConnectionsPerUser: Int = 0, maxLoopLagMilliseconds: Int = 0) {
        self.maxMessageSize = maxMessageSize
        self.commandsPerSecond = commandsPerSecond
        self.commandBurst = commandBurst
        self.rateLimitStrikes = rateLimitStrikes
        self.maxConnections = maxConnections
        self.maxConnectionsPerIP = maxConnectionsPerIP
        self.maxChannelsPerClient = maxChannelsPerClient
        self.maxOutboundBytes = maxOutboundBytes
        self.maxHistoryPerRequest = maxHistoryPerRequest
        self.connectTimeout = connectTimeout
        self.tokenRefreshGrace = tokenRefreshGrace
        self.maxHTTPBodySize = maxHTTPBodySize
        self.maxPendingDeliveries = maxPendingDeliveries
        self.idempotencyWindow = idempotencyWindow
        self.maxConnectsPerSecond = maxConnectsPerSecond
        self.maxConnectionsPerUser = maxConnectionsPerUser
        self.maxLoopLagMilliseconds = maxLoopLagMilliseconds
    }

    private enum Key: String, CodingKey {
        case maxMessageSize, commandsPerSecond, commandBurst, rateLimitStrikes, maxConnections, maxConnectionsPerIP
        case maxChannelsPerClient, maxOutboundBytes, maxHistoryPerRequest, connectTimeout, tokenRefreshGrace, maxHTTPBodySize
        case maxPendingDeliveries, idempotencyWindow, maxConnectsPerSecond, maxConnectionsPerUser, maxLoopLagMilliseconds
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let defaults = LimitsConfiguration()
        func positive<T: Decodable & Comparable & Numeric>(_ key: Key, _ fallback: T) throws -> T {
            let value = try container.decodeIfPresent(T.self, forKey: key) ?? fallback
            guard value > 0 else {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "\(key.rawValue) must be positive")
            }
            return value
        }
        self.maxMessageSize = try positive(.maxMessageSize, defaults.maxMessageSize)
        self.commandsPerSecond = try positive(.commandsPerSecond, defaults.commandsPerSecond)
        self.commandBurst = try positive(.commandBurst, defaults.commandBurst)
        self.rateLimitStrikes = try positive(.rateLimitStrikes, defaults.rateLimitStrikes)
        self.maxConnections = try positive(.maxConnections, defaults.maxConnections)
        self.maxConnectionsPerIP = try positive(.maxConnectionsPerIP, defaults.maxConnectionsPerIP)
        self.maxChannelsPerClient = try positive(.maxChannelsPerClient, defaults.maxChannelsPerClient)
        self.maxOutboundBytes = try positive(.maxOutboundBytes, defaults.maxOutboundBytes)
        self.maxHistoryPerRequest = try positive(.maxHistoryPerRequest, defaults.maxHistoryPerRequest)
        self.connectTimeout = try positive(.connectTimeout, defaults.connectTimeout)
        self.tokenRefreshGrace = try positive(.tokenRefreshGrace, defaults.tokenRefreshGrace)
        self.maxHTTPBodySize = try positive(.maxHTTPBodySize, defaults.maxHTTPBodySize)
        self.maxPendingDeliveries = try positive(.maxPendingDeliveries, defaults.maxPendingDeliveries)
        self.idempotencyWindow = try positive(.idempotencyWindow, defaults.idempotencyWindow)
        self.maxConnectsPerSecond = try positive(.maxConnectsPerSecond, defaults.maxConnectsPerSecond)
        self.maxConnectionsPerUser = try container.decodeIfPresent(Int.self, forKey: .maxConnectionsPerUser) ?? defaults.maxConnectionsPerUser
        guard self.maxConnectionsPerUser >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .maxConnectionsPerUser, in: container,
                                                   debugDescription: "maxConnectionsPerUser must be 0 (no limit) or positive")
        }
        self.maxLoopLagMilliseconds = try container.decodeIfPresent(Int.self, forKey: .maxLoopLagMilliseconds) ?? defaults.maxLoopLagMilliseconds
        guard self.maxLoopLagMilliseconds >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .maxLoopLagMilliseconds, in: container,
                                                   debugDescription: "maxLoopLagMilliseconds must be 0 (off) or positive")
        }
    }
}
