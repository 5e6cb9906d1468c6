import NIOCore

/// Values under string keys that each expire at their own time (milliseconds on the broker's clock), with
/// the order they were stored, so expired ones leave from the front without a scan. The embedded broker's
/// connect tickets and idempotency keys live in these.
struct ExpiringMap<Value: Sendable>: Sendable {
    private var entries: [String: (value: Value, expiresAt: UInt64)] = [:]
    /// Keys in the order they were stored. With one lifetime for all, also the order they expire; one stored
    /// with a longer lifetime than those after it holds them here until it expires too (each is still
    /// treated as gone once expired).
    private var order = CircularBuffer<(key: String, expiresAt: UInt64)>(initialCapacity: 4)

    /// Entries held, expired ones not yet removed included.
    var count: Int { self.entries.count }

    /// The value under `key`, unless absent or expired at `now`.
    func value(for key: String, now: UInt64) -> Value? {
        guard let entry = self.entries[key], entry.expiresAt > now else { return nil }
        return entry.value
    }

    /// Whether `key` is held, expired or not (until ``removeExpired(now:)`` drops it).
    func contains(_ key: String) -> Bool { self.entries[key] != nil }

    /// Stores `value` under `key` until `expiresAt`.
    mutating func set(_ value: Value, for key: String, until expiresAt: UInt64) {
        self.entries[key] = (value, expiresAt)
        self.order.append((key, expiresAt))
    }

    /// Replaces the value under `key`, keeping its expiry; nothing if it is not held.
    mutating func replace(_ key: String, with value: Value) {
        self.entries[key]?.value = value
    }

    /// Drops entries from the front of the order while they have expired.
    mutating func removeExpired(now: UInt64) {
        while let first = self.order.first, first.expiresAt <= now {
            self.removeFirst()
        }
    }

    /// Drops the entry stored longest ago, expired or not.
    mutating func removeOldest() {
        if !self.order.isEmpty { self.removeFirst() }
    }

    private mutating func removeFirst() {
        let first = self.order.removeFirst()
        // A key stored again since has a later expiry: this record is stale.
        if self.entries[first.key]?.expiresAt == first.expiresAt { self.entries[first.key] = nil }
    }
}
