import BenchmarkSupport
import Histogram
import NIOCore

/// One step's publications, from the publisher's side.
struct StepPublications: Sendable {
    /// Sends the schedule called for.
    var scheduled = 0
    /// Scheduled sends dropped because every connection already had the maximum of requests in flight: the
    /// server is not keeping up with the HTTP API.
    var skipped = 0
    /// Answered 200: these, times the subscribers, are the deliveries to expect.
    var published = 0
    var failed = 0
    var firstFailure: String?
    /// Request to response, microseconds.
    var roundTrip = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
}

/// Publishes over a few keep-alive HTTP connections at a fixed rate, open loop: sends follow a schedule
/// (the n-th at start + n/rate) whatever the responses do, so a slow server shows up as latency and
/// backlog instead of quietly lowering the rate (coordinated omission).
///
/// Confined to its event loop, a loop of its own so subscriber traffic does not delay the schedule.
final class Publisher: @unchecked Sendable {
    struct Settings: Sendable {
        var host: String
        var port: Int
        var apiKey: String
        var channel: String
        var connections: Int
        /// Bytes of the publication's `data` JSON.
        var payloadSize: Int
        /// Requests a connection may have unanswered before sends are skipped.
        var maximumInFlight: Int
    }

    /// The step being sent: which sends are due is computed from the start time, so timer jitter never
    /// lowers the rate (a late tick sends everything due).
    private struct Schedule {
        var step: Int
        var start: UInt64
        var interval: Double
        var total: Int
        var sent = 0
        var done: EventLoopPromise<Void>
    }

    let eventLoop: any EventLoop
    private let settings: Settings
    /// Text that fills each publication's data to its size: words and numbers, so that compression meets
    /// something like a real notification (English-like JSON text deflates to about a third), not a run of
    /// one letter.
    private lazy var padding: [UInt8] = Self.wordyText(count: self.settings.payloadSize)
    private var connections: [PublishConnection] = []
    private var nextConnection = 0
    private var schedule: Schedule?
    private var steps: [StepPublications] = []
    /// The channel's newest offset as the publish responses tell it.
    private var lastOffset: UInt64 = 0

    private init(settings: Settings, eventLoop: any EventLoop) {
        self.settings = settings
        self.eventLoop = eventLoop
    }

    static func connect(_ settings: Settings, eventLoop: any EventLoop) async throws -> Publisher {
        let publisher = Publisher(settings: settings, eventLoop: eventLoop)
        for _ in 0..<settings.connections {
            let connection = PublishConnection(host: settings.host, port: settings.port, apiKey: settings.apiKey) { request, outcome in
                publisher.record(request, outcome)
            }
            try await PublishConnection.connect(host: settings.host, port: settings.port, eventLoop: eventLoop, handler: connection).get()
            try await eventLoop.submit { publisher.connections.append(connection) }.get()
        }
        return publisher
    }

