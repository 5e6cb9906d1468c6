import Hummingbird
import Logging
import NIOCore
import Testing
import SwitchboardWebSocket
import SwitchboardWebSocketNIO
@testable import SwitchboardServer

/// A Hummingbird router behind the WebSocket server's HTTP handover: HTTP and WebSocket on one port, over
/// real sockets.
@Suite struct HummingbirdBridgeTests {
    struct Unexpected: Error {}

    static func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("health") { _, _ in "ok" }
        router.post("echo") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            return Response(status: .ok, body: ResponseBody(byteBuffer: body))
        }
        router.get("fail") { _, _ -> String in throw Unexpected() }
        // Answers after a pause, so that requests pipelined behind it wait for it.
        router.get("slow") { _, _ -> String in
            try await Task.sleep(for: .milliseconds(200))
            return "slow"
        }
        return router
    }

    /// Runs `body` against a WebSocket echo server whose plain HTTP requests go to `router()`.
    private func withBridgedServer(idleTimeout: TimeAmount = .seconds(60),
                                   _ body: (_ port: Int) async throws -> Void) async throws {
        let logger = Logger(label: "test.bridge")
        let bridge = HummingbirdBridge(responder: Self.router().buildResponder(), idleTimeout: idleTimeout,
                                       serverName: "switchboard-test", logger: logger)
        let server = WebSocketServer(configuration: WebSocketServerConfiguration(), logger: logger, httpHandover: bridge.handover) { connection in
            for await message in connection.inbound { try? await connection.send(message) }
        }
        try await server.start()
        do {
            try await body(server.localAddress!.port!)
        } catch {
            await server.shutdown(gracePeriod: .seconds(2))
            throw error
        }
        await server.shutdown(gracePeriod: .seconds(2))
    }

    @Test func healthAnswers200WithItsBodyAndTheStandardFields() async throws {
        try await withBridgedServer { port in
            let connection = try await LoopbackHTTPConnection.connect(port: port)
            defer { Task { await connection.close() } }
            try await connection.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let response = try #require(try await connection.response())
            #expect(response.status == 200)
            #expect(response.body == "ok")
            #expect(response.header("Server") == "switchboard-test")
            // RFC 9110 §5.6.7 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
            let date = try #require(response.header("Date"))
            #expect(date.count == 29 && date.hasSuffix(" GMT"), "Date: \(date)")
        }
    }

    @Test func postEchoesItsBody() async throws {
        try await withBridgedServer { port in
            let connection = try await LoopbackHTTPConnection.connect(port: port)
            defer { Task { await connection.close() } }
            try await connection.write("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 13\r\n\r\nhello, bridge")
            let response = try #require(try await connection.response())
            #expect(response.status == 200)
            #expect(response.body == "hello, bridge")
        }
    }

    @Test func twoKeepAliveRequestsShareOneConnection() async throws {
        try await withBridgedServer { port in
            let connection = try await LoopbackHTTPConnection.connect(port: port)
            defer { Task { await connection.close() } }
            try await connection.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(try await connection.response()?.body == "ok")
            try await connection.write("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 6\r\n\r\nsecond")
            #expect(try await connection.response()?.body == "second")
            // And two more pipelined in one write.
            try await connection.write("GET /health HTTP/1.1\r\nHost: a\r\n\r\nPOST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nthird")
            #expect(try await connection.response()?.body == "ok")
            #expect(try await connection.response()?.body == "third")
        }
    }

    @Test func anUnknownPathIs404() async throws {
        try await withBridgedServer { port in
            let connection = try await LoopbackHTTPConnection.connect(port: port)
            defer { Task { await connection.close() } }
            try await connection.write("GET /no/such/thing HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(try await connection.response()?.status == 404)
        }
    }

    @Test func anErrorTheRouterDoesNotKnowIs500WithoutDetails() async throws {
        try await withBridgedServer { port in
            let connection = try await LoopbackHTTPConnection.connect(port: port)
            defer { Task { await connection.close() } }
            try await connection.write("GET /fail HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let response = try #require(try await connection.response())
            #expect(response.status == 500)
            #expect(!response.body.contains("Unexpected"))
            // The connection survives a failed request.
            try await connection.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            #expect(try await connection.response()?.body == "ok")
        }
    }

    @Test func aMalformedSecondRequestIs400AndCloses() async throws {
        try await withBridgedServer { port in
            let connection = try await LoopbackHTTPConnection.connect(port: port)
            defer { Task { await connection.close() } }
            try await connection.write("GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await connection.response()?.status == 200)
            try await connection.write("NOT HTTP AT ALL\r\n\r\n")
            #expect(try await connection.response()?.status == 400)
            #expect(try await connection.closedByServer())
        }
    }

    /// nginx reuses pooled keep-alive connections for upgrades: an upgrade behind plain requests on one
    /// connection is accepted once every earlier response is out, a slow one included, in order.
    @Test func anUpgradeBehindRequestsOnTheSameConnectionIsAcceptedAfterTheirResponses() async throws {
        try await withBridgedServer { port in
            let connection = try await LoopbackHTTPConnection.connect(port: port)
            defer { Task { await connection.close() } }
            try await connection.write("GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await connection.response()?.body == "ok")
            try await connection.write("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n"
                + "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            #expect(try await connection.response()?.body == "slow")
            let upgrade = try await connection.response()
            #expect(upgrade?.status == 101)
            #expect(upgrade?.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        }
    }

    @Test func anIdleKeepAliveConnectionIsClosedAfterTheIdleTimeout() async throws {
        try await withBridgedServer(idleTimeout: .milliseconds(300)) { port in
            let connection = try await LoopbackHTTPConnection.connect(port: port)
            defer { Task { await connection.close() } }
            try await connection.write("GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await connection.response()?.status == 200)
            #expect(try await connection.closedByServer())
        }
    }

    @Test func aWebSocketEchoesOnTheSamePort() async throws {
        try await withBridgedServer { port in
            let http = try await LoopbackHTTPConnection.connect(port: port)
            defer { Task { await http.close() } }
            let webSocket = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/ws")
            // Dropping the inbound sequence would close the connection (1001): keep it until the end.
            let inbound = webSocket.inbound.makeAsyncIterator()
            try await webSocket.send(.text("same port"))
            #expect(await inbound.next() == .text("same port"))
            // HTTP keeps working while the WebSocket is open.
            try await http.write("GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await http.response()?.body == "ok")
            #expect(await webSocket.close().code == .normalClosure)
            withExtendedLifetime(inbound) {}
        }
    }

    @Test(arguments: [
        (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),  // RFC 9110 §5.6.7's example
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
        (4_107_542_400, "Mon, 01 Mar 2100 00:00:00 GMT"),  // 2100 is not a leap year
        (4_133_980_799, "Fri, 31 Dec 2100 23:59:59 GMT"),
    ])
    func datesAreIMFFixdates(seconds: Int, expected: String) {
        #expect(HTTPDateCache.imfFixdate(secondsSince1970: seconds) == expected)
    }
}
