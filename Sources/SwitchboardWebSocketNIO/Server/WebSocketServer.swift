import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import SwitchboardWebSocket

/// A WebSocket server: HTTP/1.1 upgrade, optional TLS, one handler per connection, graceful shutdown.
///
/// With an ``HTTPHandover`` it shares its port with an HTTP application: requests that do not ask for a
/// WebSocket upgrade are handed to it.
///
/// ```swift
/// let server = WebSocketServer(configuration: .init(port: 9001)) { connection in
///     for await message in connection.inbound { try await connection.send(message) }
/// }
/// try await server.start()
/// ```
public final class WebSocketServer: Sendable {
    /// What runs each accepted connection.
    public enum Handler: Sendable {
        /// One task per connection with the `async` API; the connection is closed when the task returns.
        case async(@Sendable (WebSocketConnection) async -> Void)
        /// An object per connection called on its event loop: the fastest path (see ``WebSocketEventLoopHandler``).
        case eventLoop(@Sendable (WebSocketUpgradeRequest?) -> any WebSocketEventLoopHandler)
    }

    /// Takes over a connection whose request is plain HTTP rather than a WebSocket upgrade, so that one
    /// port serves both the WebSocket endpoint and an HTTP application.
    ///
    /// Called on the connection's event loop once the first plain HTTP request head is complete (its
    /// `Upgrade` field does not list `websocket`; see `HandshakeRequest.asksForWebSocketUpgrade`). The
    /// handshake timeout is cancelled by then, and the TLS handler, if any, stays first in the pipeline.
    /// Install the HTTP handlers with `channel.pipeline.syncOperations` before returning. The transport stays
    /// in front of them and passes them the requests' bytes exactly as received, request by request (a head
    /// as one read once it is complete, body bytes as they come). Throwing closes the connection.
    ///
    /// The transport follows the requests' framing (`Content-Length`, chunked), so an upgrade on any later
    /// request of the keep-alive connection is still WebSocket's: it passes on no byte of that request or
    /// after it, and calls the returned ``HTTPRelease``. So is any request after which an HTTP/1.1 parser
    /// stops reading (another protocol's upgrade, a CONNECT): the HTTP handlers get that request and
    /// nothing after it, and once released the connection closes rather than falling silent.
    ///
    /// Upgrade attempts, valid or not, get the handshake's precise answer (101, or 400, 403, 405, 426), and
    /// so do first heads the server's parser refuses (400, or 431 past
    /// ``WebSocketServerConfiguration/maximumHandshakeSize``, which therefore bounds HTTP heads too).
    /// ``shutdown(code:reason:gracePeriod:)`` still closes handed-over connections.
    public typealias HTTPHandover = @Sendable (_ channel: any Channel) throws -> HTTPRelease

    /// Given back by an ``HTTPHandover``; the transport calls it on the event loop when the connection must
    /// leave HTTP. Succeed `released` once every request passed on so far has been answered in full and
    /// the handlers the handover installed have left the pipeline (a handler that cannot leave may stay
    /// last, as long as it writes and closes nothing until the connection ends); fail it to close the
    /// connection. Until then the transport reads nothing more.
    public typealias HTTPRelease = (_ released: EventLoopPromise<Void>) -> Void

    public let configuration: WebSocketServerConfiguration
    private let group: any EventLoopGroup
    private let httpGroup: any EventLoopGroup
    let logger: Logger
    private let upgradeHook: (@Sendable (WebSocketUpgradeRequest) -> WebSocketUpgradeDecision)?
    private let httpHandover: HTTPHandover?
    private let handler: Handler
    let registry = ConnectionRegistry()
    private let listener = NIOLockedValueBox<(any Channel)?>(nil)
    #if os(Linux)
    let epollListener = NIOLockedValueBox<EpollListener?>(nil)
    #endif

