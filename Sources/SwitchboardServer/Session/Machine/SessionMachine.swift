import Foundation
import NIOCore
import SwitchboardProtocol

/// One client's session as a pure machine: facts in (mutating methods named for what happened), actions out
/// (``Action``, carried out by the driver in the order given).
///
/// It holds what decides the protocol's behaviour: the connect phase, the command queue (one command at a
/// time, each with exactly one answer; consecutive publishes as one batch), the rate limit and its strikes,
/// the session's one deadline (the connect timeout, then the token's expiry and its grace), and each
/// subscription's way from joining to live without gaps or duplicates. It has no clock, event loop, broker or
/// hub: times are inputs, and what needs I/O is an action whose outcome comes back as another fact.
/// ``ClientSession`` is its driver; `SessionMachineTests` replay its transcripts, the races of a join among
/// them, without a socket or a sleep.
///
/// Its size is on every connection of a node (a million on one host): a few words beyond the subscriptions,
/// the limits shared by reference.
struct SessionMachine {
    enum Phase {
        /// Waiting for `connect`, or for the connection's own credential to be checked.
        case awaitingConnect
        case connected(SessionIdentity)
        case closed
    }

    /// What the session's one deadline stands for: each phase needs at most one at a time.
    enum Deadline: Equatable {
        case none
        /// A client that has not connected by then is dropped.
        case connectTimeout
        /// The token expires: error 109, and the grace to refresh begins.
        case tokenExpiry
        /// The grace ends without a refresh: 4003.
        case refreshGrace
    }

    /// Where a command's answer goes.
    enum Route {
        /// Back on the session's own connection.
        case transport
        /// To whoever handed the command over (an SSE command's HTTP request, answered in its response).
        case caller((ServerMessage) -> Void)
    }

    struct QueuedCommand {
        let command: ClientCommand
        let route: Route
    }

    enum Action {
        /// Arm the session's deadline `after` from now, replacing one armed before.
        case armDeadline(after: TimeAmount)
        case cancelDeadline
        /// Check the credential that came with the connection (URL token or ticket, SSE's checked ticket);
        /// ``authenticated(_:now:)`` and then ``credentialChecked(refusal:)`` follow.
        case checkCredential
        /// Run one command and answer it on its route; ``commandFinished()`` follows the answer.
        case perform(QueuedCommand)
        /// Run these publishes as one batch, answered in order; ``commandFinished()`` follows the last answer.
        case publish([QueuedCommand])
        case answer(Route, ServerMessage)
        /// A command failed with `code` (for the node's metrics; its answer is a separate action).
        case commandFailed(ErrorCode)
        /// Send what answers no command (error 109 at expiry, an `unsubscribed` push).
        case push(ServerMessage)
        /// Count the session in the node's registry; ``registrationRefused(_:)`` if the user has too many.
        case register(SessionIdentity)
        case unregister
        /// Leave `channel`'s feed in the hub, announcing the leave (presence, join/leave events) if `announce`.
        case leave(channel: String, identity: SessionIdentity?, announce: Bool)
        /// End the session: the driver releases held commands (``releaseCommands()``: what arrived with the
        /// cause still runs), then closes (``close(telling:)``).
        case disconnect(ServerMessage.Disconnect)
        /// The session is over: close the connection, telling the client why (nil: it is gone already).
        case closeTransport(ServerMessage.Disconnect?)
    }

    let limits: SessionLimits
    private(set) var phase = Phase.awaitingConnect
    private(set) var deadline = Deadline.none
    var subscriptions = SubscriptionMap()
    var rateLimit: TokenBucket
    var rateLimitStrikes = 0
    /// Commands waiting their turn.
    var queue: [QueuedCommand] = []
    /// A command (or the connection's credential check) is running; the next waits for its answer.
    var executing = false
    /// The transport is still handing over commands that arrived together; they start once it is done.
    var commandsHeld = false

    init(limits: SessionLimits) {
        self.limits = limits
        self.rateLimit = TokenBucket(ratePerSecond: limits.commandsPerSecond, burst: limits.commandBurst)
    }

    var identity: SessionIdentity? {
        if case .connected(let identity) = self.phase { return identity }
        return nil
    }

    var isAwaitingConnect: Bool {
        if case .awaitingConnect = self.phase { return true }
        return false
    }

    var isClosed: Bool {
        if case .closed = self.phase { return true }
        return false
    }

    // MARK: - The phase: awaiting connect → connected → closed, and the deadline of each

    /// The connection is open. `withCredential`: it carried one (the URL's token or ticket, or the SSE
    /// request's), checked before any command runs.
    mutating func opened(withCredential: Bool) -> [Action] {
        self.deadline = .connectTimeout
        var actions: [Action] = [.armDeadline(after: .seconds(Int64(self.limits.connectTimeout)))]
        if withCredential {
            self.executing = true
            actions.append(.checkCredential)
        }
        return actions
    }

    /// The connection's credential was checked: `refusal` is why it was refused, nil if it was accepted
    /// (``authenticated(_:now:)`` came first). Commands that waited for it start.
    mutating func credentialChecked(refusal: ServerMessage.Disconnect?) -> [Action] {
        // Refused: the check stays the running command, so nothing queued starts before the session ends.
        if let refusal { return [.disconnect(refusal)] }
        self.executing = false
        return self.startNextCommand()
    }

