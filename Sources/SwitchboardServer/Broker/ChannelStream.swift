import SwitchboardProtocol

/// One channel's ordered stream in memory: monotonic offsets within an epoch, and a history bounded by
/// size and age from which a returning client recovers what it missed.
///
/// A value type with no clock: callers pass the time (milliseconds on any monotonic scale) with each call,
/// so tests can fast-forward two hours.
struct ChannelStream: Sendable {
    /// Names this stream's history; a new stream (after the channel's history was lost) has a new epoch.
    let epoch: String
    let channel: String
    /// Retain at most this many publications...
    let capacity: Int
    /// ...and none older than this (milliseconds).
    let retentionMilliseconds: UInt64

    /// The offset of the newest publication; 0 before the first (offsets start at 1).
    private(set) var lastOffset: UInt64 = 0
    /// Retained publications, oldest first, in a ring of at most `capacity` slots. It grows as publications
    /// arrive: a node may hold many quiet channels (one per user), and a full-size ring for each would be
    /// memory nobody uses.
    private var ring: [Entry?] = []
    private var oldestIndex = 0
    private(set) var count = 0
    /// Keys of recent keyed publishes; nil until the first (most channels never see one).
    private var idempotencyKeys: IdempotencyKeys?

    private struct Entry: Sendable {
        var publication: Publication
        var publishedAt: UInt64
    }

    init(channel: String, epoch: String, capacity: Int, retentionMilliseconds: UInt64) {
        precondition(capacity >= 0, "history capacity cannot be negative")
        self.channel = channel
        self.epoch = epoch
        self.capacity = capacity
        self.retentionMilliseconds = retentionMilliseconds
    }

    var position: StreamPosition { StreamPosition(offset: self.lastOffset, epoch: self.epoch) }

    /// Gives the next offset to `data` and retains it (dropping the oldest when full).
    mutating func append(_ data: RawJSON, info: ClientInfo?, now: UInt64) -> Publication {
        self.lastOffset += 1
        let publication = Publication(channel: self.channel, offset: self.lastOffset, epoch: self.epoch, data: data, info: info)
        guard self.capacity > 0 else { return publication }
        self.prune(now: now)
        if self.count == self.ring.count {
            if self.ring.count < self.capacity {
                self.grow()
            } else {
                // Full: the oldest publication makes room.
                self.ring[self.oldestIndex] = nil
                self.oldestIndex = (self.oldestIndex + 1) % self.ring.count
                self.count -= 1
            }
        }
        self.ring[(self.oldestIndex + self.count) % self.ring.count] = Entry(publication: publication, publishedAt: now)
        self.count += 1
        return publication
    }

    /// Doubles the ring (up to `capacity`), laying the entries out oldest first from slot 0.
    private mutating func grow() {
        let size = min(self.capacity, max(8, self.ring.count * 2))
        var grown = [Entry?]()
        grown.reserveCapacity(size)
        for index in 0..<self.count { grown.append(self.ring[(self.oldestIndex + index) % self.ring.count]) }
        grown.append(contentsOf: repeatElement(nil, count: size - self.count))
        self.ring = grown
        self.oldestIndex = 0
    }

    /// Publishes `data` unless `idempotency`'s key was used here within its window: then the position the
    /// first publish got.
    mutating func append(_ data: RawJSON, info: ClientInfo?, idempotency: PublishIdempotency?, now: UInt64) -> Result<Publication, DuplicatePublication> {
        guard let idempotency else { return .success(self.append(data, info: info, now: now)) }
        if let position = self.idempotencyKeys?.position(of: idempotency.key, now: now) {
            return .failure(DuplicatePublication(position: position))
        }
        let publication = self.append(data, info: info, now: now)
        var keys = self.idempotencyKeys ?? IdempotencyKeys()
        keys.remember(idempotency.key, position: StreamPosition(offset: publication.offset, epoch: publication.epoch),
                      until: now + UInt64(max(1, idempotency.seconds)) * 1000, now: now)
        self.idempotencyKeys = keys
        return .success(publication)
    }

    /// Whether idempotency keys are still remembered: the stream is not idle while they are.
    mutating func remembersKeys(now: UInt64) -> Bool {
        guard var keys = self.idempotencyKeys else { return false }
        let count = keys.count(now: now)
        self.idempotencyKeys = count > 0 ? keys : nil
        return count > 0
    }

    /// Drops publications older than the retention window.
    mutating func prune(now: UInt64) {
        while self.count > 0, let oldest = self.ring[self.oldestIndex],
              now >= oldest.publishedAt, now - oldest.publishedAt > self.retentionMilliseconds {
            self.ring[self.oldestIndex] = nil
            self.oldestIndex = (self.oldestIndex + 1) % self.ring.count
            self.count -= 1
        }
    }

    enum Recovery: Sendable, Hashable {
        /// Every publication after the position, in order (possibly none); nothing is missing.
        case recovered([Publication])
        /// The position is in another epoch, ahead of the stream, or older than what is retained.
        case notRecoverable
    }

    /// Everything after `position`, or `.notRecoverable` when any of it is no longer retained: a client
    /// either gets the complete gap or is told plainly, never a partial list.
    mutating func publications(after position: StreamPosition, now: UInt64) -> Recovery {
        self.prune(now: now)
        guard position.epoch == self.epoch, position.offset <= self.lastOffset else { return .notRecoverable }
        let missed = self.lastOffset - position.offset
        guard missed > 0 else { return .recovered([]) }
        guard missed <= UInt64(self.count) else { return .notRecoverable }
        let skip = self.count - Int(missed)
        return .recovered((skip..<self.count).map { self.ring[(self.oldestIndex + $0) % self.ring.count]!.publication })
    }

    /// The retained publications, oldest first, at most `limit` of the newest ones when given.
    mutating func history(limit: Int?, now: UInt64) -> [Publication] {
        self.prune(now: now)
        let take = min(self.count, limit ?? self.count)
        return ((self.count - take)..<self.count).map { self.ring[(self.oldestIndex + $0) % self.ring.count]!.publication }
    }
}
