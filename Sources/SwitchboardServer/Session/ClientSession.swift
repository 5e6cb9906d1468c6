import Foundation
import Logging
import NIOCore
import SwitchboardProtocol

/// One client of the real-time protocol, whatever its transport: the driver of its ``SessionMachine``.
///
/// The machine decides (the connect phase, the command queue, the rate limit, the deadline, each
/// subscription's join and delivery); this class carries its actions out: it runs the commands against the
/// broker, the hub and the token verifier, and tells the machine how they ended. Confined to its event loop:
/// the transport, the hub and timers all call it there, so its state needs no lock.
final class ClientSession: @unchecked Sendable {
    let context: ServerContext
    let eventLoop: any EventLoop
    let clientID: String
    /// Held strongly while the connection lives and dropped when it closes (``transportClosed()``), which
    /// breaks the cycle with a transport that holds its session: a weak reference here would cost a side
    /// table per connection and a weak load per delivery.
    private(set) var transport: (any SessionTransport)?
    let remoteAddress: String?

    var machine: SessionMachine
    /// When the machine's deadline comes, kept by the loop's ``SessionDeadlines``.
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
        self.machine = SessionMachine(limits: context.sessionLimits)
        self.presenceWork = eventLoop.makeSucceededVoidFuture()
    }

    var identity: SessionIdentity? { self.machine.identity }
    var isClosed: Bool { self.machine.isClosed }
    /// The last position delivered in each live subscription: what a client resumes from.
    var positions: [String: StreamPosition] { self.machine.positions }

    /// The loop's clock for the rate limit (a test loop's moves only when the test advances it).
    private var now: UInt64 { self.eventLoop.now.uptimeNanoseconds }

    // MARK: - Inputs from the transport

    /// The connection is open. `credential` came with it (the URL's `token` or `ticket` query parameter, or
    /// the SSE request): it is checked before any command runs.
    func opened(credential: ConnectionCredential?) {
        self.carryOut(self.machine.opened(withCredential: credential != nil), credential: credential)
    }

    /// One text message from the client: a command.
    func received(_ text: ByteBuffer) {
        guard !self.isClosed else { return }
        self.carryOut(self.machine.commandArrived(ClientCommand.decode(text.readableBytesView), route: .transport, now: self.now))
    }

    /// One binary message from a client of the protobuf subprotocol: a command.
    func receivedProtobuf(_ bytes: ByteBuffer) {
        guard !self.isClosed else { return }
        self.carryOut(self.machine.commandArrived(ClientCommand.decode(protobuf: bytes.readableBytesView), route: .transport, now: self.now))
    }

    /// A message of the kind the connection's encoding does not use (binary in JSON, text in protobuf): not
    /// part of the protocol, but it costs the same rate-limit token as a command.
    func receivedWrongKind(_ encoding: WireEncoding) {
        let explanation = switch encoding {
        case .json: "commands are JSON text messages; binary messages are not accepted"
        case .protobuf: "commands are binary messages in \(WireEncoding.protobuf.subprotocol); text messages are not accepted"
        }
        self.carryOut(self.machine.wrongKindArrived(now: self.now, explanation: explanation))
    }

    /// Runs one command for a transport that answers each request itself (SSE's HTTP commands), in the
    /// same queue and under the same rate limit as the stream's own commands.
    func execute(_ command: ClientCommand, reply: @escaping (ServerMessage) -> Void) {
        self.carryOut(self.machine.commandArrived(.success(command), route: .caller(reply), now: self.now))
    }

    /// Queues a command as if the client had sent it (SSE subscribes to the channels of its URL this way).
    func enqueue(_ command: ClientCommand) {
        self.carryOut(self.machine.commandQueued(command, route: .transport))
    }

    /// Commands received from now on wait in the queue until ``releaseCommands()``.
    func holdCommands() {
        self.machine.holdCommands()
    }

    /// Starts the commands received while held, consecutive publishes among them as one batch.
    func releaseCommands() {
        self.carryOut(self.machine.releaseCommands())
    }

    /// The connection is gone (closed by either side).
    func transportClosed() {
        self.carryOut(self.machine.close(telling: nil))
    }

    /// Tells the client why, closes the connection and forgets the session.
    func disconnect(_ disconnect: ServerMessage.Disconnect) {
        guard !self.isClosed else { return }
        // Commands read together with whatever ends the session (the strike that passes the rate limit)
        // were accepted: they start first, as they would have had they not waited for the rest of the read.
        self.releaseCommands()
        guard !self.isClosed else { return }
        self.logger.debug("Disconnecting client", metadata: ["client": "\(self.clientID)", "code": "\(disconnect.code)", "reason": "\(disconnect.reason)"])
        self.carryOut(self.machine.close(telling: disconnect))
    }

    /// The client stopped reading and its queue is full: it cannot be told in band, so it is dropped and
    /// counted; it reconnects and recovers from history.
    func slowConsumer() {
        self.logger.info("Disconnecting a slow consumer", metadata: ["client": "\(self.clientID)"])
        self.disconnect(.init(code: .slowConsumer, reason: "client did not read fast enough"))
    }

    // MARK: - Carrying out the machine's actions

    func carryOut(_ actions: [SessionMachine.Action], credential: ConnectionCredential? = nil) {
        for action in actions {
            switch action {
            case .armDeadline(let after):
                SessionDeadlines.on(self.eventLoop).schedule(self, at: self.eventLoop.now + after)
            case .cancelDeadline:
                if self.deadlineSlot >= 0 { SessionDeadlines.on(self.eventLoop).cancel(self) }
            case .checkCredential:
                guard let credential else { preconditionFailure("Internal inconsistency: a credential check without a credential") }
                self.check(credential)
            case .perform(let queued):
                self.performMeasured(queued)
            case .publish(let batch):
                self.runPublishBatch(batch)
            case .answer(let route, let message):
                self.answer(route, message)
            case .commandFailed(let code):
                self.context.metrics.commandFailed(code)
            case .push(let message):
                self.reply(message)
            case .register(let identity):
                self.register(identity)
            case .unregister:
                self.context.sessions.remove(client: self.clientID)
            case .leave(let channel, let identity, let announce):
                self.leave(channel, identity: identity, announce: announce)
            case .disconnect(let disconnect):
                self.disconnect(disconnect)
            case .closeTransport(let disconnect):
                let transport = self.transport
                self.transport = nil
                if let disconnect { transport?.disconnect(disconnect) }
            }
        }
    }

    /// The loop's ``SessionDeadlines`` says the machine's deadline came.
    func deadlineReached() {
        self.carryOut(self.machine.deadlineReached())
    }

    /// Checks the connection's own credential; commands wait for the outcome.
    private func check(_ credential: ConnectionCredential) {
        let checked: (ServerMessage.Disconnect?) -> Void = { [self] refusal in
            self.carryOut(self.machine.credentialChecked(refusal: refusal))
        }
        switch credential {
        case .token(let token):
            switch self.authenticate(token: token) {
            case .success: checked(nil)
            case .failure(let error): checked(.init(code: error.disconnectCode, reason: error.message))
            }
        case .ticket(let ticket):
            self.redeem(ticket: ticket) { result in
                switch result {
                case .success: checked(nil)
                case .failure(let refusal as TicketRefusal): checked(.init(code: .ticketRefused, reason: refusal.message))
                case .failure(let error): checked(.init(code: .internalError, reason: "cannot check the ticket: \(error)"))
                }
            }
        case .verified(let credentials):
            self.admit(credentials)
            checked(nil)
        }
    }

    /// Counts the connected session in the node's registry, unless its user has the most connections allowed.
    private func register(_ identity: SessionIdentity) {
        let limit = self.context.limits.maxConnectionsPerUser
        guard self.context.sessions.add(self, client: self.clientID, user: identity.user, limit: limit > 0 ? limit : .max) else {
            self.context.metrics.connectionRefused(.userLimit)
            let refusal = ServerMessage.Disconnect(code: .connectionLimit, reason: "user \(identity.user) already has \(limit) connections on this node, the most allowed")
            return self.carryOut(self.machine.registrationRefused(refusal))
        }
    }

    /// Runs a command, answers it on its route with its duration and error code counted, and starts the next.
    private func performMeasured(_ queued: SessionMachine.QueuedCommand) {
        let started = NIODeadline.now()
        let metrics = self.context.metrics
        let command = queued.command
        self.perform(command) { [self] message in
            metrics.commandCompleted(command, duration: .nanoseconds((NIODeadline.now() - started).nanoseconds))
            if case .error(_, let error) = message { metrics.commandFailed(error.code) }
            self.answer(queued.route, message)
            self.carryOut(self.machine.commandFinished())
        }
    }

    func answer(_ route: SessionMachine.Route, _ message: ServerMessage) {
        switch route {
        case .transport: self.reply(message)
        case .caller(let reply): reply(message)
        }
    }

    /// Sends a reply or push now. A client that stopped reading is closed by the transport.
    func reply(_ message: ServerMessage) {
        guard !self.isClosed else { return }
        do {
            try self.transport?.send(message)
        } catch {
            self.transportClosed()
        }
    }

    // MARK: - Async work

    /// Runs `operation` off the event loop and `then` back on it: how commands await the broker while the
    /// session's state stays confined to the loop.
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
