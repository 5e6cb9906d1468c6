import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import SwitchboardProtocol
import SwitchboardWebSocket
import SwitchboardWebSocketNIO

/// A Switchboard node: the real-time protocol over WebSocket (and SSE), channels with history and recovery,
/// presence, the back-end HTTP API, metrics and the dashboard, all on one port.
///
/// ```swift
/// let server = try await RealtimeServer(configuration: .load())
/// try await server.run()   // until SIGTERM/SIGINT via ServiceLifecycle, then drains
/// ```
public final class RealtimeServer: Service, Sendable {
    public let configuration: ServerConfiguration
    let context: ServerContext
    let limiter: ConnectionLimiter
    private let webSocketServer: WebSocketServer
    let metrics: ServerMetrics
    private let dashboard: DashboardFeed
    private let dashboardTask = NIOLockedValueBox<Task<Void, Never>?>(nil)
    private let housekeeping = NIOLockedValueBox<RepeatedTask?>(nil)
    private let loopLag = NIOLockedValueBox<LoopLagProbe?>(nil)
    /// The loops sessions run on: the ones the lag probe watches.
    private let sessionLoops: [any EventLoop]
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = NIOLockedValueBox(Lifecycle.created)
    private let startup = ServerStartup()
    private let startedAt = NIODeadline.now()

    private enum Lifecycle {
        case created, serving, draining
    }

    /// The node's version, reported by `/api/info`.
    public static let version = "0.3.0"

