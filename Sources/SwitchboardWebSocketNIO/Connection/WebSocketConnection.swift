import NIOCore
import SwitchboardWebSocket

/// One WebSocket connection with an `async` API: inbound messages as an `AsyncSequence`, sends that wait
/// while the peer is slow (backpressure both ways).
///
/// ```swift
/// for await message in connection.inbound {
///     try await connection.send(message)   // echo
/// }
/// ```
/// Reading pauses when ``inbound`` is not consumed (the socket is not read, so TCP pushes back on the
/// peer); `send(_:)` returns once the message is queued and the socket is below its high-water mark.
public final class WebSocketConnection: Sendable {
    public typealias Inbound = NIOAsyncSequenceProducer<WebSocketMessage, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, InboundDelegate>

    /// Messages from the peer, in order; the sequence ends when the connection closes.
    public let inbound: Inbound
    public let eventLoop: any EventLoop
    /// The peer's address.
    public let remoteAddress: SocketAddress?
    /// The server side's upgrade request (path, query, headers); nil on a client.
    public let request: WebSocketUpgradeRequest?
    /// The negotiated subprotocol.
    public let subprotocol: String?
    /// What permessage-deflate the handshake agreed, if any.
    public let deflate: PerMessageDeflateParameters?
    /// What the server's upgrade hook attached when it accepted.
    public let context: (any Sendable)?

    private let handler: NIOLoopBound<WebSocketChannelHandler>
    private let closed: EventLoopFuture<WebSocketCloseStatus>

    init(handler: WebSocketChannelHandler, request: WebSocketUpgradeRequest?, inbound: Inbound, closed: EventLoopFuture<WebSocketCloseStatus>) {
        self.handler = NIOLoopBound(handler, eventLoop: handler.eventLoop)
        self.eventLoop = handler.eventLoop
        self.inbound = inbound
        self.closed = closed
        self.remoteAddress = handler.remoteAddress
        self.request = request
        self.subprotocol = handler.subprotocol
        self.deflate = handler.engine?.deflate
        self.context = handler.acceptedContext
    }

    /// Sends a whole message; waits while the peer is not keeping up.
    public func send(_ message: WebSocketMessage) async throws {
        let handler = self.handler
        try await self.eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
            do {
                try handler.value.send(message)
            } catch {
                return handler.value.eventLoop.makeFailedFuture(error)
            }
            return handler.value.waitUntilWritable()
        }.get()
    }

    /// Sends a message framed once for many connections (see ``WebSocketPreparedMessage``); waits while the
    /// peer is not keeping up.
    public func send(_ prepared: WebSocketPreparedMessage) async throws {
        let handler = self.handler
        try await self.eventLoop.flatSubmit { () -> EventLoopFuture<Void> in
            do {
                try handler.value.send(prepared)
            } catch {
                return handler.value.eventLoop.makeFailedFuture(error)
            }
            return handler.value.waitUntilWritable()
        }.get()
    }

    public func send(text: String) async throws {
        try await self.send(.text(text))
    }

    public func send(binary: ByteBuffer) async throws {
        try await self.send(.binary(binary))
    }

    public func ping(_ data: ByteBuffer = ByteBuffer()) async throws {
        let handler = self.handler
        try await self.eventLoop.submit { try handler.value.sendPing(data) }.get()
    }

    /// Starts the close handshake and waits until the connection is closed.
    @discardableResult
    public func close(code: CloseCode = .normalClosure, reason: String = "") async -> WebSocketCloseStatus {
        let handler = self.handler
        self.eventLoop.execute { handler.value.initiateClose(code: code, reason: reason) }
        return await self.closeStatus
    }

    /// How the connection ended; waits until it has.
    public var closeStatus: WebSocketCloseStatus {
        get async {
            // The future is never failed: the bridge always succeeds it when the connection ends.
            (try? await self.closed.get()) ?? WebSocketCloseStatus(code: .abnormalClosure, reason: "", initiatedLocally: false)
        }
    }

    /// Resumes reading the socket when the inbound sequence's consumer catches up, and closes the
    /// connection when the consumer drops the sequence.
    public struct InboundDelegate: NIOAsyncSequenceProducerDelegate {
        let handler: NIOLoopBound<WebSocketChannelHandler>

        public func produceMore() {
            let handler = self.handler
            handler.eventLoop.execute { handler.value.setReadingPaused(false, by: .application) }
        }

        public func didTerminate() {
            let handler = self.handler
            handler.eventLoop.execute { handler.value.initiateClose(code: .goingAway, reason: "") }
        }
    }
}

/// Feeds a connection's events into a ``WebSocketConnection``'s inbound sequence.
final class AsyncConnectionBridge: WebSocketEventLoopHandler {
    private var source: WebSocketConnection.Inbound.Source?
    private let closedPromise: EventLoopPromise<WebSocketCloseStatus>
    private let onOpen: (WebSocketConnection) -> Void
    private let inboundBufferSize: Int
    private let request: WebSocketUpgradeRequest?

    init(eventLoop: any EventLoop, request: WebSocketUpgradeRequest? = nil, inboundBufferSize: Int, onOpen: @escaping (WebSocketConnection) -> Void) {
        self.closedPromise = eventLoop.makePromise()
        self.request = request
        self.inboundBufferSize = inboundBufferSize
        self.onOpen = onOpen
    }

    func webSocketDidOpen(_ connection: WebSocketEventLoopConnection) {
        let strategy = NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark(
            lowWatermark: max(1, self.inboundBufferSize / 2), highWatermark: max(2, self.inboundBufferSize))
        let delegate = WebSocketConnection.InboundDelegate(handler: NIOLoopBound(connection.handler, eventLoop: connection.eventLoop))
        let producer = NIOAsyncSequenceProducer.makeSequence(
            elementType: WebSocketMessage.self, backPressureStrategy: strategy, finishOnDeinit: false, delegate: delegate)
        self.source = producer.source
        self.onOpen(WebSocketConnection(handler: connection.handler, request: self.request, inbound: producer.sequence, closed: self.closedPromise.futureResult))
    }

    func webSocket(_ connection: WebSocketEventLoopConnection, didReceive message: WebSocketMessage) {
        guard let source = self.source else { return }
        if case .stopProducing = source.yield(message) {
            connection.pauseReading()
        }
    }

    func webSocketDidClose(_ connection: WebSocketEventLoopConnection, status: WebSocketCloseStatus) {
        self.source?.finish()
        self.source = nil
        self.closedPromise.succeed(status)
    }

    /// The connection failed before opening (a client's handshake).
    func failBeforeOpen() {
        self.closedPromise.succeed(WebSocketCloseStatus(code: .abnormalClosure, reason: "handshake failed", initiatedLocally: true))
    }
}
