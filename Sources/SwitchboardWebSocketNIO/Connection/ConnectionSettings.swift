import Logging
import NIOCore
import SwitchboardWebSocket

/// What all connections of one server (or one client connect call) share, held by reference: copied
/// into each connection it would be a good part of the memory an idle connection costs.
final class ConnectionSettings: Sendable {
    let role: WebSocketRole
    let configuration: WebSocketConfiguration
    let logger: Logger
    let maximumHandshakeSize: Int
    let handshakeTimeout: TimeAmount
    /// Client only: when the connect call's timeout passes. One deadline covers the TCP connect and the
    /// upgrade's answer, so a connect ends at its timeout whichever phase is slow.
    let connectDeadline: NIODeadline?
    /// Server only: what the handshake negotiates, the application's hooks, the handler factory, and the
    /// registry shutdown uses.
    let serverHandshake: ServerHandshake.Configuration?
    let upgradeHook: (@Sendable (WebSocketUpgradeRequest) -> WebSocketUpgradeDecision)?
    let httpHandover: WebSocketServer.HTTPHandover?
    let makeDelegate: (@Sendable (WebSocketUpgradeRequest?, any EventLoop) -> (any WebSocketEventLoopHandler)?)?
    let registry: ConnectionRegistry?
    /// Server on an ``EpollEventLoopGroup`` only: the NIO loops its handed-over HTTP connections move to.
    let handoverEventLoopGroup: (any EventLoopGroup)?

    init(server configuration: WebSocketServerConfiguration, logger: Logger, registry: ConnectionRegistry,
         handoverEventLoopGroup: (any EventLoopGroup)? = nil,
         upgradeHook: (@Sendable (WebSocketUpgradeRequest) -> WebSocketUpgradeDecision)?,
         httpHandover: WebSocketServer.HTTPHandover?,
         makeDelegate: @escaping @Sendable (WebSocketUpgradeRequest?, any EventLoop) -> (any WebSocketEventLoopHandler)?) {
        self.role = .server
        self.configuration = configuration.connection
        self.logger = logger
        self.maximumHandshakeSize = configuration.maximumHandshakeSize
        self.handshakeTimeout = configuration.handshakeTimeout
        self.connectDeadline = nil
        self.serverHandshake = ServerHandshake.Configuration(subprotocols: configuration.subprotocols, deflate: configuration.connection.deflate)
        self.upgradeHook = upgradeHook
        self.httpHandover = httpHandover
        self.makeDelegate = makeDelegate
        self.registry = registry
        self.handoverEventLoopGroup = handoverEventLoopGroup
    }

    init(client configuration: WebSocketClientConfiguration, logger: Logger, connectDeadline: NIODeadline) {
        self.role = .client
        self.configuration = configuration.connection
        self.logger = logger
        self.maximumHandshakeSize = configuration.maximumHandshakeSize
        self.handshakeTimeout = configuration.connectTimeout
        self.connectDeadline = connectDeadline
        self.serverHandshake = nil
        self.upgradeHook = nil
        self.httpHandover = nil
        self.makeDelegate = nil
        self.registry = nil
        self.handoverEventLoopGroup = nil
    }
}
