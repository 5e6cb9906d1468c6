/// One point of the dashboard's charts: the node's state at time `t` and its rates since the point before.
///
/// The dashboard page reads exactly this JSON; change both together:
///
/// ```json
/// {"t":1732170000000,"connections":12,"subscriptions":30,"channels":4,"messagesInPerSecond":8.5,
///  "messagesOutPerSecond":120,"publicationsPerSecond":4,"bytesOutPerSecond":9600,"slowConsumers":1,"uptime":3600.25}
/// ```
public struct DashboardSample: Sendable, Hashable, Codable {
    /// When the sample was taken: milliseconds since the Unix epoch, on the server's wall clock.
    public var t: Int64
    /// Open connections, all transports (now).
    public var connections: Int
    /// Client subscriptions (now).
    public var subscriptions: Int
    /// Channels with subscribers on this node (now).
    public var channels: Int
    /// Messages from clients per second since the previous sample (0 in the first).
    public var messagesInPerSecond: Double
    /// Messages written to clients per second since the previous sample.
    public var messagesOutPerSecond: Double
    /// Publications accepted per second since the previous sample.
    public var publicationsPerSecond: Double
    /// Bytes written to clients per second since the previous sample.
    public var bytesOutPerSecond: Double
    /// Slow-consumer disconnects since the node started (a total, not a rate: they should be rare).
    public var slowConsumers: Int
    /// Seconds since the node started.
    public var uptime: Double

    public init(t: Int64, connections: Int, subscriptions: Int, channels: Int, messagesInPerSecond: Double,
                messagesOutPerSecond: Double, publicationsPerSecond: Double, bytesOutPerSecond: Double,
                slowConsumers: Int, uptime: Double) {
        self.t = t
        self.connections = connections
        self.subscriptions = subscriptions
        self.channels = channels
        self.messagesInPerSecond = messagesInPerSecond
        self.messagesOutPerSecond = messagesOutPerSecond
        self.publicationsPerSecond = publicationsPerSecond
        self.bytesOutPerSecond = bytesOutPerSecond
        self.slowConsumers = slowConsumers
        self.uptime = uptime
    }
}

/// Turns a series of ``ServerStats`` snapshots into ``DashboardSample``s and keeps the latest `capacity`
/// of them (300: five minutes at one a second).
///
/// A value type with no clock: the caller takes a snapshot (whose `uptime` is monotonic, so rates are right
/// even when the wall clock jumps) and says what the wall-clock time is. ``DashboardFeed`` drives one every
/// second.
public struct StatsSampler: Sendable {
    /// The most samples kept; older ones are dropped.
    public let capacity: Int
    /// Oldest first until full; then a ring whose oldest sample is at `oldest`.
    private var ring: [DashboardSample] = []
    private var oldest = 0
    private var previous: ServerStats.Snapshot?

    /// An empty sampler that keeps the newest `capacity` samples.
    public init(capacity: Int = 300) {
        precondition(capacity >= 1, "a sampler keeps at least one sample")
        self.capacity = capacity
        self.ring.reserveCapacity(capacity)
    }

    /// Records `snapshot`, taken at `unixMilliseconds` on the wall clock, and returns its sample.
    ///
    /// Rates are the change of each total since the previous snapshot divided by the change of `uptime`; they
    /// are 0 for the first snapshot, when no time has passed, and for a total that went down (which only a
    /// snapshot of another ``ServerStats`` could show).
    @discardableResult
    public mutating func sample(_ snapshot: ServerStats.Snapshot, unixMilliseconds: Int64) -> DashboardSample {
        var sample = DashboardSample(
            t: unixMilliseconds, connections: snapshot.connections, subscriptions: snapshot.subscriptions,
            channels: snapshot.channels, messagesInPerSecond: 0, messagesOutPerSecond: 0, publicationsPerSecond: 0,
            bytesOutPerSecond: 0, slowConsumers: snapshot.slowConsumerDisconnects, uptime: snapshot.uptime
        )
        if let previous = self.previous, snapshot.uptime > previous.uptime {
            let seconds = snapshot.uptime - previous.uptime
            func rate(_ total: KeyPath<ServerStats.Snapshot, Int>) -> Double {
                let change = snapshot[keyPath: total] - previous[keyPath: total]
                return change > 0 ? Double(change) / seconds : 0
            }
            sample.messagesInPerSecond = rate(\.messagesIn)
            sample.messagesOutPerSecond = rate(\.messagesOut)
            sample.publicationsPerSecond = rate(\.publications)
            sample.bytesOutPerSecond = rate(\.bytesOut)
        }
        // A snapshot from the past would make the next rates span the wrong interval: keep the newest.
        if self.previous.map({ snapshot.uptime >= $0.uptime }) ?? true {
            self.previous = snapshot
        }
        self.append(sample)
        return sample
    }

    /// The kept samples, oldest first.
    public var samples: [DashboardSample] {
        Array(self.ring[self.oldest...] + self.ring[..<self.oldest])
    }

    /// The newest sample.
    public var latest: DashboardSample? {
        guard !self.ring.isEmpty else { return nil }
        return self.ring[(self.oldest + self.ring.count - 1) % self.ring.count]
    }

    private mutating func append(_ sample: DashboardSample) {
        if self.ring.count < self.capacity {
            self.ring.append(sample)
        } else {
            self.ring[self.oldest] = sample
            self.oldest = (self.oldest + 1) % self.capacity
        }
    }
}
