import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import SwitchboardTestSupport
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// One port for WebSocket and plain HTTP: requests that do not ask for the upgrade go to the HTTP handover
/// with every byte read so far, however the head and body were split, and upgrades keep working beside them.
@Suite struct HTTPHandoverEndToEndTests {
    /// Answers each request with `200` and a body naming its method, target and body.
    final class EchoResponder: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private var head: HTTPRequestHead?
        private var body = ByteBuffer()

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                self.body.clear()
            case .body(var chunk):
                self.body.writeBuffer(&chunk)
            case .end:
                guard let head = self.head else { return }
                let text = "\(head.method) \(head.uri) \(String(buffer: self.body))"
                var headers = HTTPHeaders([("Content-Length", "\(text.utf8.count)")])
                if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
                context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
                context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }

    /// The handover a server with an HTTP application would install: NIOHTTP1's server pipeline and a
    /// responder. `quiescing: false` leaves out the handler that closes idle connections on shutdown. The
    /// responder answers each request as its end arrives, so when a release comes every request passed
    /// on is answered: releasing is taking the handlers off.
    static func tinyHTTPServer(quiescing: Bool = true) -> WebSocketServer.HTTPHandover {
        { channel in
            var handlers: [any RemovableChannelHandler] = [HTTPResponseEncoder(), ByteToMessageHandler(HTTPRequestDecoder())]
            if quiescing { handlers.append(HTTPServerPipelineHandler()) }
            handlers += [HTTPServerProtocolErrorHandler(), EchoResponder()]
            try channel.pipeline.syncOperations.addHandlers(handlers)
            return { released in
                for handler in handlers { channel.pipeline.syncOperations.removeHandler(handler, promise: nil) }
                released.succeed()
            }
        }
    }

    private func connect(_ server: WebSocketServer, noDelay: Bool = false) async throws -> RawConnection {
        try await RawConnection.connect(port: server.localAddress!.port!, noDelay: noDelay)
    }

    @Test(arguments: TestTransport.all) func aGetIsHandedOverAndAnswered(transport: TestTransport) async throws {
        try await withServer(transport: transport, httpHandover: Self.tinyHTTPServer(), handler: asyncEcho) { server, _ in
            let raw = try await connect(server)
            defer { Task { await raw.close() } }
            try await raw.write("GET /health?verbose=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let answer = try await raw.response()
            #expect(answer.status == 200)
            #expect(answer.body == "GET /health?verbose=1 ")
            // Handed over: no longer a WebSocket connection of this server.
            #expect(await eventually { server.connectionCount == 0 })
        }
    }

    /// One segment per byte, each write awaited: 68 round trips through the client's event loop, which a
    /// loaded machine (Autobahn's fuzzing beside it in CI) stretched past the default 10 s handshake timeout
    /// once, closing the connection mid-head. The timeout is not what this test is about: it gets ten minutes.
    @Test(arguments: TestTransport.all) func aHeadSplitByteByByteIsAnswered(transport: TestTransport) async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.handshakeTimeout = .minutes(10)
        try await withServer(transport: transport, configuration: configuration, httpHandover: Self.tinyHTTPServer(), handler: asyncEcho) { server, _ in
            let raw = try await connect(server, noDelay: true)
            defer { Task { await raw.close() } }
            let request = "POST /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\n\r\nbody"
            for byte in request.utf8 { try await raw.write([byte]) }
            let answer = try await raw.response()
            #expect(answer.body == "POST /slow body")
        }
    }

    @Test(arguments: TestTransport.all) func pipelinedRequestsInOneWriteAreAllAnsweredInOrder(transport: TestTransport) async throws {
        try await withServer(transport: transport, httpHandover: Self.tinyHTTPServer(), handler: asyncEcho) { server, _ in
            let raw = try await connect(server)
            defer { Task { await raw.close() } }
            try await raw.write("GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
                + "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
                + "GET /three HTTP/1.1\r\nHost: a\r\n\r\n")
            var bodies: [String] = []
            for _ in 0..<3 { bodies.append(try await raw.response().body) }
            #expect(bodies == ["GET /one ", "POST /two xyz", "GET /three "])
        }
    }

    @Test(arguments: TestTransport.all) func webSocketUpgradesOnTheSameServerStillWork(transport: TestTransport) async throws {
        try await withServer(transport: transport, httpHandover: Self.tinyHTTPServer(), handler: asyncEcho) { server, url in
            let connection = try await WebSocketClient.connect(to: url + "/ws")
            // Dropping the inbound sequence would close the connection (1001): keep it until the end.
            let inbound = connection.inbound.makeAsyncIterator()
            try await connection.send(.text("still WebSocket"))
            #expect(await inbound.next() == .text("still WebSocket"))
            #expect(server.connectionCount == 1)

            // HTTP beside it.
            let raw = try await connect(server)
            try await raw.write("GET /beside HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await raw.response().body == "GET /beside ")
            await raw.close()
            #expect(await connection.close().code == .normalClosure)
            withExtendedLifetime(inbound) {}
        }
    }

    /// A request that asks for the upgrade stays WebSocket's even when it is broken, so it gets the
    /// handshake's precise answer rather than whatever the HTTP application says.
    @Test(arguments: TestTransport.all) func aBrokenUpgradeGetsTheHandshakeRejectionNotTheHandover(transport: TestTransport) async throws {
        try await withServer(transport: transport, httpHandover: Self.tinyHTTPServer(), handler: asyncEcho) { server, _ in
            let raw = try await connect(server)
            try await raw.write(RawHTTP.upgradeRequest(omitting: ["Sec-WebSocket-Key"]))
            let response = RawHTTPResponse.parse(try await raw.readToEnd())
            #expect(response?.status == 400)
            #expect(response?.body.contains("Sec-WebSocket-Key") == true)
        }
    }

    @Test(arguments: TestTransport.all) func withoutAHandoverAPlainGetIsStillRefused(transport: TestTransport) async throws {
        try await withServer(transport: transport, handler: asyncEcho) { server, _ in
            let raw = try await connect(server)
            try await raw.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let response = RawHTTPResponse.parse(try await raw.readToEnd())
            #expect(response?.status == 426)
        }
    }

    @Test(arguments: TestTransport.all) func aThrowingHandoverClosesTheConnection(transport: TestTransport) async throws {
        struct Refused: Error {}
        try await withServer(transport: transport, httpHandover: { _ in throw Refused() }, handler: asyncEcho) { server, _ in
            let raw = try await connect(server)
            try await raw.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await raw.readToEnd().readableBytes == 0)
        }
    }

    /// With TLS the handed-over bytes are plaintext already: they must reach the HTTP handlers without
    /// passing through the TLS handler a second time.
    @Test func overTLSTheHandedOverRequestIsAnswered() async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.tls = try TestCertificates.serverContext()
        try await withServer(configuration: configuration, httpHandover: Self.tinyHTTPServer(), handler: asyncEcho) { server, url in
            let raw = try await RawConnection.connect(port: server.localAddress!.port!, tls: try TestCertificates.trustingClientConfiguration())
            defer { Task { await raw.close() } }
            try await raw.write("POST /secure HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nsecret")
            #expect(try await raw.response().body == "POST /secure secret")
            try await raw.write("GET /again HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await raw.response().body == "GET /again ")

            var client = WebSocketClientConfiguration()
            client.tls = try TestCertificates.trustingClientConfiguration()
            let connection = try await WebSocketClient.connect(to: url, configuration: client)
            let inbound = connection.inbound.makeAsyncIterator()
            try await connection.send(.text("wss beside https"))
            #expect(await inbound.next() == .text("wss beside https"))
            #expect(await connection.close().code == .normalClosure)
            withExtendedLifetime(inbound) {}
        }
    }

    /// Shutdown asks handed-over connections to quiesce: an idle keep-alive connection closes at once, so
    /// shutdown does not wait out its grace period.
    @Test(arguments: TestTransport.all) func shutdownClosesAnIdleKeepAliveConnectionWithoutWaitingOutTheGracePeriod(transport: TestTransport) async throws {
        let server = WebSocketServer(configuration: WebSocketServerConfiguration(), eventLoopGroup: transport.group,
                                     httpHandover: Self.tinyHTTPServer(), handler: asyncEcho)
        try await server.start()
        let raw = try await connect(server)
        try await raw.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        _ = try await raw.response()
        // A grace period no test waits out: shutdown returns only because the connection closed.
        try await withTimeout(TestPatience.default, "shutdown") { await server.shutdown(gracePeriod: .hours(1)) }
        try await raw.readToEnd()
    }

    /// HTTP handlers that ignore the quiesce event are closed when the grace period ends.
    @Test(arguments: TestTransport.all) func shutdownClosesHandedOverConnectionsThatIgnoreQuiescingAfterTheGracePeriod(transport: TestTransport) async throws {
        let server = WebSocketServer(configuration: WebSocketServerConfiguration(), eventLoopGroup: transport.group,
                                     httpHandover: Self.tinyHTTPServer(quiescing: false), handler: asyncEcho)
        try await server.start()
        let raw = try await connect(server)
        try await raw.write("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        _ = try await raw.response()
        let started = ContinuousClock.now
        try await withTimeout(TestPatience.default, "shutdown") { await server.shutdown(gracePeriod: .milliseconds(300)) }
        // Not before the grace period ended (how long after is the machine's business).
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(300), "shutdown took \(elapsed), less than the grace period")
        try await raw.readToEnd()
    }
}
