import NIOCore
import SwitchboardTestSupport
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// An upgrade may come on any request of a keep-alive connection (nginx reuses its pooled upstream
/// connections for upgrades), and no request may leave a connection that silently stops answering.
@Suite struct HTTPKeepAliveUpgradeEndToEndTests {
    private static let deadline = Duration.seconds(20)

    private func connect(_ server: WebSocketServer) async throws -> RawConnection {
        try await RawConnection.connect(port: server.localAddress!.port!)
    }

    @Test(arguments: TestTransport.all) func anUpgradeOnTheSecondRequestOpensAWebSocket(transport: TestTransport) async throws {
        try await withServer(transport: transport, httpHandover: HTTPHandoverEndToEndTests.tinyHTTPServer(), handler: asyncEcho) { server, _ in
            let raw = try await connect(server)
            defer { Task { await raw.close() } }
            try await raw.write("GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await raw.response().body == "GET /health ")
            #expect(await eventually(within: Self.deadline) { server.connectionCount == 0 })

            try await raw.write(RawHTTP.upgradeRequest(target: "/ws"))
            let upgrade = try await raw.receive(within: Self.deadline, RawHTTPResponse.parseHead)
            #expect(upgrade?.status == 101)
            #expect(upgrade?.header("Sec-WebSocket-Accept") == RawHTTP.expectedAccept)
            try await raw.send(RawFrame(opcode: RawFrame.text, payload: Array("after HTTP".utf8)))
            #expect(try await raw.nextFrame(within: Self.deadline) == RawFrame(opcode: RawFrame.text, payload: Array("after HTTP".utf8)))
            // A WebSocket connection of the server again, which shutdown closes with a close frame.
            #expect(server.connectionCount == 1)
        }
    }

    /// Pipelined requests before the upgrade are all answered, in order, before the 101; a frame the
    /// client sent right behind its upgrade request is not lost while the HTTP side finishes.
    @Test(arguments: TestTransport.all) func anUpgradePipelinedBehindRequestsComesAfterTheirResponses(transport: TestTransport) async throws {
        try await withServer(transport: transport, httpHandover: HTTPHandoverEndToEndTests.tinyHTTPServer(), handler: asyncEcho) { server, _ in
            let raw = try await connect(server)
            defer { Task { await raw.close() } }
            let frame = RawFrame(opcode: RawFrame.text, payload: Array("eager".utf8))
            var bytes = ByteBuffer(string: "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
                + "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
                + "POST /three HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"
                + RawHTTP.upgradeRequest(target: "/ws"))
            bytes.writeBytes(frame.encoded())
            try await raw.write(bytes)
            var bodies: [String] = []
            for _ in 0..<3 { bodies.append(try await raw.response().body) }
            #expect(bodies == ["GET /one ", "POST /two xyz", "POST /three abcd"])
            #expect(try await raw.receive(within: Self.deadline, RawHTTPResponse.parseHead)?.status == 101)
            #expect(try await raw.nextFrame(within: Self.deadline) == frame)
        }
    }

    /// A broken upgrade on a later request gets the handshake's own answer, then the connection closes.
    @Test(arguments: TestTransport.all) func aBrokenUpgradeOnALaterRequestGetsTheHandshakeRejection(transport: TestTransport) async throws {
        try await withServer(transport: transport, httpHandover: HTTPHandoverEndToEndTests.tinyHTTPServer(), handler: asyncEcho) { server, _ in
            let raw = try await connect(server)
            try await raw.write("GET /first HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await raw.response().body == "GET /first ")
            try await raw.write(RawHTTP.upgradeRequest(omitting: ["Sec-WebSocket-Key"]))
            let rejection = RawHTTPResponse.parse(try await raw.readToEnd(within: Self.deadline))
            #expect(rejection?.status == 400)
            #expect(rejection?.body.contains("Sec-WebSocket-Key") == true)
        }
    }

    /// NIOHTTP1 reads nothing after a request that switches to another protocol: it is answered by the
    /// HTTP side, and then the connection closes instead of ignoring every later request.
    @Test(arguments: ["GET /h2c HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
                      "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n"], TestTransport.all)
    func anotherProtocolsUpgradeIsAnsweredThenTheConnectionCloses(_ request: String, transport: TestTransport) async throws {
        try await withServer(transport: transport, httpHandover: HTTPHandoverEndToEndTests.tinyHTTPServer(), handler: asyncEcho) { server, _ in
            for first in [true, false] {
                let raw = try await connect(server)
                if !first {
                    try await raw.write("GET /before HTTP/1.1\r\nHost: a\r\n\r\n")
                    #expect(try await raw.response().body == "GET /before ")
                }
                try await raw.write(request + "GET /after HTTP/1.1\r\nHost: a\r\n\r\n")
                let rest = try await raw.readToEnd(within: Self.deadline)
                let answer = RawHTTPResponse.parse(rest)
                #expect(answer?.status == 200, "first request: \(first)")
                #expect(!String(buffer: rest).contains("/after"), "nothing after the switching request is served")
            }
        }
    }
}
