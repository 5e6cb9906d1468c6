import Foundation
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Samples the node's ``ServerStats`` once a second and streams them to dashboard pages as Server-Sent Events.
///
/// Each stream from ``events()`` starts with one `history` event, then one `sample` event per second:
///
/// ```
/// retry: 2000
/// event: history
/// data: [{"t":1732170000000,"connections":12,…}, …]      ← up to 300 samples, oldest first
///
/// event: sample
/// data: {"t":1732170001000,"connections":13,…}           ← a DashboardSample
/// ```
///
/// A page that reconnects gets the whole history again, so events carry no `id`. Every event is encoded once
/// and the same text goes to every page. A page that stops reading loses old samples, never grows memory.
///
/// Run it as a `Service` (it samples every second and, on graceful shutdown, ends every stream so the HTTP
/// server can drain), or call ``run(every:clock:)``, or drive ``tick(now:unixMilliseconds:)`` yourself.
public final class DashboardFeed: Sendable {
    /// The totals sampled.
    public let stats: ServerStats
    /// Open streams beyond this are refused: each costs a little work every second.
    public let maxSubscribers: Int
    private let state: NIOLockedValueBox<State>

    private struct State {
        var sampler: StatsSampler
        var subscribers: [Int: AsyncStream<String>.Continuation] = [:]
        var nextSubscriber = 0
        /// After shutdown, new streams end at once instead of waiting for samples that will not come.
        var finished = false
    }

    /// How many unread events a stream holds before it drops the oldest.
    static let streamBuffer = 16

    /// - Parameters:
    ///   - stats: the totals to sample (``ServerMetrics/stats``).
    ///   - capacity: samples kept for a new page's history; 300 is five minutes at one a second.
    ///   - maxSubscribers: open streams beyond this are refused.
    public init(stats: ServerStats, capacity: Int = 300, maxSubscribers: Int = 100) {
        self.stats = stats
        self.maxSubscribers = maxSubscribers
        self.state = NIOLockedValueBox(State(sampler: StatsSampler(capacity: capacity)))
    }

    /// A stream of SSE event texts (the `history` event first), ready to write to a response body as they
    /// are; or nil when ``maxSubscribers`` streams are open (answer 503). The stream ends when the feed shuts
    /// down; stopping iteration unsubscribes.
    public func events() -> AsyncStream<String>? {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(Self.streamBuffer))
        let admitted = self.state.withLockedValue { state -> Bool in
            guard state.subscribers.count < self.maxSubscribers else { return false }
            // History and registration under one lock: no sample falls between the two or shows up in both.
            continuation.yield(Self.historyEvent(state.sampler.samples))
            guard !state.finished else {
                continuation.finish()
                return true
            }
            let id = state.nextSubscriber
            state.nextSubscriber += 1
            state.subscribers[id] = continuation
            continuation.onTermination = { [weak self] _ in
                self?.state.withLockedValue { _ = $0.subscribers.removeValue(forKey: id) }
            }
            return true
        }
        return admitted ? stream : nil
    }

    /// Open streams.
    public var subscriberCount: Int {
        self.state.withLockedValue { $0.subscribers.count }
    }

    /// The kept samples, oldest first.
    public var samples: [DashboardSample] {
        self.state.withLockedValue { $0.sampler.samples }
    }

    /// Takes one sample now and sends it to every stream.
    @discardableResult
    public func tick(now: ContinuousClock.Instant = .now, unixMilliseconds: Int64 = DashboardFeed.unixMilliseconds()) -> DashboardSample {
        let snapshot = self.stats.snapshot(now: now)
        return self.state.withLockedValue { state in
            let sample = state.sampler.sample(snapshot, unixMilliseconds: unixMilliseconds)
            let event = Self.sampleEvent(sample)
            for continuation in state.subscribers.values {
                continuation.yield(event)
            }
            return sample
        }
    }

    /// Ticks every `interval` of `clock` until the task is cancelled or the service group shuts down
    /// gracefully, then ends every stream.
    public func run(every interval: Duration, clock: some Clock<Duration> = ContinuousClock()) async {
        await cancelWhenGracefulShutdown {
            // Sleeping until deadlines, not for intervals, keeps ticks on a one-second grid however long each
            // tick takes; after a stall (a suspended process) the grid restarts instead of catching up in a burst.
            var deadline = clock.now.advanced(by: interval)
            while true {
                do {
                    try await clock.sleep(until: deadline, tolerance: nil)
                } catch {
                    return  // cancelled
                }
                self.tick()
                deadline = deadline.advanced(by: interval)
                if deadline < clock.now {
                    deadline = clock.now.advanced(by: interval)
                }
            }
        }
        self.finish()
    }

    /// Ends every stream, and every stream opened later at once (after its history).
    public func finish() {
        let subscribers = self.state.withLockedValue { state in
            state.finished = true
            defer { state.subscribers = [:] }
            return state.subscribers.values
        }
        // Outside the lock: finishing runs each stream's onTermination, which takes the lock.
        for continuation in subscribers {
            continuation.finish()
        }
    }

    /// The current wall-clock time in milliseconds since the Unix epoch.
    public static func unixMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    // The browser's EventSource waits `retry` milliseconds before reconnecting after a lost connection.
    static func historyEvent(_ samples: [DashboardSample]) -> String {
        "retry: 2000\nevent: history\ndata: \(Self.json(samples))\n\n"
    }

    static func sampleEvent(_ sample: DashboardSample) -> String {
        "event: sample\ndata: \(Self.json(sample))\n\n"
    }

    /// One line of JSON: SSE ends a `data` field at a newline, and JSONEncoder writes none unless asked to.
    private static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(value) else {
            preconditionFailure("Internal inconsistency: dashboard samples always encode")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

extension DashboardFeed: Service {
    /// Samples every second until graceful shutdown, then ends every stream. Place the feed after the HTTP
    /// server in the service group: groups shut down in reverse order, so the streams end before the server
    /// waits for its responses to finish.
    public func run() async throws {
        await self.run(every: .seconds(1))
    }
}
