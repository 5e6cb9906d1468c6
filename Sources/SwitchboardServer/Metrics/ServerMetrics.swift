import Metrics
import SwitchboardProtocol

/// The node's metrics, through swift-metrics (so any backend works: Prometheus via ``PrometheusExporter``,
/// StatsD, a test factory), and its running totals in ``stats`` for the dashboard and `/api/info`.
///
/// One instance per node; every method is safe from any thread and cheap enough for the per-message path:
/// each metric object is created once, in `init`, and a call is an array or small-integer dictionary lookup
/// plus an atomic add. No call formats a string or creates a metric.
///
/// | Metric | Type | Labels | Call |
/// |---|---|---|---|
/// | `switchboard_connections` | gauge | `transport` = websocket, sse | ``connectionOpened(_:)`` / `connectionClosed(_:code:)` |
/// | `switchboard_compressed_connections` | gauge | | ``compressedConnectionOpened()`` / ``compressedConnectionClosed()`` |
/// | `switchboard_subscriptions` | gauge | | ``subscribed()`` / ``unsubscribed()`` |
/// | `switchboard_channels` | gauge | | ``channelOpened()`` / ``channelClosed()`` |
/// | `switchboard_messages_in_total`, `switchboard_bytes_in_total` | counter | | ``messageReceived(bytes:)`` |
/// | `switchboard_messages_out_total`, `switchboard_bytes_out_total` | counter | | ``messagesSent(count:bytes:)`` |
/// | `switchboard_publications_total` | counter | `source` = client, api | ``publicationAccepted(_:)`` |
/// | `switchboard_disconnects_total` | counter | `code` | `connectionClosed(_:code:)` |
/// | `switchboard_slow_consumer_disconnects_total` | counter | | `connectionClosed(_:code:)` with 4001 |
/// | `switchboard_refused_connections_total` | counter | `reason` | ``connectionRefused(_:)`` |
/// | `switchboard_command_errors_total` | counter | `code` | ``commandFailed(_:)`` |
/// | `switchboard_rate_limited_commands_total` | counter | | ``commandFailed(_:)`` with 201 |
/// | `switchboard_command_duration_seconds` | timer | `command` = connect, subscribe, … | ``commandCompleted(_:duration:)`` |
/// | `switchboard_delivery_latency_seconds` | timer | | ``publicationDelivered(latency:)`` |
/// | `switchboard_event_loop_lag_seconds` | timer | | ``eventLoopLagged(nanoseconds:)`` |
/// | `switchboard_tickets_total` | counter | `outcome` = minted, redeemed, refused | ``ticketMinted()``, ``ticketRedeemed(_:)`` |
///
/// Codes not in the protocol's table (`DisconnectCode`, `ErrorCode`) or RFC 6455's close codes are counted
/// under `code="other"`: a peer chooses its own close code, and must not be able to create time series.
public final class ServerMetrics: Sendable {
    /// The running totals the same calls update.
    public let stats: ServerStats

    private let connections: [Meter]
    private let compressedConnections: Meter
    private let subscriptions: Meter
    private let channels: Meter
    private let messagesIn: Counter
    private let messagesOut: Counter
    private let bytesIn: Counter
    private let bytesOut: Counter
    private let publications: [Counter]
    private let disconnects: [UInt16: Counter]
    private let otherDisconnects: Counter
    private let slowConsumerDisconnects: Counter
    private let refusedConnections: [Counter]
    private let commandErrors: [UInt16: Counter]
    private let otherCommandErrors: Counter
    private let rateLimitedCommands: Counter
    private let commandDurations: [Timer]
    private let deliveryLatency: Timer
    private let eventLoopLag: Timer
    /// minted, redeemed, refused
    private let tickets: [Counter]

    /// Disconnect codes with a series of their own: the protocol's table (keep in step with
    /// `DisconnectCode`) and the RFC 6455 §7.4.1 close codes a connection can end with (1006: no close frame).
    static let knownDisconnectCodes: [UInt16] = [1000, 1001, 1002, 1003, 1006, 1007, 1008, 1009, 1010, 1011]
        + [DisconnectCode.shutdown, .slowConsumer, .heartbeatTimeout, .tokenExpired, .rateLimited, .internalError,
           .ticketRefused, .unauthorized, .forced, .badProtocol, .connectionLimit].map(\.rawValue)