    /// - Parameters:
    ///   - configuration: where to listen, TLS, limits and the connections' behaviour.
    ///   - eventLoopGroup: NIO's loops, or an ``EpollEventLoopGroup`` (Linux, no TLS) for lighter connections.
    ///   - logger: for the server's and its connections' events.
    ///   - upgradeHook: sees every valid upgrade request (path, query, headers, peer) before it is accepted;
    ///     reject to answer with an HTTP status (authentication, Origin checks, routing).
    ///   - httpHandover: takes connections whose request is not a WebSocket upgrade (see ``HTTPHandover``);
    ///     nil refuses them as failed handshakes (426 Upgrade Required for a GET, 405 for other methods).
    ///   - httpEventLoopGroup: for a server on an ``EpollEventLoopGroup``, the NIO event loops its handed-over
    ///     connections move to (HTTP handlers need a NIO channel); unused otherwise.
    ///   - handler: runs each connection, with the `async` API or on its event loop.
    public init(configuration: WebSocketServerConfiguration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "switchboard.websocket.server"),
                upgradeHook: (@Sendable (WebSocketUpgradeRequest) -> WebSocketUpgradeDecision)? = nil,
                httpHandover: HTTPHandover? = nil,
                httpEventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                handler: Handler) {
        self.configuration = configuration
        self.group = eventLoopGroup
        self.httpGroup = httpEventLoopGroup
        self.logger = logger
        self.upgradeHook = upgradeHook
        self.httpHandover = httpHandover
        self.handler = handler
    }

    /// Convenience for the `async` handler.
    public convenience init(configuration: WebSocketServerConfiguration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                            logger: Logger = Logger(label: "switchboard.websocket.server"),
                            upgradeHook: (@Sendable (WebSocketUpgradeRequest) -> WebSocketUpgradeDecision)? = nil,
                            httpHandover: HTTPHandover? = nil,
                            handler: @escaping @Sendable (WebSocketConnection) async -> Void) {
        self.init(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger, upgradeHook: upgradeHook,
                  httpHandover: httpHandover, handler: .async(handler))
    }

    /// The address the server listens on, once started.
    public var localAddress: SocketAddress? {
        #if os(Linux)
        if let listener = self.epollListener.withLockedValue({ $0 }) { return listener.localAddress }
        #endif
        return self.listener.withLockedValue { $0?.localAddress }
    }

    /// WebSocket connections currently open, including those still in their opening handshake (connections
    /// handed to the ``HTTPHandover`` are not counted).
    public var connectionCount: Int { self.registry.count }
    /// Connections closed on arrival because the server held ``WebSocketServerConfiguration/maximumOpenSockets``.
    public var refusedForSocketLimit: Int { self.gate.withLockedValue { $0?.refused ?? 0 } }
    private let gate = NIOLockedValueBox<OpenSocketGate?>(nil)

    /// Binds and starts accepting connections.
    public func start() async throws {
        let configuration = self.configuration
        let settings = ConnectionSettings(
            server: configuration, logger: self.logger, registry: self.registry, handoverEventLoopGroup: self.httpGroup,
            upgradeHook: self.upgradeHook,
            httpHandover: self.httpHandover, makeDelegate: Self.delegateFactory(for: self.handler, inboundBufferSize: configuration.connection.inboundBufferSize))
        let gate = OpenSocketGate(limit: configuration.maximumOpenSockets)
        self.gate.withLockedValue { $0 = gate }
        let logger = self.logger
        #if os(Linux)
        if let epoll = self.group as? EpollEventLoopGroup {
            return try await self.start(on: epoll, settings: settings, gate: gate)
        }
        #endif
        let channel = try await ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: Int32(configuration.backlog))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: configuration.reusePort ? 1 : 0)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelOption(.recvAllocator, value: CompactRecvAllocator.connection)
            .childChannelInitializer { channel in
                guard gate.admit(channel) else {
                    // Out of sockets: closing at once keeps the descriptor reserve for the process itself.
                    gate.logRefusal(logger)
                    return channel.close()
                }
                do {
                    let sync = channel.pipeline.syncOperations
                    if let tls = configuration.tls {
                        try sync.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try sync.addHandler(WebSocketChannelHandler(server: settings, eventLoop: channel.eventLoop))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        self.listener.withLockedValue { $0 = channel }
        self.logger.info("WebSocket server listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
    }

    /// Stops accepting, sends every connection a close frame (1001 by default), waits up to `gracePeriod`
    /// for them to finish closing, then drops whatever is left.
    ///
    /// Connections handed to the ``HTTPHandover`` get NIO's `ChannelShouldQuiesceEvent` instead (HTTP
    /// servers on NIO close an idle keep-alive connection on it, and a busy one after its response) and are
    /// closed with the rest when the grace period ends.
    public func shutdown(code: CloseCode = .goingAway, reason: String = "server shutting down", gracePeriod: TimeAmount = .seconds(10)) async {
        let listener = self.listener.withLockedValue { channel -> (any Channel)? in
            defer { channel = nil }
            return channel
        }
        try? await listener?.close()
        #if os(Linux)
        if let listener = self.epollListener.withLockedValue({ $0 }) {
            try? await listener.loop.submit { listener.close() }.get()
        }
        #endif
        let event = GracefulShutdownEvent(code: code, reason: reason)
        for connection in self.registry.webSocketConnections {
            connection.shutDown(event)
        }
        for channel in self.registry.handedOverChannels {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        let eventLoop = self.group.next()
        let deadline = eventLoop.scheduleTask(in: gracePeriod) {}
        let drained = self.registry.drained(on: eventLoop)
        // Whichever comes first: all connections gone, or the grace period over.
        let first = eventLoop.makePromise(of: Void.self)
        drained.cascade(to: first)
        deadline.futureResult.whenComplete { _ in first.succeed() }
        try? await first.futureResult.get()
        deadline.cancel()
        for connection in self.registry.webSocketConnections {
            connection.close()
        }
        for channel in self.registry.handedOverChannels {
            channel.close(promise: nil)
        }
        try? await self.registry.drained(on: eventLoop).get()
    }

    private static func delegateFactory(for handler: Handler, inboundBufferSize: Int)
        -> @Sendable (WebSocketUpgradeRequest?, any EventLoop) -> (any WebSocketEventLoopHandler)?
    {
        switch handler {
        case .eventLoop(let make):
            return { request, _ in make(request) }
        case .async(let body):
            return { request, eventLoop in
                AsyncConnectionBridge(eventLoop: eventLoop, request: request, inboundBufferSize: inboundBufferSize) { connection in
                    Task {
                        await body(connection)
                        await connection.close()
                    }
                }
            }
        }
    }
}
