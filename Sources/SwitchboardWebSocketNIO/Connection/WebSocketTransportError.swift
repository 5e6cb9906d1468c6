import SwitchboardWebSocket

/// A failure of the transport: connecting, the handshake, or using a closed connection.
public struct WebSocketTransportError: Error, Sendable, Hashable, CustomStringConvertible {
    enum Code: Sendable, Hashable {
        case invalidURL
        case handshakeFailed
        case handshakeTimedOut
        case connectionClosed
        case outboundBufferFull
    }

    let code: Code
    /// A sentence naming the problem.
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public static func invalidURL(_ url: String, _ why: String) -> Self { Self(.invalidURL, "invalid WebSocket URL '\(url)': \(why)") }
    static func handshakeFailed(_ why: String) -> Self { Self(.handshakeFailed, why) }
    static func handshakeTimedOut(_ seconds: Int64) -> Self { Self(.handshakeTimedOut, "no WebSocket handshake response within \(seconds) s") }
    static let connectionClosed = Self(.connectionClosed, "the WebSocket connection is closed")
    static let outboundBufferFull = Self(.outboundBufferFull, "the peer is not reading: outbound buffer limit reached")

    public var isConnectionClosed: Bool { self.code == .connectionClosed }
    public var description: String { self.message }
}
