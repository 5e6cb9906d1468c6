import SwitchboardProtocol

/// Where a ``RealtimeClient``'s connection stands. Read the changes from ``RealtimeClient/states``.
public enum ConnectionState: Sendable, Hashable {
    /// The first connect attempt after ``RealtimeClient/connect()`` is under way.
    case connecting
    /// Authenticated: `clientID` is this connection's id, `user` the token's subject ("" when anonymous).
    case connected(clientID: String, user: String)
    /// The connection was lost; attempt `attempt` (1, 2, …) starts after `delay`.
    case reconnecting(attempt: Int, delay: Duration)
    /// Not connected and not trying to be; ``RealtimeClient/connect()`` starts again.
    case disconnected(DisconnectReason)
}

/// Why a ``RealtimeClient`` is disconnected and no longer reconnecting.
public struct DisconnectReason: Sendable, Hashable, CustomStringConvertible {
    /// The server's disconnect code (4500–4999 end reconnecting), nil when the client decided.
    public var code: DisconnectCode?
    /// The connect command's error (an invalid token, say), when that is what stopped the client.
    public var error: ErrorCode?
    /// For people.
    public var message: String

    public init(code: DisconnectCode? = nil, error: ErrorCode? = nil, message: String) {
        self.code = code
        self.error = error
        self.message = message
    }

    static let notConnected = DisconnectReason(message: "not connected yet")
    static let requested = DisconnectReason(message: "disconnect() was called")

    public var description: String {
        if let code { return "\(code) \(self.message)" }
        if let error { return "error \(error): \(self.message)" }
        return self.message
    }
}