    /// Sends step `step`'s publications, `rate` a second for `seconds`; completes after the last send.
    func run(step: Int, rate: Double, seconds: Double) async throws {
        try await self.eventLoop.flatSubmit {
            let done = self.eventLoop.makePromise(of: Void.self)
            let interval = 1e9 / rate
            self.schedule = Schedule(step: step, start: NIODeadline.now().uptimeNanoseconds, interval: interval,
                                     total: max(1, Int((rate * seconds).rounded())), done: done)
            while self.steps.count <= step { self.steps.append(StepPublications()) }
            // Ticks at least every millisecond; a tick sends whatever is due by then.
            let tick = TimeAmount.nanoseconds(Int64(min(1_000_000, interval)))
            self.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: tick) { task in
                if self.sendDue() { task.cancel() }
            }
            return done.futureResult
        }.get()
    }

    func publications(ofStep step: Int) async throws -> StepPublications {
        try await self.eventLoop.submit { step < self.steps.count ? self.steps[step] : StepPublications() }.get()
    }

    /// Requests sent and not answered yet, all connections together.
    func inFlight() async throws -> Int {
        try await self.eventLoop.submit { self.connections.reduce(0) { $0 + $1.inFlight } }.get()
    }

    func newestOffset() async throws -> UInt64 {
        try await self.eventLoop.submit { self.lastOffset }.get()
    }

    // MARK: - On the event loop

    /// Sends what the schedule says is due now; true when the step has sent everything.
    private func sendDue() -> Bool {
        guard var schedule = self.schedule else { return true }
        let now = NIODeadline.now().uptimeNanoseconds
        let due = min(schedule.total, Int(Double(now &- schedule.start) / schedule.interval) + 1)
        while schedule.sent < due {
            // The intended send time, not the actual one: a late send counts its lateness as latency.
            let intended = schedule.start + UInt64(Double(schedule.sent) * schedule.interval)
            self.publish(step: schedule.step, intendedAt: intended, now: now)
            schedule.sent += 1
        }
        for connection in self.connections { connection.flush() }
        guard schedule.sent >= schedule.total else {
            self.schedule = schedule
            return false
        }
        self.schedule = nil
        schedule.done.succeed()
        return true
    }

    private func publish(step: Int, intendedAt: UInt64, now: UInt64) {
        self.steps[step].scheduled += 1
        guard let connection = self.nextAvailableConnection() else {
            self.steps[step].skipped += 1
            return
        }
        connection.write(body: self.requestBody(step: step, intendedAt: intendedAt), tag: step, sentAt: now)
    }

    /// Round-robin over the open connections that have room.
    private func nextAvailableConnection() -> PublishConnection? {
        for _ in self.connections.indices {
            let connection = self.connections[self.nextConnection]
            self.nextConnection = (self.nextConnection + 1) % self.connections.count
            if connection.isOpen, connection.inFlight < self.settings.maximumInFlight { return connection }
        }
        return nil
    }

    /// `{"channel":C,"data":{"p":"…","s":S,"t":T}}`, the data object padded with text to `payloadSize` bytes.
    private func requestBody(step: Int, intendedAt: UInt64) -> ByteBuffer {
        let tail = #"","s":\#(step),"t":\#(intendedAt)}"#
        let dataPrefix = #"{"p":""#
        let padding = max(0, self.settings.payloadSize - dataPrefix.utf8.count - tail.utf8.count)
        var body = ByteBuffer()
        body.reserveCapacity(64 + self.settings.channel.utf8.count + self.settings.payloadSize)
        body.writeString(#"{"channel":"\#(self.settings.channel)","data":"#)
        body.writeString(dataPrefix)
        body.writeBytes(self.padding.prefix(padding))
        body.writeString(tail)
        body.writeString("}")
        return body
    }

    /// `count` bytes of words and numbers picked by a fixed-seed generator (the same text every run).
    static func wordyText(count: Int) -> [UInt8] {
        let words = ["price", "alert", "order", "shipped", "user", "room", "message", "update", "score", "team", "match",
                     "delivery", "status", "pending", "confirmed", "temperature", "sensor", "reading", "level", "the",
                     "new", "for", "your", "has", "been", "at", "in", "and", "to", "of"]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var text: [UInt8] = []
        text.reserveCapacity(count + 16)
        while text.count < count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let pick = Int(state >> 33)
            if pick % 4 == 0 { text += Array(String(pick % 100_000).utf8) } else { text += Array(words[pick % words.count].utf8) }
            text.append(UInt8(ascii: " "))
        }
        return Array(text.prefix(count))
    }

    private func record(_ request: PendingPublish, _ outcome: PublishOutcome) {
        let now = NIODeadline.now().uptimeNanoseconds
        let roundTrip = now > request.sentAt ? (now - request.sentAt) / 1000 : 0
        _ = self.steps[request.tag].roundTrip.record(min(roundTrip, self.steps[request.tag].roundTrip.highestTrackableValue))
        switch outcome {
        case .published(let offset):
            self.steps[request.tag].published += 1
            self.lastOffset = max(self.lastOffset, offset)
        case .failed(let reason):
            self.steps[request.tag].failed += 1
            if self.steps[request.tag].firstFailure == nil { self.steps[request.tag].firstFailure = reason }
        }
    }
}
