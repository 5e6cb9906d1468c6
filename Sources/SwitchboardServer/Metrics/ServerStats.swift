import Atomics

/// The node's running totals as plain atomic counters, read by the dashboard and `/api/info` without going
/// through any metrics backend (which may be a no-op, or remote).
///
/// Written only by ``ServerMetrics``, so the totals and the exported metrics cannot disagree; read with
/// ``snapshot(now:)``.
public final class ServerStats: Sendable {
    /// When the node started: uptime counts from here.
    public let startedAt: ContinuousClock.Instant

    // Relaxed ordering throughout: each counter is independent, and a snapshot is a set of recent values,
    // not a consistent cut (a message counted in before its bytes is harmless in a once-a-second sample).
    let connections = ManagedAtomic(0)
    let subscriptions = ManagedAtomic(0)
    let channels = ManagedAtomic(0)
    let messagesIn = ManagedAtomic(0)
    let messagesOut = ManagedAtomic(0)
    let bytesIn = ManagedAtomic(0)
    let bytesOut = ManagedAtomic(0)
    let publications = ManagedAtomic(0)
    let slowConsumerDisconnects = ManagedAtomic(0)

    /// Zero totals; uptime counts from `startedAt`.
    public init(startedAt: ContinuousClock.Instant = .now) {
        self.startedAt = startedAt
    }

    /// The current values; `now` is when they are read, for the uptime.
    public func snapshot(now: ContinuousClock.Instant = .now) -> Snapshot {
        let uptime = self.startedAt.duration(to: now).components
        return Snapshot(
            connections: self.connections.load(ordering: .relaxed),
            subscriptions: self.subscriptions.load(ordering: .relaxed),
            channels: self.channels.load(ordering: .relaxed),
            messagesIn: self.messagesIn.load(ordering: .relaxed),
            messagesOut: self.messagesOut.load(ordering: .relaxed),
            bytesIn: self.bytesIn.load(ordering: .relaxed),
            bytesOut: self.bytesOut.load(ordering: .relaxed),
            publications: self.publications.load(ordering: .relaxed),
            slowConsumerDisconnects: self.slowConsumerDisconnects.load(ordering: .relaxed),
            uptime: max(0, Double(uptime.seconds) + Double(uptime.attoseconds) / 1e18)
        )
    }

    /// The node's totals at one moment, as `/api/info` returns them:
    ///
    /// ```json
    /// {"connections":12,"subscriptions":30,"channels":4,"messagesIn":5120,"messagesOut":98001,
    ///  "bytesIn":401233,"bytesOut":7300112,"publications":2210,"slowConsumerDisconnects":1,"uptime":3600.25}
    /// ```
    public struct Snapshot: Sendable, Hashable, Codable {
        /// Open connections, all transports.
        public var connections: Int
        /// Client subscriptions (one client in three channels is three).
        public var subscriptions: Int
        /// Channels with at least one subscriber on this node.
        public var channels: Int
        /// Messages received from clients, since the start.
        public var messagesIn: Int
        /// Messages written to clients, since the start.
        public var messagesOut: Int
        /// Bytes of the messages received (payloads, not counting framing), since the start.
        public var bytesIn: Int
        /// Bytes of the messages written, since the start.
        public var bytesOut: Int
        /// Publications accepted, from clients and the HTTP API, since the start.
        public var publications: Int
        /// Clients disconnected because they did not read fast enough (code 4001), since the start.
        public var slowConsumerDisconnects: Int
        /// Seconds since the node started.
        public var uptime: Double

        public init(connections: Int = 0, subscriptions: Int = 0, channels: Int = 0, messagesIn: Int = 0, messagesOut: Int = 0,
                    bytesIn: Int = 0, bytesOut: Int = 0, publications: Int = 0, slowConsumerDisconnects: Int = 0, uptime: Double = 0) {
            self.connections = connections
            self.subscriptions = subscriptions
            self.channels = channels
            self.messagesIn = messagesIn
            self.messagesOut = messagesOut
            self.bytesIn = bytesIn
            self.bytesOut = bytesOut
            self.publications = publications
            self.slowConsumerDisconnects = slowConsumerDisconnects
            self.uptime = uptime
        }
    }
}