    /// Error codes with a series of their own: the protocol's table (keep in step with `ErrorCode`).
    static let knownErrorCodes: [UInt16] = [ErrorCode.badRequest, .unknownCommand, .unauthorized, .permissionDenied,
        .unknownChannel, .alreadySubscribed, .notSubscribed, .notAvailable, .limitExceeded, .tokenExpired, .notConnected,
        .alreadyConnected, .messageTooLarge, .positionNotRetained, .ticketRefused, .internalError, .rateLimited, .unavailable,
        .outcomeUnknown].map(\.rawValue)

    /// The `command` label values, in the order of ``commandIndex(_:)``.
    static let commandTypes = ["connect", "subscribe", "unsubscribe", "publish", "presence", "history", "refresh", "ping"]

    /// Creates every metric at once through `factory`.
    ///
    /// - Parameters:
    ///   - factory: the backend; `MetricsSystem.factory` (the bootstrapped one) by default. Tests pass their own
    ///     (`TestMetrics`, or a ``PrometheusExporter``'s `factory`) and need no global bootstrap.
    ///   - stats: the totals to update; a fresh set, starting now, by default.
    public init(factory: any MetricsFactory = MetricsSystem.factory, stats: ServerStats = ServerStats()) {
        self.stats = stats
        func counter(_ label: String, _ dimensions: [(String, String)] = []) -> Counter {
            Counter(label: label, dimensions: dimensions, factory: factory)
        }
        self.connections = Transport.all.map {
            Meter(label: "switchboard_connections", dimensions: [("transport", $0.description)], factory: factory)
        }
        self.compressedConnections = Meter(label: "switchboard_compressed_connections", factory: factory)
        self.subscriptions = Meter(label: "switchboard_subscriptions", factory: factory)
        self.channels = Meter(label: "switchboard_channels", factory: factory)
        self.messagesIn = counter("switchboard_messages_in_total")
        self.messagesOut = counter("switchboard_messages_out_total")
        self.bytesIn = counter("switchboard_bytes_in_total")
        self.bytesOut = counter("switchboard_bytes_out_total")
        self.publications = PublicationSource.all.map { counter("switchboard_publications_total", [("source", $0.description)]) }
        self.disconnects = Dictionary(uniqueKeysWithValues: Self.knownDisconnectCodes.map {
            ($0, counter("switchboard_disconnects_total", [("code", String($0))]))
        })
        self.otherDisconnects = counter("switchboard_disconnects_total", [("code", "other")])
        self.slowConsumerDisconnects = counter("switchboard_slow_consumer_disconnects_total")
        self.refusedConnections = RefusalReason.all.map { counter("switchboard_refused_connections_total", [("reason", $0.description)]) }
        self.commandErrors = Dictionary(uniqueKeysWithValues: Self.knownErrorCodes.map {
            ($0, counter("switchboard_command_errors_total", [("code", String($0))]))
        })
        self.otherCommandErrors = counter("switchboard_command_errors_total", [("code", "other")])
        self.rateLimitedCommands = counter("switchboard_rate_limited_commands_total")
        self.commandDurations = Self.commandTypes.map {
            Timer(label: "switchboard_command_duration_seconds", dimensions: [("command", $0)], factory: factory)
        }
        self.deliveryLatency = Timer(label: "switchboard_delivery_latency_seconds", factory: factory)
        self.eventLoopLag = Timer(label: "switchboard_event_loop_lag_seconds", factory: factory)
        self.tickets = ["minted", "redeemed", "refused"].map { counter("switchboard_tickets_total", [("outcome", $0)]) }
    }

    // MARK: Connect tickets

    /// `POST /connection/ticket` handed out a ticket.
    public func ticketMinted() {
        self.tickets[0].increment()
    }

    /// A connection presented a ticket: it opened the connection, or was refused.
    public func ticketRedeemed(_ accepted: Bool) {
        self.tickets[accepted ? 1 : 2].increment()
    }

    // MARK: Connections

    /// A connection opened (after it passed the limits and the handshake).
    public func connectionOpened(_ transport: Transport) {
        self.connections[transport.index].increment()
        self.stats.connections.wrappingIncrement(ordering: .relaxed)
    }

    /// A WebSocket connection agreed permessage-deflate: it holds no zlib stream of its own (its messages
    /// are compressed with its event loop's), only while a compressed message from it is read.
    public func compressedConnectionOpened() {
        self.compressedConnections.increment()
    }

    /// A connection that ``compressedConnectionOpened()`` counted has ended.
    public func compressedConnectionClosed() {
        self.compressedConnections.decrement()
    }

