import NIOCore

/// The server side of the opening handshake (RFC 6455 §4.2): validates a client's request head and
/// builds the 101 response, or says exactly why the request is refused.
///
/// ```swift
/// var parser = HTTPHeadParser(kind: .request, maximumSize: 8192)
/// switch parser.parse(&inbound) {
/// case .request(let request):
///     switch ServerHandshake.accept(request, configuration: configuration) {
///     case .success(let acceptance): acceptance.write(into: &outbound)   // then frames
///     case .failure(let rejection): rejection.write(into: &outbound)     // then close
///     }
/// case .failure(let rejection): rejection.write(into: &outbound)         // then close
/// case .needMoreBytes, .response: break
/// }
/// ```
public enum ServerHandshake {
    /// What the server supports.
    public struct Configuration: Sendable, Hashable {
        /// Supported subprotocols in the server's order of preference (compared exactly: RFC 6455
        /// §11.3.4 registers subprotocol names case-sensitively).
        public var subprotocols: [String]
        /// permessage-deflate limits, or nil to never negotiate compression.
        public var deflate: PerMessageDeflateConfiguration?

        public init(subprotocols: [String] = [], deflate: PerMessageDeflateConfiguration? = nil) {
            self.subprotocols = subprotocols
            self.deflate = deflate
        }
    }

    /// An accepted handshake: the response to send and what was agreed.
    public struct Acceptance: Sendable, Hashable {
        /// The `101 Switching Protocols` response.
        public var response: HandshakeResponse
        /// The subprotocol chosen, or nil if none was.
        public var subprotocol: String?
        /// The permessage-deflate agreement, or nil if messages are not compressed.
        public var deflate: PerMessageDeflateParameters?

        public init(response: HandshakeResponse, subprotocol: String?, deflate: PerMessageDeflateParameters?) {
            self.response = response
            self.subprotocol = subprotocol
            self.deflate = deflate
        }

        /// Writes the response head; frames may follow it in the same buffer.
        public func write(into buffer: inout ByteBuffer) {
            response.write(into: &buffer)
        }
    }

    /// Validates `request` as an opening handshake (RFC 6455 §4.2.1) and, if it is one, builds the 101
    /// response with the chosen subprotocol and extensions (§4.2.2).
    ///
    /// Statuses: 405 for a method other than GET; 505 for an HTTP major version other than 1 and 400
    /// for HTTP/1.0; 400 for a missing or repeated Host, a request with a body, a Connection without
    /// `upgrade`, or a bad Sec-WebSocket-Key; 426 for a missing `Upgrade: websocket` (the client did not
    /// ask to upgrade, and RFC 9110 §15.5.22 defines 426 for exactly that) and for a
    /// Sec-WebSocket-Version other than 13. A malformed Sec-WebSocket-Extensions is not a reason to
    /// refuse: the server then negotiates no extension, as it does for unacceptable offers.
    public static func accept(_ request: HandshakeRequest, configuration: Configuration)
        -> Result<Acceptance, HandshakeRejection> {
        if let rejection = validate(request) { return .failure(rejection) }
        let headers = request.headers

        // validate(_:) checked that there is exactly one key.
        let key = headers.first("Sec-WebSocket-Key")!
        var response = HandshakeResponse(status: 101, reason: "Switching Protocols")
        // RFC 6455 §4.2.2 items 5.2–5.4: Upgrade, Connection and Sec-WebSocket-Accept.
        response.headers.add(name: "Upgrade", value: "websocket")
        response.headers.add(name: "Connection", value: "Upgrade")
        response.headers.add(name: "Sec-WebSocket-Accept", value: WebSocketAcceptKey.accept(forKey: key))

        let subprotocol: String?
        switch selectSubprotocol(headers.values(for: "Sec-WebSocket-Protocol"), supported: configuration.subprotocols) {
        case .success(let selected): subprotocol = selected
        case .failure(let rejection): return .failure(rejection)
        }
        if let subprotocol {
            response.headers.add(name: "Sec-WebSocket-Protocol", value: subprotocol)
        }

        var deflate: PerMessageDeflateParameters?
        if let deflateConfiguration = configuration.deflate,
           let offers = WebSocketExtension.parse(headerValues: headers.values(for: "Sec-WebSocket-Extensions")),
           let (parameters, accepted) = PerMessageDeflateNegotiation.negotiate(offers: offers, configuration: deflateConfiguration) {
            deflate = parameters
            response.headers.add(name: "Sec-WebSocket-Extensions", value: accepted.headerValue)
        }
        return .success(Acceptance(response: response, subprotocol: subprotocol, deflate: deflate))
    }

