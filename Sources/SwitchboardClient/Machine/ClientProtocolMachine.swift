import SwitchboardProtocol
import SwitchboardWebSocket

/// The client side of the protocol as a pure machine: facts in (``Input``), actions out (``Output``).
///
/// Connecting, backoff, heartbeats, token refresh, the send queue, resubscription from the last position,
/// deduplication and gap detection all live here, with no clock, socket, task or random source of its own:
/// timers are outputs the driver arms and inputs when they fire, randomness is the `random` function it is
/// given (a unit in `[0, 1)`). ``ClientEngine`` carries the outputs out; the transcripts under
/// Tests/Transcripts/client hold it to its behaviour, input by input.
struct ClientProtocolMachine {
    struct Settings: Sendable {
        var reconnect: ReconnectPolicy
        var sendQueueLimit: Int
        var heartbeatInterval: Duration
        var heartbeatTimeout: Duration
        var requestTimeout: Duration
        var tokenRefreshMargin: Duration
        var clientName: String?
        /// In order of preference; the next is tried when one cannot be opened.
        var transports: [TransportKind] = [.webSocket]

        init(_ configuration: RealtimeClientConfiguration) {
            self.reconnect = configuration.reconnect
            self.sendQueueLimit = configuration.sendQueueLimit
            self.heartbeatInterval = configuration.heartbeatInterval
            self.heartbeatTimeout = configuration.heartbeatTimeout
            self.requestTimeout = configuration.requestTimeout
            self.tokenRefreshMargin = configuration.tokenRefreshMargin
            self.clientName = configuration.clientName
            self.transports = configuration.transports.map { $0 == .webSocket ? TransportKind.webSocket : .sse }
        }
    }

    enum Phase: Equatable {
        /// Never connected since creation.
        case idle
        /// Attempt `attempt` (0: the first after `connect`, n ≥ 1: the n-th reconnect) opens a transport.
        case opening(attempt: Int, TransportKind)
        /// The transport is open and the `connect` command sent.
        case authenticating(attempt: Int, TransportKind)
        case connected
        /// Waiting out the backoff before reconnect attempt `attempt`.
        case waiting(attempt: Int)
        /// Stopped: by `disconnect`, a 4500–4999 code, a refused token, or too many attempts.
        case disconnected(DisconnectReason)
    }

    enum Pending: Equatable {
        case connect
        case subscribe(channel: String, since: StreamPosition?, waiter: RequestID?)
        case unsubscribe(RequestID)
        case refresh
        case ping
        case request(RequestID)
        case publish(QueuedPublish)

        /// Every command but `subscribe` has a reply timeout (a recovery may take long; its absence is
        /// noticed by the heartbeat).
        var hasTimeout: Bool { if case .subscribe = self { false } else { true } }
    }

    /// A publication on its way: its idempotency key makes sending it again after a lost answer safe.
    struct QueuedPublish: Equatable {
        let request: RequestID
        let channel: String
        let data: RawJSON
        let key: String
        /// It went out at least once, so it may have been published.
        var sent = false
        /// Resent after the node could not confirm it (203).
        var retries = 0
    }

    // The machine's state: read and changed only by its own extensions (this file and ClientProtocolMachine+*).
    let settings: Settings
    let random: () -> Double
    var phase = Phase.idle
    /// The current attempt's number; facts about older ones are ignored.
    var generation = 0
    var nextCommandID: UInt64 = 1
    var pending: [UInt64: Pending] = [:]
    /// The channels the application is subscribed to, and what it has been given of each.
    var cursors: [String: StreamCursor] = [:]
    var sendQueue: [QueuedPublish] = []
    /// The `disconnect` push that preceded the close, if any: its code and delay hint decide what follows.
    var lastDisconnect: ServerMessage.Disconnect?
    /// Something arrived since the heartbeat timer was last armed.
    var heard = false
    var resubscribeTimers: Set<String> = []
    /// SSE worked where a WebSocket did not: attempts start with it (as long as it keeps working).
    var prefersSSE = false
    /// Channels with a subscribe in flight, and the live publications that came before its reply: over SSE
    /// the reply comes on another HTTP connection and can be overtaken. They are delivered after it.
    var held: [String: [Publication]] = [:]
    var outputs: [Output] = []

    /// - Parameter random: a uniformly random number in `[0, 1)` each call: the backoff's jitter.
    init(settings: Settings, random: @escaping () -> Double) {
        self.settings = settings
        self.random = random
    }

    /// Publications waiting for a connection.
    var queuedPublishCount: Int { self.sendQueue.count }

    /// Takes in one fact and returns what to do about it, in order.
    mutating func handle(_ input: Input) -> [Output] {
        self.outputs = []
        switch input {
        case .connect: self.connect()
        case .disconnect: self.disconnect()
        case .publish(let request, let channel, let data, let key): self.publish(request, channel: channel, data: data, key: key)
        case .subscribe(let request, let channel, let since): self.subscribe(request, channel: channel, since: since)
        case .unsubscribe(let request, let channel): self.unsubscribe(request, channel: channel)
        case .request(let request, let body): self.request(request, body)
        case .transportOpened(let generation, let token): self.transportOpened(generation: generation, token: token)
        case .transportFailed(let generation, let reason, let retryAfter):
            self.transportFailed(generation: generation, reason: reason, retryAfter: retryAfter)
        case .received(let generation, let message):
            guard generation == self.generation else { break }
            self.received(message)
        case .transportClosed(let generation, let code, let reason):
            self.transportClosed(generation: generation, code: code, reason: reason)
        case .timerFired(let timer): self.timerFired(timer)
        case .refreshToken(let generation, let token): self.refreshToken(generation: generation, token)
        }
        return self.outputs
    }

