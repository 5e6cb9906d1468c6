import SwitchboardProtocol

/// How a ``RealtimeClient`` authenticates, reconnects and bounds its waiting.
public struct RealtimeClientConfiguration: Sendable {
    /// Called before every connect attempt and again when the token nears expiry (or the server reports it
    /// expired, error 109). Return nil to connect anonymously; a thrown error fails that attempt, which is
    /// retried with backoff.
    public var tokenProvider: @Sendable () async throws -> String?
    public var reconnect: ReconnectPolicy
    /// How many `publish` calls may wait while the client is not connected; one more throws
    /// ``RealtimeClientError/sendQueueFull``.
    public var sendQueueLimit: Int
    /// When nothing has arrived for this long, the client sends the protocol's `ping` command.
    public var heartbeatInterval: Duration
    /// How long the `ping` reply may take before the connection is considered dead (then: reconnect).
    public var heartbeatTimeout: Duration
    /// How long a sent command may wait for its reply before throwing ``RealtimeClientError/requestTimeout``.
    public var requestTimeout: Duration
    /// Refresh the token this long before it expires (half its remaining lifetime when that is shorter).
    public var tokenRefreshMargin: Duration
    /// Sent as the `connect` command's `name`, for the server's logs.
    public var clientName: String?
    /// How to reach the node, in order of preference: an attempt that cannot open one tries the next, and
    /// once Server-Sent Events worked where a WebSocket did not, attempts start with them (as switchboard.js
    /// does). The SSE endpoints are found beside the WebSocket URL's `/connection/websocket`.
    public var transports: [RealtimeTransport]
    /// How WebSocket messages are encoded: JSON text (the default) or Protocol Buffers binary messages
    /// (`switchboard.v1.protobuf`, offered at the handshake; a node that does not take it answers in JSON,
    /// which the client then speaks). Server-Sent Events are always JSON.
    public var encoding: WireEncoding = .json
    /// Whether the WebSocket handshake offers permessage-deflate (RFC 7692): a node with compression on then
    /// sends its larger messages compressed, which saves bandwidth for a little CPU on both ends.
    public var compression = false

    public init(tokenProvider: @escaping @Sendable () async throws -> String?,
                reconnect: ReconnectPolicy = ReconnectPolicy(),
                sendQueueLimit: Int = 100,
                heartbeatInterval: Duration = .seconds(25),
                heartbeatTimeout: Duration = .seconds(10),
                requestTimeout: Duration = .seconds(10),
                tokenRefreshMargin: Duration = .seconds(30),
                clientName: String? = "switchboard-swift",
                transports: [RealtimeTransport] = [.webSocket, .serverSentEvents]) {
        precondition(!transports.isEmpty, "a client needs at least one transport")
        precondition(sendQueueLimit >= 0, "the send queue limit cannot be negative")
        self.tokenProvider = tokenProvider
        self.reconnect = reconnect
        self.sendQueueLimit = sendQueueLimit
        self.heartbeatInterval = heartbeatInterval
        self.heartbeatTimeout = heartbeatTimeout
        self.requestTimeout = requestTimeout
        self.tokenRefreshMargin = tokenRefreshMargin
        self.clientName = clientName
        self.transports = transports
    }
}

/// A way for a ``RealtimeClient`` to reach a node.
public enum RealtimeTransport: Sendable, Hashable {
    case webSocket
    /// Server-Sent Events for pushes and HTTP POSTs for commands, for networks that block WebSocket
    /// (PROTOCOL.md, "Server-Sent Events fallback").
    case serverSentEvents
}