    /// A connection that ``connectionOpened(_:)`` counted has ended, with this close or disconnect code
    /// (`DisconnectCode` raw values, or RFC 6455 codes such as 1000 and 1006). Code 4001 also counts as a
    /// slow-consumer disconnect.
    public func connectionClosed(_ transport: Transport, code: UInt16) {
        self.connections[transport.index].decrement()
        self.stats.connections.wrappingDecrement(ordering: .relaxed)
        (self.disconnects[code] ?? self.otherDisconnects).increment()
        if code == DisconnectCode.slowConsumer.rawValue {
            self.slowConsumerDisconnects.increment()
            self.stats.slowConsumerDisconnects.wrappingIncrement(ordering: .relaxed)
        }
    }

    /// `connectionClosed(_:code:)` for a protocol disconnect code.
    public func connectionClosed(_ transport: Transport, code: DisconnectCode) {
        self.connectionClosed(transport, code: code.rawValue)
    }

    /// A connection was refused before it opened (it was never counted as open).
    public func connectionRefused(_ reason: RefusalReason) {
        self.refusedConnections[reason.index].increment()
    }

    // MARK: Subscriptions and channels

    /// A client subscribed to a channel.
    public func subscribed() {
        self.subscriptions.increment()
        self.stats.subscriptions.wrappingIncrement(ordering: .relaxed)
    }

    /// A client left a channel (unsubscribed or disconnected).
    public func unsubscribed() {
        self.subscriptions.decrement()
        self.stats.subscriptions.wrappingDecrement(ordering: .relaxed)
    }

    /// A channel got its first subscriber on this node.
    public func channelOpened() {
        self.channels.increment()
        self.stats.channels.wrappingIncrement(ordering: .relaxed)
    }

    /// A channel lost its last subscriber on this node.
    public func channelClosed() {
        self.channels.decrement()
        self.stats.channels.wrappingDecrement(ordering: .relaxed)
    }

    // MARK: Messages

    /// A message arrived from a client (`bytes`: its payload).
    public func messageReceived(bytes: Int) {
        self.messagesIn.increment()
        self.bytesIn.increment(by: bytes)
        self.stats.messagesIn.wrappingIncrement(ordering: .relaxed)
        self.stats.bytesIn.wrappingIncrement(by: bytes, ordering: .relaxed)
    }

    /// Messages were written to clients: one, or a whole broadcast at once (`count` recipients, `bytes` in
    /// all), which costs the same as one.
    public func messagesSent(count: Int = 1, bytes: Int) {
        self.messagesOut.increment(by: count)
        self.bytesOut.increment(by: bytes)
        self.stats.messagesOut.wrappingIncrement(by: count, ordering: .relaxed)
        self.stats.bytesOut.wrappingIncrement(by: bytes, ordering: .relaxed)
    }

    /// The broker accepted a publication (it has an offset).
    public func publicationAccepted(_ source: PublicationSource) {
        self.publications[source.index].increment()
        self.stats.publications.wrappingIncrement(ordering: .relaxed)
    }

    /// A publication reached a subscriber's socket `latency` after it was accepted. Record it per written
    /// batch, or for a sample of recipients: the histogram takes a lock per value.
    public func publicationDelivered(latency: Duration) {
        self.deliveryLatency.recordNanoseconds(Self.nanoseconds(latency))
    }

    /// An event loop's probe timer ran this late (a few times a second per loop): how far behind the node is.
    public func eventLoopLagged(nanoseconds: Int64) {
        self.eventLoopLag.recordNanoseconds(nanoseconds)
    }

    // MARK: Commands

    /// A command was answered, `duration` after it was read.
    public func commandCompleted(_ command: ClientCommand, duration: Duration) {
        self.commandDurations[Self.commandIndex(command.body)].recordNanoseconds(Self.nanoseconds(duration))
    }

    /// A command got an error reply. `ErrorCode/rateLimited` also counts as a rate-limited command.
    public func commandFailed(_ code: ErrorCode) {
        (self.commandErrors[code.rawValue] ?? self.otherCommandErrors).increment()
        if code == .rateLimited {
            self.rateLimitedCommands.increment()
        }
    }

    /// The position of the command's type in ``commandTypes``. Exhaustive on purpose: a new command in the
    /// protocol does not compile here until it has a series.
    static func commandIndex(_ body: ClientCommand.Body) -> Int {
        switch body {
        case .connect: 0
        case .subscribe: 1
        case .unsubscribe: 2
        case .publish: 3
        case .presence: 4
        case .history: 5
        case .refresh: 6
        case .ping: 7
        }
    }

    /// Whole nanoseconds, clamped to `Int64` (a negative duration, from clocks compared wrongly, is 0).
    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        guard seconds < Int64.max / 1_000_000_000 else { return .max }
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
