import NIOCore
import SwitchboardWebSocket

/// A whole WebSocket message, as received or to send.
///
/// Text is kept as its UTF-8 bytes (already validated on receipt), so relaying a message never converts
/// it to a `String`; ``text`` does that when asked.
public struct WebSocketMessage: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case text
        case binary
    }

    public var kind: Kind
    /// The payload: UTF-8 for text.
    public var data: ByteBuffer

    public init(kind: Kind, data: ByteBuffer) {
        self.kind = kind
        self.data = data
    }

    public static func text(_ string: String) -> WebSocketMessage {
        WebSocketMessage(kind: .text, data: ByteBuffer(string: string))
    }

    public static func binary(_ data: ByteBuffer) -> WebSocketMessage {
        WebSocketMessage(kind: .binary, data: data)
    }

    public static func binary(_ bytes: some Sequence<UInt8>) -> WebSocketMessage {
        WebSocketMessage(kind: .binary, data: ByteBuffer(bytes: bytes))
    }

    /// The payload as a string when this is a text message.
    public var text: String? {
        self.kind == .text ? String(buffer: self.data) : nil
    }

    var opcode: Opcode { self.kind == .text ? .text : .binary }
}

/// How a connection ended: the close code and reason the peer sent (or 1006 when it sent none), and
/// whether this end started the close.
public struct WebSocketCloseStatus: Sendable, Hashable, CustomStringConvertible {
    public var code: CloseCode
    public var reason: String
    /// True when this end sent the first close frame (or dropped the connection).
    public var initiatedLocally: Bool

    public init(code: CloseCode, reason: String, initiatedLocally: Bool) {
        self.code = code
        self.reason = reason
        self.initiatedLocally = initiatedLocally
    }

    public var description: String {
        reason.isEmpty ? "\(code)" : "\(code) \(reason)"
    }
}
