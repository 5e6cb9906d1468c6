import NIOConcurrencyHelpers
import NIOCore

/// The server's live connections, so shutdown can ask each to close and wait until all have.
final class ConnectionRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var drainWaiters: [EventLoopPromise<Void>] = []
    }

    private let state = NIOLockedValueBox(State())

    func add(_ channel: any Channel) {
        self.state.withLockedValue { $0.channels[ObjectIdentifier(channel)] = channel }
    }

    /// Called by the connection's handler when its channel goes inactive (no per-channel callback to keep).
    func remove(_ channel: any Channel) {
        let waiters: [EventLoopPromise<Void>] = self.state.withLockedValue { state in
            state.channels[ObjectIdentifier(channel)] = nil
            guard state.channels.isEmpty else { return [] }
            defer { state.drainWaiters.removeAll() }
            return state.drainWaiters
        }
        for waiter in waiters { waiter.succeed() }
    }

    var count: Int { self.state.withLockedValue { $0.channels.count } }

    var channels: [any Channel] { self.state.withLockedValue { Array($0.channels.values) } }

    /// Completes when no connection is left.
    func drained(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        let empty = self.state.withLockedValue { state -> Bool in
            if state.channels.isEmpty { return true }
            state.drainWaiters.append(promise)
            return false
        }
        if empty { promise.succeed() }
        return promise.futureResult
    }
}
