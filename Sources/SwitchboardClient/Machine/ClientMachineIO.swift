import SwitchboardProtocol
import SwitchboardWebSocket

/// An application call waiting for its outcome. The driver keeps the caller's continuation under it; the
/// machine only says when and how it is settled.
struct RequestID: Hashable, Sendable, CustomStringConvertible {
    let rawValue: UInt64
    init(_ rawValue: UInt64) { self.rawValue = rawValue }
    var description: String { "r\(self.rawValue)" }
}

/// The machine's timers. Arming one that is armed replaces it; the driver reports each firing as
/// ``ClientProtocolMachine/Input/timerFired(_:)``, and the machine ignores a firing it no longer expects.
enum ClientTimer: Hashable, Sendable, CustomStringConvertible {
    /// The wait before a reconnect attempt.
    case backoff
    /// A command's reply is due (the command id).
    case reply(UInt64)
    /// Time to check whether anything was heard during the last interval.
    case heartbeat
    /// Time to ask for a fresh token before the current one expires.
    case refresh
    /// Time to subscribe again to a channel whose resubscription was refused for now.
    case resubscribe(String)

    var description: String {
        switch self {
        case .backoff: "backoff"
        case .reply(let id): "reply:\(id)"
        case .heartbeat: "heartbeat"
        case .refresh: "refresh"
        case .resubscribe(let channel): "resubscribe:\(channel)"
        }
    }
}

/// A way to carry the protocol, in the order a client prefers them.
enum TransportKind: String, Hashable, Sendable {
    case webSocket = "websocket"
    /// Server-Sent Events for pushes, HTTP POSTs for commands: where a WebSocket cannot be opened.
    case sse
}

/// What happens to one subscribed channel, for its ``Subscription``.
enum ChannelDelivery: Hashable, Sendable {
    case publication(Publication)
    case event(SubscriptionEvent)
    /// A subscribe reply arrived: live publications continue after this position.
    case subscribed(StreamPosition)
    /// The subscription is over: by the application (nil) or refused by the server.
    case finished(RealtimeClientError?)
}

extension ClientProtocolMachine {
    /// The facts the machine is told, in the order they happen. Facts about a transport carry the
    /// generation of the attempt that opened it, so a late fact about an abandoned one is ignored.
    enum Input: Sendable {
        // The application.
        case connect
        case disconnect
        case publish(RequestID, channel: String, data: RawJSON, key: String)
        /// `since`: a position the application already has (from history or an earlier session).
        case subscribe(RequestID, channel: String, since: StreamPosition?)
        case unsubscribe(RequestID, channel: String)
        /// A command that needs a live connection (presence, history): never queued.
        case request(RequestID, ClientCommand.Body)
        // The transport.
        case transportOpened(generation: Int, token: String?)
        /// The attempt failed before the WebSocket opened; `retryAfter` is a refusing node's `Retry-After`.
        case transportFailed(generation: Int, reason: String, retryAfter: Int?)
        case received(generation: Int, ServerMessage)
        case transportClosed(generation: Int, code: UInt16, reason: String)
        // The driver's services.
        case timerFired(ClientTimer)
        /// The token provider's answer to ``Output/fetchRefreshToken(generation:)`` (nil: none).
        case refreshToken(generation: Int, String?)
    }

    /// What the driver must do, in order.
    enum Output: Sendable {
        /// Get a token from the provider and open a transport of this kind; answer with `transportOpened`
        /// or `transportFailed` for this generation.
        case openTransport(generation: Int, TransportKind)
        /// Abandon the transport of `generation`: close it, or stop opening it.
        case closeTransport(generation: Int, CloseCode)
        case send(ClientCommand)
        case arm(ClientTimer, after: Duration)
        case cancel(ClientTimer)
        /// Ask the token provider for a token to refresh with; answer with `refreshToken`.
        case fetchRefreshToken(generation: Int)
        case state(ConnectionState)
        /// Every caller of `connect()` still waiting gets this outcome.
        case settleConnect(Result<Void, RealtimeClientError>)
        /// An application call's outcome: a reply, nothing (done), or an error.
        case settle(RequestID, Result<ServerMessage.Reply?, RealtimeClientError>)
        case deliver(channel: String, ChannelDelivery)
    }
}
