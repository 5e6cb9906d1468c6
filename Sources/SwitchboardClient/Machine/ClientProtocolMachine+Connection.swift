import SwitchboardProtocol
import SwitchboardWebSocket

/// Opening, losing and giving up connections: attempts, backoff, heartbeats and token refresh.
extension ClientProtocolMachine {
    /// The transports an attempt tries, in order.
    var candidateTransports: [TransportKind] {
        let preferred = self.settings.transports.filter { !(self.prefersSSE && $0 == .webSocket) }
        return preferred.isEmpty ? [.webSocket] : preferred
    }

    mutating func startAttempt(_ attempt: Int) {
        self.open(attempt: attempt, self.candidateTransports[0])
    }

    private mutating func open(attempt: Int, _ transport: TransportKind) {
        self.generation += 1
        self.phase = .opening(attempt: attempt, transport)
        self.emit(.openTransport(generation: self.generation, transport))
    }

    mutating func transportOpened(generation: Int, token: String?) {
        guard generation == self.generation, case .opening(let attempt, let transport) = self.phase else {
            // An attempt abandoned while it opened: its transport is not wanted.
            return self.emit(.closeTransport(generation: generation, .goingAway))
        }
        self.phase = .authenticating(attempt: attempt, transport)
        self.lastDisconnect = nil
        self.heard = false
        self.sendConnect(token: token)
    }

    mutating func transportFailed(generation: Int, reason: String, retryAfter: Int?) {
        guard generation == self.generation, case .opening(let attempt, let transport) = self.phase else { return }
        // The next transport in the attempt, unless the node itself asked to come back later.
        let candidates = self.candidateTransports
        if retryAfter == nil, let index = candidates.firstIndex(of: transport), index + 1 < candidates.count {
            return self.open(attempt: attempt, candidates[index + 1])
        }
        // A node admitting connections at its rate: come back when it says, give or take.
        let hint = retryAfter.map { ReconnectPolicy.delay(retryAfter: $0, unit: self.drawUnit()) }
        self.attemptFailed(reason, hint: hint)
    }

    /// The current attempt failed: the next one after its backoff (at least `hint`, a server's `Retry-After`).
    mutating func attemptFailed(_ why: String, hint: Duration? = nil) {
        let attempt: Int
        switch self.phase {
        case .opening(let current, _), .authenticating(let current, _): attempt = current
        default: return
        }
        self.dropLink(closeCode: .goingAway)
        self.scheduleReconnect(attempt: attempt + 1, hint: hint, after: why)
    }

    mutating func connected(_ result: ServerMessage.ConnectResult, over transport: TransportKind) {
        // Keep to SSE once it worked where a WebSocket did not; back to WebSockets once one works.
        self.prefersSSE = transport == .sse && self.settings.transports.contains(.webSocket)
        self.phase = .connected
        self.emit(.state(.connected(clientID: result.client, user: result.user)))
        self.emit(.settleConnect(.success(())))
        self.heard = false
        self.emit(.arm(.heartbeat, after: self.settings.heartbeatInterval))
        self.scheduleRefresh(expires: result.expires)
        // Resubscribe first (by name, so the order is the same every time), so that the application's own
        // queued publications reach its subscriptions.
        for channel in self.cursors.keys.sorted() {
            self.sendSubscribe(channel, since: self.cursors[channel]?.last, waiter: nil)
        }
        let queued = self.sendQueue
        self.sendQueue = []
        for publish in queued { self.send(publish) }
    }

    mutating func transportClosed(generation: Int, code: UInt16, reason: String) {
        guard generation == self.generation else { return }
        let attempt: Int
        switch self.phase {
        case .authenticating(let current, _): attempt = current + 1
        case .connected: attempt = 1
        default: return
        }
        let code = self.lastDisconnect?.code ?? DisconnectCode(rawValue: code)
        let reason = self.lastDisconnect?.reason ?? reason
        let hint = self.lastDisconnect?.delay.map { Duration.milliseconds($0) }
        // PROTOCOL.md, disconnect codes: 4500–4999 "do not reconnect without a change".
        if code.forbidsReconnecting {
            return self.stop(DisconnectReason(code: code, message: reason), closeCode: .goingAway)
        }
        self.dropLink(closeCode: .goingAway)
        self.scheduleReconnect(attempt: attempt, hint: hint,
                               after: reason.isEmpty ? "closed with \(code.rawValue)" : "closed with \(code.rawValue) \(reason)")
    }

    /// `failure` says what went wrong last, so that giving up says why, not only how often.
    mutating func scheduleReconnect(attempt: Int, hint: Duration?, after failure: String) {
        let policy = self.settings.reconnect
        if let maximum = policy.maxAttempts, attempt > maximum {
            // The link is already dropped.
            return self.stopped(DisconnectReason(message: "gave up after \(maximum) reconnect attempts (the last: \(failure))"))
        }
        var delay = policy.delay(forAttempt: attempt, unit: self.drawUnit())
        // PROTOCOL.md, disconnect codes: reconnect "after `delay` when given": the hint is a floor.
        if let hint, hint > delay { delay = hint }
        self.phase = .waiting(attempt: attempt)
        self.emit(.state(.reconnecting(attempt: attempt, delay: delay)))
        self.emit(.arm(.backoff, after: delay))
    }

