import NIOCore
import SwitchboardProtocol

/// Subscriptions: joining with recovery, live delivery without duplicates or gaps, leaving.
///
/// Recovery without gaps or duplicates: the session registers with the hub *before* it reads history, and
/// buffers live publications while the read is in flight. Every publication is then either in the history
/// read, or in the buffer, or both; after the reply (which carries the recovered publications) the buffer is
/// replayed from the first offset past what the reply covered, and the subscription goes live.
enum Subscription {
    /// Waiting for the hub (`registered` false), then for history. Live publications wait here, in order.
    case joining(buffered: [HubPush], registered: Bool)
    /// Delivering; `position` is the last publication the client has (nil before the first in a new stream).
    case live(position: StreamPosition)
}

extension ClientSession {
    /// Buffered publications a joining subscription may hold before the client counts as too slow.
    static let joiningBufferLimit = 10_000

    func subscribe(_ request: ClientCommand.Subscribe, identity: SessionIdentity, id: UInt64, reply: @escaping (ServerMessage) -> Void) {
        let channel = request.channel
        let fail = { (code: ErrorCode, message: String) in reply(.error(id: id, .init(code: code, message: message))) }
        if let refusal = self.context.permissions.canSubscribe(to: channel, credentials: identity.credentials).refusal {
            return reply(.error(id: id, refusal))
        }
        guard self.subscriptions[channel] == nil else { return fail(.alreadySubscribed, "already subscribed to \(channel)") }
        guard self.subscriptions.count < self.context.limits.maxChannelsPerClient else {
            return fail(.limitExceeded, "at most \(self.context.limits.maxChannelsPerClient) channels per client")
        }
        let options = self.context.configuration.namespace(of: channel)!.options
        let hub = self.context.hub
        let broker = self.context.broker
        let retention = self.context.retention(for: options)
        let maximum = self.context.limits.maxHistoryPerRequest
        self.subscriptions[channel] = .joining(buffered: [], registered: false)

        let eventLoop = self.eventLoop
        self.run({ try await hub.retain(channel, on: eventLoop) }) { [self] retained in
            guard case .joining? = self.subscriptions[channel], !self.isClosed else {
                if case .success = retained { hub.release(channel, on: eventLoop) }
                // Answered all the same: an SSE command's HTTP request is waiting for it.
                return fail(.notConnected, "the session closed")
            }
            if case .failure(let error) = retained {
                self.subscriptions[channel] = nil
                return fail(.unavailable, "subscribe failed: \(error)")
            }
            hub.shard(for: self.eventLoop).add(self, to: channel)
            self.subscriptions[channel] = .joining(buffered: [], registered: true)
            let since = request.since
            let info = identity.info
            self.run({
                let history = try await broker.history(of: channel, since: since, limit: since == nil ? 0 : maximum, retention: retention)
                // In presence before the reply, so a `presence` right after `subscribe` lists this client. (If the
                // connection closes meanwhile, a leave may overtake this; the entry then expires unrefreshed.)
                if options.presence { try? await broker.addPresence(info, to: channel, ttl: ServerContext.presenceTTL) }
                return history
            }) { [self] history in
                // Gone meanwhile: whoever removed it (the connection closing) also left the hub.
                guard case .joining(let buffered, _)? = self.subscriptions[channel] else {
                    return fail(.notConnected, "the session closed")
                }
                let result: ServerMessage.SubscribeResult
                switch history {
                case .failure(let error):
                    self.subscriptions[channel] = nil
                    self.leave(channel, identity: identity, announce: false)
                    return fail(.unavailable, "subscribe failed: \(error)")
                case .success(.publications(let publications, let current)):
                    result = .init(epoch: current.epoch, offset: current.offset,
                                   recovered: since == nil ? nil : true, publications: since == nil ? nil : publications)
                case .success(.notRecoverable(let current)):
                    result = .init(epoch: current.epoch, offset: current.offset, recovered: false, publications: [])
                }
                // Live before the reply goes out, so an SSE reply's event id already carries this channel.
                self.subscriptions[channel] = .live(position: StreamPosition(offset: result.offset, epoch: result.epoch))
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
        let channels = self.subscriptions.keys.filter { self.context.configuration.namespace(of: $0)?.options.presence == true }
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
            case .publication(let publication):
                self.deliver(publication, push)
            case .presence:
                self.deliverPresence(push)
            }
        }
        // The batch is all this client gets from the hub now: its bytes leave together, and their buffer
        // is freed before the next subscriber's is filled (uWebSockets' uncork).
        self.transport?.flush()
    }

    private func deliver(_ publication: Publication, _ push: HubPush) {
        enum Outcome { case buffered, tooManyBuffered, duplicate, gap, send }
        // One lookup of the channel for the read and the write: this runs once per recipient.
        let outcome = self.subscriptions.update(publication.channel) { subscription -> Outcome in
            switch subscription {
            case .joining(var buffered, let registered):
                guard buffered.count < Self.joiningBufferLimit else { return .tooManyBuffered }
                // Out of the subscription while it grows, so the append does not copy the whole buffer.
                subscription = .joining(buffered: [], registered: registered)
                buffered.append(push)
                subscription = .joining(buffered: buffered, registered: registered)
                return .buffered
            case .live(let position):
                if publication.epoch == position.epoch {
                    // Already delivered (in the subscribe reply, or the buffer overlapped history).
                    guard publication.offset > position.offset else { return .duplicate }
                    // The broker lost publications (an outage): only history can fill the gap.
                    guard publication.offset == position.offset + 1 else { return .gap }
                }
                subscription = .live(position: publication.position)
                return .send
            }
        }
        switch outcome {
        case nil, .buffered?, .duplicate?:
            return
        case .tooManyBuffered?:
            self.disconnect(.init(code: .slowConsumer, reason: "too many publications while subscribing"))
        case .gap?:
            // The client resubscribes from its position and recovers.
            self.dropSubscription(publication.channel, reason: "missed publications: resubscribe from your position to recover")
        case .send?:
            do {
                try self.transport?.sendPush(push.encoded)
            } catch {
                self.transportClosed()
            }
        }
    }

    private func deliverPresence(_ push: HubPush) {
        guard case .live? = self.subscriptions[push.channel],
              self.context.configuration.namespace(of: push.channel)?.options.joinLeave == true else { return }
        do {
            try self.transport?.sendPush(push.encoded)
        } catch {
            self.transportClosed()
        }
    }

    func hubMissedPublications(in channel: String) {
        // Only live subscriptions are sent back to history. One still joining merges history with what it
        // buffered; if its history read came before the feed was back, the hole shows at the next
        // publication's offset instead.
        guard case .live? = self.subscriptions[channel] else { return }
        self.dropSubscription(channel, reason: "missed publications: resubscribe from your position to recover")
    }

    /// The server ends a subscription and says why (`unsubscribed` push).
    func dropSubscription(_ channel: String, reason: String) {
        guard self.subscriptions.removeValue(forKey: channel) != nil else { return }
        self.leave(channel, identity: self.identity)
        self.reply(.unsubscribed(.init(channel: channel, reason: reason)))
    }
}
