import Foundation
import Logging
import NIOCore
import SwitchboardProtocol

/// One client of the real-time protocol, whatever its transport: authentication, the command queue,
/// subscriptions with recovery, presence, token expiry.
///
/// Confined to its event loop: the transport, the hub and timers all call it there, so its state needs no
/// lock. Commands run one at a time in arrival order (each gets its reply before the next starts), which
/// keeps replies in order and gives a flooding client natural backpressure on top of the rate limit.
final class ClientSession: @unchecked Sendable {
    enum State {
        /// Waiting for `connect` (or for the URL's token to be checked); the timer drops a silent client.
        case awaitingConnect(timeout: Scheduled<Void>?)
        case connected(SessionIdentity)
        case closed
    }

    let context: ServerContext
    let eventLoop: any EventLoop
    let clientID: String
    weak var transport: (any SessionTransport)?
    let remoteAddress: String?

    var state: State = .awaitingConnect(timeout: nil)
    var subscriptions: [String: Subscription] = [:]
    var rateLimit: TokenBucket
    var rateLimitStrikes = 0
    var queue: [ClientCommand] = []
    var executing = false
    var expiryTimer: Scheduled<Void>?
    var logger: Logger

    init(context: ServerContext, eventLoop: any EventLoop, transport: any SessionTransport, remoteAddress: String?) {
        self.context = context
        self.eventLoop = eventLoop
        self.clientID = ClientID.make()
        self.transport = transport
        self.remoteAddress = remoteAddress
        let limits = context.limits
        self.rateLimit = TokenBucket(ratePerSecond: limits.commandsPerSecond, burst: limits.commandBurst)
        self.logger = context.logger
        self.logger[metadataKey: "client"] = "\(self.clientID)"
    }

    var identity: SessionIdentity? {
        if case .connected(let identity) = self.state { return identity }
        return nil
    }

    var isClosed: Bool {
        if case .closed = self.state { return true }
        return false
    }

    // MARK: - Inputs from the transport

