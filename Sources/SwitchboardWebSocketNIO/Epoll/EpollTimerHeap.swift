import NIOCore

/// One task scheduled on an ``EpollEventLoop``: run at `deadline`, or failed when cancelled or when the loop
/// shuts down. The loop's lock guards `state`; `run` is called on the loop only.
final class EpollTimer: @unchecked Sendable {
    enum State { case pending, fired, cancelled }

    let deadline: UInt64
    /// Breaks ties between equal deadlines: tasks run in the order they were scheduled.
    let sequence: UInt64
    let run: () -> Void
    let fail: (any Error) -> Void
    var state = State.pending

    init(deadline: UInt64, sequence: UInt64, run: @escaping () -> Void, fail: @escaping (any Error) -> Void) {
        self.deadline = deadline
        self.sequence = sequence
        self.run = run
        self.fail = fail
    }

    func runs(before other: EpollTimer) -> Bool {
        (self.deadline, self.sequence) < (other.deadline, other.sequence)
    }
}

/// A binary min-heap of timers by deadline. Cancelled timers stay until they come up or until they are
/// most of the heap (a handshake timeout cancelled by every connection that opens would otherwise wait out
/// its deadline in here), then are swept out at once.
struct EpollTimerHeap {
    private var timers: [EpollTimer] = []
    private var cancelledCount = 0

    var isEmpty: Bool { self.timers.isEmpty }
    var earliest: EpollTimer? { self.timers.first }

    mutating func insert(_ timer: EpollTimer) {
        self.timers.append(timer)
        self.siftUp(self.timers.count - 1)
    }

    /// Removes and returns the earliest timer if it is due at `now` (cancelled ones are dropped on the way).
    mutating func popDue(now: UInt64) -> EpollTimer? {
        while let first = self.timers.first {
            if first.state == .cancelled {
                self.removeFirst()
                self.cancelledCount -= 1
                continue
            }
            guard first.deadline <= now else { return nil }
            self.removeFirst()
            return first
        }
        return nil
    }

    /// The earliest deadline of a timer not cancelled.
    mutating func nextDeadline() -> UInt64? {
        while let first = self.timers.first, first.state == .cancelled {
            self.removeFirst()
            self.cancelledCount -= 1
        }
        return self.timers.first?.deadline
    }

    /// Counts a timer just marked cancelled; sweeps when cancelled timers are most of the heap.
    mutating func noteCancelled() {
        self.cancelledCount += 1
        guard self.cancelledCount > 64, self.cancelledCount * 2 > self.timers.count else { return }
        self.timers.removeAll { $0.state == .cancelled }
        self.cancelledCount = 0
        for index in stride(from: self.timers.count / 2 - 1, through: 0, by: -1) { self.siftDown(index) }
    }

    /// Empties the heap, returning the timers still pending (to fail them at shutdown).
    mutating func removeAllPending() -> [EpollTimer] {
        defer { self.timers.removeAll(); self.cancelledCount = 0 }
        return self.timers.filter { $0.state == .pending }
    }

    private mutating func removeFirst() {
        let last = self.timers.removeLast()
        guard !self.timers.isEmpty else { return }
        self.timers[0] = last
        self.siftDown(0)
    }

    private mutating func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard self.timers[child].runs(before: self.timers[parent]) else { return }
            self.timers.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var parent = index
        while true {
            let left = 2 * parent + 1
            guard left < self.timers.count else { return }
            var smallest = left
            let right = left + 1
            if right < self.timers.count, self.timers[right].runs(before: self.timers[left]) { smallest = right }
            guard self.timers[smallest].runs(before: self.timers[parent]) else { return }
            self.timers.swapAt(smallest, parent)
            parent = smallest
        }
    }
}
