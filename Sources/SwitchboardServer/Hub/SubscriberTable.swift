/// One channel's subscribers on one event loop, in a contiguous array walked by index: a fan-out to
/// thousands visits them without copying the list per publication, and without reference counting per
/// recipient (the table holds each subscriber retained once, from ``add(_:)`` to ``remove(_:)``).
///
/// A delivery walks the slots that existed when it was queued (``end``). While any delivery is in flight
/// (``beginWalk()`` … ``endWalk()``), removing a subscriber leaves a hole instead of moving the last one
/// into its slot, which a walk in progress could then skip; the holes are closed once no walk is left.
/// Only ever used on its event loop.
final class SubscriberTable<Subscriber: AnyObject> {
    private var slots: [Unmanaged<Subscriber>?] = []
    private var slotOf: [ObjectIdentifier: Int] = [:]
    private var walks = 0
    private var holes = 0
    /// Removed during a walk: released when the walk ends, since the walk calls subscribers without
    /// retaining them, and one may be removed (and its last owner gone) while its own call is running.
    private var releasedAfterWalks: [Unmanaged<Subscriber>] = []

    /// Live subscribers.
    var count: Int { self.slotOf.count }
    var isEmpty: Bool { self.slotOf.isEmpty }
    /// The end of the slots a delivery queued now must walk.
    var end: Int { self.slots.count }

    func add(_ subscriber: Subscriber) {
        let id = ObjectIdentifier(subscriber)
        guard self.slotOf[id] == nil else { return }
        self.slotOf[id] = self.slots.count
        self.slots.append(.passRetained(subscriber))
    }

    func remove(_ subscriber: Subscriber) {
        guard let slot = self.slotOf.removeValue(forKey: ObjectIdentifier(subscriber)) else { return }
        let removed = self.slots[slot]!
        if self.walks > 0 {
            self.slots[slot] = nil
            self.holes += 1
            self.releasedAfterWalks.append(removed)
        } else {
            self.moveLast(into: slot)
            removed.release()
        }
    }

    /// Calls `body` for each subscriber in `range`'s slots (holes skipped) and returns how many it called.
    /// `body` may add or remove subscribers: slots never move while a walk is open.
    @discardableResult
    func forEach(in range: Range<Int>, _ body: (Subscriber) -> Void) -> Int {
        var called = 0
        for slot in range {
            guard let subscriber = self.slots[slot] else { continue }
            subscriber._withUnsafeGuaranteedRef(body)
            called += 1
        }
        return called
    }

    /// A delivery starts walking: slots stay put until the matching ``endWalk()``.
    func beginWalk() { self.walks += 1 }

    func endWalk() {
        self.walks -= 1
        guard self.walks == 0, self.holes > 0 else { return }
        var slot = 0
        while slot < self.slots.count {
            if self.slots[slot] == nil { self.moveLast(into: slot) } else { slot += 1 }
        }
        self.holes = 0
        let released = self.releasedAfterWalks
        self.releasedAfterWalks = []
        for subscriber in released { subscriber.release() }
    }

    /// Every subscriber once, for the rare non-delivery visits (a feed outage); `body` may remove any.
    func snapshot() -> [Subscriber] {
        self.slots.compactMap { $0?.takeUnretainedValue() }
    }

    /// Fills `slot` (free) with the last slot's subscriber, or drops the last slot.
    private func moveLast(into slot: Int) {
        let last = self.slots.removeLast()
        guard slot < self.slots.count else { return }
        self.slots[slot] = last
        if let last { self.slotOf[ObjectIdentifier(last.takeUnretainedValue())] = slot } else { self.holes -= 1 }
    }

    deinit {
        for slot in self.slots { slot?.release() }
        for subscriber in self.releasedAfterWalks { subscriber.release() }
    }
}
