import NIOCore
import SwitchboardWebSocket

/// A failure of the transport: connecting, the handshake, or using a closed connection.
public struct WebSocketTransportError: Error, Sendable, Hashable, CustomStringConvertible {
    enum Code: Sendable, Hashable {
        case invalidURL
        case handshakeFailed
        case handshakeTimedOut
        case connectionClosed
        case outboundBufferFull
        case unsupportedConfiguration
    }

    let code: Code
    /// A sentence naming the problem.
    public let message: String
    /// The HTTP status the server refused the upgrade with (nil for every other failure).
    public let refusalStatus: Int?
    /// The refusal's `Retry-After`, in seconds (a 503 from a node admitting connections at its rate).
    public let retryAfter: Int?

    init(_ code: Code, _ message: String, refusalStatus: Int? = nil, retryAfter: Int? = nil) {
        self.code = code
        self.message = message
        self.refusalStatus = refusalStatus
        self.retryAfter = retryAfter
    }

    /// The server answered the upgrade with `status` instead of 101.
    static func handshakeRefused(_ why: String, status: Int, retryAfter: Int?) -> Self {
        Self(.handshakeFailed, why, refusalStatus: status, retryAfter: retryAfter)
    }

    public static func invalidURL(_ url: String, _ why: String) -> Self { Self(.invalidURL, "invalid WebSocket URL '\(url)': \(why)") }
    static func handshakeFailed(_ why: String) -> Self { Self(.handshakeFailed, why) }
    static func handshakeTimedOut(_ timeout: TimeAmount) -> Self {
        Self(.handshakeTimedOut, "no WebSocket handshake response within \(timeout.spokenDuration)")
    }
    static let connectionClosed = Self(.connectionClosed, "the WebSocket connection is closed")
    static let outboundBufferFull = Self(.outboundBufferFull, "the peer is not reading: outbound buffer limit reached")

    /// The server cannot start with this configuration on its event loop group (TLS on the epoll transport).
    static func unsupported(_ why: String) -> Self { Self(.unsupportedConfiguration, why) }

    public var isConnectionClosed: Bool { self.code == .connectionClosed }
    /// The peer stopped reading and the outbound limit was reached; the transport has closed the connection.
    public var isOutboundBufferFull: Bool { self.code == .outboundBufferFull }
    public var description: String { self.message }
}
