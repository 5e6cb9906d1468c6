import NIOConcurrencyHelpers
import NIOCore
import SwitchboardTestSupport
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// Opening handshakes the server must refuse, sent over raw TCP: the status, its required fields, the
/// reason in the body, and the server closing the connection afterwards.
@Suite struct HandshakeRejectionEndToEndTests {
    /// Sends `request`, reads until the server closes, and parses the response.
    private func exchange(_ request: String, port: Int) async throws -> RawHTTPResponse {
        let raw = try await RawConnection.connect(port: port)
        defer { Task { await raw.close() } }
        try await raw.write(request)
        let bytes = try await raw.readToEnd()
        guard let response = RawHTTPResponse.parse(bytes) else {
            throw TestFailure("no HTTP response, got \(bytes.readableBytes) bytes: \(String(buffer: bytes))")
        }
        return response
    }

    private func port(of server: WebSocketServer) -> Int { server.localAddress!.port! }

    @Test(arguments: TestTransport.all) func aPlainGetWithoutUpgradeFieldsGets426(transport: TestTransport) async throws {
        try await withServer(transport: transport, handler: asyncEcho) { server, _ in
            let response = try await exchange("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", port: port(of: server))
            #expect(response.status == 426)
            #expect(response.header("Upgrade")?.lowercased() == "websocket")
            #expect(response.header("Connection")?.lowercased().contains("close") == true)
            #expect(!response.body.isEmpty)
        }
    }

    @Test(arguments: TestTransport.all) func aWrongWebSocketVersionGets426NamingVersion13(transport: TestTransport) async throws {
        try await withServer(transport: transport, handler: asyncEcho) { server, _ in
            let response = try await exchange(RawHTTP.upgradeRequest(version: "8"), port: port(of: server))
            #expect(response.status == 426)
            #expect(response.header("Sec-WebSocket-Version") == "13")
        }
    }

    @Test(arguments: TestTransport.all) func aPostGets405AllowingGet(transport: TestTransport) async throws {
        try await withServer(transport: transport, handler: asyncEcho) { server, _ in
            let request = RawHTTP.upgradeRequest().replacingPrefix("GET ", with: "POST ")
            let response = try await exchange(request, port: port(of: server))
            #expect(response.status == 405)
            #expect(response.header("Allow") == "GET")
        }
    }

