import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SwitchboardWebSocketNIO

/// One HTTP/1.1 request to a node's HTTP API and its whole response: what `switchboard publish` needs, on
/// the NIO already in the build (NIOHTTP1, NIOSSL for https) rather than FoundationNetworking, which would
/// bring libcurl into the executable for one POST.
///
/// One connection per request (`Connection: close`); the body is read whole (API replies are small).
struct HTTPAPIRequest: Sendable {
    var url: ServerURL
    /// The API path, e.g. `/api/publish`.
    var endpoint: String
    var apiKey: String?
    var body: [UInt8]
    var timeout: Duration = .seconds(10)

    struct Response: Sendable {
        var status: HTTPResponseStatus
        var body: [UInt8]
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func post() async throws -> Response {
        try await withThrowingTaskGroup(of: Response.self) { group in
            group.addTask { try await self.exchange() }
            group.addTask {
                try await Task.sleep(for: self.timeout)
                throw Failure(description: "no response from \(self.url.httpURL(endpoint: self.endpoint)) within \(self.timeout)")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    private func exchange() async throws -> Response {
        let (host, port) = try self.hostAndPort()
        let secure = self.url.isSecure
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(10))
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if secure {
                            let context = try NIOSSLContext(configuration: .makeClientConfiguration())
                            // RFC 6066 §3: SNI carries host names only, never an IP literal.
                            let serverName = (try? SocketAddress(ipAddress: host, port: port)) == nil ? host : nil
                            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverName))
                        }
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            throw Failure(description: "cannot connect to \(address): \(ConnectFailure.reason(error))")
        }
        return try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: self.url.path + self.endpoint)
            head.headers.add(name: "Host", value: self.url.authority)
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(self.body.count))
            head.headers.add(name: "Connection", value: "close")
            // docs/PROTOCOL.md, HTTP API: "every request sends one as `Authorization: apikey <key>`".
            if let apiKey = self.apiKey { head.headers.add(name: "Authorization", value: "apikey \(apiKey)") }
            try await outbound.write(.head(head))
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: self.body))))
            try await outbound.write(.end(nil))

            var status: HTTPResponseStatus?
            var body: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let responseHead):
                    status = responseHead.status
                case .body(let bytes):
                    body += bytes.readableBytesView
                case .end:
                    guard let status else { break }
                    return Response(status: status, body: body)
                }
            }
            throw Failure(description: "the connection closed before a complete response")
        }
    }

    /// `host[:port]` of the URL, with the scheme's default port; brackets of an IPv6 literal removed.
    func hostAndPort() throws -> (String, Int) {
        let authority = Substring(self.url.authority)
        let defaultPort = self.url.isSecure ? 443 : 80
        if authority.first == "[", let close = authority.firstIndex(of: "]") {
            let host = String(authority[authority.index(after: authority.startIndex)..<close])
            let rest = authority[authority.index(after: close)...]
            guard rest.isEmpty || rest.first == ":" else { throw Failure(description: "bad address '\(authority)'") }
            return (host, try Self.port(rest.dropFirst(), default: defaultPort))
        }
        guard let colon = authority.lastIndex(of: ":") else { return (String(authority), defaultPort) }
        return (String(authority[..<colon]), try Self.port(authority[authority.index(after: colon)...], default: defaultPort))
    }

    private static func port(_ text: Substring, default defaultPort: Int) throws -> Int {
        if text.isEmpty { return defaultPort }
        guard let port = Int(text), (1...65535).contains(port) else { throw Failure(description: "bad port '\(text)'") }
        return port
    }
}
