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
    /// Local subscriptions per channel on every shard together, and the broker calls they cause.
    private let interest: ChannelInterest

    private let metrics: ServerMetrics
    /// Deliveries queued on every shard and not yet written.
    let pendingDeliveries = ManagedAtomic<Int>(0)

    /// - Parameter eventLoops: every loop a session may run on (WebSocket and SSE connections alike).
    init(eventLoops: [any EventLoop], broker: any Broker, metrics: ServerMetrics) {
        let pending = self.pendingDeliveries
        let shards = eventLoops.enumerated().map {
            HubShard(eventLoop: $1, index: $0, metrics: metrics, pending: pending)
        }
        self.metrics = metrics
        self.orderedShards = shards
        self.shards = Dictionary(uniqueKeysWithValues: shards.map { (ObjectIdentifier($0.eventLoop), $0) })
        self.interest = ChannelInterest(broker: broker)
    }

    /// The shard of `eventLoop`, which must be one of the loops the hub was made with.
    func shard(for eventLoop: any EventLoop) -> HubShard {
        guard let shard = self.shards[ObjectIdentifier(eventLoop)] else {
            preconditionFailure("Internal inconsistency: event loop \(eventLoop) is not in the hub's group")
        }
        return shard
    }

    /// Channels with at least one subscriber on this node.
    var channelCount: Int { self.interest.channelCount }

    /// Subscriptions on this node, all channels together.
    var subscriptionCount: Int { self.interest.subscriptionCount }

    /// Returns once the node receives `channel`'s publications, so a subscriber on `eventLoop` can register
    /// and read history.
    func retain(_ channel: String, on eventLoop: any EventLoop) async throws {
        let first = try await self.interest.retain(channel, loop: self.shard(for: eventLoop).index)
        self.metrics.subscribed()
        if first { self.metrics.channelOpened() }
    }

    /// Undoes one ``retain(_:on:)``.
    func release(_ channel: String, on eventLoop: any EventLoop) {
        let last = self.interest.release(channel, loop: self.shard(for: eventLoop).index)
        self.metrics.unsubscribed()
        if last { self.metrics.channelClosed() }
    }

    // MARK: - BrokerEventHandler

    // A channel's pushes go only to the event loops with subscribers of it: with many loops and channels of
    // one or a few subscribers (personal channels), visiting every loop would cost each a wake-up per push.

    func broker(didPublish publication: Publication) {
        let loops = self.interest.loops(subscribedTo: publication.channel)
        guard !loops.isEmpty else { return }
        let push = HubPush(publication: publication)
        for shard in self.orderedShards where loops.contains(shard.index) {
            shard.post(.push(push))
        }
    }

    /// One post per event loop for the whole batch: a loop takes it in one turn, so each subscriber gets the
    /// batch in one write (posted one by one, the loop could wake for the first and flush it alone).
    func broker(didPublishBatch publications: [Publication]) {
        var posts = [[HubShard.Incoming]](repeating: [], count: self.orderedShards.count)
        for publication in publications {
            let loops = self.interest.loops(subscribedTo: publication.channel)
            guard !loops.isEmpty else { continue }
            let push = HubPush(publication: publication)
            for index in posts.indices where loops.contains(index) { posts[index].append(.push(push)) }
        }
        for (shard, items) in zip(self.orderedShards, posts) where !items.isEmpty {
            shard.post(contentsOf: items)
        }
    }

    func broker(mayHaveMissedPublicationsIn channel: String) {
        let loops = self.interest.loops(subscribedTo: channel)
        for shard in self.orderedShards where loops.contains(shard.index) {
            shard.post(.missedPublications(channel: channel))
        }
    }

    func broker(didChangePresence change: PresenceChange, client: ClientInfo, channel: String) {
        let loops = self.interest.loops(subscribedTo: channel)
        guard !loops.isEmpty else { return }
        let push = HubPush(change, client: client, channel: channel)
        for shard in self.orderedShards where loops.contains(shard.index) {
            shard.post(.push(push))
        }
    }
}
