import SwitchboardProtocol

/// The last position delivered to the application in one channel, and the rule that keeps duplicates out.
///
/// docs/PROTOCOL.md, "Positions and recovery": a position is only meaningful with its epoch; a publication
/// in another epoch means the stream started over, and is treated like `recovered: false`.
struct StreamCursor: Sendable, Hashable {
    private(set) var last: StreamPosition?

    init(last: StreamPosition? = nil) {
        self.last = last
    }

    enum Verdict: Equatable {
        /// Deliver it.
        case deliver
        /// Deliver it, after reporting that publications between `last` and it are lost.
        case deliverAfterGap(lastDelivered: StreamPosition?)
        /// At or below the last delivered offset in the same epoch: already seen.
        case duplicate
    }

    /// Decides about `publication` and, unless it is a duplicate, moves the cursor to it.
    mutating func accept(_ publication: Publication) -> Verdict {
        guard let last = self.last else {
            self.last = publication.position
            return .deliver
        }
        guard publication.epoch == last.epoch else {
            self.last = publication.position
            return .deliverAfterGap(lastDelivered: last)
        }
        guard publication.offset > last.offset else { return .duplicate }
        self.last = publication.position
        // The server pushes offsets without holes; a hole means it lost some (it would send `unsubscribed`).
        return publication.offset == last.offset + 1 ? .deliver : .deliverAfterGap(lastDelivered: last)
    }

    /// After a subscribe reply: the channel's position, which the next live publication follows.
    mutating func resume(at position: StreamPosition) {
        if let last = self.last, last.epoch == position.epoch, last.offset > position.offset { return }
        self.last = position
    }

    /// After `recovered: false`: whatever was delivered before belongs to a lost history.
    mutating func reset(to position: StreamPosition) {
        self.last = position
    }
}