    /// Ends the current connection or attempt and settles what was waiting on it. Publications still in the
    /// send queue stay there; those already sent and unanswered go back to its front, in the order they
    /// were sent, to go out again with their idempotency keys (the node publishes each at most once).
    mutating func dropLink(closeCode: CloseCode) {
        switch self.phase {
        case .opening, .authenticating, .connected:
            self.emit(.closeTransport(generation: self.generation, closeCode))
        case .waiting:
            self.emit(.cancel(.backoff))
        case .idle, .disconnected:
            break
        }
        if self.phase == .connected {
            self.emit(.cancel(.heartbeat))
            self.emit(.cancel(.refresh))
        }
        // Late facts about this connection are ignored from now on.
        self.generation += 1
        self.lastDisconnect = nil
        for channel in self.resubscribeTimers.sorted() { self.emit(.cancel(.resubscribe(channel))) }
        self.resubscribeTimers = []
        self.held = [:]
        var unanswered: [QueuedPublish] = []
        for kind in self.takeAllPending() {
            switch kind {
            case .request(let request):
                self.emit(.settle(request, .failure(.connectionLost)))
            case .unsubscribe(let request):
                // The node forgets a closed connection's subscriptions: what was asked for is done.
                self.emit(.settle(request, .success(nil)))
            case .publish(let publish):
                unanswered.append(publish)
            case .subscribe(_, _, let waiter?):
                // Still wanted: it is subscribed again on the next connection.
                self.emit(.settle(waiter, .success(nil)))
            case .subscribe, .connect, .refresh, .ping:
                break
            }
        }
        self.sendQueue.insert(contentsOf: unanswered, at: 0)
    }

    /// The terminal transition: no more reconnecting until `connect`.
    mutating func stop(_ reason: DisconnectReason, closeCode: CloseCode) {
        self.dropLink(closeCode: closeCode)
        self.stopped(reason)
    }

    /// What stopping does once the link is dropped: what waited fails, and nothing follows until `connect`.
    private mutating func stopped(_ reason: DisconnectReason) {
        self.phase = .disconnected(reason)
        let error = RealtimeClientError.disconnected.with(message: "disconnected: \(reason)")
        let queued = self.sendQueue
        self.sendQueue = []
        for publish in queued {
            let outcome = publish.sent ? RealtimeClientError.connectionLost.with(
                message: "disconnected (\(reason)) before the node confirmed the publication: it may or may not have happened") : error
            self.emit(.settle(publish.request, .failure(outcome)))
        }
        self.emit(.settleConnect(.failure(error)))
        self.emit(.state(.disconnected(reason)))
    }

    // MARK: - Timers

    mutating func timerFired(_ timer: ClientTimer) {
        switch timer {
        case .backoff:
            guard case .waiting(let attempt) = self.phase else { return }
            self.startAttempt(attempt)
        case .reply(let id):
            guard let kind = self.pending.removeValue(forKey: id) else { return }
            self.timedOut(kind)
        case .heartbeat:
            self.heartbeatDue()
        case .refresh:
            self.refreshDue()
        case .resubscribe(let channel):
            guard self.resubscribeTimers.remove(channel) != nil, self.phase == .connected,
                  let cursor = self.cursors[channel] else { return }
            self.sendSubscribe(channel, since: cursor.last, waiter: nil)
        }
    }

    private mutating func timedOut(_ kind: Pending) {
        switch kind {
        case .request(let request), .unsubscribe(let request):
            self.emit(.settle(request, .failure(.requestTimeout)))
        case .publish(let publish):
            self.emit(.settle(publish.request, .failure(.requestTimeout)))
        case .ping:
            // No reply to a heartbeat in time: the connection is presumed dead, without waiting for TCP.
            guard self.phase == .connected else { return }
            self.dropLink(closeCode: .goingAway)
            self.scheduleReconnect(attempt: 1, hint: nil, after: "no reply to a heartbeat")
        case .connect:
            self.attemptFailed("no connect reply in time")
        case .subscribe, .refresh:
            break
        }
    }

    /// PROTOCOL.md, heartbeats: when nothing was heard for a whole interval, `ping`, and "reconnect if the
    /// reply does not come within a few seconds".
    private mutating func heartbeatDue() {
        guard self.phase == .connected else { return }
        if !self.heard && !self.isPinging { self.sendPing() }
        self.heard = false
        self.emit(.arm(.heartbeat, after: self.settings.heartbeatInterval))
    }

    mutating func scheduleRefresh(expires: Int?) {
        self.emit(.cancel(.refresh))
        guard let expires else { return }
        let remaining = Duration.seconds(expires)
        let margin = self.settings.tokenRefreshMargin
        self.emit(.arm(.refresh, after: remaining > margin * 2 ? remaining - margin : remaining / 2))
    }

    mutating func refreshDue() {
        guard self.phase == .connected else { return }
        self.emit(.fetchRefreshToken(generation: self.generation))
    }

    mutating func refreshToken(generation: Int, _ token: String?) {
        guard let token, generation == self.generation, self.phase == .connected else { return }
        self.sendRefresh(token: token)
    }
}
