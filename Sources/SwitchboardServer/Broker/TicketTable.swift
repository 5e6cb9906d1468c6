import NIOCore

/// The embedded broker's connect tickets: each kept until it expires and handed out once. Time is an input
/// (milliseconds on the broker's clock), so tests move it.
struct TicketTable: Sendable {
    private struct Entry: Sendable {
        /// Nil once redeemed: the entry stays until it expires so a second use reads "already used".
        var grant: [UInt8]?
        var expiresAt: UInt64
    }

    /// More outstanding tickets than this and minting is refused: memory stays bounded whatever the rate.
    let capacity: Int
    private var entries: [String: Entry] = [:]
    /// Ids in the order they were stored: with one lifetime for every ticket, also the order they expire.
    private var order = CircularBuffer<(id: String, expiresAt: UInt64)>()

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    var count: Int { self.entries.count }

    enum StoreFailure: Error, Sendable, Hashable {
        case duplicate, full
    }

    mutating func store(_ id: String, grant: [UInt8], expiresAt: UInt64, now: UInt64) throws(StoreFailure) {
        self.removeExpired(now: now)
        guard self.entries.count < self.capacity else { throw .full }
        guard self.entries[id] == nil else { throw .duplicate }
        self.entries[id] = Entry(grant: grant, expiresAt: expiresAt)
        self.order.append((id, expiresAt))
    }

    mutating func redeem(_ id: String, now: UInt64) -> TicketRedemption {
        guard let entry = self.entries[id], entry.expiresAt > now else { return .unknown }
        guard let grant = entry.grant else { return .alreadyUsed }
        self.entries[id]?.grant = nil
        return .granted(grant)
    }

    /// Drops tickets from the front of the queue while they have expired; one stored with a longer lifetime
    /// than those after it holds them back until it expires too (each is still refused once expired).
    private mutating func removeExpired(now: UInt64) {
        while let first = self.order.first, first.expiresAt <= now {
            self.order.removeFirst()
            if let entry = self.entries[first.id], entry.expiresAt == first.expiresAt { self.entries[first.id] = nil }
        }
    }
}
