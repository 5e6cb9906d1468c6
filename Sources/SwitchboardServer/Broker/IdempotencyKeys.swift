import SwitchboardProtocol

/// One channel's recently used idempotency keys in the embedded broker, each with the position its publish
/// got, until its window ends. Time is an input (milliseconds on the broker's clock).
struct IdempotencyKeys: Sendable {
    /// The most keys a channel remembers: past it the oldest is forgotten before its window ends, so a
    /// publisher inventing a key per publication cannot grow memory without bound.
    static let capacity = 100_000

    private var keys = ExpiringMap<StreamPosition>()

    /// Keys held, forgetting those whose window ended by `now` first.
    mutating func count(now: UInt64) -> Int {
        self.keys.removeExpired(now: now)
        return self.keys.count
    }

    /// The position of the publish that used `key`, if its window has not ended.
    func position(of key: String, now: UInt64) -> StreamPosition? {
        self.keys.value(for: key, now: now)
    }

    mutating func remember(_ key: String, position: StreamPosition, until expiresAt: UInt64, now: UInt64) {
        self.keys.removeExpired(now: now)
        while self.keys.count >= Self.capacity { self.keys.removeOldest() }
        self.keys.set(position, for: key, until: expiresAt)
    }
}