    /// The connection is open. `token` came with the connection (the URL's `token` query parameter, or the
    /// SSE request): it is checked before any command runs.
    func opened(token: String?) {
        let timeout = TimeAmount.seconds(Int64(self.context.limits.connectTimeout))
        let timer = self.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard case .awaitingConnect = self.state else { return }
            self.disconnect(.init(code: .unauthorized, reason: "no connect command within \(self.context.limits.connectTimeout) s"))
        }
        self.state = .awaitingConnect(timeout: timer)
        if let token {
            self.executing = true
            self.authenticate(token: token) { [self] result in
                if case .failure(let error) = result {
                    self.disconnect(.init(code: error.disconnectCode, reason: error.message))
                }
                self.commandFinished()
            }
        }
    }

    /// One text message from the client: a command.
    func received(_ text: ByteBuffer) {
        guard !self.isClosed else { return }
        let decoded = ClientCommand.decode(text.readableBytesView)
        guard self.rateLimit.take(now: NIODeadline.now().uptimeNanoseconds) else {
            self.rateLimitStrikes += 1
            if self.rateLimitStrikes >= self.context.limits.rateLimitStrikes {
                self.disconnect(.init(code: .rateLimited, reason: "too many commands"))
            } else {
                let id: UInt64? = switch decoded {
                case .success(let command): command.id
                case .failure(let error): error.id
                }
                self.context.metrics.commandFailed(.rateLimited)
                self.reply(.error(id: id, .init(code: .rateLimited,
                                                message: "too many commands: at most \(self.context.limits.commandsPerSecond) per second")))
            }
            return
        }
        self.rateLimitStrikes = 0
        switch decoded {
        case .success(let command):
            self.enqueue(command)
        case .failure(let error):
            self.context.metrics.commandFailed(error.code)
            self.reply(.error(id: error.id, .init(code: error.code, message: error.message)))
        }
    }

    /// Runs one command and answers it, outside the queue (the SSE transport's HTTP commands).
    func execute(_ command: ClientCommand, reply: @escaping (ServerMessage) -> Void) {
        guard self.rateLimit.take(now: NIODeadline.now().uptimeNanoseconds) else {
            self.context.metrics.commandFailed(.rateLimited)
            return reply(.error(id: command.id, .init(code: .rateLimited, message: "too many commands")))
        }
        self.performMeasured(command, reply: reply)
    }

    /// Runs a command and records its duration and, for an error, its code.
    private func performMeasured(_ command: ClientCommand, reply: @escaping (ServerMessage) -> Void) {
        let started = NIODeadline.now()
        let metrics = self.context.metrics
        self.perform(command) { message in
            metrics.commandCompleted(command, duration: .nanoseconds((NIODeadline.now() - started).nanoseconds))
            if case .error(_, let error) = message { metrics.commandFailed(error.code) }
            reply(message)
        }
    }

    /// The connection is gone (closed by either side).
    func transportClosed() {
        guard !self.isClosed else { return }
        if case .awaitingConnect(let timer) = self.state { timer?.cancel() }
        let identity = self.identity
        self.state = .closed
        self.expiryTimer?.cancel()
        self.queue.removeAll()
        self.context.sessions.remove(client: self.clientID)
        for (channel, subscription) in self.subscriptions {
            // A subscription still waiting for the hub is released by its own callback when it sees this.
            if case .joining(_, registered: false) = subscription { continue }
            self.leave(channel, identity: identity)
        }
        self.subscriptions.removeAll()
    }

    // MARK: - Command queue

    /// Queues a command as if the client had sent it (SSE subscribes to the channels of its URL this way).
    func enqueue(_ command: ClientCommand) {
        self.queue.append(command)
        self.runNextCommand()
    }

    /// The last position delivered in each live subscription: what a client resumes from.
    var positions: [String: StreamPosition] {
        var positions: [String: StreamPosition] = [:]
        for (channel, subscription) in self.subscriptions {
            if case .live(let position) = subscription { positions[channel] = position }
        }
        return positions
    }

    private func runNextCommand() {
        guard !self.executing, !self.isClosed, !self.queue.isEmpty else { return }
        let command = self.queue.removeFirst()
        self.executing = true
        self.performMeasured(command) { [self] message in
            self.reply(message)
            self.commandFinished()
        }
    }

    func commandFinished() {
        self.executing = false
        self.runNextCommand()
    }

    /// Sends a reply or push now. A client that stopped reading is closed by the transport.
    func reply(_ message: ServerMessage) {
        guard !self.isClosed else { return }
        do {
            try self.transport?.send(ServerMessageEncoder.encode(message))
        } catch {
            self.transportClosed()
        }
    }

    /// Tells the client why, closes the connection and forgets the session.
    func disconnect(_ disconnect: ServerMessage.Disconnect) {
        guard !self.isClosed else { return }
        self.logger.debug("Disconnecting client", metadata: ["code": "\(disconnect.code)", "reason": "\(disconnect.reason)"])
        let transport = self.transport
        self.transportClosed()
        transport?.disconnect(disconnect)
    }

    /// The client stopped reading and its queue is full: it cannot be told in band, so it is dropped and
    /// counted; it reconnects and recovers from history.
    func slowConsumer() {
        self.logger.info("Disconnecting a slow consumer")
        self.disconnect(.init(code: .slowConsumer, reason: "client did not read fast enough"))
    }

    // MARK: - Async work

    /// Runs `operation` off the event loop and `then` back on it: how commands await the broker and the
    /// token verifier while the session's state stays confined to the loop.
    func run<Value: Sendable>(_ operation: @escaping @Sendable () async throws -> Value,
                              then: @escaping (Result<Value, any Error>) -> Void) {
        let promise = self.eventLoop.makePromise(of: Value.self)
        promise.completeWithTask(operation)
        promise.futureResult.assumeIsolated().whenComplete(then)
    }
}

