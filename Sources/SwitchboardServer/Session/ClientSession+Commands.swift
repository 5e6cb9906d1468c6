import Foundation
import NIOCore
import SwitchboardProtocol

/// The commands: each ends with exactly one reply or error carrying the command's id.
extension ClientSession {
    func perform(_ command: ClientCommand, reply: @escaping (ServerMessage) -> Void) {
        let id = command.id
        let fail = { (code: ErrorCode, message: String) in reply(.error(id: id, .init(code: code, message: message))) }
        switch command.body {
        case .connect(let connect):
            self.connect(connect, id: id, reply: reply)
        case .ping:
            reply(.reply(id: id, .ping))
        case .refresh(let refresh):
            self.refresh(refresh, id: id, reply: reply)
        case .subscribe(let subscribe):
            guard let identity = self.identity else { return fail(.notConnected, "send connect first") }
            self.subscribe(subscribe, identity: identity, id: id, reply: reply)
        case .unsubscribe(let unsubscribe):
            guard let identity = self.identity else { return fail(.notConnected, "send connect first") }
            guard self.subscriptions.removeValue(forKey: unsubscribe.channel) != nil else {
                return fail(.notSubscribed, "not subscribed to \(unsubscribe.channel)")
            }
            self.leave(unsubscribe.channel, identity: identity)
            reply(.reply(id: id, .unsubscribe))
        case .publish:
            // The command queue runs publishes in batches (ClientSession+Publishing).
            preconditionFailure("Internal inconsistency: a publish outside a publish batch")
        case .presence(let request):
            guard let identity = self.identity else { return fail(.notConnected, "send connect first") }
            self.presence(request.channel, identity: identity, id: id, reply: reply)
        case .history(let request):
            guard let identity = self.identity else { return fail(.notConnected, "send connect first") }
            self.history(request, identity: identity, id: id, reply: reply)
        }
    }

    // MARK: - connect, refresh

    private func connect(_ connect: ClientCommand.Connect, id: UInt64, reply: @escaping (ServerMessage) -> Void) {
        if let identity = self.identity {
            // Authenticated by the URL's token: `connect` just fetches the result.
            guard connect.token == nil else {
                return reply(.error(id: id, .init(code: .alreadyConnected, message: "already connected")))
            }
            return reply(.reply(id: id, .connect(self.connectResult(identity))))
        }
        guard let token = connect.token else {
            guard self.context.configuration.auth.allowAnonymous else {
                return reply(.error(id: id, .init(code: .unauthorized, message: "a token is required: pass it in connect or the token query parameter")))
            }
            let identity = SessionIdentity(credentials: nil, info: ClientInfo(user: "", client: self.clientID))
            self.becomeConnected(identity)
            return reply(.reply(id: id, .connect(self.connectResult(identity))))
        }
        self.authenticate(token: token) { [self] result in
            switch result {
            case .success(let identity):
                reply(.reply(id: id, .connect(self.connectResult(identity))))
            case .failure(let error):
                // The connection stays open until the connect timeout: the client may fetch a fresh token.
                reply(.error(id: id, .init(code: error.errorCode, message: error.message)))
            }
        }
    }

    /// Verifies `token` and, if the session is still waiting for it, makes it connected.
    func authenticate(token: String, then: @escaping (Result<SessionIdentity, TokenError>) -> Void) {
        let verifier = self.context.verifier
        let now = self.context.now()
        self.run({ await verifier.check(token, now: now) }) { [self] result in
            guard case .awaitingConnect = self.state else {
                return then(.failure(TokenError(.missing, "the session is no longer waiting for a token")))
            }
            switch result {
            case .success(.success(let credentials)):
                then(.success(self.admit(credentials)))
            case .success(.failure(let error)):
                then(.failure(error))
            case .failure(let error):
                then(.failure(TokenError(.malformed, "\(error)")))
            }
        }
    }

