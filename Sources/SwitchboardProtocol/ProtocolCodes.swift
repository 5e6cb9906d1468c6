// Both code types encode as bare numbers (the standard library's `Codable` for `RawRepresentable`).

/// Why a command failed: the `code` of an `error` reply. The connection stays open.
///
/// Ranges say what a client should do (STYLE rule 8): 100–199 the request itself is wrong, sending it again
/// will fail again; 200–299 the failure is temporary, the same request may succeed later.
public struct ErrorCode: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// Malformed JSON, a missing or mistyped field.
    public static let badRequest = ErrorCode(100)
    /// A `type` the server does not know.
    public static let unknownCommand = ErrorCode(101)
    /// No valid token where one is required.
    public static let unauthorized = ErrorCode(102)
    /// The token is valid but does not allow this channel or action.
    public static let permissionDenied = ErrorCode(103)
    /// The channel's namespace is not configured.
    public static let unknownChannel = ErrorCode(104)
    public static let alreadySubscribed = ErrorCode(105)
    public static let notSubscribed = ErrorCode(106)
    /// The feature is off for this namespace (presence, history, client publishing).
    public static let notAvailable = ErrorCode(107)
    /// A per-client limit, e.g. the number of channels.
    public static let limitExceeded = ErrorCode(108)
    /// The token has expired: refresh it (`refresh`) or reconnect with a new one.
    public static let tokenExpired = ErrorCode(109)
    /// A command other than `connect` before the connection is authenticated.
    public static let notConnected = ErrorCode(110)
    public static let alreadyConnected = ErrorCode(111)
    public static let messageTooLarge = ErrorCode(112)
    /// A `since` that history no longer covers (another epoch, older than what is retained, or ahead of the
    /// stream): read without `since`, or resubscribe, and continue from the current position.
    public static let positionNotRetained = ErrorCode(113)
    /// A connect ticket that is unknown, expired or already used: fetch a new one (`POST /connection/ticket`).
    public static let ticketRefused = ErrorCode(114)

    public static let internalError = ErrorCode(200)
    /// Too many commands: wait before sending more.
    public static let rateLimited = ErrorCode(201)
    /// A dependency (the broker) is unavailable; nothing was done.
    public static let unavailable = ErrorCode(202)
    /// The broker did not confirm (a timeout, a connection lost after the request left): the operation may
    /// or may not have taken effect. Retrying a publish may publish it twice.
    public static let outcomeUnknown = ErrorCode(203)

    /// 200–299: the same request may succeed later (switchboard.js: `isTemporary(code)`).
    public var isTemporary: Bool { (200...299).contains(self.rawValue) }

    public var description: String { String(self.rawValue) }
}

/// Why the server ends a connection: the WebSocket close code (RFC 6455 §7.4.2 private-use range) and the
/// `code` of a `disconnect` push (for transports without close codes, like Server-Sent Events).
///
/// Ranges say whether to reconnect (STYLE rule 8): 4000–4499 reconnect, with backoff (and after the `delay`
/// the server suggests, when it gives one); 4500–4999 do not reconnect without a change (a new token, a fix).
public struct DisconnectCode: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// The node is shutting down or draining: reconnect (to another node) after the suggested delay.
    public static let shutdown = DisconnectCode(4000)
    /// The client did not read fast enough and its outbound queue overflowed; reconnect and recover.
    public static let slowConsumer = DisconnectCode(4001)
    /// No answer to heartbeats in time.
    public static let heartbeatTimeout = DisconnectCode(4002)
    /// The token expired and was not refreshed in time: reconnect with a fresh token.
    public static let tokenExpired = DisconnectCode(4003)
    /// Too many commands for too long.
    public static let rateLimited = DisconnectCode(4004)
    public static let internalError = DisconnectCode(4005)
    /// The connect ticket in the URL is unknown, expired or already used: reconnect with a new ticket.
    public static let ticketRefused = DisconnectCode(4006)

    /// The token is missing, malformed, badly signed or for another audience.
    public static let unauthorized = DisconnectCode(4500)
    /// A back-end disconnected this user on purpose (ban, logout).
    public static let forced = DisconnectCode(4501)
    /// The client broke the protocol (e.g. kept sending malformed commands).
    public static let badProtocol = DisconnectCode(4502)
    /// Too many connections from this address or in total.
    public static let connectionLimit = DisconnectCode(4503)

    /// 4000–4499: reconnecting is expected to work.
    public var shouldReconnect: Bool { (4000...4499).contains(self.rawValue) }

    /// 4500–4999: a client stops instead of reconnecting. Any other code that ends a connection (1006, a
    /// code from 4000–4499) is reconnected after; switchboard.js's `forbidsReconnecting(code)` is the same rule.
    public var forbidsReconnecting: Bool { (4500...4999).contains(self.rawValue) }

    public var description: String { String(self.rawValue) }
}
