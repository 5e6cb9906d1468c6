import Histogram
import NIOCore

/// Deliveries of one rate step, as seen by some or all subscribers.
struct StepDeliveries: Sendable {
    var received: UInt64 = 0
    /// Offsets a subscriber never saw before a later one arrived.
    var gaps: UInt64 = 0
    /// Publications a subscriber saw again (an offset not above the last one it had).
    var duplicates: UInt64 = 0
    /// Publications in a new epoch: the channel's stream was recreated, so offsets restarted.
    var epochChanges: UInt64 = 0
    /// Monotonic nanoseconds of the last delivery: how long the step took to deliver.
    var lastReceivedAt: UInt64 = 0
    /// Delivery latency in microseconds (send time in the payload to receipt), up to an hour.
    var latency = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)

    mutating func merge(_ other: StepDeliveries) {
        self.received += other.received
        self.gaps += other.gaps
        self.duplicates += other.duplicates
        self.epochChanges += other.epochChanges
        self.lastReceivedAt = max(self.lastReceivedAt, other.lastReceivedAt)
        self.latency.add(other.latency)
    }
}

/// What went wrong with subscribers outside the steps' deliveries.
struct SubscriberIncidents: Sendable {
    /// Subscribed connections that closed during the run.
    var closed = 0
    /// `disconnect` or `unsubscribed` pushes from the server.
    var serverEnded = 0
    /// Error replies once subscribed, and messages the benchmark could not read.
    var unexpected = 0
    /// The first few close statuses and unexpected messages, to show.
    var samples: [String] = []

    mutating func note(_ sample: String) {
        if self.samples.count < 5 { self.samples.append(sample) }
    }

    mutating func merge(_ other: SubscriberIncidents) {
        self.closed += other.closed
        self.serverEnded += other.serverEnded
        self.unexpected += other.unexpected
        for sample in other.samples { self.note(sample) }
    }
}

/// The statistics of every subscriber on one event loop. Subscribers share it so a delivery costs a few
/// additions and a histogram record, and the coordinator collects one object per loop, not 10,000.
///
/// Confined to its event loop: touched only by that loop's subscribers and by closes submitted to it.
final class DeliveryRecorder: @unchecked Sendable {
    let eventLoop: any EventLoop
    private var steps: [StepDeliveries] = []
    private(set) var incidents = SubscriberIncidents()
    /// Subscribed and still open.
    private(set) var live = 0
    /// Steps carry their index in the payload; more than this means the payload was misread.
    static let maximumSteps = 256

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func subscriberBecameLive() { self.live += 1 }

    func subscriberClosed(wasLive: Bool, status: String) {
        if wasLive {
            self.live -= 1
            self.incidents.closed += 1
            self.incidents.note("closed: \(status)")
        }
    }

    func serverEnded(_ description: String) {
        self.incidents.serverEnded += 1
        self.incidents.note(description)
    }

    func unexpected(_ description: String) {
        self.incidents.unexpected += 1
        self.incidents.note(description)
    }

    /// One publication arrived at `now`; `previous` is the subscriber's last offset and epoch fingerprint.
    /// Returns the offset and epoch the subscriber has now.
    func record(_ publication: ScannedPublication, previousOffset: UInt64, previousEpoch: UInt64,
                now: UInt64) -> (offset: UInt64, epoch: UInt64) {
        guard publication.step < Self.maximumSteps else {
            self.unexpected("publication with step \(publication.step)")
            return (previousOffset, previousEpoch)
        }
        while self.steps.count <= publication.step { self.steps.append(StepDeliveries()) }
        return Self.count(publication, previousOffset: previousOffset, previousEpoch: previousEpoch, now: now,
                          into: &self.steps[publication.step])
    }

    /// Counts one delivery into its step (in place: one array access for all the fields).
    private static func count(_ publication: ScannedPublication, previousOffset: UInt64, previousEpoch: UInt64, now: UInt64,
                              into step: inout StepDeliveries) -> (offset: UInt64, epoch: UInt64) {
        step.received += 1
        step.lastReceivedAt = max(step.lastReceivedAt, now)
        let latencyMicroseconds = now > publication.sentNanoseconds ? (now - publication.sentNanoseconds) / 1000 : 0
        _ = step.latency.record(min(latencyMicroseconds, step.latency.highestTrackableValue))
        if publication.epochHash != previousEpoch {
            step.epochChanges += 1
            return (publication.offset, publication.epochHash)
        }
        if publication.offset > previousOffset {
            step.gaps += publication.offset - previousOffset - 1
            return (publication.offset, previousEpoch)
        }
        step.duplicates += 1
        return (previousOffset, previousEpoch)
    }

    /// A copy of one step's statistics so far.
    func deliveries(ofStep step: Int) -> StepDeliveries {
        step < self.steps.count ? self.steps[step] : StepDeliveries()
    }

    /// Just the count, for polling while a step drains (no histogram copy).
    func received(inStep step: Int) -> UInt64 {
        step < self.steps.count ? self.steps[step].received : 0
    }
}
