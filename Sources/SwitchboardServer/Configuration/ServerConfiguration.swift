/// Everything `switchboard serve` can be told, with defaults that start a working single node.
///
/// Read from a JSON file and environment variables by ``ServerConfiguration/load(file:environment:)``; the
/// README lists every field.
public struct ServerConfiguration: Sendable, Hashable, Codable {
    public var host: String
    public var port: Int
    /// Share the port with other nodes on this host that set it too (`SO_REUSEPORT`); the kernel spreads
    /// new connections across them. How one host runs a node per core, or more processes than one may
    /// hold descriptors for.
    public var reusePort: Bool
    /// PEM certificate chain and private key files; both set serves `wss://` and `https://`.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    /// Where clients open the WebSocket.
    public var webSocketPath: String
    /// Origins (`https://app.example.com`) whose pages may connect, besides the server's own origin. A
    /// browser request from any other origin is refused before the upgrade (cross-site WebSocket hijacking).
    /// `*` allows every origin: only for development.
    public var allowedOrigins: [String]
    /// Reverse proxies (addresses or networks such as `10.0.0.0/8`) whose `X-Forwarded-For` names the client,
    /// for the per-IP connection limit and logs. Empty: the header is ignored.
    public var trustedProxies: [String]
    public var auth: AuthConfiguration
    /// Keys the back-end HTTP API accepts (`Authorization: apikey <key>`). Empty disables the API.
    public var apiKeys: [String]
    public var limits: LimitsConfiguration
    /// Options per namespace; the key "" is the default namespace (channels without a colon).
    public var namespaces: [String: NamespaceOptions]
    /// Seconds between heartbeats when a client is silent...
    public var pingInterval: Int
    /// ...and how long it has to answer before it is considered dead.
    public var pingTimeout: Int
    /// On SIGTERM: seconds connected clients get to leave before they are dropped.
    public var shutdownGracePeriod: Int
    /// The most a draining node tells a client to wait before reconnecting (each gets a random delay up to it).
    public var reconnectDelayMax: Int
    /// `memory` (the embedded broker) or a broker URL such as `redis://127.0.0.1:6379`.
    public var broker: String
    /// Whether `/dashboard` and its stats stream are served.
    public var dashboard: Bool
    /// permessage-deflate for WebSocket clients that offer it (off by default).
    public var compression: CompressionConfiguration

    public init(host: String = "127.0.0.1", port: Int = 8000) {
        self.host = host
        self.port = port
        self.reusePort = false
        self.tlsCertificatePath = nil
        self.tlsKeyPath = nil
        self.webSocketPath = "/connection/websocket"
        self.allowedOrigins = []
        self.trustedProxies = []
        self.auth = AuthConfiguration()
        self.apiKeys = []
        self.limits = LimitsConfiguration()
        self.namespaces = Self.defaultNamespaces
        self.pingInterval = 25
        self.pingTimeout = 10
        self.shutdownGracePeriod = 10
        self.reconnectDelayMax = 5
        self.broker = "memory"
        self.dashboard = true
        self.compression = CompressionConfiguration()
    }

    /// The namespaces a fresh node has: `chat` for the demo chat room and `user` for personal notifications.
    public static let defaultNamespaces: [String: NamespaceOptions] = [
        "": NamespaceOptions(),
        "chat": NamespaceOptions(subscribe: .authenticated, publish: .subscribers, historySize: 500, presence: true, joinLeave: true),
        "user": NamespaceOptions(subscribe: .authenticated, publish: .nobody, personal: true, historySize: 100),
    ]

    private enum Key: String, CodingKey {
        case host, port, reusePort, tlsCertificatePath, tlsKeyPath, webSocketPath, allowedOrigins, trustedProxies, auth, apiKeys, limits, namespaces
        case pingInterval, pingTimeout, shutdownGracePeriod, reconnectDelayMax, broker, dashboard, compression
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        var configuration = ServerConfiguration()
        configuration.host = try container.decodeIfPresent(String.self, forKey: .host) ?? configuration.host
        configuration.port = try container.decodeIfPresent(Int.self, forKey: .port) ?? configuration.port
        configuration.reusePort = try container.decodeIfPresent(Bool.self, forKey: .reusePort) ?? configuration.reusePort
        configuration.tlsCertificatePath = try container.decodeIfPresent(String.self, forKey: .tlsCertificatePath)
        configuration.tlsKeyPath = try container.decodeIfPresent(String.self, forKey: .tlsKeyPath)
        configuration.webSocketPath = try container.decodeIfPresent(String.self, forKey: .webSocketPath) ?? configuration.webSocketPath
        configuration.allowedOrigins = try container.decodeIfPresent([String].self, forKey: .allowedOrigins) ?? []
        configuration.trustedProxies = try container.decodeIfPresent([String].self, forKey: .trustedProxies) ?? []
        configuration.auth = try container.decodeIfPresent(AuthConfiguration.self, forKey: .auth) ?? configuration.auth
        configuration.apiKeys = try container.decodeIfPresent([String].self, forKey: .apiKeys) ?? []
        configuration.limits = try container.decodeIfPresent(LimitsConfiguration.self, forKey: .limits) ?? configuration.limits
        configuration.namespaces = try container.decodeIfPresent([String: NamespaceOptions].self, forKey: .namespaces) ?? configuration.namespaces
        configuration.pingInterval = try container.decodeIfPresent(Int.self, forKey: .pingInterval) ?? configuration.pingInterval
        configuration.pingTimeout = try container.decodeIfPresent(Int.self, forKey: .pingTimeout) ?? configuration.pingTimeout
        configuration.shutdownGracePeriod = try container.decodeIfPresent(Int.self, forKey: .shutdownGracePeriod) ?? configuration.shutdownGracePeriod
        configuration.reconnectDelayMax = try container.decodeIfPresent(Int.self, forKey: .reconnectDelayMax) ?? configuration.reconnectDelayMax
        configuration.broker = try container.decodeIfPresent(String.self, forKey: .broker) ?? configuration.broker
        configuration.dashboard = try container.decodeIfPresent(Bool.self, forKey: .dashboard) ?? configuration.dashboard
        configuration.compression = try container.decodeIfPresent(CompressionConfiguration.self, forKey: .compression) ?? configuration.compression
        guard (0...65535).contains(configuration.port) else {
            throw DecodingError.dataCorruptedError(forKey: .port, in: container, debugDescription: "port must be 0...65535")
        }
        guard configuration.webSocketPath.hasPrefix("/") else {
            throw DecodingError.dataCorruptedError(forKey: .webSocketPath, in: container, debugDescription: "webSocketPath must start with /")
        }
        guard configuration.pingInterval > 0, configuration.pingTimeout > 0 else {
            throw DecodingError.dataCorruptedError(forKey: .pingInterval, in: container, debugDescription: "pingInterval and pingTimeout must be positive")
        }
        self = configuration
    }

    /// The options of the namespace `channel` belongs to, or nil when that namespace is not configured.
    public func namespace(of channel: String) -> (name: String, options: NamespaceOptions)? {
        let name = channel.firstIndex(of: ":").map { String(channel[..<$0]) } ?? ""
        return self.namespaces[name].map { (name, $0) }
    }
}
