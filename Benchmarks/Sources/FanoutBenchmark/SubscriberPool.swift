import NIOCore
import SwitchboardProtocol
import SwitchboardWebSocketNIO

/// Every subscriber, spread over the client's event loops, and the one recorder per loop they report to.
final class SubscriberPool: Sendable {
    struct RampResult: Sendable {
        var subscribed: Int
        var failed: Int
        var firstFailures: [String]
        var seconds: Double
    }

    private let recorders: [DeliveryRecorder]
    /// Subscribers grouped by their recorder's loop; only that loop touches them.
    private let subscribers: [[Subscriber]]

    init(count: Int, channel: String, encoding: WireEncoding, eventLoopGroup: any EventLoopGroup) {
        let recorders = eventLoopGroup.makeIterator().map { DeliveryRecorder(eventLoop: $0) }
        self.recorders = recorders
        self.subscribers = recorders.indices.map { loopIndex in
            // Round-robin over the loops, as `group.next()` would.
            stride(from: loopIndex, to: count, by: recorders.count).map { _ in
                Subscriber(channel: channel, recorder: recorders[loopIndex], encoding: encoding)
            }
        }
    }

    /// Connects and subscribes everyone with at most `concurrency` attempts in flight (a burst of 10,000
    /// connects at once would overflow the server's accept backlog and time out on a busy machine).
    /// Subscriber `i` connects to `urls[i % urls.count]`: several nodes share the subscribers evenly.
    func connectAll(urls: [String], configuration: WebSocketClientConfiguration, concurrency: Int,
                    timeout: TimeAmount, progress: @Sendable (Int) -> Void) async -> RampResult {
        let start = NIODeadline.now()
        var result = RampResult(subscribed: 0, failed: 0, firstFailures: [], seconds: 0)
        // Interleave the loops' subscribers so each loop gets its share of the ramp from the start.
        let order = (0..<(self.subscribers.map(\.count).max() ?? 0)).flatMap { index in
            self.subscribers.compactMap { index < $0.count ? $0[index] : nil }
        }
        await withTaskGroup(of: String?.self) { group in
            func collect(_ outcome: String??) {
                guard case .some(let failure) = outcome else { return }
                if let failure {
                    result.failed += 1
                    if result.firstFailures.count < 5 { result.firstFailures.append(failure) }
                } else {
                    result.subscribed += 1
                }
                let done = result.subscribed + result.failed
                if done % 1000 == 0 || done == order.count { progress(done) }
            }
            for (index, subscriber) in order.enumerated() {
                if index >= concurrency { collect(await group.next()) }
                group.addTask {
                    do {
                        try await subscriber.start(url: urls[index % urls.count], configuration: configuration, timeout: timeout).get()
                        return nil
                    } catch {
                        return "\(error)"
                    }
                }
            }
            while let outcome = await group.next() { collect(outcome) }
        }
        result.seconds = Double((NIODeadline.now() - start).nanoseconds) / 1e9
        return result
    }

    /// Subscribed and still open, all loops together.
    func liveCount() async throws -> Int {
        try await self.onEachLoop { $0.live }.reduce(0, +)
    }

    /// Deliveries received so far in `step`, without copying histograms (for polling).
    func received(inStep step: Int) async throws -> UInt64 {
        try await self.onEachLoop { $0.received(inStep: step) }.reduce(0, +)
    }

    func deliveries(ofStep step: Int) async throws -> StepDeliveries {
        var total = StepDeliveries()
        for deliveries in try await self.onEachLoop({ $0.deliveries(ofStep: step) }) { total.merge(deliveries) }
        return total
    }

    func incidents() async throws -> SubscriberIncidents {
        var total = SubscriberIncidents()
        for incidents in try await self.onEachLoop({ $0.incidents }) { total.merge(incidents) }
        return total
    }

    /// Publications live subscribers are missing at the end: how far each one's last offset is behind the
    /// channel's last offset. Gaps inside the run are counted per step; this catches a lost tail.
    func missingTail(lastOffset: UInt64) async throws -> UInt64 {
        var missing: UInt64 = 0
        for (loopIndex, recorder) in self.recorders.enumerated() {
            let subscribers = self.subscribers[loopIndex]
            missing += try await recorder.eventLoop.submit {
                subscribers.reduce(UInt64(0)) { sum, subscriber in
                    subscriber.isLive && subscriber.offset < lastOffset ? sum + (lastOffset - subscriber.offset) : sum
                }
            }.get()
        }
        return missing
    }

    private func onEachLoop<Value: Sendable>(_ body: @escaping @Sendable (DeliveryRecorder) -> Value) async throws -> [Value] {
        var values: [Value] = []
        for recorder in self.recorders {
            values.append(try await recorder.eventLoop.submit { body(recorder) }.get())
        }
        return values
    }
}
