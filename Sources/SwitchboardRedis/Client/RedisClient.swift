import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A connection to one Redis server that comes back by itself.
///
/// Commands are pipelined on one connection: many callers' commands go out back to back, and each gets its
/// own reply. When the connection drops, the client reconnects at once, then with exponential backoff and
/// jitter (``ReconnectBackoff``); meanwhile commands fail at once with an "unavailable" error instead of
/// queueing, so a caller learns within milliseconds that Redis is down. Every connection of a client lives on
/// one event loop, so pushes arrive in one sequence across reconnects.
public final class RedisClient: Sendable {
    public let address: RedisAddress
    let configuration: RedisClientConfiguration
    let eventLoop: any EventLoop
    private let logger: Logger
    private let machine = NIOLockedValueBox(RedisConnectionStateMachine())
    private let hooks = NIOLockedValueBox(Hooks())

    /// What an owner (the pub/sub subscriber) learns about connections. Called on ``eventLoop``.
    struct Hooks: Sendable {
        var connected: (@Sendable (RedisConnection) -> Void)?
        var disconnected: (@Sendable () -> Void)?
        var push: (@Sendable ([RESPValue]) -> Void)?
    }

    public init(address: RedisAddress, configuration: RedisClientConfiguration = RedisClientConfiguration(),
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "switchboard.redis")) {
        self.address = address
        self.configuration = configuration
        self.eventLoop = eventLoopGroup.next()
        var logger = logger
        logger[metadataKey: "redis"] = "\(address)"
        self.logger = logger
    }

    /// Starts connecting; returns at once. Commands sent before the first attempt ends wait for it.
    public func start() {
        self.start(hooks: Hooks())
    }

    func start(hooks: Hooks) {
        self.hooks.withLockedValue { $0 = hooks }
        if case .connect = self.machine.withLockedValue({ $0.startRequested() }) { self.connect() }
    }

    /// Whether a connection is up now.
    public var isConnected: Bool { self.machine.withLockedValue { $0.isConnected } }

    /// Sends a command and returns its reply.
    ///
    /// - Throws: ``RedisClientError``: Redis's error reply with its message, a timeout, "unavailable" at once
    ///   while Redis cannot be reached, "connection closed" when it went away with the command in flight
    ///   (which may then have run or not).
    @discardableResult
    public func send(_ command: RedisCommand) async throws -> RESPValue {
        try await self.connection().send(command)
    }

    /// Sends commands as one pipeline (one write, one round trip) and returns each reply or error, in order.
    /// Errors are those of ``send(_:)``; when Redis cannot be reached, every command gets that error.
    public func send(pipelined commands: [RedisCommand]) async -> [Result<RESPValue, any Error>] {
        let connection: RedisConnection
        do {
            connection = try await self.connection()
        } catch {
            return commands.map { _ in .failure(error) }
        }
        var results: [Result<RESPValue, any Error>] = []
        results.reserveCapacity(commands.count)
        for reply in connection.send(pipelined: commands) {
            do {
                results.append(.success(try await reply.get()))
            } catch {
                results.append(.failure(error))
            }
        }
        return results
    }

    /// The current connection, waiting for an attempt in progress.
    func connection() async throws -> RedisConnection {
        let eventLoop = self.eventLoop
        let action = self.machine.withLockedValue { machine in
            machine.commandRequested(notStarted: .unavailable(self.address, "the client was not started")) {
                eventLoop.makePromise(of: RedisConnection.self)
            }
        }
        switch action {
        case .send(let connection): return connection
        case .wait(let future): return try await future.get()
        case .fail(let error): throw error
        }
    }

    /// Closes the connection and stops reconnecting. Waiting commands fail.
    public func shutdown() async {
        let (connection, waiters) = self.machine.withLockedValue { $0.shutdownRequested() }
        // The hooks hold the owner (a subscriber that holds this client): dropping them ends the cycle.
        self.hooks.withLockedValue { $0 = Hooks() }
        for waiter in waiters { waiter.fail(RedisClientError.shutDown) }
        if let connection { try? await connection.channel.close() }
    }

    private func connect() {
        let hooks = self.hooks.withLockedValue { $0 }
        let push: @Sendable ([RESPValue]) -> Void = { hooks.push?($0) }
        Task {
            let connection: RedisConnection
            do {
                connection = try await RedisConnection.connect(to: self.address, on: self.eventLoop, configuration: self.configuration, onPush: push)
            } catch {
                let failure = error as? RedisClientError ?? .unavailable(self.address, "\(error)")
                return self.connectFailed(failure)
            }
            switch self.machine.withLockedValue({ $0.connectSucceeded(connection) }) {
            case .use(let connection, let waiters):
                self.logger.debug("Connected to Redis")
                connection.closeFuture.whenComplete { _ in self.connectionClosed(connection, hooks: hooks) }
                // On the event loop, as every other hook call, so the owner sees connects and pushes in order.
                self.eventLoop.execute {
                    hooks.connected?(connection)
                    for waiter in waiters { waiter.succeed(connection) }
                }
            case .close(let connection):
                connection.close()
            }
        }
    }

    private func connectFailed(_ error: RedisClientError) {
        guard case .retry(let waiters, let failures) = self.machine.withLockedValue({ $0.connectFailed(error) }) else { return }
        for waiter in waiters { waiter.fail(error) }
        var generator = SystemRandomNumberGenerator()
        let delay = self.configuration.reconnectBackoff.delay(forAttempt: failures, using: &generator)
        // The first failure is worth a warning; the next ones while Redis stays down would only repeat it.
        if failures == 1 {
            self.logger.warning("Cannot connect to Redis; retrying with backoff", metadata: ["error": "\(error)"])
        } else {
            self.logger.debug("Redis still unreachable", metadata: ["failures": "\(failures)", "retryIn": "\(delay)"])
        }
        self.eventLoop.scheduleTask(in: TimeAmount(delay)) {
            if case .connect = self.machine.withLockedValue({ $0.reconnectTimerFired() }) { self.connect() }
        }
    }

    private func connectionClosed(_ connection: RedisConnection, hooks: Hooks) {
        guard case .reconnect = self.machine.withLockedValue({ $0.connectionClosed(connection) }) else { return }
        self.logger.warning("Connection to Redis lost; reconnecting")
        hooks.disconnected?()
        self.connect()
    }
}
