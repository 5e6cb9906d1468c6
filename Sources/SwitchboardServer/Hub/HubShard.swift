import NIOCore
import SwitchboardProtocol

/// The subscribers of one event loop, by channel. Only ever touched on that event loop, so delivery takes
/// no lock: the hub hands each shard a publication with one `execute`.
final class HubShard: @unchecked Sendable {
    let eventLoop: any EventLoop
    private let metrics: ServerMetrics
    private var channels: [String: [ObjectIdentifier: any HubSubscriber]] = [:]

    init(eventLoop: any EventLoop, metrics: ServerMetrics) {
        self.eventLoop = eventLoop
        self.metrics = metrics
    }

    func add(_ subscriber: any HubSubscriber, to channel: String) {
        self.eventLoop.preconditionInEventLoop()
        self.channels[channel, default: [:]][ObjectIdentifier(subscriber)] = subscriber
    }

    func remove(_ subscriber: any HubSubscriber, from channel: String) {
        self.eventLoop.preconditionInEventLoop()
        self.channels[channel]?[ObjectIdentifier(subscriber)] = nil
        if self.channels[channel]?.isEmpty == true { self.channels[channel] = nil }
    }

    func deliver(_ publication: Publication, encoded: EncodedPush) {
        guard let subscribers = self.channels[publication.channel] else { return }
        for subscriber in subscribers.values { subscriber.hubDeliver(publication, encoded: encoded) }
        // Once per shard, not per recipient: these counters are shared across event loops.
        self.metrics.messagesSent(count: subscribers.count, bytes: subscribers.count * encoded.json.readableBytes)
        let latency = NIODeadline.now() - encoded.receivedAt
        self.metrics.publicationDelivered(latency: .nanoseconds(latency.nanoseconds))
    }

    func deliverPresence(_ change: PresenceChange, client: ClientInfo, channel: String, encoded: EncodedPush) {
        guard let subscribers = self.channels[channel] else { return }
        for subscriber in subscribers.values {
            subscriber.hubDeliverPresence(change, client: client, channel: channel, encoded: encoded)
        }
    }

    /// Subscribers of `channel` on this event loop.
    func subscriberCount(of channel: String) -> Int { self.channels[channel]?.count ?? 0 }
}
