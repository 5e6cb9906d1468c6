import NIOConcurrencyHelpers

/// The current ``ConnectionState`` and every listener's stream; each new stream starts with the current state.
final class StateBroadcaster: Sendable {
    private struct Listeners {
        var current: ConnectionState
        var next = 0
        var continuations: [Int: AsyncStream<ConnectionState>.Continuation] = [:]
    }

    private let listeners: NIOLockedValueBox<Listeners>

    init(_ initial: ConnectionState) {
        self.listeners = NIOLockedValueBox(Listeners(current: initial))
    }

    var current: ConnectionState { self.listeners.withLockedValue { $0.current } }

    func publish(_ state: ConnectionState) {
        // Yield under the lock: two publishers must not reach listeners in different orders.
        self.listeners.withLockedValue { listeners in
            listeners.current = state
            for continuation in listeners.continuations.values { continuation.yield(state) }
        }
    }

    func stream() -> AsyncStream<ConnectionState> {
        let (stream, continuation) = AsyncStream<ConnectionState>.makeStream()
        let key = self.listeners.withLockedValue { listeners -> Int in
            let key = listeners.next
            listeners.next += 1
            listeners.continuations[key] = continuation
            continuation.yield(listeners.current)
            return key
        }
        continuation.onTermination = { [weak self] _ in
            self?.listeners.withLockedValue { _ = $0.continuations.removeValue(forKey: key) }
        }
        return stream
    }
}
