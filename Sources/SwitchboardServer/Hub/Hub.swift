import Atomics
import NIOConcurrencyHelpers
import NIOCore
import SwitchboardProtocol

/// Routes what the broker delivers to the node's subscribers: one ``HubShard`` per event loop, so a
/// publication is encoded once here and then handed to each event loop's subscribers without locks.
///
/// Also keeps the node's interest in each channel: the first local subscriber makes the node subscribe at
/// the broker, the last one leaving unsubscribes it.
final class Hub: BrokerEventHandler {
    private let shards: [ObjectIdentifier: HubShard]
    private let orderedShards: [HubShard]
    private let broker: any Broker
    /// channel → local subscriptions on every shard together
    private let interest = NIOLockedValueBox<[String: Int]>([:])

    private let metrics: ServerMetrics
    /// Deliveries queued on every shard and not yet written.
    let pendingDeliveries = ManagedAtomic<Int>(0)

    init(eventLoopGroup: any EventLoopGroup, broker: any Broker, metrics: ServerMetrics) {
        let pending = self.pendingDeliveries
        let shards = eventLoopGroup.makeIterator().map { HubShard(eventLoop: $0, metrics: metrics, pending: pending) }
        self.metrics = metrics
        self.orderedShards = shards
        self.shards = Dictionary(uniqueKeysWithValues: shards.map { (ObjectIdentifier($0.eventLoop), $0) })
        self.broker = broker
    }

    /// The shard of `eventLoop`, which must belong to the group the hub was made with.
    func shard(for eventLoop: any EventLoop) -> HubShard {
        guard let shard = self.shards[ObjectIdentifier(eventLoop)] else {
            preconditionFailure("Internal inconsistency: event loop \(eventLoop) is not in the hub's group")
        }
        return shard
    }

    /// Channels with at least one subscriber on this node.
    var channelCount: Int { self.interest.withLockedValue { $0.count } }

    /// Subscriptions on this node, all channels together.
    var subscriptionCount: Int { self.interest.withLockedValue { $0.values.reduce(0, +) } }

    /// Makes sure the node receives `channel`'s publications before a subscriber registers and reads history.
    func retain(_ channel: String) async throws {
        let first = self.interest.withLockedValue { counts -> Bool in
            counts[channel, default: 0] += 1
            return counts[channel] == 1
        }
        self.metrics.subscribed()
        guard first else { return }
        self.metrics.channelOpened()
        do {
            try await self.broker.subscribe(channel)
        } catch {
            self.metrics.unsubscribed()
            self.metrics.channelClosed()
            self.interest.withLockedValue { counts in
                counts[channel, default: 1] -= 1
                if counts[channel] == 0 { counts[channel] = nil }
            }
            throw error
        }
    }

    /// Undoes one ``retain(_:)``.
    func release(_ channel: String) {
        let last = self.interest.withLockedValue { counts -> Bool in
            guard let count = counts[channel] else {
                assertionFailure("Internal inconsistency: released \(channel) more often than it was retained")
                return false
            }
            counts[channel] = count > 1 ? count - 1 : nil
            return count == 1
        }
        self.metrics.unsubscribed()
        guard last else { return }
        self.metrics.channelClosed()
        let broker = self.broker
        Task { try? await broker.unsubscribe(channel) }
    }

    // MARK: - BrokerEventHandler

    func broker(didPublish publication: Publication) {
        guard self.interest.withLockedValue({ $0[publication.channel] != nil }) else { return }
        let encoded = EncodedPush(.publication(publication))
        for shard in self.orderedShards {
            shard.eventLoop.execute { shard.deliver(publication, encoded: encoded) }
        }
    }

    func broker(mayHaveMissedPublicationsIn channel: String) {
        guard self.interest.withLockedValue({ $0[channel] != nil }) else { return }
        for shard in self.orderedShards {
            shard.eventLoop.execute { shard.missedPublications(in: channel) }
        }
    }

    func broker(didChangePresence change: PresenceChange, client: ClientInfo, channel: String) {
        guard self.interest.withLockedValue({ $0[channel] != nil }) else { return }
        let event = ServerMessage.PresenceEvent(channel: channel, info: client)
        let encoded = EncodedPush(change == .join ? .join(event) : .leave(event))
        for shard in self.orderedShards {
            shard.eventLoop.execute { shard.deliverPresence(change, client: client, channel: channel, encoded: encoded) }
        }
    }
}
