import NIOConcurrencyHelpers
import NIOCore

/// Measures how late each of the node's event loops runs its timers, a few times a second, and reports it to
/// admission control (which closes the node to newcomers while a loop is too far behind) and to the
/// `switchboard_event_loop_lag_seconds` metric.
///
/// A loop busy with a broadcast, or waiting for a CPU that other processes hold, runs its timers late: the
/// same lateness delays its users' heartbeats and deliveries, which is what a newcomer's handshake, token
/// check and history reads would add to.
final class LoopLagProbe: Sendable {
    /// How often each loop is probed.
    static let period = TimeAmount.milliseconds(250)

    private let tasks = NIOLockedValueBox<[RepeatedTask]>([])

    /// Starts probing `eventLoops`; each lateness goes to `report` (nanoseconds late, the loop's now).
    init(eventLoops: [any EventLoop], report: @escaping @Sendable (_ lateness: UInt64, _ now: NIODeadline) -> Void) {
        let period = Self.period
        let tasks = eventLoops.map { loop in
            // Each run is due one period after the previous one ended (NIO's fixed-delay repetition).
            let due = NIOLoopBoundBox.makeBoxSendingValue(loop.now + period, eventLoop: loop)
            return loop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
                let now = loop.now
                let lateness = now > due.value ? UInt64((now - due.value).nanoseconds) : 0
                due.value = now + period
                report(lateness, now)
            }
        }
        self.tasks.withLockedValue { $0 = tasks }
    }

    /// Stops every probe.
    func stop() {
        for task in self.tasks.withLockedValue({ tasks in defer { tasks = [] }; return tasks }) { task.cancel() }
    }
}
