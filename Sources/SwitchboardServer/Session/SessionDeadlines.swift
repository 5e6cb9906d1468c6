import NIOConcurrencyHelpers
import NIOCore

/// The deadlines of one event loop's sessions (each session's one: its connect timeout, then its token's
/// expiry and grace), in a heap behind a single timer set to the earliest: a timer of NIO's own per session
/// (its future, closures and heap entry) would be some 350 bytes on every connection; a slot here is 8.
///
/// Deadlines are exact (the loop's clock, so a test loop's moves only when the test advances it). A session
/// stores its deadline and its slot; a scheduled session is retained by the heap until it is due or
/// cancelled, so none is ever called after it is gone. Only ever used on its event loop.
enum SessionDeadlines {
    /// Queues by event loop; created on first use, living as long as the process (one per loop).
    private static let queues = NIOLockedValueBox<[ObjectIdentifier: NIOLoopBound<DeadlineHeap<ClientSession>>]>([:])

    /// The queue of `eventLoop`; call on that loop.
    static func on(_ eventLoop: any EventLoop) -> DeadlineHeap<ClientSession> {
        self.queues.withLockedValue { queues in
            if let existing = queues[ObjectIdentifier(eventLoop)] { return existing.value }
            let queue = DeadlineHeap<ClientSession>(eventLoop: eventLoop)
            queues[ObjectIdentifier(eventLoop)] = NIOLoopBound(queue, eventLoop: eventLoop)
            return queue
        }
    }
}

/// What a ``DeadlineHeap`` keeps: an object that stores its own deadline and slot.
protocol DeadlineHolder: AnyObject {
    var deadline: NIODeadline { get set }
    /// Its index in the heap, -1 when it has no deadline.
    var deadlineSlot: Int { get set }
    func deadlineReached()
}

/// Deadlines of one event loop in a binary min-heap behind one timer at the earliest. Only ever used on its
/// event loop.
final class DeadlineHeap<Holder: DeadlineHolder> {
    private let eventLoop: any EventLoop
    /// Ordered on `deadline`; each holder knows its index (`deadlineSlot`).
    private var heap: [Unmanaged<Holder>] = []
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    var count: Int { self.heap.count }

    /// Calls `session.deadlineReached()` at `deadline` (replacing one it had).
    func schedule(_ session: Holder, at deadline: NIODeadline) {
        self.eventLoop.preconditionInEventLoop()
        if session.deadlineSlot >= 0 {
            session.deadline = deadline
            self.restore(session.deadlineSlot)
        } else {
            session.deadline = deadline
            session.deadlineSlot = self.heap.count
            self.heap.append(.passRetained(session))
            self.siftUp(self.heap.count - 1)
        }
        self.armTimer()
    }

    /// Forgets the session's deadline, if it has one.
    func cancel(_ session: Holder) {
        self.eventLoop.preconditionInEventLoop()
        guard session.deadlineSlot >= 0 else { return }
        self.remove(at: session.deadlineSlot).release()
        self.armTimer()
    }

    private func fire() {
        self.timer = nil
        self.timerDeadline = nil
        let now = self.eventLoop.now
        while let first = self.heap.first, first.takeUnretainedValue().deadline <= now {
            let session = self.remove(at: 0).takeRetainedValue()
            session.deadlineReached()
        }
        self.armTimer()
    }

    /// Keeps the one timer at the earliest deadline.
    private func armTimer() {
        guard let first = self.heap.first?.takeUnretainedValue().deadline else {
            self.timer?.cancel()
            self.timer = nil
            self.timerDeadline = nil
            return
        }
        guard first != self.timerDeadline else { return }
        self.timer?.cancel()
        self.timerDeadline = first
        self.timer = self.eventLoop.assumeIsolated().scheduleTask(deadline: first) { [self] in self.fire() }
    }

    /// Takes the entry at `index` out of the heap (the caller owns its retain) and clears its slot.
    private func remove(at index: Int) -> Unmanaged<Holder> {
        let removed = self.heap[index]
        let last = self.heap.removeLast()
        if index < self.heap.count {
            self.heap[index] = last
            last.takeUnretainedValue().deadlineSlot = index
            self.restore(index)
        }
        removed.takeUnretainedValue().deadlineSlot = -1
        return removed
    }

    private func restore(_ index: Int) {
        self.siftUp(index)
        self.siftDown(index)
    }

    private func deadline(_ index: Int) -> NIODeadline { self.heap[index].takeUnretainedValue().deadline }

    private func siftUp(_ start: Int) {
        var index = start
        while index > 0 {
            let parent = (index - 1) / 2
            guard self.deadline(index) < self.deadline(parent) else { return }
            self.swapAt(index, parent)
            index = parent
        }
    }

    private func siftDown(_ start: Int) {
        var index = start
        while true {
            let left = 2 * index + 1
            guard left < self.heap.count else { return }
            var smallest = left
            if left + 1 < self.heap.count, self.deadline(left + 1) < self.deadline(left) { smallest = left + 1 }
            guard self.deadline(smallest) < self.deadline(index) else { return }
            self.swapAt(index, smallest)
            index = smallest
        }
    }

    private func swapAt(_ a: Int, _ b: Int) {
        self.heap.swapAt(a, b)
        self.heap[a].takeUnretainedValue().deadlineSlot = a
        self.heap[b].takeUnretainedValue().deadlineSlot = b
    }
}
