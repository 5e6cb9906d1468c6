import BenchmarkSupport
import NIOCore
import NIOPosix

/// What one publishing stretch sent.
struct PublishCounts: Sendable {
    var personalAcknowledged = 0
    var broadcastAcknowledged = 0
    var failed = 0
    /// Sends not made because every connection already had `maxInFlight` requests waiting: the nodes fell behind.
    var skipped = 0
    /// Requests still unanswered when the stretch stopped waiting (``NotificationPublisher/answerWait`` after
    /// its last send): their outcome is unknown, so they are not counted as sent.
    var unanswered = 0
    var firstFailure: String?
}

/// The back-end of the notification service: publishes through the nodes' HTTP API (`POST /api/publish`)
/// over a few keep-alive connections with pipelined requests, at a steady rate to random users' personal
/// channels, and to the broadcast channel. Each publication's data carries `t`, the `CLOCK_REALTIME`
/// nanoseconds when it was sent, for the clients to time it.
///
/// Confined to its own event loop.
final class NotificationPublisher: @unchecked Sendable {
    private let eventLoop: any EventLoop
    /// Who gets personal notifications: the users live when the phases began (a ramp that stalled leaves
    /// some never connected, whose notifications nobody could receive), as ranges of user numbers.
    private let users: [ClosedRange<Int>]
    /// Users in `users` up to and including each range, for a uniform draw over all of them.
    private let cumulative: [Int]
    private let personalNamespace: String
    private let broadcastChannel: String
    private var connections: [PublishConnection] = []
    private var counts = PublishCounts()
    private var next = 0
    private var reconnecting: Set<Int> = []
    /// The current stretch: what has been sent of it.
    private var sentPersonal = 0
    private var sentBroadcasts = 0
    private static let maxInFlight = 2_000
    /// How long a stretch waits for its answers after its last send. A node that is alive but starved (a
    /// reconnect storm on a machine out of CPU) may hold a request for minutes; the run reports it rather
    /// than waiting for it.
    static let answerWait = 60.0

    init(users: [ClosedRange<Int>], personalNamespace: String, broadcastChannel: String, eventLoop: any EventLoop) {
        precondition(!users.isEmpty, "notifications need at least one live user")
        self.users = users
        var total = 0
        self.cumulative = users.map { range in
            total += range.count
            return total
        }
        self.personalNamespace = personalNamespace
        self.broadcastChannel = broadcastChannel
        self.eventLoop = eventLoop
    }

    func connect(host: String, port: Int, apiKey: String, connections: Int) async throws {
        for slot in 0..<connections {
            let connection = self.makeConnection(host: host, port: port, apiKey: apiKey, slot: slot)
            try await PublishConnection.connect(host: host, port: port, eventLoop: self.eventLoop, handler: connection).get()
            try await self.eventLoop.submit { self.connections.append(connection) }.get()
        }
    }

    private func makeConnection(host: String, port: Int, apiKey: String, slot: Int) -> PublishConnection {
        PublishConnection(host: host, port: port, apiKey: apiKey) { [self] request, outcome in
            switch outcome {
            case .published:
                if request.tag == 1 { self.counts.broadcastAcknowledged += 1 } else { self.counts.personalAcknowledged += 1 }
            case .failed(let reason):
                // A request in flight to a node that died has an unknown outcome: it is not counted as sent,
                // so if it was published after all, its deliveries only exceed what the table expects.
                self.counts.failed += 1
                if self.counts.firstFailure == nil { self.counts.firstFailure = reason }
                self.replaceIfClosed(slot: slot, host: host, port: port, apiKey: apiKey)
            }
        }
    }

    /// A back-end whose connection broke (its node was killed) opens another; the kernel picks a live node.
    private func replaceIfClosed(slot: Int, host: String, port: Int, apiKey: String) {
        guard slot < self.connections.count, !self.connections[slot].isOpen, !self.reconnecting.contains(slot) else { return }
        self.reconnecting.insert(slot)
        let connection = self.makeConnection(host: host, port: port, apiKey: apiKey, slot: slot)
        PublishConnection.connect(host: host, port: port, eventLoop: self.eventLoop, handler: connection).whenComplete { result in
            self.reconnecting.remove(slot)
            if case .success = result { self.connections[slot] = connection }
        }
    }

    /// Publishes `rate` personal notifications a second for `seconds` (and a broadcast every
    /// `broadcastEvery` seconds when given, the first `firstBroadcast` seconds in), then waits for every
    /// response, up to ``answerWait``; returns what was sent.
    func run(rate: Double, seconds: Double, broadcastEvery: Double? = nil, firstBroadcast: Double = 0) async throws -> PublishCounts {
        let done = self.eventLoop.makePromise(of: PublishCounts.self)
        self.eventLoop.execute {
            self.counts = PublishCounts()
            self.sentPersonal = 0
            self.sentBroadcasts = 0
            let start = NIODeadline.now().uptimeNanoseconds
            self.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { task in
                let elapsed = Double(NIODeadline.now().uptimeNanoseconds - start) / 1e9
                let due = Int(min(elapsed, seconds) * rate)
                while self.sentPersonal < due {
                    self.send(channel: "\(self.personalNamespace):u\(self.randomUser())", tag: 0)
                    self.sentPersonal += 1
                }
                if let every = broadcastEvery, firstBroadcast + Double(self.sentBroadcasts) * every <= min(elapsed, seconds) {
                    self.send(channel: self.broadcastChannel, tag: 1)
                    self.sentBroadcasts += 1
                }
                for connection in self.connections { connection.flush() }
                guard elapsed >= seconds else { return }
                let waiting = self.connections.reduce(0) { $0 + $1.inFlight }
                if waiting == 0 || elapsed >= seconds + Self.answerWait {
                    self.counts.unanswered = waiting
                    task.cancel()
                    done.succeed(self.counts)
                }
            }
        }
        return try await done.futureResult.get()
    }

    /// One broadcast publication; returns once it is acknowledged.
    func broadcastOnce() async throws -> PublishCounts {
        try await self.run(rate: 0, seconds: 0, broadcastEvery: 1)
    }

    private func nextOpenConnection() -> PublishConnection? {
        for _ in self.connections.indices {
            let connection = self.connections[self.next % self.connections.count]
            self.next &+= 1
            if connection.isOpen { return connection }
        }
        return nil
    }

    private func send(channel: String, tag: Int) {
        guard let connection = self.nextOpenConnection(), connection.inFlight < Self.maxInFlight else {
            self.counts.skipped += 1
            return
        }
        let sentAt = ClientPool.realtimeNanoseconds()
        let body = ByteBuffer(string: #"{"channel":"\#(channel)","data":{"t":\#(sentAt)}}"#)
        connection.write(body: body, tag: tag, sentAt: sentAt)
    }

    private func randomUser() -> Int {
        let draw = Int.random(in: 0..<self.cumulative.last!)
        // The first range whose cumulative count passes the draw.
        var low = 0
        var high = self.cumulative.count - 1
        while low < high {
            let middle = (low + high) / 2
            if self.cumulative[middle] > draw { high = middle } else { low = middle + 1 }
        }
        let before = low == 0 ? 0 : self.cumulative[low - 1]
        return self.users[low].lowerBound + (draw - before)
    }
}
