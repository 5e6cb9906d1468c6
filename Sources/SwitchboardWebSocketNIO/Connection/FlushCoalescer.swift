import NIOConcurrencyHelpers
import NIOCore

/// Flushes, once per event-loop turn, every connection that was written to outside a read batch during the
/// turn: what one socket gets during a turn (a fan-out's publications, say) leaves in one `writev` and one
/// flush instead of a `write` each — uWebSockets' cork.
///
/// A connection asks once per turn (``flushAtEndOfTurn(_:)``); the flush runs as the next task on the loop,
/// after everything already queued for this turn, so deliveries queued together are written together.
/// Order is kept: writes are queued on the channel at once, only the flush waits.
final class FlushCoalescer {
    /// Coalescers by event loop; created on first use, living as long as the process (a handful at most).
    private static let coalescers = NIOLockedValueBox<[ObjectIdentifier: NIOLoopBound<FlushCoalescer>]>([:])

    /// The coalescer of `eventLoop`; call on that loop.
    static func on(_ eventLoop: any EventLoop) -> FlushCoalescer {
        self.coalescers.withLockedValue { coalescers in
            if let existing = coalescers[ObjectIdentifier(eventLoop)] { return existing.value }
            let coalescer = FlushCoalescer(eventLoop: eventLoop)
            coalescers[ObjectIdentifier(eventLoop)] = NIOLoopBound(coalescer, eventLoop: eventLoop)
            return coalescer
        }
    }

    private let eventLoop: any EventLoop
    /// Held until their flush: a connection that closes meanwhile flushes nothing, but is not freed early.
    private var waiting: [WebSocketChannelHandler] = []
    private var scheduled = false

    private init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Flushes `handler` at the end of this turn; the handler asks at most once per turn.
    func flushAtEndOfTurn(_ handler: WebSocketChannelHandler) {
        self.waiting.append(handler)
        guard !self.scheduled else { return }
        self.scheduled = true
        self.eventLoop.assumeIsolated().execute { [self] in self.flushAll() }
    }

    private func flushAll() {
        self.scheduled = false
        let handlers = self.waiting
        // Keeps the array's storage for the next turn; a handler flushing cannot add itself again now.
        self.waiting.removeAll(keepingCapacity: handlers.count <= 4096)
        for handler in handlers { handler.flushCorkedOutput() }
    }
}
