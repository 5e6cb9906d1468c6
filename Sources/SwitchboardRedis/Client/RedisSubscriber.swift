import Logging
import NIOCore
import NIOPosix

/// The pub/sub side of one Redis server: its own connection (a subscribed connection should not wait behind
/// slow commands), the channels this node listens to, and the messages that arrive on them.
///
/// All state lives on the client's event loop, where pushes arrive too: SUBSCRIBE and UNSUBSCRIBE go out in
/// the order they were asked for, and `onMessage` is called one message at a time in the order Redis
/// published them. After a reconnect every name with interest is subscribed again; what was published
/// meanwhile is not replayed (readers recover it from history).
final class RedisSubscriber: @unchecked Sendable {
    private let client: RedisClient
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let onMessage: @Sendable (_ name: String, _ payload: ByteBuffer) -> Void
    private let onResubscribed: @Sendable (_ name: String) -> Void
    // Event loop only:
    private var table = SubscriptionTable()
    private var connection: RedisConnection?
    private var hasConnectedBefore = false
    /// Names subscribed again after a reconnect whose confirmation has not come yet.
    private var resubscribing: Set<String> = []

    /// Redis accepts any number of names per SUBSCRIBE; chunks keep one command of a node with 100,000
    /// channels from being a multi-megabyte write.
    static let namesPerCommand = 1000

    /// - Parameters:
    ///   - onMessage: a message on a subscribed name. Called on the event loop, one at a time, in order.
    ///   - onResubscribed: after a lost connection, a name is subscribed again and Redis confirmed it: messages
    ///     published while it was not subscribed are lost, and every message from now on arrives. Called on
    ///     the event loop, in order with `onMessage`.
    init(client: RedisClient, logger: Logger, onMessage: @escaping @Sendable (String, ByteBuffer) -> Void,
         onResubscribed: @escaping @Sendable (String) -> Void = { _ in }) {
        self.client = client
        self.eventLoop = client.eventLoop
        self.logger = logger
        self.onMessage = onMessage
        self.onResubscribed = onResubscribed
    }

    func start() {
        self.client.start(hooks: .init(
            connected: { connection in self.connected(connection) },
            disconnected: { self.eventLoop.execute { self.disconnected() } },
            push: { elements in self.received(elements) }))
    }

    /// Waits for the first connection attempt (or the one in progress) to end, whatever its outcome.
    func waitForConnectionAttempt() async {
        _ = try? await self.client.connection()
    }

    func shutdown() async {
        await self.client.shutdown()
    }

    /// Returns once Redis confirmed every name (at once for names already confirmed).
    func subscribe(_ names: [String]) async throws {
        let timeout = self.client.configuration.commandTimeout
        let address = self.client.address
        do {
            try await self.eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
                let action = self.table.subscribeRequested(names) { self.eventLoop.makePromise(of: Void.self) }
                guard case .subscribe(let send, let waiters) = action, let connection = self.connection else {
                    return self.eventLoop.makeFailedFuture(RedisClientError.unavailable(address, "the pub/sub connection is down"))
                }
                self.write("SUBSCRIBE", send, on: connection)
                guard !waiters.isEmpty else { return self.eventLoop.makeSucceededVoidFuture() }
                // A confirmation that comes after this is a no-op: a promise completes once.
                let timer = self.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                    for waiter in waiters { waiter.fail(RedisClientError.timedOut("SUBSCRIBE", after: timeout)) }
                }
                let all = EventLoopFuture.andAllSucceed(waiters.map(\.futureResult), on: self.eventLoop)
                all.whenComplete { _ in timer.cancel() }
                return all
            }.get()
        } catch {
            // Not subscribed as far as the caller knows, so the interest taken for it is given back.
            await self.unsubscribe(names, ifCountedFor: error)
            throw error
        }
    }

    func unsubscribe(_ names: [String]) async {
        await self.unsubscribe(names, ifCountedFor: nil)
    }

    private func unsubscribe(_ names: [String], ifCountedFor error: (any Error)?) async {
        // A subscribe refused before anything was counted (no connection) has nothing to give back.
        if let error = error as? RedisClientError, error.isUnavailable { return }
        try? await self.eventLoop.submit {
            let send = self.table.unsubscribeRequested(names)
            if let connection = self.connection { self.write("UNSUBSCRIBE", send, on: connection) }
        }.get()
    }

    /// Whether Redis confirmed `name` (tests).
    func isSubscribed(_ name: String) async -> Bool {
        (try? await self.eventLoop.submit { self.table.isSubscribed(name) }.get()) ?? false
    }

    // MARK: - Event loop

    private func connected(_ connection: RedisConnection) {
        self.eventLoop.preconditionInEventLoop()
        self.connection = connection
        let names = self.table.connectionEstablished()
        self.write("SUBSCRIBE", names, on: connection)
        if self.hasConnectedBefore {
            // What was published while the connection was down is gone; `onResubscribed` tells the broker's
            // user per name, once Redis confirms it, so readers go to history even on a quiet channel.
            self.resubscribing = Set(names)
            self.logger.warning("Pub/sub connection back; subscribed again, publications in between are not replayed",
                                metadata: ["channels": "\(names.count)"])
        }
        self.hasConnectedBefore = true
    }

    private func disconnected() {
        self.connection = nil
        self.resubscribing = []
        for waiter in self.table.connectionLost() { waiter.fail(RedisClientError.connectionClosed) }
    }

    private func received(_ elements: [RESPValue]) {
        self.eventLoop.preconditionInEventLoop()
        guard elements.count >= 2, let kind = elements[0].string, let name = elements[1].string else { return }
        switch kind {
        case "message":
            guard elements.count >= 3, case .bulkString(let payload) = elements[2], self.table.isSubscribed(name) else { return }
            self.onMessage(name, payload)
        case "subscribe":
            for waiter in self.table.confirmationReceived(.subscribe, for: name) { waiter.succeed() }
            if self.resubscribing.remove(name) != nil { self.onResubscribed(name) }
        case "unsubscribe":
            let waiters = self.table.confirmationReceived(.unsubscribe, for: name)
            for waiter in waiters { waiter.fail(RedisClientError.protocolError("UNSUBSCRIBE confirmed where SUBSCRIBE was due")) }
        default:
            // Pattern and shard messages, invalidations: nothing this subscriber asked for.
            return
        }
    }

    private func write(_ command: String, _ names: [String], on connection: RedisConnection) {
        var start = 0
        while start < names.count {
            let end = min(names.count, start + Self.namesPerCommand)
            connection.sendExpectingPushes(RedisCommand(command, Array(names[start..<end])))
            start = end
        }
    }
}
