import NIOCore
import SwitchboardProtocol

/// Subscriptions: joining with recovery (``SessionMachine`` decides; here the hub, the broker and presence are
/// asked), delivery, leaving.
extension ClientSession {
    func subscribe(_ request: ClientCommand.Subscribe, identity: SessionIdentity, id: UInt64, reply: @escaping (ServerMessage) -> Void) {
        let channel = request.channel
        let fail = { (code: ErrorCode, message: String) in reply(.error(id: id, .init(code: code, message: message))) }
        if let refusal = self.context.permissions.canSubscribe(to: channel, credentials: identity.credentials).refusal {
            return reply(.error(id: id, refusal))
        }
        if let refusal = self.machine.joinRequested(channel) { return reply(.error(id: id, refusal)) }
        let options = self.context.configuration.namespace(of: channel)!.options
        let hub = self.context.hub
        let broker = self.context.broker
        let retention = self.context.retention(for: options)
        let maximum = self.context.limits.maxHistoryPerRequest
        let eventLoop = self.eventLoop
        self.run({ try await hub.retain(channel, on: eventLoop) }) { [self] retained in
            let retainedFeed: Bool = if case .success = retained { true } else { false }
            switch (self.machine.hubRetained(channel, succeeded: retainedFeed), retained) {
            case (.gone, _):
                if retainedFeed { hub.release(channel, on: eventLoop) }
                // Answered all the same: an SSE command's HTTP request is waiting for it.
                return fail(.notConnected, "the session closed")
            case (.failed, .failure(let error)):
                return fail(.unavailable, "subscribe failed: \(error)")
            case (.failed, .success):
                preconditionFailure("Internal inconsistency: a join failed although the hub retained its feed")
            case (.readHistory, _):
                hub.shard(for: self.eventLoop).add(self, to: channel)
            }
            let since = request.since
            let info = identity.info
            self.run({
                let history = try await broker.history(of: channel, since: since, limit: since == nil ? 0 : maximum, retention: retention)
                // In presence before the reply, so a `presence` right after `subscribe` lists this client. (If the
                // connection closes meanwhile, a leave may overtake this; the entry then expires unrefreshed.)
                if options.presence { try? await broker.addPresence(info, to: channel, ttl: ServerContext.presenceTTL) }
                return history
            }) { [self] history in
                // Gone meanwhile (the connection closed): whoever removed it also left the hub.
                let gone = { fail(.notConnected, "the session closed") }
                let result: ServerMessage.SubscribeResult
                switch history {
                case .failure(let error):
                    guard self.machine.historyFailed(channel) else { return gone() }
                    self.leave(channel, identity: identity, announce: false)
                    return fail(.unavailable, "subscribe failed: \(error)")
                case .success(.publications(let publications, let current)):
                    result = .init(epoch: current.epoch, offset: current.offset,
                                   recovered: since == nil ? nil : true, publications: since == nil ? nil : publications)
                case .success(.notRecoverable(let current)):
                    result = .init(epoch: current.epoch, offset: current.offset, recovered: false, publications: [])
                }
                guard let buffered = self.machine.historyRead(channel, position: StreamPosition(offset: result.offset, epoch: result.epoch)) else {
                    return gone()
                }
                reply(.reply(id: id, .subscribe(result)))
                self.hubDeliver(buffered)
                if options.joinLeave { self.announceJoin(channel, identity: identity) }
                if options.presence { self.context.sessions.markPresence(client: self.clientID) }
            }
        }
    }

    /// The join event, after the subscribe reply.
    private func announceJoin(_ channel: String, identity: SessionIdentity) {
        let broker = self.context.broker
        let info = identity.info
        self.schedulePresenceWork { try await broker.publishPresenceEvent(.join, client: info, channel: channel) }
    }

    /// Drops the hub registration (the caller removed the subscription) and announces the leave.
    func leave(_ channel: String, identity: SessionIdentity?, announce: Bool = true) {
        let hub = self.context.hub
        hub.shard(for: self.eventLoop).remove(self, from: channel)
        hub.release(channel, on: self.eventLoop)
        guard announce, let identity, let options = self.context.configuration.namespace(of: channel)?.options,
              options.presence || options.joinLeave else { return }
        let broker = self.context.broker
        let client = self.clientID
        let info = identity.info
        self.schedulePresenceWork {
            if options.presence { try await broker.removePresence(client: client, from: channel) }
            if options.joinLeave { try await broker.publishPresenceEvent(.leave, client: info, channel: channel) }
        }
    }

    /// Runs presence work after the work scheduled before it. A failure (the broker is down) is logged; the
    /// entry then expires by itself, and the next refresh restores it.
    private func schedulePresenceWork(_ work: @escaping @Sendable () async throws -> Void) {
        let logger = self.logger
        let client = self.clientID
        let eventLoop = self.eventLoop
        self.presenceWork = self.presenceWork.flatMap {
            eventLoop.makeFutureWithTask {
                do { try await work() } catch { logger.warning("Presence update failed", metadata: ["client": "\(client)", "error": "\(error)"]) }
            }
        }
    }

    /// Keeps this session's presence entries from expiring (called periodically for sessions the registry
    /// knows to have subscribed to a channel with presence).
    func refreshPresence() {
        guard let identity = self.identity else { return }
        let channels = self.machine.subscriptions.keys.filter { self.context.configuration.namespace(of: $0)?.options.presence == true }
        guard !channels.isEmpty else { return }
        let broker = self.context.broker
        let info = identity.info
        self.schedulePresenceWork {
            for channel in channels { try await broker.addPresence(info, to: channel, ttl: ServerContext.presenceTTL) }
        }
    }

    // MARK: - From the hub (HubShard), on this session's event loop

    /// Pushes of one channel, in order (a batch the hub delivers together, or a joining subscription's
    /// buffer): each goes out unless it is already delivered; a gap ends the subscription.
    func hubDeliver(_ pushes: [HubPush]) {
        for push in pushes {
            switch push.kind {
            case .publication:
                self.deliver(push)
            case .presence:
                self.deliverPresence(push)
            }
        }
        // The batch is all this client gets from the hub now: its bytes leave together, and their buffer
        // is freed before the next subscriber's is filled (uWebSockets' uncork).
        self.transport?.flush()
    }

    private func deliver(_ push: HubPush) {
        switch self.machine.publicationArrived(push) {
        case .none:
            return
        case .send:
            do {
                try self.transport?.sendPush(push.encoded)
            } catch {
                self.transportClosed()
            }
        case .resubscribe:
            self.dropSubscription(push.channel, reason: "missed publications: resubscribe from your position to recover")
        case .disconnect(let disconnect):
            self.disconnect(disconnect)
        }
    }

    private func deliverPresence(_ push: HubPush) {
        guard self.machine.presenceChangeArrived(in: push.channel),
              self.context.configuration.namespace(of: push.channel)?.options.joinLeave == true else { return }
        do {
            try self.transport?.sendPush(push.encoded)
        } catch {
            self.transportClosed()
        }
    }

    func hubMissedPublications(in channel: String) {
        guard self.machine.feedInterrupted(in: channel) else { return }
        self.dropSubscription(channel, reason: "missed publications: resubscribe from your position to recover")
    }

    /// The server ends a subscription and says why (`unsubscribed` push).
    func dropSubscription(_ channel: String, reason: String) {
        guard self.machine.subscriptionEnded(channel) else { return }
        self.leave(channel, identity: self.identity)
        self.reply(.unsubscribed(.init(channel: channel, reason: reason)))
    }
}
