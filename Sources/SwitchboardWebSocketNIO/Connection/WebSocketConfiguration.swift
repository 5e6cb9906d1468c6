import NIOCore
import SwitchboardWebSocket

/// How one WebSocket connection behaves once open; shared by servers and clients.
public struct WebSocketConfiguration: Sendable {
    /// Frame and message size limits (a larger frame or message closes the connection with 1009).
    public var limits: WebSocketLimits
    /// permessage-deflate (RFC 7692) to offer or accept; nil turns compression off.
    public var deflate: PerMessageDeflateConfiguration?
    /// Ping a silent peer every `interval` and close it when nothing arrives within `timeout`; nil disables.
    public var heartbeat: Heartbeat?
    /// How long to wait for the peer's close frame (or, for a client, the server's TCP close) after ours.
    public var closeTimeout: TimeAmount
    /// Bytes the connection may hold for a peer that does not read. Past this the connection is closed
    /// (a slow consumer must not grow the server's memory); sends wait for the buffer to drain long before.
    public var maximumOutboundBufferSize: Int
    /// The code a dropped slow consumer's ``WebSocketCloseStatus`` reports locally (1008 by default). The
    /// peer is not reading, so no close frame can reach it: this is for the application's logs and metrics.
    public var slowConsumerCloseCode: CloseCode = .policyViolation
    /// The code a peer dropped for missing its heartbeat deadline reports locally (1006 by default, as for any
    /// connection that ends without a close frame).
    public var heartbeatTimeoutCloseCode: CloseCode = .abnormalClosure
    /// Inbound messages buffered for an application that has not read them; past this the transport stops
    /// reading the socket (TCP backpressure) until the application catches up.
    public var inboundBufferSize: Int
    /// Pings a peer may send in one second; one more closes the connection with 1008. Each ping costs a pong
    /// and a write, so a peer that floods them (and reads the pongs) would otherwise have the node answer
    /// at line rate. Nil: no limit.
    public var maximumPingsPerSecond: Int?

    public struct Heartbeat: Sendable, Hashable {
        public var interval: TimeAmount
        public var timeout: TimeAmount

        public init(interval: TimeAmount = .seconds(30), timeout: TimeAmount = .seconds(10)) {
            self.interval = interval
            self.timeout = timeout
        }
    }

    public init(limits: WebSocketLimits = .applicationDefault,
                deflate: PerMessageDeflateConfiguration? = PerMessageDeflateConfiguration(),
                heartbeat: Heartbeat? = Heartbeat(),
                closeTimeout: TimeAmount = .seconds(5),
                maximumOutboundBufferSize: Int = 4 << 20,
                inboundBufferSize: Int = 64) {
        self.limits = limits
        self.deflate = deflate
        self.heartbeat = heartbeat
        self.closeTimeout = closeTimeout
        self.maximumOutboundBufferSize = maximumOutboundBufferSize
        self.inboundBufferSize = inboundBufferSize
    }
}
