import NIOCore
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// The connection's timers on a clock the test moves (an `EmbeddedChannel`): the heartbeat, the handshake
/// timeout on both sides, and the close timeout. Each is checked on both sides of its deadline, which a
/// wall-clock test cannot do on a loaded machine; the end-to-end suites check the same behaviour over
/// sockets, for outcomes only.
///
/// Synchronous on purpose: an embedded loop belongs to the thread that made it.
@Suite struct ConnectionTimerTests {
    static let interval = TimeAmount.milliseconds(200)
    static let timeout = TimeAmount.seconds(1)
    /// The heartbeat sweeps every `min(interval, timeout)`, so its times are accurate to one period.
    static let sweep = TimeAmount.milliseconds(200)

    static func heartbeating(timeout: TimeAmount = Self.timeout) -> WebSocketServerConfiguration {
        var configuration = WebSocketServerConfiguration()
        configuration.connection.deflate = nil
        configuration.connection.heartbeat = .init(interval: Self.interval, timeout: timeout)
        return configuration
    }

    // MARK: - Heartbeat

    @Test func aSilentPeerIsPingedAfterTheIntervalAndDroppedWhenThePingGoesUnanswered() throws {
        let connection = try EmbeddedConnection.upgradedServer(Self.heartbeating())
        var frames: [RawFrame] = []
        let pingedAfter = try #require(connection.advance(until: {
            frames += connection.writtenFrames()
            return !frames.isEmpty
        }))
        #expect(frames.map(\.opcode) == [RawFrame.ping])
        #expect(pingedAfter >= Self.interval && pingedAfter <= Self.interval + Self.sweep, "pinged after \(pingedAfter)")

        let droppedAfter = try #require(connection.advance(until: { !connection.isActive }))
        #expect(droppedAfter >= Self.timeout && droppedAfter <= Self.timeout + Self.sweep, "dropped \(droppedAfter) after the ping")
        // Dropped without a close frame: a peer that does not answer pings would not read one either.
        #expect(connection.writtenFrames().isEmpty)
        #expect(connection.delegate.closes.map(\.code) == [.abnormalClosure])
        #expect(connection.delegate.closes.first?.initiatedLocally == true)
        #expect(connection.registry.count == 0)
    }

    @Test func aPeerThatAnswersEveryPingStaysConnected() throws {
        let connection = try EmbeddedConnection.upgradedServer(Self.heartbeating())
        var pings = 0
        // A minute of the loop's time: sixty timeouts.
        for _ in 0..<6000 {
            connection.advance(by: .milliseconds(10))
            for frame in connection.writtenFrames() where frame.opcode == RawFrame.ping {
                pings += 1
                try connection.receive(RawFrame(opcode: RawFrame.pong, payload: frame.payload))
            }
        }
        #expect(connection.isActive)
        #expect(connection.delegate.closes.isEmpty)
        // Pinged whenever silent for an interval (every other sweep when each ping is answered at once).
        #expect(pings >= 60, "\(pings) pings in a minute")

        // It stops answering: dropped, as any silent peer.
        let droppedAfter = try #require(connection.advance(until: { !connection.isActive }))
        #expect(droppedAfter <= Self.interval + Self.sweep + Self.timeout + Self.sweep)
    }

    @Test func aPeerThatKeepsTalkingIsNeverPinged() throws {
        let connection = try EmbeddedConnection.upgradedServer(Self.heartbeating())
        for _ in 0..<400 {
            connection.advance(by: .milliseconds(150))
            try connection.receive(RawFrame(opcode: RawFrame.text, payload: Array("still here".utf8)))
        }
        #expect(connection.isActive)
        #expect(connection.writtenFrames().allSatisfy { $0.opcode != RawFrame.ping })
        #expect(connection.delegate.messages.count == 400)
    }

    // MARK: - Handshake timeout

    @Test func aClientThatNeverFinishesItsRequestIsDroppedAtTheHandshakeTimeout() throws {
        var configuration = WebSocketServerConfiguration()
        configuration.handshakeTimeout = .seconds(10)
        let connection = try EmbeddedConnection.server(configuration)
        try connection.receive("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
        connection.advance(by: .seconds(10) - .nanoseconds(1))
        #expect(connection.isActive, "dropped before the handshake timeout")
        connection.advance(by: .nanoseconds(1))
        #expect(!connection.isActive)
        // Slowloris gets no answer.
        #expect(connection.written().readableBytes == 0)
        #expect(connection.registry.count == 0)
    }

    /// The handshake timeout is for WebSocket handshakes: a connection handed over to HTTP keeps no timer of
    /// this handler, so a keep-alive connection outlives it.
    @Test func aHandedOverKeepAliveConnectionOutlivesTheHandshakeTimeout() throws {
        var configuration = WebSocketServerConfiguration()
        configuration.handshakeTimeout = .seconds(1)
        let connection = try EmbeddedConnection.server(configuration, httpHandover: HTTPHandoverEndToEndTests.tinyHTTPServer())
        try connection.receive("GET /first HTTP/1.1\r\nHost: a\r\n\r\n")
        var written = connection.written()
        #expect(RawHTTPResponse.parseWithContentLength(&written)?.body == "GET /first ")
        connection.advance(by: .seconds(60))
        #expect(connection.isActive)
        try connection.receive("GET /second HTTP/1.1\r\nHost: a\r\n\r\n")
        written = connection.written()
        #expect(RawHTTPResponse.parseWithContentLength(&written)?.body == "GET /second ")
    }

    @Test(arguments: [(TimeAmount.seconds(1), "within 1 s"), (.milliseconds(700), "within 700 ms")])
    func aClientWhoseServerNeverAnswersGivesUpAtTheConnectTimeout(timeout: TimeAmount, described: String) throws {
        var configuration = WebSocketClientConfiguration()
        configuration.connectTimeout = timeout
        let (connection, upgraded) = try EmbeddedConnection.client(configuration)
        #expect(String(buffer: connection.written()).hasPrefix("GET / HTTP/1.1\r\n"))
        var outcome: Result<Void, any Error>?
        upgraded.assumeIsolated().whenComplete { outcome = $0 }
        connection.advance(by: timeout - .nanoseconds(1))
        #expect(outcome == nil, "gave up before the connect timeout")
        #expect(connection.isActive)
        connection.advance(by: .nanoseconds(1))
        guard case .failure(let error as WebSocketTransportError)? = outcome else {
            Issue.record("expected a handshake timeout, got \(String(describing: outcome))")
            return
        }
        #expect(error.isTimeout)
        #expect(error.message.hasSuffix(described), "\(error)")
        #expect(!connection.isActive)
    }

    /// One deadline covers the whole connect: time the TCP connect took is not given again to the upgrade.
    @Test func aSlowTCPConnectLeavesTheHandshakeWhatIsLeftOfTheConnectTimeout() throws {
        var configuration = WebSocketClientConfiguration()
        configuration.connectTimeout = .seconds(1)
        let (connection, upgraded) = try EmbeddedConnection.client(configuration, tcpConnect: .milliseconds(400))
        var outcome: Result<Void, any Error>?
        upgraded.assumeIsolated().whenComplete { outcome = $0 }
        connection.advance(by: .milliseconds(600) - .nanoseconds(1))
        #expect(outcome == nil, "gave up before the connect timeout")
        connection.advance(by: .nanoseconds(1))
        guard case .failure(let error as WebSocketTransportError)? = outcome else {
            Issue.record("expected a timeout 1 s after the connect began, got \(String(describing: outcome))")
            return
        }
        #expect(error.isTimeout)
        #expect(error.message == "no WebSocket handshake response within 1 s", "\(error)")
    }

    // MARK: - Close timeout

    /// After a protocol violation the server sends its close frame and waits for the peer's: TCP closes as
    /// soon as that arrives, or at the close timeout when it never does.
    @Test(arguments: [true, false])
    func afterAViolationTCPClosesWithTheCloseHandshakeOrAtTheCloseTimeout(peerAnswersClose: Bool) throws {
        var configuration = WebSocketServerConfiguration()
        configuration.connection.deflate = nil
        configuration.connection.heartbeat = nil
        configuration.connection.closeTimeout = .seconds(5)
        let connection = try EmbeddedConnection.upgradedServer(configuration)
        // Unmasked: a client's frames must be masked (RFC 6455 §5.1).
        try connection.receive(RawFrame(opcode: RawFrame.text, payload: Array("hi".utf8)).encoded(maskKey: nil))
        #expect(connection.writtenFrames().map(\.closeCode) == [1002])
        if peerAnswersClose {
            try connection.receive(RawFrame.closeFrame(code: 1002))
            #expect(!connection.isActive, "the close handshake completed, so TCP closes at once")
        } else {
            connection.advance(by: .seconds(5) - .nanoseconds(1))
            #expect(connection.isActive, "closed before the close timeout")
            connection.advance(by: .nanoseconds(1))
            #expect(!connection.isActive)
        }
        #expect(connection.delegate.closes.map(\.code) == [.protocolError])
    }

    /// Shutdown's event: the close frame with the given code, and TCP closed as soon as the peer answers;
    /// the wait for a peer that never answers is bounded by the close timeout (and, no close frame having
    /// come back, it ends as 1006).
    @Test(arguments: [true, false])
    func aGracefulShutdownEventClosesWithItsCode(peerAnswersClose: Bool) throws {
        var configuration = WebSocketServerConfiguration()
        configuration.connection.heartbeat = nil
        configuration.connection.closeTimeout = .seconds(5)
        let connection = try EmbeddedConnection.upgradedServer(configuration)
        connection.channel.pipeline.triggerUserOutboundEvent(GracefulShutdownEvent(code: .goingAway, reason: "server shutting down"), promise: nil)
        let close = try #require(connection.writtenFrames().first)
        #expect(close.closeCode == 1001)
        #expect(close.payload.dropFirst(2).elementsEqual("server shutting down".utf8))
        if peerAnswersClose {
            try connection.receive(RawFrame.closeFrame(code: 1001))
            #expect(!connection.isActive)
        } else {
            connection.advance(by: .seconds(5) - .nanoseconds(1))
            #expect(connection.isActive)
            connection.advance(by: .nanoseconds(1))
            #expect(!connection.isActive)
        }
        #expect(connection.delegate.closes.map(\.code) == [peerAnswersClose ? .goingAway : .abnormalClosure])
        #expect(connection.delegate.closes.first?.initiatedLocally == true)
    }

    // MARK: - Closing before the end of the turn

    /// A push sent outside a read batch waits for the end of the event-loop turn; a close that comes first
    /// (a shutdown's grace period running out while the loop was busy) must not lose it.
    @Test func whatWaitsForTheEndOfTheTurnLeavesBeforeTheSocketCloses() throws {
        var configuration = WebSocketServerConfiguration()
        configuration.connection.heartbeat = nil
        let connection = try EmbeddedConnection.upgradedServer(configuration)
        let handler = try connection.channel.pipeline.syncOperations.handler(type: WebSocketChannelHandler.self)
        try WebSocketEventLoopConnection(handler: handler).send(WebSocketPreparedMessage(.text("the last push")))
        connection.channel.close(promise: nil)
        let frames = connection.writtenFrames()
        #expect(frames.map(\.opcode) == [RawFrame.text])
        #expect(frames.first.map { Array($0.payload) } == Array("the last push".utf8))
    }

    /// Shutdown's close frame leaves at once, so a close right behind it cannot overtake it.
    @Test func aShutdownCloseFrameIsWrittenBeforeAnImmediateClose() throws {
        var configuration = WebSocketServerConfiguration()
        configuration.connection.heartbeat = nil
        let connection = try EmbeddedConnection.upgradedServer(configuration)
        connection.channel.pipeline.triggerUserOutboundEvent(GracefulShutdownEvent(code: .serviceRestart, reason: "restart"), promise: nil)
        connection.channel.close(promise: nil)
        #expect(connection.writtenFrames().map(\.closeCode) == [1012])
    }
}
