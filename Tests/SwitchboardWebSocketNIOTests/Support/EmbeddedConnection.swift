import Logging
import NIOCore
import NIOEmbedded
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// One connection's ``WebSocketChannelHandler`` on an `EmbeddedChannel`: the test hands it the peer's bytes,
/// reads what it wrote, and moves its event loop's clock with ``advance(by:)``. Nothing happens on its own,
/// so the timers (handshake timeout, heartbeat, close timeout) can be checked to the nanosecond on any
/// machine, however loaded (STYLE.md rule 17). Tests over real sockets check the same paths end to end, for
/// outcomes only.
final class EmbeddedConnection {
    let channel: EmbeddedChannel
    let delegate: RecordingDelegate
    let registry: ConnectionRegistry

    private init(channel: EmbeddedChannel, delegate: RecordingDelegate, registry: ConnectionRegistry) {
        self.channel = channel
        self.delegate = delegate
        self.registry = registry
    }

    /// A server's connection, active (as if just accepted) but with nothing read yet.
    static func server(_ configuration: WebSocketServerConfiguration = WebSocketServerConfiguration(),
                       httpHandover: WebSocketServer.HTTPHandover? = nil) throws -> EmbeddedConnection {
        let channel = EmbeddedChannel()
        let delegate = RecordingDelegate()
        let registry = ConnectionRegistry()
        let settings = ConnectionSettings(server: configuration, logger: Self.logger, registry: registry, upgradeHook: nil,
                                          httpHandover: httpHandover, makeDelegate: { _, _ in delegate })
        try channel.pipeline.syncOperations.addHandler(WebSocketChannelHandler(server: settings, eventLoop: channel.eventLoop))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
        return EmbeddedConnection(channel: channel, delegate: delegate, registry: registry)
    }

    /// A server's connection after a valid upgrade request and its 101 (which is read and dropped).
    static func upgradedServer(_ configuration: WebSocketServerConfiguration = WebSocketServerConfiguration()) throws -> EmbeddedConnection {
        let connection = try Self.server(configuration)
        try connection.receive(RawHTTP.upgradeRequest())
        var written = connection.written()
        guard RawHTTPResponse.parseHead(&written)?.status == 101 else { throw TestFailure("no 101 for a valid upgrade") }
        return connection
    }

    /// A client's connection, active (its upgrade request written) and waiting for the server's response;
    /// `upgraded` completes with the handshake.
    /// A client connect whose TCP connect takes `tcpConnect` of the loop's time before the upgrade is sent.
    static func client(_ configuration: WebSocketClientConfiguration = WebSocketClientConfiguration(), tcpConnect: TimeAmount = .zero)
        throws -> (connection: EmbeddedConnection, upgraded: EventLoopFuture<Void>) {
        let channel = EmbeddedChannel()
        let delegate = RecordingDelegate()
        let upgraded = channel.eventLoop.makePromise(of: Void.self)
        let handshake = ClientHandshake(host: "127.0.0.1", target: "/", key: RawHTTP.key)
        let settings = ConnectionSettings(client: configuration, logger: Self.logger,
                                          connectDeadline: channel.eventLoop.now + configuration.connectTimeout)
        let handler = WebSocketChannelHandler(client: settings, handshake: handshake,
                                              upgraded: upgraded, eventLoop: channel.eventLoop, delegate: delegate)
        try channel.pipeline.syncOperations.addHandler(handler)
        channel.embeddedEventLoop.advanceTime(by: tcpConnect)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9001)).wait()
        return (EmbeddedConnection(channel: channel, delegate: delegate, registry: ConnectionRegistry()), upgraded.futureResult)
    }

    /// One read of the peer's bytes (and the read-complete after it).
    func receive(_ bytes: [UInt8]) throws {
        try self.channel.writeInbound(self.channel.allocator.buffer(bytes: bytes))
    }

    func receive(_ text: String) throws {
        try self.receive(Array(text.utf8))
    }

    func receive(_ frame: RawFrame) throws {
        try self.receive(frame.encoded())
    }

    /// Everything the handler wrote since the last call, in order, once the loop's turn is over: writes made
    /// outside a read batch are flushed at the end of the turn (the flush coalescer's task).
    func written() -> ByteBuffer {
        self.channel.embeddedEventLoop.run()
        var all = ByteBuffer()
        while var part = try? self.channel.readOutbound(as: ByteBuffer.self) { all.writeBuffer(&part) }
        return all
    }

    /// The frames the handler wrote since the last call.
    func writtenFrames() -> [RawFrame] {
        var bytes = self.written()
        var frames: [RawFrame] = []
        while let frame = RawFrame.parse(&bytes) { frames.append(frame) }
        return frames
    }

    /// Moves the event loop's clock and runs the timers that came due.
    func advance(by amount: TimeAmount) {
        self.channel.embeddedEventLoop.advanceTime(by: amount)
    }

    /// Moves the clock `step` at a time until `condition` holds, and returns how far it moved; nil when it
    /// still does not hold after `limit`.
    func advance(by step: TimeAmount = .milliseconds(10), until condition: () -> Bool, limit: TimeAmount = .seconds(600)) -> TimeAmount? {
        var moved = TimeAmount.zero
        while !condition() {
            guard moved < limit else { return nil }
            self.advance(by: step)
            moved = moved + step
        }
        return moved
    }

    /// False once the handler closed the connection.
    var isActive: Bool { self.channel.isActive }

    private static let logger: Logger = {
        var logger = Logger(label: "test.embedded-connection")
        logger.logLevel = .critical
        return logger
    }()
}

/// Records what a connection tells its application; everything runs on the embedded loop's thread.
final class RecordingDelegate: WebSocketEventLoopHandler, @unchecked Sendable {
    var opened = 0
    var messages: [WebSocketMessage] = []
    var pongs = 0
    var closes: [WebSocketCloseStatus] = []

    func webSocketDidOpen(_ connection: WebSocketEventLoopConnection) { self.opened += 1 }
    func webSocket(_ connection: WebSocketEventLoopConnection, didReceive message: WebSocketMessage) { self.messages.append(message) }
    func webSocket(_ connection: WebSocketEventLoopConnection, didReceivePong data: ByteBuffer) { self.pongs += 1 }
    func webSocketDidClose(_ connection: WebSocketEventLoopConnection, status: WebSocketCloseStatus) { self.closes.append(status) }
}
