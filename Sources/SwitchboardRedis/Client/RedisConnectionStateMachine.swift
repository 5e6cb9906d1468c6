import NIOCore

/// The life of a ``RedisClient``'s connection, every transition in this file.
///
/// ```
/// idle ──start──▶ connecting ──succeeded──▶ connected ──closed──▶ connecting (at once)
///                    │  ▲
///              failed│  │timer fired
///                    ▼  │
///             waitingToReconnect  (commands fail fast here)          any ──shutdown──▶ shutDown
/// ```
/// A command in `connecting` waits for the attempt (bounded by the connect timeout); in
/// `waitingToReconnect` it fails at once with the last error, so callers never hang while Redis is down.
struct RedisConnectionStateMachine {
    enum State {
        case idle
        /// `failures`: attempts that failed in a row before this one (the backoff grows with it).
        case connecting(failures: Int, waiters: [EventLoopPromise<RedisConnection>])
        case connected(RedisConnection)
        case waitingToReconnect(failures: Int, lastError: RedisClientError)
        case shutDown
    }

    private(set) var state = State.idle

    enum ConnectAction {
        case connect
        case none
    }

    mutating func startRequested() -> ConnectAction {
        guard case .idle = self.state else { return .none }
        self.state = .connecting(failures: 0, waiters: [])
        return .connect
    }

    enum CommandAction {
        case send(RedisConnection)
        case wait(EventLoopFuture<RedisConnection>)
        case fail(RedisClientError)
    }

    mutating func commandRequested(notStarted: RedisClientError,
                                   makeWaiter: () -> EventLoopPromise<RedisConnection>) -> CommandAction {
        switch self.state {
        case .idle:
            return .fail(notStarted)
        case .connecting(let failures, var waiters):
            let waiter = makeWaiter()
            waiters.append(waiter)
            self.state = .connecting(failures: failures, waiters: waiters)
            return .wait(waiter.futureResult)
        case .connected(let connection):
            return .send(connection)
        case .waitingToReconnect(_, let lastError):
            return .fail(lastError)
        case .shutDown:
            return .fail(.shutDown)
        }
    }

    enum ConnectedAction {
        /// Announce the connection, then let the waiting commands through.
        case use(RedisConnection, waiters: [EventLoopPromise<RedisConnection>])
        /// Shut down while connecting: the new connection is not wanted.
        case close(RedisConnection)
    }

    mutating func connectSucceeded(_ connection: RedisConnection) -> ConnectedAction {
        switch self.state {
        case .connecting(_, let waiters):
            self.state = .connected(connection)
            return .use(connection, waiters: waiters)
        case .shutDown:
            return .close(connection)
        case .idle, .connected, .waitingToReconnect:
            preconditionFailure("Internal inconsistency: a connection attempt finished in state \(self.state)")
        }
    }

    enum FailedAction {
        case retry(failingWaiters: [EventLoopPromise<RedisConnection>], failures: Int)
        case none
    }

    mutating func connectFailed(_ error: RedisClientError) -> FailedAction {
        switch self.state {
        case .connecting(let failures, let waiters):
            self.state = .waitingToReconnect(failures: failures + 1, lastError: error)
            return .retry(failingWaiters: waiters, failures: failures + 1)
        case .shutDown:
            return .none
        case .idle, .connected, .waitingToReconnect:
            preconditionFailure("Internal inconsistency: a connection attempt failed in state \(self.state)")
        }
    }

    enum ClosedAction {
        /// Tell the owner the connection is gone and connect again at once: a dropped connection to a
        /// healthy Redis (an idle timeout, a failover) should cost one round trip, not a backoff.
        case reconnect
        case none
    }

    mutating func connectionClosed(_ connection: RedisConnection) -> ClosedAction {
        guard case .connected(let current) = self.state, current === connection else { return .none }
        self.state = .connecting(failures: 0, waiters: [])
        return .reconnect
    }

    mutating func reconnectTimerFired() -> ConnectAction {
        guard case .waitingToReconnect(let failures, _) = self.state else { return .none }
        self.state = .connecting(failures: failures, waiters: [])
        return .connect
    }

    mutating func shutdownRequested() -> (connection: RedisConnection?, waiters: [EventLoopPromise<RedisConnection>]) {
        defer { self.state = .shutDown }
        switch self.state {
        case .connected(let connection): return (connection, [])
        case .connecting(_, let waiters): return (nil, waiters)
        case .idle, .waitingToReconnect, .shutDown: return (nil, [])
        }
    }

    var isConnected: Bool {
        if case .connected = self.state { return true }
        return false
    }
}
