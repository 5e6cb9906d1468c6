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
    /// Only for a connection handed over to HTTP: the requests' bytes, passed to the HTTP handlers.
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Where the connection is in its life.
    ///
    /// The handshake cases are `indirect`: their parsers would otherwise size the enum, inline in every
    /// connection's handler, at some 240 bytes for the whole life of a connection that only needs a tag.
    enum Phase {
        /// Server: reading the client's upgrade request. `earlierReads` keeps the reads of a head still
        /// incomplete, only when an HTTP handover may need them (it gets every byte of a plain HTTP request).
        indirect case awaitingRequest(HTTPHeadParser, earlierReads: ByteBuffer)
        /// Client: our request is out; reading the server's response.
        indirect case awaitingResponse(HTTPHeadParser, ClientHandshake, EventLoopPromise<Void>)
        /// Client: the server refused the upgrade; reading its response body for the error to quote.
        indirect case readingRefusal(HandshakeRefusalBody, EventLoopPromise<Void>)
        /// Frames flow through ``engine``.
        case open
        /// The TCP connection is closed or closing; nothing more is processed.
        case closed
        /// Server: the connection serves plain HTTP through the handover's handlers behind this one, which
        /// follows the requests to find an upgrade on any of them.
        case servingHTTP(HTTPServing)
        /// Server: a request switches protocols; what arrived from it on is held (reading paused) while the
        /// HTTP side finishes its responses and leaves. Then the request is upgraded, or the connection closes.
        case releasingHTTP(held: ByteBuffer, upgrade: Bool)
    }

    /// Who paused reading; reading resumes when nobody holds it.
    struct PauseReasons: OptionSet {
        let rawValue: UInt8
        static let unwritable = PauseReasons(rawValue: 1)
        static let application = PauseReasons(rawValue: 2)
        static let httpRelease = PauseReasons(rawValue: 4)
    }

    let settings: ConnectionSettings
    var phase: Phase
    var engine: WebSocketEngine?
    /// The channel's pipeline context, or the epoll socket; nil once the connection is over.
    var io: ConnectionIO?
    var delegate: (any WebSocketEventLoopHandler)?

    /// Bytes for the peer, written once per read batch (or at once outside a batch).
    var output = ByteBuffer()
    var inReadBatch = false
    /// The loop's ``FlushCoalescer``, looked up once the connection opens (the lookup takes a lock).
    var flushCoalescer: FlushCoalescer?
    /// Waiting for the coalescer's flush at the end of the event-loop turn.
    var flushScheduled = false
    /// How many bytes the last turn's output held: a busy connection's next output buffer starts at that
    /// size instead of doubling its way up from one frame each turn.
    var lastOutputSize: UInt32 = 0
    /// Buffers queued with `context.write` but not flushed yet (large payloads sent without a copy).
    var hasUnflushedWrites = false
    var pauseReasons: PauseReasons = []
    var readPending = false
    var closeStatus: WebSocketCloseStatus?
    var closeInitiatedLocally = false
    var handshakeTimer: Scheduled<Void>?
    var closeTimer: Scheduled<Void>?
    var heartbeatSweeper: HeartbeatSweeper?
    /// Set by every read; the sweeper turns it into `silentSince` without reading a clock per read.
    var heardFromPeer = false
    var silentSince = NIODeadline.uptimeNanoseconds(0)
    /// When we pinged a silent peer (nil: no ping outstanding).
    var pingSent: NIODeadline?
    /// The uptime second of the peer's latest pings, and how many arrived in it (`maximumPingsPerSecond`).
    var pingSecond: UInt32 = 0
    var pingsInSecond: UInt16 = 0
    var writabilityWaiters: [EventLoopPromise<Void>] = []

    var subprotocol: String?
    var acceptedContext: (any Sendable)?
    let eventLoop: any EventLoop

    /// A server-side handler: parses the upgrade request, asks the hook, answers, then runs the engine.
    init(server settings: ConnectionSettings, eventLoop: any EventLoop) {
        self.settings = settings
        self.phase = .awaitingRequest(HTTPHeadParser(kind: .request, maximumSize: settings.maximumHandshakeSize), earlierReads: ByteBuffer())
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

    var configuration: WebSocketConfiguration { self.settings.configuration }
    var logger: Logger { self.settings.logger }
    var registry: ConnectionRegistry? { self.settings.registry }

    var isWritable: Bool { self.io?.isWritable ?? false }
    var isOpen: Bool { self.engine?.isOpen ?? false }
    /// Asked of the transport when needed (logs, the upgrade request): kept, it would be memory on every
    /// idle connection.
    var remoteAddress: SocketAddress? { self.io?.remoteAddress }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.io = .channel(context)
        self.registry?.add(.channel(context.channel))
        if context.channel.isActive { self.becameActive() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Normally channelInactive came first; this covers a handler removed from a live pipeline.
        self.cancelTimers()
        self.registry?.remove(.channel(context.channel))
    }

    func channelActive(context: ChannelHandlerContext) {
        self.becameActive()
        context.fireChannelActive()
    }

    func becameActive() {
        guard self.handshakeTimer == nil, let io = self.io else { return }
        let timeout = self.settings.handshakeTimeout
        // A client has what is left of its connect timeout; a server's timeout starts with the connection.
        let deadline = self.settings.connectDeadline ?? self.eventLoop.now + timeout
        self.handshakeTimer = self.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            self.handshakeTimedOut(after: timeout)
        }
        if case .awaitingResponse(_, let handshake, _) = self.phase {
            var request = io.allocator.buffer(capacity: 512)
            handshake.write(into: &request)
            io.write(request)
            io.flush()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = self.unwrapInboundIn(data)
        self.readArrived(&input)
    }

    func readArrived(_ input: inout ByteBuffer) {
        self.inReadBatch = true
        self.heardFromPeer = true
        self.receive(&input)
    }

    func receive(_ input: inout ByteBuffer) {
        switch self.phase {
        case .awaitingRequest(var parser, var earlierReads):
            self.phase = .closed  // placeholder while the parser is mutated
            let read = input  // shares the storage: parsing only moves the copy's reader index
            switch parser.parse(&input) {
            case .needMoreBytes:
                if self.settings.httpHandover != nil { Self.keep(read, in: &earlierReads) }
                self.phase = .awaitingRequest(parser, earlierReads: earlierReads)
                return
            case .request(let request):
                if let handover = self.settings.httpHandover, !request.asksForWebSocketUpgrade {
                    Self.keep(read.getSlice(at: read.readerIndex, length: input.readerIndex - read.readerIndex)!, in: &earlierReads)
                    #if os(Linux)
                    if case .socket(let socket) = self.io {
                        earlierReads.writeBuffer(&input)
                        return self.moveToNIO(socket, received: earlierReads)
                    }
                    #endif
                    self.handOver(to: handover, request: request, head: earlierReads, following: &input)
                    return
                }
                guard self.acceptUpgrade(request) else { return }
            case .failure(let rejection):
                self.reject(rejection)
                return
            case .response:
                self.reject(.refused(status: 400, reason: "expected an HTTP request"))
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
                    self.open(deflate: acceptance.deflate, request: nil)
                    promise.succeed()
                case .failure(let error) where error.kind == .unexpectedStatus:
                    guard let body = HandshakeRefusalBody(refusal: error.description, response: response) else {
                        self.failHandshake(promise, .handshakeRefused(error.description, status: response.status,
                                                                       retryAfter: HandshakeRefusalBody.retryAfter(response)))
                        return
                    }
                    self.readRefusal(body, &input, promise)
                    return
                case .failure(let error):
                    self.failHandshake(promise, .handshakeFailed(error.description))
                    return
                }
            case .failure(let rejection):
                self.failHandshake(promise, .handshakeFailed("malformed handshake response: \(rejection.reason)"))
                return
            case .request:
                self.failHandshake(promise, .handshakeFailed("expected an HTTP response"))
                return
            }
        case .readingRefusal(let body, let promise):
            self.readRefusal(body, &input, promise)
            return
        case .open:
            break
        case .servingHTTP:
            self.serveHTTP(&input)
            return
        case .releasingHTTP(var held, let upgrade):
            held.writeBuffer(&input)
            self.phase = .releasingHTTP(held: held, upgrade: upgrade)
            return
        case .closed:
            return
        }
        self.processFrames(&input)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.readBatchComplete()
        context.fireChannelReadComplete()
    }

    func readBatchComplete() {
        self.inReadBatch = false
        self.flushOutput()
        self.engine?.releaseIdleBuffers()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.writabilityChanged(isWritable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func writabilityChanged(isWritable: Bool) {
        if isWritable {
            self.setReadingPaused(false, by: .unwritable)
            let waiters = self.writabilityWaiters
            self.writabilityWaiters.removeAll()
            for waiter in waiters { waiter.succeed() }
        } else {
            self.setReadingPaused(true, by: .unwritable)
        }
    }

    func read(context: ChannelHandlerContext) {
        if self.pauseReasons.isEmpty {
            context.read()
        } else {
            self.readPending = true
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.transportClosed()
        context.fireChannelInactive()
    }

    /// The TCP connection is gone: settle what waits on it, report the close once, let go of everything.
    func transportClosed() {
        let event = self.engine?.receivedEndOfStream()
        switch self.phase {
        case .awaitingResponse(_, _, let promise):
            promise.fail(WebSocketTransportError.handshakeFailed("the server closed the connection before completing the handshake"))
        case .readingRefusal(let body, let promise):
            // A body without Content-Length ends here.
            promise.fail(body.error)
        case .awaitingRequest, .open, .closed, .servingHTTP, .releasingHTTP:
            break
        }
        self.phase = .closed
        if let registration = self.io?.registration { self.registry?.remove(registration) }
        if case .close(let code, let reason)? = event, self.closeStatus == nil {
            self.closeStatus = WebSocketCloseStatus(code: code, reason: reason, initiatedLocally: self.closeInitiatedLocally)
        }
        self.finish()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .servingHTTP = self.phase {
            context.fireErrorCaught(error)  // the HTTP handlers' to answer
            return
        }
        self.logger.debug("WebSocket connection error", metadata: ["error": "\(error)", "peer": "\(self.remoteAddress.map { "\($0)" } ?? "?")"])
        switch self.phase {
        case .awaitingResponse(_, _, let promise):
            self.phase = .closed
            promise.fail(WebSocketTransportError.handshakeFailed("\(error)"))
        case .readingRefusal(let body, let promise):
            self.phase = .closed
            promise.fail(body.error)
        case .awaitingRequest, .open, .closed, .servingHTTP, .releasingHTTP:
            break
        }
        if self.closeStatus == nil {
            self.closeStatus = WebSocketCloseStatus(code: .abnormalClosure, reason: "\(error)", initiatedLocally: false)
        }
        context.close(promise: nil)
    }

    /// Bytes still waiting for the end of the turn (the last pushes, a close frame) go out before the socket
    /// closes, whoever closes it: the coalescer's flush would come after the close.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all, case .open = self.phase { self.flushOutput() }
        context.close(mode: mode, promise: promise)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let shutdown = event as? GracefulShutdownEvent {
            self.shutDown(shutdown)
            promise?.succeed()
        } else {
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    /// The server is shutting down: an open connection starts its close handshake, one still opening closes.
    func shutDown(_ shutdown: GracefulShutdownEvent) {
        switch self.phase {
        case .open: self.initiateClose(code: shutdown.code, reason: shutdown.reason)
        case .awaitingRequest, .awaitingResponse, .readingRefusal, .releasingHTTP: self.io?.close()
        case .servingHTTP, .closed: break  // the HTTP side closes on ChannelShouldQuiesceEvent
        }
    }

    // MARK: - Frames

    func processFrames(_ input: inout ByteBuffer) {
        if self.output.capacity == 0, let io = self.io {
            // Replies to a batch (echoes, pongs) are usually about the size of what arrived: size the
            // batch's single output buffer once instead of letting it double its way up.
            self.output = io.allocator.buffer(capacity: min(max(input.readableBytes, 256), 64 << 10))
        }
        defer { self.delegate?.webSocketDidFinishReading(WebSocketEventLoopConnection(handler: self)) }
        while case .open = self.phase {
            switch self.engine!.receive(&input, output: &self.output) {
            case .needMoreBytes:
                return
            case .deliver(let event):
                self.handle(event)
            case .startCloseTimer:
                self.startCloseTimer()
            case .closeTransport:
                self.closeTransport()
                return
            }
        }
    }

    func handle(_ event: WebSocketEvent) {
        switch event {
        case .text(let data):
            self.delegate?.webSocket(WebSocketEventLoopConnection(handler: self), didReceive: WebSocketMessage(kind: .text, data: data))
        case .binary(let data):
            self.delegate?.webSocket(WebSocketEventLoopConnection(handler: self), didReceive: WebSocketMessage(kind: .binary, data: data))
        case .ping:
            // The engine has written the pong.
            if let limit = self.configuration.maximumPingsPerSecond { self.countPing(limit: limit) }
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

}

/// Sent down a connection's pipeline to start a graceful close (server shutdown).
struct GracefulShutdownEvent: Sendable {
    var code: CloseCode
    var reason: String
}
