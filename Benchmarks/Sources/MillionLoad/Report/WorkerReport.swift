import Histogram

/// One stream's deliveries (a user's personal channel, or the broadcast channel) in one phase.
struct StreamTally: Codable, Sendable {
    var deliveries: UInt64 = 0
    /// Publications skipped: the next offset a client got was past the one it expected.
    var missing: UInt64 = 0
    /// Publications a client got again (an offset not above the last one it had).
    var duplicates: UInt64 = 0
    /// A publication or subscribe reply in an epoch the client did not hold: its history was lost.
    var epochChanges: UInt64 = 0

    mutating func add(_ other: StreamTally) {
        self.deliveries += other.deliveries
        self.missing += other.missing
        self.duplicates += other.duplicates
        self.epochChanges += other.epochChanges
    }
}

/// What one worker's clients did in one phase of the run.
struct PhaseTally: Codable, Sendable {
    var personal = StreamTally()
    var broadcast = StreamTally()
    /// Connections that closed without this worker asking (a killed node's clients, or a defect).
    var drops = 0
    /// Those drops by how they ended: the close code, and whether the client's side gave up (a heartbeat it
    /// did not get, a write that failed) or the node closed: which side ended a user's connection.
    var dropCauses: [String: Int] = [:]
    /// Clients subscribed again after a drop.
    var resubscribed = 0
    /// Resubscriptions whose reply said `recovered: true`, and those that said false (history lost).
    var recovered = 0
    var notRecovered = 0
    /// Connect attempts that failed before the client was subscribed.
    var failedAttempts = 0
    /// Of those, the ones a node refused with 503 and `Retry-After` (admission control), which the client waits.
    var refusedAttempts = 0
    /// Subscribes refused for now (202) and asked again on the same connection.
    var subscribeRetries = 0
    /// `disconnect` and `unsubscribed` pushes, error replies, and messages the worker could not read.
    var serverEnded = 0
    var unexpected = 0
    /// The first few of the above, to show.
    var samples: [String] = []

    mutating func note(_ sample: String) {
        if self.samples.count < 3 { self.samples.append(sample) }
    }

    mutating func add(_ other: PhaseTally) {
        self.personal.add(other.personal)
        self.broadcast.add(other.broadcast)
        self.drops += other.drops
        self.dropCauses.merge(other.dropCauses, uniquingKeysWith: +)
        self.resubscribed += other.resubscribed
        self.recovered += other.recovered
        self.notRecovered += other.notRecovered
        self.failedAttempts += other.failedAttempts
        self.refusedAttempts += other.refusedAttempts
        self.subscribeRetries += other.subscribeRetries
        self.serverEnded += other.serverEnded
        self.unexpected += other.unexpected
        for sample in other.samples { self.note(sample) }
    }
}

/// Delivery latency of one phase, in microseconds from the publisher's clock in the data to receipt.
struct PhaseLatency: Codable, Sendable {
    var personal = LatencyHistogram()
    var broadcast = LatencyHistogram()
    /// Personal deliveries to clients whose connection did not drop in this phase: what a node's death
    /// costs the users of the other nodes.
    var personalUndisturbed = LatencyHistogram()

    mutating func add(_ other: PhaseLatency) {
        self.personal.histogram.add(other.personal.histogram)
        self.broadcast.histogram.add(other.broadcast.histogram)
        self.personalUndisturbed.histogram.add(other.personalUndisturbed.histogram)
    }
}

/// A latency histogram (microseconds, up to ten minutes, two significant digits) that travels between
/// processes as its non-empty buckets only: `[[value, count], …]`.
struct LatencyHistogram: Codable, Sendable {
    var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .two)

    init() {}

    mutating func record(_ micros: UInt64) {
        _ = self.histogram.record(min(micros, self.histogram.highestTrackableValue))
    }

    init(from decoder: any Decoder) throws {
        for pair in try [[UInt64]](from: decoder) where pair.count == 2 {
            _ = self.histogram.record(pair[0], count: pair[1])
        }
    }

    func encode(to encoder: any Encoder) throws {
        try self.histogram.recordedValues().map { [$0.value, $0.count] }.encode(to: encoder)
    }
}

/// A line a worker prints on its standard output: its clients' state and the current phase's tallies,
/// every second; with `latency` when the driver asked for a report.
struct WorkerReport: Codable, Sendable {
    var worker: Int
    var phase: String
    /// Clients subscribed to both channels now.
    var live: Int
    /// Clients between a connect attempt and being subscribed, or waiting to reconnect.
    var pending: Int
    /// Clients not started yet (the ramp is still going).
    var notStarted: Int
    /// Subscribed connections whose client had never been live before: the ramp's progress.
    var everLive: Int
    var tally: PhaseTally
    var latency: PhaseLatency?
    /// The users live now, as inclusive ranges of user numbers: only in the answer to `audience`.
    var audience: [[Int]]? = nil
}
