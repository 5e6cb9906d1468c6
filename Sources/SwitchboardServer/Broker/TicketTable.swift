/// The embedded broker's connect tickets: each kept until it expires and handed out once. Time is an input
/// (milliseconds on the broker's clock), so tests move it.
struct TicketTable: Sendable {
    /// More outstanding tickets than this and minting is refused: memory stays bounded whatever the rate.
    let capacity: Int
    /// The grant, or nil once redeemed: the ticket stays until it expires so a second use reads "already used".
    private var tickets = ExpiringMap<[UInt8]?>()

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    var count: Int { self.tickets.count }

    enum StoreFailure: Error, Sendable, Hashable {
        case duplicate, full
    }

    mutating func store(_ id: String, grant: [UInt8], expiresAt: UInt64, now: UInt64) throws(StoreFailure) {
        self.tickets.removeExpired(now: now)
        guard self.tickets.count < self.capacity else { throw .full }
        guard !self.tickets.contains(id) else { throw .duplicate }
        self.tickets.set(grant, for: id, until: expiresAt)
    }

    mutating func redeem(_ id: String, now: UInt64) -> TicketRedemption {
        guard let grant = self.tickets.value(for: id, now: now) else { return .unknown }
        guard let grant else { return .alreadyUsed }
        self.tickets.replace(id, with: nil)
        return .granted(grant)
    }
}