    /// Redeems a connect ticket through the broker (so it opens one connection on any node) and, if the
    /// session is still waiting, makes it connected with the credentials behind the ticket. Fails with a
    /// ``TicketRefusal``, or the broker's error.
    func redeem(ticket: String, then: @escaping (Result<SessionIdentity, any Error>) -> Void) {
        let context = self.context
        self.run({ try await context.redeemTicket(ticket) }) { [self] result in
            switch result {
            case .success(let credentials):
                guard case .awaitingConnect = self.state else {
                    return then(.failure(TicketRefusal("the session is no longer waiting for a credential")))
                }
                then(.success(self.admit(credentials)))
            case .failure(let error):
                then(.failure(error))
            }
        }
    }

    /// Verified credentials make the session connected.
    @discardableResult
    func admit(_ credentials: Credentials) -> SessionIdentity {
        let identity = SessionIdentity(credentials: credentials,
                                       info: ClientInfo(user: credentials.user, client: self.clientID, info: credentials.info.map { .object($0) }))
        self.becomeConnected(identity)
        return identity
    }

    private func becomeConnected(_ identity: SessionIdentity) {
        if case .awaitingConnect(let timer) = self.state { timer?.cancel() }
        self.state = .connected(identity)
        let limit = self.context.limits.maxConnectionsPerUser
        guard self.context.sessions.add(self, client: self.clientID, user: identity.user, limit: limit > 0 ? limit : .max) else {
            self.context.metrics.connectionRefused(.userLimit)
            self.disconnect(.init(code: .connectionLimit, reason: "user \(identity.user) already has \(limit) connections on this node, the most allowed"))
            return
        }
        self.scheduleExpiry(identity.credentials?.expiresAt)
    }

    func connectResult(_ identity: SessionIdentity) -> ServerMessage.ConnectResult {
        ServerMessage.ConnectResult(client: self.clientID, user: identity.user,
                                    expires: identity.credentials.map { self.secondsUntil($0.expiresAt) },
                                    ping: self.context.configuration.pingInterval)
    }

    private func secondsUntil(_ date: Date) -> Int {
        max(0, Int(date.timeIntervalSince(self.context.now()).rounded(.down)))
    }

    /// At expiry the client is told (error 109 with no id) and gets `tokenRefreshGrace` seconds to send
    /// `refresh`; then it is disconnected with 4003.
    private func scheduleExpiry(_ expiresAt: Date?) {
        let deadlines = SessionDeadlines.on(self.eventLoop)
        guard let expiresAt else {
            self.expiry = .none
            return deadlines.cancel(self)
        }
        let delay = TimeAmount.milliseconds(Int64(max(0, expiresAt.timeIntervalSince(self.context.now())) * 1000))
        self.expiry = .valid
        deadlines.schedule(self, at: self.eventLoop.now + delay)
    }

    /// The loop's ``SessionDeadlines`` says the deadline came: the token expired (error 109, and a grace to
    /// refresh), or the grace ended without a refresh (4003).
    func deadlineReached() {
        switch self.expiry {
        case .none:
            break
        case .valid:
            let grace = self.context.limits.tokenRefreshGrace
            self.reply(.error(id: nil, .init(code: .tokenExpired, message: "token expired: send refresh with a new token within \(grace) s")))
            self.expiry = .inGrace
            SessionDeadlines.on(self.eventLoop).schedule(self, at: self.eventLoop.now + .seconds(Int64(grace)))
        case .inGrace:
            self.expiry = .none
            self.disconnect(.init(code: .tokenExpired, reason: "token expired and was not refreshed"))
        }
    }

