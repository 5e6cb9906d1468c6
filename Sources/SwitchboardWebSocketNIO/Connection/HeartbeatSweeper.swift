import NIOConcurrencyHelpers
import NIOCore

/// One heartbeat timer per event loop and configuration, instead of one per connection: a scheduled task
/// costs a few hundred bytes, which would be most of what an idle connection holds.
///
/// Every `timeout` (or `interval` if shorter) the sweeper visits the loop's connections. A connection
/// silent for at least `interval` is pinged; one still silent `timeout` after its ping is closed. Times are
/// therefore accurate to one sweep period.
final class HeartbeatSweeper {
    private struct Key: Hashable {
        var eventLoop: ObjectIdentifier
        var heartbeat: WebSocketConfiguration.Heartbeat
    }

    /// Sweepers by event loop; created on first use, living as long as the process (a handful at most).
    private static let sweepers = NIOLockedValueBox<[Key: NIOLoopBound<HeartbeatSweeper>]>([:])

    /// The sweeper for `heartbeat` on `eventLoop`; call on that loop.
    static func on(_ eventLoop: any EventLoop, heartbeat: WebSocketConfiguration.Heartbeat) -> HeartbeatSweeper {
        let key = Key(eventLoop: ObjectIdentifier(eventLoop), heartbeat: heartbeat)
        return self.sweepers.withLockedValue { sweepers in
            if let existing = sweepers[key] { return existing.value }
            let sweeper = HeartbeatSweeper(eventLoop: eventLoop, heartbeat: heartbeat)
            sweepers[key] = NIOLoopBound(sweeper, eventLoop: eventLoop)
            return sweeper
        }
    }

    private let eventLoop: any EventLoop
    private let heartbeat: WebSocketConfiguration.Heartbeat
    private let period: TimeAmount
    private var connections: [ObjectIdentifier: Unmanaged<WebSocketChannelHandler>] = [:]
    private var timer: Scheduled<Void>?

    private init(eventLoop: any EventLoop, heartbeat: WebSocketConfiguration.Heartbeat) {
        self.eventLoop = eventLoop
        self.heartbeat = heartbeat
        self.period = min(heartbeat.interval, heartbeat.timeout)
    }

    /// Starts watching `handler` until ``remove(_:)``; the handler must remove itself before it goes away.
    func add(_ handler: WebSocketChannelHandler) {
        self.connections[ObjectIdentifier(handler)] = .passUnretained(handler)
        if self.timer == nil { self.schedule() }
    }

    func remove(_ handler: WebSocketChannelHandler) {
        self.connections[ObjectIdentifier(handler)] = nil
        if self.connections.isEmpty {
            self.timer?.cancel()
            self.timer = nil
        }
    }

    private func schedule() {
        self.timer = self.eventLoop.assumeIsolated().scheduleTask(in: self.period) { [self] in
            self.timer = nil
            // The loop's clock, which the scheduled task runs on too (a test loop's clock moves only when
            // the test advances it).
            let now = self.eventLoop.now
            // Visiting may close connections, which removes them: iterate over a copy.
            for handler in Array(self.connections.values) {
                handler.takeUnretainedValue().heartbeatSweep(now: now, heartbeat: self.heartbeat)
            }
            if !self.connections.isEmpty && self.timer == nil { self.schedule() }
        }
    }
}
