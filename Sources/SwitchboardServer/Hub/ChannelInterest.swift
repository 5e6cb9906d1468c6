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
        /// The channel's latest broker call; the next one starts after it.
        var operation: Task<Void, any Error>
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

    func isInterested(in channel: String) -> Bool {
        self.state.withLockedValue { ($0.entries[channel]?.count ?? 0) > 0 }
    }

    /// Counts one subscription and returns once the node receives the channel; true when it was the first.
    /// A failed broker subscribe is thrown to every subscription waiting for it, each uncounted.
    func retain(_ channel: String) async throws -> Bool {
        let broker = self.broker
        let (operation, first) = self.state.withLockedValue { state -> (Task<Void, any Error>, Bool) in
            var entry = state.entries[channel] ?? Entry(count: 0, operation: Task {}, generation: 0)
            entry.count += 1
            let first = entry.count == 1
            if first {
                let previous = entry.operation
                entry.operation = Task {
                    _ = await previous.result
                    try await broker.subscribe(channel)
                }
                state.nextGeneration += 1
                entry.generation = state.nextGeneration
            }
            state.entries[channel] = entry
            return (entry.operation, first)
        }
        do {
            try await operation.value
        } catch {
            self.state.withLockedValue { state in
                if var entry = state.entries[channel], entry.count > 0 {
                    entry.count -= 1
                    state.entries[channel] = entry
                }
            }
            throw error
        }
        return first
    }

    /// Uncounts one subscription; true when it was the last (the node then unsubscribes, in order).
    func release(_ channel: String) -> Bool {
        let broker = self.broker
        return self.state.withLockedValue { state -> Bool in
            guard var entry = state.entries[channel], entry.count > 0 else {
                assertionFailure("Internal inconsistency: released \(channel) more often than it was retained")
                return false
            }
            entry.count -= 1
            guard entry.count == 0 else {
                state.entries[channel] = entry
                return false
            }
            state.nextGeneration += 1
            let generation = state.nextGeneration
            let previous = entry.operation
            entry.generation = generation
            entry.operation = Task { [weak self] in
                _ = await previous.result
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
