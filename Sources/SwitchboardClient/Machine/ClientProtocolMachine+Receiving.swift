import SwitchboardProtocol

/// What the server says: replies matched to their commands, publications checked against each channel's
/// position, and the pushes that change what the client does next.
extension ClientProtocolMachine {
    mutating func received(_ message: ServerMessage) {
        switch self.phase {
        case .authenticating, .connected: break
        default: return
        }
        self.heard = true
        switch message {
        case .reply(let id, let reply):
            self.answered(id, .success(reply))
        case .error(let id?, let error):
            self.answered(id, .failure(error))
        case .error(nil, let error):
            // PROTOCOL.md, error without id: 109 asks for `refresh` within `tokenRefreshGrace`.
            if error.code == .tokenExpired { self.refreshDue() }
        case .publication(let publication) where self.held[publication.channel] != nil:
            self.held[publication.channel]?.append(publication)
        case .publication(let publication):
            self.deliver(publication)
        case .unsubscribed(let event):
            // The node saw a gap in its live stream; PROTOCOL.md: "resubscribe with `since`".
            if self.phase == .connected, self.held[event.channel] == nil, let cursor = self.cursors[event.channel] {
                self.sendSubscribe(event.channel, since: cursor.last, waiter: nil)
            }
        case .disconnect(let disconnect):
            self.lastDisconnect = disconnect
        case .join, .leave:
            break
        }
    }

    /// A command's answer: ``ServerMessage/ProtocolError`` is not an `Error`, so not a `Result`.
    enum Answer {
        case success(ServerMessage.Reply)
        case failure(ServerMessage.ProtocolError)
    }

    private mutating func answered(_ id: UInt64, _ answer: Answer) {
        guard let kind = self.takePending(id) else { return }
        defer {
            // However a subscribe ended, nothing is held for it any more (a reply delivered what was).
            if case .subscribe(let channel, _, _) = kind { self.held.removeValue(forKey: channel) }
        }
        switch (kind, answer) {
        case (.connect, .success(.connect(let result))):
            guard case .authenticating(_, let transport) = self.phase else { return }
            self.connected(result, over: transport)
        case (.connect, .failure(let error)) where error.code == .tokenExpired || error.code.isTemporary:
            // A token that expired on the way, or a temporary failure: a fresh attempt may work.
            self.attemptFailed("connect refused: \(error.code) \(error.message)")
        case (.connect, .failure(let error)):
            self.stop(DisconnectReason(error: error.code, message: error.message), closeCode: .normalClosure)
        case (.connect, .success):
            self.attemptFailed("connect answered with another reply")

        case (.subscribe(let channel, let since, let waiter), .success(.subscribe(let result))):
            self.subscribed(channel, since: since, result)
            if let waiter { self.emit(.settle(waiter, .success(.subscribe(result)))) }
        case (.subscribe(let channel, _, nil), .failure(let error)) where error.code.isTemporary && self.cursors[channel] != nil:
            // A resubscription (after a reconnect or an `unsubscribed` push) refused for now, typically 202
            // while the node's broker is down: the application still wants the channel, so ask again later
            // (up to twice the reconnect policy's base delay) instead of ending its subscription for good.
            self.resubscribeTimers.insert(channel)
            self.emit(.arm(.resubscribe(channel), after: self.settings.reconnect.delay(forAttempt: 2, unit: self.drawUnit())))
        case (.subscribe(let channel, _, let waiter), .failure(let error)):
            let failure = RealtimeClientError.server(error)
            if self.cursors.removeValue(forKey: channel) != nil { self.emit(.deliver(channel: channel, .finished(failure))) }
            if let waiter { self.emit(.settle(waiter, .failure(failure))) }
        case (.subscribe(_, _, let waiter), .success(let other)):
            if let waiter { self.emit(.settle(waiter, .failure(Self.unexpected(other, to: "subscribe")))) }

        case (.refresh, .success(.refresh(let refreshed))):
            self.scheduleRefresh(expires: refreshed.expires)
        case (.refresh, _), (.ping, _):
            // A failed refresh: the server disconnects with 4003 after its grace period, and the reconnect
            // asks for a new token.
            break

        case (.request(let request), .success(let reply)):
            self.emit(.settle(request, .success(reply)))
        case (.request(let request), .failure(let error)):
            self.emit(.settle(request, .failure(.server(error))))
        case (.unsubscribe(let request), .success(let reply)):
            self.emit(.settle(request, .success(reply)))
        case (.unsubscribe(let request), .failure(let error)) where error.code == .notSubscribed:
            // The server had already ended it (a resubscribe in flight, say): the goal is reached.
            self.emit(.settle(request, .success(nil)))
        case (.unsubscribe(let request), .failure(let error)):
            self.emit(.settle(request, .failure(.server(error))))

        case (.publish(var publish), .failure(let error)) where error.code == .outcomeUnknown && publish.retries < 3:
            // The node could not confirm it: the same key makes sending it again safe.
            publish.retries += 1
            if self.phase == .connected { self.send(publish) } else { self.sendQueue.insert(publish, at: 0) }
        case (.publish(let publish), .success(let reply)):
            self.emit(.settle(publish.request, .success(reply)))
        case (.publish(let publish), .failure(let error)):
            self.emit(.settle(publish.request, .failure(.server(error))))
        }
    }

    /// A subscribe reply: recovered publications first (without duplicates), then the cursor moves to the
    /// channel's position, after which live publications continue.
    private mutating func subscribed(_ channel: String, since: StreamPosition?, _ result: ServerMessage.SubscribeResult) {
        guard var cursor = self.cursors[channel] else { return }
        let current = StreamPosition(offset: result.offset, epoch: result.epoch)
        if since != nil, result.recovered == true {
            var delivered = 0
            for publication in result.publications ?? [] where self.deliver(publication, with: &cursor) {
                delivered += 1
            }
            self.emit(.deliver(channel: channel, .event(.recovered(count: delivered))))
            cursor.resume(at: current)
        } else if since != nil {
            // PROTOCOL.md, recovery: "`recovered: false`: the gap cannot be filled … continue from the
            // reply's position".
            self.emit(.deliver(channel: channel, .event(.gap(lastDelivered: cursor.last, resumedAt: current))))
            cursor.reset(to: current)
        } else {
            cursor.resume(at: current)
        }
        for publication in self.held.removeValue(forKey: channel) ?? [] { self.deliver(publication, with: &cursor) }
        self.cursors[channel] = cursor
        self.emit(.deliver(channel: channel, .subscribed(current)))
    }

    private mutating func deliver(_ publication: Publication) {
        guard var cursor = self.cursors[publication.channel] else { return }
        self.deliver(publication, with: &cursor)
        self.cursors[publication.channel] = cursor
    }

    /// True when delivered; false for a duplicate.
    @discardableResult
    private mutating func deliver(_ publication: Publication, with cursor: inout StreamCursor) -> Bool {
        switch cursor.accept(publication) {
        case .deliver:
            break
        case .deliverAfterGap(let lastDelivered):
            let before = StreamPosition(offset: publication.offset &- 1, epoch: publication.epoch)
            self.emit(.deliver(channel: publication.channel, .event(.gap(lastDelivered: lastDelivered, resumedAt: before))))
        case .duplicate:
            return false
        }
        self.emit(.deliver(channel: publication.channel, .publication(publication)))
        return true
    }

    static func unexpected(_ reply: ServerMessage.Reply, to command: String) -> RealtimeClientError {
        RealtimeClientError.serverError.with(message: "the server answered \(command) with \(reply)")
    }
}
