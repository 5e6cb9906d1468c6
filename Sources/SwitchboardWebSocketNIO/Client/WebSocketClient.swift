import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SwitchboardWebSocket

/// How a client connects.
public struct WebSocketClientConfiguration: Sendable {
    /// How the connection behaves once open.
    public var connection: WebSocketConfiguration
    /// Extra request headers (authorization, cookies, user agent).
    public var headers: HTTPHeaderFields
    /// Subprotocols to offer, in order of preference.
    public var subprotocols: [String]
    /// The Origin header, for servers that check it.
    public var origin: String?
    /// TLS for `wss://` URLs; certificates are verified against the system's roots by default.
    public var tls: TLSConfiguration
    /// Bound on the whole connect (TCP, TLS and the upgrade's answer): a connect attempt always ends, with an
    /// error whose ``WebSocketTransportError/isTimeout`` is true when this passed.
    public var connectTimeout: TimeAmount
    public var maximumHandshakeSize: Int
    /// The local address to connect from (port 0: a random free one). Load generators spread connections
    /// over several source addresses: one address has ~28,000 ephemeral ports.
    public var localAddress: SocketAddress?

    public init(connection: WebSocketConfiguration = WebSocketConfiguration(), headers: HTTPHeaderFields = HTTPHeaderFields(),
                subprotocols: [String] = [], origin: String? = nil, tls: TLSConfiguration = .makeClientConfiguration(),
                connectTimeout: TimeAmount = .seconds(10), maximumHandshakeSize: Int = 16 << 10,
                localAddress: SocketAddress? = nil) {
        self.connection = connection
        self.headers = headers
        self.subprotocols = subprotocols
        self.origin = origin
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.maximumHandshakeSize = maximumHandshakeSize
        self.localAddress = localAddress
    }
}

/// Connects to WebSocket servers.
public enum WebSocketClient {
    /// Connects and completes the handshake; returns the open connection with its `async` API.
    ///
    /// Throws ``WebSocketTransportError`` when the URL is invalid, the server refuses or answers badly, or the
    /// connect takes longer than ``WebSocketClientConfiguration/connectTimeout``.
    public static func connect(to url: String, configuration: WebSocketClientConfiguration = WebSocketClientConfiguration(),
                               eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                               logger: Logger = Logger(label: "switchboard.websocket.client")) async throws -> WebSocketConnection {
        let eventLoop = eventLoopGroup.next()
        let opened = eventLoop.makePromise(of: WebSocketConnection.self)
        let bridge = AsyncConnectionBridge(eventLoop: eventLoop, inboundBufferSize: configuration.connection.inboundBufferSize) { connection in
            opened.succeed(connection)
        }
        do {
            try await self.connect(to: url, configuration: configuration, eventLoop: eventLoop, logger: logger, handler: bridge).get()
        } catch {
            // The bridge never opened, so nothing else completes its close promise; a promise dropped
            // uncompleted is a leak (and a crash in debug builds).
            bridge.failBeforeOpen()
            opened.fail(error)
        }
        return try await opened.futureResult.get()
    }

    /// Connects with a handler called on the connection's event loop (the fastest path, e.g. for load
    /// generators). The future completes when the handshake has succeeded.
    ///
    /// On an ``EpollEventLoop`` the connection is an epoll socket rather than a NIO channel (`ws://` only).
    public static func connect(to url: String, configuration: WebSocketClientConfiguration = WebSocketClientConfiguration(),
                               eventLoop: any EventLoop, logger: Logger = Logger(label: "switchboard.websocket.client"),
                               handler: any WebSocketEventLoopHandler) -> EventLoopFuture<Void> {
        let parsed: WebSocketURL
        do {
            parsed = try WebSocketURL(url)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        var keyBytes = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for index in keyBytes.indices { keyBytes[index] = UInt8.random(in: .min ... .max, using: &generator) }
        let handshake = ClientHandshake(host: parsed.hostHeader, target: parsed.target, key: WebSocketAcceptKey.key(randomBytes: keyBytes)!,
                                        subprotocols: configuration.subprotocols, extraHeaders: configuration.headers,
                                        deflate: configuration.connection.deflate, origin: configuration.origin)
        let upgraded = eventLoop.makePromise(of: Void.self)
        let deadline = eventLoop.now + configuration.connectTimeout
        let settings = ConnectionSettings(client: configuration, logger: logger, connectDeadline: deadline)
        // The handler is handed to the channel once and used only on its event loop from then on.
        let handlerBox = HandOver(handler)
        #if os(Linux)
        if let loop = eventLoop as? EpollEventLoop {
            loop.execute {
                Self.connect(parsed, configuration: configuration, deadline: deadline, on: loop, makeHandler: {
                    WebSocketChannelHandler(client: settings, handshake: handshake, upgraded: upgraded, eventLoop: loop, delegate: handlerBox.value)
                }, upgraded: upgraded)
            }
            return upgraded.futureResult
        }
        #endif
        let sslContext: NIOSSLContext?
        do {
            sslContext = parsed.isSecure ? try NIOSSLContext(configuration: configuration.tls) : nil
        } catch {
            return eventLoop.makeFailedFuture(WebSocketTransportError.handshakeFailed("TLS configuration: \(error)"))
        }
        var bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            // NIO's default would keep a 2 KiB read buffer on every connection (a load generator holds thousands).
            .channelOption(.recvAllocator, value: CompactRecvAllocator.connection)
        if let localAddress = configuration.localAddress {
            // Port 0: the kernel picks a random free port for each attempt, so a retry after a refused connect
            // comes from another port (behind SO_REUSEPORT, a port reused would reach the same listener again).
            bootstrap = bootstrap.bind(to: localAddress)
        }
        let connect = bootstrap
            .channelInitializer { channel in
                do {
                    let sync = channel.pipeline.syncOperations
                    if let sslContext {
                        let serverName = parsed.host.isIPAddress ? nil : parsed.host
                        try sync.addHandler(try NIOSSLClientHandler(context: sslContext, serverHostname: serverName))
                    }
                    try sync.addHandler(WebSocketChannelHandler(
                        client: settings, handshake: handshake, upgraded: upgraded, eventLoop: channel.eventLoop,
                        delegate: handlerBox.value))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(host: parsed.host, port: parsed.port)
        connect.whenFailure { error in
            upgraded.fail(WebSocketTransportError.cannotConnect(to: parsed.hostHeader, error, connectTimeout: configuration.connectTimeout))
        }
        return upgraded.futureResult
    }
}

/// Moves a non-Sendable value to the event loop that will own it; nothing touches it here afterwards.
struct HandOver<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

extension String {
    /// True for IPv4 and IPv6 literals, which TLS must not send as SNI (RFC 6066 §3).
    package var isIPAddress: Bool {
        (try? SocketAddress(ipAddress: self, port: 0)) != nil
    }
}