    /// - Parameters:
    ///   - configuration: the node's whole configuration (what `serve` reads from its file and flags).
    ///   - logger: for the node's events.
    ///   - broker: where channels live; the embedded ``MemoryBroker`` when nil.
    ///   - developmentSecret: the HS256 secret `serve` generated because none was configured; enables
    ///     `GET /dev/token?user=…`, which the demo page uses to sign in. Never set in production.
    ///   - now: wall-clock time for token expiry (tests pass a fixed clock).
    ///   - eventLoopGroup: where connections run: NIO's loops, or an `EpollEventLoopGroup` (Linux, no TLS),
    ///     whose connections cost a fraction of the memory.
    ///   - httpEventLoopGroup: with an `EpollEventLoopGroup`, the NIO loops for plain HTTP connections (the
    ///     API, SSE, static files); unused otherwise.
    public init(configuration: ServerConfiguration, broker: (any Broker)? = nil,
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                httpEventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "switchboard.server"),
                developmentSecret: String? = nil,
                now: @escaping @Sendable () -> Date = { Date() }) async throws {
        self.configuration = configuration
        self.logger = logger
        self.group = eventLoopGroup
        let broker = broker ?? MemoryBroker()
        // Each node has its own registry: no global metrics bootstrap, so several nodes (tests) can share a process.
        let exporter = PrometheusExporter()
        let metrics = ServerMetrics(factory: exporter.factory)
        self.metrics = metrics
        self.dashboard = DashboardFeed(stats: metrics.stats)
        self.sessionLoops = Self.sessionEventLoops(eventLoopGroup, http: httpEventLoopGroup)
        let hub = Hub(eventLoops: self.sessionLoops, broker: broker, metrics: metrics)
        let verifier = try TokenVerifier(configuration: configuration.auth)
        let clientAddresses = try ClientAddressResolver(trustedProxies: configuration.trustedProxies)
        let context = ServerContext(configuration: configuration, broker: broker, hub: hub, verifier: verifier, metrics: metrics,
                                    clientAddresses: clientAddresses, logger: logger,
                                    developmentSecret: developmentSecret, now: now)
        self.context = context
        let limiter = ConnectionLimiter(maxConnections: Self.connectionLimit(configuration.limits.maxConnections, budget: .current, logger: logger),
                                        maxConnectionsPerAddress: configuration.limits.maxConnectionsPerIP)
        self.limiter = limiter
        let origins = try OriginPolicy(allowedOrigins: configuration.allowedOrigins)
        let path = configuration.webSocketPath

        var transport = WebSocketServerConfiguration(host: configuration.host, port: configuration.port, reusePort: configuration.reusePort)
        transport.connection.limits = WebSocketLimits(maximumFrameSize: configuration.limits.maxMessageSize,
                                                           maximumMessageSize: configuration.limits.maxMessageSize)
        // Every client of a channel gets the same frame bytes (encode once): with compression on, each message
        // is compressed alone (no context kept between messages), so one compressed frame serves them all.
        transport.connection.deflate = configuration.compression.transportConfiguration
        transport.connection.heartbeat = .init(interval: .seconds(Int64(configuration.pingInterval)),
                                               timeout: .seconds(Int64(configuration.pingTimeout)))
        transport.connection.maximumOutboundBufferSize = configuration.limits.maxOutboundBytes
        // JSON first: a client offering both gets the encoding any WebSocket client can read.
        transport.subprotocols = WireEncoding.allCases.map(\.subprotocol)
        // Both end without a close frame (the peer is gone or not reading); logs and metrics get the protocol's code.
        transport.connection.slowConsumerCloseCode = CloseCode(DisconnectCode.slowConsumer.rawValue)
        transport.connection.heartbeatTimeoutCloseCode = CloseCode(DisconnectCode.heartbeatTimeout.rawValue)
        // Browsers never ping; a client library pings when its connection is silent, a few times a minute.
        transport.connection.maximumPingsPerSecond = 10
        transport.tls = try Self.makeTLSContext(configuration)

        // Filled in below: the router's closures need `self`, which exists only once every property is set.
        let infoSource = NIOLockedValueBox<(@Sendable () -> ServerInfo)?>(nil)
        let readySource = NIOLockedValueBox<(@Sendable () -> Bool)?>(nil)
        let router = HTTPSurface.makeRouter(context: context, limiter: limiter, origins: origins, exporter: exporter,
                                            dashboard: configuration.dashboard ? self.dashboard : nil,
                                            ready: { readySource.withLockedValue { $0?() } ?? false },
                                            stats: { infoSource.withLockedValue { $0?() }! })
        let bridge = HummingbirdBridge(responder: router.buildResponder(), serverName: "switchboard", logger: logger)

        self.webSocketServer = WebSocketServer(
            configuration: transport, eventLoopGroup: eventLoopGroup, logger: logger,
            upgradeHook: { request in
                guard request.path == path || request.path.hasPrefix(path + "?") else {
                    return .reject(status: 404, reason: "no WebSocket endpoint at \(request.path); use \(path)")
                }
                if case .refuse(let reason) = origins.decide(origin: request.headers.first("origin"),
                                                              host: request.headers.first("host")) {
                    metrics.connectionRefused(.forbiddenOrigin)
                    return .reject(status: 403, reason: reason)
                }
                if let refusal = context.admitConnection() {
                    return .reject(status: 503, reason: refusal.reason, headers: HTTPHeaderFields([("Retry-After", String(refusal.retryAfter))]))
                }
                let credential: ConnectionCredential?
                do {
                    credential = try ConnectionCredential.fromQuery(token: request.queryValue("token"), ticket: request.queryValue("ticket"))
                } catch {
                    return .reject(status: 400, reason: "\(error)")
                }
                let client = clientAddresses.clientAddress(peer: request.remoteAddress?.ipAddress,
                                                           forwardedFor: request.headers.values(for: "x-forwarded-for"))
                switch limiter.acquire(ip: client) {
                case .success(let lease):
                    return .accept(context: UpgradeContext(lease: lease, credential: credential, clientAddress: client))
                case .failure(let refusal):
                    metrics.connectionRefused(.init(refusal))
                    return .reject(status: refusal.httpStatus, reason: refusal.reason)
                }
            },
            httpHandover: bridge.handover,
            httpEventLoopGroup: httpEventLoopGroup,
            handler: .eventLoop { _ in WebSocketSessionHandler(context: context) }
        )
        infoSource.withLockedValue { $0 = { [unowned self] in self.info } }
        readySource.withLockedValue { $0 = { [unowned self] in self.isReady } }
    }

    /// Listening, broker started, not draining: what `/health` reports.
    public var isReady: Bool {
        self.state.withLockedValue { if case .serving = $0 { true } else { false } }
    }

    var info: ServerInfo {
        ServerInfo(version: Self.version, uptimeSeconds: Int((NIODeadline.now() - self.startedAt).nanoseconds / 1_000_000_000),
                   connections: self.limiter.openConnections, subscriptions: self.context.hub.subscriptionCount,
                   channels: self.context.hub.channelCount, broker: self.configuration.broker)
    }

    /// The address the node listens on, once started (useful with port 0).
    public var localAddress: SocketAddress? { self.webSocketServer.localAddress }

    /// Starts the broker and begins accepting connections.
    public func start() async throws {
        do {
            try await self.context.broker.start(handler: self.context.hub)
        } catch {
            self.startup.failed(ServerStartError("cannot start the broker (\(self.configuration.broker)): \(error)"))
            throw error
        }
        do {
            try await self.webSocketServer.start()
        } catch {
            let failure = ServerStartError(listeningOn: self.configuration.host, port: self.configuration.port, error)
            self.startup.failed(failure)
            await self.context.broker.shutdown()
            throw failure
        }
        let dashboard = self.dashboard
        let sessions = self.context.sessions
        let broker = self.context.broker
        self.dashboardTask.withLockedValue { $0 = Task { await dashboard.run(every: .seconds(1)) } }
        // Presence entries expire unless refreshed (so a crashed node's clients vanish); idle streams go.
        let housekeeping = self.group.next().scheduleRepeatedTask(initialDelay: .seconds(20), delay: .seconds(20)) { _ in
            sessions.forEachWithPresence { $0.refreshPresence() }
            (broker as? MemoryBroker)?.removeIdleStreams()
        }
        self.housekeeping.withLockedValue { $0 = housekeeping }
        let admission = self.context.admission
        let metrics = self.metrics
        self.loopLag.withLockedValue {
            $0 = LoopLagProbe(eventLoops: self.sessionLoops) { lateness, now in
                metrics.eventLoopLagged(nanoseconds: Int64(lateness))
                admission.loopWasLate(by: lateness, now: now.uptimeNanoseconds)
            }
        }
        self.state.withLockedValue { $0 = .serving }
        if let address = self.localAddress { self.startup.listening(on: address) }
        self.logger.info("Switchboard node ready", metadata: ["address": "\(self.localAddress.map { "\($0)" } ?? "?")",
                                                             "websocket": "\(self.configuration.webSocketPath)"])
    }

    /// Runs until graceful shutdown is triggered (ServiceLifecycle: SIGTERM, SIGINT), then drains.
    public func run() async throws {
        try await self.start()
        try? await gracefulShutdown()
        await self.shutdown()
    }

    /// Drains the node: every client is told to reconnect elsewhere after a random delay (so the others
    /// are not hit all at once), connections get `shutdownGracePeriod` to close, then the broker stops.
    /// Returns the node's address once it listens and is ready (``start()`` done); throws why it could not
    /// start, so a caller never waits for a node that will not come up.
    public func listeningAddress() async throws -> SocketAddress {
        try await self.startup.wait()
    }

    public func shutdown() async {
        self.startup.failed(ServerStartError("the node was stopped before it listened"))
        self.state.withLockedValue { $0 = .draining }
        // Dashboard pages are long-lived streams: end them first so connections can close.
        self.dashboard.finish()
        let maximumDelay = max(1, self.configuration.reconnectDelayMax) * 1000
        self.context.sessions.forEach { session in
            session.disconnect(.init(code: .shutdown, reason: "node shutting down", delay: Int.random(in: 0...maximumDelay)))
        }
        await self.webSocketServer.shutdown(code: CloseCode(DisconnectCode.shutdown.rawValue), reason: "node shutting down",
                                            gracePeriod: .seconds(Int64(self.configuration.shutdownGracePeriod)))
        self.dashboard.finish()
        self.dashboardTask.withLockedValue { $0?.cancel() }
        self.housekeeping.withLockedValue { $0?.cancel() }
        self.loopLag.withLockedValue { $0?.stop() }
        await self.context.broker.shutdown()
        self.logger.info("Switchboard node stopped")
    }

    /// The loops sessions run on: the connections' and, when those are epoll loops, the NIO loops that serve
    /// HTTP (SSE sessions live on their HTTP connection's loop).
    static func sessionEventLoops(_ group: any EventLoopGroup, http: any EventLoopGroup) -> [any EventLoop] {
        let loops = Array(group.makeIterator())
        #if os(Linux)
        if group is EpollEventLoopGroup { return loops + Array(http.makeIterator()) }
        #endif
        return loops
    }

    private static func makeTLSContext(_ configuration: ServerConfiguration) throws -> NIOSSLContext? {
        guard let certificatePath = configuration.tlsCertificatePath, let keyPath = configuration.tlsKeyPath else { return nil }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
            return try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
        } catch {
            throw ConfigurationError(description: "TLS: cannot load \(certificatePath) / \(keyPath): \(error)")
        }
    }
}

/// What the upgrade hook hands to the connection: its slot in the connection limits and the URL's token.
struct UpgradeContext: Sendable {
    let lease: ConnectionLease
    let credential: ConnectionCredential?
    let clientAddress: String
}
