import SwitchboardProtocol

/// Why a ``RealtimeClient`` call failed. Compare with the static members (`error == .sendQueueFull`); the
/// server's refusals carry the protocol's `ErrorCode` in ``protocolCode``.
///
/// A struct wrapping a private code (not a public enum), so cases can be added without breaking callers.
public struct RealtimeClientError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Sendable, Hashable {
        case server, sendQueueFull, requestTimeout, connectionLost, disconnected, notConnected
        case alreadySubscribed, encodingFailed, decodingFailed
    }

    private let code: Code
    /// The server's error code when the server refused the command (``isServerError``).
    public let protocolCode: ErrorCode?
    /// For people.
    public let message: String

    private init(_ code: Code, _ message: String, protocolCode: ErrorCode? = nil) {
        self.code = code
        self.message = message
        self.protocolCode = protocolCode
    }

    /// The server answered the command with an error (the peer's verdict; see ``protocolCode``).
    public static let serverError = Self(.server, "the server refused the command")
    /// The caller published while disconnected and the send queue was full; nothing was queued.
    public static let sendQueueFull = Self(.sendQueueFull, "the send queue is full")
    /// The command was sent but no reply came within the request timeout.
    public static let requestTimeout = Self(.requestTimeout, "no reply within the request timeout")
    /// The connection ended after the command was sent; whether the server executed it is unknown.
    public static let connectionLost = Self(.connectionLost, "the connection was lost before the reply")
    /// The client was disconnected for good (by ``RealtimeClient/disconnect()`` or a 4500–4999 code).
    public static let disconnected = Self(.disconnected, "the client is disconnected")
    /// The command needs a connection (presence, history) and there is none right now.
    public static let notConnected = Self(.notConnected, "the client is not connected")
    /// The caller subscribed twice to the same channel.
    public static let alreadySubscribed = Self(.alreadySubscribed, "already subscribed to this channel")
    /// The value to publish could not be encoded as JSON.
    public static let encodingFailed = Self(.encodingFailed, "the value could not be encoded as JSON")
    /// A publication's data did not decode as the subscription's type.
    public static let decodingFailed = Self(.decodingFailed, "a publication did not decode as the expected type")

    static func server(_ error: ServerMessage.ProtocolError) -> Self {
        Self(.server, error.message, protocolCode: error.code)
    }

    func with(message: String) -> Self { Self(self.code, message, protocolCode: self.protocolCode) }

    /// True when the server refused the command.
    public var isServerError: Bool { self.code == .server }

    /// The kind's name (`requestTimeout`, `connectionLost`, …): what the client transcripts compare.
    var kind: String { "\(self.code)" }

    /// Errors are equal when they are the same kind; messages (and server codes) are details.
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.code) }

    public var description: String {
        if let protocolCode { return "error \(protocolCode): \(self.message)" }
        return self.message
    }
}
