import NIOCore
import NIOSSL
import SwitchboardWebSocket

/// Where and how a ``WebSocketServer`` listens.
public struct WebSocketServerConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port; read it back from ``WebSocketServer/localAddress``.
    public var port: Int
    /// How each connection behaves once open.
    public var connection: WebSocketConfiguration
    /// Subprotocols the server speaks, in order of preference.
    public var subprotocols: [String]
    /// Serve `wss://` with this TLS context; nil serves plain `ws://`.
    public var tls: NIOSSLContext?
    /// The largest upgrade request head accepted; a larger one is answered 431.
    public var maximumHandshakeSize: Int
    /// A client that has not completed its upgrade request by then is dropped (slowloris defence).
    public var handshakeTimeout: TimeAmount
    public var backlog: Int
    /// Share the port with other processes that set it too (`SO_REUSEPORT`): the kernel spreads new
    /// connections across them, so several server processes on one host serve one address.
    public var reusePort: Bool
    /// Sockets (WebSocket and handed-over HTTP connections) open at once at most; a connection beyond it
    /// is closed as soon as it is accepted. By default, what the process's descriptor limit leaves after a
    /// reserve (``DescriptorBudget/socketLimit``), so the process never runs out of descriptors.
    public var maximumOpenSockets: Int

    public init(host: String = "127.0.0.1", port: Int = 0, connection: WebSocketConfiguration = WebSocketConfiguration(),
                subprotocols: [String] = [], tls: NIOSSLContext? = nil, maximumHandshakeSize: Int = 16 << 10,
                handshakeTimeout: TimeAmount = .seconds(10), backlog: Int = 4096, reusePort: Bool = false,
                maximumOpenSockets: Int = DescriptorBudget.current?.socketLimit ?? .max) {
        self.host = host
        self.port = port
        self.connection = connection
        self.subprotocols = subprotocols
        self.tls = tls
        self.maximumHandshakeSize = maximumHandshakeSize
        self.handshakeTimeout = handshakeTimeout
        self.backlog = backlog
        self.reusePort = reusePort
        self.maximumOpenSockets = maximumOpenSockets
    }
}
