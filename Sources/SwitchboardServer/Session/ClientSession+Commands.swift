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
            guard self.machine.subscriptionEnded(unsubscribe.channel) else {
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
            self.carryOut(self.machine.authenticated(identity, now: self.context.now()) ?? [])
            return reply(.reply(id: id, .connect(self.connectResult(identity))))
        }
        switch self.authenticate(token: token) {
        case .success(let identity):
            reply(.reply(id: id, .connect(self.connectResult(identity))))
        case .failure(let error):
            // The connection stays open until the connect timeout: the client may fetch a fresh token.
            reply(.error(id: id, .init(code: error.errorCode, message: error.message)))
        }
    }

    /// Verifies `token` (on the loop: microseconds) and, if the session is still waiting for it, makes it
    /// connected.
    func authenticate(token: String) -> Result<SessionIdentity, TokenError> {
        switch self.context.verifier.check(token, now: self.context.now()) {
        case .success(let credentials):
            guard self.machine.isAwaitingConnect else {
                return .failure(TokenError(.missing, "the session is no longer waiting for a token"))
            }
            return .success(self.admit(credentials))
        case .failure(let error):
            return .failure(error)
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
                guard self.machine.isAwaitingConnect else {
                    return then(.failure(TicketRefusal("the session is no longer waiting for a credential")))
                }
                then(.success(self.admit(credentials)))
            case .failure(let error):
                then(.failure(error))
            }
        }
    }

    /// Verified credentials make the session connected (the caller checked that it was waiting for them).
    @discardableResult
    func admit(_ credentials: Credentials) -> SessionIdentity {
        let identity = SessionIdentity(credentials: credentials,
                                       info: ClientInfo(user: credentials.user, client: self.clientID, info: credentials.info.map { .object($0) }))
        self.carryOut(self.machine.authenticated(identity, now: self.context.now()) ?? [])
        return identity
    }

    func connectResult(_ identity: SessionIdentity) -> ServerMessage.ConnectResult {
        ServerMessage.ConnectResult(client: self.clientID, user: identity.user,
                                    expires: identity.credentials.map { self.secondsUntil($0.expiresAt) },
                                    ping: self.context.configuration.pingInterval)
    }

    private func secondsUntil(_ date: Date) -> Int {
        max(0, Int(date.timeIntervalSince(self.context.now()).rounded(.down)))
    }

    private func refresh(_ refresh: ClientCommand.Refresh, id: UInt64, reply: @escaping (ServerMessage) -> Void) {
        guard let identity = self.identity, let current = identity.credentials else {
            return reply(.error(id: id, .init(code: .notConnected, message: "refresh needs a connection authenticated with a token")))
        }
        switch self.context.verifier.check(refresh.token, now: self.context.now()) {
        case .success(let credentials) where credentials.user == current.user:
            self.carryOut(self.machine.refreshed(SessionIdentity(credentials: credentials, info: identity.info), now: self.context.now()))
            // The new token may grant fewer channels: subscriptions it no longer allows end now.
            for channel in self.machine.subscriptions.keys {
                if let refusal = self.context.permissions.canSubscribe(to: channel, credentials: credentials).refusal {
                    self.dropSubscription(channel, reason: "no longer allowed by the new token: \(refusal.message)")
                }
            }
            reply(.reply(id: id, .refresh(.init(expires: self.secondsUntil(credentials.expiresAt)))))
        case .success(let credentials):
            reply(.error(id: id, .init(code: .permissionDenied, message: "the new token is for user '\(credentials.user)', not '\(current.user)'")))
        case .failure(let error):
            reply(.error(id: id, .init(code: error.errorCode, message: error.message)))
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
