import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import SwitchboardTestSupport
import SwitchboardWebSocket

/// A bare TCP client for tests that must speak to the server byte by byte: malformed handshakes, frames
/// that break the protocol, peers that never read or never answer.
///
/// Everything received is kept in one buffer; waits poll it (a few milliseconds apart) until ``TestPatience``
/// runs out, so a test fails with ``TestTimeout`` instead of hanging.
final class RawConnection: Sendable {
    private struct State {
        var received = ByteBuffer()
        var endOfStream = false
    }

    let channel: any Channel
    private let state: NIOLockedValueBox<State>

    private init(channel: any Channel, state: NIOLockedValueBox<State>) {
        self.channel = channel
        self.state = state
    }

    /// Connects to `127.0.0.1:port`; a small `receiveBufferSize` (`SO_RCVBUF`) makes a peer that stops
    /// reading push back sooner; `tls` speaks TLS (the bytes kept are the decrypted ones); `noDelay` sends
    /// each write at once (`TCP_NODELAY`), so that small writes reach the server as separate reads.
    static func connect(port: Int, receiveBufferSize: Int? = nil, tls: TLSConfiguration? = nil,
                        noDelay: Bool = false) async throws -> RawConnection {
        let state = NIOLockedValueBox(State())
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(TimeAmount(TestPatience.default))
        if let receiveBufferSize {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBufferSize))
        }
        if noDelay {
            bootstrap = bootstrap.channelOption(.socketOption(.tcp_nodelay), value: 1)
        }
        let sslContext = try tls.map { try NIOSSLContext(configuration: $0) }
        let channel = try await bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(Collector(state: state))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return RawConnection(channel: channel, state: state)
    }

    func write(_ bytes: ByteBuffer) async throws {
        try await self.channel.writeAndFlush(bytes)
    }

    func write(_ text: String) async throws {
        try await self.write(ByteBuffer(string: text))
    }

    func write(_ bytes: [UInt8]) async throws {
        try await self.write(ByteBuffer(bytes: bytes))
    }

    /// From now on the socket is not read (a peer that stopped reading: its TCP window closes).
    func stopReading() async throws {
        try await self.channel.setOption(.autoRead, value: false).get()
    }

    /// Reads again (and sees what queued up meanwhile, and the end of the stream). A connection the peer
    /// has reset meanwhile is already at its end: nothing is left to read.
    func resumeReading() async throws {
        do {
            try await self.channel.setOption(.autoRead, value: true).get()
        } catch ChannelError.ioOnClosedChannel {
            self.state.withLockedValue { $0.endOfStream = true }
        }
    }

    var isClosedByPeer: Bool { self.state.withLockedValue { $0.endOfStream } }

    /// Waits until `parse` extracts a value from the bytes received so far; it must consume exactly what it
    /// returns and nothing when it returns nil.
    /// Returns nil when the connection ended first.
    func receive<Value>(within timeout: Duration = TestPatience.default, _ parse: @Sendable (inout ByteBuffer) -> Value?) async throws -> Value? {
        let deadline = ContinuousClock.now + timeout
        while true {
            // `parse` consumes only what it returns (parsers here move the reader index on success only),
            // so it works on the buffer in place: no copy of a large backlog per frame.
            let (value, ended): (Value?, Bool) = self.state.withLockedValue { state in
                if let value = parse(&state.received) { return (value, false) }
                return (nil, state.endOfStream)
            }
            if let value { return value }
            if ended { return nil }
            guard ContinuousClock.now < deadline else { throw TestTimeout("nothing parsable arrived within \(timeout)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Waits until the peer closes the connection; returns everything not yet consumed.
    @discardableResult
    func readToEnd(within timeout: Duration = TestPatience.default) async throws -> ByteBuffer {
        let deadline = ContinuousClock.now + timeout
        while true {
            let done: ByteBuffer? = self.state.withLockedValue { state in
                state.endOfStream ? state.received : nil
            }
            if let done { return done }
            guard ContinuousClock.now < deadline else { throw TestTimeout("the peer did not close the connection within \(timeout)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Sends the opening handshake of a valid client and waits for the 101.
    func upgrade(target: String = "/", extraHeaders: [(String, String)] = []) async throws -> RawHTTPResponse {
        try await self.write(RawHTTP.upgradeRequest(target: target, extraHeaders: extraHeaders))
        guard let response = try await self.receive(RawHTTPResponse.parseHead) else {
            throw TestFailure("the server closed the connection instead of answering the upgrade")
        }
        guard response.status == 101 else { throw TestFailure("expected 101, got \(response.status)") }
        return response
    }

    func close() async {
        try? await self.channel.close()
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let state: NIOLockedValueBox<State>

        init(state: NIOLockedValueBox<State>) { self.state = state }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = self.unwrapInboundIn(data)
            self.state.withLockedValue { state in
                if state.received.readerIndex > 1 << 20 { state.received.discardReadBytes() }
                state.received.writeBuffer(&bytes)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.state.withLockedValue { $0.endOfStream = true }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            // A reset counts as the end of the stream for these tests.
            context.close(promise: nil)
        }
    }
}

/// A bare TCP server for client tests: it accepts and then misbehaves as told.
final class RawServer: Sendable {
    enum Behaviour: Sendable {
        /// Accepts, reads and discards, never answers.
        case silent
        /// Accepts and closes at once.
        case closeImmediately
        /// Answers the first bytes with `response` and closes.
        case respond(String)
        /// Completes a valid WebSocket handshake, then reads and discards everything and never answers.
        case upgradeThenSilent
    }

    private let channel: any Channel
    private let children: NIOLockedValueBox<[any Channel]>
    var port: Int { self.channel.localAddress!.port! }

    private init(channel: any Channel, children: NIOLockedValueBox<[any Channel]>) {
        self.channel = channel
        self.children = children
    }

    static func start(_ behaviour: Behaviour) async throws -> RawServer {
        let children = NIOLockedValueBox<[any Channel]>([])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                children.withLockedValue { $0.append(channel) }
                switch behaviour {
                case .silent:
                    return channel.eventLoop.makeSucceededVoidFuture()
                case .closeImmediately:
                    return channel.close()
                case .respond(let response):
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Responder(response: response))
                    }
                case .upgradeThenSilent:
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(SilentUpgrader())
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return RawServer(channel: channel, children: children)
    }

    func stop() async {
        try? await self.channel.close()
        for child in self.children.withLockedValue({ $0 }) { try? await child.close() }
    }

    private final class Responder: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let response: String
        init(response: String) { self.response = response }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: self.response))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }
}

/// Answers the client's upgrade request with a correct 101, then ignores the connection.
private final class SilentUpgrader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var head = ""
    private var upgraded = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.upgraded else { return }
        self.head += String(buffer: self.unwrapInboundIn(data))
        guard self.head.contains("\r\n\r\n") else { return }
        self.upgraded = true
        let key = self.head.splitting(on: "\r\n")
            .first { $0.lowercased().hasPrefix("sec-websocket-key:") }
            .map { String($0.dropFirst("sec-websocket-key:".count)).trimmingSpaces } ?? ""
        let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: \(WebSocketAcceptKey.accept(forKey: key))\r\n\r\n"
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: response)), promise: nil)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
