import Foundation
import Logging
import NIOCore
import SwitchboardProtocol
import SwitchboardWebSocket
import SwitchboardWebSocketNIO

/// The client's connection state machine. Every transition is in this file (STYLE rule 4); the state is one
/// enum whose cases carry only what is valid in them (rule 2). Inputs are the facts that happen to a
/// connection (`transportOpened`, `received`, `transportClosed`, `backoffElapsed`, …), each tagged with the
/// generation of the connection attempt it is about, so a late fact about an abandoned connection is ignored.
///
/// Unlike the sans-I/O engines below it, this layer owns its timers and sockets (it is the I/O layer of the
/// SDK); the backoff arithmetic, which is the part worth testing exhaustively, is a pure ``ReconnectPolicy``.
actor ClientEngine {
    private enum Phase {
        /// Never connected since creation.
        case idle
        /// A connect attempt: opening the WebSocket (`link` nil), then waiting for the `connect` reply.
        /// `attempt` is 0 for the first connect after ``connect()``, n ≥ 1 for the n-th reconnect attempt.
        case connecting(attempt: Int, opener: Task<Void, Never>, link: Link?)
        case connected(Link)
        /// Waiting out the backoff before reconnect attempt `attempt`.
        case waiting(attempt: Int, timer: Task<Void, Never>)
        /// Stopped: by ``disconnect()``, a 4500–4999 code, a refused token, or too many attempts.
        case disconnected(DisconnectReason)
    }

    /// One open WebSocket and the tasks that read and write it.
    private struct Link {
        let generation: Int
        let connection: WebSocketConnection
        let outbox: AsyncStream<String>.Continuation

        func send(_ command: ClientCommand) {
            // Commands are plain Codable values; encoding them cannot fail.
            let json = try! JSONEncoder().encode(command)
            self.outbox.yield(String(decoding: json, as: UTF8.self))
        }

        func close(_ code: CloseCode) {
            self.outbox.finish()
            let connection = self.connection
            Task { await connection.close(code: code) }
        }
    }

    private enum PendingKind {
        case connect
        case subscribe(channel: String, since: StreamPosition?, waiter: CheckedContinuation<Void, any Error>?)
        case refresh
        case ping
        case reply(CheckedContinuation<ServerMessage.Reply, any Error>)
        case publish(QueuedPublish)
    }

    private struct Pending {
        var kind: PendingKind
        var timer: Task<Void, Never>?
    }

    private struct ChannelRecord {
        var cursor = StreamCursor()
        let sink: SubscriptionSink
    }

    /// A publication on its way: its idempotency key makes sending it again after a lost answer safe.
    private struct QueuedPublish {
        let channel: String
        let data: RawJSON
        let key: String
        let continuation: CheckedContinuation<ServerMessage.Reply, any Error>
        /// It went out at least once, so it may have been published.
        var sent = false
        /// Resent after the node could not confirm it (203).
        var retries = 0
    }

    nonisolated let broadcaster = StateBroadcaster(.disconnected(.notConnected))
    private let url: String
    private let configuration: RealtimeClientConfiguration
    private let logger: Logger

    private var phase = Phase.idle
    private var generation = 0
    private var nextCommandID: UInt64 = 1
    private var pending: [UInt64: Pending] = [:]
    private var channels: [String: ChannelRecord] = [:]
    private var sendQueue: [QueuedPublish] = []
    /// Callers of ``connect()`` waiting for the outcome, by a number that lets a cancelled one leave early.
    private var connectWaiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
    private var nextWaiterID: UInt64 = 0
    /// The `disconnect` push that preceded the close, if any: its code and delay hint decide what follows.
    private var lastDisconnect: ServerMessage.Disconnect?
    private var lastHeard = ContinuousClock.now
    private var heartbeat: Task<Void, Never>?
    private var refreshTimer: Task<Void, Never>?

    init(url: String, configuration: RealtimeClientConfiguration, logger: Logger) {
        self.url = url
        self.configuration = configuration
        self.logger = logger
    }

    // MARK: - Caller's commands

    func connect() async throws {
        switch self.phase {
        case .connected:
            return
        case .idle, .disconnected:
            self.broadcaster.publish(.connecting)
            self.startAttempt(0)
        case .connecting, .waiting:
            break
        }
        let id = self.nextWaiterID
        self.nextWaiterID += 1
        // Cancelling the caller ends its wait, not the client's attempts: `disconnect()` does that.
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if Task.isCancelled { return continuation.resume(throwing: CancellationError()) }
                self.connectWaiters[id] = continuation
            }
        } onCancel: {
            Task { await self.connectWaitCancelled(id) }
        }
    }

    private func connectWaitCancelled(_ id: UInt64) {
        self.connectWaiters.removeValue(forKey: id)?.resume(throwing: CancellationError())
    }

    func disconnect() {
        if case .disconnected = self.phase { return }
        self.stop(DisconnectReason.requested, closeCode: .normalClosure)
    }

    func publish(_ data: RawJSON, to channel: String) async throws -> StreamPosition {
        let reply: ServerMessage.Reply
        let key = UUID().uuidString
        if case .connected(let link) = self.phase {
            reply = try await withCheckedThrowingContinuation { continuation in
                self.send(QueuedPublish(channel: channel, data: data, key: key, continuation: continuation), on: link)
            }
        } else if case .disconnected(let reason) = self.phase, reason != .notConnected {
            // Stopped for good: waiting would wait for a `connect()` nobody may call.
            throw RealtimeClientError.disconnected.with(message: "disconnected: \(reason)")
        } else {
            // While not connected, publications wait (bounded) and go out in order after the next connect.
            guard self.sendQueue.count < self.configuration.sendQueueLimit else {
                throw RealtimeClientError.sendQueueFull.with(
                    message: "the send queue is full (\(self.configuration.sendQueueLimit) publications wait for a connection)")
            }
            reply = try await withCheckedThrowingContinuation { continuation in
                self.sendQueue.append(QueuedPublish(channel: channel, data: data, key: key, continuation: continuation))
            }
        }
        guard case .publish(let result) = reply else { throw Self.unexpected(reply, to: "publish") }
        return StreamPosition(offset: result.offset, epoch: result.epoch)
    }

    func subscribe<Value: Decodable & Sendable>(_ channel: String, as type: Value.Type) async throws -> Subscription<Value> {
        guard self.channels[channel] == nil else {
            throw RealtimeClientError.alreadySubscribed.with(message: "already subscribed to \(channel)")
        }
        let (sink, subscription) = SubscriptionSink.make(channel: channel, as: type, engine: self)
        self.channels[channel] = ChannelRecord(sink: sink)
        // Not connected: the subscribe goes out with the next connect (a refusal then ends the sequence).
        if case .connected(let link) = self.phase {
            try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
                self.sendSubscribe(channel, since: nil, waiter: waiter, on: link)
            }
        }
        return subscription
    }

    func unsubscribe(_ channel: String) async throws {
        guard let record = self.channels.removeValue(forKey: channel) else { return }
        record.sink.finish(nil)
        guard case .connected(let link) = self.phase else { return }
        do {
            _ = try await self.request(.unsubscribe(.init(channel: channel)), on: link)
        } catch let error as RealtimeClientError where error.protocolCode == .notSubscribed {
            // The server had already ended it (a resubscribe in flight, say): the goal is reached.
        }
    }

    /// A command that needs a live connection (presence, history): no queueing.
    func request(_ body: ClientCommand.Body) async throws -> ServerMessage.Reply {
        guard case .connected(let link) = self.phase else { throw RealtimeClientError.notConnected }
        return try await self.request(body, on: link)
    }

    /// For tests: how many publications wait for a connection.
    var queuedPublishCount: Int { self.sendQueue.count }

    // MARK: - Connecting

    private func startAttempt(_ attempt: Int) {
        self.generation += 1
        let generation = self.generation
        let url = self.url
        let tokenProvider = self.configuration.tokenProvider
        let opener = Task {
            do {
                let token = try await tokenProvider()
                var transport = WebSocketClientConfiguration(connectTimeout: .seconds(5))
                // Recovery replies can carry thousands of publications; heartbeats are the protocol's `ping`.
                transport.connection = WebSocketConfiguration(limits: .echoServer, deflate: nil, heartbeat: nil, closeTimeout: .seconds(2))
                let connection = try await WebSocketClient.connect(to: url, configuration: transport)
                self.transportOpened(connection, token: token, generation: generation)
            } catch let error as WebSocketTransportError where error.retryAfter != nil {
                // A node admitting connections at its rate: come back when it says, give or take.
                var generator = SystemRandomNumberGenerator()
                self.attemptFailed("\(error)", generation: generation,
                                   hint: ReconnectPolicy.delay(retryAfter: error.retryAfter!, using: &generator))
            } catch {
                self.attemptFailed("\(error)", generation: generation)
            }
        }
        self.phase = .connecting(attempt: attempt, opener: opener, link: nil)
    }

    private func transportOpened(_ connection: WebSocketConnection, token: String?, generation: Int) {
        guard generation == self.generation, case .connecting(let attempt, let opener, .none) = self.phase else {
            Task { await connection.close(code: .goingAway) }
            return
        }
        let link = self.makeLink(connection, generation: generation)
        self.phase = .connecting(attempt: attempt, opener: opener, link: link)
        self.lastDisconnect = nil
        let id = self.register(.connect, timeout: self.configuration.requestTimeout)
        link.send(ClientCommand(id: id, .connect(.init(token: token, name: self.configuration.clientName))))
    }

    private func makeLink(_ connection: WebSocketConnection, generation: Int) -> Link {
        let (outbox, continuation) = AsyncStream<String>.makeStream()
        // One writer per connection keeps commands in the order they were issued (the send queue's promise).
        // Detached: the connection's own async API does its work on the event loop, not on this actor.
        Task.detached {
            for await text in outbox {
                do { try await connection.send(text: text) } catch { break }
            }
        }
        Task.detached {
            let decoder = JSONDecoder()
            for await message in connection.inbound {
                guard message.kind == .text,
                      let decoded = try? decoder.decode(ServerMessage.self, from: Data(message.data.readableBytesView))
                else { continue }
                await self.received(decoded, generation: generation)
            }
            let status = await connection.closeStatus
            await self.transportClosed(status, generation: generation)
        }
        self.lastHeard = .now
        return Link(generation: generation, connection: connection, outbox: continuation)
    }

    private func connected(_ result: ServerMessage.ConnectResult, link: Link) {
        self.phase = .connected(link)
        self.broadcaster.publish(.connected(clientID: result.client, user: result.user))
        let waiters = self.connectWaiters.values
        self.connectWaiters = [:]
        for waiter in waiters { waiter.resume() }
        self.startHeartbeat(generation: link.generation)
        self.scheduleRefresh(expires: result.expires, generation: link.generation)
        // Resubscribe first, so the app's own queued publications reach its subscriptions.
        for (channel, record) in self.channels {
            self.sendSubscribe(channel, since: record.cursor.last, waiter: nil, on: link)
        }
        let queued = self.sendQueue
        self.sendQueue = []
        for publish in queued { self.send(publish, on: link) }
    }

    /// - Parameter hint: the least time to wait (a server's `Retry-After`).
    private func attemptFailed(_ why: String, generation: Int, hint: Duration? = nil) {
        guard generation == self.generation, case .connecting(let attempt, _, _) = self.phase else { return }
        self.logger.debug("Connect attempt failed", metadata: ["attempt": "\(attempt)", "error": "\(why)"])
        self.dropLink(closeCode: .goingAway)
        self.scheduleReconnect(attempt: attempt + 1, hint: hint, after: why)
    }

    /// `failure` says what went wrong last, so that giving up says why, not only how often.
    private func scheduleReconnect(attempt: Int, hint: Duration?, after failure: String) {
        let policy = self.configuration.reconnect
        if let maximum = policy.maxAttempts, attempt > maximum {
            self.stop(DisconnectReason(message: "gave up after \(maximum) reconnect attempts (the last: \(failure))"), closeCode: .goingAway)
            return
        }
        var delay = policy.delay(forAttempt: attempt)
        // PROTOCOL.md, disconnect codes: reconnect "after `delay` when given": the hint is a floor.
        if let hint, hint > delay { delay = hint }
        self.broadcaster.publish(.reconnecting(attempt: attempt, delay: delay))
        let timer = Task {
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled else { return }
            self.backoffElapsed(attempt: attempt)
        }
        self.phase = .waiting(attempt: attempt, timer: timer)
    }

    private func backoffElapsed(attempt: Int) {
        guard case .waiting(attempt, _) = self.phase else { return }
        self.startAttempt(attempt)
    }

    // MARK: - Losing the connection

    private func transportClosed(_ status: WebSocketCloseStatus, generation: Int) {
        guard generation == self.generation else { return }
        let attempt: Int
        switch self.phase {
        case .connecting(let current, _, _?): attempt = current + 1
        case .connected: attempt = 1
        default: return
        }
        let code = self.lastDisconnect?.code ?? DisconnectCode(rawValue: status.code.rawValue)
        let reason = self.lastDisconnect?.reason ?? status.reason
        let hint = self.lastDisconnect?.delay.map { Duration.milliseconds($0) }
        self.logger.debug("Connection closed", metadata: ["code": "\(code)", "reason": "\(reason)"])
        // PROTOCOL.md, disconnect codes: 4500–4999 "do not reconnect without a change".
        if code.forbidsReconnecting {
            self.stop(DisconnectReason(code: code, message: reason), closeCode: .goingAway)
            return
        }
        self.dropLink(closeCode: .goingAway)
        self.scheduleReconnect(attempt: attempt, hint: hint, after: reason.isEmpty ? "closed with \(code.rawValue)" : "closed with \(code.rawValue) \(reason)")
    }

    /// No reply to a heartbeat in time: the connection is presumed dead, without waiting for TCP to agree.
    private func connectionDead(generation: Int) {
        guard generation == self.generation, case .connected = self.phase else { return }
        self.logger.debug("Heartbeat timed out; reconnecting")
        self.dropLink(closeCode: .goingAway)
        self.scheduleReconnect(attempt: 1, hint: nil, after: "no reply to a heartbeat")
    }

    /// Ends the current connection or attempt and fails what was waiting on it. Publications still in the
    /// send queue stay there; those already sent and unanswered go back to its front, in the order they
    /// were sent, to go out again with their idempotency keys (the node publishes each at most once).
    private func dropLink(closeCode: CloseCode) {
        switch self.phase {
        case .connecting(_, let opener, let link):
            opener.cancel()
            link?.close(closeCode)
        case .connected(let link):
            link.close(closeCode)
        case .waiting(_, let timer):
            timer.cancel()
        case .idle, .disconnected:
            break
        }
        self.generation += 1
        self.heartbeat?.cancel()
        self.heartbeat = nil
        self.refreshTimer?.cancel()
        self.refreshTimer = nil
        self.lastDisconnect = nil
        let pending = self.pending
        self.pending = [:]
        var unanswered: [QueuedPublish] = []
        for (_, entry) in pending.sorted(by: { $0.key < $1.key }) {
            entry.timer?.cancel()
            switch entry.kind {
            case .reply(let continuation): continuation.resume(throwing: RealtimeClientError.connectionLost)
            case .publish(let publish): unanswered.append(publish)
            // Still registered: it is subscribed again on the next connection.
            case .subscribe(_, _, let waiter?): waiter.resume()
            case .subscribe, .connect, .refresh, .ping: break
            }
        }
        self.sendQueue.insert(contentsOf: unanswered, at: 0)
    }

    /// The terminal transition: no more reconnecting until ``connect()``.
    private func stop(_ reason: DisconnectReason, closeCode: CloseCode) {
        self.dropLink(closeCode: closeCode)
        self.phase = .disconnected(reason)
        let error = RealtimeClientError.disconnected.with(message: "disconnected: \(reason)")
        let queued = self.sendQueue
        self.sendQueue = []
        for publish in queued {
            publish.continuation.resume(throwing: publish.sent ? RealtimeClientError.connectionLost.with(
                message: "disconnected (\(reason)) before the node confirmed the publication: it may or may not have happened") : error)
        }
        let waiters = self.connectWaiters.values
        self.connectWaiters = [:]
        for waiter in waiters { waiter.resume(throwing: error) }
        self.broadcaster.publish(.disconnected(reason))
    }

    // MARK: - Receiving

    private func received(_ message: ServerMessage, generation: Int) {
        guard generation == self.generation else { return }
        self.lastHeard = .now
        switch message {
        case .reply(let id, let reply):
            self.answered(id, .success(reply))
        case .error(let id?, let error):
            self.answered(id, .failure(error))
        case .error(nil, let error):
            // PROTOCOL.md, error without id: 109 asks for `refresh` within `tokenRefreshGrace`.
            if error.code == .tokenExpired { self.refreshDue(generation: generation) }
        case .publication(let publication):
            self.deliver(publication)
        case .unsubscribed(let event):
            // The node saw a gap in its live stream; PROTOCOL.md: "resubscribe with `since`".
            if case .connected(let link) = self.phase, let record = self.channels[event.channel] {
                self.sendSubscribe(event.channel, since: record.cursor.last, waiter: nil, on: link)
            }
        case .disconnect(let disconnect):
            self.lastDisconnect = disconnect
        case .join, .leave:
            break
        }
    }

    /// A command's answer: ``ServerMessage/ProtocolError`` is not an `Error`, so not a `Result`.
    private enum Answer {
        case success(ServerMessage.Reply)
        case failure(ServerMessage.ProtocolError)
    }

    private func answered(_ id: UInt64, _ result: Answer) {
        guard let entry = self.pending.removeValue(forKey: id) else { return }
        entry.timer?.cancel()
        switch (entry.kind, result) {
        case (.connect, .success(.connect(let connectResult))):
            guard case .connecting(_, _, let link?) = self.phase else { return }
            self.connected(connectResult, link: link)
        case (.connect, .failure(let error)) where error.code == ErrorCode.tokenExpired || error.code.isTemporary:
            // A token that expired on the way, or a temporary failure: a fresh attempt may work.
            self.attemptFailed("connect refused: \(error.code) \(error.message)", generation: self.generation)
        case (.connect, .failure(let error)):
            self.stop(DisconnectReason(error: error.code, message: error.message), closeCode: .normalClosure)
        case (.connect, .success):
            self.attemptFailed("connect answered with another reply", generation: self.generation)
        case (.subscribe(let channel, let since, let waiter), .success(.subscribe(let subscribed))):
            self.subscribed(channel, since: since, subscribed)
            waiter?.resume()
        case (.subscribe(let channel, _, nil), .failure(let error)) where error.code.isTemporary && self.channels[channel] != nil:
            // A resubscription (after a reconnect or an `unsubscribed` push) refused for now, typically 202
            // while the node's broker is down: the app still wants the channel, so ask again later instead
            // of ending its subscription for good.
            self.retrySubscribe(channel, generation: self.generation)
        case (.subscribe(let channel, _, let waiter), .failure(let error)):
            let failure = RealtimeClientError.server(error)
            self.channels.removeValue(forKey: channel)?.sink.finish(failure)
            waiter?.resume(throwing: failure)
        case (.subscribe(_, _, let waiter), .success(let other)):
            waiter?.resume(throwing: Self.unexpected(other, to: "subscribe"))
        case (.refresh, .success(.refresh(let refreshed))):
            self.scheduleRefresh(expires: refreshed.expires, generation: self.generation)
        case (.refresh, let outcome):
            // The server disconnects with 4003 after its grace period; the reconnect asks for a new token.
            self.logger.debug("Token refresh failed", metadata: ["outcome": "\(outcome)"])
        case (.ping, _):
            break
        case (.reply(let continuation), .success(let reply)):
            continuation.resume(returning: reply)
        case (.reply(let continuation), .failure(let error)):
            continuation.resume(throwing: RealtimeClientError.server(error))
        case (.publish(var publish), .failure(let error)) where error.code == .outcomeUnknown && publish.retries < 3:
            // The node could not confirm it: the same key makes sending it again safe.
            publish.retries += 1
            if case .connected(let link) = self.phase { self.send(publish, on: link) } else { self.sendQueue.insert(publish, at: 0) }
        case (.publish(let publish), .success(let reply)):
            publish.continuation.resume(returning: reply)
        case (.publish(let publish), .failure(let error)):
            publish.continuation.resume(throwing: RealtimeClientError.server(error))
        }
    }

    /// A subscribe reply: recovered publications first (without duplicates), then the cursor moves to the
    /// channel's position, after which live publications continue.
    private func subscribed(_ channel: String, since: StreamPosition?, _ result: ServerMessage.SubscribeResult) {
        guard var record = self.channels[channel] else { return }
        let current = StreamPosition(offset: result.offset, epoch: result.epoch)
        if since != nil, result.recovered == true {
            var delivered = 0
            for publication in result.publications ?? [] {
                if Self.deliver(publication, to: &record) { delivered += 1 }
            }
            record.sink.event(.recovered(count: delivered))
            record.cursor.resume(at: current)
        } else if since != nil {
            // PROTOCOL.md, recovery: "`recovered: false`: the gap cannot be filled … continue from the
            // reply's position".
            record.sink.event(.gap(lastDelivered: record.cursor.last, resumedAt: current))
            record.cursor.reset(to: current)
        } else {
            record.cursor.resume(at: current)
        }
        self.channels[channel] = record
    }

    private func deliver(_ publication: Publication) {
        guard var record = self.channels[publication.channel] else { return }
        _ = Self.deliver(publication, to: &record)
        self.channels[publication.channel] = record
    }

    /// True when delivered; false for a duplicate.
    private static func deliver(_ publication: Publication, to record: inout ChannelRecord) -> Bool {
        switch record.cursor.accept(publication) {
        case .deliver:
            record.sink.deliver(publication)
        case .deliverAfterGap(let lastDelivered):
            let before = StreamPosition(offset: publication.offset &- 1, epoch: publication.epoch)
            record.sink.event(.gap(lastDelivered: lastDelivered, resumedAt: before))
            record.sink.deliver(publication)
        case .duplicate:
            return false
        }
        return true
    }

    // MARK: - Commands on the wire

    private func send(_ publish: QueuedPublish, on link: Link) {
        var publish = publish
        publish.sent = true
        let id = self.register(.publish(publish), timeout: self.configuration.requestTimeout)
        link.send(ClientCommand(id: id, .publish(.init(channel: publish.channel, data: publish.data, idempotencyKey: publish.key))))
    }

    private func request(_ body: ClientCommand.Body, on link: Link) async throws -> ServerMessage.Reply {
        try await withCheckedThrowingContinuation { continuation in
            let id = self.register(.reply(continuation), timeout: self.configuration.requestTimeout)
            link.send(ClientCommand(id: id, body))
        }
    }

    /// Sends the channel's resubscription again after a jittered delay (up to twice the reconnect policy's
    /// base delay), from the position the app has reached by then, if still on the same connection.
    private func retrySubscribe(_ channel: String, generation: Int) {
        let delay = self.configuration.reconnect.delay(forAttempt: 2)  // as switchboard.js: up to twice the base
        Task {
            try? await Task.sleep(for: delay)
            await self.resubscribeIfStillWanted(channel, generation: generation)
        }
    }

    private func resubscribeIfStillWanted(_ channel: String, generation: Int) {
        guard generation == self.generation, case .connected(let link) = self.phase, let record = self.channels[channel] else { return }
        self.sendSubscribe(channel, since: record.cursor.last, waiter: nil, on: link)
    }

    private func sendSubscribe(_ channel: String, since: StreamPosition?, waiter: CheckedContinuation<Void, any Error>?, on link: Link) {
        let id = self.register(.subscribe(channel: channel, since: since, waiter: waiter), timeout: nil)
        link.send(ClientCommand(id: id, .subscribe(.init(channel: channel, since: since))))
    }

    private func register(_ kind: PendingKind, timeout: Duration?) -> UInt64 {
        let id = self.nextCommandID
        self.nextCommandID += 1
        let timer = timeout.map { timeout in
            Task {
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled else { return }
                self.timedOut(id)
            }
        }
        self.pending[id] = Pending(kind: kind, timer: timer)
        return id
    }

    private func timedOut(_ id: UInt64) {
        guard let entry = self.pending.removeValue(forKey: id) else { return }
        switch entry.kind {
        case .reply(let continuation):
            continuation.resume(throwing: RealtimeClientError.requestTimeout)
        case .publish(let publish):
            publish.continuation.resume(throwing: RealtimeClientError.requestTimeout)
        case .ping:
            self.connectionDead(generation: self.generation)
        case .connect:
            self.attemptFailed("no connect reply in time", generation: self.generation)
        case .subscribe, .refresh:
            break
        }
    }

    // MARK: - Heartbeat and token refresh

    private func startHeartbeat(generation: Int) {
        let interval = self.configuration.heartbeatInterval
        self.heartbeat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { return }
                self.heartbeatDue(generation: generation)
            }
        }
    }

    /// Quiet for a whole interval: ask the server (PROTOCOL.md, heartbeats: "reconnect if the reply does not
    /// come within a few seconds").
    private func heartbeatDue(generation: Int) {
        guard generation == self.generation, case .connected(let link) = self.phase else { return }
        guard ContinuousClock.now - self.lastHeard >= self.configuration.heartbeatInterval else { return }
        let alreadyPinging = self.pending.values.contains { if case .ping = $0.kind { true } else { false } }
        guard !alreadyPinging else { return }
        let id = self.register(.ping, timeout: self.configuration.heartbeatTimeout)
        link.send(ClientCommand(id: id, .ping))
    }

    private func scheduleRefresh(expires: Int?, generation: Int) {
        self.refreshTimer?.cancel()
        guard let expires else { return }
        let remaining = Duration.seconds(expires)
        let margin = self.configuration.tokenRefreshMargin
        let delay = remaining > margin * 2 ? remaining - margin : remaining / 2
        self.refreshTimer = Task {
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled else { return }
            self.refreshDue(generation: generation)
        }
    }

    private func refreshDue(generation: Int) {
        guard generation == self.generation, case .connected = self.phase else { return }
        let tokenProvider = self.configuration.tokenProvider
        Task {
            let token = try? await tokenProvider()
            self.sendRefresh(token, generation: generation)
        }
    }

    private func sendRefresh(_ token: String?, generation: Int) {
        guard let token, generation == self.generation, case .connected(let link) = self.phase else { return }
        let id = self.register(.refresh, timeout: self.configuration.requestTimeout)
        link.send(ClientCommand(id: id, .refresh(.init(token: token))))
    }

    private static func unexpected(_ reply: ServerMessage.Reply, to command: String) -> RealtimeClientError {
        RealtimeClientError.serverError.with(message: "the server answered \(command) with \(reply)")
    }
}
