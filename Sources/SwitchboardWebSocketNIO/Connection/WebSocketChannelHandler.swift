import Logging
import NIOCore
import SwitchboardWebSocket

/// Runs one WebSocket connection on its channel: the opening handshake, then the engine.
///
/// The only handler in the pipeline after TLS. Reads are fed to the engine in place; everything the engine
/// and the application write during one read batch goes out in one write and one flush. Reading pauses
/// while the socket is not writable (a peer that stops reading stops being read) or while the application
/// asks (inbound backpressure); a peer whose unread backlog passes the outbound limit is closed.
final class WebSocketChannelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Where the connection is in its life.
    enum Phase {
        /// Server: reading the client's upgrade request.
        case awaitingRequest(HTTPHeadParser)
        /// Client: our request is out; reading the server's response.
        case awaitingResponse(HTTPHeadParser, ClientHandshake, EventLoopPromise<Void>)
        /// Frames flow through ``engine``.
        case open
        /// The TCP connection is closed or closing; nothing more is processed.
        case closed
    }

    /// Who paused reading; reading resumes when nobody holds it.
    struct PauseReasons: OptionSet {
        let rawValue: UInt8
        static let unwritable = PauseReasons(rawValue: 1)
        static let application = PauseReasons(rawValue: 2)
    }

    private let settings: ConnectionSettings
    private var phase: Phase
    private var engine: WebSocketEngine?
    private var context: ChannelHandlerContext?
    private var delegate: (any WebSocketEventLoopHandler)?

    /// Bytes for the peer, written once per read batch (or at once outside a batch).
    private var output = ByteBuffer()
    private var inReadBatch = false
    /// Buffers queued with `context.write` but not flushed yet (large payloads sent without a copy).
    private var hasUnflushedWrites = false
    private var pauseReasons: PauseReasons = []
    private var readPending = false
    private var closeStatus: WebSocketCloseStatus?
    private var closeInitiatedLocally = false
    private var handshakeTimer: Scheduled<Void>?
    private var closeTimer: Scheduled<Void>?
    private var heartbeatSweeper: HeartbeatSweeper?
    /// Set by every read; the sweeper turns it into `silentSince` without reading a clock per read.
    private var heardFromPeer = false
    private var silentSince = NIODeadline.uptimeNanoseconds(0)
    /// When we pinged a silent peer (nil: no ping outstanding).
    private var pingSent: NIODeadline?
    private var writabilityWaiters: [EventLoopPromise<Void>] = []

    private(set) var subprotocol: String?
    private(set) var acceptedContext: (any Sendable)?
    private(set) var remoteAddress: SocketAddress?
    let eventLoop: any EventLoop

    /// A server-side handler: parses the upgrade request, asks the hook, answers, then runs the engine.
    init(server settings: ConnectionSettings, eventLoop: any EventLoop) {
        self.settings = settings
        self.phase = .awaitingRequest(HTTPHeadParser(kind: .request, maximumSize: settings.maximumHandshakeSize))
        self.eventLoop = eventLoop
    }

    /// A client-side handler: sends `handshake`'s request once the channel is active, validates the answer.
    init(client settings: ConnectionSettings, handshake: ClientHandshake, upgraded: EventLoopPromise<Void>,
         eventLoop: any EventLoop, delegate: any WebSocketEventLoopHandler) {
        self.settings = settings
        self.phase = .awaitingResponse(HTTPHeadParser(kind: .response, maximumSize: settings.maximumHandshakeSize), handshake, upgraded)
        self.eventLoop = eventLoop
        self.delegate = delegate
    }

    private var configuration: WebSocketConfiguration { self.settings.configuration }
    private var logger: Logger { self.settings.logger }
    private var registry: ConnectionRegistry? { self.settings.registry }

    var isWritable: Bool { self.context?.channel.isWritable ?? false }
    var isOpen: Bool { self.engine?.isOpen ?? false }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.registry?.add(context.channel)
        if context.channel.isActive { self.becameActive(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Normally channelInactive came first; this covers a handler removed from a live pipeline.
        self.cancelTimers()
        self.registry?.remove(context.channel)
    }

    func channelActive(context: ChannelHandlerContext) {
        self.becameActive(context: context)
        context.fireChannelActive()
    }

    private func becameActive(context: ChannelHandlerContext) {
        guard self.handshakeTimer == nil else { return }
        self.remoteAddress = context.channel.remoteAddress
        let timeout = self.settings.handshakeTimeout
        self.handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            self.handshakeTimedOut(after: timeout)
        }
        if case .awaitingResponse(_, let handshake, _) = self.phase {
            var request = context.channel.allocator.buffer(capacity: 512)
            handshake.write(into: &request)
            context.writeAndFlush(self.wrapOutboundOut(request), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = self.unwrapInboundIn(data)
        self.inReadBatch = true
        self.heardFromPeer = true
        switch self.phase {
        case .awaitingRequest(var parser):
            self.phase = .closed  // placeholder while the parser is mutated
            switch parser.parse(&input) {
            case .needMoreBytes:
                self.phase = .awaitingRequest(parser)
                return
            case .request(let request):
                guard self.acceptUpgrade(request, context: context) else { return }
            case .failure(let rejection):
                self.reject(rejection, context: context)
                return
            case .response:
                self.reject(.refused(status: 400, reason: "expected an HTTP request"), context: context)
                return
            }
        case .awaitingResponse(var parser, let handshake, let promise):
            self.phase = .closed
            switch parser.parse(&input) {
            case .needMoreBytes:
                self.phase = .awaitingResponse(parser, handshake, promise)
                return
            case .response(let response):
                switch handshake.validate(response) {
                case .success(let acceptance):
                    self.subprotocol = acceptance.subprotocol
                    self.open(deflate: acceptance.deflate, request: nil, context: context)
                    promise.succeed()
                case .failure(let error):
                    self.failHandshake(promise, .handshakeFailed(error.description), context: context)
                    return
                }
            case .failure(let rejection):
                self.failHandshake(promise, .handshakeFailed("malformed handshake response: \(rejection.reason)"), context: context)
                return
            case .request:
                self.failHandshake(promise, .handshakeFailed("expected an HTTP response"), context: context)
                return
            }
        case .open:
            break
        case .closed:
            return
        }
        self.processFrames(&input, context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.inReadBatch = false
        self.flushOutput(context: context)
        self.engine?.releaseIdleBuffers()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.setReadingPaused(false, by: .unwritable)
            let waiters = self.writabilityWaiters
            self.writabilityWaiters.removeAll()
            for waiter in waiters { waiter.succeed() }
        } else {
            self.setReadingPaused(true, by: .unwritable)
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if self.pauseReasons.isEmpty {
            context.read()
        } else {
            self.readPending = true
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let event = self.engine?.receivedEndOfStream()
        if case .awaitingResponse(_, _, let promise) = self.phase {
            promise.fail(WebSocketTransportError.handshakeFailed("the server closed the connection before completing the handshake"))
        }
        self.phase = .closed
        self.registry?.remove(context.channel)
        if case .close(let code, let reason)? = event, self.closeStatus == nil {
            self.closeStatus = WebSocketCloseStatus(code: code, reason: reason, initiatedLocally: self.closeInitiatedLocally)
        }
        self.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.logger.debug("WebSocket connection error", metadata: ["error": "\(error)", "peer": "\(self.remoteAddress.map { "\($0)" } ?? "?")"])
        if case .awaitingResponse(_, _, let promise) = self.phase {
            self.phase = .closed
            promise.fail(WebSocketTransportError.handshakeFailed("\(error)"))
        }
        if self.closeStatus == nil {
            self.closeStatus = WebSocketCloseStatus(code: .abnormalClosure, reason: "\(error)", initiatedLocally: false)
        }
        context.close(promise: nil)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let shutdown = event as? GracefulShutdownEvent {
            switch self.phase {
            case .open: self.initiateClose(code: shutdown.code, reason: shutdown.reason)
            case .awaitingRequest, .awaitingResponse: context.close(promise: nil)
            case .closed: break
            }
            promise?.succeed()
        } else {
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    // MARK: - Handshake

    /// Validates the request, asks the hook, writes the 101 and opens. Returns false when it rejected.
    private func acceptUpgrade(_ request: HandshakeRequest, context: ChannelHandlerContext) -> Bool {
        let acceptance: ServerHandshake.Acceptance
        switch ServerHandshake.accept(request, configuration: self.settings.serverHandshake!) {
        case .success(let accepted): acceptance = accepted
        case .failure(let rejection):
            self.reject(rejection, context: context)
            return false
        }
        let upgradeRequest = WebSocketUpgradeRequest(head: request, remoteAddress: context.channel.remoteAddress)
        var response = acceptance.response
        if let hook = self.settings.upgradeHook {
            switch hook(upgradeRequest).verdict {
            case .reject(let rejection):
                self.reject(rejection, context: context)
                return false
            case .accept(let headers, let acceptedContext):
                for (name, value) in headers { response.headers.add(name: name, value: value) }
                self.acceptedContext = acceptedContext
            }
        }
        self.subprotocol = acceptance.subprotocol
        response.write(into: &self.output)
        // The request goes to the handler's factory and is not kept here: its headers would be memory
        // every idle connection holds.
        self.open(deflate: acceptance.deflate, request: upgradeRequest, context: context)
        return true
    }

    private func reject(_ rejection: HandshakeRejection, context: ChannelHandlerContext) {
        self.logger.debug("WebSocket handshake rejected", metadata: ["status": "\(rejection.status)", "reason": "\(rejection.reason)"])
        self.phase = .closed
        self.cancelTimers()
        var response = context.channel.allocator.buffer(capacity: 256)
        rejection.write(into: &response)
        self.output.clear()
        context.writeAndFlush(self.wrapOutboundOut(response)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func failHandshake(_ promise: EventLoopPromise<Void>, _ error: WebSocketTransportError, context: ChannelHandlerContext) {
        self.phase = .closed
        self.cancelTimers()
        promise.fail(error)
        context.close(promise: nil)
    }

    private func handshakeTimedOut(after timeout: TimeAmount) {
        self.handshakeTimer = nil
        switch self.phase {
        case .awaitingRequest:
            // A client that never completes its request (slowloris) is dropped without an answer.
            self.phase = .closed
            self.context?.close(promise: nil)
        case .awaitingResponse(_, _, let promise):
            self.phase = .closed
            promise.fail(WebSocketTransportError.handshakeTimedOut(timeout))
            self.context?.close(promise: nil)
        case .open, .closed:
            break
        }
    }

    private func open(deflate: PerMessageDeflateParameters?, request: WebSocketUpgradeRequest?, context: ChannelHandlerContext) {
        self.handshakeTimer?.cancel()
        self.handshakeTimer = nil
        self.engine = WebSocketEngine(role: self.settings.role, limits: self.configuration.limits, deflate: deflate,
                                      deflateConfiguration: self.configuration.deflate ?? PerMessageDeflateConfiguration(),
                                      maskingKeySource: self.settings.role == .client ? SystemMaskingKeySource() : nil)
        self.phase = .open
        self.startHeartbeat(context: context)
        if let makeDelegate = self.settings.makeDelegate {
            self.delegate = makeDelegate(request, context.eventLoop)
        }
        self.delegate?.webSocketDidOpen(WebSocketEventLoopConnection(handler: self))
        if !self.inReadBatch { self.flushOutput(context: context) }
    }

    // MARK: - Frames

    private func processFrames(_ input: inout ByteBuffer, context: ChannelHandlerContext) {
        if self.output.capacity == 0 {
            // Replies to a batch (echoes, pongs) are usually about the size of what arrived: size the
            // batch's single output buffer once instead of letting it double its way up.
            self.output = context.channel.allocator.buffer(capacity: min(max(input.readableBytes, 256), 64 << 10))
        }
        while case .open = self.phase {
            switch self.engine!.receive(&input, output: &self.output) {
            case .needMoreBytes:
                return
            case .deliver(let event):
                self.handle(event)
            case .startCloseTimer:
                self.startCloseTimer(context: context)
            case .closeTransport:
                self.closeTransport(context: context)
                return
            }
        }
    }

    private func handle(_ event: WebSocketEvent) {
        switch event {
        case .text(let data):
            self.delegate?.webSocket(WebSocketEventLoopConnection(handler: self), didReceive: WebSocketMessage(kind: .text, data: data))
        case .binary(let data):
            self.delegate?.webSocket(WebSocketEventLoopConnection(handler: self), didReceive: WebSocketMessage(kind: .binary, data: data))
        case .ping:
            break  // the engine has written the pong
        case .pong(let data):
            self.delegate?.webSocket(WebSocketEventLoopConnection(handler: self), didReceivePong: data)
        case .close(let code, let reason):
            if self.closeStatus == nil {
                self.closeStatus = WebSocketCloseStatus(code: code, reason: reason, initiatedLocally: self.closeInitiatedLocally)
            }
        case .protocolViolation(let code, let reason):
            self.logger.debug("WebSocket peer broke the protocol", metadata: ["code": "\(code)", "reason": "\(reason)"])
            if self.closeStatus == nil {
                self.closeStatus = WebSocketCloseStatus(code: code, reason: reason, initiatedLocally: true)
            }
        }
    }

    // MARK: - Sending

    func send(_ message: WebSocketMessage) throws {
        guard case .open = self.phase, let context else { throw WebSocketTransportError.connectionClosed }
        try self.checkOutboundBudget(adding: message.data.readableBytes, context: context)
        do {
            if message.data.readableBytes >= Self.zeroCopyThreshold,
               try self.engine!.sendHeader(message.opcode, payload: message.data, output: &self.output) {
                // Large and unchanged on the wire: queue the header and the payload as they are; the
                // flush writes them with one writev, and the payload is never copied.
                context.write(self.wrapOutboundOut(self.output), promise: nil)
                context.write(self.wrapOutboundOut(message.data), promise: nil)
                self.output = ByteBuffer()
                self.hasUnflushedWrites = true
            } else {
                try self.engine!.send(message.opcode, payload: message.data, output: &self.output)
            }
        } catch {
            throw WebSocketTransportError.connectionClosed
        }
        if !self.inReadBatch { self.flushOutput(context: context) }
    }

    func sendPing(_ data: ByteBuffer) throws {
        guard case .open = self.phase, let context else { throw WebSocketTransportError.connectionClosed }
        do {
            try self.engine!.ping(data, output: &self.output)
        } catch {
            throw WebSocketTransportError.connectionClosed
        }
        if !self.inReadBatch { self.flushOutput(context: context) }
    }

    /// A future that completes when the socket is writable again (immediately if it is).
    func waitUntilWritable() -> EventLoopFuture<Void> {
        guard case .open = self.phase, let context else { return self.eventLoop.makeFailedFuture(WebSocketTransportError.connectionClosed) }
        if context.channel.isWritable { return self.eventLoop.makeSucceededVoidFuture() }
        let promise = self.eventLoop.makePromise(of: Void.self)
        self.writabilityWaiters.append(promise)
        return promise.futureResult
    }

    /// Closes a peer whose unread backlog would pass the configured limit (it has stopped reading).
    private func checkOutboundBudget(adding count: Int, context: ChannelHandlerContext) throws {
        guard !context.channel.isWritable else { return }
        let buffered = (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        if buffered + self.output.readableBytes + count > self.configuration.maximumOutboundBufferSize {
            self.logger.info("Closing a WebSocket peer that stopped reading", metadata: ["buffered": "\(buffered)"])
            self.closeStatus = WebSocketCloseStatus(code: .policyViolation, reason: "peer stopped reading", initiatedLocally: true)
            self.closeTransport(context: context)
            throw WebSocketTransportError.outboundBufferFull
        }
    }

    func initiateClose(code: CloseCode, reason: String) {
        guard case .open = self.phase, let context else { return }
        self.closeInitiatedLocally = true
        let action: WebSocketAction?
        do {
            action = try self.engine!.close(code: code, reason: reason, output: &self.output)
        } catch {
            // An unsendable code or an over-long reason from the caller: close normally instead.
            action = try? self.engine!.close(code: .normalClosure, reason: "", output: &self.output)
        }
        if action == .startCloseTimer { self.startCloseTimer(context: context) }
        if !self.inReadBatch { self.flushOutput(context: context) }
    }

    /// Below this a payload is copied into the batch's output buffer (one small write beats two).
    private static let zeroCopyThreshold = 8 << 10

    private func flushOutput(context: ChannelHandlerContext) {
        if self.output.readableBytes > 0 {
            // Hand the buffer over whole; the next batch starts a fresh one, so a quiet connection holds none.
            context.write(self.wrapOutboundOut(self.output), promise: nil)
            self.output = ByteBuffer()
        } else if !self.hasUnflushedWrites {
            return
        }
        self.hasUnflushedWrites = false
        context.flush()
    }

    // MARK: - Reading control

    func setReadingPaused(_ paused: Bool, by reason: PauseReasons) {
        if paused {
            self.pauseReasons.insert(reason)
        } else {
            self.pauseReasons.remove(reason)
            if self.pauseReasons.isEmpty && self.readPending, let context {
                self.readPending = false
                context.read()
            }
        }
    }

    // MARK: - Timers and closing

    private func startHeartbeat(context: ChannelHandlerContext) {
        guard let heartbeat = self.configuration.heartbeat else { return }
        self.heardFromPeer = false
        self.silentSince = .now()
        self.heartbeatSweeper = HeartbeatSweeper.on(context.eventLoop, heartbeat: heartbeat)
        self.heartbeatSweeper!.add(self)
    }

    /// Called by the loop's ``HeartbeatSweeper``: a peer silent for `interval` gets a ping; one still
    /// silent `timeout` after it is gone.
    func heartbeatSweep(now: NIODeadline, heartbeat: WebSocketConfiguration.Heartbeat) {
        guard case .open = self.phase, let context else { return }
        if self.heardFromPeer {
            self.heardFromPeer = false
            self.silentSince = now
            self.pingSent = nil
            return
        }
        if let pingSent = self.pingSent {
            guard now - pingSent >= heartbeat.timeout else { return }
            self.logger.debug("WebSocket peer missed its heartbeat deadline", metadata: ["peer": "\(self.remoteAddress.map { "\($0)" } ?? "?")"])
            if self.closeStatus == nil {
                self.closeStatus = WebSocketCloseStatus(code: .abnormalClosure, reason: "no answer to ping within \(heartbeat.timeout)", initiatedLocally: true)
            }
            self.closeTransport(context: context)
        } else if now - self.silentSince >= heartbeat.interval {
            try? self.sendPing(ByteBuffer())
            self.pingSent = now
        }
    }

    private func startCloseTimer(context: ChannelHandlerContext) {
        guard self.closeTimer == nil else { return }
        self.closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: self.configuration.closeTimeout) { [self] in
            self.closeTimer = nil
            guard let context = self.context, self.engine != nil else { return }
            if self.engine!.closeTimerFired() == .closeTransport { self.closeTransport(context: context) }
        }
    }

    /// Writes what is pending (the close frame, usually), then closes TCP once it is out: closing with
    /// writes still queued would discard them.
    private func closeTransport(context: ChannelHandlerContext) {
        guard case .open = self.phase else { return }
        self.phase = .closed
        guard self.output.readableBytes > 0 || self.hasUnflushedWrites else {
            context.close(promise: nil)
            return
        }
        // Writes complete in order: when this last one is out, so is everything queued before it.
        let bytes = self.output
        self.output = ByteBuffer()
        self.hasUnflushedWrites = false
        context.writeAndFlush(self.wrapOutboundOut(bytes)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func cancelTimers() {
        self.handshakeTimer?.cancel()
        self.handshakeTimer = nil
        self.closeTimer?.cancel()
        self.closeTimer = nil
        self.heartbeatSweeper?.remove(self)
        self.heartbeatSweeper = nil
    }

    /// The connection is gone: report once, then let go of everything that could hold memory or a cycle.
    private func finish() {
        self.cancelTimers()
        let waiters = self.writabilityWaiters
        self.writabilityWaiters.removeAll()
        for waiter in waiters { waiter.fail(WebSocketTransportError.connectionClosed) }
        if let delegate = self.delegate {
            self.delegate = nil
            let status = self.closeStatus ?? WebSocketCloseStatus(code: .abnormalClosure, reason: "", initiatedLocally: self.closeInitiatedLocally)
            delegate.webSocketDidClose(WebSocketEventLoopConnection(handler: self), status: status)
        }
        self.engine = nil
        self.context = nil
    }
}

/// Sent down a connection's pipeline to start a graceful close (server shutdown).
struct GracefulShutdownEvent: Sendable {
    var code: CloseCode
    var reason: String
}
