import Atomics
import NIOConcurrencyHelpers
import NIOCore
import SwitchboardProtocol

/// The subscribers of one event loop, by channel. Only ever touched on that event loop, so delivery takes
/// no lock per recipient.
///
/// The hub posts pushes to the shard's inbox from any thread (``post(_:)``): one `execute` per batch of
/// pushes, not per push, so publications that arrive while the loop is busy are delivered in the same turn,
/// and what each subscriber gets from them leaves in one write (the transport flushes once per turn).
/// Deliveries go through one queue, worked off in slices of ``deliveryBudget`` recipients per event-loop
/// turn: a fan-out to many subscribers would otherwise hold the loop for the whole of it, and its other
/// connections' reads, pings and HTTP responses would wait behind it. One queue, worked strictly in order,
/// keeps every subscriber's publications in offset order.
final class HubShard: @unchecked Sendable {
    let eventLoop: any EventLoop
    /// Its place among the hub's shards (and the event loop group's loops).
    let index: Int
    private let metrics: ServerMetrics
    /// The hub's count of queued deliveries, across shards.
    private let pending: ManagedAtomic<Int>
    private var channels: [String: SubscriberTable<ClientSession>] = [:]
    private var queue: [Delivery] = []
    private var queueHead = 0
    private var draining = false
    private let inbox = NIOLockedValueBox(Inbox())

    /// Recipients served per event-loop turn before other work gets its chance. Each costs well under a
    /// microsecond (the writes wait for the turn's flush), so a turn stays at a few milliseconds.
    static let deliveryBudget = 8192

    /// What the hub hands a shard, in the order it happened.
    enum Incoming: Sendable {
        case push(HubPush)
        case missedPublications(channel: String)
    }

    private struct Inbox {
        var items: [Incoming] = []
        var scheduled = false
    }

    private struct Delivery {
        let push: HubPush
        /// The channel's subscribers; the push goes to the slots below `end`, those subscribed when it
        /// arrived (later subscribers get it from history instead).
        let table: SubscriberTable<ClientSession>
        let end: Int
        var next = 0
        /// Subscribers it reached so far (holes in the slots are passed, not counted).
        var delivered = 0
    }

    init(eventLoop: any EventLoop, index: Int, metrics: ServerMetrics, pending: ManagedAtomic<Int>) {
        self.eventLoop = eventLoop
        self.index = index
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

    /// From any thread: hands the shard a push, to be taken on its event loop with whatever else arrived
    /// meanwhile.
    func post(_ item: Incoming) {
        self.post(contentsOf: CollectionOfOne(item))
    }

    /// From any thread: hands the shard several pushes at once, in order.
    func post(contentsOf items: some Collection<Incoming>) {
        let schedule = self.inbox.withLockedValue { inbox -> Bool in
            inbox.items.append(contentsOf: items)
            defer { inbox.scheduled = true }
            return !inbox.scheduled
        }
        if schedule { self.eventLoop.execute { self.takeInbox() } }
    }

    /// Moves what the inbox holds into the delivery queue, in order, and delivers. (Only the whole batch is
    /// queued before any delivery starts: a delivery that took newer pushes from the inbox first would put
    /// them ahead of the rest of this batch.)
    private func takeInbox() {
        self.moveInboxToQueue()
        if !self.draining { self.drain() }
    }

    /// Returns false when the inbox was empty.
    @discardableResult
    private func moveInboxToQueue() -> Bool {
        let items = self.inbox.withLockedValue { inbox -> [Incoming] in
            inbox.scheduled = false
            defer { inbox.items.removeAll(keepingCapacity: true) }
            return inbox.items
        }
        for item in items {
            switch item {
            case .push(let push):
                self.enqueue(push)
            case .missedPublications(let channel):
                self.missedPublications(in: channel)
            }
        }
        return !items.isEmpty
    }

    /// Tells every subscriber of `channel` on this loop that its live feed had a hole. Not queued behind
    /// deliveries: a subscriber that is told drops the subscription, and what is still queued for it goes
    /// with it (its client recovers all of it from history).
    private func missedPublications(in channel: String) {
        self.eventLoop.preconditionInEventLoop()
        // A copy: a subscriber that drops the subscription removes itself from the table.
        guard let subscribers = self.channels[channel]?.snapshot() else { return }
        for subscriber in subscribers {
            subscriber.hubMissedPublications(in: channel)
        }
    }

    /// Subscribers of `channel` on this event loop.
    func subscriberCount(of channel: String) -> Int { self.channels[channel]?.count ?? 0 }

    private func enqueue(_ push: HubPush) {
        guard let table = self.channels[push.channel], !table.isEmpty else { return }
        table.beginWalk()
        self.queue.append(Delivery(push: push, table: table, end: table.end))
        // Slots, holes included: the same count is taken off as the walk passes them.
        self.pending.wrappingIncrement(by: table.end, ordering: .relaxed)
    }

    private func drain() {
        self.draining = true
        var budget = Self.deliveryBudget
        // Pushes that arrived while this turn was delivering join it, and its single flush per socket.
        while budget > 0, self.queueHead < self.queue.count || (self.moveInboxToQueue() && self.queueHead < self.queue.count) {
            budget -= self.deliverGroup(budget: budget)
        }
        if self.queueHead < self.queue.count {
            self.eventLoop.execute { self.drain() }
        } else {
            self.queue.removeAll(keepingCapacity: self.queue.count <= 64)
            self.queueHead = 0
            self.draining = false
        }
    }

    /// Delivers the queue's head group: the consecutive deliveries that walk the same table from the same
    /// slot (a batch of publications to one channel). The group is walked subscriber by subscriber, each
    /// getting all of the group's pushes in a row, so a slice of a large channel that ends at the budget
    /// still leaves every subscriber it reached with the whole batch in one write. Returns the recipients
    /// served (slots passed, holes included).
    private func deliverGroup(budget: Int) -> Int {
        let head = self.queue[self.queueHead]
        var groupEnd = self.queueHead + 1
        while groupEnd < self.queue.count, self.queue[groupEnd].table === head.table, self.queue[groupEnd].next == head.next {
            groupEnd += 1
        }
        let group = self.queueHead..<groupEnd
        // Within a group the ends never shrink (slots do not move while a walk is open), so the head's end
        // is the smallest: no delivery goes past its own end.
        let sliceEnd = min(head.end, head.next + max(1, budget / group.count))
        let slots = head.next..<sliceEnd
        let pushes = self.queue[group].map(\.push)
        let reached = head.table.forEach(in: slots) { $0.hubDeliver(pushes) }
        self.pending.wrappingDecrement(by: slots.count * group.count, ordering: .relaxed)
        for index in group {
            self.queue[index].next = sliceEnd
            self.queue[index].delivered += reached
        }
        while self.queueHead < groupEnd, self.queue[self.queueHead].next == self.queue[self.queueHead].end {
            let delivery = self.queue[self.queueHead]
            delivery.table.endWalk()
            self.finished(delivery)
            self.queueHead += 1
        }
        return slots.count * group.count
    }

    /// Once per shard and push, not per recipient: these counters are shared across event loops.
    private func finished(_ delivery: Delivery) {
        let count = delivery.delivered
        let encoded = delivery.push.encoded
        self.metrics.messagesSent(count: count, bytes: count * encoded.json.readableBytes)
        if case .publication = delivery.push.kind {
            self.metrics.publicationDelivered(latency: .nanoseconds((NIODeadline.now() - encoded.receivedAt).nanoseconds))
        }
    }
}