    private func refresh(_ refresh: ClientCommand.Refresh, id: UInt64, reply: @escaping (ServerMessage) -> Void) {
        guard let identity = self.identity, let current = identity.credentials else {
            return reply(.error(id: id, .init(code: .notConnected, message: "refresh needs a connection authenticated with a token")))
        }
        let verifier = self.context.verifier
        let now = self.context.now()
        self.run({ await verifier.check(refresh.token, now: now) }) { [self] result in
            guard case .connected = self.state else {
                return reply(.error(id: id, .init(code: .notConnected, message: "the session closed")))
            }
            switch result {
            case .success(.success(let credentials)) where credentials.user == current.user:
                self.state = .connected(SessionIdentity(credentials: credentials, info: identity.info))
                self.scheduleExpiry(credentials.expiresAt)
                // The new token may grant fewer channels: subscriptions it no longer allows end now.
                for channel in self.subscriptions.keys {
                    if let refusal = self.context.permissions.canSubscribe(to: channel, credentials: credentials).refusal {
                        self.dropSubscription(channel, reason: "no longer allowed by the new token: \(refusal.message)")
                    }
                }
                reply(.reply(id: id, .refresh(.init(expires: self.secondsUntil(credentials.expiresAt)))))
            case .success(.success(let credentials)):
                reply(.error(id: id, .init(code: .permissionDenied, message: "the new token is for user '\(credentials.user)', not '\(current.user)'")))
            case .success(.failure(let error)):
                reply(.error(id: id, .init(code: error.errorCode, message: error.message)))
            case .failure(let error):
                reply(.error(id: id, .init(code: .unauthorized, message: "\(error)")))
            }
        }
    }

    // MARK: - publish, presence, history

    private func presence(_ channel: String, identity: SessionIdentity, id: UInt64, reply: @escaping (ServerMessage) -> Void) {
        if let refusal = self.context.permissions.canSubscribe(to: channel, credentials: identity.credentials).refusal {
            return reply(.error(id: id, refusal))
        }
        guard self.context.configuration.namespace(of: channel)!.options.presence else {
            return reply(.error(id: id, .init(code: .notAvailable, message: "presence is off for \(channel)'s namespace")))
        }
        let broker = self.context.broker
        self.run({ try await broker.presence(of: channel) }) { result in
            switch result {
            case .success(let clients): reply(.reply(id: id, .presence(.init(clients: clients))))
            case .failure(let error): reply(.error(id: id, .init(code: .unavailable, message: "presence failed: \(error)")))
            }
        }
    }

    private func history(_ request: ClientCommand.History, identity: SessionIdentity, id: UInt64, reply: @escaping (ServerMessage) -> Void) {
        let channel = request.channel
        if let refusal = self.context.permissions.canSubscribe(to: channel, credentials: identity.credentials).refusal {
            return reply(.error(id: id, refusal))
        }
        let options = self.context.configuration.namespace(of: channel)!.options
        guard options.historySize > 0 else {
            return reply(.error(id: id, .init(code: .notAvailable, message: "history is off for \(channel)'s namespace")))
        }
        let maximum = self.context.limits.maxHistoryPerRequest
        guard (request.limit ?? 0) >= 0 else {
            return reply(.error(id: id, .init(code: .badRequest, message: "limit cannot be negative")))
        }
        let limit = min(request.limit ?? maximum, maximum)
        let broker = self.context.broker
        let retention = self.context.retention(for: options)
        self.run({ try await broker.history(of: channel, since: request.since, limit: request.since == nil ? limit : maximum, retention: retention) }) { result in
            switch result {
            case .success(.publications(let publications, let current)):
                reply(.reply(id: id, .history(.init(epoch: current.epoch, offset: current.offset, publications: Array(publications.prefix(limit))))))
            case .success(.notRecoverable(let current)):
                reply(.error(id: id, .init(code: .positionNotRetained,
                                           message: "position is no longer in history (stream is at offset \(current.offset), epoch \(current.epoch))")))
            case .failure(let error):
                reply(.error(id: id, .init(code: .unavailable, message: "history failed: \(error)")))
            }
        }
    }
}

extension ClientSession: DeadlineHolder {}

/// Where a session's token stands.
enum TokenExpiry {
    /// No token, or one without expiry.
    case none
    /// Valid until the session's deadline.
    case valid
    /// Expired; the deadline ends the grace to refresh.
    case inGrace
}
