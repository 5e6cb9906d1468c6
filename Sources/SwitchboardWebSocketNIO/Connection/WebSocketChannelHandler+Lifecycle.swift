import Logging
import NIOCore
import SwitchboardWebSocket

/// Reading control (backpressure), the heartbeat, the close timer, and the end of the connection.
extension WebSocketChannelHandler {
    func setReadingPaused(_ paused: Bool, by reason: PauseReasons) {
        if paused {
            self.pauseReasons.insert(reason)
        } else {
            self.pauseReasons.remove(reason)
            if self.pauseReasons.isEmpty && self.readPending, let io = self.io {
                self.readPending = false
                io.read()
            }
        }
    }


    func startHeartbeat() {
        guard let heartbeat = self.configuration.heartbeat else { return }
        self.heardFromPeer = false
        self.silentSince = self.eventLoop.now
        self.heartbeatSweeper = HeartbeatSweeper.on(self.eventLoop, heartbeat: heartbeat)
        self.heartbeatSweeper!.add(self)
    }

    /// Counts a ping from the peer; past `limit` in one second the connection is closed with 1008.
    func countPing(limit: Int) {
        let second = UInt32(truncatingIfNeeded: NIODeadline.now().uptimeNanoseconds / 1_000_000_000)
        if second != self.pingSecond {
            self.pingSecond = second
            self.pingsInSecond = 0
        }
        self.pingsInSecond &+= 1
        // Once, at the first ping over the limit: the close is under way after that.
        guard Int(self.pingsInSecond) == limit + 1 else { return }
        self.logger.debug("Closing a WebSocket peer that floods pings", metadata: ["limit": "\(limit)"])
        self.initiateClose(code: .policyViolation, reason: "more than \(limit) pings a second")
    }

    /// Called by the loop's ``HeartbeatSweeper``: a peer silent for `interval` gets a ping; one still
    /// silent `timeout` after it is gone.
    func heartbeatSweep(now: NIODeadline, heartbeat: WebSocketConfiguration.Heartbeat) {
        guard case .open = self.phase, self.io != nil else { return }
        // Bytes waiting unread mean the peer spoke: this loop has not read them yet (busy with other
        // sockets, or reading is held while the application catches up). Judged silent, a live peer would
        // be cut off for the server's own delay.
        if self.heardFromPeer || (self.pingSent != nil && self.io?.hasUnreadInput == true) {
            self.heardFromPeer = false
            self.silentSince = now
            self.pingSent = nil
            return
        }
        if let pingSent = self.pingSent {
            guard now - pingSent >= heartbeat.timeout else { return }
            self.logger.debug("WebSocket peer missed its heartbeat deadline", metadata: ["peer": "\(self.remoteAddress.map { "\($0)" } ?? "?")"])
            if self.closeStatus == nil {
                self.closeStatus = WebSocketCloseStatus(code: self.configuration.heartbeatTimeoutCloseCode,
                                                        reason: "no answer to ping within \(heartbeat.timeout)", initiatedLocally: true)
            }
            self.closeTransport(abruptly: true)
        } else if now - self.silentSince >= heartbeat.interval {
            try? self.sendPing(ByteBuffer())
            self.pingSent = now
        }
    }

    func startCloseTimer() {
        guard self.closeTimer == nil else { return }
        self.closeTimer = self.eventLoop.assumeIsolated().scheduleTask(in: self.configuration.closeTimeout) { [self] in
            self.closeTimer = nil
            guard self.io != nil, self.engine != nil else { return }
            if self.engine!.closeTimerFired() == .closeTransport { self.closeTransport() }
        }
    }

    /// Writes what is pending (the close frame, usually), then closes TCP once it is out: closing with
    /// writes still queued would discard them.
    /// - Parameter abruptly: the peer is gone or not reading (heartbeat deadline, outbound limit): close at
    ///   once and drop what is queued, since waiting for those writes could last forever.
    func closeTransport(abruptly: Bool = false) {
        guard case .open = self.phase, let io = self.io else { return }
        self.phase = .closed
        guard !abruptly, self.output.readableBytes > 0 || self.hasUnflushedWrites else {
            io.close()
            return
        }
        // Writes complete in order: when this last one is out, so is everything queued before it. A peer
        // that stops reading right now must not keep the connection: the close timeout bounds the wait.
        let bytes = self.output
        self.output = ByteBuffer()
        self.hasUnflushedWrites = false
        let deadline = self.eventLoop.assumeIsolated().scheduleTask(in: self.configuration.closeTimeout) {
            io.close()
        }
        io.writeAndFlush(bytes) {
            deadline.cancel()
            io.close()
        }
    }

    func cancelTimers() {
        self.handshakeTimer?.cancel()
        self.handshakeTimer = nil
        self.closeTimer?.cancel()
        self.closeTimer = nil
        self.heartbeatSweeper?.remove(self)
        self.heartbeatSweeper = nil
    }

    /// The connection is gone: report once, then let go of everything that could hold memory or a cycle.
    func finish() {
        self.cancelTimers()
        let waiters = self.writabilityWaiters
        self.writabilityWaiters.removeAll()
        for waiter in waiters { waiter.fail(WebSocketTransportError.connectionClosed) }
        // Only a connection that opened is reported closed; a failed client connect is reported by its future.
        let delegate = self.delegate
        self.delegate = nil
        if let delegate, self.engine != nil {
            let status = self.closeStatus ?? WebSocketCloseStatus(code: .abnormalClosure, reason: "", initiatedLocally: self.closeInitiatedLocally)
            delegate.webSocketDidClose(WebSocketEventLoopConnection(handler: self), status: status)
        }
        self.engine = nil
        self.io = nil
    }
}
