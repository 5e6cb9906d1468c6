/// A misuse of the engine by its caller (the peer's mistakes never throw: they close the connection).
public struct WebSocketError: Error, Sendable, Hashable, CustomStringConvertible {
    @usableFromInline
    enum Code: Sendable, Hashable {
        case notOpen
        case controlPayloadTooLong(Int)
        case unsendableCloseCode(UInt16)
        case compressionFailed
    }

    @usableFromInline
    let code: Code

    @usableFromInline
    init(_ code: Code) { self.code = code }

    /// The connection is closing or closed: no more messages may be sent (RFC 6455 §5.5.1).
    public static let notOpen = WebSocketError(.notOpen)
    /// A ping, pong or close payload over 125 bytes (RFC 6455 §5.5).
    public static func controlPayloadTooLong(_ length: Int) -> WebSocketError { WebSocketError(.controlPayloadTooLong(length)) }
    /// A close code that may not appear on the wire (RFC 6455 §7.4).
    public static func unsendableCloseCode(_ code: CloseCode) -> WebSocketError { WebSocketError(.unsendableCloseCode(code.rawValue)) }
    /// zlib refused to compress (out of memory).
    public static let compressionFailed = WebSocketError(.compressionFailed)

    public var description: String {
        switch code {
        case .notOpen: return "the WebSocket connection is closing or closed"
        case .controlPayloadTooLong(let length): return "control frame payload of \(length) bytes exceeds 125"
        case .unsendableCloseCode(let code): return "close code \(code) may not be sent"
        case .compressionFailed: return "compression failed"
        }
    }
}
