import NIOCore
import SwitchboardProtocol

/// One channel's recently used idempotency keys in the embedded broker, each with the position its publish
/// got, until its window ends. Time is an input (milliseconds on the broker's clock).
struct IdempotencyKeys: Sendable {
    /// The most keys a channel remembers: past it the oldest is forgotten before its window ends, so a
    /// publisher inventing a key per publication cannot grow memory without bound.
    static let capacity = 100_000

    private var positions: [String: (position: StreamPosition, expiresAt: UInt64)] = [:]
    /// Keys in the order they were used.
    private var order = CircularBuffer<(key: String, expiresAt: UInt64)>(initialCapacity: 4)

    var count: Int { self.positions.count }

    /// The position of the publish that used `key`, if its window has not ended.
    mutating func position(of key: String, now: UInt64) -> StreamPosition? {
        self.removeExpired(now: now)
        guard let entry = self.positions[key], entry.expiresAt > now else { return nil }
        return entry.position
    }

    mutating func remember(_ key: String, position: StreamPosition, until expiresAt: UInt64, now: UInt64) {
        self.removeExpired(now: now)
        while self.positions.count >= Self.capacity, let oldest = self.order.popFirst() {
            if self.positions[oldest.key]?.expiresAt == oldest.expiresAt { self.positions[oldest.key] = nil }
        }
        self.positions[key] = (position, expiresAt)
        self.order.append((key, expiresAt))
    }

    private mutating func removeExpired(now: UInt64) {
        while let first = self.order.first, first.expiresAt <= now {
            self.order.removeFirst()
            if self.positions[first.key]?.expiresAt == first.expiresAt { self.positions[first.key] = nil }
        }
    }
}
