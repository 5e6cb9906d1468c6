/// A Redis command did not get a usable reply.
///
/// Says whose fault it was: Redis refused the command (``serverMessage`` holds its words), Redis could not be
/// reached or went away, it answered too late, or it sent something this client cannot read.
public struct RedisClientError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case serverError
        case unavailable
        case connectionClosed
        case timedOut
        case protocolError
        case unexpectedReply
        case shutDown
    }

    private let code: Code
    /// What happened, for logs and for the `BrokerError` built from it.
    public let detail: String
    /// The error reply, verbatim (`NOSCRIPT No matching script…`), when Redis refused the command.
    public let serverMessage: String?

    private init(_ code: Code, _ detail: String, serverMessage: String? = nil) {
        self.code = code
        self.detail = detail
        self.serverMessage = serverMessage
    }

    /// Redis answered with an error reply.
    public static func server(_ message: String) -> Self { .init(.serverError, "Redis replied: \(message)", serverMessage: message) }
    /// No connection: the last attempt failed and the next one is scheduled.
    static func unavailable(_ address: RedisAddress, _ reason: String) -> Self {
        .init(.unavailable, "Redis at \(address) is unavailable (\(reason)); reconnecting in the background")
    }
    /// The connection closed before the reply arrived: the command may or may not have run.
    static let connectionClosed = Self(.connectionClosed, "the connection to Redis closed before the reply arrived")
    static func timedOut(_ command: String, after timeout: Duration) -> Self {
        .init(.timedOut, "\(command) got no reply from Redis within \(timeout)")
    }
    static func protocolError(_ detail: String) -> Self { .init(.protocolError, "Redis sent bytes this client cannot read: \(detail)") }
    static func unexpectedReply(_ command: String, _ reply: RESPValue) -> Self {
        .init(.unexpectedReply, "unexpected reply to \(command): \(String(describing: reply).prefix(200))")
    }
    static let shutDown = Self(.shutDown, "the Redis client was shut down")

    /// The first word of a server error (`NOSCRIPT`, `WRONGTYPE`, `ERR`), nil for other errors.
    public var serverErrorCode: String? {
        self.serverMessage.map { String($0.prefix { $0 != " " }) }
    }

    public var isServerError: Bool { self.code == .serverError }
    public var isTimeout: Bool { self.code == .timedOut }
    /// Redis could not be reached: the command was not sent.
    public var isUnavailable: Bool { self.code == .unavailable }
    /// Whether the command may have run although this error was reported: it may have reached Redis, but
    /// its reply was lost (a timeout, the connection closing, a reply that could not be read or used).
    public var commandMayHaveRun: Bool {
        switch self.code {
        case .timedOut, .connectionClosed, .protocolError, .unexpectedReply: true
        case .serverError, .unavailable, .shutDown: false
        }
    }

    public var description: String { self.detail }
}
