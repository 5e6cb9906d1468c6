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
    private var channels: [String: SubscriberTable<ClientSession>] = [:]
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
        /// The channel's subscribers; the push goes to the slots below `end`, those subscribed when it
        /// arrived (later subscribers get it from history instead).
        let table: SubscriberTable<ClientSession>
        let end: Int
        var next = 0
        /// Subscribers it reached so far (holes in the slots are passed, not counted).
        var delivered = 0
    }

    init(eventLoop: any EventLoop, metrics: ServerMetrics, pending: ManagedAtomic<Int>) {
        self.eventLoop = eventLoop
        self.metrics = metrics
        self.pending = pending
    }

    func add(_ subscriber: ClientSession, to channel: String) {
        self.eventLoop.preconditionInEventLoop()
        if let table = self.channels[channel] {
            table.add(subscriber)
        } else {
            let table = SubscriberTable<ClientSession>()
            table.add(subscriber)
            self.channels[channel] = table
        }
    }

    func remove(_ subscriber: ClientSession, from channel: String) {
        self.eventLoop.preconditionInEventLoop()
        guard let table = self.channels[channel] else { return }
        table.remove(subscriber)
        // A delivery still walking the table keeps it alive until it is done.
        if table.isEmpty { self.channels[channel] = nil }
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
        // A copy: a subscriber that drops the subscription removes itself from the table.
        guard let subscribers = self.channels[channel]?.snapshot() else { return }
        for subscriber in subscribers {
            subscriber.hubMissedPublications(in: channel)
        }
    }

    /// Subscribers of `channel` on this event loop.
    func subscriberCount(of channel: String) -> Int { self.channels[channel]?.count ?? 0 }

    private func enqueue(_ push: Delivery.Push, encoded: EncodedPush, channel: String) {
        guard let table = self.channels[channel], !table.isEmpty else { return }
        table.beginWalk()
        self.queue.append(Delivery(push: push, encoded: encoded, table: table, end: table.end))
        // Slots, holes included: the same count is taken off as the walk passes them.
        self.pending.wrappingIncrement(by: table.end, ordering: .relaxed)
        if !self.draining { self.drain() }
    }

    private func drain() {
        self.draining = true
        var budget = Self.deliveryBudget
        while budget > 0, self.queueHead < self.queue.count {
            var delivery = self.queue[self.queueHead]
            let end = min(delivery.end, delivery.next + budget)
            switch delivery.push {
            case .publication(let publication):
                delivery.delivered += delivery.table.forEach(in: delivery.next..<end) { $0.hubDeliver(publication, encoded: delivery.encoded) }
            case .presence(let change, let client, let channel):
                delivery.delivered += delivery.table.forEach(in: delivery.next..<end) {
                    $0.hubDeliverPresence(change, client: client, channel: channel, encoded: delivery.encoded)
                }
            }
            budget -= end - delivery.next
            self.pending.wrappingDecrement(by: end - delivery.next, ordering: .relaxed)
            delivery.next = end
            if end < delivery.end {
                self.queue[self.queueHead] = delivery
            } else {
                delivery.table.endWalk()
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
        let count = delivery.delivered
        self.metrics.messagesSent(count: count, bytes: count * delivery.encoded.json.readableBytes)
        if case .publication = delivery.push {
            self.metrics.publicationDelivered(latency: .nanoseconds((NIODeadline.now() - delivery.encoded.receivedAt).nanoseconds))
        }
    }
}
