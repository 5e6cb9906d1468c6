import Foundation
import SwitchboardClient
import SwitchboardProtocol

/// The sentences `switchboard connect` writes on stderr about the connection and its subscriptions; stdout
/// carries only publications, so a pipe sees data and the terminal sees what happens.
enum StatusText {
    static func describe(_ state: ConnectionState, url: String) -> String {
        switch state {
        case .connecting:
            return "connecting to \(url)"
        case .connected(let clientID, let user):
            return user.isEmpty ? "connected anonymously (client \(clientID))" : "connected as \(user) (client \(clientID))"
        case .reconnecting(let attempt, let delay):
            return "reconnecting: attempt \(attempt) in \(Self.seconds(delay))"
        case .disconnected(let reason):
            return "disconnected: \(Self.describe(reason))"
        }
    }

    /// The code's meaning first, for a reader who does not know the table by heart.
    static func describe(_ reason: DisconnectReason) -> String {
        if let code = reason.code {
            return "\(code) \(Self.name(of: code)): \(reason.message)"
        }
        if let error = reason.error {
            return "error \(error) \(Self.name(of: error)): \(reason.message)"
        }
        return reason.message
    }

    static func describe(_ event: SubscriptionEvent, channel: String) -> String {
        switch event {
        case .recovered(let count):
            return "\(channel): recovered \(count) missed publication\(count == 1 ? "" : "s")"
        case .gap(let lastDelivered, let resumedAt):
            let before = lastDelivered.map { "after #\($0.offset) (epoch \($0.epoch))" } ?? "before this point"
            return "\(channel): gap: publications \(before) are lost; continuing after #\(resumedAt.offset) (epoch \(resumedAt.epoch))"
        case .undecodable(let position, let message):
            return "\(channel): skipped #\(position.offset): \(message)"
        }
    }

    /// `0.734 s`: millisecond precision is what a person watching backoff wants.
    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(format: "%.3f s", Double(seconds) + Double(attoseconds) / 1e18)
    }

    /// docs/PROTOCOL.md, "Disconnect codes".
    static func name(of code: DisconnectCode) -> String {
        switch code {
        case .shutdown: "shutdown"
        case .slowConsumer: "slow consumer"
        case .heartbeatTimeout: "heartbeat timeout"
        case .tokenExpired: "token expired"
        case .rateLimited: "rate limited"
        case .internalError: "internal error"
        case .unauthorized: "unauthorized"
        case .forced: "forced"
        case .badProtocol: "bad protocol"
        case .connectionLimit: "connection limit"
        default: code.forbidsReconnecting ? "do not reconnect" : "reconnect"
        }
    }

    /// docs/PROTOCOL.md, "Error codes" (those a `connect` or `subscribe` can get).
    static func name(of code: ErrorCode) -> String {
        switch code {
        case .badRequest: "bad request"
        case .unauthorized: "unauthorized"
        case .permissionDenied: "permission denied"
        case .unknownChannel: "unknown channel"
        case .notAvailable: "not available"
        case .limitExceeded: "limit exceeded"
        case .tokenExpired: "token expired"
        case .rateLimited: "rate limited"
        case .unavailable: "unavailable"
        case .outcomeUnknown: "outcome unknown"
        case .positionNotRetained: "position not retained"
        case .internalError: "internal error"
        default: "error"
        }
    }
}