    mutating func emit(_ output: Output) {
        self.outputs.append(output)
    }

    // MARK: - The application's calls

    private mutating func connect() {
        switch self.phase {
        case .connected:
            self.emit(.settleConnect(.success(())))
        case .idle, .disconnected:
            self.emit(.state(.connecting))
            self.startAttempt(0)
        case .opening, .authenticating, .waiting:
            break  // the caller waits for the attempt under way
        }
    }

    private mutating func disconnect() {
        if case .disconnected = self.phase { return }
        self.stop(.requested, closeCode: .normalClosure)
    }

    private mutating func publish(_ request: RequestID, channel: String, data: RawJSON, key: String) {
        let publish = QueuedPublish(request: request, channel: channel, data: data, key: key)
        switch self.phase {
        case .connected:
            self.send(publish)
        case .disconnected(let reason):
            // Stopped for good: waiting would wait for a `connect` nobody may make.
            self.emit(.settle(request, .failure(.disconnected.with(message: "disconnected: \(reason)"))))
        case .idle, .opening, .authenticating, .waiting:
            // While not connected, publications wait (bounded) and go out in order after the next connect.
            guard self.sendQueue.count < self.settings.sendQueueLimit else {
                let message = "the send queue is full (\(self.settings.sendQueueLimit) publications wait for a connection)"
                return self.emit(.settle(request, .failure(.sendQueueFull.with(message: message))))
            }
            self.sendQueue.append(publish)
        }
    }

    private mutating func subscribe(_ request: RequestID, channel: String, since: StreamPosition?) {
        guard self.cursors[channel] == nil else {
            return self.emit(.settle(request, .failure(.alreadySubscribed.with(message: "already subscribed to \(channel)"))))
        }
        self.cursors[channel] = StreamCursor(last: since)
        if self.phase == .connected {
            self.sendSubscribe(channel, since: since, waiter: request)
        } else {
            // The subscribe goes out with the next connect; a refusal then ends the subscription.
            self.emit(.settle(request, .success(nil)))
        }
    }

    private mutating func unsubscribe(_ request: RequestID, channel: String) {
        guard self.cursors.removeValue(forKey: channel) != nil else { return self.emit(.settle(request, .success(nil))) }
        self.held.removeValue(forKey: channel)
        self.emit(.deliver(channel: channel, .finished(nil)))
        if self.resubscribeTimers.remove(channel) != nil { self.emit(.cancel(.resubscribe(channel))) }
        guard self.phase == .connected else { return self.emit(.settle(request, .success(nil))) }
        let id = self.register(.unsubscribe(request))
        self.emit(.send(ClientCommand(id: id, .unsubscribe(.init(channel: channel)))))
    }

    private mutating func request(_ request: RequestID, _ body: ClientCommand.Body) {
        guard self.phase == .connected else { return self.emit(.settle(request, .failure(.notConnected))) }
        let id = self.register(.request(request))
        self.emit(.send(ClientCommand(id: id, body)))
    }

    // MARK: - Commands on the wire

    mutating func send(_ publish: QueuedPublish) {
        var publish = publish
        publish.sent = true
        let id = self.register(.publish(publish))
        self.emit(.send(ClientCommand(id: id, .publish(.init(channel: publish.channel, data: publish.data, idempotencyKey: publish.key)))))
    }

    mutating func sendSubscribe(_ channel: String, since: StreamPosition?, waiter: RequestID?) {
        self.held[channel] = []
        let id = self.register(.subscribe(channel: channel, since: since, waiter: waiter))
        self.emit(.send(ClientCommand(id: id, .subscribe(.init(channel: channel, since: since)))))
    }

    mutating func sendPing() {
        let id = self.register(.ping, timeout: self.settings.heartbeatTimeout)
        self.emit(.send(ClientCommand(id: id, .ping)))
    }

    mutating func sendConnect(token: String?) {
        let id = self.register(.connect)
        self.emit(.send(ClientCommand(id: id, .connect(.init(token: token, name: self.settings.clientName)))))
    }

    mutating func sendRefresh(token: String) {
        let id = self.register(.refresh)
        self.emit(.send(ClientCommand(id: id, .refresh(.init(token: token)))))
    }

    /// Numbers a command, remembers what it was for, and arms its reply timeout (the request timeout unless
    /// `timeout` says otherwise).
    private mutating func register(_ kind: Pending, timeout: Duration? = nil) -> UInt64 {
        let id = self.nextCommandID
        self.nextCommandID += 1
        self.pending[id] = kind
        if kind.hasTimeout { self.emit(.arm(.reply(id), after: timeout ?? self.settings.requestTimeout)) }
        return id
    }

    /// The pending command `id`, forgotten (its timer cancelled); nil when it is not pending.
    mutating func takePending(_ id: UInt64) -> Pending? {
        guard let kind = self.pending.removeValue(forKey: id) else { return nil }
        if kind.hasTimeout { self.emit(.cancel(.reply(id))) }
        return kind
    }

    /// Every pending command, oldest first, forgotten.
    mutating func takeAllPending() -> [Pending] {
        self.pending.keys.sorted().compactMap { self.takePending($0) }
    }

    var isPinging: Bool { self.pending.values.contains(.ping) }

    /// A uniformly random number in `[0, 1]`, whatever the source gives.
    func drawUnit() -> Double { min(max(self.random(), 0), 1) }
}
