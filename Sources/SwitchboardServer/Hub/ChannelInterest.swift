import NIOConcurrencyHelpers

/// How many local subscriptions each channel has, and the broker's `subscribe`/`unsubscribe` calls that
/// follow: the first subscription subscribes the node, the last one leaving unsubscribes it.
///
/// The broker calls of one channel run one after another, in the order the counts changed. Otherwise a
/// quick leave-and-return could reach a networked broker as subscribe-then-unsubscribe and leave the node
/// deaf to a channel its clients are subscribed to. And every subscription waits for the node's subscribe
/// to be done, not only the first: one that read history before the node received the channel could miss
/// what was published in between.
final class ChannelInterest: Sendable {
    private struct Entry {
        var count: Int
        /// Which event loops (by index) hold those subscriptions: the hub posts a channel's publications
        /// only to them.
        var loops = LoopCounts()
        /// The channel's latest broker call while it runs (or failed); the next one starts after it. Nil
        /// once a subscribe has succeeded: a finished task kept on every channel would cost each personal
        /// channel more than its connection (about 1.3 KB).
        var operation: Task<Void, any Error>?
        /// Tells a finished unsubscribe whether it is still the latest call (then the entry can go).
        var generation: UInt64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var nextGeneration: UInt64 = 0
    }

    private let broker: any Broker
    private let state = NIOLockedValueBox(State())

    init(broker: any Broker) {
        self.broker = broker
    }

    /// Channels with at least one subscription.
    var channelCount: Int { self.state.withLockedValue { $0.entries.values.count { $0.count > 0 } } }

    /// Subscriptions, all channels together.
    var subscriptionCount: Int { self.state.withLockedValue { $0.entries.values.reduce(0) { $0 + $1.count } } }

    /// Broker calls the channels keep (running, or failed with waiters left): zero when the node is idle.
    var callsKept: Int { self.state.withLockedValue { $0.entries.values.count { $0.operation != nil } } }

    /// The event loops (by index) with subscriptions to `channel`; empty when none.
    func loops(subscribedTo channel: String) -> LoopCounts {
        self.state.withLockedValue { $0.entries[channel]?.loops ?? LoopCounts() }
    }

    /// Counts one subscription on the event loop `loop` and returns once the node receives the channel;
    /// true when it was the first. A failed broker subscribe is thrown to every subscription waiting for
    /// it, each uncounted.
    func retain(_ channel: String, loop: Int = 0) async throws -> Bool {
        let broker = self.broker
        let (operation, first) = self.state.withLockedValue { state -> (Task<Void, any Error>?, Bool) in
            var entry = state.entries[channel] ?? Entry(count: 0, operation: nil, generation: 0)
            entry.count += 1
            entry.loops.add(loop)
            let first = entry.count == 1
            if first {
                let previous = entry.operation
                state.nextGeneration += 1
                let generation = state.nextGeneration
                entry.generation = generation
                entry.operation = Task { [weak self] in
                    _ = await previous?.result
                    try await broker.subscribe(channel)
                    self?.subscribed(channel, generation: generation)
                }
            }
            state.entries[channel] = entry
            return (entry.operation, first)
        }
        // No call in flight: the node already receives the channel.
        guard let operation else { return first }
        do {
            try await operation.value
        } catch {
            self.state.withLockedValue { state in
                guard var entry = state.entries[channel], entry.count > 0 else { return }
                entry.count -= 1
                entry.loops.remove(loop)
                // The last waiter of a failed subscribe takes the entry (and the failed task) away.
                state.entries[channel] = entry.count == 0 ? nil : entry
            }
            throw error
        }
        return first
    }

    /// The node receives `channel` now: later subscriptions need not wait, and nothing keeps the finished task.
    private func subscribed(_ channel: String, generation: UInt64) {
        self.state.withLockedValue { state in
            if state.entries[channel]?.generation == generation { state.entries[channel]?.operation = nil }
        }
    }

    /// Uncounts one subscription on `loop`; true when it was the last (the node then unsubscribes, in order).
    func release(_ channel: String, loop: Int = 0) -> Bool {
        let broker = self.broker
        return self.state.withLockedValue { state -> Bool in
            guard var entry = state.entries[channel], entry.count > 0 else {
                assertionFailure("Internal inconsistency: released \(channel) more often than it was retained")
                return false
            }
            entry.count -= 1
            entry.loops.remove(loop)
            guard entry.count == 0 else {
                state.entries[channel] = entry
                return false
            }
            state.nextGeneration += 1
            let generation = state.nextGeneration
            let previous = entry.operation
            entry.generation = generation
            entry.operation = Task { [weak self] in
                _ = await previous?.result
                try? await broker.unsubscribe(channel)
                self?.forget(channel, ifStill: generation)
            }
            state.entries[channel] = entry
            return true
        }
    }

    /// Drops an idle channel's entry once its unsubscribe is the last thing that happened to it.
    private func forget(_ channel: String, ifStill generation: UInt64) {
        self.state.withLockedValue { state in
            if let entry = state.entries[channel], entry.count == 0, entry.generation == generation {
                state.entries[channel] = nil
            }
        }
    }
}

/// Subscriptions per event loop of one channel, kept inline for the usual case (every subscriber of a
/// channel on one loop: a personal channel, a small room), a counted list only when they spread.
struct LoopCounts: Sendable, Equatable {
    private enum Storage: Sendable, Equatable {
        case none
        case one(loop: Int, count: Int)
        case many([Int])
    }

    private var storage = Storage.none

    var isEmpty: Bool { self.storage == .none }

    mutating func add(_ loop: Int) {
        switch self.storage {
        case .none:
            self.storage = .one(loop: loop, count: 1)
        case .one(let only, let count) where only == loop:
            self.storage = .one(loop: loop, count: count + 1)
        case .one(let only, let count):
            var counts = [Int](repeating: 0, count: max(only, loop) + 1)
            counts[only] = count
            counts[loop] = 1
            self.storage = .many(counts)
        case .many(var counts):
            self.storage = .none  // so the array is uniquely referenced while it changes
            if counts.count <= loop { counts.append(contentsOf: repeatElement(0, count: loop + 1 - counts.count)) }
            counts[loop] += 1
            self.storage = .many(counts)
        }
    }

    mutating func remove(_ loop: Int) {
        switch self.storage {
        case .none:
            break
        case .one(let only, let count):
            guard only == loop else { return }
            self.storage = count > 1 ? .one(loop: loop, count: count - 1) : .none
        case .many(var counts):
            guard loop < counts.count, counts[loop] > 0 else { return }
            self.storage = .none
            counts[loop] -= 1
            self.storage = counts.allSatisfy { $0 == 0 } ? .none : .many(counts)
        }
    }

    /// Whether `loop` has at least one subscription.
    func contains(_ loop: Int) -> Bool {
        switch self.storage {
        case .none: false
        case .one(let only, _): only == loop
        case .many(let counts): loop < counts.count && counts[loop] > 0
        }
    }
}
