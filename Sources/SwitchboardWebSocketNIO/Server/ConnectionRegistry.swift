import NIOConcurrencyHelpers
import NIOCore

/// A WebSocket connection as the registry knows it: a NIO channel or an epoll socket.
enum RegisteredConnection: @unchecked Sendable {  // a socket is only used on its loop, through `execute`
    case channel(any Channel)
    #if os(Linux)
    case socket(EpollSocket)
    #endif

    var id: ObjectIdentifier {
        switch self {
        case .channel(let channel): ObjectIdentifier(channel)
        #if os(Linux)
        case .socket(let socket): ObjectIdentifier(socket)
        #endif
        }
    }

    /// Starts the connection's graceful close (a close handshake when open).
    func shutDown(_ event: GracefulShutdownEvent) {
        switch self {
        case .channel(let channel): channel.triggerUserOutboundEvent(event, promise: nil)
        #if os(Linux)
        case .socket(let socket): socket.loop.execute { socket.handler?.shutDown(event) }
        #endif
        }
    }

    /// Closes the connection at once.
    func close() {
        switch self {
        case .channel(let channel): channel.close(promise: nil)
        #if os(Linux)
        case .socket(let socket): socket.loop.execute { socket.close() }
        #endif
        }
    }
}

/// The server's live connections, so shutdown can ask each to close and wait until all have.
///
/// Two kinds: WebSocket connections (and connections still in their opening handshake), which the
/// WebSocket handler runs and ends; and connections handed over to the HTTP handover, which someone else
/// runs but which shutdown must still close.
final class ConnectionRegistry: Sendable {
    private struct State {
        var webSocketConnections: [ObjectIdentifier: RegisteredConnection] = [:]
        var handedOverChannels: [ObjectIdentifier: any Channel] = [:]
        var drainWaiters: [EventLoopPromise<Void>] = []

        var isEmpty: Bool { self.webSocketConnections.isEmpty && self.handedOverChannels.isEmpty }

        /// The waiters to succeed now that the last connection is gone (none while some remain).
        mutating func takeDrainWaitersIfEmpty() -> [EventLoopPromise<Void>] {
            guard self.isEmpty else { return [] }
            defer { self.drainWaiters.removeAll() }
            return self.drainWaiters
        }
    }

    private let state = NIOLockedValueBox(State())

    func add(_ connection: RegisteredConnection) {
        self.state.withLockedValue { $0.webSocketConnections[connection.id] = connection }
    }

    /// Called by the connection's handler when its channel goes inactive (no per-channel callback to keep).
    /// A connection handed over is not touched: it stays registered until its channel closes.
    func remove(_ connection: RegisteredConnection) {
        let waiters = self.state.withLockedValue { state in
            state.webSocketConnections[connection.id] = nil
            return state.takeDrainWaitersIfEmpty()
        }
        for waiter in waiters { waiter.succeed() }
    }

    /// Moves `channel` to the handed-over connections until it closes or is taken back. Handed-over
    /// connections are rare next to idle WebSocket connections, so a close callback each is affordable.
    func handOver(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        self.state.withLockedValue { state in
            state.webSocketConnections[id] = nil
            state.handedOverChannels[id] = channel
        }
        channel.closeFuture.whenComplete { _ in
            let waiters = self.state.withLockedValue { state in
                state.handedOverChannels[id] = nil
                return state.takeDrainWaitersIfEmpty()
            }
            for waiter in waiters { waiter.succeed() }
        }
    }

    /// Moves a handed-over `channel` back to the WebSocket connections: a later request on it upgraded.
    func takeBack(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        self.state.withLockedValue { state in
            state.handedOverChannels[id] = nil
            state.webSocketConnections[id] = .channel(channel)
        }
    }

    /// WebSocket connections, including those still in their opening handshake.
    var count: Int { self.state.withLockedValue { $0.webSocketConnections.count } }

    var webSocketConnections: [RegisteredConnection] { self.state.withLockedValue { Array($0.webSocketConnections.values) } }

    var handedOverChannels: [any Channel] { self.state.withLockedValue { Array($0.handedOverChannels.values) } }

    /// Completes when no connection of either kind is left.
    func drained(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        let empty = self.state.withLockedValue { state -> Bool in
            if state.isEmpty { return true }
            state.drainWaiters.append(promise)
            return false
        }
        if empty { promise.succeed() }
        return promise.futureResult
    }
}