    /// The first RFC 6455 §4.2.1 rule the request breaks, checked in the order of that section.
    private static func validate(_ request: HandshakeRequest) -> HandshakeRejection? {
        // §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
        guard request.method == "GET" else {
            return HandshakeRejection(.methodNotAllowed, "the WebSocket handshake must use GET, not \(request.method)")
        }
        guard request.versionMajor == 1 else {
            return HandshakeRejection(.httpVersionNotSupported, "HTTP/\(request.versionMajor).\(request.versionMinor) is not supported; use HTTP/1.1")
        }
        guard request.versionMinor >= 1 else {
            return HandshakeRejection(.invalidHandshake, "the WebSocket handshake requires HTTP/1.1 or higher, not HTTP/1.0")
        }
        let headers = request.headers

        // §4.2.1 item 2: "A |Host| header field containing the server's authority." RFC 9112 §3.2: "A
        // server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request message that
        // lacks a Host header field and to any request message that contains more than one Host header
        // field line".
        let hosts = headers.values(for: "Host")
        guard !hosts.isEmpty else { return HandshakeRejection(.invalidHandshake, "missing Host header") }
        guard hosts.count == 1 else { return HandshakeRejection(.invalidHandshake, "more than one Host header") }
        guard !hosts[0].isEmpty else { return HandshakeRejection(.invalidHandshake, "empty Host header") }

        // The bytes after the head are WebSocket frames; a request that announces a body would make the
        // server and any intermediary disagree about where that body ends.
        if headers.contains("Transfer-Encoding") {
            return HandshakeRejection(.invalidHandshake, "a WebSocket handshake request must not have a body (Transfer-Encoding)")
        }
        for length in headers.values(for: "Content-Length") where length != "0" {
            return HandshakeRejection(.invalidHandshake, "a WebSocket handshake request must not have a body (Content-Length: \(length))")
        }

        // §4.2.1 item 3: "An |Upgrade| header field containing the value "websocket", treated as an
        // ASCII case-insensitive value."
        guard request.asksForWebSocketUpgrade else {
            return HandshakeRejection(.upgradeRequired, "missing Upgrade: websocket header")
        }
        // §4.2.1 item 4: "A |Connection| header field that includes the token "Upgrade", treated as an
        // ASCII case-insensitive value."
        guard HTTPGrammar.listContainsToken(headers.values(for: "Connection"), "upgrade") else {
            return HandshakeRejection(.invalidHandshake, "missing Connection: Upgrade header")
        }

        // §4.2.1 item 6: "A |Sec-WebSocket-Version| header field, with a value of 13." §4.4: otherwise
        // "send an appropriate HTTP error code (such as 426 Upgrade Required) and a
        // |Sec-WebSocket-Version| header field indicating the version(s) the server is capable of
        // understanding."
        let versions = headers.values(for: "Sec-WebSocket-Version")
        guard versions == ["13"] else {
            let reason = versions.isEmpty
                ? "missing Sec-WebSocket-Version header"
                : "unsupported Sec-WebSocket-Version \(versions.joined(separator: ", ")); this server speaks 13"
            return HandshakeRejection(.unsupportedWebSocketVersion, reason)
        }

        // §4.2.1 item 5: "A |Sec-WebSocket-Key| header field with a base64-encoded (see Section 4 of
        // [RFC4648]) value that, when decoded, is 16 bytes in length." §11.3.1: it "MUST NOT appear more
        // than once in an HTTP request."
        let keys = headers.values(for: "Sec-WebSocket-Key")
        guard let key = keys.first else { return HandshakeRejection(.invalidHandshake, "missing Sec-WebSocket-Key header") }
        guard keys.count == 1 else { return HandshakeRejection(.invalidHandshake, "more than one Sec-WebSocket-Key header") }
        guard WebSocketAcceptKey.isValidKey(key) else {
            return HandshakeRejection(.invalidHandshake, "Sec-WebSocket-Key is not the base64 encoding of 16 bytes")
        }
        return nil
    }

    /// RFC 6455 §4.2.2 item 5.4: the server picks "one or none of the acceptable protocols", and §4.1:
    /// the client fails the connection if the server names one "that was not present in the client's
    /// handshake"; so only a protocol the client offered is ever chosen, in the server's order.
    /// §4.1: offered values are tokens ("elements that comprise this value MUST be non-empty strings
    /// with characters in the range U+0021 to U+007E not including separator characters").
    private static func selectSubprotocol(_ values: [String], supported: [String]) -> Result<String?, HandshakeRejection> {
        let offered = HTTPGrammar.listElements(values)
        guard offered.allSatisfy({ HTTPGrammar.isToken($0) }) else {
            return .failure(HandshakeRejection(.invalidHandshake, "Sec-WebSocket-Protocol lists a value that is not a token"))
        }
        return .success(supported.first { candidate in offered.contains { $0 == candidate } })
    }
}