    @Test(arguments: TestTransport.all) func aHeadLargerThanTheLimitGets431(transport: TestTransport) async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.maximumHandshakeSize = 1024
        try await withServer(transport: transport, configuration: configuration, handler: asyncEcho) { server, _ in
            let padding = String(repeating: "a", count: 2000)
            let response = try await exchange(RawHTTP.upgradeRequest(extraHeaders: [("X-Padding", padding)]), port: port(of: server))
            #expect(response.status == 431)
            // Just under the limit still upgrades.
            let raw = try await RawConnection.connect(port: port(of: server))
            _ = try await raw.upgrade(extraHeaders: [("X-Padding", String(repeating: "a", count: 700))])
            await raw.close()
        }
    }

    @Test(arguments: TestTransport.all) func garbageBytesGet400(transport: TestTransport) async throws {
        try await withServer(transport: transport, handler: asyncEcho) { server, _ in
            let response = try await exchange("\u{01}\u{02}garbage that is not HTTP\r\n\r\n", port: port(of: server))
            #expect(response.status == 400)
        }
    }

    @Test(arguments: TestTransport.all) func aMissingKeyGets400(transport: TestTransport) async throws {
        try await withServer(transport: transport, handler: asyncEcho) { server, _ in
            let response = try await exchange(RawHTTP.upgradeRequest(omitting: ["Sec-WebSocket-Key"]), port: port(of: server))
            #expect(response.status == 400)
            #expect(response.body.contains("Sec-WebSocket-Key"))
        }
    }

    @Test(arguments: TestTransport.all) func aValidUpgradeGets101WithTheRightAccept(transport: TestTransport) async throws {
        try await withServer(transport: transport, handler: asyncEcho) { server, _ in
            let raw = try await RawConnection.connect(port: port(of: server))
            let response = try await raw.upgrade()
            #expect(response.header("Sec-WebSocket-Accept") == RawHTTP.expectedAccept)
            #expect(response.header("Upgrade")?.lowercased() == "websocket")
            try await raw.send(RawFrame(opcode: RawFrame.text, payload: Array("raw hello".utf8)))
            let echo = try await raw.nextFrame()
            #expect(echo == RawFrame(opcode: RawFrame.text, payload: Array("raw hello".utf8)))
            await raw.close()
        }
    }

    // MARK: - The upgrade hook

    /// Requires `?token=secret` and an Origin of `https://good.example`.
    private static let checkingHook: @Sendable (WebSocketUpgradeRequest) -> WebSocketUpgradeDecision = { request in
        guard request.queryValue("token") == "secret" else {
            return .reject(status: 401, reason: "missing or invalid token")
        }
        guard request.headers.first("Origin") == "https://good.example" else {
            return .reject(status: 403, reason: "origin not allowed")
        }
        return .accept()
    }

    @Test(arguments: TestTransport.all) func theHookRejectsAndTheServerKeepsServing(transport: TestTransport) async throws {
        try await withServer(transport: transport, upgradeHook: Self.checkingHook, handler: asyncEcho) { server, url in
            let port = port(of: server)
            let noToken = try await exchange(RawHTTP.upgradeRequest(target: "/chat", extraHeaders: [("Origin", "https://good.example")]), port: port)
            #expect(noToken.status == 401)
            #expect(noToken.body == "missing or invalid token\n")

            let badOrigin = try await exchange(
                RawHTTP.upgradeRequest(target: "/chat?token=secret", extraHeaders: [("Origin", "https://evil.example")]), port: port)
            #expect(badOrigin.status == 403)
            #expect(badOrigin.body == "origin not allowed\n")

            // Other clients are still served, before and after more rejections.
            var client = WebSocketClientConfiguration()
            client.origin = "https://good.example"
            for _ in 0..<3 {
                let connection = try await WebSocketClient.connect(to: url + "/chat?token=secret", configuration: client)
                try await connection.send(.text("still here"))
                let iterator = connection.inbound.makeAsyncIterator()
                #expect(await iterator.next() == .text("still here"))
                await connection.close()
                #expect(try await exchange(RawHTTP.upgradeRequest(target: "/chat"), port: port).status == 401)
            }
            // A real client refused by the hook gets an error naming the status.
            let error = await #expect(throws: WebSocketTransportError.self) {
                _ = try await WebSocketClient.connect(to: url + "/chat?token=secret", configuration: WebSocketClientConfiguration())
            }
            #expect(error?.message.contains("403") == true, "\(String(describing: error))")
            #expect(await eventually { server.connectionCount == 0 })
        }
    }

    @Test(arguments: TestTransport.all) func theHookSeesTheRequestAndItsAcceptanceReachesTheConnection(transport: TestTransport) async throws {
        struct Seen: Sendable {
            var path = ""
            var query: [String] = []
            var customHeader: String?
            var peerIsLoopback = false
            var peerPort: Int?
        }
        let seen = NIOLockedValueBox(Seen())
        let hook: @Sendable (WebSocketUpgradeRequest) -> WebSocketUpgradeDecision = { request in
            seen.withLockedValue {
                $0.path = request.path
                $0.query = request.queryItems.map { "\($0.name)=\($0.value)" }
                $0.customHeader = request.headers.first("x-custom")
                $0.peerIsLoopback = request.remoteAddress?.ipAddress == "127.0.0.1"
                $0.peerPort = request.remoteAddress?.port
            }
            var headers = HTTPHeaderFields()
            headers.add(name: "X-Session", value: "s-42")
            return .accept(headers: headers, context: "user-7")
        }
        let contexts = NIOLockedValueBox<[String]>([])
        let handler = WebSocketServer.Handler.async { connection in
            contexts.withLockedValue { $0.append("\(connection.context as? String ?? "nil") \(connection.request?.path ?? "nil")") }
            for await message in connection.inbound { try? await connection.send(message) }
        }
        try await withServer(transport: transport, upgradeHook: hook, handler: handler) { server, _ in
            let raw = try await RawConnection.connect(port: port(of: server))
            let response = try await raw.upgrade(target: "/rooms/a%20b?token=t%2Bk%3D&name=J%C3%BCrg+en&flag",
                                                 extraHeaders: [("X-Custom", "hello")])
            #expect(response.header("X-Session") == "s-42")
            let state = seen.withLockedValue { $0 }
            #expect(state.path == "/rooms/a%20b")
            #expect(state.query == ["token=t+k=", "name=Jürg en", "flag="])
            #expect(state.customHeader == "hello")
            #expect(state.peerIsLoopback)
            #expect(state.peerPort == raw.channel.localAddress?.port)
            try await raw.send(RawFrame(opcode: RawFrame.text, payload: Array("ping".utf8)))
            #expect(try await raw.nextFrame()?.payload == Array("ping".utf8))
            #expect(contexts.withLockedValue { $0 } == ["user-7 /rooms/a%20b"])
            await raw.close()
        }
    }
}

extension String {
    func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        self.hasPrefix(prefix) ? replacement + self.dropFirst(prefix.count) : self
    }
}
