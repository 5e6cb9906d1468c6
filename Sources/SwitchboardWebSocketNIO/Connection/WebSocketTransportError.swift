import NIOCore
import SwitchboardWebSocket

/// A failure of the transport: connecting, the handshake, or using a closed connection.
public struct WebSocketTransportError: Error, Sendable, Hashable, CustomStringConvertible {
    enum Code: Sendable, Hashable {
        case invalidURL
        case handshakeFailed
        case timedOut
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

    /// A TCP connect that did not succeed. The connect timeout passing is the same timeout as a late answer
    /// to the upgrade (one deadline for the whole connect), so it is reported as one: which phase the loop
    /// saw end first is a matter of scheduling under load.
    static func cannotConnect(to host: String, _ error: any Error, connectTimeout: TimeAmount) -> Self {
        if case ChannelError.connectTimeout = error {
            return Self(.timedOut, "cannot connect to \(host) within \(connectTimeout.spokenDuration)")
        }
        return Self(.handshakeFailed, "cannot connect to \(host): \(ConnectFailure.reason(error))")
    }

    /// The connect timeout passed with the upgrade sent and no answer to it.
    static func handshakeTimedOut(_ connectTimeout: TimeAmount) -> Self {
        Self(.timedOut, "no WebSocket handshake response within \(connectTimeout.spokenDuration)")
    }
    static let connectionClosed = Self(.connectionClosed, "the WebSocket connection is closed")
    static let outboundBufferFull = Self(.outboundBufferFull, "the peer is not reading: outbound buffer limit reached")

    /// The server cannot start with this configuration on its event loop group (TLS on the epoll transport).
    static func unsupported(_ why: String) -> Self { Self(.unsupportedConfiguration, why) }

    public var isConnectionClosed: Bool { self.code == .connectionClosed }
    /// The connect timeout passed, in the TCP connect or waiting for the server's answer to the upgrade (a
    /// server that is down, overloaded or unreachable; a later attempt may succeed).
    public var isTimeout: Bool { self.code == .timedOut }
    /// The peer stopped reading and the outbound limit was reached; the transport has closed the connection.
    public var isOutboundBufferFull: Bool { self.code == .outboundBufferFull }
    public var description: String { self.message }
}
