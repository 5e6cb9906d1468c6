import Foundation
import Logging
import NIOCore
import SwitchboardProtocol

/// One client of the real-time protocol, whatever its transport: authentication, the command queue,
/// subscriptions with recovery, presence, token expiry.
///
/// Confined to its event loop: the transport, the hub and timers all call it there, so its state needs no
/// lock. Commands run one at a time in arrival order (each gets its reply before the next starts), which
/// keeps replies in order and gives a flooding client natural backpressure on top of the rate limit;
/// consecutive publishes run as one batch, still in order (``runPublishBatch()``).
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
    /// Held strongly while the connection lives and dropped when it closes (``transportClosed()``), which
    /// breaks the cycle with a transport that holds its session: a weak reference here would cost a side
    /// table per connection and a weak load per delivery.
    private(set) var transport: (any SessionTransport)?
    let remoteAddress: String?

    var state: State = .awaitingConnect(timeout: nil)
    var subscriptions = SubscriptionMap()
    var rateLimit: TokenBucket
    var rateLimitStrikes = 0
    /// Commands waiting their turn, each with where its answer goes (nil: to the transport).
    var queue: [(command: ClientCommand, reply: ((ServerMessage) -> Void)?)] = []
    var executing = false
    /// The transport is still handing over commands that arrived together; they start once it is done.
    private var commandsHeld = false
    /// Where the token's life stands: what happens at ``deadline`` (kept by the loop's ``SessionDeadlines``).
    var expiry = TokenExpiry.none
    var deadline = NIODeadline.uptimeNanoseconds(0)
    /// This session's place in its loop's ``SessionDeadlines`` (-1: none).
    var deadlineSlot = -1
    /// Presence updates and join/leave events run one after another, so a quick subscribe-unsubscribe
    /// cannot announce the leave before the join or leave a stale entry behind.
    var presenceWork: EventLoopFuture<Void>
    /// The node's logger, shared: each session's own copy with its client id as metadata cost about 500
    /// bytes per connection, for the few lines a session logs (they name the client themselves).
    var logger: Logger { self.context.logger }

    init(context: ServerContext, eventLoop: any EventLoop, transport: any SessionTransport, remoteAddress: String?) {
        self.context = context
        self.eventLoop = eventLoop
        self.clientID = ClientID.make()
        self.transport = transport
        self.remoteAddress = remoteAddress
        let limits = context.limits
        self.rateLimit = TokenBucket(ratePerSecond: limits.commandsPerSecond, burst: limits.commandBurst)
        self.presenceWork = eventLoop.makeSucceededVoidFuture()
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

    /// The connection is open. `credential` came with it (the URL's `token` or `ticket` query parameter, or
    /// the SSE request): it is checked before any command runs.
    func opened(credential: ConnectionCredential?) {
        let timeout = TimeAmount.seconds(Int64(self.context.limits.connectTimeout))
        let timer = self.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard case .awaitingConnect = self.state else { return }
            self.disconnect(.init(code: .unauthorized, reason: "no connect command within \(self.context.limits.connectTimeout) s"))
        }
        self.state = .awaitingConnect(timeout: timer)
        guard let credential else { return }
        self.executing = true
        let finished: ((DisconnectCode, String)?) -> Void = { [self] refusal in
            if let (code, reason) = refusal { self.disconnect(.init(code: code, reason: reason)) }
            self.commandFinished()
        }
        switch credential {
        case .token(let token):
            self.authenticate(token: token) { result in
                guard case .failure(let error) = result else { return finished(nil) }
                finished((error.disconnectCode, error.message))
            }
        case .ticket(let ticket):
            self.redeem(ticket: ticket) { result in
                switch result {
                case .success: finished(nil)
                case .failure(let refusal as TicketRefusal): finished((.ticketRefused, refusal.message))
                case .failure(let error): finished((.internalError, "cannot check the ticket: \(error)"))
                }
            }
        case .verified(let credentials):
            self.admit(credentials)
            finished(nil)
        }
    }

    /// One text message from the client: a command.
    func received(_ text: ByteBuffer) {
        guard !self.isClosed else { return }
        let decoded = ClientCommand.decode(text.readableBytesView)
        let id: UInt64? = switch decoded {
        case .success(let command): command.id
        case .failure(let error): error.id
        }
        guard self.admitCommand(id: id, reply: { [self] in self.reply($0) }) else { return }
        switch decoded {
        case .success(let command):
            self.enqueue(command)
        case .failure(let error):
            self.context.metrics.commandFailed(error.code)
            self.reply(.error(id: error.id, .init(code: error.code, message: error.message)))
        }
    }

    /// A binary message: not part of the protocol, but it costs the same rate-limit token as a command.
    func receivedBinary() {
        guard !self.isClosed, self.admitCommand(id: nil, reply: { [self] in self.reply($0) }) else { return }
        self.context.metrics.commandFailed(.badRequest)
        self.reply(.error(id: nil, .init(code: .badRequest, message: "commands are JSON text messages; binary messages are not accepted")))
    }

    /// Runs one command for a transport that answers each request itself (SSE's HTTP commands), in the
    /// same queue and under the same rate limit as the stream's own commands.
    func execute(_ command: ClientCommand, reply: @escaping (ServerMessage) -> Void) {
        guard !self.isClosed else {
            return reply(.error(id: command.id, .init(code: .notConnected, message: "the session is closed")))
        }
        guard self.admitCommand(id: command.id, reply: reply) else { return }
        self.enqueue(command, reply: reply)
    }

    /// The rate limit: false (and an error 201, or a 4004 disconnect after too many strikes) when the
    /// client is over it.
    private func admitCommand(id: UInt64?, reply: (ServerMessage) -> Void) -> Bool {
        // The loop's clock (a test loop's moves only when the test advances it).
        if self.rateLimit.take(now: self.eventLoop.now.uptimeNanoseconds) {
            self.rateLimitStrikes = 0
            return true
        }
        self.rateLimitStrikes += 1
        self.context.metrics.commandFailed(.rateLimited)
        if self.rateLimitStrikes >= self.context.limits.rateLimitStrikes {
            self.disconnect(.init(code: .rateLimited, reason: "too many commands"))
        } else {
            let rate = self.context.limits.commandsPerSecond
            let shown = rate == rate.rounded() ? String(Int(rate)) : String(rate)
            reply(.error(id: id, .init(code: .rateLimited, message: "too many commands: at most \(shown) per second")))
        }
        return false
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
        self.transport = nil
        if self.deadlineSlot >= 0 { SessionDeadlines.on(self.eventLoop).cancel(self) }
        let waiting = self.queue
        self.queue.removeAll()
        for (command, replyTo) in waiting {
            replyTo?(.error(id: command.id, .init(code: .notConnected, message: "the session closed")))
        }
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
    func enqueue(_ command: ClientCommand, reply: ((ServerMessage) -> Void)? = nil) {
        self.queue.append((command, reply))
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

    /// Commands received from now on wait in the queue until ``releaseCommands()``.
    func holdCommands() {
        self.commandsHeld = true
    }

    /// Starts the commands received while held, consecutive publishes among them as one batch.
    func releaseCommands() {
        guard self.commandsHeld else { return }
        self.commandsHeld = false
        self.runNextCommand()
    }

    private func runNextCommand() {
        guard !self.executing, !self.commandsHeld, !self.isClosed, !self.queue.isEmpty else { return }
        self.executing = true
        if self.nextCommandIsPublish { return self.runPublishBatch() }
        let (command, replyTo) = self.queue.removeFirst()
        self.releaseQueueIfEmpty()
        self.performMeasured(command) { [self] message in
            if let replyTo { replyTo(message) } else { self.reply(message) }
            self.commandFinished()
        }
    }

    /// An empty queue keeps no storage: most sessions send a command now and then, and a kept capacity
    /// would be a hundred-odd bytes on every idle connection.
    func releaseQueueIfEmpty() {
        if self.queue.isEmpty { self.queue = [] }
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
        // Commands read together with whatever ends the session (the strike that passes the rate limit)
        // were accepted: they run first, as they would have had they not waited for the rest of the read.
        self.releaseCommands()
        guard !self.isClosed else { return }
        self.logger.debug("Disconnecting client", metadata: ["client": "\(self.clientID)", "code": "\(disconnect.code)", "reason": "\(disconnect.reason)"])
        let transport = self.transport
        self.transportClosed()
        transport?.disconnect(disconnect)
    }

    /// The client stopped reading and its queue is full: it cannot be told in band, so it is dropped and
    /// counted; it reconnects and recovers from history.
    func slowConsumer() {
        self.logger.info("Disconnecting a slow consumer", metadata: ["client": "\(self.clientID)"])
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

/// A credential that came with the connection rather than in `connect`.
enum ConnectionCredential: Sendable {
    case token(String)
    case ticket(String)
    /// Already checked by the transport: an SSE stream redeems its ticket before it answers.
    case verified(Credentials)

    /// Two credentials for one connection.
    struct Conflict: Error, CustomStringConvertible {
        var description: String { "give a token or a ticket, not both" }
    }

    /// The URL's `token` or `ticket` (an empty token counts as none); nil when neither is there.
    static func fromQuery(token: String?, ticket: String?) throws(Conflict) -> ConnectionCredential? {
        let token = token.flatMap { $0.isEmpty ? nil : $0 }
        guard token == nil || ticket == nil else { throw Conflict() }
        return ticket.map(ConnectionCredential.ticket) ?? token.map(ConnectionCredential.token)
    }
}
