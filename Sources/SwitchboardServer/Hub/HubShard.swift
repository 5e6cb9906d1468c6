import Atomics
import NIOCore
import SwitchboardProtocol

/// The subscribers of one event loop, by channel. Only ever touched on that event loop, so delivery takes
/// no lock: the hub hands each shard a publication with one `execute`.
///
/// Deliveries go through one queue, worked off in slices of ``deliveryBudget`` recipients per event-loop
/// turn: a publication to 10,000 subscribers would otherwise hold the loop for the whole fan-out, and its
/// other connections' reads, pings and HTTP responses would wait behind it. One queue, worked strictly in
/// order, keeps every subscriber's publications in offset order.
final class HubShard: @unchecked Sendable {
    let eventLoop: any EventLoop
    private let metrics: ServerMetrics
    /// The hub's count of queued deliveries, across shards.
    private let pending: ManagedAtomic<Int>
    private var channels: [String: [ObjectIdentifier: any HubSubscriber]] = [:]
    private var queue: [Delivery] = []
    private var queueHead = 0
    private var draining = false

    /// Recipients served per event-loop turn before other work gets its chance.
    static let deliveryBudget = 1024

    private struct Delivery {
        enum Push {
            case publication(Publication)
            case presence(PresenceChange, ClientInfo, channel: String)
        }
        let push: Push
        let encoded: EncodedPush
        /// Who was subscribed when the push arrived; later subscribers get it from history instead.
        let recipients: [any HubSubscriber]
        var next = 0
    }

    init(eventLoop: any EventLoop, metrics: ServerMetrics, pending: ManagedAtomic<Int>) {
        self.eventLoop = eventLoop
        self.metrics = metrics
        self.pending = pending
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
        self.enqueue(.publication(publication), encoded: encoded, channel: publication.channel)
    }

    func deliverPresence(_ change: PresenceChange, client: ClientInfo, channel: String, encoded: EncodedPush) {
        self.enqueue(.presence(change, client, channel: channel), encoded: encoded, channel: channel)
    }

    /// Tells every subscriber of `channel` on this loop that its live feed had a hole. Not queued behind
    /// deliveries: a subscriber that is told drops the subscription, and what is still queued for it goes
    /// with it (its client recovers all of it from history).
    func missedPublications(in channel: String) {
        self.eventLoop.preconditionInEventLoop()
        // A copy: a subscriber that drops the subscription removes itself from `channels`.
        guard let subscribers = self.channels[channel] else { return }
        for subscriber in subscribers.values {
            subscriber.hubMissedPublications(in: channel)
        }
    }

    /// Subscribers of `channel` on this event loop.
    func subscriberCount(of channel: String) -> Int { self.channels[channel]?.count ?? 0 }

    private func enqueue(_ push: Delivery.Push, encoded: EncodedPush, channel: String) {
        guard let subscribers = self.channels[channel], !subscribers.isEmpty else { return }
        self.queue.append(Delivery(push: push, encoded: encoded, recipients: Array(subscribers.values)))
        self.pending.wrappingIncrement(by: subscribers.count, ordering: .relaxed)
        if !self.draining { self.drain() }
    }

    private func drain() {
        self.draining = true
        var budget = Self.deliveryBudget
        while budget > 0, self.queueHead < self.queue.count {
            let delivery = self.queue[self.queueHead]
            let end = min(delivery.recipients.count, delivery.next + budget)
            for index in delivery.next..<end {
                switch delivery.push {
                case .publication(let publication):
                    delivery.recipients[index].hubDeliver(publication, encoded: delivery.encoded)
                case .presence(let change, let client, let channel):
                    delivery.recipients[index].hubDeliverPresence(change, client: client, channel: channel, encoded: delivery.encoded)
                }
            }
            budget -= end - delivery.next
            self.pending.wrappingDecrement(by: end - delivery.next, ordering: .relaxed)
            if end < delivery.recipients.count {
                self.queue[self.queueHead].next = end
            } else {
                self.finished(delivery)
                self.queueHead += 1
            }
        }
        if self.queueHead < self.queue.count {
            self.eventLoop.execute { self.drain() }
        } else {
            self.queue.removeAll(keepingCapacity: self.queue.count <= 64)
            self.queueHead = 0
            self.draining = false
        }
    }

    /// Once per shard and push, not per recipient: these counters are shared across event loops.
    private func finished(_ delivery: Delivery) {
        let count = delivery.recipients.count
        self.metrics.messagesSent(count: count, bytes: count * delivery.encoded.json.readableBytes)
        if case .publication = delivery.push {
            self.metrics.publicationDelivered(latency: .nanoseconds((NIODeadline.now() - delivery.encoded.receivedAt).nanoseconds))
        }
    }
}