    /// Credentials were verified for this session at `now` (token time): it is connected, until its token's
    /// expiry. Nil when it no longer waits for them (connected meanwhile, or closed).
    mutating func authenticated(_ identity: SessionIdentity, now: Date) -> [Action]? {
        guard self.isAwaitingConnect else { return nil }
        self.phase = .connected(identity)
        // Registering last: a refusal closes the session, and nothing after it may re-arm the deadline.
        return self.expire(at: identity.credentials?.expiresAt, now: now) + [.register(identity)]
    }

    /// The node refused to count the session (its user has the most connections allowed).
    mutating func registrationRefused(_ disconnect: ServerMessage.Disconnect) -> [Action] {
        self.isClosed ? [] : [.disconnect(disconnect)]
    }

    /// A `refresh` brought a valid token for the same user: the session lives until its expiry.
    mutating func refreshed(_ identity: SessionIdentity, now: Date) -> [Action] {
        guard case .connected = self.phase else { return [] }
        self.phase = .connected(identity)
        return self.expire(at: identity.credentials?.expiresAt, now: now)
    }

    private mutating func expire(at expiresAt: Date?, now: Date) -> [Action] {
        guard let expiresAt else {
            self.deadline = .none
            return [.cancelDeadline]
        }
        self.deadline = .tokenExpiry
        return [.armDeadline(after: .milliseconds(Int64(max(0, expiresAt.timeIntervalSince(now)) * 1000)))]
    }

    /// The deadline armed last came.
    mutating func deadlineReached() -> [Action] {
        switch self.deadline {
        case .none:
            return []
        case .connectTimeout:
            self.deadline = .none
            guard self.isAwaitingConnect else { return [] }
            return [.disconnect(.init(code: .unauthorized, reason: "no connect command within \(self.limits.connectTimeout) s"))]
        case .tokenExpiry:
            let grace = self.limits.tokenRefreshGrace
            self.deadline = .refreshGrace
            return [.push(.error(id: nil, .init(code: .tokenExpired, message: "token expired: send refresh with a new token within \(grace) s"))),
                    .armDeadline(after: .seconds(Int64(grace)))]
        case .refreshGrace:
            self.deadline = .none
            return [.disconnect(.init(code: .tokenExpired, reason: "token expired and was not refreshed"))]
        }
    }

    /// The session ends: `disconnect` is what the client is told (nil: the connection is gone already).
    /// Callers waiting for a command's answer are told the session closed; every channel with a hub feed is
    /// left (one still waiting for the hub is released when the hub answers, ``hubRetained(_:succeeded:)``).
    mutating func close(telling disconnect: ServerMessage.Disconnect?) -> [Action] {
        guard !self.isClosed else { return [] }
        let identity = self.identity
        self.phase = .closed
        var actions: [Action] = []
        if self.deadline != .none {
            self.deadline = .none
            actions.append(.cancelDeadline)
        }
        for waiting in self.queue {
            // The connection's own commands have nowhere to be answered.
            guard case .caller = waiting.route else { continue }
            actions.append(.answer(waiting.route, .error(id: waiting.command.id, .init(code: .notConnected, message: "the session closed"))))
        }
        self.queue = []
        actions.append(.unregister)
        for (channel, subscription) in self.subscriptions {
            if case .joining(_, registered: false) = subscription { continue }
            actions.append(.leave(channel: channel, identity: identity, announce: true))
        }
        self.subscriptions.removeAll()
        actions.append(.closeTransport(disconnect))
        return actions
    }
}

/// The node's limits a session applies, shared by all its sessions (a reference costs each one word).
final class SessionLimits: Sendable {
    let commandsPerSecond: Double
    let commandBurst: Int
    /// Commands refused in a row by the rate limit before the client is disconnected (4004).
    let rateLimitStrikes: Int
    let maxChannelsPerClient: Int
    /// Seconds: how long a connection may go without `connect`.
    let connectTimeout: Int
    /// Seconds: how long a client whose token expired has to send `refresh`.
    let tokenRefreshGrace: Int
    /// Publications a joining subscription may buffer before the client counts as too slow.
    let joiningBufferLimit: Int
    /// The most publishes taken into one batch.
    let publishBatchLimit: Int

    init(commandsPerSecond: Double, commandBurst: Int, rateLimitStrikes: Int, maxChannelsPerClient: Int,
         connectTimeout: Int, tokenRefreshGrace: Int, joiningBufferLimit: Int = 10_000, publishBatchLimit: Int = 64) {
        self.commandsPerSecond = commandsPerSecond
        self.commandBurst = commandBurst
        self.rateLimitStrikes = rateLimitStrikes
        self.maxChannelsPerClient = maxChannelsPerClient
        self.connectTimeout = connectTimeout
        self.tokenRefreshGrace = tokenRefreshGrace
        self.joiningBufferLimit = joiningBufferLimit
        self.publishBatchLimit = publishBatchLimit
    }

    convenience init(_ limits: LimitsConfiguration) {
        self.init(commandsPerSecond: limits.commandsPerSecond, commandBurst: limits.commandBurst, rateLimitStrikes: limits.rateLimitStrikes,
                  maxChannelsPerClient: limits.maxChannelsPerClient, connectTimeout: limits.connectTimeout,
                  tokenRefreshGrace: limits.tokenRefreshGrace)
    }
}
